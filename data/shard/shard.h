// SFT shard format (docs/formats.md "Shards"): a folder with manifest.json and, per split, binary shard files
// "<split>-NNNNN.bin" of packed rows (int32 token ids, uint8 loss mask, document start offsets), each file at
// most a bounded size, rows never split across files. Writers go through a temp file, fsync and rename; the
// manifest is written last, so a folder without one is an unfinished build. The reader memory-maps the files,
// checks every length and offset and the manifest's XXH64 checksums before handing out rows.
//
// Standard library + Abseil + nlohmann/json + libxxhash only: the trainer links this.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace distill::shard {

inline constexpr char kShardMagic[8] = {'D', 'S', 'T', 'L', 'S', 'H', 'R', 'D'};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr uint32_t kHeaderBytes = 64;
inline constexpr uint32_t kIndexEntryBytes = 16;
inline constexpr uint64_t kChecksumBlockBytes = 1 << 20;      // manifest block_xxh64 granularity
inline constexpr uint64_t kDefaultMaxShardBytes = 256ull << 20;  // per file
inline constexpr int32_t kIgnoreIndex = -100;                  // targets at document ends and padding

// XXH64 (seed 0) of `bytes`, and the 16-digit lower-case hex form used in manifests.
uint64_t Xxh64(std::string_view bytes, uint64_t seed = 0);
std::string Hex64(uint64_t value);

// Bytes one row with `tokens` tokens and `docs` documents occupies in a shard file (8-byte aligned).
uint64_t RowBytes(uint64_t tokens, uint64_t docs);

// One shard file as recorded in the manifest.
struct ShardFileInfo {
  std::string file;  // name inside the folder
  uint64_t bytes = 0;
  uint64_t rows = 0;
  uint64_t tokens = 0;       // non-padding tokens
  uint64_t loss_tokens = 0;  // mask 1
  uint64_t documents = 0;
  std::string xxh64;                     // whole file
  std::vector<std::string> block_xxh64;  // per kChecksumBlockBytes block, to locate corruption
};
nlohmann::json ToJson(const ShardFileInfo& info);

// Writes the rows of one split into "<dir>/<split>-NNNNN.bin" files of at most `max_file_bytes` each (a single
// row larger than that gets a file of its own).
class ShardWriter {
 public:
  static absl::StatusOr<std::unique_ptr<ShardWriter>> Create(std::string dir, std::string split, uint32_t seq_len,
                                                             int32_t pad_id,
                                                             uint64_t max_file_bytes = kDefaultMaxShardBytes);
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // Appends a row: 1 ≤ ids.size() ≤ seq_len, mask the same size with values 0/1, doc_starts strictly increasing
  // from 0 and below ids.size().
  absl::Status Add(std::span<const int32_t> ids, std::span<const uint8_t> mask,
                   std::span<const uint32_t> doc_starts);
  // Appends one row made of whole documents, in order (ids[k] with masks[k]); the document starts are derived.
  absl::Status AddDocuments(std::span<const std::span<const int32_t>> ids,
                            std::span<const std::span<const uint8_t>> masks);
  // Closes the current file; returns every file written, in order.
  absl::StatusOr<std::vector<ShardFileInfo>> Finish();

 private:
  ShardWriter() = default;
  absl::Status OpenFile();
  absl::Status CloseFile();
  std::vector<int32_t> row_ids_;  // AddDocuments' scratch
  std::vector<uint8_t> row_mask_;
  std::vector<uint32_t> row_starts_;
  std::string row_;  // Add's row bytes, reused
  std::string dir_, split_;
  uint32_t seq_len_ = 0;
  int32_t pad_id_ = 0;
  uint64_t max_file_bytes_ = 0;
  struct State;
  std::unique_ptr<State> state_;
  std::vector<ShardFileInfo> files_;
  bool finished_ = false;
};

// Writes `contents` to `path` via "<path>.tmp.<pid>", fsync, rename, fsync of the folder.
absl::Status WriteFileAtomic(const std::string& path, std::string_view contents);

// One row, pointing into the mapped file (valid while the ShardSet lives).
struct RowView {
  std::span<const int32_t> ids;         // non-padding tokens
  std::span<const uint8_t> mask;        // same length
  std::span<const uint32_t> doc_starts; // start offset of each document in the row
};

struct OpenOptions {
  bool verify_checksums = true;
  // When set, the manifest's fingerprints must equal these (else FailedPrecondition naming both).
  std::optional<std::string> expected_tokenizer_fingerprint;
  std::optional<std::string> expected_template_fingerprint;
};

// A split of a shard folder, memory-mapped, validated, randomly accessible by row.
class ShardSet {
 public:
  // Opens split `split` ("train", "validation") of the folder `dir`. Errors name the file and byte offset.
  static absl::StatusOr<std::unique_ptr<ShardSet>> Open(const std::string& dir, const std::string& split,
                                                        const OpenOptions& options = {});
  ~ShardSet();
  ShardSet(const ShardSet&) = delete;
  ShardSet& operator=(const ShardSet&) = delete;

  size_t num_rows() const { return row_file_.size(); }
  uint32_t seq_len() const { return seq_len_; }
  int32_t pad_id() const { return pad_id_; }
  RowView Row(size_t index) const;  // index < num_rows()
  const nlohmann::json& manifest() const { return manifest_; }

 private:
  ShardSet() = default;
  struct Mapped;
  std::vector<std::unique_ptr<Mapped>> files_;
  std::vector<uint32_t> row_file_;   // row → file index
  std::vector<uint64_t> row_local_;  // row → row index within that file
  uint32_t seq_len_ = 0;
  int32_t pad_id_ = 0;
  nlohmann::json manifest_;
};

// Reads and checks "<dir>/manifest.json" (format and version, required keys). Errors name the file.
absl::StatusOr<nlohmann::json> ReadManifest(const std::string& dir);

}  // namespace distill::shard
