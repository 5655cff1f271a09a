// `distill verify` end to end: it writes accepted/rejected JSONL, the report and resolved.yaml, prints the counts
// table and the malformed lines; --config plus dotted overrides set options (overrides win); bad input or config
// gives a clear error and a non-zero exit.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/testing/run_distill.h"

namespace distill {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using Result = testing::DistillResult;
using testing::RunDistill;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t CountLines(const fs::path& path) {
  const std::string s = ReadFile(path);
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

const char* kEval = "Tom has two apples and buys three more at the market; how many apples does he have now";

class VerifyCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("distill_verify_cli_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto trace = [](const std::string& id, const std::string& reasoning, const std::string& answer,
                    const std::string& prompt = "What is 2+3?") {
      return json{{"prompt_id", id},
                  {"sample_index", 0},
                  {"messages", json::array({{{"role", "user"}, {"content", prompt}}})},
                  {"ground_truth", "5"},
                  {"reasoning", reasoning},
                  {"answer", answer},
                  {"finish_reason", "stop"}}
          .dump();
    };
    std::string paragraph = "Counting";
    for (int i = 0; i < 30; ++i) paragraph += " and item " + std::to_string(i) + " is added";
    std::ofstream out(dir_ / "traces.jsonl");
    out << trace("good", "Two and three make five.", "\\boxed{5}") << "\n"                        // 1
        << trace("wrong", "Two and three make six.", "\\boxed{6}") << "\n"                        // 2
        << "{broken\n"                                                                             // 3
        << trace("long", paragraph, "\\boxed{5}") << "\n"                                          // 4
        << trace("contaminated", "Five, from two plus three.", "\\boxed{5}", kEval) << "\n";  // 5
    std::ofstream eval(dir_ / "eval.jsonl");
    eval << json{{"problem", kEval}}.dump() << "\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const {
    std::string quoted(1, '\'');
    quoted += (dir_ / name).string();
    quoted += '\'';
    return quoted;
  }
  fs::path dir_;
};

// Property: a plain run writes the four files into verified/ beside the input, prints the table and the
// malformed line with its number, and exits 0.
TEST_F(VerifyCli, WritesOutputsTableAndReport) {
  Result r = RunDistill("verify " + Path("traces.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const fs::path out = dir_ / "verified";
  for (const char* f : {"accepted.jsonl", "rejected.jsonl", "verify_report.json", "resolved.yaml"}) {
    EXPECT_TRUE(fs::exists(out / f)) << f;
  }
  EXPECT_EQ(CountLines(out / "accepted.jsonl"), 3u);  // good, long (4000-char default), contaminated (no eval)
  EXPECT_EQ(CountLines(out / "rejected.jsonl"), 1u);
  EXPECT_NE(r.out.find("wrong_answer"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("4 traces: 3 accepted, 1 rejected; 1 malformed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("traces.jsonl:3: not valid JSON"), std::string::npos) << r.out;
  const json report = json::parse(ReadFile(out / "verify_report.json"));
  EXPECT_EQ(report["malformed_lines"][0]["line"], 3);
  EXPECT_EQ(report["reasons"]["wrong_answer"], 1);
  EXPECT_EQ(report["config"]["verify"]["dedup"], true);
}

// Property: --config sets options, dotted overrides beat the file, --decontaminate and -o work, and the resolved
// config records the effective values.
TEST_F(VerifyCli, ConfigOverridesAndDecontaminate) {
  std::ofstream(dir_ / "verify.yaml") << "verify:\n  filters:\n    max_paragraph_chars: 100000\n  dedup: false\n";
  Result r = RunDistill("verify -c " + Path("verify.yaml") + " " + Path("traces.jsonl") +
                        " verify.filters.max_paragraph_chars=200 -o " + Path("out") + " --decontaminate " +
                        Path("eval.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const fs::path out = dir_ / "out";
  EXPECT_EQ(CountLines(out / "accepted.jsonl"), 1u);
  EXPECT_EQ(CountLines(out / "rejected.jsonl"), 3u);
  const json report = json::parse(ReadFile(out / "verify_report.json"));
  EXPECT_EQ(report["first_reasons"]["long_paragraph"], 1) << report.dump(1);
  EXPECT_EQ(report["first_reasons"]["contaminated"], 1) << report.dump(1);
  EXPECT_EQ(report["decontamination"]["texts"], 1);
  const std::string resolved = ReadFile(out / "resolved.yaml");
  EXPECT_NE(resolved.find("max_paragraph_chars: 200"), std::string::npos) << resolved;
  EXPECT_NE(resolved.find("dedup: false"), std::string::npos) << resolved;
}

// Property: errors are reported clearly with a non-zero exit: unknown override key, missing input file, no input,
// bad eval file, unknown ignore code.
TEST_F(VerifyCli, Errors) {
  Result unknown = RunDistill("verify " + Path("traces.jsonl") + " verify.filters.max_paragraph=3");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.out.find("unknown key 'verify.filters.max_paragraph'"), std::string::npos) << unknown.out;
  Result missing = RunDistill("verify " + Path("nope.jsonl"));
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.out.find("cannot open traces file"), std::string::npos) << missing.out;
  Result none = RunDistill("verify");
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.out.find("verify.input"), std::string::npos) << none.out;
  std::ofstream(dir_ / "bad_eval.jsonl") << "{\"q\": 1}\n";
  Result eval = RunDistill("verify " + Path("traces.jsonl") + " --decontaminate " + Path("bad_eval.jsonl"));
  EXPECT_NE(eval.exit_code, 0);
  EXPECT_NE(eval.out.find("bad_eval.jsonl:1: missing field 'problem' or 'prompt'"), std::string::npos) << eval.out;
  Result ignore = RunDistill("verify " + Path("traces.jsonl") + " 'verify.ignore=[nonsense]'");
  EXPECT_NE(ignore.exit_code, 0);
  EXPECT_NE(ignore.out.find("unknown reject code 'nonsense'"), std::string::npos) << ignore.out;
}

// Property: a rerun into a finished output folder that fails before verifying anything (an input that does not
// exist, a bad eval file, an input that is one of the outputs through a symbolic link) leaves the previous run's
// four files with their bytes.
TEST_F(VerifyCli, FailedRerunKeepsThePreviousOutputs) {
  const fs::path out = dir_ / "kept";
  ASSERT_EQ(RunDistill("verify " + Path("traces.jsonl") + " -o " + out.string()).exit_code, 0);
  std::map<std::string, std::string> before;
  for (const auto& e : fs::directory_iterator(out)) before[e.path().filename().string()] = ReadFile(e.path());
  ASSERT_EQ(before.size(), 4u);
  std::ofstream(dir_ / "bad_eval.jsonl") << "{\"q\": 1}\n";
  fs::create_symlink(out / "accepted.jsonl", dir_ / "link.jsonl");  // the input is the output, spelled otherwise
  for (const std::string& args : {Path("nope.jsonl"), Path("traces.jsonl") + " --decontaminate " +
                                                          Path("bad_eval.jsonl"), Path("link.jsonl")}) {
    SCOPED_TRACE(args);
    EXPECT_NE(RunDistill("verify " + args + " -o " + out.string()).exit_code, 0);
    std::map<std::string, std::string> after;
    for (const auto& e : fs::directory_iterator(out)) after[e.path().filename().string()] = ReadFile(e.path());
    EXPECT_TRUE(after == before);
  }
}

}  // namespace
}  // namespace distill
