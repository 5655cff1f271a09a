// GGUF writer and reader: exact round trips of every value type and several tensor types and alignments, the
// temp-then-rename contract, and hostile inputs (truncations, patched fields, seeded fuzz) refused with the offset.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/file_size_limit.h"
#include "tools/gguf/gguf_file.h"

namespace distill::gguf {
namespace {

namespace fs = std::filesystem;

std::string TempPath(const std::string& stem) {
  const fs::path dir = fs::temp_directory_path() / ("distill-gguf-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / stem).string();
}

std::vector<std::byte> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string s = buffer.str();
  std::vector<std::byte> bytes(s.size());
  std::memcpy(bytes.data(), s.data(), s.size());
  return bytes;
}

std::vector<std::byte> Pattern(size_t n, uint8_t seed) {
  std::vector<std::byte> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = std::byte(static_cast<uint8_t>(seed + i * 7));
  return v;
}

std::vector<std::pair<std::string, Value>> EveryValueType() {
  return {
      {"general.architecture", Value::String("llama")},
      {"t.u8", Value::U8(250)},
      {"t.i8", Value::I8(-120)},
      {"t.u16", Value::U16(65535)},
      {"t.i16", Value::I16(-32768)},
      {"t.u32", Value::U32(4000000000u)},
      {"t.i32", Value::I32(-2000000000)},
      {"t.f32", Value::F32(0.1f)},
      {"t.bool_true", Value::Bool(true)},
      {"t.bool_false", Value::Bool(false)},
      {"t.string", Value::String(std::string("h\xc3\xa9llo \0 world", 15))},
      {"t.empty_string", Value::String("")},
      {"t.u64", Value::U64(std::numeric_limits<uint64_t>::max())},
      {"t.i64", Value::I64(std::numeric_limits<int64_t>::min())},
      {"t.f64", Value::F64(-1.0 / 3.0)},
      {"t.arr.u8", Value::Array(ValueType::kU8, {uint64_t{0}, uint64_t{255}})},
      {"t.arr.i8", Value::Array(ValueType::kI8, {int64_t{-128}, int64_t{127}})},
      {"t.arr.u16", Value::Array(ValueType::kU16, {uint64_t{1}, uint64_t{65535}})},
      {"t.arr.i16", Value::Array(ValueType::kI16, {int64_t{-1}})},
      {"t.arr.u32", Value::Array(ValueType::kU32, {uint64_t{7}, uint64_t{8}, uint64_t{9}})},
      {"t.arr.i32", Value::I32s({1, -2, 3, 2147483647})},
      {"t.arr.f32", Value::F32s({1.5f, -0.0f, 3.4e38f, 1e-45f})},
      {"t.arr.bool", Value::Array(ValueType::kBool, {true, false, true})},
      {"t.arr.string", Value::Strings({"a b", "", "\xc4\xa0token", "<|im_end|>"})},
      {"t.arr.u64", Value::Array(ValueType::kU64, {uint64_t{1} << 63})},
      {"t.arr.i64", Value::Array(ValueType::kI64, {int64_t{-5}, int64_t{1} << 40})},
      {"t.arr.f64", Value::Array(ValueType::kF64, {0.25, 1e300})},
      {"t.arr.empty", Value::Array(ValueType::kI32, {})},
  };
}

struct Written {
  std::vector<TensorSpec> specs;
  std::vector<std::vector<std::byte>> data;
};

// A writer holding every KV type and tensors of several types, shapes and (unaligned) sizes.
Written AddTensors(GgufWriter& writer) {
  Written w;
  w.specs = {{"token_embd.weight", {64, 3}, GgmlType::kQ8_0},
             {"blk.0.attn_norm.weight", {7}, GgmlType::kF32},
             {"blk.0.attn_q.weight", {256, 3}, GgmlType::kQ4_K},
             {"blk.0.ffn_down.weight", {512}, GgmlType::kQ6_K},
             {"f16", {3, 5}, GgmlType::kF16},
             {"bf16.four_dims", {1, 2, 1, 33}, GgmlType::kBF16},
             {std::string(63, 'n'), {32}, GgmlType::kQ5_0}};
  for (size_t i = 0; i < w.specs.size(); ++i) {
    const uint64_t n = *TensorBytes(w.specs[i].type, w.specs[i].ne);
    w.data.push_back(Pattern(n, static_cast<uint8_t>(i * 31)));
    EXPECT_TRUE(writer.AddTensorBytes(w.specs[i], w.data.back()).ok());
  }
  return w;
}

void ExpectRoundTrip(uint32_t alignment) {
  SCOPED_TRACE("alignment " + std::to_string(alignment));
  GgufWriter writer;
  auto kvs = EveryValueType();
  if (alignment != kDefaultAlignment) kvs.emplace_back("general.alignment", Value::U32(alignment));
  for (const auto& [key, value] : kvs) ASSERT_TRUE(writer.AddKv(key, value).ok()) << key;
  const Written w = AddTensors(writer);
  const std::string path = TempPath("roundtrip-" + std::to_string(alignment) + ".gguf");
  ASSERT_TRUE(writer.Write(path).ok());

  auto file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->alignment(), alignment);
  EXPECT_EQ(file->data_offset() % alignment, 0u);
  ASSERT_EQ(file->kvs().size(), kvs.size());
  for (size_t i = 0; i < kvs.size(); ++i) {
    EXPECT_EQ(file->kvs()[i].first, kvs[i].first);
    EXPECT_TRUE(file->kvs()[i].second == kvs[i].second) << kvs[i].first;
  }
  ASSERT_EQ(file->tensors().size(), w.specs.size());
  const auto offsets = writer.TensorOffsets();
  uint64_t end = 0;
  for (size_t i = 0; i < w.specs.size(); ++i) {
    const TensorInfo& t = file->tensors()[i];
    EXPECT_EQ(t.name, w.specs[i].name);
    EXPECT_EQ(t.ne, w.specs[i].ne);
    EXPECT_EQ(t.type, w.specs[i].type);
    EXPECT_EQ(t.offset, offsets[i]);
    EXPECT_EQ(t.offset % alignment, 0u);
    ASSERT_EQ(t.data.size(), w.data[i].size());
    EXPECT_EQ(std::memcmp(t.data.data(), w.data[i].data(), t.data.size()), 0) << t.name;
    end = t.offset + (t.nbytes + alignment - 1) / alignment * alignment;
  }
  EXPECT_EQ(file->file_size(), file->data_offset() + end);  // the last tensor is padded too
  EXPECT_EQ(file->FindKv("t.u16")->AsUInt(), 65535u);
  EXPECT_EQ(*file->FindKv("general.architecture")->AsString(), "llama");
  EXPECT_EQ(file->FindTensor("f16")->ne, (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(file->FindKv("missing"), nullptr);
}

TEST(GgufFileTest, RoundTripsEveryValueTypeAndAlignment) {
  for (uint32_t alignment : {32u, 64u, 1u, 4096u}) ExpectRoundTrip(alignment);
}

TEST(GgufFileTest, WriteIsAtomic) {
  const std::string path = TempPath("atomic.gguf");
  {
    std::ofstream(path) << "previous";
  }
  GgufWriter writer;
  ASSERT_TRUE(writer.AddKv("general.architecture", Value::String("llama")).ok());
  ASSERT_TRUE(writer.AddTensor({"a", {32}, GgmlType::kF32}, [](std::span<std::byte> out) {
                      std::memset(out.data(), 1, out.size());
                      return absl::OkStatus();
                    }).ok());
  ASSERT_TRUE(writer.AddTensor({"b", {32}, GgmlType::kF32}, [](std::span<std::byte>) {
                      return absl::InternalError("source shard unreadable");
                    }).ok());
  const absl::Status status = writer.Write(path);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(std::string(status.message()).find("tensor b: source shard unreadable"), std::string::npos);
  EXPECT_EQ(ReadAll(path).size(), 8u);  // untouched
  for (const auto& entry : fs::directory_iterator(fs::path(path).parent_path())) {
    EXPECT_EQ(entry.path().filename().string().find("atomic.gguf.tmp."), std::string::npos) << entry.path();
  }
}

// Property: tensors filled a chunk of rows at a time on several threads land byte-exact in place (chunks of about
// 4 MB: here a tensor of ~10 MB in F32 and one in row groups of 3), and with several failing chunks the error is
// the first failing one in file order, whatever the thread timing.
std::string Name(std::string prefix, int64_t k) { return prefix.append(std::to_string(k)); }

TEST(GgufFileTest, RowChunksOnThreadsLandInPlace) {
  auto row_value = [](int64_t tensor, int64_t row, int64_t col) {
    return static_cast<float>(tensor * 1000003 + row * 131 + col);
  };
  GgufWriter writer;
  ASSERT_TRUE(writer.AddKv("general.architecture", Value::String("llama")).ok());
  const std::vector<std::vector<int64_t>> shapes = {{1024, 2560}, {96, 3, 7}, {33}};
  const std::vector<int64_t> multiples = {1, 3, 1};
  for (size_t k = 0; k < shapes.size(); ++k) {
    const int64_t cols = shapes[k][0];
    ASSERT_TRUE(writer.AddTensorRows({Name("t", k), shapes[k], GgmlType::kF32}, multiples[k],
                                     [=](int64_t first_row, int64_t rows, std::span<std::byte> out) {
                                       if (rows % multiples[k] != 0) return absl::InternalError("split a row group");
                                       std::vector<float> v(static_cast<size_t>(rows * cols));
                                       for (int64_t r = 0; r < rows; ++r)
                                         for (int64_t c = 0; c < cols; ++c)
                                           v[static_cast<size_t>(r * cols + c)] =
                                               row_value(int64_t(k), first_row + r, c);
                                       std::memcpy(out.data(), v.data(), out.size());
                                       return absl::OkStatus();
                                     }).ok());
  }
  EXPECT_FALSE(writer.AddTensorRows({"bad", {8, 5}, GgmlType::kF32}, 2, [](int64_t, int64_t, std::span<std::byte>) {
                 return absl::OkStatus();
               }).ok()) << "5 rows are not a multiple of 2";
  const std::string path = TempPath("chunks.gguf");
  ASSERT_TRUE(writer.Write(path, /*threads=*/3).ok());
  const auto bytes = ReadAll(path);
  auto file = GgufFile::Parse(bytes, path);
  ASSERT_TRUE(file.ok()) << file.status();
  for (size_t k = 0; k < shapes.size(); ++k) {
    const TensorInfo* t = file->FindTensor(Name("t", k));
    ASSERT_NE(t, nullptr);
    const int64_t cols = shapes[k][0];
    const int64_t rows = static_cast<int64_t>(t->nbytes / sizeof(float)) / cols;
    std::vector<float> v(t->nbytes / sizeof(float));
    std::memcpy(v.data(), t->data.data(), t->nbytes);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        ASSERT_EQ(v[static_cast<size_t>(r * cols + c)], row_value(int64_t(k), r, c)) << "tensor " << k << " row " << r;
  }

  GgufWriter failing;
  for (int k = 0; k < 4; ++k) {
    ASSERT_TRUE(failing.AddTensorRows({Name("f", k), {1024, 2048}, GgmlType::kF32}, 1,
                                      [k](int64_t first_row, int64_t, std::span<std::byte>) {
                                        if (k >= 1 && first_row > 0)
                                          return absl::DataLossError(Name("chunk at row ", first_row));
                                        return absl::OkStatus();
                                      }).ok());
  }
  const absl::Status status = failing.Write(TempPath("failing.gguf"), /*threads=*/4);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message(), "tensor f1: chunk at row 1024");
}

// Property: when the file cannot get its space (here a file-size limit stands in for a full disk), Write fails
// with a status naming the temp file before any tensor is filled, never a SIGBUS from the mapping, and leaves the
// previous file and no temp file behind.
TEST(GgufFileTest, NoSpaceIsAnErrorNotACrash) {
  const std::string path = TempPath("nospace.gguf");
  {
    std::ofstream(path) << "previous";
  }
  GgufWriter writer;
  ASSERT_TRUE(writer.AddKv("general.architecture", Value::String("llama")).ok());
  bool filled = false;
  ASSERT_TRUE(writer.AddTensor({"big", {1 << 20}, GgmlType::kF32}, [&](std::span<std::byte> out) {
                      filled = true;
                      std::memset(out.data(), 1, out.size());
                      return absl::OkStatus();
                    }).ok());
  const absl::Status status = testing::WithFileSizeLimit(64 * 1024, [&] { return writer.Write(path); });
  ASSERT_FALSE(status.ok());
  EXPECT_NE(std::string(status.message()).find("cannot reserve"), std::string::npos) << status;
  EXPECT_NE(std::string(status.message()).find("nospace.gguf.tmp."), std::string::npos) << status;
  EXPECT_FALSE(filled);
  EXPECT_EQ(ReadAll(path).size(), 8u);  // "previous", untouched
  for (const auto& entry : fs::directory_iterator(fs::path(path).parent_path())) {
    EXPECT_EQ(entry.path().filename().string().find("nospace.gguf.tmp."), std::string::npos) << entry.path();
  }
}

TEST(GgufFileTest, WriterRefusesBadInput) {
  GgufWriter writer;
  auto fill = [](std::span<std::byte>) { return absl::OkStatus(); };
  EXPECT_TRUE(writer.AddKv("k", Value::U32(1)).ok());
  EXPECT_FALSE(writer.AddKv("k", Value::U32(2)).ok());
  EXPECT_FALSE(writer.AddKv("", Value::U32(2)).ok());
  EXPECT_FALSE(writer.AddKv("general.alignment", Value::U32(48)).ok());
  EXPECT_FALSE(writer.AddKv("general.alignment", Value::U64(64)).ok());
  Value bad = Value::U8(1);
  bad.items[0] = uint64_t{256};
  EXPECT_FALSE(writer.AddKv("bad.u8", bad).ok());
  bad.items[0] = int64_t{1};
  EXPECT_FALSE(writer.AddKv("bad.variant", bad).ok());
  EXPECT_FALSE(writer.AddKv("bad.nested", Value::Array(ValueType::kArray, {})).ok());
  EXPECT_FALSE(writer.AddKv("bad.elem", Value::Array(ValueType::kString, {uint64_t{1}})).ok());
  EXPECT_FALSE(writer.AddTensor({std::string(64, 'x'), {32}, GgmlType::kF32}, fill).ok());
  EXPECT_FALSE(writer.AddTensor({"", {32}, GgmlType::kF32}, fill).ok());
  EXPECT_FALSE(writer.AddTensor({"q", {100}, GgmlType::kQ4_K}, fill).ok());
  EXPECT_FALSE(writer.AddTensor({"z", {32, 0}, GgmlType::kF32}, fill).ok());
  EXPECT_FALSE(writer.AddTensor({"d", {1, 1, 1, 1, 1}, GgmlType::kF32}, fill).ok());
  EXPECT_FALSE(writer.AddTensor({"u", {32}, static_cast<GgmlType>(4)}, fill).ok());
  EXPECT_FALSE(writer.AddTensorBytes({"s", {32}, GgmlType::kF32}, std::vector<std::byte>(100)).ok());
  EXPECT_TRUE(writer.AddTensor({"ok", {32}, GgmlType::kF32}, fill).ok());
  EXPECT_FALSE(writer.AddTensor({"ok", {32}, GgmlType::kF32}, fill).ok());
}

// A small file with a known layout: KV0 at 24 (key length), its value type at 52; KV1 at 69, its array count at
// 92; tensor infos from 112. Tensors: "w" Q8_0 [64] (68 bytes, padded to 96) and "n" F32 [8] (32 bytes, so the
// file ends exactly at the end of its data and every strict prefix is invalid).
std::vector<std::byte> SmallFile() {
  GgufWriter writer;
  EXPECT_TRUE(writer.AddKv("general.architecture", Value::String("llama")).ok());
  EXPECT_TRUE(writer.AddKv("x.array", Value::I32s({1, 2, 3})).ok());
  EXPECT_TRUE(writer.AddTensorBytes({"w", {64}, GgmlType::kQ8_0}, Pattern(68, 1)).ok());
  EXPECT_TRUE(writer.AddTensorBytes({"n", {8}, GgmlType::kF32}, Pattern(32, 2)).ok());
  const std::string path = TempPath("small.gguf");
  EXPECT_TRUE(writer.Write(path).ok());
  return ReadAll(path);
}

template <typename T>
void Patch(std::vector<std::byte>& bytes, uint64_t at, T value) {
  std::memcpy(bytes.data() + at, &value, sizeof(T));
}

// Parses `bytes` and expects an error naming the file and `byte <at>`.
void ExpectRefused(const std::vector<std::byte>& bytes, uint64_t at, const std::string& what) {
  auto file = GgufFile::Parse(bytes, "hostile.gguf");
  ASSERT_FALSE(file.ok()) << what;
  const std::string message(file.status().message());
  EXPECT_EQ(message.rfind("hostile.gguf: byte " + std::to_string(at) + ":", 0), 0u) << what << ": " << message;
}

TEST(GgufFileTest, SmallFileLayoutIsAsDocumented) {
  const auto bytes = SmallFile();
  auto file = GgufFile::Parse(bytes, "small.gguf");
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ(file->tensors().size(), 2u);
  EXPECT_EQ(file->tensors()[0].info_position, 112u);
  EXPECT_EQ(file->tensors()[1].offset, 96u);
  EXPECT_EQ(bytes.size(), file->data_offset() + 96 + 32);
}

TEST(GgufFileTest, EveryTruncationIsRefusedWithAnOffset) {
  const auto bytes = SmallFile();
  for (size_t n = 0; n < bytes.size(); ++n) {
    const std::vector<std::byte> prefix(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
    auto file = GgufFile::Parse(prefix, "cut.gguf");
    ASSERT_FALSE(file.ok()) << "prefix of " << n << " bytes parsed";
    EXPECT_EQ(std::string(file.status().message()).rfind("cut.gguf: byte ", 0), 0u) << file.status();
  }
}

TEST(GgufFileTest, PatchedFieldsAreRefusedAtTheirOffset) {
  const auto good = SmallFile();
  auto file = GgufFile::Parse(good, "small.gguf");
  ASSERT_TRUE(file.ok());
  const uint64_t t0 = file->tensors()[0].info_position;  // "w": name 1 byte, 1 dim
  const uint64_t t1 = file->tensors()[1].info_position;  // "n"
  const uint64_t t0_dims = t0 + 9, t0_type = t0 + 21, t1_offset = t1 + 25;
  auto patched = [&](auto fn) {
    auto b = good;
    fn(b);
    return b;
  };
  ExpectRefused(patched([](auto& b) { Patch<uint32_t>(b, 0, 0x46554746); }), 0, "bad magic");
  ExpectRefused(patched([](auto& b) { Patch<uint32_t>(b, 4, 1); }), 4, "version 1");
  ExpectRefused(patched([](auto& b) { Patch<uint32_t>(b, 4, 4); }), 4, "version 4");
  ExpectRefused(patched([](auto& b) { Patch<uint32_t>(b, 4, 0x03000000); }), 4, "big-endian");
  ExpectRefused(patched([](auto& b) { Patch<uint64_t>(b, 8, uint64_t{1} << 60); }), 8, "huge tensor count");
  ExpectRefused(patched([](auto& b) { Patch<uint64_t>(b, 16, uint64_t{1} << 60); }), 16, "huge kv count");
  ExpectRefused(patched([](auto& b) { Patch<uint64_t>(b, 24, 1000000000000); }), 24, "key past EOF");
  ExpectRefused(patched([](auto& b) { Patch<uint64_t>(b, 56, 5000); }), 56, "string past EOF");
  ExpectRefused(patched([](auto& b) { Patch<uint32_t>(b, 52, 13); }), 52, "unknown value type");
  ExpectRefused(patched([](auto& b) { Patch<uint32_t>(b, 88, 9); }), 88, "nested array");
  ExpectRefused(patched([](auto& b) { Patch<uint64_t>(b, 92, uint64_t{1} << 62); }), 92, "huge array");
  ExpectRefused(patched([](auto& b) { Patch<uint64_t>(b, 24, 0); }), 24, "empty key");
  ExpectRefused(patched([&](auto& b) { Patch<uint32_t>(b, t0_dims, 5); }), t0_dims, "5 dims");
  ExpectRefused(patched([&](auto& b) { Patch<uint32_t>(b, t0_dims, 0); }), t0_dims, "0 dims");
  ExpectRefused(patched([&](auto& b) { Patch<uint32_t>(b, t0_type, 4); }), t0_type, "removed ggml type");
  ExpectRefused(patched([&](auto& b) { Patch<uint32_t>(b, t0_type, 1000); }), t0_type, "unknown ggml type");
  ExpectRefused(patched([&](auto& b) { Patch<uint64_t>(b, t0 + 13, 65); }), t0_dims, "row not in blocks");
  ExpectRefused(patched([&](auto& b) { Patch<int64_t>(b, t0 + 13, -64); }), t0 + 13, "negative dim");
  ExpectRefused(patched([&](auto& b) { Patch<uint64_t>(b, t1_offset, 97); }), t1_offset, "misaligned offset");
  ExpectRefused(patched([&](auto& b) { Patch<uint64_t>(b, t1_offset, 0); }), t1_offset, "overlapping offset");
  ExpectRefused(patched([&](auto& b) { Patch<uint64_t>(b, t1_offset, 128); }), t1_offset, "gap / past EOF");
  ExpectRefused(patched([&](auto& b) { Patch<uint64_t>(b, t1, 64); }), t1, "long tensor name");
  ExpectRefused(patched([&](auto& b) { Patch<uint8_t>(b, t1 + 8, 'w'); }), t1, "duplicate tensor");
}

TEST(GgufFileTest, AlignmentKeyIsValidated) {
  for (auto [value, ok] : {std::pair<Value, bool>{Value::U32(64), true}, {Value::U32(0), false},
                           {Value::U32(48), false}, {Value::U64(64), false}, {Value::String("32"), false}}) {
    // Build by hand: the writer refuses the bad ones.
    std::string b;
    auto put = [&](auto v) { b.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
    put(kGgufMagic), put(uint32_t{3}), put(uint64_t{0}), put(uint64_t{1});
    put(uint64_t{17}), b.append("general.alignment");
    put(static_cast<uint32_t>(value.type));
    if (auto u = value.AsUInt()) {
      value.type == ValueType::kU32 ? put(static_cast<uint32_t>(*u)) : put(*u);
    } else {
      put(uint64_t{2}), b.append("32");
    }
    std::vector<std::byte> bytes(b.size());
    std::memcpy(bytes.data(), b.data(), b.size());
    auto file = GgufFile::Parse(bytes, "align.gguf");
    EXPECT_EQ(file.ok(), ok) << file.status();
    if (!ok) {
      EXPECT_EQ(std::string(file.status().message()).rfind("align.gguf: byte 24:", 0), 0u);
    }
  }
}

TEST(GgufFileTest, SeededFuzzNeverCrashes) {
  const auto good = SmallFile();
  std::mt19937_64 rng(12345);
  int parsed = 0;
  for (int iteration = 0; iteration < 2000; ++iteration) {
    auto b = good;
    const int mutations = 1 + static_cast<int>(rng() % 4);
    for (int m = 0; m < mutations; ++m) {
      const size_t at = rng() % b.size();
      switch (rng() % 5) {
        case 0: b[at] = std::byte(static_cast<uint8_t>(rng())); break;
        case 1: b[at] ^= std::byte(static_cast<uint8_t>(1u << (rng() % 8))); break;
        case 2:  // a large or boundary u64 over a length/count/offset-sized field
          if (at + 8 <= b.size()) {
            const uint64_t choices[] = {0, 1, 0xFFFFFFFFFFFFFFFFull, 0x7FFFFFFFFFFFFFFFull, rng(), 1ull << 32, 63};
            Patch<uint64_t>(b, at, choices[rng() % 7]);
          }
          break;
        case 3: b.resize(rng() % b.size()); break;
        default: b.insert(b.begin() + static_cast<ptrdiff_t>(at), std::byte(static_cast<uint8_t>(rng()))); break;
      }
      if (b.empty()) break;
    }
    auto file = GgufFile::Parse(b, "fuzz.gguf");
    if (!file.ok()) {
      EXPECT_EQ(std::string(file.status().message()).rfind("fuzz.gguf: byte ", 0), 0u) << file.status();
      continue;
    }
    ++parsed;
    for (const auto& t : file->tensors()) {  // every accepted span lies inside the buffer
      ASSERT_GE(t.data.data(), b.data());
      ASSERT_LE(t.data.data() + t.data.size(), b.data() + b.size());
    }
  }
  EXPECT_GT(parsed, 0);  // some mutations (inside tensor data) keep the file valid
}

TEST(GgufFileTest, OpenNamesThePath) {
  EXPECT_EQ(GgufFile::Open(TempPath("does-not-exist.gguf")).status().code(), absl::StatusCode::kNotFound);
  const std::string path = TempPath("garbage.gguf");
  std::ofstream(path) << "GGUF but not really";
  auto file = GgufFile::Open(path);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(std::string(file.status().message()).rfind(path + ": byte ", 0), 0u) << file.status();
}

}  // namespace
}  // namespace distill::gguf
