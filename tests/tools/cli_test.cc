// The distill executable end to end: --help/--version, tokenize and template verbs agree with the HF references,
// and bad input gives a clear error and a non-zero exit, never a crash.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "tests/testing/run_distill.h"
#include "tests/testing/node_reference.h"

namespace distill {
namespace {

using nlohmann::json;

using Result = testing::DistillResult;
using testing::RunDistill;

std::string Qwen3() { return testing::LenmlModel("qwen3"); }
std::string DemoConversation() { return std::string(DISTILL_SOURCE_DIR) + "/tools/demo/reasoning_conversation.json"; }

// Property: --version and --help work and list the verbs.
TEST(Cli, VersionAndHelp) {
  Result version = RunDistill("--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.out.find("distill 0."), std::string::npos) << version.out;
  Result help = RunDistill("--help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* verb : {"tokenize", "template"}) EXPECT_NE(help.out.find(verb), std::string::npos) << help.out;
  Result none = RunDistill("");
  EXPECT_NE(none.exit_code, 0);
}

// Property: a word that is not a verb is named, with the verbs this build has, and exit status 2.
TEST(Cli, UnknownVerbIsNamedWithTheList) {
  Result r = RunDistill("exprot model -o x.gguf");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("'exprot' is not a verb"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tokenize, template"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("export"), std::string::npos) << r.out;
}

// Property: `distill tokenize` prints HF tokenizers' ids, and --ids decodes them back to the text.
TEST(Cli, TokenizeMatchesHuggingFaceAndRoundTrips) {
  const std::string text = "Hello, 世界! 12345 <think>x</think>";
  Result encoded = RunDistill("tokenize -m '" + Qwen3() + "' --json -t '" + text + "'");
  ASSERT_EQ(encoded.exit_code, 0) << encoded.out;
  const auto ids = json::parse(encoded.out)["ids"].get<std::vector<int>>();
  const json reference =
      testing::RunNodeReference("hf_chat.js", {{"tokenizer", Qwen3() + "/tokenizer.json"}, {"texts", {text}}});
  EXPECT_EQ(ids, reference["encoded"][0].get<std::vector<int>>());
  std::string joined;
  for (int id : ids) joined += std::to_string(id) + ",";
  Result decoded = RunDistill("tokenize -m '" + Qwen3() + "' --ids " + joined);
  ASSERT_EQ(decoded.exit_code, 0) << decoded.out;
  EXPECT_EQ(decoded.out, text + "\n");
}

// Property: `template --train --json` returns a mask whose trained tokens are exactly the reply and <|im_end|>.
TEST(Cli, TemplateTrainingViewJson) {
  Result result = RunDistill("template -m '" + Qwen3() + "' --train --json '" + DemoConversation() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.out;
  const json view = json::parse(result.out);
  const std::string text = view["text"];
  const auto span = view["assistant_span"].get<std::vector<size_t>>();
  EXPECT_EQ(view["end_of_turn"], "<|im_end|>");
  EXPECT_TRUE(text.substr(span[0], span[1] - span[0]).starts_with("<think>\nFrom 9:40"));
  EXPECT_TRUE(text.substr(0, span[1]).ends_with("\\boxed{205}<|im_end|>"));
  const auto mask = view["loss_mask"].get<std::vector<int>>();
  EXPECT_EQ(mask.size(), view["ids"].size());
  EXPECT_EQ(mask.front(), 0);
  EXPECT_EQ(mask.back(), 0);  // the "\n" after <|im_end|> is scaffolding
}

// Property: a malformed messages file is refused naming the file and the byte offset; exit code 1, no crash.
TEST(Cli, BadInputIsNamed) {
  const std::string path = std::filesystem::temp_directory_path() / "distill-cli-bad.json";
  std::ofstream(path) << R"({"messages": [{"role": "user", "content": "hi"})";
  Result result = RunDistill("template -m '" + Qwen3() + "' '" + path + "'");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.out.find(path + ": byte "), std::string::npos) << result.out;
  Result missing = RunDistill("tokenize -m /nonexistent -t x");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("/nonexistent"), std::string::npos) << missing.out;
  std::filesystem::remove(path);
}

// Property: a model path of the wrong kind is named with what it is and what was expected, before anything is
// written: a GGUF where an HF model folder belongs (build, export, eval --backend torch), a folder without
// config.json (export), a model folder where --backend gguf wants a .gguf file.
TEST(Cli, WrongKindOfModelIsNamed) {
  const auto dir = std::filesystem::temp_directory_path() / ("distill-cli-kinds-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "empty");
  const std::string gguf = (dir / "model.gguf").string(), empty = (dir / "empty").string();
  std::ofstream(gguf, std::ios::binary) << std::string("GGUF\x03\0\0\0", 8) << std::string(64, '\0');
  std::ofstream(dir / "bench.jsonl") << R"({"problem": "What is 1 + 1?", "answer": "2"})" << "\n";
  const std::string bench = (dir / "bench.jsonl").string(), out = (dir / "out").string();
  const std::string not_hf = ": a GGUF file (llama.cpp weights), not a Hugging Face model folder or ";
  const struct {
    std::string args, expected;
  } cases[] = {
      {"build " + bench + " -m " + gguf + " -o " + out, gguf + not_hf + "tokenizer file"},
      {"export " + gguf + " -o " + out + ".gguf", gguf + not_hf + "its config.json"},
      {"export " + empty + " -o " + out + ".gguf", empty + ": no config.json here (expected a Hugging Face model"},
      {"eval " + bench + " --backend torch -m " + gguf + " -o " + out, gguf + not_hf},
      {"eval " + bench + " --backend gguf -m " + empty + " --tokenizer " + empty + " -o " + out,
       "-m " + empty + " is a folder; expected a .gguf file"},
  };
  for (const auto& c : cases) {
    Result r = RunDistill(c.args);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.out.find(c.expected), std::string::npos) << c.args << ": " << r.out;
    EXPECT_FALSE(std::filesystem::exists(out)) << c.args;
    EXPECT_FALSE(std::filesystem::exists(out + ".gguf")) << c.args;
  }
  std::filesystem::remove_all(dir);
}

// Property: numeric flags out of range are refused by name with the value given, never taken as "not given" or
// as "all cores": a negative row, a negative thread count, a zero count of problems.
TEST(Cli, NumericFlagsOutOfRangeAreNamed) {
  const struct {
    std::string args, expected;
  } cases[] = {
      {"inspect /nonexistent --row -1", "--row: expected 0 or more, got -1"},
      {"export /nonexistent -o /nonexistent.gguf --threads -3", "--threads: expected 0 or more, got -3"},
      {"demo --train-problems 0", "--train-problems: expected more than 0, got 0"},
      {"demo --sft-epochs -0.5", "--sft-epochs: expected more than 0, got -0.5"},
  };
  for (const auto& c : cases) {
    Result r = RunDistill(c.args);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.out.find(c.expected), std::string::npos) << c.args << ": " << r.out;
  }
}

// Property: every shipped collect and build recipe (configs/*.yaml) loads against its verb's schema, types and
// ranges included: given inputs that do not exist, each run fails on those inputs, never on a key of the recipe.
// (The train recipes are checked the same way by train_config_test.)
TEST(Cli, ShippedCollectAndBuildRecipesLoad) {
  ::setenv("DEEPSEEK_API_KEY", "test-key", 1);  // the API recipe's key variable; no request is ever sent
  const auto dir = std::filesystem::temp_directory_path() / ("distill-cli-recipes-" + std::to_string(::getpid()));
  const std::string missing = (dir / "missing").string();  // never created: the inputs
  const std::string out = (dir / "out").string();          // what a verb writes before it reads its inputs
  int recipes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(DISTILL_SOURCE_DIR) + "/configs")) {
    std::ifstream in(entry.path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string args;
    if (text.starts_with("collect:") || text.find("\ncollect:") != std::string::npos) {
      args = "collect collect.prompts=" + missing + "/prompts.jsonl collect.out=" + out +
             "/traces.jsonl collect.endpoint.base_url=http://127.0.0.1:1";
    } else if (text.starts_with("build:") || text.find("\nbuild:") != std::string::npos) {
      args = "build build.input=" + missing + "/traces.jsonl build.model=" + missing + "/model build.out=" + out;
    } else {
      continue;
    }
    SCOPED_TRACE(entry.path().filename().string());
    Result r = RunDistill(args + " -c '" + entry.path().string() + "'");
    EXPECT_NE(r.exit_code, 0) << r.out;
    EXPECT_NE(r.out.find(missing), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find(".yaml:"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("override #"), std::string::npos) << r.out;
    ++recipes;
  }
  EXPECT_GE(recipes, 3);  // collect-deepseek-api, collect-local, build-r1-distill
  EXPECT_FALSE(std::filesystem::exists(missing));
  std::filesystem::remove_all(dir);
}

// Property: --print-config on collect, build and verify prints the resolved config (recipe, overrides, flags and
// defaults, with each key's doc and range) and exits 0 before reading any input or creating any output; the
// printed YAML, passed back with -c, prints the same.
TEST(Cli, PrintConfigShowsTheResolvedConfig) {
  const std::string configs = std::string(DISTILL_SOURCE_DIR) + "/configs/";
  const struct {
    std::string args;
    std::string expected;  // one key as printed, with its comment
  } cases[] = {
      {"build --print-config -c " + configs + "build-r1-distill.yaml /nonexistent/traces.jsonl -m /nonexistent/model "
       "--threads 3",
       "  # tokens per row; 2 ≤ x ≤ 16777216\n  seq_len: 16384\n"},
      {"verify --print-config /nonexistent/traces.jsonl verify.filters.ngram_size=5",
       "    # repetition: word n-gram size; 1 ≤ x ≤ 64\n    ngram_size: 5\n"},
      {"collect --print-config -c " + configs + "collect-local.yaml collect.prompts=/nonexistent/prompts.jsonl "
       "-o /nonexistent/out/traces.jsonl --max-tokens 2048",
       "    # max new tokens per response; ≥ 1\n    max_tokens: 2048\n"},
  };
  const auto printed =
      std::filesystem::temp_directory_path() / ("distill-cli-printed-" + std::to_string(::getpid()) + ".yaml");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args);
    Result r = RunDistill(c.args);
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_NE(r.out.find(c.expected), std::string::npos) << r.out;
    std::ofstream(printed) << r.out;
    const std::string verb = c.args.substr(0, c.args.find(' '));
    Result again = RunDistill(verb + " --print-config -c " + printed.string());
    ASSERT_EQ(again.exit_code, 0) << again.out;
    EXPECT_EQ(again.out, r.out);
  }
  EXPECT_FALSE(std::filesystem::exists("/nonexistent"));
  std::filesystem::remove(printed);
}

}  // namespace
}  // namespace distill
