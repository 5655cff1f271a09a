// The `distill collect` verb, run as the built binary against an in-test endpoint on 127.0.0.1: flags, --config
// with dotted overrides, the resolved config beside the output, --shard i/N splits that --merge recombines, exit
// codes, and no trace of the API key in any file or output line.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/data/collect_test_server.h"

namespace distill::data::collect {
namespace {

constexpr char kSecret[] = "sk-cli-test-0a1b2c3d4e5f-SECRET";

std::string Binary() { return std::string(DISTILL_BINARY_DIR) + "/distill"; }

// Runs a shell command, output to `log`; returns the exit code.
int Shell(const std::string& cmd, const std::string& log) {
  int status = std::system((cmd + " >" + log + " 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::set<std::string> Keys(const std::string& path) {
  std::set<std::string> out;
  for (const auto& t : testing::ReadJsonl(path))
    out.insert(absl::StrCat(t["prompt_id"].get<std::string>(), "#", t["sample_index"].get<int>()));
  return out;
}

class CollectCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(Binary())) GTEST_SKIP() << "no distill binary at " << Binary();
    ::signal(SIGPIPE, SIG_IGN);
    ::setenv("DISTILL_CLI_TEST_KEY", kSecret, 1);
    dir_ = testing::TempDir("collect_cli");
    std::ofstream p(dir_ + "/prompts.jsonl");
    for (int i = 0; i < 10; ++i) p << nlohmann::json({{"prompt", absl::StrCat("Q", i)}, {"answer", "1"}}).dump() << "\n";
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string dir_;
};

void Handler(const testing::SeenRequest& req, httplib::Response& res) {
  if (req.authorization != std::string("Bearer ") + kSecret) {
    res.status = 401;
    return;
  }
  testing::Canned c;
  c.dialect = "ollama";
  c.reasoning = "thinking about " + req.prompt;
  c.answer = "1";
  if (req.prompt == "Q7") {  // a permanent failure → exit code 2
    res.status = 500;
    return;
  }
  testing::ServeCanned(req, res, c);
}

// Property: config file + dotted override + flags resolve as documented (override beats file, flag beats both),
// the resolved config lands beside the output, failures give exit code 2, and the key appears nowhere.
TEST_F(CollectCli, ConfigOverridesResolvedConfigAndNoSecret) {
  testing::TestServer server(Handler);
  {
    std::ofstream cfg(dir_ + "/run.yaml");
    cfg << "collect:\n  prompts: prompts.jsonl\n  samples: 2\n  endpoint:\n    model: teacher\n"
        << "    api_key_env: DISTILL_CLI_TEST_KEY\n  retry:\n    max_attempts: 2\n    backoff_base_s: 0.01\n";
  }
  std::string cmd = absl::StrCat(Binary(), " collect -c ", dir_, "/run.yaml -u ", server.base_url(), " -o ", dir_,
                                 "/out/traces.jsonl --progress off collect.samples=3 --max-tokens 1000");
  int rc = Shell(cmd, dir_ + "/log.txt");
  std::string log = testing::ReadAll(dir_ + "/log.txt");
  EXPECT_EQ(rc, 2) << log;
  auto keys = Keys(dir_ + "/out/traces.jsonl");
  EXPECT_EQ(keys.size(), 27u) << log;  // 9 prompts × 3 samples (Q7 fails)
  EXPECT_EQ(testing::ReadJsonl(dir_ + "/out/traces.failures.jsonl").size(), 3u);
  std::string resolved = testing::ReadAll(dir_ + "/out/traces.jsonl.config.yaml");
  EXPECT_NE(resolved.find("samples: 3"), std::string::npos) << resolved;
  EXPECT_NE(resolved.find("max_tokens: 1000"), std::string::npos) << resolved;
  EXPECT_NE(resolved.find("DISTILL_CLI_TEST_KEY"), std::string::npos);
  for (const auto& r : server.requests()) EXPECT_EQ(r.body["max_tokens"], 1000);
  // Rerun: everything done is skipped (only Q7 is retried).
  size_t before = server.requests().size();
  EXPECT_EQ(Shell(cmd, dir_ + "/log2.txt"), 2);
  log += testing::ReadAll(dir_ + "/log2.txt");
  for (size_t i = before; i < server.requests().size(); ++i) EXPECT_EQ(server.requests()[i].prompt, "Q7");
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_))
    if (e.is_regular_file()) {
      EXPECT_EQ(testing::ReadAll(e.path().string()).find(kSecret), std::string::npos) << e.path();
    }
  EXPECT_EQ(log.find(kSecret), std::string::npos);
  // A rerun that fails on its prompts file (mistyped) leaves the traces and the config beside them as they were.
  const std::string traces_before = testing::ReadAll(dir_ + "/out/traces.jsonl");
  const std::string config_before = testing::ReadAll(dir_ + "/out/traces.jsonl.config.yaml");
  EXPECT_EQ(Shell(cmd + " collect.prompts=" + dir_ + "/missing.jsonl collect.samples=1", dir_ + "/log2b.txt"), 1);
  EXPECT_NE(testing::ReadAll(dir_ + "/log2b.txt").find("cannot read prompts file"), std::string::npos)
      << testing::ReadAll(dir_ + "/log2b.txt");
  EXPECT_EQ(testing::ReadAll(dir_ + "/out/traces.jsonl"), traces_before);
  EXPECT_EQ(testing::ReadAll(dir_ + "/out/traces.jsonl.config.yaml"), config_before);
  // A bad override is reported with the key, exit 1.
  EXPECT_EQ(Shell(cmd + " collect.samples=abc", dir_ + "/log3.txt"), 1);
  EXPECT_NE(testing::ReadAll(dir_ + "/log3.txt").find("collect.samples"), std::string::npos);
  // Values past int's range are refused, not wrapped (2^32 + 1 would have become 1 sample), before any request.
  before = server.requests().size();
  EXPECT_EQ(Shell(cmd + " collect.samples=4294967297", dir_ + "/log4.txt"), 1);
  const std::string log4 = testing::ReadAll(dir_ + "/log4.txt");
  EXPECT_NE(log4.find("'collect.samples=4294967297': key 'collect.samples': expected 1 ≤ x ≤ 2147483647, got "
                      "4294967297"),
            std::string::npos)
      << log4;
  // A range problem in the file names its line:column, like a type error.
  std::ofstream(dir_ + "/bad.yaml") << "collect:\n  prompts: prompts.jsonl\n  endpoint:\n    model: teacher\n"
                                    << "  timeouts:\n    total_s: -1\n  sampling:\n    top_p: 0\n";
  EXPECT_EQ(Shell(absl::StrCat(Binary(), " collect -c ", dir_, "/bad.yaml -u ", server.base_url(), " -o ", dir_,
                               "/out/traces.jsonl --progress off"),
                  dir_ + "/log5.txt"),
            1);
  const std::string log5 = testing::ReadAll(dir_ + "/log5.txt");
  EXPECT_NE(log5.find("bad.yaml:6:14: key 'collect.timeouts.total_s': expected 0 ≤ x ≤ 10000000 (seconds), got -1"),
            std::string::npos)
      << log5;
  EXPECT_NE(log5.find("bad.yaml:8:12: key 'collect.sampling.top_p': expected 0 < x ≤ 1, got 0"), std::string::npos)
      << log5;
  EXPECT_EQ(server.requests().size(), before);
}

