#include "data/shard/loader.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "data/splitmix.h"

namespace distill::shard {
namespace {

// Uniform in [0, bound) by rejection: the same on every platform (std distributions are not).
uint64_t Below(uint64_t& state, uint64_t bound) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t x;
  do {
    x = data::SplitMix64Next(state);
  } while (x >= limit);
  return x % bound;
}

}  // namespace

std::vector<int64_t> EpochPermutation(uint64_t seed, int64_t epoch, int64_t rows, bool shuffle) {
  std::vector<int64_t> perm(static_cast<size_t>(rows));
  std::iota(perm.begin(), perm.end(), int64_t{0});
  if (!shuffle) return perm;
  uint64_t state = seed ^ (0x5851f42d4c957f2dull * static_cast<uint64_t>(epoch + 1));
  data::SplitMix64Next(state);
  for (int64_t i = rows - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(Below(state, static_cast<uint64_t>(i + 1)));
    std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(j)]);
  }
  return perm;
}

absl::StatusOr<Loader> Loader::Create(const ShardSet& set, const LoaderOptions& options) {
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("loader: rank ", options.rank, " of world size ", options.world_size));
  }
  if (options.batch_size < 1) return absl::InvalidArgumentError("loader: batch size must be positive");
  const int64_t rows = static_cast<int64_t>(set.num_rows());
  const int64_t per_rank = options.keep_remainder
                               ? (rows - options.rank + options.world_size - 1) / options.world_size
                               : rows / options.world_size;
  if (per_rank == 0 && !options.keep_remainder) {
    return absl::InvalidArgumentError(
        absl::StrCat("loader: ", rows, " rows cannot feed ", options.world_size, " ranks"));
  }
  return Loader(set, options, per_rank);
}

std::vector<int64_t> Loader::EpochRows(int64_t epoch) const {
  const std::vector<int64_t> perm =
      EpochPermutation(options_.seed, epoch, static_cast<int64_t>(set_->num_rows()), options_.shuffle);
  std::vector<int64_t> mine;
  mine.reserve(static_cast<size_t>(rows_per_rank_));
  for (int64_t k = 0; k < rows_per_rank_; ++k) {
    mine.push_back(perm[static_cast<size_t>(options_.rank + k * options_.world_size)]);
  }
  return mine;
}

void FillBatchRow(const RowView& row, int32_t pad_id, Batch& batch, int slot) {
  const size_t T = static_cast<size_t>(batch.seq_len);
  const size_t base = static_cast<size_t>(slot) * T;
  const size_t n = row.ids.size();
  const int32_t flat_base = static_cast<int32_t>(base);
  for (size_t k = 0; k < row.doc_starts.size(); ++k) {
    const size_t begin = row.doc_starts[k];
    const size_t end = k + 1 < row.doc_starts.size() ? row.doc_starts[k + 1] : n;
    batch.cu_seqlens.push_back(flat_base + static_cast<int32_t>(begin));
    batch.max_seqlen = std::max(batch.max_seqlen, static_cast<int32_t>(end - begin));
    for (size_t t = begin; t < end; ++t) {
      batch.input_ids[base + t] = row.ids[t];
      batch.position_ids[base + t] = static_cast<int32_t>(t - begin);
      if (t + 1 < end) {
        batch.targets[base + t] = row.ids[t + 1];
        batch.loss_mask[base + t] = row.mask[t + 1];
        batch.loss_tokens += row.mask[t + 1];
      } else {
        batch.targets[base + t] = kIgnoreIndex;
        batch.loss_mask[base + t] = 0;
      }
    }
  }
  if (n < T) {
    batch.cu_seqlens.push_back(flat_base + static_cast<int32_t>(n));
    batch.max_seqlen = std::max(batch.max_seqlen, static_cast<int32_t>(T - n));
    for (size_t t = n; t < T; ++t) {
      batch.input_ids[base + t] = pad_id;
      batch.targets[base + t] = kIgnoreIndex;
      batch.loss_mask[base + t] = 0;
      batch.position_ids[base + t] = 0;
    }
  }
  batch.tokens += static_cast<int64_t>(n);
}

