// The append-only JSONL log and resume: a torn last line is cut on reopen, the done-key set matches the file,
// and a resumed collection against a real (loopback) endpoint writes no key twice.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "data/collect/collector.h"
#include "data/collect/jsonl_log.h"
#include "data/collect/merge.h"
#include "data/collect/progress.h"
#include "tests/data/collect_test_server.h"

namespace distill::data::collect {
namespace {

std::string TraceLine(const std::string& id, int sample) {
  return nlohmann::json({{"prompt_id", id}, {"sample_index", sample}, {"reasoning", "r"}, {"answer", "a"}}).dump();
}

// Property: reopening a log whose last line was torn (no trailing newline) cuts exactly that line; whole lines
// survive and new appends start on a fresh line.
TEST(JsonlLog, TornLastLineRepairedOnReopen) {
  std::string dir = testing::TempDir("log_torn");
  std::string path = dir + "/t.jsonl";
  {
    std::ofstream f(path, std::ios::binary);
    f << TraceLine("a", 0) << "\n" << TraceLine("b", 0) << "\n" << R"({"prompt_id":"c","sampl)";
  }
  uint64_t cut = 0;
  {
    auto log = JsonlLog::Open(path, {}, &cut);
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ(cut, std::string(R"({"prompt_id":"c","sampl)").size());
    ASSERT_TRUE((*log)->Append(TraceLine("c", 0)).ok());
  }
  auto lines = testing::ReadJsonl(path);  // throws on a malformed line
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[2]["prompt_id"], "c");
  // A whole file is left alone; a file that is one torn line becomes empty.
  EXPECT_EQ(*RepairTornTail(path), 0u);
  {
    std::ofstream f(dir + "/only.jsonl", std::ios::binary);
    f << "{\"x";
  }
  EXPECT_EQ(*RepairTornTail(dir + "/only.jsonl"), 3u);
  EXPECT_EQ(std::filesystem::file_size(dir + "/only.jsonl"), 0u);
  EXPECT_EQ(*RepairTornTail(dir + "/missing.jsonl"), 0u);
  EXPECT_FALSE((*JsonlLog::Open(dir + "/n.jsonl"))->Append("a\nb").ok());
  std::filesystem::remove_all(dir);
}

// Property: the done-key set holds exactly the (prompt_id, sample_index) of valid lines; garbage lines are
// counted, duplicates counted once.
TEST(JsonlLog, DoneKeysMatchFile) {
  std::string dir = testing::TempDir("log_keys");
  std::string path = dir + "/t.jsonl";
  {
    std::ofstream f(path);
    f << TraceLine("a", 0) << "\n" << TraceLine("a", 1) << "\n" << "garbage\n\n"
      << TraceLine("b", 0) << "\n" << TraceLine("a", 1) << "\n";
  }
  absl::flat_hash_set<std::string> keys;
  ScanStats stats;
  ASSERT_TRUE(ScanDoneKeys(path, keys, &stats).ok());
  EXPECT_EQ(keys, (absl::flat_hash_set<std::string>{"a#0", "a#1", "b#0"}));
  EXPECT_EQ(stats.bad_lines, 1);
  EXPECT_EQ(stats.duplicates, 1);
  absl::flat_hash_set<std::string> none;
  EXPECT_TRUE(ScanDoneKeys(dir + "/missing.jsonl", none).ok());
  EXPECT_TRUE(none.empty());
  std::filesystem::remove_all(dir);
}

// Property: merging shard files keeps one line per key (the first) and skips torn/garbage lines.
TEST(JsonlLog, MergeDeduplicatesByKey) {
  std::string dir = testing::TempDir("log_merge");
  {
    std::ofstream a(dir + "/a.jsonl");
    a << TraceLine("p", 0) << "\n" << TraceLine("q", 0) << "\n";
    std::ofstream b(dir + "/b.jsonl");
    b << TraceLine("q", 0) << "\n" << TraceLine("r", 2) << "\n" << "{\"torn";
  }
  auto stats = MergeTraceFiles({dir + "/a.jsonl", dir + "/b.jsonl"}, dir + "/all.jsonl");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->written, 3);
  EXPECT_EQ(stats->duplicates, 1);
  EXPECT_EQ(stats->bad_lines, 1);
  EXPECT_EQ(testing::ReadJsonl(dir + "/all.jsonl").size(), 3u);
  std::filesystem::remove_all(dir);
}

