// `distill launch`: each copy gets its rank environment, output lines carry "[rank i] ", one failing copy
// stops the others and sets the exit code, and signals to the launcher reach every copy.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/testing/run_distill.h"

namespace distill::testing {
namespace {

// Property: N copies run with RANK/LOCAL_RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT set and their lines prefixed.
TEST(Launch, SetsRankEnvironmentAndPrefixesLines) {
  DistillResult r = RunDistill(
      "launch --nproc 2 -- /bin/sh -c 'echo $RANK $LOCAL_RANK $WORLD_SIZE $MASTER_ADDR; echo port=$MASTER_PORT'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("[rank 0] 0 0 2 127.0.0.1\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[rank 1] 1 1 2 127.0.0.1\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[rank 0] port="), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("port=\n"), std::string::npos) << "MASTER_PORT empty: " << r.out;
}

// Property: --master-port is passed through as given; stderr lines and a last line without newline are prefixed.
TEST(Launch, ExplicitPortAndStderr) {
  DistillResult r = RunDistill("launch --nproc 1 --master-port 29517 -- /bin/sh -c 'echo $MASTER_PORT >&2; printf tail'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("[rank 0] 29517\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[rank 0] tail\n"), std::string::npos) << r.out;
}

// Property: when one rank fails, the launcher stops the rest at once and exits with the failed rank's code.
TEST(Launch, FailingRankStopsTheOthers) {
  const auto start = std::chrono::steady_clock::now();
  DistillResult r = RunDistill("launch --nproc 3 -- /bin/sh -c 'if [ $RANK = 1 ]; then exit 3; fi; sleep 60'");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_LT(seconds, 20.0);
  EXPECT_NE(r.out.find("rank 1 exited with code 3"), std::string::npos) << r.out;
}

// Property: a command that cannot be started is an error, not a hang.
TEST(Launch, MissingCommandFails) {
  DistillResult r = RunDistill("launch --nproc 2 -- /nonexistent/distill-no-such-binary");
  EXPECT_NE(r.exit_code, 0) << r.out;
}

// Property: a rank count below 1 or a port outside 0..65535 is refused, named, before any rank starts.
TEST(Launch, BadCountOrPortIsRefusedBeforeAnyRank) {
  for (const char* args : {"--nproc 0", "--nproc 1 --master-port 70000", "--nproc 1 --master-port -1"}) {
    DistillResult r = RunDistill(std::string("launch ") + args + " -- /bin/sh -c 'echo started'");
    EXPECT_NE(r.exit_code, 0) << args << ": " << r.out;
    EXPECT_EQ(r.out.find("started"), std::string::npos) << args << ": " << r.out;
    EXPECT_TRUE(r.out.find("nproc must be at least 1") != std::string::npos ||
                r.out.find(": expected 1..65535, or 0 to pick a free one") != std::string::npos)
        << args << ": " << r.out;
  }
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Polls `path` until it holds `text` (true) or 60 s pass (false).
bool WaitForText(const std::string& path, const std::string& text) {
  for (int i = 0; i < 600; ++i) {
    if (ReadAll(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// Property: SIGTERM to the launcher reaches every rank, which then get as long as they need to exit (a trainer
// saving its checkpoint: more than the 10 s a failed rank's peers get); a second SIGTERM reaches them too, and the
// launcher's exit code is 128 + SIGTERM.
TEST(Launch, SignalsReachEveryRankWhichMayTakeTheirTime) {
  const std::string log = (std::filesystem::temp_directory_path() / ("distill-launch-" + std::to_string(getpid())))
                              .string();
  // Each rank counts SIGTERMs and exits after the second (a trainer still saving when the first one's time is up).
  const pid_t pid = StartDistill(
      "launch --nproc 2 -- /bin/sh -c 'n=0; trap \"n=\\$((n+1)); echo term \\$n\" TERM; echo ready; "
      "while [ $n -lt 2 ]; do sleep 0.1; done; echo exiting; exit 7'",
      log);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitForText(log, "[rank 0] ready") && WaitForText(log, "[rank 1] ready")) << ReadAll(log);
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  ASSERT_TRUE(WaitForText(log, "[rank 0] term 1") && WaitForText(log, "[rank 1] term 1")) << ReadAll(log);
  std::this_thread::sleep_for(std::chrono::seconds(12));
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, WNOHANG), 0) << "the launcher ended the ranks 12 s after one signal: "
                                                 << ReadAll(log);
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  EXPECT_EQ(WaitDistill(pid), 128 + SIGTERM) << ReadAll(log);
  const std::string out = ReadAll(log);
  EXPECT_NE(out.find("[rank 0] exiting"), std::string::npos) << out;
  EXPECT_NE(out.find("[rank 1] exiting"), std::string::npos) << out;
  std::filesystem::remove(log);
}

}  // namespace
}  // namespace distill::testing
