// GGUF writer and metadata values. The reader is in gguf_reader.cc.
#include "tools/gguf/gguf_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"

namespace distill::gguf {
namespace {

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }
uint64_t PadTo(uint64_t v, uint64_t alignment) { return (v + alignment - 1) / alignment * alignment; }

// Checks that a scalar's variant and range fit `type`.
absl::Status CheckScalar(ValueType type, const Scalar& s) {
  auto unsigned_max = [&](uint64_t max) -> absl::Status {
    const auto* v = std::get_if<uint64_t>(&s);
    if (v == nullptr) return absl::InvalidArgumentError(absl::StrCat(ValueTypeName(type), " needs an unsigned"));
    if (*v > max) return absl::InvalidArgumentError(absl::StrCat(*v, " does not fit ", ValueTypeName(type)));
    return absl::OkStatus();
  };
  auto signed_range = [&](int64_t min, int64_t max) -> absl::Status {
    const auto* v = std::get_if<int64_t>(&s);
    if (v == nullptr) return absl::InvalidArgumentError(absl::StrCat(ValueTypeName(type), " needs a signed"));
    if (*v < min || *v > max) {
      return absl::InvalidArgumentError(absl::StrCat(*v, " does not fit ", ValueTypeName(type)));
    }
    return absl::OkStatus();
  };
  switch (type) {
    case ValueType::kU8: return unsigned_max(0xFF);
    case ValueType::kU16: return unsigned_max(0xFFFF);
    case ValueType::kU32: return unsigned_max(0xFFFFFFFFu);
    case ValueType::kU64: return unsigned_max(std::numeric_limits<uint64_t>::max());
    case ValueType::kI8: return signed_range(-128, 127);
    case ValueType::kI16: return signed_range(-32768, 32767);
    case ValueType::kI32:
      return signed_range(std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
    case ValueType::kI64:
      return signed_range(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
    case ValueType::kF32:
    case ValueType::kF64:
      if (!std::holds_alternative<double>(s)) return absl::InvalidArgumentError("a float value needs a double");
      return absl::OkStatus();
    case ValueType::kBool:
      if (!std::holds_alternative<bool>(s)) return absl::InvalidArgumentError("BOOL needs a bool");
      return absl::OkStatus();
    case ValueType::kString:
      if (!std::holds_alternative<std::string>(s)) return absl::InvalidArgumentError("STRING needs a string");
      return absl::OkStatus();
    case ValueType::kArray: break;
  }
  return absl::InvalidArgumentError(absl::StrCat("value type ", static_cast<uint32_t>(type), " is not a scalar"));
}

absl::Status CheckValue(const Value& value) {
  if (value.type == ValueType::kArray) {
    if (value.elem_type == ValueType::kArray) return absl::InvalidArgumentError("nested arrays are not supported");
    for (size_t i = 0; i < value.items.size(); ++i) {
      if (auto status = CheckScalar(value.elem_type, value.items[i]); !status.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("array element ", i, ": ", status.message()));
      }
    }
    return absl::OkStatus();
  }
  if (value.items.size() != 1) return absl::InvalidArgumentError("a scalar value holds exactly one item");
  return CheckScalar(value.type, value.items[0]);
}

template <typename T>
void Put(std::string& out, T v) {
  char raw[sizeof(T)];
  std::memcpy(raw, &v, sizeof(T));
  out.append(raw, sizeof(T));
}
void PutString(std::string& out, std::string_view s) {
  Put<uint64_t>(out, s.size());
  out.append(s);
}

void PutScalar(std::string& out, ValueType type, const Scalar& s) {
  switch (type) {
    case ValueType::kU8: Put(out, static_cast<uint8_t>(std::get<uint64_t>(s))); break;
    case ValueType::kU16: Put(out, static_cast<uint16_t>(std::get<uint64_t>(s))); break;
    case ValueType::kU32: Put(out, static_cast<uint32_t>(std::get<uint64_t>(s))); break;
    case ValueType::kU64: Put(out, std::get<uint64_t>(s)); break;
    case ValueType::kI8: Put(out, static_cast<int8_t>(std::get<int64_t>(s))); break;
    case ValueType::kI16: Put(out, static_cast<int16_t>(std::get<int64_t>(s))); break;
    case ValueType::kI32: Put(out, static_cast<int32_t>(std::get<int64_t>(s))); break;
    case ValueType::kI64: Put(out, std::get<int64_t>(s)); break;
    case ValueType::kF32: Put(out, static_cast<float>(std::get<double>(s))); break;
    case ValueType::kF64: Put(out, std::get<double>(s)); break;
    case ValueType::kBool: Put<uint8_t>(out, std::get<bool>(s) ? 1 : 0); break;
    case ValueType::kString: PutString(out, std::get<std::string>(s)); break;
    case ValueType::kArray: break;  // refused by CheckValue
  }
}

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

const char* ValueTypeName(ValueType type) {
  static constexpr const char* kNames[] = {"U8",  "I8",     "U16",   "I16", "U32", "I32", "F32",
                                                "BOOL", "STRING", "ARRAY", "U64", "I64", "F64"};
  const auto index = static_cast<uint32_t>(type);
  return index < std::size(kNames) ? kNames[index] : "UNKNOWN";
}

Value Value::Array(ValueType elem_type, std::vector<Scalar> items) {
  Value value;
  value.type = ValueType::kArray;
  value.elem_type = elem_type;
  value.items = std::move(items);
  return value;
}
Value Value::Strings(const std::vector<std::string>& v) { return Array(ValueType::kString, {v.begin(), v.end()}); }
Value Value::I32s(const std::vector<int32_t>& v) {
  std::vector<Scalar> items;
  items.reserve(v.size());
  for (int32_t x : v) items.emplace_back(int64_t{x});
  return Array(ValueType::kI32, std::move(items));
}
Value Value::F32s(const std::vector<float>& v) {
  std::vector<Scalar> items;
  items.reserve(v.size());
  for (float x : v) items.emplace_back(double{x});
  return Array(ValueType::kF32, std::move(items));
}

std::optional<uint64_t> Value::AsUInt() const {
  if (is_array() || items.size() != 1) return std::nullopt;
  if (const auto* v = std::get_if<uint64_t>(&items[0])) return *v;
  return std::nullopt;
}
std::optional<int64_t> Value::AsInt() const {
  if (is_array() || items.size() != 1) return std::nullopt;
  if (const auto* v = std::get_if<int64_t>(&items[0])) return *v;
  if (const auto* v = std::get_if<uint64_t>(&items[0]);
      v != nullptr && *v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return static_cast<int64_t>(*v);
  }
  return std::nullopt;
}
std::optional<double> Value::AsDouble() const {
  if (is_array() || items.size() != 1) return std::nullopt;
  if (const auto* v = std::get_if<double>(&items[0])) return *v;
  return std::nullopt;
}
std::optional<bool> Value::AsBool() const {
  if (is_array() || items.size() != 1) return std::nullopt;
  if (const auto* v = std::get_if<bool>(&items[0])) return *v;
  return std::nullopt;
}
const std::string* Value::AsString() const {
  if (is_array() || items.size() != 1) return nullptr;
  return std::get_if<std::string>(&items[0]);
}

absl::StatusOr<uint64_t> TensorBytes(GgmlType type, std::span<const int64_t> ne) {
  if (ne.empty() || ne.size() > static_cast<size_t>(kMaxDims)) {
    return absl::InvalidArgumentError(absl::StrCat(ne.size(), " dimensions (1 to ", kMaxDims, " allowed)"));
  }
  auto row_bytes = RowBytes(type, ne[0]);
  if (!row_bytes.ok()) return row_bytes.status();
  uint64_t total = static_cast<uint64_t>(*row_bytes);
  uint64_t elements = static_cast<uint64_t>(ne[0]);
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  for (size_t i = 1; i < ne.size(); ++i) {
    if (ne[i] < 0) return absl::InvalidArgumentError(absl::StrCat("negative dimension ne[", i, "] = ", ne[i]));
    const auto d = static_cast<uint64_t>(ne[i]);
    if (d != 0 && (total > kMax / d || elements > kMax / d)) {
      return absl::InvalidArgumentError("tensor size overflows 63 bits");
    }
    total *= d;
    elements *= d;
  }
  return total;
}

absl::Status GgufWriter::AddKv(std::string key, Value value) {
  if (key.empty()) return absl::InvalidArgumentError("empty metadata key");
  for (const auto& kv : kvs_) {
    if (kv.first == key) return absl::InvalidArgumentError(absl::StrCat("duplicate metadata key ", key));
  }
  if (auto status = CheckValue(value); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("metadata ", key, ": ", status.message()));
  }
  if (key == "general.alignment") {
    const auto v = value.AsUInt();
    if (value.type != ValueType::kU32 || !v || !IsPowerOfTwo(*v)) {
      return absl::InvalidArgumentError("general.alignment must be a U32 power of two");
    }
    alignment_ = static_cast<uint32_t>(*v);
  }
  kvs_.emplace_back(std::move(key), std::move(value));
  return absl::OkStatus();
}

absl::Status GgufWriter::AddTensor(TensorSpec spec, TensorFiller fill) {
  if (!fill) return absl::InvalidArgumentError(absl::StrCat("tensor ", spec.name, ": no data filler"));
  int64_t rows = 1;
  for (size_t d = 1; d < spec.ne.size(); ++d) rows *= std::max<int64_t>(spec.ne[d], 1);
  return AddTensorRows(std::move(spec), rows,
                       [fill = std::move(fill)](int64_t, int64_t, std::span<std::byte> out) { return fill(out); });
}

absl::Status GgufWriter::AddTensorRows(TensorSpec spec, int64_t row_multiple, RowFiller fill) {
  if (spec.name.empty() || spec.name.size() > kMaxTensorNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat("tensor name \"", spec.name, "\" must be 1 to ",
                                                   kMaxTensorNameBytes, " bytes"));
  }
  for (const auto& t : tensors_) {
    if (t.spec.name == spec.name) return absl::InvalidArgumentError(absl::StrCat("duplicate tensor ", spec.name));
  }
  for (int64_t d : spec.ne) {
    if (d <= 0) return absl::InvalidArgumentError(absl::StrCat("tensor ", spec.name, ": dimension ", d));
  }
  auto nbytes = TensorBytes(spec.type, spec.ne);
  if (!nbytes.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", spec.name, ": ", nbytes.status().message()));
  }
  if (!fill) return absl::InvalidArgumentError(absl::StrCat("tensor ", spec.name, ": no data filler"));
  const int64_t row_ne[1] = {spec.ne.empty() ? 1 : spec.ne[0]};
  const uint64_t row_bytes = *TensorBytes(spec.type, row_ne);
  const int64_t rows = static_cast<int64_t>(*nbytes / row_bytes);
  if (row_multiple < 1 || rows % row_multiple != 0) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", spec.name, ": ", rows,
                                                   " rows are not a multiple of ", row_multiple));
  }
  tensors_.push_back({std::move(spec), *nbytes, rows, row_bytes, row_multiple, std::move(fill)});
  return absl::OkStatus();
}

