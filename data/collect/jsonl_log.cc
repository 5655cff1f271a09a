#include "data/collect/jsonl_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "data/file_lock.h"
#include "nlohmann/json.hpp"

namespace distill::data::collect {
namespace {

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

double NowSteadySeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string TraceKeyOf(std::string_view prompt_id, int sample_index) {
  return absl::StrCat(absl::string_view(prompt_id.data(), prompt_id.size()), "#", sample_index);
}

absl::StatusOr<uint64_t> RepairTornTail(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    return Errno("cannot open", path);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Errno("cannot stat", path);
  }
  off_t size = st.st_size;
  off_t end = size;
  // Scan backwards in blocks for the last newline.
  std::vector<char> block(1 << 16);
  while (end > 0) {
    off_t start = end > static_cast<off_t>(block.size()) ? end - static_cast<off_t>(block.size()) : 0;
    ssize_t got = ::pread(fd, block.data(), static_cast<size_t>(end - start), start);
    if (got != end - start) {
      ::close(fd);
      return Errno("cannot read", path);
    }
    bool found = false;
    for (ssize_t i = got - 1; i >= 0; --i) {
      if (block[static_cast<size_t>(i)] == '\n') {
        end = start + i + 1;
        found = true;
        break;
      }
    }
    if (found) break;
    end = start;
  }
  uint64_t cut = static_cast<uint64_t>(size - end);
  if (cut > 0) {
    if (::ftruncate(fd, end) != 0 || ::fsync(fd) != 0) {
      ::close(fd);
      return Errno("cannot truncate torn line of", path);
    }
    std::fprintf(stderr, "distill collect: %s: removed a torn last line (%llu bytes) left by an interrupted run\n",
                 path.c_str(), static_cast<unsigned long long>(cut));
  }
  ::close(fd);
  return cut;
}

absl::StatusOr<std::unique_ptr<JsonlLog>> JsonlLog::Open(const std::string& path, JsonlLogOptions options,
                                                          uint64_t* repaired_bytes) {
  // One writer per file, held until close: a second collector on the same output would interleave its lines with
  // ours and, worse, cut our line in progress as a "torn tail" below.
  auto locked = OpenLocked(path, O_WRONLY | O_APPEND,
                           absl::StrCat(path, ": another process is appending to it (a second distill collect or "
                                              "eval on the same output?); wait for it to finish, or choose another "
                                              "output"));
  if (!locked.ok()) return locked.status();
  const int fd = *locked;
  auto cut = RepairTornTail(path);
  if (!cut.ok()) {
    ::close(fd);
    return cut.status();
  }
  if (repaired_bytes) *repaired_bytes = *cut;
  return std::unique_ptr<JsonlLog>(new JsonlLog(path, fd, options));
}

JsonlLog::JsonlLog(std::string path, int fd, JsonlLogOptions options)
    : path_(std::move(path)), fd_(fd), options_(options), last_sync_s_(NowSteadySeconds()) {}

JsonlLog::~JsonlLog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    (void)SyncLocked();
  }
  ::close(fd_);
}

absl::Status JsonlLog::Append(std::string_view line) {
  if (line.find('\n') != std::string_view::npos)
    return absl::InvalidArgumentError(absl::StrCat("JSONL line for ", path_, " contains a newline"));
  std::string buf;
  buf.reserve(line.size() + 1);
  buf.append(line);
  buf.push_back('\n');
  std::lock_guard<std::mutex> lock(mu_);
  size_t off = 0;
  while (off < buf.size()) {
    ssize_t n = ::write(fd_, buf.data() + off, buf.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot append to", path_);
    }
    off += static_cast<size_t>(n);
  }
  ++lines_;
  ++unsynced_;
  double now = NowSteadySeconds();
  if (unsynced_ >= options_.fsync_every_lines || now - last_sync_s_ >= options_.fsync_every_s) return SyncLocked();
  return absl::OkStatus();
}

absl::Status JsonlLog::Sync() {
  std::lock_guard<std::mutex> lock(mu_);
  return SyncLocked();
}

absl::Status JsonlLog::SyncLocked() {
  last_sync_s_ = NowSteadySeconds();
  if (unsynced_ == 0) return absl::OkStatus();
  unsynced_ = 0;
  if (::fdatasync(fd_) != 0) return Errno("cannot fsync", path_);
  return absl::OkStatus();
}

absl::Status ScanDoneKeys(const std::string& path, absl::flat_hash_set<std::string>& keys, ScanStats* stats) {
  ScanStats local;
  ScanStats& s = stats ? *stats : local;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) return absl::OkStatus();
    return Errno("cannot read", path);
  }
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    ++s.lines;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    auto id = j.is_object() ? j.find("prompt_id") : j.end();
    auto sample = j.is_object() ? j.find("sample_index") : j.end();
    if (j.is_discarded() || !j.is_object() || id == j.end() || !id->is_string() || sample == j.end() ||
        !sample->is_number_integer()) {
      ++s.bad_lines;
      std::fprintf(stderr, "distill collect: %s:%lld: not a trace line (no prompt_id/sample_index); ignored\n",
                   path.c_str(), static_cast<long long>(line_no));
      continue;
    }
    if (!keys.insert(TraceKeyOf(id->get<std::string>(), sample->get<int>())).second) ++s.duplicates;
  }
  return absl::OkStatus();
}

}  // namespace distill::data::collect
