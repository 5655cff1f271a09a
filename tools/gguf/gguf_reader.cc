// GGUF reader: maps the file and validates it the way ggml's gguf.cpp does (and a little more), before any
// length or offset is used. Every error names the file and the byte offset of the field at fault.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <string_view>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "tools/gguf/gguf_file.h"

namespace distill::gguf {

// Reads fields from a byte span with a cursor; each read checks the bytes exist first.
class GgufParser {
 public:
  GgufParser(std::span<const std::byte> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  absl::Status Run(GgufFile& file);

 private:
  absl::Status Error(uint64_t at, absl::string_view message) const {
    return absl::DataLossError(absl::StrCat(name_, ": byte ", at, ": ", message));
  }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  template <typename T>
  absl::Status Read(T& out, absl::string_view what) {
    if (remaining() < sizeof(T)) {
      return Error(pos_, absl::StrCat("file ends inside ", what, " (", sizeof(T), " bytes needed, ", remaining(),
                                      " left)"));
    }
    std::memcpy(&out, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return absl::OkStatus();
  }

  absl::Status ReadString(std::string& out, absl::string_view what) {
    const uint64_t at = pos_;
    uint64_t length = 0;
    if (auto status = Read(length, what); !status.ok()) return status;
    if (length > remaining()) {
      return Error(at, absl::StrCat(what, " length ", length, " runs past the end of the file (", remaining(),
                                    " bytes left)"));
    }
    out.assign(reinterpret_cast<const char*>(bytes_.data() + pos_), static_cast<size_t>(length));
    pos_ += length;
    return absl::OkStatus();
  }

  absl::Status ReadScalar(ValueType type, Scalar& out, absl::string_view what);
  absl::Status ReadValue(Value& value, absl::string_view key);
  absl::Status ReadTensorInfo(TensorInfo& info);

  std::span<const std::byte> bytes_;
  const std::string& name_;
  uint64_t pos_ = 0;
};

namespace {

// Smallest encoding of one element of `type`, used to bound counts by the bytes left before allocating.
uint64_t MinBytes(ValueType type) {
  switch (type) {
    case ValueType::kU8: case ValueType::kI8: case ValueType::kBool: return 1;
    case ValueType::kU16: case ValueType::kI16: return 2;
    case ValueType::kU32: case ValueType::kI32: case ValueType::kF32: return 4;
    case ValueType::kU64: case ValueType::kI64: case ValueType::kF64: case ValueType::kString: return 8;
    case ValueType::kArray: return 12;
  }
  return 1;
}

bool KnownValueType(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::kF64); }

// Smallest KV: key length (8) + 1-byte key + value type (4) + 1-byte value. Smallest tensor info: name length (8)
// + 1-byte name + n_dims (4) + one dimension (8) + type (4) + offset (8).
constexpr uint64_t kMinKvBytes = 14;
constexpr uint64_t kMinTensorInfoBytes = 33;

}  // namespace

absl::Status GgufParser::ReadScalar(ValueType type, Scalar& out, absl::string_view what) {
  auto read_unsigned = [&]<typename T>(T) -> absl::Status {
    T v{};
    if (auto status = Read(v, what); !status.ok()) return status;
    out = static_cast<uint64_t>(v);
    return absl::OkStatus();
  };
  auto read_signed = [&]<typename T>(T) -> absl::Status {
    T v{};
    if (auto status = Read(v, what); !status.ok()) return status;
    out = static_cast<int64_t>(v);
    return absl::OkStatus();
  };
  switch (type) {
    case ValueType::kU8: return read_unsigned(uint8_t{});
    case ValueType::kU16: return read_unsigned(uint16_t{});
    case ValueType::kU32: return read_unsigned(uint32_t{});
    case ValueType::kU64: return read_unsigned(uint64_t{});
    case ValueType::kI8: return read_signed(int8_t{});
    case ValueType::kI16: return read_signed(int16_t{});
    case ValueType::kI32: return read_signed(int32_t{});
    case ValueType::kI64: return read_signed(int64_t{});
    case ValueType::kF32: {
      float v = 0;
      if (auto status = Read(v, what); !status.ok()) return status;
      out = double{v};
      return absl::OkStatus();
    }
    case ValueType::kF64: {
      double v = 0;
      if (auto status = Read(v, what); !status.ok()) return status;
      out = v;
      return absl::OkStatus();
    }
    case ValueType::kBool: {
      uint8_t v = 0;
      if (auto status = Read(v, what); !status.ok()) return status;
      if (v > 1) return Error(pos_ - 1, absl::StrCat(what, ": BOOL byte ", int{v}, " is neither 0 nor 1"));
      out = v == 1;
      return absl::OkStatus();
    }
    case ValueType::kString: {
      std::string s;
      if (auto status = ReadString(s, what); !status.ok()) return status;
      out = std::move(s);
      return absl::OkStatus();
    }
    case ValueType::kArray: break;
  }
  return Error(pos_, absl::StrCat(what, ": not a scalar type"));
}

absl::Status GgufParser::ReadValue(Value& value, absl::string_view key) {
  const uint64_t type_at = pos_;
  uint32_t type = 0;
  if (auto status = Read(type, "value type"); !status.ok()) return status;
  if (!KnownValueType(type)) return Error(type_at, absl::StrCat("unknown value type ", type, " for key ", key));
  value.type = static_cast<ValueType>(type);
  value.items.clear();
  if (value.type != ValueType::kArray) {
    value.items.emplace_back();
    return ReadScalar(value.type, value.items[0], absl::StrCat("value of ", key));
  }
  const uint64_t elem_at = pos_;
  uint32_t elem = 0;
  if (auto status = Read(elem, "array element type"); !status.ok()) return status;
  if (!KnownValueType(elem)) return Error(elem_at, absl::StrCat("unknown array element type ", elem, " for ", key));
  if (elem == static_cast<uint32_t>(ValueType::kArray)) {
    return Error(elem_at, absl::StrCat("nested array in ", key, " is not supported"));
  }
  value.elem_type = static_cast<ValueType>(elem);
  const uint64_t count_at = pos_;
  uint64_t count = 0;
  if (auto status = Read(count, "array length"); !status.ok()) return status;
  if (count > remaining() / MinBytes(value.elem_type)) {
    return Error(count_at, absl::StrCat("array length ", count, " of ", key, " needs more than the ", remaining(),
                                        " bytes left"));
  }
  value.items.resize(static_cast<size_t>(count));
  const std::string what = absl::StrCat("element of ", key);
  for (auto& item : value.items) {
    if (auto status = ReadScalar(value.elem_type, item, what); !status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status GgufParser::ReadTensorInfo(TensorInfo& info) {
  info.info_position = pos_;
  if (auto status = ReadString(info.name, "tensor name"); !status.ok()) return status;
  if (info.name.empty() || info.name.size() > kMaxTensorNameBytes) {
    return Error(info.info_position, absl::StrCat("tensor name of ", info.name.size(), " bytes (1 to ",
                                                  kMaxTensorNameBytes, " allowed)"));
  }
  const uint64_t dims_at = pos_;
  uint32_t n_dims = 0;
  if (auto status = Read(n_dims, "tensor n_dims"); !status.ok()) return status;
  if (n_dims < 1 || n_dims > static_cast<uint32_t>(kMaxDims)) {
    return Error(dims_at, absl::StrCat("tensor ", info.name, " has ", n_dims, " dimensions (1 to ", kMaxDims,
                                       " allowed)"));
  }
  info.ne.assign(n_dims, 0);
  for (uint32_t i = 0; i < n_dims; ++i) {
    const uint64_t at = pos_;
    uint64_t d = 0;
    if (auto status = Read(d, "tensor dimension"); !status.ok()) return status;
    if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Error(at, absl::StrCat("tensor ", info.name, " has negative dimension ne[", i, "]"));
    }
    info.ne[i] = static_cast<int64_t>(d);
  }
  const uint64_t type_at = pos_;
  uint32_t type = 0;
  if (auto status = Read(type, "tensor type"); !status.ok()) return status;
  if (!TypeTraitsOf(type)) return Error(type_at, absl::StrCat("tensor ", info.name, " has unknown ggml type ", type));
  info.type = static_cast<GgmlType>(type);
  auto nbytes = TensorBytes(info.type, info.ne);
  if (!nbytes.ok()) return Error(dims_at, absl::StrCat("tensor ", info.name, ": ", nbytes.status().message()));
  info.nbytes = *nbytes;
  return Read(info.offset, "tensor offset");
}

absl::Status GgufParser::Run(GgufFile& file) {
  uint32_t magic = 0;
  if (auto status = Read(magic, "magic"); !status.ok()) return status;
  if (magic != kGgufMagic) return Error(0, absl::StrCat("bad magic 0x", absl::Hex(magic), " (not a GGUF file)"));
  if (auto status = Read(file.version_, "version"); !status.ok()) return status;
  if (file.version_ != 2 && file.version_ != 3) {
    if ((file.version_ & 0xFFFF) == 0) return Error(4, "big-endian GGUF files are not supported");
    return Error(4, absl::StrCat("unsupported GGUF version ", file.version_, " (2 or 3 supported)"));
  }
  uint64_t tensor_count = 0, kv_count = 0;
  if (auto status = Read(tensor_count, "tensor count"); !status.ok()) return status;
  if (auto status = Read(kv_count, "metadata count"); !status.ok()) return status;
  if (tensor_count > remaining() / kMinTensorInfoBytes) {
    return Error(8, absl::StrCat("tensor count ", tensor_count, " cannot fit in the ", remaining(), " bytes left"));
  }
  if (kv_count > remaining() / kMinKvBytes ||
      kv_count * kMinKvBytes + tensor_count * kMinTensorInfoBytes > remaining()) {
    return Error(16, absl::StrCat("metadata count ", kv_count, " cannot fit in the ", remaining(), " bytes left"));
  }

  std::unordered_map<std::string, size_t> keys;
  file.kvs_.reserve(static_cast<size_t>(kv_count));
  for (uint64_t i = 0; i < kv_count; ++i) {
    const uint64_t at = pos_;
    std::string key;
    if (auto status = ReadString(key, "metadata key"); !status.ok()) return status;
    if (key.empty()) return Error(at, "empty metadata key");
    if (keys.count(key)) return Error(at, absl::StrCat("duplicate metadata key ", key));
    Value value;
    if (auto status = ReadValue(value, key); !status.ok()) return status;
    if (key == "general.alignment") {
      const auto v = value.AsUInt();
      if (value.type != ValueType::kU32 || !v || *v == 0 || (*v & (*v - 1)) != 0) {
        return Error(at, "general.alignment must be a U32 power of two");
      }
      file.alignment_ = static_cast<uint32_t>(*v);
    }
    keys.emplace(key, file.kvs_.size());
    file.kvs_.emplace_back(std::move(key), std::move(value));
  }

  std::unordered_map<std::string, size_t> names;
  file.tensors_.resize(static_cast<size_t>(tensor_count));
  for (auto& info : file.tensors_) {
    if (auto status = ReadTensorInfo(info); !status.ok()) return status;
    if (names.count(info.name)) return Error(info.info_position, absl::StrCat("duplicate tensor ", info.name));
    names.emplace(info.name, names.size());
  }

  // Data section: header padded to the alignment, then each tensor at the running sum of padded sizes — ggml
  // refuses any other offset, so a file that disagrees is corrupt (or overlapping) rather than merely unusual.
  const uint64_t alignment = file.alignment_;
  const uint64_t header_end = pos_;
  file.data_offset_ = (header_end + alignment - 1) / alignment * alignment;
  if (!file.tensors_.empty() && file.data_offset_ > bytes_.size()) {
    return Error(header_end, absl::StrCat("file ends before the data section at byte ", file.data_offset_));
  }
  uint64_t expected = 0;
  for (auto& info : file.tensors_) {
    const uint64_t field_at = info.info_position + 8 + info.name.size() + 4 + 8 * info.ne.size() + 4;
    if (info.offset != expected) {
      return Error(field_at, absl::StrCat("tensor ", info.name, " has data offset ", info.offset, ", expected ",
                                          expected, " (offsets must be the running sum of sizes padded to ",
                                          alignment, ")"));
    }
    const uint64_t available = bytes_.size() - file.data_offset_;
    if (info.offset > available || info.nbytes > available - info.offset) {
      return Error(field_at, absl::StrCat("tensor ", info.name, " data [", file.data_offset_ + info.offset, ", +",
                                          info.nbytes, ") runs past the end of the file (", bytes_.size(),
                                          " bytes)"));
    }
    info.data = bytes_.subspan(static_cast<size_t>(file.data_offset_ + info.offset), static_cast<size_t>(info.nbytes));
    const uint64_t padded = (info.nbytes + alignment - 1) / alignment * alignment;
    if (padded < info.nbytes || expected > std::numeric_limits<uint64_t>::max() - padded) {
      return Error(field_at, "tensor offsets overflow");
    }
    expected += padded;
  }
  return absl::OkStatus();
}

absl::StatusOr<GgufFile> GgufFile::Parse(std::span<const std::byte> bytes, std::string name) {
  GgufFile file;
  file.name_ = std::move(name);
  file.bytes_ = bytes;
  GgufParser parser(bytes, file.name_);
  if (auto status = parser.Run(file); !status.ok()) return status;
  return file;
}

absl::StatusOr<GgufFile> GgufFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return absl::InternalError(absl::StrCat("cannot stat ", path, ": ", std::strerror(err)));
  }
  const auto size = static_cast<size_t>(st.st_size);
  void* mapping = nullptr;
  if (size > 0) {
    mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return absl::InternalError(absl::StrCat("cannot map ", path, ": ", std::strerror(err)));
    }
  }
  ::close(fd);  // the mapping stays valid without the descriptor
  std::span<const std::byte> bytes(static_cast<const std::byte*>(mapping), size);
  auto file = Parse(bytes, path);
  if (!file.ok()) {
    if (mapping != nullptr) ::munmap(mapping, size);
    return file.status();
  }
  file->mapping_ = mapping;
  file->mapping_size_ = size;
  return file;
}

GgufFile::GgufFile(GgufFile&& other) noexcept { *this = std::move(other); }

GgufFile& GgufFile::operator=(GgufFile&& other) noexcept {
  if (this == &other) return *this;
  Unmap();
  name_ = std::move(other.name_);
  bytes_ = other.bytes_;
  mapping_ = std::exchange(other.mapping_, nullptr);
  mapping_size_ = std::exchange(other.mapping_size_, 0);
  version_ = other.version_;
  alignment_ = other.alignment_;
  data_offset_ = other.data_offset_;
  kvs_ = std::move(other.kvs_);
  tensors_ = std::move(other.tensors_);
  other.bytes_ = {};
  return *this;
}

GgufFile::~GgufFile() { Unmap(); }

void GgufFile::Unmap() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
  mapping_ = nullptr;
  mapping_size_ = 0;
}

const Value* GgufFile::FindKv(std::string_view key) const {
  for (const auto& [k, v] : kvs_) {
    if (k == key) return &v;
  }
  return nullptr;
}

const TensorInfo* GgufFile::FindTensor(std::string_view name) const {
  for (const auto& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace distill::gguf