absl::Status GgufWriter::AddTensorBytes(TensorSpec spec, std::vector<std::byte> bytes) {
  auto nbytes = TensorBytes(spec.type, spec.ne);
  if (nbytes.ok() && *nbytes != bytes.size()) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", spec.name, ": ", bytes.size(),
                                                   " bytes given, shape needs ", *nbytes));
  }
  auto shared = std::make_shared<std::vector<std::byte>>(std::move(bytes));
  return AddTensor(std::move(spec), [shared](std::span<std::byte> out) {
    std::memcpy(out.data(), shared->data(), out.size());
    return absl::OkStatus();
  });
}

std::vector<uint64_t> GgufWriter::TensorOffsets() const {
  std::vector<uint64_t> offsets;
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    offsets.push_back(offset);
    offset += PadTo(t.nbytes, alignment_);
  }
  return offsets;
}

std::string GgufWriter::SerializeHeader() const {
  std::string out;
  Put<uint32_t>(out, kGgufMagic);
  Put<uint32_t>(out, kGgufVersion);
  Put<uint64_t>(out, tensors_.size());
  Put<uint64_t>(out, kvs_.size());
  for (const auto& [key, value] : kvs_) {
    PutString(out, key);
    Put<uint32_t>(out, static_cast<uint32_t>(value.type));
    if (value.is_array()) {
      Put<uint32_t>(out, static_cast<uint32_t>(value.elem_type));
      Put<uint64_t>(out, value.items.size());
      for (const auto& item : value.items) PutScalar(out, value.elem_type, item);
    } else {
      PutScalar(out, value.type, value.items[0]);
    }
  }
  const auto offsets = TensorOffsets();
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const auto& spec = tensors_[i].spec;
    PutString(out, spec.name);
    Put<uint32_t>(out, static_cast<uint32_t>(spec.ne.size()));
    for (int64_t d : spec.ne) Put<int64_t>(out, d);
    Put<uint32_t>(out, static_cast<uint32_t>(spec.type));
    Put<uint64_t>(out, offsets[i]);
  }
  out.resize(PadTo(out.size(), alignment_), '\0');
  return out;
}

