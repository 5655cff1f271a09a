// safetensors writing: one file (WriteSafetensors) and a model folder, single or sharded
// (WriteSafetensorsCheckpoint).
//
// Crash safety of a checkpoint save. Readers (ours and transformers) pick the set to load by one rule: the
// index model.safetensors.index.json if present, else model.safetensors. Every file is written temp-then-rename,
// and the save is ordered so that at every instant that rule finds a complete set, the old one or the new one:
//  - single file: model.safetensors is renamed into place (an atomic swap if it was the old set); if an old
//    index exists it still wins, so the old sharded set stays what loads until the index is unlinked (the commit).
//  - sharded, no new shard name exists yet: the shards are written under their final names (no old file is
//    touched), then the index is renamed over the old one (the commit).
//  - sharded, some new name exists (e.g. the old save also had n shards): overwriting it would corrupt the old set,
//    so shards are first written under staged names (model-0000i-of-0000n.staged-k.safetensors) and an index
//    naming them is committed; each staged file is then hard-linked (or copied) under its final name, and a second
//    index naming the final files is committed.
// Only after the commit are the old set's leftovers (and the staged copies) unlinked. A crash leaves at worst
// unreferenced files, which the next save removes.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "trainer/hf/file_io.h"
#include "trainer/hf/safetensors.h"

namespace distill::hf {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kIndexName = "model.safetensors.index.json";
constexpr const char* kSingleName = "model.safetensors";

std::string_view AsChars(std::span<const std::byte> bytes) {
  return std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// Checks what the caller hands us (names, shapes, byte counts) and returns the tensors' positions sorted by name.
absl::StatusOr<std::vector<size_t>> CheckAndSort(const std::string& origin, std::span<const TensorToWrite> tensors) {
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    order[i] = i;
    const TensorToWrite& t = tensors[i];
    if (t.name.empty() || t.name == "__metadata__") {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": invalid tensor name '", t.name, "'"));
    }
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0 || __builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel)) {
        return absl::InvalidArgumentError(absl::StrCat(origin, ": tensor '", t.name, "': invalid shape"));
      }
    }
    uint64_t need;
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(DTypeBytes(t.dtype)), &need) || need != t.data.size()) {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": tensor '", t.name, "': ", t.data.size(),
                                                     " bytes of data for ", std::string(DTypeName(t.dtype)),
                                                     " with ", numel, " elements"));
    }
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return tensors[a].name < tensors[b].name; });
  for (size_t i = 1; i < order.size(); ++i) {
    if (tensors[order[i]].name == tensors[order[i - 1]].name) {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": tensor '", tensors[order[i]].name, "' given twice"));
    }
  }
  return order;
}

// "model.safetensors", "model-00001-of-00002.safetensors", our staged names, the index, and the temp files of
// any of them: the files a save owns and may delete. Anything else in the folder is left alone.
bool IsCheckpointFile(std::string name) {
  auto all_digits = [](std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (const size_t tmp = name.rfind(".tmp."); tmp != std::string::npos && all_digits(std::string_view(name).substr(tmp + 5))) {
    name.resize(tmp);
  }
  if (name == kSingleName || name == kIndexName) return true;
  std::string_view s(name);
  if (!s.starts_with("model-") || !s.ends_with(".safetensors")) return false;
  s = s.substr(6, s.size() - 6 - 12);
  if (const size_t staged = s.find(".staged-"); staged != std::string_view::npos) {
    if (!all_digits(s.substr(staged + 8))) return false;
    s = s.substr(0, staged);
  }
  const size_t of = s.find("-of-");
  return of != std::string_view::npos && all_digits(s.substr(0, of)) && all_digits(s.substr(of + 4));
}

absl::Status WriteIndex(const fs::path& folder, uint64_t total_size, const std::vector<std::string>& shard_names,
                        const std::vector<std::vector<size_t>>& shards, std::span<const TensorToWrite> tensors) {
  json weight_map = json::object();
  for (size_t s = 0; s < shards.size(); ++s) {
    for (size_t i : shards[s]) weight_map[tensors[i].name] = shard_names[s];
  }
  // transformers writes the index with indent 2 and sorted keys; nlohmann objects are sorted.
  const json index = {{"metadata", {{"total_size", total_size}}}, {"weight_map", weight_map}};
  std::string text;
  try {
    text = index.dump(2) + "\n";
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat((folder / kIndexName).string(), ": ", e.what()));
  }
  return internal::WriteFileAtomic((folder / kIndexName).string(),
                                   [&](const internal::WriteAllFn& write) { return write(text); });
}

