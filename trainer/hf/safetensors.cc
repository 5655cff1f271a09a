// safetensors reading: SafetensorsFile (one mapped file, header validated in full before any tensor is handed
// out) and SafetensorsCheckpoint (a model folder, single file or sharded with an index). Writing is in
// safetensors_write.cc.
#include "trainer/hf/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "trainer/hf/file_io.h"

namespace distill::hf {

// Tensor bytes are little-endian in the file and handed out as they lie in the mapping.
static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// The reference implementation's limit: a header this large is not a checkpoint but an attack on memory.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

// Every dtype the safetensors spec defines, so a real-but-unsupported one gets a precise message.
constexpr const char* kKnownDTypes[] = {"BOOL", "U8",  "I8",  "F8_E5M2", "F8_E4M3", "F8_E8M0", "I16", "U16",
                                        "I32",  "U32", "I64", "U64",     "F64",     "C64",     "F4",  "F6_E2M3",
                                        "F6_E3M2"};

std::string ShapeText(const std::vector<int64_t>& shape) { return absl::StrCat("[", absl::StrJoin(shape, ","), "]"); }

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h >> 15) << 31;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t mant = h & 0x3ff;
  if (exp == 0) {
    // Zero or subnormal: mant × 2^-24, exact in float (at most 10 significant bits).
    const float magnitude = std::ldexp(static_cast<float>(mant), -24);
    return sign != 0 ? -magnitude : magnitude;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));  // inf, or NaN keeping payload
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));          // rebias 15 -> 127
}

// A valid header nests three levels ({ name: { shape: [ ] } }). nlohmann builds the whole tree, so 100 MB of
// '[' would become ~100M nested arrays (gigabytes); refuse deep nesting before parsing. Returns the header byte
// where the limit is crossed, or -1.
int64_t FindExcessNesting(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // skip the escaped character (an escaped quote does not end the string)
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return static_cast<int64_t>(i);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return -1;
}

struct Range {
  uint64_t begin, end;
  size_t index;
};

}  // namespace

std::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
  }
  return "?";
}

size_t DTypeBytes(DType dtype) { return dtype == DType::kF32 ? 4 : 2; }

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

void ToFloat32(const TensorView& view, std::span<float> out) {
  const size_t n = out.size();
  if (view.dtype == DType::kF32) {
    if (n != 0) std::memcpy(out.data(), view.data.data(), n * 4);
    return;
  }
  const std::byte* p = view.data.data();
  for (size_t i = 0; i < n; ++i) {
    uint16_t u;
    std::memcpy(&u, p + 2 * i, 2);
    // bf16 is the top half of an f32, so widening is a shift.
    out[i] = view.dtype == DType::kBF16 ? std::bit_cast<float>(static_cast<uint32_t>(u) << 16) : HalfToFloat(u);
  }
}

std::vector<float> ToFloat32(const TensorView& view) {
  std::vector<float> out(view.data.size() / DTypeBytes(view.dtype));
  ToFloat32(view, out);
  return out;
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapped_bytes_);
}

