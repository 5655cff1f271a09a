// Benchmark files: our JSONL format read back with defaults (ids, numeric answers/difficulties), every kind of
// bad line refused with FILE:LINE and what was expected, and the converters from MATH-500, AIME (both common
// layouts), GSM8K and "auto" detection, each on small hand-written lines.
#include "tools/eval/benchmark.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/testing/temp_dir.h"

namespace distill::eval {
namespace {

namespace fs = std::filesystem;

using testing::TempDir;

std::string Write(const TempDir& dir, const std::string& name, const std::string& contents) {
  std::string path = dir.File(name);
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

// The error message of reading `contents` as a benchmark (which must fail).
std::string ReadError(const std::string& contents) {
  TempDir dir;
  std::string path = Write(dir, "bench.jsonl", contents);
  absl::StatusOr<std::vector<BenchmarkItem>> items = ReadBenchmark(path);
  EXPECT_FALSE(items.ok()) << contents;
  return items.ok() ? "" : std::string(items.status().message());
}

// Ids default to the line number, integer ids and numeric answers/difficulties become their text, blank lines
// and unknown keys are skipped, answers are trimmed.
TEST(ReadBenchmarkTest, ReadsOurFormatWithDefaults) {
  TempDir dir;
  std::string path = Write(dir, "bench.jsonl",
                           "{\"id\": \"p1\", \"problem\": \"What is 2+3?\", \"answer\": \" 5 \", \"difficulty\": "
                           "\"easy\"}\n"
                           "\n"
                           "{\"problem\": \"Half of one?\", \"answer\": 0.5, \"subject\": \"fractions\"}\n"
                           "{\"id\": 7, \"problem\": \"AIME-ish\", \"answer\": 42, \"difficulty\": 3}\r\n");
  absl::StatusOr<std::vector<BenchmarkItem>> items = ReadBenchmark(path);
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->size(), 3u);
  EXPECT_EQ((*items)[0].id, "p1");
  EXPECT_EQ((*items)[0].problem, "What is 2+3?");
  EXPECT_EQ((*items)[0].answer, "5");
  EXPECT_EQ((*items)[0].difficulty, "easy");
  EXPECT_EQ((*items)[1].id, "3");  // line 3 (line 2 is blank)
  EXPECT_EQ((*items)[1].answer, "0.5");
  EXPECT_EQ((*items)[1].difficulty, "");
  EXPECT_EQ((*items)[2].id, "7");
  EXPECT_EQ((*items)[2].answer, "42");
  EXPECT_EQ((*items)[2].difficulty, "3");
}

// Every malformed line is refused with "FILE:LINE" and what was expected.
TEST(ReadBenchmarkTest, BadLinesNameFileAndLine) {
  const std::string good = "{\"problem\": \"p\", \"answer\": \"1\"}\n";
  std::string e = ReadError(good + "{\"answer\": \"1\"}\n");
  EXPECT_NE(e.find("bench.jsonl:2: missing \"problem\" (expected a non-empty string)"), std::string::npos) << e;
  e = ReadError(good + good + "{\"problem\": \"  \", \"answer\": \"1\"}\n");
  EXPECT_NE(e.find("bench.jsonl:3: \"problem\" is empty"), std::string::npos) << e;
  e = ReadError("{\"problem\": \"p\", \"answer\": [1, 2]}\n");
  EXPECT_NE(e.find("bench.jsonl:1: \"answer\" is array (expected a non-empty string or a number)"),
            std::string::npos)
      << e;
  e = ReadError("{\"problem\": \"p\"}\n");
  EXPECT_NE(e.find("bench.jsonl:1: missing \"answer\""), std::string::npos) << e;
  e = ReadError("{\"problem\": \"p\", \"answer\": \"1\", \"id\": 1.5}\n");
  EXPECT_NE(e.find("bench.jsonl:1: \"id\" is number (expected a non-empty string or an integer)"),
            std::string::npos)
      << e;
  e = ReadError("{\"problem\": \"p\", \"answer\": \"1\", \"difficulty\": {}}\n");
  EXPECT_NE(e.find("bench.jsonl:1: \"difficulty\" is object"), std::string::npos) << e;
  e = ReadError(good + "{\"problem\": \"p\", \"answer\": \n");
  EXPECT_NE(e.find("bench.jsonl:2: not valid JSON"), std::string::npos) << e;
  e = ReadError("[1, 2]\n");
  EXPECT_NE(e.find("bench.jsonl:1: expected a JSON object"), std::string::npos) << e;
  e = ReadError("\n\n");
  EXPECT_NE(e.find("no problems"), std::string::npos) << e;
  EXPECT_EQ(ReadBenchmark("/nonexistent/bench.jsonl").status().code(), absl::StatusCode::kNotFound);
}

// A repeated id is refused naming both lines; a default id (the line number) collides with an explicit one too.
TEST(ReadBenchmarkTest, DuplicateIdsNameBothLines) {
  std::string e = ReadError(
      "{\"id\": \"a\", \"problem\": \"p\", \"answer\": \"1\"}\n"
      "{\"id\": \"b\", \"problem\": \"q\", \"answer\": \"2\"}\n"
      "{\"id\": \"a\", \"problem\": \"r\", \"answer\": \"3\"}\n");
  EXPECT_NE(e.find("bench.jsonl:3: duplicate id \"a\" (first used at line 1"), std::string::npos) << e;
  e = ReadError(
      "{\"id\": 2, \"problem\": \"p\", \"answer\": \"1\"}\n"
      "{\"problem\": \"q\", \"answer\": \"2\"}\n");
  EXPECT_NE(e.find("bench.jsonl:2: duplicate id \"2\" (first used at line 1"), std::string::npos) << e;
}

// Converts `input` (named `name`) with `format`, checks the report, and reads the output back with ReadBenchmark.
std::vector<BenchmarkItem> Convert(const std::string& input, const std::string& format,
                                   const std::string& expected_format, const std::string& name = "in.jsonl") {
  TempDir dir;
  std::string in = Write(dir, name, input);
  std::string out = dir.File("out.jsonl");
  absl::StatusOr<ConvertReport> report = ConvertBenchmark(in, format, out);
  EXPECT_TRUE(report.ok()) << report.status();
  if (!report.ok()) return {};
  EXPECT_EQ(report->format, expected_format);
  absl::StatusOr<std::vector<BenchmarkItem>> items = ReadBenchmark(out);
  EXPECT_TRUE(items.ok()) << items.status();
  if (!items.ok()) return {};
  EXPECT_EQ(report->items, static_cast<int64_t>(items->size()));
  // Written temp-then-rename: nothing but the input and the output is left in the folder.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 2);
  return *items;
}

const char* kMath500 =
    R"J({"problem": "Convert the point $(0,3)$ to polar coordinates.", "solution": "We have $r = 3$.", )J"
    R"J("answer": "\\left( 3, \\frac{\\pi}{2} \\right)", "subject": "Precalculus", "level": 2, )J"
    R"J("unique_id": "test/precalculus/807.json"})J"
    "\n"
    R"J({"problem": "What is $1+1$?", "solution": "2", "answer": "2", "subject": "Algebra", "level": "Level 1", )J"
    R"J("unique_id": "test/algebra/1.json"})J"
    "\n";

// MATH-500: id = unique_id, difficulty "level N" (from an integer or a "Level N" string), answer kept as text.
TEST(ConvertBenchmarkTest, Math500) {
  for (const char* format : {"math500", "auto"}) {
    std::vector<BenchmarkItem> items = Convert(kMath500, format, "math500");
    ASSERT_EQ(items.size(), 2u);
    EXPECT_EQ(items[0].id, "test/precalculus/807.json");
    EXPECT_EQ(items[0].problem, "Convert the point $(0,3)$ to polar coordinates.");
    EXPECT_EQ(items[0].answer, "\\left( 3, \\frac{\\pi}{2} \\right)");
    EXPECT_EQ(items[0].difficulty, "level 2");
    EXPECT_EQ(items[1].difficulty, "level 1");
  }
}

// AIME in the AI-MO layout (lower-case keys, integer answer) and the Maxwell-Jia layout (capitalised keys).
TEST(ConvertBenchmarkTest, AimeLayouts) {
  const std::string aimo =
      R"({"id": 0, "problem": "Find the remainder when 2^10 is divided by 1000.", "solution": "1024", )"
      R"("answer": 24, "url": "https://artofproblemsolving.com/wiki/x"})"
      "\n";
  for (const char* format : {"aime", "auto"}) {
    std::vector<BenchmarkItem> items = Convert(aimo, format, "aime");
    ASSERT_EQ(items.size(), 1u);
    EXPECT_EQ(items[0].id, "0");
    EXPECT_EQ(items[0].answer, "24");
    EXPECT_EQ(items[0].difficulty, "");
  }
  const std::string maxwell =
      R"({"ID": "2024-I-1", "Problem": "Every morning Aya goes for a walk.", "Solution": "...", "Answer": 204})"
      "\n"
      R"({"ID": "2024-I-2", "Problem": "There exist real numbers x and y.", "Solution": "...", "Answer": "025"})"
      "\n";
  std::vector<BenchmarkItem> items = Convert(maxwell, "auto", "aime");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].id, "2024-I-1");
  EXPECT_EQ(items[0].problem, "Every morning Aya goes for a walk.");
  EXPECT_EQ(items[0].answer, "204");
  EXPECT_EQ(items[1].answer, "025");
  // A file already in our format is detected as aime and converts to itself, difficulty included.
  items = Convert(R"({"id": "q", "problem": "P?", "answer": "3", "difficulty": "hard"})" "\n", "auto", "aime");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].id, "q");
  EXPECT_EQ(items[0].difficulty, "hard");
  // "question"/"Question" spellings, no id: the line number.
  items = Convert(R"({"Question": "How many?", "Answer": 7})" "\n", "aime", "aime");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].id, "1");
  EXPECT_EQ(items[0].problem, "How many?");
}

