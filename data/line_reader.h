// Reads a text file line by line in large blocks. std::getline copies a long JSONL line through the stream
// buffer a few bytes at a time; on 10 KB trace lines that was ~6% of a `distill build`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace distill::data {

class LineReader {
 public:
  // NotFound / PermissionDenied / Internal errors name the path.
  static absl::StatusOr<LineReader> Open(const std::string& path);
  LineReader(LineReader&& other) noexcept;
  LineReader& operator=(LineReader&&) = delete;
  LineReader(const LineReader&) = delete;
  ~LineReader();

  // The next line without its '\n' (a final line without one counts too); false at the end of the file or on a
  // read error (then status() says which).
  bool Next(std::string* line);
  // 1-based number of the line Next returned last.
  int64_t line_number() const { return line_number_; }
  // DataLoss naming the path and the line after which reading failed; OK otherwise.
  const absl::Status& status() const { return status_; }

 private:
  LineReader(int fd, std::string path) : fd_(fd), path_(std::move(path)), buffer_(1 << 20) {}

  int fd_;
  std::string path_;
  std::vector<char> buffer_;
  size_t begin_ = 0, end_ = 0;  // unread bytes: buffer_[begin_, end_)
  bool eof_ = false;
  int64_t line_number_ = 0;
  absl::Status status_;
};

}  // namespace distill::data
