// Advisory whole-file locks (flock) for outputs that must have one writer: a traces log, a training run folder.
// Header-only so the trainer-only GPU build uses it too. The lock belongs to the open file: closing the descriptor
// (or the process ending, however it ends) releases it.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace distill::data {

// Takes an exclusive lock on the open file `fd` without waiting. While another open file holds it:
// FailedPrecondition with `busy` as the message; other failures: Internal naming `path`.
inline absl::Status LockExclusive(int fd, const std::string& path, const std::string& busy) {
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return absl::OkStatus();
  if (errno == EWOULDBLOCK) return absl::FailedPreconditionError(busy);
  return absl::InternalError(absl::StrCat("cannot lock ", path, ": ", std::strerror(errno)));
}

// Opens (creating, mode 0644) `path` with `flags` (O_CREAT | O_CLOEXEC are added) and locks it as LockExclusive
// does; returns the descriptor, which the caller closes to release the lock. On failure nothing stays open.
inline absl::StatusOr<int> OpenLocked(const std::string& path, int flags, const std::string& busy) {
  const int fd = ::open(path.c_str(), flags | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  if (absl::Status s = LockExclusive(fd, path, busy); !s.ok()) {
    ::close(fd);
    return s;
  }
  return fd;
}

}  // namespace distill::data