// GSM8K: the answer is what follows the last "####", trimmed, thousands commas removed; ids are line numbers.
TEST(ConvertBenchmarkTest, Gsm8k) {
  const std::string gsm =
      R"({"question": "Natalia sold clips to 48 friends, then half as many. How many in all?", )"
      R"("answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72"})"
      "\n"
      R"({"question": "A big sum?", "answer": "Add them up.\n#### 1,234,567"})"
      "\n";
  for (const char* format : {"gsm8k", "auto"}) {
    std::vector<BenchmarkItem> items = Convert(gsm, format, "gsm8k");
    ASSERT_EQ(items.size(), 2u);
    EXPECT_EQ(items[0].id, "1");
    EXPECT_EQ(items[0].problem, "Natalia sold clips to 48 friends, then half as many. How many in all?");
    EXPECT_EQ(items[0].answer, "72");
    EXPECT_EQ(items[1].id, "2");
    EXPECT_EQ(items[1].answer, "1234567");
  }
}

// A JSON array of records converts like JSONL; element numbers stand in for line numbers.
TEST(ConvertBenchmarkTest, JsonArrayInput) {
  std::vector<BenchmarkItem> items =
      Convert(R"([{"question": "q1", "answer": "x\n#### 3"}, {"question": "q2", "answer": "y\n#### -4"}])",
              "auto", "gsm8k", "in.json");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[1].id, "2");
  EXPECT_EQ(items[1].answer, "-4");
}

