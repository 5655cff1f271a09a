// `distill report` through the binary: the fixture runs give an HTML file and exit 0; a missing folder, a folder
// without runs, a malformed metrics line or a missing -o give a clear error, exit non-zero and write nothing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/eval/report_fixture.h"
#include "tests/testing/run_distill.h"

namespace distill {
namespace {

namespace fs = std::filesystem;
namespace fx = testing::report_fixture;
using testing::RunDistill;

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class ReportCli : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fx::TempFolder(std::string("cli-") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    dirs_ = fx::WriteFixture(root_ / "runs");
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string Dirs() const { return "'" + dirs_[0] + "' '" + dirs_[1] + "'"; }

  fs::path root_;
  std::vector<std::string> dirs_;
};

// Property: the verb writes the report (creating its folder) and says what it read; --title is used.
TEST_F(ReportCli, WritesReport) {
  const fs::path out = root_ / "out" / "report.html";
  auto result = RunDistill("report " + Dirs() + " -o '" + out.string() + "' --title 'CLI & co'");
  ASSERT_EQ(result.exit_code, 0) << result.out;
  EXPECT_NE(result.out.find("1 train run, 2 eval runs"), std::string::npos) << result.out;
  const std::string html = Slurp(out);
  EXPECT_NE(html.find("<title>CLI &amp; co</title>"), std::string::npos);
  EXPECT_NE(html.find("data-chart=\"loss-train-a\""), std::string::npos);
  EXPECT_NE(html.find("id=\"eval-table\""), std::string::npos);
  EXPECT_EQ(std::distance(fs::directory_iterator(out.parent_path()), fs::directory_iterator()), 1);

  auto help = RunDistill("--help");
  EXPECT_NE(help.out.find("report"), std::string::npos) << help.out;
  auto quiet = RunDistill("report '" + dirs_[1] + "' -q --correct 1 --incorrect 0 -o '" + out.string() + "'");
  ASSERT_EQ(quiet.exit_code, 0) << quiet.out;
  EXPECT_EQ(quiet.out, "");
  EXPECT_EQ(Slurp(out).find("data-chart=\"loss-train-a\""), std::string::npos);  // replaced
}

// Property: bad inputs exit non-zero with the reason and leave no file.
TEST_F(ReportCli, ErrorsWriteNothing) {
  const fs::path out = root_ / "out" / "report.html";
  auto missing = RunDistill("report " + Dirs() + " '" + (root_ / "nope").string() + "' -o '" + out.string() + "'");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.out.find("distill report: "), std::string::npos) << missing.out;
  EXPECT_NE(missing.out.find("nope: no such folder"), std::string::npos) << missing.out;
  EXPECT_FALSE(fs::exists(out.parent_path()));

  fs::create_directories(root_ / "empty");
  auto empty = RunDistill("report '" + (root_ / "empty").string() + "' -o '" + out.string() + "'");
  EXPECT_NE(empty.exit_code, 0);
  EXPECT_NE(empty.out.find("no train run"), std::string::npos) << empty.out;

  fx::WriteText(fs::path(dirs_[0]) / "metrics.jsonl", "{\"step\": 1}\n{oops\n");
  auto malformed = RunDistill("report " + Dirs() + " -o '" + out.string() + "'");
  EXPECT_NE(malformed.exit_code, 0);
  EXPECT_NE(malformed.out.find("metrics.jsonl:2: invalid JSON"), std::string::npos) << malformed.out;
  EXPECT_FALSE(fs::exists(out.parent_path()));

  auto no_out = RunDistill("report " + Dirs());
  EXPECT_NE(no_out.exit_code, 0);
  EXPECT_FALSE(fs::exists(out.parent_path()));
}

// Property: an -o naming an existing file that is not an HTML page (here a run's own metrics.jsonl) is refused and
// kept byte for byte; an earlier report at -o is replaced.
TEST_F(ReportCli, OutputThatIsNotHtmlIsNotReplaced) {
  const fs::path metrics = fs::path(dirs_[0]) / "metrics.jsonl";
  const std::string before = Slurp(metrics);
  auto refused = RunDistill("report " + Dirs() + " -o '" + metrics.string() + "'");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.out.find(metrics.string() + ": exists and is not an HTML page; refusing to replace it"),
            std::string::npos)
      << refused.out;
  EXPECT_EQ(Slurp(metrics), before);

  const fs::path out = root_ / "report.html";
  ASSERT_EQ(RunDistill("report " + Dirs() + " -o '" + out.string() + "'").exit_code, 0);
  auto again = RunDistill("report " + Dirs() + " --title Again -o '" + out.string() + "'");
  EXPECT_EQ(again.exit_code, 0) << again.out;
  EXPECT_NE(Slurp(out).find("Again"), std::string::npos);
}

}  // namespace
}  // namespace distill
