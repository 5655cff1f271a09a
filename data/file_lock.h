// Advisory whole-file locks (flock) for outputs that must have one writer: a traces log, a training run folder.
// Header-only so the trainer-only GPU build uses it too. The lock belongs to the open file: closing the descriptor
// (or the process ending, however it ends) releases it.
#pragma once

#include <sys/file.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace distill::data {

// Takes an exclusive lock on the open file `fd` without waiting. While another open file holds it:
// FailedPrecondition with `busy` as the message; other failures: Internal naming `path`.
inline absl::Status LockExclusive(int fd, const std::string& path, const std::string& busy) {
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return absl::OkStatus();
  if (errno == EWOULDBLOCK) return absl::FailedPreconditionError(busy);
  return absl::InternalError(absl::StrCat("cannot lock ", path, ": ", std::strerror(errno)));
}

}  // namespace distill::data
