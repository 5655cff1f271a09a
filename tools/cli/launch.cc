// distill launch: a one-machine torchrun (tools/launch/launcher.h). Spawns N copies of a command as the ranks of
// one data-parallel job, prefixes every output line with "[rank i] " (stdout to stdout, stderr to stderr), and when
// one copy fails stops the others and exits with the failed copy's code.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "tools/cli/verbs.h"
#include "tools/launch/launcher.h"

namespace distill::cli {
namespace {

VerbRun Setup(CLI::App& cmd) {
  auto options = std::make_shared<launch::LaunchOptions>();
  cmd.add_option("--nproc", options->nproc, "number of processes (ranks) to start on this machine")->required();
  cmd.add_option("--master-port", options->master_port, "rendezvous port (0 = pick a free one)")->capture_default_str();
  cmd.add_option("--master-addr", options->master_addr, "rendezvous address")->capture_default_str();
  cmd.add_option("command", options->command, "the command each rank runs, after `--` (e.g. -- distill train …)")
      ->required();
  cmd.footer("Example: distill launch --nproc 2 -- distill train --config run.yaml\n"
             "Every line a rank prints is prefixed with \"[rank i] \"; see docs/distributed.md.");
  return [options] {
    auto code = launch::RunLocal(*options);
    if (!code.ok()) {
      std::fprintf(stderr, "distill launch: %s\n", std::string(code.status().message()).c_str());
      return 2;
    }
    return *code;
  };
}

}  // namespace
}  // namespace distill::cli

DISTILL_REGISTER_VERB(launch, "launch", "Run N data-parallel copies of a command on this machine (like torchrun)", 55,
                      distill::cli::Setup);
