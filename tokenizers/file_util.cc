#include "tokenizers/file_util.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace distill::tok {

absl::StatusOr<int> OpenForReading(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) return fd;
  const int err = errno;
  const std::string why = absl::StrCat(path, ": cannot open: ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(why);
  if (err == EACCES) return absl::PermissionDeniedError(why);
  return absl::InternalError(why);
}

absl::StatusOr<MappedFile> MappedFile::Open(const std::string& path) {
  auto fd = OpenForReading(path);
  if (!fd.ok()) return fd.status();
  struct stat st {};
  if (::fstat(*fd, &st) != 0) {
    const int err = errno;
    ::close(*fd);
    return absl::InternalError(absl::StrCat(path, ": cannot stat: ", std::strerror(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(*fd);
    return absl::InternalError(absl::StrCat(path, ": not a regular file"));
  }
  if (st.st_size == 0) {
    ::close(*fd);
    return MappedFile(nullptr, 0);
  }
  void* data = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE | MAP_POPULATE, *fd, 0);
  const int err = errno;
  ::close(*fd);
  if (data == MAP_FAILED) return absl::InternalError(absl::StrCat(path, ": cannot map: ", std::strerror(err)));
  return MappedFile(data, static_cast<size_t>(st.st_size));
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_) ::munmap(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = other.size_;
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  auto opened = OpenForReading(path);
  if (!opened.ok()) return opened.status();
  const int fd = *opened;
  // Sized once from fstat (one spare byte, so the read that sees the end needs no growth) and read in large calls:
  // a stream copy through ostringstream took a tenth of loading a 150k-token tokenizer.json. The size is a hint;
  // a file that grows or shrinks meanwhile is still read whole.
  struct stat st {};
  std::string out;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) out.resize(static_cast<size_t>(st.st_size) + 1);
  size_t used = 0;
  for (;;) {
    if (used == out.size()) out.resize(std::max<size_t>(out.size() * 2, 1 << 16));
    const ssize_t n = ::read(fd, out.data() + used, out.size() - used);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return absl::InternalError(absl::StrCat(path, ": read failed: ", std::strerror(err)));
    }
    used += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(used);
  return out;
}

absl::StatusOr<nlohmann::json> ParseJsonFile(const std::string& path) {
  auto text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  try {
    return nlohmann::json::parse(*text);
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann's message already says what was expected at that point; keep it after our location prefix.
    std::string what = e.what();
    if (auto pos = what.find("syntax error"); pos != std::string::npos) what = what.substr(pos);
    return absl::InvalidArgumentError(absl::StrCat(path, ": byte ", e.byte, ": ", what));
  }
}

}  // namespace distill::tok
