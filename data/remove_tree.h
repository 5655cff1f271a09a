// Removing a file or a whole folder tree with POSIX calls instead of std::filesystem::remove_all. PyTorch's wheels
// since 2.5 export their statically linked copy of libstdc++'s filesystem symbols (pytorch/pytorch#133437); a
// program linked against such a LibTorch binds remove_all to that copy, which jumped to address 0 on a non-empty
// folder with torch 2.11 + CUDA 13 (checkpoint pruning, benchmark clean-up). Header-only so the trainer-only GPU
// build uses it too.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace distill::data {

namespace remove_tree_internal {

// Removes `name` inside the folder `parent_fd`, depth first, never following symbolic links (a link is removed,
// not its target). Returns 0 or the first errno met; an entry that is already gone is not an error.
inline int RemoveAt(int parent_fd, const char* name) {
  struct stat st;
  if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return errno == ENOENT ? 0 : errno;
  if (S_ISDIR(st.st_mode)) {
    const int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno;
    DIR* dir = fdopendir(fd);
    if (dir == nullptr) {
      const int err = errno;
      close(fd);
      return err;
    }
    int first_error = 0;
    while (const dirent* entry = readdir(dir)) {
      if (std::strcmp(entry->d_name, ".") == 0 || std::strcmp(entry->d_name, "..") == 0) continue;
      const int err = RemoveAt(dirfd(dir), entry->d_name);
      if (first_error == 0) first_error = err;
    }
    closedir(dir);
    if (first_error != 0) return first_error;
    return unlinkat(parent_fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT ? 0 : errno;
  }
  return unlinkat(parent_fd, name, 0) == 0 || errno == ENOENT ? 0 : errno;
}

}  // namespace remove_tree_internal

// Removes `path` (a file, a symbolic link, or a folder with everything under it). A path that does not exist is
// OK. On failure returns InternalError "cannot remove <path>: <reason>"; entries removed before it stay removed.
inline absl::Status RemoveTree(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("RemoveTree: empty path");
  const int err = remove_tree_internal::RemoveAt(AT_FDCWD, path.c_str());
  if (err == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("cannot remove ", path, ": ", std::strerror(err)));
}

}  // namespace distill::data
