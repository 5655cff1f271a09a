// safetensors (https://github.com/huggingface/safetensors) read through mmap and written temp-then-rename, in
// plain C++: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets:[b, e]},
// "__metadata__": {str: str}}, then the data section. Every length, offset and byte count is validated before
// any tensor is handed out. Single files and sharded folders (model.safetensors.index.json) both load.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace distill::hf {

enum class DType { kF32, kF16, kBF16 };
std::string_view DTypeName(DType dtype);  // "F32", "F16", "BF16"
size_t DTypeBytes(DType dtype);

// A tensor inside a mapped file: `data` points into the mapping and lives as long as the owning reader.
struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // row-major, outermost first (numpy order)
  std::span<const std::byte> data;
  int64_t numel() const;
};

// Copies `view` to fp32 (F16 and BF16 widened exactly).
std::vector<float> ToFloat32(const TensorView& view);
// The same into `out`, which must hold exactly the view's element count: lets a caller reuse one buffer.
void ToFloat32(const TensorView& view, std::span<float> out);

// One memory-mapped .safetensors file. Errors name the file and, for header problems, the tensor and field.
class SafetensorsFile {
 public:
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<TensorView>& tensors() const { return tensors_; }  // in data-offset order
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorView* Find(std::string_view name) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* mapping_ = nullptr;
  size_t mapped_bytes_ = 0;
  std::vector<TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, size_t, std::less<>> index_;  // name -> position in tensors_, for Find
};

// All tensors of a model folder: model.safetensors, or the shards listed by model.safetensors.index.json
// (every listed shard must exist and hold exactly the tensors the index assigns to it).
class SafetensorsCheckpoint {
 public:
  static absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> Open(const std::string& folder_or_file);
  const std::vector<const TensorView*>& tensors() const { return tensors_; }  // sorted by name
  const TensorView* Find(std::string_view name) const;

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::vector<const TensorView*> tensors_;
};

// A tensor to write: bytes already in `dtype`, little-endian, row-major.
struct TensorToWrite {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::span<const std::byte> data;
};

// Writes one .safetensors file (tensors sorted by name, 8-byte aligned header as the reference writer does),
// temp-then-rename.
absl::Status WriteSafetensors(const std::string& path, std::span<const TensorToWrite> tensors,
                              const std::map<std::string, std::string>& metadata = {});

// Writes `tensors` into `folder` as model.safetensors, or, when they exceed `max_shard_bytes`, as
// model-0000i-of-0000n.safetensors plus model.safetensors.index.json (metadata.total_size, weight_map).
absl::Status WriteSafetensorsCheckpoint(const std::string& folder, std::span<const TensorToWrite> tensors,
                                        uint64_t max_shard_bytes = 5ull << 30);

}  // namespace distill::hf
