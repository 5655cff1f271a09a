// Loader: deterministic shuffles, resumable cursor, disjoint data-parallel partitions, and batch buffers whose
// targets, masks, position ids and cu_seqlens follow the rows' document boundaries.
#include "data/shard/loader.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace distill::shard {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

// A folder whose row i holds tokens 1000*i + t, with documents every 5 tokens, mask 1 on odd offsets.
std::string MakeFolder(const std::string& name, int rows, uint32_t seq_len) {
  const fs::path dir = fs::temp_directory_path() / ("distill-loader-" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto writer = ShardWriter::Create(dir.string(), "train", seq_len, 0, 4096);
  EXPECT_TRUE(writer.ok());
  uint64_t tokens = 0;
  for (int i = 0; i < rows; ++i) {
    const uint32_t n = 3 + static_cast<uint32_t>(i) % (seq_len - 2);
    std::vector<int32_t> ids;
    std::vector<uint8_t> mask;
    std::vector<uint32_t> starts;
    for (uint32_t t = 0; t < n; ++t) {
      ids.push_back(1000 * i + static_cast<int32_t>(t));
      mask.push_back(t % 2);
      if (t % 5 == 0) starts.push_back(t);
    }
    EXPECT_TRUE((*writer)->Add(ids, mask, starts).ok());
    tokens += n;
  }
  auto files = (*writer)->Finish();
  json list = json::array();
  for (const auto& f : *files) list.push_back(ToJson(f));
  json m = {{"format", "distill-shards"}, {"format_version", kFormatVersion},
            {"tokenizer_fingerprint", "t"}, {"template_fingerprint", "c"},
            {"seq_len", seq_len},           {"pad_id", 0},
            {"splits", {{"train", {{"files", list}}}}}};
  EXPECT_TRUE(WriteFileAtomic((dir / "manifest.json").string(), m.dump()).ok());
  return dir.string();
}

// Property: batch buffers follow the documents: targets are the next id within a document and -100 at its end
// and on padding; the loss mask is the target's mask; positions restart per document; cu_seqlens mark each
// document and padding tail.
TEST(Loader, BatchBuffersFollowDocuments) {
  const std::string dir = MakeFolder("buffers", 23, 16);
  auto set = ShardSet::Open(dir, "train");
  ASSERT_TRUE(set.ok()) << set.status();
  auto loader = Loader::Create(**set, {.seed = 1, .batch_size = 4});
  ASSERT_TRUE(loader.ok());
  for (int b = 0; b < loader->batches_per_epoch(); ++b) {
    Batch batch = loader->Next();
    ASSERT_EQ(batch.input_ids.size(), static_cast<size_t>(batch.rows) * 16);
    std::vector<int32_t> expect_cu;
    for (int s = 0; s < batch.rows; ++s) {
      RowView row = (*set)->Row(static_cast<size_t>(batch.row_indices[static_cast<size_t>(s)]));
      const size_t n = row.ids.size();
      for (size_t t = 0; t < 16; ++t) {
        const size_t k = static_cast<size_t>(s) * 16 + t;
        if (t >= n) {
          EXPECT_EQ(batch.input_ids[k], 0);
          EXPECT_EQ(batch.targets[k], kIgnoreIndex);
          EXPECT_EQ(batch.loss_mask[k], 0);
          continue;
        }
        const size_t doc_start = t / 5 * 5;
        const bool last_of_doc = t + 1 == n || (t + 1) % 5 == 0;
        EXPECT_EQ(batch.input_ids[k], row.ids[t]);
        EXPECT_EQ(batch.position_ids[k], static_cast<int32_t>(t - doc_start));
        EXPECT_EQ(batch.targets[k], last_of_doc ? kIgnoreIndex : row.ids[t + 1]) << "slot " << s << " t " << t;
        EXPECT_EQ(batch.loss_mask[k], last_of_doc ? 0 : row.mask[t + 1]);
      }
      for (uint32_t start : row.doc_starts) expect_cu.push_back(static_cast<int32_t>(s * 16 + start));
      if (n < 16) expect_cu.push_back(static_cast<int32_t>(s * 16 + n));
    }
    expect_cu.push_back(batch.rows * 16);
    EXPECT_EQ(batch.cu_seqlens, expect_cu);
  }
}

// Property: the shuffle is a permutation, depends on seed and epoch only, and differs between epochs.
TEST(Loader, DeterministicPerEpochShuffle) {
  const auto a = EpochPermutation(42, 0, 1000);
  const auto b = EpochPermutation(42, 0, 1000);
  const auto c = EpochPermutation(42, 1, 1000);
  const auto d = EpochPermutation(43, 0, 1000);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, d);
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[static_cast<size_t>(i)], i);
}