// Conversion errors: bad records name FILE:LINE, unknown layouts list the keys, the input is never overwritten.
TEST(ConvertBenchmarkTest, Errors) {
  TempDir dir;
  std::string in = Write(dir, "gsm.jsonl",
                         "{\"question\": \"q1\", \"answer\": \"s\\n#### 1\"}\n"
                         "{\"question\": \"q2\", \"answer\": \"no marker here\"}\n");
  std::string out = dir.File("out.jsonl");
  absl::StatusOr<ConvertReport> r = ConvertBenchmark(in, "gsm8k", out);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("gsm.jsonl:2: \"answer\" has no \"####\""), std::string::npos) << r.status();
  EXPECT_FALSE(fs::exists(out));  // nothing half-written

  std::string odd = Write(dir, "odd.jsonl", "{\"prompt\": \"p\", \"target\": \"t\"}\n");
  r = ConvertBenchmark(odd, "auto", out);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("odd.jsonl:1: cannot tell the layout from the keys [prompt, target]"),
            std::string::npos)
      << r.status();

  r = ConvertBenchmark(odd, "mmlu", out);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown benchmark format \"mmlu\""), std::string::npos);

  std::string math = Write(dir, "math.jsonl", std::string(kMath500) + R"({"problem": "p", "level": 1})" "\n");
  r = ConvertBenchmark(math, "math500", out);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("math.jsonl:3: missing \"answer\""), std::string::npos) << r.status();

  std::string dup = Write(dir, "dup.jsonl",
                          "{\"id\": 1, \"problem\": \"a\", \"answer\": 1}\n{\"id\": 1, \"problem\": \"b\", "
                          "\"answer\": 2}\n");
  r = ConvertBenchmark(dup, "aime", out);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("dup.jsonl:2: duplicate id \"1\" (first used at line 1"), std::string::npos)
      << r.status();

  const std::string before = testing::ReadFile(in);
  r = ConvertBenchmark(in, "gsm8k", in);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("would overwrite the input"), std::string::npos);
  EXPECT_EQ(testing::ReadFile(in), before);
}

// The written line has our keys in a stable order, and "difficulty" only when set.
TEST(BenchmarkItemToJsonLineTest, StableKeys) {
  EXPECT_EQ(BenchmarkItemToJsonLine({"a", "What?", "5", ""}), R"({"id":"a","problem":"What?","answer":"5"})");
  EXPECT_EQ(BenchmarkItemToJsonLine({"b", "Why?", "6", "level 1"}),
            R"({"id":"b","problem":"Why?","answer":"6","difficulty":"level 1"})");
}

}  // namespace
}  // namespace distill::eval
