// LineReader against std::getline, the reader it replaces in `distill build`: the same lines for every file shape
// (empty, no final newline, blank and CR-ended lines, lines longer than its 1 MB block), and clear open errors.
#include "data/line_reader.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace distill::data {
namespace {

namespace fs = std::filesystem;

std::string WriteFile(const std::string& name, const std::string& contents) {
  const fs::path dir = fs::temp_directory_path() / absl::StrCat("distill-line-reader-", ::getpid());
  fs::create_directories(dir);
  const std::string path = (dir / name).string();
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

std::vector<std::string> WithGetline(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> WithLineReader(const std::string& path, std::vector<int64_t>* numbers) {
  auto reader = LineReader::Open(path);
  EXPECT_TRUE(reader.ok()) << reader.status();
  std::vector<std::string> lines;
  for (std::string line; reader->Next(&line);) {
    lines.push_back(line);
    numbers->push_back(reader->line_number());
  }
  EXPECT_TRUE(reader->status().ok()) << reader->status();
  return lines;
}

// Property: for every file, LineReader yields exactly std::getline's lines, numbered 1, 2, 3, ...
TEST(LineReader, SameLinesAsGetline) {
  std::mt19937 rng(3);
  std::string random_lines;
  for (int i = 0; i < 2000; ++i) {
    random_lines += std::string(rng() % 3000, static_cast<char>('a' + i % 26));
    if (rng() % 5 == 0) random_lines += '\r';
    random_lines += '\n';
  }
  const std::vector<std::string> files = {
      "", "\n", "\n\n\n", "one", "one\n", "one\ntwo", "one\r\ntwo\r\n", "a\n\nb\n\n",
      std::string(3 << 20, 'x') + "\nshort\n" + std::string((1 << 20) - 1, 'y') + "\n" + std::string(1 << 20, 'z'),
      random_lines,
  };
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string name = absl::StrCat("f", i);
    SCOPED_TRACE(name);
    const std::string path = WriteFile(name, files[i]);
    std::vector<int64_t> numbers;
    const auto lines = WithLineReader(path, &numbers);
    EXPECT_EQ(lines, WithGetline(path));
    for (size_t k = 0; k < numbers.size(); ++k) EXPECT_EQ(numbers[k], static_cast<int64_t>(k + 1));
  }
}

// Property: a missing file is NotFound naming the path.
TEST(LineReader, MissingFileIsNotFound) {
  auto reader = LineReader::Open("/nonexistent/traces.jsonl");
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(reader.status().message().find("/nonexistent/traces.jsonl"), std::string::npos);
}

}  // namespace
}  // namespace distill::data