// Property: a loader restored from a saved cursor (JSON round trip) yields exactly the batches the original
// yields after the save, across an epoch boundary.
TEST(Loader, ResumeFromCursorYieldsTheRemainingBatches) {
  const std::string dir = MakeFolder("resume", 37, 12);
  auto set = ShardSet::Open(dir, "train");
  ASSERT_TRUE(set.ok());
  const LoaderOptions o{.seed = 7, .batch_size = 5};
  auto original = Loader::Create(**set, o);
  ASSERT_TRUE(original.ok());
  for (int i = 0; i < 6; ++i) original->Next();
  const std::string saved = original->CursorJson().dump();
  std::vector<Batch> expected;
  for (int i = 0; i < 12; ++i) expected.push_back(original->Next());
  auto resumed = Loader::Create(**set, o);
  ASSERT_TRUE(resumed.ok());
  ASSERT_TRUE(resumed->Restore(json::parse(saved)).ok());
  for (const Batch& e : expected) {
    Batch got = resumed->Next();
    EXPECT_EQ(got.epoch, e.epoch);
    EXPECT_EQ(got.row_indices, e.row_indices);
    EXPECT_EQ(got.input_ids, e.input_ids);
    EXPECT_EQ(got.targets, e.targets);
  }
  // A cursor saved under other settings is refused.
  auto other = Loader::Create(**set, {.seed = 8, .batch_size = 5});
  EXPECT_FALSE(other->Restore(json::parse(saved)).ok());
}

// Property: a cursor saved by 2 ranks resumes on 1, 3 or 4 ranks (any batch size) where they stood: the rows the 2
// ranks took before the save and the rows the new ranks take for the rest of the epoch are the epoch's rows in
// order, none twice; 5 ranks cannot split the 12 rows taken and are refused, naming the numbers.
TEST(Loader, CursorOfOtherRanksContinuesTheEpoch) {
  const std::string dir = MakeFolder("reshape", 40, 8);
  auto set = ShardSet::Open(dir, "train");
  ASSERT_TRUE(set.ok());
  auto whole = Loader::Create(**set, {.seed = 5});
  ASSERT_TRUE(whole.ok());
  const std::vector<int64_t> epoch_rows = whole->EpochRows(0);  // one rank: the epoch's order itself
  std::vector<int64_t> taken(12);
  json saved;
  for (int rank = 0; rank < 2; ++rank) {
    auto loader = Loader::Create(**set, {.seed = 5, .rank = rank, .world_size = 2, .batch_size = 2});
    ASSERT_TRUE(loader.ok());
    for (int b = 0; b < 3; ++b) {
      const Batch batch = loader->Next();
      for (int i = 0; i < batch.rows; ++i) taken[static_cast<size_t>(rank + 2 * (2 * b + i))] = batch.row_indices[i];
    }
    saved = loader->CursorJson();
  }
  EXPECT_EQ(taken, std::vector<int64_t>(epoch_rows.begin(), epoch_rows.begin() + 12));
  for (int world : {1, 3, 4}) {
    SCOPED_TRACE(world);
    std::vector<int64_t> rest(epoch_rows.size(), -1);
    int64_t per_rank = 0;
    for (int rank = 0; rank < world; ++rank) {
      auto loader = Loader::Create(**set, {.seed = 5, .rank = rank, .world_size = world, .batch_size = 3});
      ASSERT_TRUE(loader.ok());
      ASSERT_TRUE(loader->Restore(saved).ok());
      per_rank = loader->rows_per_rank();
      for (int64_t k = 12 / world; k < per_rank;) {
        const Batch batch = loader->Next();
        EXPECT_EQ(batch.epoch, 0);
        for (int i = 0; i < batch.rows; ++i, ++k) rest[static_cast<size_t>(rank + world * k)] = batch.row_indices[i];
      }
      EXPECT_EQ(loader->Next().epoch, 1);
    }
    for (int64_t i = 12; i < per_rank * world; ++i)
      EXPECT_EQ(rest[static_cast<size_t>(i)], epoch_rows[static_cast<size_t>(i)]) << i;
  }
  auto five = Loader::Create(**set, {.seed = 5, .rank = 0, .world_size = 5, .batch_size = 2});
  ASSERT_TRUE(five.ok());
  const absl::Status refused = five->Restore(saved);
  EXPECT_EQ(refused.message(), "loader cursor: 2 ranks stopped after 12 rows of epoch 0, which 5 ranks cannot share "
                               "evenly");
}

