// Write-then-rename output files: bytes go to "<path>.tmp.<pid>" in the same folder and only Commit() (fsync,
// rename, fsync of the folder) puts them under the final name, so a crash never leaves a half file there.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace distill::data {

class AtomicFile {
 public:
  // Creates the temp file; the folder must exist.
  static absl::StatusOr<std::unique_ptr<AtomicFile>> Open(const std::string& path);
  ~AtomicFile();  // removes the temp file when not committed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  absl::Status Write(std::string_view bytes);
  // Flushes, fsyncs, renames onto the final path and fsyncs the folder. Write errors seen earlier surface here.
  absl::Status Commit();
  const std::string& path() const { return path_; }

 private:
  AtomicFile(std::string path, std::string temp, FILE* file)
      : path_(std::move(path)), temp_(std::move(temp)), file_(file) {}
  std::string path_;
  std::string temp_;
  FILE* file_ = nullptr;
  bool failed_ = false;
};

// Writes `contents` to `path` through an AtomicFile.
absl::Status WriteFileAtomically(const std::string& path, std::string_view contents);

// True when `a` and `b` name the same file once ".", ".." and symbolic links are resolved (neither need exist):
// the check that keeps an output path from replacing, or appending to, an input spelled another way.
bool SamePath(const std::string& a, const std::string& b);

}  // namespace distill::data