Batch Loader::Next() {
  if (cursor_.position >= rows_per_rank_) {
    ++cursor_.epoch;
    cursor_.position = 0;
  }
  if (cached_epoch_ != cursor_.epoch) {
    cached_rows_ = EpochRows(cursor_.epoch);
    cached_epoch_ = cursor_.epoch;
  }
  const int64_t take = std::min<int64_t>(options_.batch_size, rows_per_rank_ - cursor_.position);
  Batch batch;
  batch.epoch = cursor_.epoch;
  batch.rows = static_cast<int>(take);
  batch.seq_len = static_cast<int>(set_->seq_len());
  const size_t cells = static_cast<size_t>(take) * set_->seq_len();
  batch.input_ids.assign(cells, 0);
  batch.targets.assign(cells, kIgnoreIndex);
  batch.loss_mask.assign(cells, 0);
  batch.position_ids.assign(cells, 0);
  for (int64_t i = 0; i < take; ++i) {
    const int64_t row = cached_rows_[static_cast<size_t>(cursor_.position + i)];
    batch.row_indices.push_back(row);
    FillBatchRow(set_->Row(static_cast<size_t>(row)), set_->pad_id(), batch, static_cast<int>(i));
  }
  batch.cu_seqlens.push_back(static_cast<int32_t>(cells));
  cursor_.position += take;
  return batch;
}

nlohmann::json Loader::CursorJson() const {
  // No rank: every rank's cursor is the same (equal rows per rank, equal batch sizes), so rank 0's checkpoint
  // resumes them all.
  return {{"epoch", cursor_.epoch},
          {"position", cursor_.position},
          {"seed", options_.seed},
          {"world_size", options_.world_size},
          {"batch_size", options_.batch_size},
          {"shuffle", options_.shuffle},
          {"rows", set_->num_rows()}};
}

absl::Status Loader::Restore(const nlohmann::json& c) {
  auto get_int = [&](const char* key, int64_t& out) -> absl::Status {
    if (!c.is_object() || !c.contains(key) || !c[key].is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat("loader cursor: \"", key, "\" missing or not an integer"));
    }
    out = c[key].get<int64_t>();
    return absl::OkStatus();
  };
  int64_t epoch = 0, position = 0, seed = 0, world = 0, batch = 0, rows = 0;
  for (auto [key, out] : {std::pair<const char*, int64_t*>{"epoch", &epoch}, {"position", &position},
                          {"world_size", &world}, {"batch_size", &batch}, {"rows", &rows}}) {
    if (auto s = get_int(key, *out); !s.ok()) return s;
  }
  if (!c.contains("seed") || !c["seed"].is_number_integer()) {
    return absl::InvalidArgumentError("loader cursor: \"seed\" missing or not an integer");
  }
  seed = static_cast<int64_t>(c["seed"].get<uint64_t>());
  if (c.contains("shuffle") && !c["shuffle"].is_boolean()) {
    return absl::InvalidArgumentError("loader cursor: \"shuffle\" is not true or false");
  }
  const bool shuffle = c.value("shuffle", true);
  auto differs = [](const char* what, int64_t saved, int64_t now) {
    return absl::FailedPreconditionError(
        absl::StrCat("loader cursor: saved with ", what, " ", saved, ", this loader has ", now));
  };
  if (static_cast<uint64_t>(seed) != options_.seed) return differs("seed", seed, static_cast<int64_t>(options_.seed));
  const auto num_rows = static_cast<int64_t>(set_->num_rows());
  if (rows != num_rows) return differs("rows", rows, num_rows);
  if (shuffle != options_.shuffle) return absl::FailedPreconditionError("loader cursor: shuffle setting differs");
  if (world < 1 || batch < 1 || epoch < 0 || position < 0 || position > rows / world) {
    return absl::InvalidArgumentError(absl::StrCat("loader cursor: epoch ", epoch, " position ", position, " of ",
                                                   world, " ranks with batch size ", batch, " out of range (",
                                                   rows, " rows)"));
  }
  // The saved ranks took the epoch's first position·world rows; this loader's ranks split them evenly or not at all.
  const int64_t taken = position * world;
  if (taken % options_.world_size != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "loader cursor: ", world, " ranks stopped after ", taken, " rows of epoch ", epoch, ", which ",
        options_.world_size, " ranks cannot share evenly"));
  }
  cursor_.epoch = epoch;
  // Past this loader's rows of the epoch (those it drops to even the ranks out), the next batch starts the next.
  cursor_.position = std::min(taken / options_.world_size, rows_per_rank_);
  return absl::OkStatus();
}

}  // namespace distill::shard