// Property: W ranks see disjoint rows each epoch, equally many, covering all rows but the rows % W dropped ones.
TEST(Loader, RanksSeeDisjointRowsCoveringAll) {
  const std::string dir = MakeFolder("ranks", 41, 8);
  auto set = ShardSet::Open(dir, "train");
  ASSERT_TRUE(set.ok());
  for (int world : {1, 2, 3, 4}) {
    for (int64_t epoch : {0, 1}) {
      std::set<int64_t> seen;
      size_t total = 0;
      for (int rank = 0; rank < world; ++rank) {
        auto loader = Loader::Create(**set, {.seed = 3, .rank = rank, .world_size = world, .batch_size = 3});
        ASSERT_TRUE(loader.ok());
        const auto rows = loader->EpochRows(epoch);
        EXPECT_EQ(rows.size(), static_cast<size_t>(41 / world));
        for (int64_t r : rows) EXPECT_TRUE(seen.insert(r).second) << "row " << r << " on two ranks";
        total += rows.size();
      }
      EXPECT_EQ(total, static_cast<size_t>(41 - 41 % world));
    }
  }
  // Two ranks' batches, read through Next(), are disjoint and together cover every row.
  std::set<int64_t> covered;
  for (int rank = 0; rank < 2; ++rank) {
    auto loader = Loader::Create(**set, {.seed = 3, .rank = rank, .world_size = 2, .batch_size = 4});
    for (int b = 0; b < loader->batches_per_epoch(); ++b) {
      for (int64_t r : loader->Next().row_indices) EXPECT_TRUE(covered.insert(r).second);
    }
  }
  EXPECT_EQ(covered.size(), 40u);
}

// Property: with keep_remainder (evaluation) the ranks' batches cover every row exactly once on any world size,
// even one with more ranks than rows (a rank then has no batch).
TEST(Loader, KeepRemainderCoversEveryRowOnAnyWorldSize) {
  for (int rows : {2, 7, 41}) {
    const std::string dir = MakeFolder("remainder-" + std::to_string(rows), rows, 8);
    auto set = ShardSet::Open(dir, "train");
    ASSERT_TRUE(set.ok());
    for (int world : {1, 2, 3, 4}) {
      std::multiset<int64_t> covered;
      for (int rank = 0; rank < world; ++rank) {
        LoaderOptions options{.seed = 3, .rank = rank, .world_size = world, .batch_size = 2, .shuffle = false,
                              .keep_remainder = true};
        auto loader = Loader::Create(**set, options);
        ASSERT_TRUE(loader.ok()) << loader.status();
        for (int64_t b = 0; b < loader->batches_per_epoch(); ++b)
          for (int64_t r : loader->Next().row_indices) covered.insert(r);
      }
      EXPECT_EQ(covered.size(), static_cast<size_t>(rows)) << rows << " rows, " << world << " ranks";
      EXPECT_EQ(std::set<int64_t>(covered.begin(), covered.end()).size(), static_cast<size_t>(rows));
    }
  }
}

}  // namespace
}  // namespace distill::shard
