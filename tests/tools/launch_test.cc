// `distill launch`: each copy gets its rank environment, output lines carry "[rank i] ", and one failing copy
// stops the others and sets the exit code.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

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

}  // namespace
}  // namespace distill::testing