// Property: a log file has one writer at a time: while one JsonlLog holds it, a second Open (as a second collector
// on the same output would) is refused naming the path, and the first writer's half-written line is not cut as a
// torn tail; after the first closes, the file opens again.
TEST(JsonlLog, SecondWriterIsRefused) {
  std::string dir = testing::TempDir("log_lock");
  const std::string path = dir + "/traces.jsonl";
  {
    auto first = JsonlLog::Open(path);
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_TRUE((*first)->Append("{\"a\": 1}").ok());
    std::ofstream(path, std::ios::app) << "{\"b\": ";  // the first writer's line in progress, as another sees it
    auto second = JsonlLog::Open(path);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(second.status().message().find(path + ": another process is appending to it"), std::string::npos)
        << second.status();
    EXPECT_EQ(testing::ReadAll(path), "{\"a\": 1}\n{\"b\": ");
  }
  uint64_t repaired = 0;
  auto reopened = JsonlLog::Open(path, {}, &repaired);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(repaired, 6u);  // once nobody writes, the torn line is cut
  std::filesystem::remove_all(dir);
}

// Property: resuming a traces file with done keys and a torn tail, the collector requests only the missing
// (prompt, sample) pairs and the file ends with every key exactly once.
TEST(JsonlLog, ResumeWritesNoDuplicates) {
  std::string dir = testing::TempDir("log_resume");
  {
    std::ofstream p(dir + "/prompts.jsonl");
    for (int i = 0; i < 6; ++i)
      p << nlohmann::json({{"id", absl::StrCat("q", i)}, {"prompt", absl::StrCat("Q", i)}}).dump() << "\n";
    std::ofstream t(dir + "/out.jsonl", std::ios::binary);
    t << TraceLine("q0", 0) << "\n" << TraceLine("q0", 1) << "\n" << TraceLine("q3", 1) << "\n"
      << TraceLine("q4", 0).substr(0, 20);  // torn
  }
  testing::Canned c;
  c.dialect = "deepseek";
  c.reasoning = "think";
  c.answer = "ans";
  testing::TestServer server([&](const testing::SeenRequest& req, httplib::Response& res) {
    testing::ServeCanned(req, res, c);
  });
  CollectOptions o;
  o.prompts_path = dir + "/prompts.jsonl";
  o.out_path = dir + "/out.jsonl";
  o.base_url = server.base_url();
  o.model = "m";
  o.samples = 2;
  o.progress = ProgressMode::kOff;
  auto run = RunCollect(o);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->total, 12);
  EXPECT_EQ(run->skipped_done, 3);
  EXPECT_EQ(run->succeeded, 9);
  EXPECT_EQ(server.requests().size(), 9u);
  std::map<std::string, int> count;
  for (const auto& t : testing::ReadJsonl(o.out_path))
    ++count[absl::StrCat(t["prompt_id"].get<std::string>(), "#", t["sample_index"].get<int>())];
  EXPECT_EQ(count.size(), 12u);
  for (const auto& [k, n] : count) EXPECT_EQ(n, 1) << k;
  // A second run does nothing.
  auto again = RunCollect(o);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->skipped_done, 12);
  EXPECT_EQ(server.requests().size(), 9u);
  std::filesystem::remove_all(dir);
}

// Property: the progress line carries done/total, rates, failures and ETA; plain-lines mode prints at most one
// line per interval (plus a forced final one); the summary shows token totals and, when priced, the cost.
TEST(Progress, LinesAndSummary) {
  CollectCounters c;
  c.total = 10;
  c.skipped_done = 2;
  c.succeeded = 3;
  c.failed = 1;
  c.requests = 6;
  c.retries = 2;
  c.prompt_tokens = 1000;
  c.completion_tokens = 3000;
  c.reasoning_tokens = 2500;
  c.cost = 1000 / 1e6 * 0.5 + 3000 / 1e6 * 2.0;
  c.elapsed_s = 2;
  std::string line = ProgressReporter::Line(c, 2.0);
  EXPECT_NE(line.find("6/10 done"), std::string::npos) << line;
  EXPECT_NE(line.find("3.00 req/s"), std::string::npos) << line;
  EXPECT_NE(line.find("2000 tok/s"), std::string::npos) << line;
  EXPECT_NE(line.find("1 failed"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA 2s"), std::string::npos) << line;  // 4 left, 4 finished in 2 s this run
  std::FILE* f = std::tmpfile();
  ProgressReporter r(ProgressMode::kLines, 10.0, f);
  r.Update(c, 100.0);
  r.Update(c, 105.0);
  r.Update(c, 110.5);
  r.Update(c, 111.0, /*force=*/true);
  std::rewind(f);
  int lines = 0;
  for (int ch; (ch = std::fgetc(f)) != EOF;) lines += ch == '\n';
  std::fclose(f);
  EXPECT_EQ(lines, 2);
  std::string summary = FormatSummary(c, /*priced=*/true);
  EXPECT_NE(summary.find("prompt 1000, completion 3000 (reasoning 2500), total 4000"), std::string::npos) << summary;
  EXPECT_NE(summary.find("estimated cost: 0.0065"), std::string::npos) << summary;
  EXPECT_EQ(FormatSummary(c, false).find("cost"), std::string::npos);
}

}  // namespace
}  // namespace distill::data::collect
