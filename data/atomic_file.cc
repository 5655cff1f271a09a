#include "data/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace distill::data {
namespace {

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::InternalError(what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

absl::StatusOr<std::unique_ptr<AtomicFile>> AtomicFile::Open(const std::string& path) {
  std::string temp = path;
  temp.append(".tmp.").append(std::to_string(::getpid()));
  FILE* file = std::fopen(temp.c_str(), "wb");
  if (!file) return Errno("cannot create", temp);
  return std::unique_ptr<AtomicFile>(new AtomicFile(path, std::move(temp), file));
}

AtomicFile::~AtomicFile() {
  if (file_) {
    std::fclose(file_);
    std::remove(temp_.c_str());
  }
}

absl::Status AtomicFile::Write(std::string_view bytes) {
  if (!file_) return absl::FailedPreconditionError("write after commit: " + path_);
  if (failed_) return absl::InternalError("earlier write to " + temp_ + " failed");
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    failed_ = true;
    return Errno("cannot write", temp_);
  }
  return absl::OkStatus();
}

absl::Status AtomicFile::Commit() {
  if (!file_) return absl::FailedPreconditionError("committed twice: " + path_);
  if (failed_) return absl::InternalError("earlier write to " + temp_ + " failed");
  absl::Status status;
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) status = Errno("cannot flush", temp_);
  if (std::fclose(file_) != 0 && status.ok()) status = Errno("cannot close", temp_);
  file_ = nullptr;
  if (status.ok() && std::rename(temp_.c_str(), path_.c_str()) != 0) status = Errno("cannot rename onto", path_);
  if (!status.ok()) {
    std::remove(temp_.c_str());
    return status;
  }
  std::filesystem::path dir = std::filesystem::path(path_).parent_path();
  if (dir.empty()) dir = std::filesystem::path(".");
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view contents) {
  auto file = AtomicFile::Open(path);
  if (!file.ok()) return file.status();
  if (auto s = (*file)->Write(contents); !s.ok()) return s;
  return (*file)->Commit();
}

bool SamePath(const std::string& a, const std::string& b) {
  std::error_code ea, eb;
  const std::filesystem::path ca = std::filesystem::weakly_canonical(a, ea);
  const std::filesystem::path cb = std::filesystem::weakly_canonical(b, eb);
  return ea || eb ? a == b : ca == cb;
}

}  // namespace distill::data