// Puts the contents of `from` under `to` as a complete file while `from` stays in place: a hard link renamed
// over `to` (no copy), or, where the filesystem has no hard links, a temp-then-rename copy.
absl::Status PlaceCopy(const std::string& from, const std::string& to) {
  const std::string link_temp = absl::StrCat(to, ".tmp.", ::getpid());
  ::unlink(link_temp.c_str());
  if (::link(from.c_str(), link_temp.c_str()) == 0) {
    if (std::rename(link_temp.c_str(), to.c_str()) != 0) {
      const int err = errno;
      ::unlink(link_temp.c_str());
      return absl::InternalError(absl::StrCat("cannot rename ", link_temp, " to ", to, ": ", internal::ErrnoText(err)));
    }
    return absl::OkStatus();
  }
  return internal::WriteFileAtomic(to, [&](const internal::WriteAllFn& write) -> absl::Status {
    std::ifstream in(from, std::ios::binary);
    if (!in) return absl::InternalError(absl::StrCat(from, ": cannot open: ", internal::ErrnoText(errno)));
    std::string buffer(size_t{64} << 20, '\0');
    while (in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      if (in.bad()) return absl::InternalError(absl::StrCat(from, ": read error"));
      if (absl::Status s = write(std::string_view(buffer.data(), static_cast<size_t>(in.gcount()))); !s.ok()) return s;
    }
    return absl::OkStatus();
  });
}

