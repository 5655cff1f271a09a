// Append-only JSONL logs (traces, failures): one write() per line, fsync in batches (every N lines or T
// seconds, and on close). A crash can leave only a torn last line — one without its "\n" — which Open repairs
// by truncating it. ScanDoneKeys rebuilds, for resume, the set of keys already written.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace distill::data::collect {

struct JsonlLogOptions {
  int fsync_every_lines = 64;
  double fsync_every_s = 2.0;
};

class JsonlLog {
 public:
  // Opens `path` for appending (creating it), first truncating a torn last line; `repaired_bytes`, when given,
  // receives how many bytes were cut. The file is locked (flock) until the log closes: while another process (or
  // another JsonlLog) holds it, Open fails with FailedPrecondition naming the path and touches nothing.
  static absl::StatusOr<std::unique_ptr<JsonlLog>> Open(const std::string& path, JsonlLogOptions options = {},
                                                         uint64_t* repaired_bytes = nullptr);
  ~JsonlLog();
  JsonlLog(const JsonlLog&) = delete;
  JsonlLog& operator=(const JsonlLog&) = delete;

  // Appends `line` (must not contain "\n") plus "\n" in one write; fsyncs when a batch is due.
  absl::Status Append(std::string_view line);
  absl::Status Sync();
  const std::string& path() const { return path_; }
  uint64_t lines_written() const { return lines_; }

 private:
  JsonlLog(std::string path, int fd, JsonlLogOptions options);
  absl::Status SyncLocked();

  std::string path_;
  int fd_;
  JsonlLogOptions options_;
  std::mutex mu_;
  int unsynced_ = 0;
  double last_sync_s_ = 0;
  uint64_t lines_ = 0;
};

// Truncates `path` after its last "\n" when it does not end with one. Returns the bytes cut (0 when the file is
// whole or missing).
absl::StatusOr<uint64_t> RepairTornTail(const std::string& path);

struct ScanStats {
  int64_t lines = 0;
  int64_t bad_lines = 0;   // not JSON / no prompt_id or sample_index (each reported on stderr with file:line)
  int64_t duplicates = 0;  // keys seen more than once
};

// Reads a traces JSONL (missing file = empty) and inserts TraceKeyOf(prompt_id, sample_index) of every line.
absl::Status ScanDoneKeys(const std::string& path, absl::flat_hash_set<std::string>& keys, ScanStats* stats = nullptr);

// "<prompt_id>#<sample_index>", the resume / de-duplication key (same format as data::TraceKey).
std::string TraceKeyOf(std::string_view prompt_id, int sample_index);

// Monotonic seconds (steady clock).
double NowSteadySeconds();

}  // namespace distill::data::collect
