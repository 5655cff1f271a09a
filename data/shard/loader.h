// The trainer's view of a shard split: deterministic per-epoch shuffles, data-parallel partitioning, a resumable
// cursor, and batches as plain buffers (the trainer turns them into tensors).
//
// Epoch e's order is a Fisher–Yates permutation of all rows driven by SplitMix64(seed, e) — the same on every
// machine and rank. Rank r of W takes permutation entries r, r+W, r+2W, …, for floor(rows / W) entries each; the
// last rows % W entries of each epoch's permutation are dropped (different rows every epoch), so every rank runs
// the same number of steps. A rank's rows are cut into batches of `batch_size`; the last batch of an epoch may be
// shorter (every rank gets the same sizes).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/shard/shard.h"
#include "nlohmann/json.hpp"

namespace distill::shard {

struct LoaderOptions {
  uint64_t seed = 0;
  int rank = 0;
  int world_size = 1;
  int batch_size = 1;  // rows per batch per rank
  bool shuffle = true;
  // Every row once (evaluation): rank r takes entries r, r+W, … of all rows, none dropped, so ranks may differ by
  // one row and a rank may have none. Training keeps the default: equal rows per rank, so ranks step in lockstep.
  bool keep_remainder = false;
};

// Where a loader stands: the next batch comes from `epoch`, starting at entry `position` of this rank's rows.
// It is the same on every rank. The JSON form also records the seed, world size, batch size and row count.
// Restore refuses a cursor of another seed, row count or shuffle setting; one saved by another number of ranks
// continues where they stood in the epoch (rank r's entries are the epoch's rows r, r+W, …, so W ranks at
// position p have taken its first p·W rows), when the new number of ranks divides p·W.
struct Cursor {
  int64_t epoch = 0;
  int64_t position = 0;
};

// One batch, row-major [rows][seq_len] buffers (rows = row_indices.size(), the last batch may be short).
struct Batch {
  int64_t epoch = 0;
  int rows = 0;
  int seq_len = 0;
  std::vector<int64_t> row_indices;   // which rows of the split
  std::vector<int32_t> input_ids;     // padded with pad_id
  // targets[t] = input_ids[t+1] when t+1 is in the same document; kIgnoreIndex (-100) at each document's last
  // token and on padding.
  std::vector<int32_t> targets;
  // loss_mask[t] = the training view's mask of the target token (mask[t+1]) within the document, 0 where the
  // target is ignored: the loss is sum_t mask[t] · CE(logits[t], targets[t]).
  std::vector<uint8_t> loss_mask;
  std::vector<int32_t> position_ids;  // restart at 0 at each document start; 0 on padding
  // cu_seqlens over the flattened [rows * seq_len] batch: start of every document, and of each row's padding
  // tail as a segment of its own, then rows * seq_len. Attention must not cross these boundaries.
  std::vector<int32_t> cu_seqlens;
  int32_t max_seqlen = 0;        // longest segment
  int64_t tokens = 0;            // non-padding tokens
  int64_t loss_tokens = 0;       // sum of loss_mask
};

class Loader {
 public:
  // `set` must outlive the loader. InvalidArgument for a bad rank/world/batch size, or fewer rows than ranks
  // (unless keep_remainder).
  static absl::StatusOr<Loader> Create(const ShardSet& set, const LoaderOptions& options);

  int64_t rows_per_rank() const { return rows_per_rank_; }
  int64_t batches_per_epoch() const { return (rows_per_rank_ + options_.batch_size - 1) / options_.batch_size; }
  // This rank's rows of `epoch`, in order.
  std::vector<int64_t> EpochRows(int64_t epoch) const;
  // The next batch; advances the cursor (into the next epoch after the last batch of one).
  Batch Next();
  const Cursor& cursor() const { return cursor_; }
  nlohmann::json CursorJson() const;
  absl::Status Restore(const nlohmann::json& cursor);

 private:
  Loader(const ShardSet& set, const LoaderOptions& options, int64_t rows_per_rank)
      : set_(&set), options_(options), rows_per_rank_(rows_per_rank) {}
  const ShardSet* set_;
  LoaderOptions options_;
  int64_t rows_per_rank_;
  Cursor cursor_;
  int64_t cached_epoch_ = -1;
  std::vector<int64_t> cached_rows_;
};

// The full permutation of `rows` rows for `epoch` (identity when !shuffle).
std::vector<int64_t> EpochPermutation(uint64_t seed, int64_t epoch, int64_t rows, bool shuffle = true);

// Fills row `slot` of `batch` from `row` (used by Loader; exposed for tests and tools).
void FillBatchRow(const RowView& row, int32_t pad_id, Batch& batch, int slot);

}  // namespace distill::shard
