// Shard format: what the writer writes the reader gives back row by row, and every kind of damage (a flipped byte,
// a truncated file, a manifest that disagrees with its files, a different tokenizer) is refused with an error
// naming the file and the byte offset.
#include "data/shard/shard.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace distill::shard {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

struct TestRow {
  std::vector<int32_t> ids;
  std::vector<uint8_t> mask;
  std::vector<uint32_t> starts;
};

std::string TempDir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("distill-shard-" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::vector<TestRow> RandomRows(int count, uint32_t seq_len, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<TestRow> rows;
  for (int r = 0; r < count; ++r) {
    TestRow row;
    const uint32_t n = 1 + rng() % seq_len;
    for (uint32_t t = 0; t < n; ++t) {
      row.ids.push_back(static_cast<int32_t>(rng() % 150000));
      row.mask.push_back(static_cast<uint8_t>(rng() % 2));
    }
    row.starts.push_back(0);
    for (uint32_t t = 1; t < n; ++t) {
      if (rng() % 9 == 0) row.starts.push_back(t);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

// Writes rows into split "train" of `dir` with a minimal manifest; returns the manifest.
json WriteFolder(const std::string& dir, const std::vector<TestRow>& rows, uint32_t seq_len,
                 uint64_t max_bytes = kDefaultMaxShardBytes) {
  auto writer = ShardWriter::Create(dir, "train", seq_len, 7, max_bytes);
  EXPECT_TRUE(writer.ok()) << writer.status();
  uint64_t tokens = 0;
  for (const TestRow& r : rows) {
    EXPECT_TRUE((*writer)->Add(r.ids, r.mask, r.starts).ok());
    tokens += r.ids.size();
  }
  auto files = (*writer)->Finish();
  EXPECT_TRUE(files.ok()) << files.status();
  json list = json::array();
  for (const auto& f : *files) list.push_back(ToJson(f));
  json m = {{"format", "distill-shards"},
            {"format_version", kFormatVersion},
            {"tokenizer_fingerprint", "xxh64:aaaa"},
            {"template_fingerprint", "xxh64:bbbb"},
            {"seq_len", seq_len},
            {"pad_id", 7},
            {"splits", {{"train", {{"counts", {{"rows", rows.size()}, {"tokens", tokens}}}, {"files", list}}}}}};
  EXPECT_TRUE(WriteFileAtomic(dir + "/manifest.json", m.dump(2)).ok());
  return m;
}

void ExpectRowsEqual(const ShardSet& set, const std::vector<TestRow>& rows) {
  ASSERT_EQ(set.num_rows(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    RowView v = set.Row(i);
    ASSERT_EQ(std::vector<int32_t>(v.ids.begin(), v.ids.end()), rows[i].ids) << "row " << i;
    ASSERT_EQ(std::vector<uint8_t>(v.mask.begin(), v.mask.end()), rows[i].mask) << "row " << i;
    ASSERT_EQ(std::vector<uint32_t>(v.doc_starts.begin(), v.doc_starts.end()), rows[i].starts) << "row " << i;
  }
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x10);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

// Property: every row written is read back exactly (ids, mask, document starts), across several files when the
// size bound forces a split, and no file exceeds the bound.
TEST(Shard, RoundTripAcrossFilesOfBoundedSize) {
  const std::string dir = TempDir("roundtrip");
  const auto rows = RandomRows(300, 512, 1);
  const uint64_t bound = 64 * 1024;
  json m = WriteFolder(dir, rows, 512, bound);
  ASSERT_GT(m["splits"]["train"]["files"].size(), 3u);
  for (const auto& f : m["splits"]["train"]["files"]) {
    EXPECT_LE(fs::file_size(dir + "/" + f["file"].get<std::string>()), bound);
  }
  auto set = ShardSet::Open(dir, "train");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ((*set)->seq_len(), 512u);
  EXPECT_EQ((*set)->pad_id(), 7);
  ExpectRowsEqual(**set, rows);
  // No temp files are left behind.
  for (const auto& e : fs::directory_iterator(dir)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  }
}

// Property: the writer refuses rows that break the format's invariants.
TEST(Shard, WriterRefusesInvalidRows) {
  const std::string dir = TempDir("invalid");
  auto w = ShardWriter::Create(dir, "train", 4, 0);
  ASSERT_TRUE(w.ok());
  std::vector<int32_t> ids = {1, 2, 3, 4, 5};
  std::vector<uint8_t> mask(5, 1);
  std::vector<uint32_t> starts = {0};
  EXPECT_FALSE((*w)->Add(ids, mask, starts).ok());  // longer than seq_len
  ids.resize(3);
  mask.resize(3);
  std::vector<uint32_t> bad_starts = {0, 3};
  EXPECT_FALSE((*w)->Add(ids, mask, bad_starts).ok());  // document start outside the row
  std::vector<uint8_t> bad_mask = {0, 2, 1};
  EXPECT_FALSE((*w)->Add(ids, bad_mask, starts).ok());
  EXPECT_TRUE((*w)->Add(ids, mask, starts).ok());
}

// Property: a single flipped byte anywhere in a shard is refused, naming the file and an offset range holding it.
TEST(Shard, FlippedByteRefusedWithFileAndOffset) {
  const std::string dir = TempDir("flip");
  const auto rows = RandomRows(50, 256, 2);
  json m = WriteFolder(dir, rows, 256);
  const std::string file = m["splits"]["train"]["files"][0]["file"];
  const std::string path = dir + "/" + file;
  const uint64_t size = fs::file_size(path);
  for (uint64_t offset : {uint64_t{3}, uint64_t{100}, size / 2, size - 1}) {
    FlipByte(path, offset);
    auto set = ShardSet::Open(dir, "train");
    ASSERT_FALSE(set.ok()) << "offset " << offset;
    const std::string msg(set.status().message());
    EXPECT_NE(msg.find(file), std::string::npos) << msg;
    EXPECT_NE(msg.find("offset 0"), std::string::npos) << msg;  // one 1 MiB block: [0, size)
    EXPECT_NE(msg.find("checksum mismatch"), std::string::npos) << msg;
    FlipByte(path, offset);  // restore
    ASSERT_TRUE(ShardSet::Open(dir, "train").ok());
  }
  // Without checksum verification, the structural checks still catch a damaged header field, with its offset.
  FlipByte(path, 16);
  OpenOptions no_sums;
  no_sums.verify_checksums = false;
  auto set = ShardSet::Open(dir, "train", no_sums);
  ASSERT_FALSE(set.ok());
  EXPECT_NE(std::string(set.status().message()).find("offset 16"), std::string::npos) << set.status();
}

// Property: with checksums that match (a buggy writer, not a flipped byte), a bad row index entry, token
// count or document start is still refused, naming the file and the offset of the bad field.
TEST(Shard, StructuralDamageRefusedEvenWithMatchingChecksums) {
  const std::string dir = TempDir("structure");
  json m = WriteFolder(dir, RandomRows(20, 64, 7), 64);
  const std::string file = m["splits"]["train"]["files"][0]["file"];
  const std::string path = dir + "/" + file;
  std::string original;
  {
    std::ifstream in(path, std::ios::binary);
    original.assign(std::istreambuf_iterator<char>(in), {});
  }
  uint64_t index_offset = 0;
  std::memcpy(&index_offset, original.data() + 32, 8);
  auto damage_and_check = [&](uint64_t offset, uint32_t value, const std::string& needle) {
    std::string bytes = original;
    std::memcpy(bytes.data() + offset, &value, 4);
    { std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes; }
    json changed = m;
    changed["splits"]["train"]["files"][0]["xxh64"] = Hex64(Xxh64(bytes));
    changed["splits"]["train"]["files"][0]["block_xxh64"] = json::array({Hex64(Xxh64(bytes))});
    ASSERT_TRUE(WriteFileAtomic(dir + "/manifest.json", changed.dump()).ok());
    auto set = ShardSet::Open(dir, "train");
    ASSERT_FALSE(set.ok()) << needle;
    EXPECT_NE(std::string(set.status().message()).find(file + ": offset " + std::to_string(offset)),
              std::string::npos)
        << set.status();
    EXPECT_NE(std::string(set.status().message()).find(needle), std::string::npos) << set.status();
  };
  damage_and_check(index_offset + 16 + 8, 65, "row 1: 65 tokens");          // longer than seq_len
  damage_and_check(index_offset + 16 * 3, 0xFFFFFF00u, "row 3: data offset");  // outside the file
  damage_and_check(index_offset + 16 * 2 + 12, 0, "row 2: 0 documents");
  damage_and_check(64 + 16, 0xFFFFFFFFu, "negative token id");
}

// Property: corruption in a later 1 MiB block is located in that block.
TEST(Shard, CorruptionLocatedToItsBlock) {
  const std::string dir = TempDir("block");
  const auto rows = RandomRows(1200, 1024, 3);  // ~3 MiB
  json m = WriteFolder(dir, rows, 1024);
  const std::string path = dir + "/" + m["splits"]["train"]["files"][0]["file"].get<std::string>();
  ASSERT_GT(fs::file_size(path), 2 * kChecksumBlockBytes + 10);
  FlipByte(path, 2 * kChecksumBlockBytes + 5);
  auto set = ShardSet::Open(dir, "train");
  ASSERT_FALSE(set.ok());
  EXPECT_NE(std::string(set.status().message()).find("offset " + std::to_string(2 * kChecksumBlockBytes)),
            std::string::npos)
      << set.status();
}

// Property: a truncated shard is refused, naming the file and the offset where its data ends.
TEST(Shard, TruncatedShardRefused) {
  const std::string dir = TempDir("trunc");
  json m = WriteFolder(dir, RandomRows(40, 128, 4), 128);
  const std::string file = m["splits"]["train"]["files"][0]["file"];
  const std::string path = dir + "/" + file;
  const uint64_t size = fs::file_size(path);
  fs::resize_file(path, size - 10);
  auto set = ShardSet::Open(dir, "train");
  ASSERT_FALSE(set.ok());
  const std::string msg(set.status().message());
  EXPECT_NE(msg.find(file), std::string::npos) << msg;
  EXPECT_NE(msg.find("offset " + std::to_string(size - 10)), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  // Bytes appended to a shard are refused too, at the offset where the manifest's file ends.
  fs::resize_file(path, size + 3);
  auto longer = ShardSet::Open(dir, "train");
  ASSERT_FALSE(longer.ok());
  EXPECT_NE(std::string(longer.status().message()).find("offset " + std::to_string(size)), std::string::npos)
      << longer.status();
}

// Property: a manifest that disagrees with its files (row count, sequence length, split counts, checksum) is
// refused, naming the file and the header offset of the disagreeing field.
TEST(Shard, ManifestMismatchRefused) {
  const std::string dir = TempDir("mismatch");
  json m = WriteFolder(dir, RandomRows(40, 128, 5), 128);
  const std::string file = m["splits"]["train"]["files"][0]["file"];
  auto expect_refused = [&](json changed, const std::string& needle) {
    ASSERT_TRUE(WriteFileAtomic(dir + "/manifest.json", changed.dump()).ok());
    auto set = ShardSet::Open(dir, "train");
    ASSERT_FALSE(set.ok()) << needle;
    EXPECT_NE(std::string(set.status().message()).find(needle), std::string::npos) << set.status();
  };
  json a = m;
  a["seq_len"] = 256;
  expect_refused(a, file + ": offset 16: sequence length 128, manifest says 256");
  json b = m;
  b["splits"]["train"]["files"][0]["rows"] = 41;
  expect_refused(b, file + ": offset 24:");
  json c = m;
  c["splits"]["train"]["files"][0]["xxh64"] = "0000000000000000";
  expect_refused(c, file + ": offset 0:");
  json d = m;
  d["splits"]["train"]["counts"]["rows"] = 39;
  expect_refused(d, "manifest.json: split 'train' counts 39 rows");
  json e = m;
  e["format_version"] = 99;
  expect_refused(e, "format_version");
  json f = m;
  f["splits"]["train"]["files"][0]["file"] = "../escape.bin";
  expect_refused(f, "bad shard file name");
  ASSERT_TRUE(WriteFileAtomic(dir + "/manifest.json", m.dump()).ok());
  EXPECT_TRUE(ShardSet::Open(dir, "train").ok());
}

// Property: opening with the fingerprints of a different tokenizer or template is refused, naming both.
TEST(Shard, DifferentTokenizerFingerprintRefused) {
  const std::string dir = TempDir("fingerprint");
  WriteFolder(dir, RandomRows(5, 64, 6), 64);
  OpenOptions o;
  o.expected_tokenizer_fingerprint = "xxh64:cccc";
  auto set = ShardSet::Open(dir, "train", o);
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(set.status().message()).find("xxh64:aaaa"), std::string::npos);
  EXPECT_NE(std::string(set.status().message()).find("xxh64:cccc"), std::string::npos);
  o.expected_tokenizer_fingerprint = "xxh64:aaaa";
  o.expected_template_fingerprint = "xxh64:dddd";
  EXPECT_FALSE(ShardSet::Open(dir, "train", o).ok());
  o.expected_template_fingerprint = "xxh64:bbbb";
  EXPECT_TRUE(ShardSet::Open(dir, "train", o).ok());
}

// Property: the XXH64 helper is the standard XXH64 (known test vector for the empty input).
TEST(Shard, Xxh64KnownVector) { EXPECT_EQ(Hex64(Xxh64("")), "ef46db3751d8e999"); }

}  // namespace
}  // namespace distill::shard
