// GGUF (v3) files: a streaming writer and a validating mmap reader. Layout: /work/shared/references/gguf.md and
// ggml's docs/gguf.md. Little-endian only, as llama.cpp writes them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/gguf/quantize.h"

namespace distill::gguf {

inline constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as a little-endian u32
inline constexpr uint32_t kGgufVersion = 3;
inline constexpr uint32_t kDefaultAlignment = 32;
inline constexpr size_t kMaxTensorNameBytes = 63;  // GGML_MAX_NAME (64) less the NUL
inline constexpr int kMaxDims = 4;

enum class ValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};
const char* ValueTypeName(ValueType type);

// One element: unsigned integer types hold uint64_t, signed ones int64_t, F32/F64 double (an F32 is stored
// exactly), BOOL bool, STRING std::string.
using Scalar = std::variant<uint64_t, int64_t, double, bool, std::string>;

// A metadata value: a scalar (type != kArray, one item) or an array of `elem_type` (never of arrays: llama.cpp
// does not read nested arrays).
struct Value {
  ValueType type = ValueType::kU32;
  ValueType elem_type = ValueType::kU8;  // meaningful only for arrays
  std::vector<Scalar> items;

  static Value U8(uint8_t v) { return Make(ValueType::kU8, uint64_t{v}); }
  static Value I8(int8_t v) { return Make(ValueType::kI8, int64_t{v}); }
  static Value U16(uint16_t v) { return Make(ValueType::kU16, uint64_t{v}); }
  static Value I16(int16_t v) { return Make(ValueType::kI16, int64_t{v}); }
  static Value U32(uint32_t v) { return Make(ValueType::kU32, uint64_t{v}); }
  static Value I32(int32_t v) { return Make(ValueType::kI32, int64_t{v}); }
  static Value U64(uint64_t v) { return Make(ValueType::kU64, v); }
  static Value I64(int64_t v) { return Make(ValueType::kI64, v); }
  static Value F32(float v) { return Make(ValueType::kF32, double{v}); }
  static Value F64(double v) { return Make(ValueType::kF64, v); }
  static Value Bool(bool v) { return Make(ValueType::kBool, v); }
  static Value String(std::string v) { return Make(ValueType::kString, std::move(v)); }
  static Value Array(ValueType elem_type, std::vector<Scalar> items);
  static Value Strings(const std::vector<std::string>& v);
  static Value I32s(const std::vector<int32_t>& v);
  static Value F32s(const std::vector<float>& v);

  bool is_array() const { return type == ValueType::kArray; }
  // Typed reads of a scalar; nullopt when the type does not fit (AsUInt: unsigned types; AsInt: any integer
  // type whose value fits; AsDouble: F32/F64).
  std::optional<uint64_t> AsUInt() const;
  std::optional<int64_t> AsInt() const;
  std::optional<double> AsDouble() const;
  std::optional<bool> AsBool() const;
  const std::string* AsString() const;

  friend bool operator==(const Value&, const Value&) = default;

 private:
  static Value Make(ValueType type, Scalar scalar) {
    Value value;
    value.type = type;
    value.items.push_back(std::move(scalar));
    return value;
  }
};

struct TensorSpec {
  std::string name;
  std::vector<int64_t> ne;  // ne[0] is the row (fastest) dimension: the reverse of the numpy shape
  GgmlType type = GgmlType::kF32;
};

// Bytes of a tensor of this type and shape, or an error for a bad shape (dims, block multiple, overflow).
absl::StatusOr<uint64_t> TensorBytes(GgmlType type, std::span<const int64_t> ne);

// Fills exactly out.size() bytes: the whole tensor's data (RowBytes × rows).
using TensorFiller = std::function<absl::Status(std::span<std::byte> out)>;
// Fills rows [first_row, first_row + rows) of a tensor (rows × RowBytes bytes in `out`), where a row is ne[0]
// elements and the rows are all of ne[1..] flattened. Called from several threads at once for disjoint ranges.
using RowFiller = std::function<absl::Status(int64_t first_row, int64_t rows, std::span<std::byte> out)>;