absl::Status GgufWriter::Write(const std::string& path, int threads) const {
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  const int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", tmp);
  auto fail = [&](absl::Status status) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return status;
  };
  // The space is reserved first, so a full disk is an error before any filler runs; the padding after each
  // tensor stays as reserved: zeros.
  const std::string header = SerializeHeader();
  uint64_t total = header.size();
  for (const auto& t : tensors_) total += PadTo(t.nbytes, alignment_);
  if (const int err = ::posix_fallocate(fd, 0, static_cast<off_t>(total)); err != 0) {
    errno = err;
    return fail(ErrnoError(absl::StrCat("cannot reserve ", total, " bytes for"), tmp));
  }
  auto write_at = [&](const std::byte* data, uint64_t size, uint64_t offset) -> absl::Status {
    while (size > 0) {
      const ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return ErrnoError(absl::StrCat("cannot write ", size, " bytes at offset ", offset, " of"), tmp);
      data += n;
      size -= static_cast<uint64_t>(n);
      offset += static_cast<uint64_t>(n);
    }
    return absl::OkStatus();
  };
  if (auto s = write_at(reinterpret_cast<const std::byte*>(header.data()), header.size(), 0); !s.ok()) return fail(s);

  // Chunks of about 4 MB (whole multiples of each tensor's row group), in file order.
  struct Chunk {
    const Tensor* tensor;
    int64_t first_row, rows;
    uint64_t offset;
  };
  constexpr uint64_t kChunkBytes = 4 << 20;
  std::vector<Chunk> chunks;
  uint64_t offset = header.size();
  for (const auto& t : tensors_) {
    const uint64_t group_bytes = t.row_bytes * static_cast<uint64_t>(t.row_multiple);
    const int64_t step = t.row_multiple * static_cast<int64_t>(std::max<uint64_t>(1, kChunkBytes / group_bytes));
    for (int64_t first = 0; first < t.rows; first += step) {
      const int64_t n = std::min(step, t.rows - first);
      chunks.push_back({&t, first, n, offset + static_cast<uint64_t>(first) * t.row_bytes});
    }
    offset += PadTo(t.nbytes, alignment_);
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex failure_mu;
  absl::Status failure;
  size_t failure_chunk = chunks.size();
  auto work = [&] {
    std::vector<std::byte> buffer;  // one per thread, reused: stays in cache and is faulted in once
    for (size_t i = next++; i < chunks.size() && !failed.load(); i = next++) {
      const Chunk& c = chunks[i];
      const uint64_t bytes = static_cast<uint64_t>(c.rows) * c.tensor->row_bytes;
      if (buffer.size() < bytes) buffer.resize(bytes);
      std::span<std::byte> out(buffer.data(), bytes);
      absl::Status s = c.tensor->fill(c.first_row, c.rows, out);
      if (s.ok()) s = write_at(out.data(), bytes, c.offset);
      else s = absl::Status(s.code(), absl::StrCat("tensor ", c.tensor->spec.name, ": ", s.message()));
      if (!s.ok()) {
        std::lock_guard lock(failure_mu);
        if (i < failure_chunk) {  // report the first failure in file order, whatever the thread timing
          failure_chunk = i;
          failure = std::move(s);
        }
        failed = true;
      }
    }
  };
  const int n_threads = std::clamp<int>(threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency()),
                                        1, static_cast<int>(std::max<size_t>(chunks.size(), 1)));
  std::vector<std::thread> pool;
  for (int k = 1; k < n_threads; ++k) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  if (failed) return fail(failure);
  if (::fsync(fd) != 0) return fail(ErrnoError("cannot fsync", tmp));
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return ErrnoError("cannot close", tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const absl::Status status = ErrnoError(absl::StrCat("cannot rename ", tmp, " to"), path);
    ::unlink(tmp.c_str());
    return status;
  }
  // Persist the rename itself; best effort, as some filesystems refuse fsync on directories.
  const std::string dir = std::filesystem::path(path).parent_path().string();
  if (const int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return absl::OkStatus();
}

}  // namespace distill::gguf