const TensorView* SafetensorsFile::Find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  auto error = [&](std::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", std::string(what)));
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    const std::string msg = absl::StrCat(path, ": cannot open: ", internal::ErrnoText(err));
    return err == ENOENT ? absl::NotFoundError(msg) : absl::InternalError(msg);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return error("not a regular file");
  }
  const uint64_t file_bytes = static_cast<uint64_t>(st.st_size);
  if (file_bytes < 8) {
    ::close(fd);
    return error(absl::StrCat("file is ", file_bytes, " bytes, too short for the 8-byte header length"));
  }
  void* mapping = ::mmap(nullptr, file_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_err = errno;
  ::close(fd);  // the mapping keeps the file alive
  if (mapping == MAP_FAILED) return absl::InternalError(absl::StrCat(path, ": mmap failed: ", internal::ErrnoText(map_err)));

  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  file->mapping_ = mapping;
  file->mapped_bytes_ = file_bytes;
  const auto* bytes = static_cast<const std::byte*>(mapping);

  uint64_t header_bytes;
  std::memcpy(&header_bytes, bytes, 8);
  if (header_bytes > kMaxHeaderBytes) {
    return error(absl::StrCat("header length ", header_bytes, " at byte 0 exceeds the ", kMaxHeaderBytes,
                              "-byte limit"));
  }
  if (header_bytes > file_bytes - 8) {
    return error(absl::StrCat("header length ", header_bytes, " at byte 0 runs past the end of the file (",
                              file_bytes, " bytes)"));
  }
  const char* header_begin = reinterpret_cast<const char*>(bytes + 8);
  const uint64_t data_bytes = file_bytes - 8 - header_bytes;
  const std::byte* data = bytes + 8 + header_bytes;

  // nlohmann keeps the last of duplicate keys silently; a duplicate tensor name is refused instead, since the
  // first entry's bytes would otherwise go unaccounted.
  std::set<std::string> seen;
  std::string duplicate;
  const json::parser_callback_t on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && parsed.is_string()) {
      if (!seen.insert(parsed.get<std::string>()).second && duplicate.empty()) duplicate = parsed.get<std::string>();
    }
    return true;
  };
  constexpr int kMaxNesting = 16;
  if (const int64_t at = FindExcessNesting(std::string_view(header_begin, header_bytes), kMaxNesting); at >= 0) {
    return error(absl::StrCat("header: JSON nested deeper than ", kMaxNesting, " levels at file byte ", 8 + at));
  }
  json header;
  try {
    header = json::parse(header_begin, header_begin + header_bytes, on_event);
  } catch (const json::exception& e) {
    // e.what() carries the byte position inside the header; the header starts at file byte 8.
    return error(absl::StrCat("header (file bytes 8..", 8 + header_bytes, "): invalid JSON: ", e.what()));
  }
  if (!header.is_object()) return error("header: not a JSON object");
  if (!duplicate.empty()) return error(absl::StrCat("header: tensor '", duplicate, "' is listed twice"));

  std::vector<Range> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& entry = it.value();
    if (name == "__metadata__") {
      if (entry.is_null()) continue;
      if (!entry.is_object()) return error("header: __metadata__ must be an object of strings");
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string()) {
          return error(absl::StrCat("header: __metadata__ '", m.key(), "' must be a string, got ", m.value().dump()));
        }
        file->metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = absl::StrCat("header: tensor '", name, "': ");
    if (!entry.is_object()) return error(absl::StrCat(where, "entry must be an object"));
    TensorView view;
    view.name = name;

    auto dtype_it = entry.find("dtype");
    if (dtype_it == entry.end() || !dtype_it->is_string()) return error(absl::StrCat(where, "dtype missing or not a string"));
    const std::string dtype = dtype_it->get<std::string>();
    if (dtype == "F32") {
      view.dtype = DType::kF32;
    } else if (dtype == "F16") {
      view.dtype = DType::kF16;
    } else if (dtype == "BF16") {
      view.dtype = DType::kBF16;
    } else {
      const bool known = std::find(std::begin(kKnownDTypes), std::end(kKnownDTypes), dtype) != std::end(kKnownDTypes);
      return error(absl::StrCat(where, known ? "unsupported dtype " : "unknown dtype ", "'", dtype,
                                "' (supported: F32, F16, BF16)"));
    }

    auto shape_it = entry.find("shape");
    if (shape_it == entry.end() || !shape_it->is_array()) return error(absl::StrCat(where, "shape missing or not a list"));
    uint64_t numel = 1;
    for (const json& d : *shape_it) {
      // Non-negative integers parse as unsigned; anything else (negative, float, string) is refused.
      if (!d.is_number_unsigned()) return error(absl::StrCat(where, "shape entry ", d.dump(), " is not a non-negative integer"));
      const uint64_t dim = d.get<uint64_t>();
      if (dim > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(numel, dim, &numel) ||
          numel > static_cast<uint64_t>(INT64_MAX)) {
        return error(absl::StrCat(where, "shape ", shape_it->dump(), " has more elements than 2^63"));
      }
      view.shape.push_back(static_cast<int64_t>(dim));
    }
    uint64_t need;
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(DTypeBytes(view.dtype)), &need)) {
      return error(absl::StrCat(where, dtype, " ", ShapeText(view.shape), " needs more than 2^64 bytes"));
    }

    auto off_it = entry.find("data_offsets");
    if (off_it == entry.end() || !off_it->is_array() || off_it->size() != 2 || !(*off_it)[0].is_number_unsigned() ||
        !(*off_it)[1].is_number_unsigned()) {
      return error(absl::StrCat(where, "data_offsets must be two non-negative integers [begin, end]"));
    }
    const uint64_t b = (*off_it)[0].get<uint64_t>(), e = (*off_it)[1].get<uint64_t>();
    if (b > e) return error(absl::StrCat(where, "data_offsets [", b, ", ", e, "] end before they begin"));
    if (e > data_bytes) {
      return error(absl::StrCat(where, "data_offsets [", b, ", ", e, "] run past the data section (", data_bytes,
                                " bytes from file byte ", 8 + header_bytes, ")"));
    }
    if (e - b != need) {
      return error(absl::StrCat(where, "data_offsets [", b, ", ", e, "] hold ", e - b, " bytes but ", dtype, " ",
                                ShapeText(view.shape), " needs ", need));
    }
    view.data = std::span<const std::byte>(data + b, e - b);
    ranges.push_back({b, e, file->tensors_.size()});
    file->tensors_.push_back(std::move(view));
  }

  // Overlap check: sorted by begin, every non-empty range must start at or after the furthest end so far.
  std::sort(ranges.begin(), ranges.end(), [](const Range& x, const Range& y) {
    return x.begin != y.begin ? x.begin < y.begin : x.end < y.end;
  });
  uint64_t max_end = 0;
  size_t max_owner = 0;
  for (const Range& r : ranges) {
    if (r.begin == r.end) continue;  // an empty tensor shares no bytes with anything
    if (r.begin < max_end) {
      const TensorView& a = file->tensors_[max_owner];
      const TensorView& c = file->tensors_[r.index];
      return error(absl::StrCat("header: tensors '", a.name, "' and '", c.name, "' overlap: data_offsets [",
                                r.begin, ", ", r.end, "] start before ", max_end));
    }
    max_end = r.end;
    max_owner = r.index;
  }

  // Hand tensors out in data-offset order (the order the bytes lie in, good for sequential reads).
  std::vector<TensorView> ordered;
  ordered.reserve(ranges.size());
  for (const Range& r : ranges) ordered.push_back(std::move(file->tensors_[r.index]));
  file->tensors_ = std::move(ordered);
  for (size_t i = 0; i < file->tensors_.size(); ++i) file->index_.emplace(file->tensors_[i].name, i);
  return file;
}

