// A full disk for tests: the process's file-size limit (RLIMIT_FSIZE) makes writes past it fail (EFBIG) as
// ENOSPC would, without a small file system to mount.
#pragma once

#include <sys/resource.h>

#include <csignal>
#include <cstdint>
#include <functional>

#include "absl/status/status.h"

namespace distill::testing {

// Runs `write` with files limited to `bytes` and SIGXFSZ ignored (it would kill the test), then restores both.
// Returns what `write` returned.
inline absl::Status WithFileSizeLimit(uint64_t bytes, const std::function<absl::Status()>& write) {
  rlimit old{};
  if (getrlimit(RLIMIT_FSIZE, &old) != 0) return absl::InternalError("getrlimit(RLIMIT_FSIZE) failed");
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = bytes;
  if (setrlimit(RLIMIT_FSIZE, &small) != 0) {
    std::signal(SIGXFSZ, old_handler);
    return absl::InternalError("setrlimit(RLIMIT_FSIZE) failed");
  }
  const absl::Status status = write();
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  return status;
}

}  // namespace distill::testing
