// Small file helpers shared by the tokenizers library: whole-file reads and JSON parsing with errors that name
// the file and the byte offset.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace distill::tok {

// Opens a file read-only (O_CLOEXEC) and returns its descriptor, which the caller closes. NotFound /
// PermissionDenied / Internal name the path.
absl::StatusOr<int> OpenForReading(const std::string& path);

// Reads a whole file. NotFound / PermissionDenied / Internal name the path.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// A whole file mapped read-only (private, pages populated up front): large inputs such as a 10 MB tokenizer.json
// are parsed in place instead of being copied into a freshly zeroed string. Move-only; unmaps on destruction.
class MappedFile {
 public:
  // NotFound / PermissionDenied / Internal name the path, as ReadFileToString.
  static absl::StatusOr<MappedFile> Open(const std::string& path);
  MappedFile(MappedFile&& other) noexcept : data_(std::exchange(other.data_, nullptr)), size_(other.size_) {}
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();
  std::string_view text() const { return {static_cast<const char*>(data_), size_}; }

 private:
  MappedFile(void* data, size_t size) : data_(data), size_(size) {}
  void* data_ = nullptr;  // nullptr for an empty file
  size_t size_ = 0;
};

// Parses a JSON file; a syntax error is InvalidArgument "<path>: byte <offset>: <what was expected>".
absl::StatusOr<nlohmann::json> ParseJsonFile(const std::string& path);

}  // namespace distill::tok