// ---------------------------------------------------------------------------------------------------------------
// Checkpoints

namespace {

// A shard name from an index must be a plain file in the same folder: an index cannot point outside it.
bool IsPlainFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

absl::StatusOr<json> ReadIndex(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", internal::ErrnoText(errno)));
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::InternalError(absl::StrCat(path, ": read error"));
  const std::string text = buffer.str();
  if (text.size() > kMaxHeaderBytes) return absl::InvalidArgumentError(absl::StrCat(path, ": index is implausibly large"));
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": invalid JSON: ", e.what()));
  }
}

}  // namespace

const TensorView* SafetensorsCheckpoint::Find(std::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorView* t, std::string_view n) { return std::string_view(t->name) < n; });
  return it != tensors_.end() && (*it)->name == name ? *it : nullptr;
}

absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> SafetensorsCheckpoint::Open(const std::string& folder_or_file) {
  std::error_code ec;
  std::string index_path, single_path;
  if (fs::is_directory(folder_or_file, ec)) {
    const fs::path folder(folder_or_file);
    if (fs::exists(folder / "model.safetensors.index.json", ec)) {
      index_path = (folder / "model.safetensors.index.json").string();
    } else if (fs::exists(folder / "model.safetensors", ec)) {
      single_path = (folder / "model.safetensors").string();
    } else {
      return absl::NotFoundError(
          absl::StrCat(folder_or_file, ": no model.safetensors or model.safetensors.index.json in this folder"));
    }
  } else if (fs::exists(folder_or_file, ec)) {
    (folder_or_file.ends_with(".index.json") ? index_path : single_path) = folder_or_file;
  } else {
    return absl::NotFoundError(absl::StrCat(folder_or_file, ": no such file or folder"));
  }

  auto checkpoint = std::unique_ptr<SafetensorsCheckpoint>(new SafetensorsCheckpoint());
  if (!single_path.empty()) {
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(single_path);
    if (!file.ok()) return file.status();
    checkpoint->files_.push_back(*std::move(file));
  } else {
    absl::StatusOr<json> index = ReadIndex(index_path);
    if (!index.ok()) return index.status();
    auto bad = [&](std::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat(index_path, ": ", std::string(what)));
    };
    if (!index->is_object()) return bad("not a JSON object");
    auto wm = index->find("weight_map");
    if (wm == index->end() || !wm->is_object()) return bad("weight_map missing or not an object");
    if (wm->empty()) return bad("weight_map is empty");
    std::map<std::string, std::set<std::string>> assigned;  // shard file -> tensor names
    for (auto it = wm->begin(); it != wm->end(); ++it) {
      if (!it.value().is_string() || !IsPlainFileName(it.value().get<std::string>())) {
        return bad(absl::StrCat("weight_map '", it.key(), "' must name a file in the same folder, got ",
                                it.value().dump()));
      }
      assigned[it.value().get<std::string>()].insert(it.key());
    }
    const std::string folder = internal::ParentDir(index_path);
    for (const auto& [shard, names] : assigned) {
      const std::string shard_path = (fs::path(folder) / shard).string();
      absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(shard_path);
      if (!file.ok()) return file.status();
      // The shard must hold exactly what the index says: a mismatch means a half-updated or mixed folder.
      for (const TensorView& t : (*file)->tensors()) {
        if (names.count(t.name) == 0) {
          auto elsewhere = wm->find(t.name);
          return absl::InvalidArgumentError(absl::StrCat(
              shard_path, ": holds tensor '", t.name, "' that ", index_path,
              elsewhere == wm->end() ? std::string(" does not list")
                                     : absl::StrCat(" assigns to ", elsewhere->get<std::string>())));
        }
      }
      for (const std::string& name : names) {
        if ((*file)->Find(name) == nullptr) {
          return absl::InvalidArgumentError(absl::StrCat(shard_path, ": lacks tensor '", name, "' that ", index_path,
                                                         " assigns to it"));
        }
      }
      checkpoint->files_.push_back(*std::move(file));
    }
  }

  for (const auto& file : checkpoint->files_) {
    for (const TensorView& t : file->tensors()) checkpoint->tensors_.push_back(&t);
  }
  std::sort(checkpoint->tensors_.begin(), checkpoint->tensors_.end(),
            [](const TensorView* a, const TensorView* b) { return a->name < b->name; });
  for (size_t i = 1; i < checkpoint->tensors_.size(); ++i) {
    if (checkpoint->tensors_[i]->name == checkpoint->tensors_[i - 1]->name) {
      std::string first, second;
      for (const auto& file : checkpoint->files_) {
        const TensorView* t = file->Find(checkpoint->tensors_[i]->name);
        if (t == checkpoint->tensors_[i - 1]) first = file->path();
        if (t == checkpoint->tensors_[i]) second = file->path();
      }
      return absl::InvalidArgumentError(
          absl::StrCat(folder_or_file, ": tensor '", checkpoint->tensors_[i]->name, "' is in both ", first, " and ",
                       second));
    }
  }
  return checkpoint;
}

}  // namespace distill::hf
