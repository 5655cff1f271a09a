// A one-machine torchrun: starts N copies of a command as the ranks of one data-parallel job (RANK, LOCAL_RANK,
// WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT set; any inherited values replaced), hands every output
// line to a callback, and when one copy fails stops the others. Used by `distill launch` and by the demo.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace distill::launch {

enum class OutputStream { kStdout, kStderr };

struct LaunchOptions {
  int nproc = 1;                          // ranks 0 … nproc − 1, at least 1
  int master_port = 0;                    // rendezvous port; 0 = one free on the loopback now
  std::string master_addr = "127.0.0.1";  // rendezvous address
  std::vector<std::string> command;       // argv of every copy; argv[0] is looked up on PATH
  // Each complete line a rank prints (without the newline; a last unterminated line too). Called on the calling
  // thread. Default: printed to the same stream as "[rank i] line".
  std::function<void(int rank, OutputStream stream, std::string_view line)> on_line;
};

// Runs the job to its end and returns its exit code: 0 when every rank exited 0; otherwise the first failing
// rank's code (after stopping the others: SIGTERM, then SIGKILL after 10 s), 128 + the signal when this process got
// SIGINT or SIGTERM (each forwarded to every rank; after the first the ranks get as long as they need, so a trainer
// can save its checkpoint, after a second 10 s), or 127 when a rank could not be started. Each rank runs in its
// own process group, so stopping it stops what it started. Notes on failures go to stderr. InvalidArgument for
// nproc < 1 or an empty command; Unavailable when no free port was found.
absl::StatusOr<int> RunLocal(const LaunchOptions& options);

}  // namespace distill::launch