// Property: --shard 0/2 and 1/2 split the prompts disjointly and completely, and --merge recombines them into the
// same keys as an unsharded run, each once even when the inputs overlap.
TEST_F(CollectCli, ShardsMergeToTheWhole) {
  testing::TestServer server(Handler);
  std::string base = absl::StrCat(Binary(), " collect -p ", dir_, "/prompts.jsonl -u ", server.base_url(),
                                  " -m t --api-key-env DISTILL_CLI_TEST_KEY --max-attempts 1 --progress off -o ", dir_);
  ASSERT_EQ(Shell(base + "/all.jsonl", dir_ + "/l0.txt"), 2);
  // Q7 fails in whichever shard holds it: exit codes 0 and 2, in some order.
  int rc0 = Shell(base + "/s0.jsonl --shard 0/2", dir_ + "/l1.txt");
  int rc1 = Shell(base + "/s1.jsonl --shard 1/2", dir_ + "/l2.txt");
  EXPECT_EQ(rc0 + rc1, 2) << testing::ReadAll(dir_ + "/l1.txt") << testing::ReadAll(dir_ + "/l2.txt");
  auto s0 = Keys(dir_ + "/s0.jsonl");
  auto s1 = Keys(dir_ + "/s1.jsonl");
  EXPECT_FALSE(s0.empty());
  EXPECT_FALSE(s1.empty());
  for (const auto& k : s0) EXPECT_EQ(s1.count(k), 0u) << k;
  ASSERT_EQ(Shell(absl::StrCat(Binary(), " collect --merge ", dir_, "/s0.jsonl ", dir_, "/s1.jsonl ", dir_,
                             "/s0.jsonl -o ", dir_, "/merged.jsonl"),
                dir_ + "/l3.txt"),
            0)
      << testing::ReadAll(dir_ + "/l3.txt");
  EXPECT_EQ(Keys(dir_ + "/merged.jsonl"), Keys(dir_ + "/all.jsonl"));
  EXPECT_EQ(testing::ReadJsonl(dir_ + "/merged.jsonl").size(), Keys(dir_ + "/all.jsonl").size());
}

}  // namespace
}  // namespace distill::data::collect
