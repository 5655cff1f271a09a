#include "trainer/hf/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace distill::hf::internal {

std::string ErrnoText(int err) { return std::strerror(err); }

std::string ParentDir(const std::string& path) {
  std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

absl::Status FsyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat(dir, ": cannot open folder: ", ErrnoText(errno)));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat(dir, ": cannot fsync folder: ", ErrnoText(err)));
  return absl::OkStatus();
}

absl::Status WriteFileAtomic(const std::string& path, const std::function<absl::Status(const WriteAllFn&)>& fill) {
  const std::string temp = absl::StrCat(path, ".tmp.", ::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat(temp, ": cannot create: ", ErrnoText(errno)));
  uint64_t written = 0;
  // write() may write less than asked (large buffers, signals): loop until everything is out.
  const WriteAllFn write_all = [&](std::string_view bytes) -> absl::Status {
    while (!bytes.empty()) {
      const size_t chunk = bytes.size() < (size_t{1} << 30) ? bytes.size() : (size_t{1} << 30);
      const ssize_t n = ::write(fd, bytes.data(), chunk);
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::InternalError(
            absl::StrCat(temp, ": write failed at byte ", written, ": ", ErrnoText(errno)));
      }
      bytes.remove_prefix(static_cast<size_t>(n));
      written += static_cast<uint64_t>(n);
    }
    return absl::OkStatus();
  };
  absl::Status status = fill(write_all);
  if (status.ok() && ::fsync(fd) != 0) {
    status = absl::InternalError(absl::StrCat(temp, ": fsync failed: ", ErrnoText(errno)));
  }
  if (::close(fd) != 0 && status.ok()) {
    status = absl::InternalError(absl::StrCat(temp, ": close failed: ", ErrnoText(errno)));
  }
  if (status.ok() && std::rename(temp.c_str(), path.c_str()) != 0) {
    status = absl::InternalError(absl::StrCat("cannot rename ", temp, " to ", path, ": ", ErrnoText(errno)));
  }
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  return FsyncDir(ParentDir(path));
}

}  // namespace distill::hf::internal