// Collects metadata and tensors, then writes the file in one pass. Tensor data is produced by the fillers while
// writing, in chunks of a few megabytes converted on `threads` threads into per-thread buffers and written with
// pwrite at their place: no buffer of the model's or of one tensor's size, and no page faults on a mapping of
// the output (a shared mapping cost a write fault per page, most of an f16 export's time).
class GgufWriter {
 public:
  // Keys must be unique and non-empty; "general.alignment" must be a U32 power of two (it sets the alignment).
  absl::Status AddKv(std::string key, Value value);
  // A tensor filled in one call (one chunk, however large).
  absl::Status AddTensor(TensorSpec spec, TensorFiller fill);
  // A tensor filled a chunk of rows at a time; each chunk holds a multiple of `row_multiple` rows (rows that must
  // be converted together, e.g. one attention head's rows when they are permuted).
  absl::Status AddTensorRows(TensorSpec spec, int64_t row_multiple, RowFiller fill);
  // Convenience: a tensor whose bytes are already in memory (copied).
  absl::Status AddTensorBytes(TensorSpec spec, std::vector<std::byte> bytes);
  uint32_t alignment() const { return alignment_; }
  // Offset of each tensor relative to the data section, in AddTensor order (what the file will record).
  std::vector<uint64_t> TensorOffsets() const;
  // Writes "<path>.tmp.<pid>" (its whole size reserved first: a full disk is an error before any filler runs)
  // with `threads` filling threads (0 = all cores), fsyncs it and renames it over `path`; the temp file is removed
  // on failure, and the first failing filler's error (prefixed "tensor <name>: ") is returned.
  absl::Status Write(const std::string& path, int threads = 1) const;

 private:
  struct Tensor {
    TensorSpec spec;
    uint64_t nbytes = 0;
    int64_t rows = 0;
    uint64_t row_bytes = 0;
    int64_t row_multiple = 1;
    RowFiller fill;
  };
  std::string SerializeHeader() const;

  std::vector<std::pair<std::string, Value>> kvs_;
  std::vector<Tensor> tensors_;
  uint32_t alignment_ = kDefaultAlignment;
};

struct TensorInfo {
  std::string name;
  std::vector<int64_t> ne;
  GgmlType type = GgmlType::kF32;  // a known ggml id (TypeTraitsOf succeeds), not necessarily quantizable here
  uint64_t offset = 0;             // relative to the data section
  uint64_t nbytes = 0;
  uint64_t info_position = 0;      // file offset of the tensor's info record, for error messages
  std::span<const std::byte> data;
};

// A parsed GGUF file. Open() maps the file read-only; Parse() reads a caller-owned buffer (kept alive by the
// caller). Every count, length, type and offset is validated before use; errors name the file and byte offset.
class GgufFile {
 public:
  static absl::StatusOr<GgufFile> Open(const std::string& path);
  static absl::StatusOr<GgufFile> Parse(std::span<const std::byte> bytes, std::string name);

  GgufFile(GgufFile&& other) noexcept;
  GgufFile& operator=(GgufFile&& other) noexcept;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;
  ~GgufFile();

  const std::string& name() const { return name_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return bytes_.size(); }
  const std::vector<std::pair<std::string, Value>>& kvs() const { return kvs_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const Value* FindKv(std::string_view key) const;
  const TensorInfo* FindTensor(std::string_view name) const;

 private:
  GgufFile() = default;
  void Unmap();

  std::string name_;
  std::span<const std::byte> bytes_;
  void* mapping_ = nullptr;  // owned mmap, when opened from a file
  size_t mapping_size_ = 0;
  uint32_t version_ = 0;
  uint32_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> kvs_;
  std::vector<TensorInfo> tensors_;

  friend class GgufParser;
};

}  // namespace distill::gguf
