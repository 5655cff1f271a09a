#include "data/line_reader.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tokenizers/file_util.h"

namespace distill::data {

absl::StatusOr<LineReader> LineReader::Open(const std::string& path) {
  auto fd = tok::OpenForReading(path);
  if (!fd.ok()) return fd.status();
  return LineReader(*fd, path);
}

LineReader::LineReader(LineReader&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      buffer_(std::move(other.buffer_)),
      begin_(other.begin_),
      end_(other.end_),
      eof_(other.eof_),
      line_number_(other.line_number_),
      status_(std::move(other.status_)) {}

LineReader::~LineReader() {
  if (fd_ >= 0) ::close(fd_);
}

bool LineReader::Next(std::string* line) {
  line->clear();
  for (;;) {
    const char* start = buffer_.data() + begin_;
    if (const void* nl = std::memchr(start, '\n', end_ - begin_)) {
      const size_t n = static_cast<const char*>(nl) - start;
      line->append(start, n);
      begin_ += n + 1;
      ++line_number_;
      return true;
    }
    // No newline in what is buffered: keep the partial line and refill the whole buffer.
    line->append(start, end_ - begin_);
    begin_ = end_ = 0;
    if (eof_ || !status_.ok()) break;
    ssize_t n;
    do {
      n = ::read(fd_, buffer_.data(), buffer_.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      status_ = absl::DataLossError(
          absl::StrCat(path_, ": read error after line ", line_number_, ": ", std::strerror(errno)));
      return false;
    }
    if (n == 0) eof_ = true;
    end_ = static_cast<size_t>(n);
  }
  if (line->empty()) return false;
  ++line_number_;
  return true;
}

}  // namespace distill::data