absl::Status Unlink(const fs::path& path) {
  std::error_code ec;
  fs::remove(path, ec);
  if (ec) return absl::InternalError(absl::StrCat(path.string(), ": cannot remove: ", ec.message()));
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteSafetensors(const std::string& path, std::span<const TensorToWrite> tensors,
                              const std::map<std::string, std::string>& metadata) {
  absl::StatusOr<std::vector<size_t>> order = CheckAndSort(path, tensors);
  if (!order.ok()) return order.status();
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (size_t i : *order) {
    const TensorToWrite& t = tensors[i];
    header[t.name] = {{"dtype", std::string(DTypeName(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.data.size()}}};
    offset += t.data.size();
  }
  std::string text;
  try {
    text = header.dump();  // compact, as the reference writer
  } catch (const json::exception& e) {
    // dump() refuses strings that are not UTF-8; the safetensors header must be valid UTF-8 JSON.
    return absl::InvalidArgumentError(absl::StrCat(path, ": tensor name or metadata is not valid UTF-8: ", e.what()));
  }
  // The reference pads the header with spaces to a multiple of 8 so the data section starts 8-byte aligned.
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t n = text.size();
  char length[8];
  std::memcpy(length, &n, 8);  // little-endian (asserted in safetensors.cc)
  return internal::WriteFileAtomic(path, [&](const internal::WriteAllFn& write) -> absl::Status {
    if (absl::Status s = write(std::string_view(length, 8)); !s.ok()) return s;
    if (absl::Status s = write(text); !s.ok()) return s;
    for (size_t i : *order) {
      if (absl::Status s = write(AsChars(tensors[i].data)); !s.ok()) return s;
    }
    return absl::OkStatus();
  });
}

absl::Status WriteSafetensorsCheckpoint(const std::string& folder_name, std::span<const TensorToWrite> tensors,
                                        uint64_t max_shard_bytes) {
  const fs::path folder(folder_name);
  absl::StatusOr<std::vector<size_t>> order = CheckAndSort(folder_name, tensors);
  if (!order.ok()) return order.status();
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) return absl::InternalError(absl::StrCat(folder_name, ": cannot create folder: ", ec.message()));

  // The files of an earlier save, listed before anything is written so that only they are cleaned up.
  std::vector<std::string> old_files;
  for (const fs::directory_entry& e : fs::directory_iterator(folder, ec)) {
    const std::string name = e.path().filename().string();
    if (IsCheckpointFile(name)) old_files.push_back(name);
  }
  if (ec) return absl::InternalError(absl::StrCat(folder_name, ": cannot list folder: ", ec.message()));

  // Greedy shards in name order; a tensor larger than the limit gets a shard of its own.
  uint64_t total = 0;
  std::vector<std::vector<size_t>> shards;
  uint64_t current = 0;
  for (size_t i : *order) {
    const uint64_t bytes = tensors[i].data.size();
    total += bytes;
    if (shards.empty() || (!shards.back().empty() && current + bytes > max_shard_bytes)) {
      shards.emplace_back();
      current = 0;
    }
    shards.back().push_back(i);
    current += bytes;
  }
  // transformers marks its files {"format": "pt"} and refuses other format values on load.
  const std::map<std::string, std::string> metadata = {{"format", "pt"}};
  auto write_shard = [&](const std::string& name, const std::vector<size_t>& members) {
    std::vector<TensorToWrite> subset;
    subset.reserve(members.size());
    for (size_t i : members) subset.push_back(tensors[i]);
    return WriteSafetensors((folder / name).string(), subset, metadata);
  };

  std::set<std::string> keep;
  if (total <= max_shard_bytes || shards.size() <= 1) {
    if (absl::Status s = write_shard(kSingleName, *order); !s.ok()) return s;
    keep.insert(kSingleName);
    // An old index would still win over the new file; unlinking it is the commit.
    if (fs::exists(folder / kIndexName, ec)) {
      if (absl::Status s = Unlink(folder / kIndexName); !s.ok()) return s;
      if (absl::Status s = internal::FsyncDir(folder.string()); !s.ok()) return s;
    }
  } else {
    const size_t n = shards.size();
    std::vector<std::string> names(n);
    bool collision = false;
    for (size_t s = 0; s < n; ++s) {
      names[s] = absl::StrFormat("model-%05d-of-%05d.safetensors", s + 1, n);
      collision = collision || fs::exists(folder / names[s], ec);
    }
    std::vector<std::string> staged;
    if (collision) {
      // Staged names that exist nowhere in the folder, so no file of the committed set is touched.
      for (int k = 0;; ++k) {
        staged.clear();
        bool free = true;
        for (size_t s = 0; s < n; ++s) {
          staged.push_back(absl::StrFormat("model-%05d-of-%05d.staged-%d.safetensors", s + 1, n, k));
          free = free && !fs::exists(folder / staged.back(), ec);
        }
        if (free) break;
      }
      for (size_t s = 0; s < n; ++s) {
        if (absl::Status st = write_shard(staged[s], shards[s]); !st.ok()) return st;
      }
      if (absl::Status st = WriteIndex(folder, total, staged, shards, tensors); !st.ok()) return st;  // commit 1
      for (size_t s = 0; s < n; ++s) {
        if (absl::Status st = PlaceCopy((folder / staged[s]).string(), (folder / names[s]).string()); !st.ok()) {
          return st;
        }
      }
      if (absl::Status st = internal::FsyncDir(folder.string()); !st.ok()) return st;
    } else {
      for (size_t s = 0; s < n; ++s) {
        if (absl::Status st = write_shard(names[s], shards[s]); !st.ok()) return st;
      }
    }
    if (absl::Status st = WriteIndex(folder, total, names, shards, tensors); !st.ok()) return st;  // the commit
    keep.insert(names.begin(), names.end());
    keep.insert(kIndexName);
    for (const std::string& name : staged) {
      if (absl::Status st = Unlink(folder / name); !st.ok()) return st;
    }
  }

  for (const std::string& name : old_files) {
    if (keep.count(name) != 0) continue;
    if (absl::Status s = Unlink(folder / name); !s.ok()) return s;
  }
  return internal::FsyncDir(folder.string());
}

}  // namespace distill::hf
