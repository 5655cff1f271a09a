// safetensors I/O (trainer/hf/safetensors): what we write reads back byte-identical, single and sharded; a file laid
// out by hand per the spec parses; every malformed header is refused with a message naming the problem; and a
// seeded fuzz of header bytes and lengths never crashes the reader.
#include "trainer/hf/safetensors.h"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace distill::hf {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// String concatenation by append: GCC 12 gives a false -Wrestrict on `"literal" + std::string`.
template <typename... Parts>
std::string Cat(const Parts&... parts) {
  std::string out;
  (out.append(parts), ...);
  return out;
}

fs::path TestRoot() { return fs::temp_directory_path() / Cat("distill-hf-st-", std::to_string(::getpid())); }

// Removes this process's temp folders once all tests have run.
class RemoveTestRoot : public ::testing::Environment {
 public:
  void TearDown() override { fs::remove_all(TestRoot()); }
};
[[maybe_unused]] ::testing::Environment* const kRemoveTestRoot =
    ::testing::AddGlobalTestEnvironment(new RemoveTestRoot);

fs::path TempDir(const std::string& name) {
  const fs::path dir = TestRoot() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

template <typename T>
std::vector<std::byte> AsBytes(const std::vector<T>& v) {
  std::vector<std::byte> out(v.size() * sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), v.data(), out.size());
  return out;
}

std::vector<std::byte> RandomBytes(size_t n, std::mt19937& rng) {
  std::vector<std::byte> out(n);
  for (std::byte& b : out) b = static_cast<std::byte>(rng() & 0xff);
  return out;
}

std::string U64(uint64_t v) {
  std::string s(8, '\0');
  std::memcpy(s.data(), &v, 8);
  return s;
}

// Owns the bytes that TensorToWrite spans point at.
struct Tensors {
  std::vector<std::vector<std::byte>> storage;
  std::vector<TensorToWrite> list;
  void Add(std::string name, DType dtype, std::vector<int64_t> shape, std::vector<std::byte> bytes) {
    storage.push_back(std::move(bytes));
    list.push_back({std::move(name), dtype, std::move(shape), {}});
  }
  std::span<const TensorToWrite> Span() {
    for (size_t i = 0; i < list.size(); ++i) list[i].data = storage[i];
    return list;
  }
};

// F32 matrix, F16 vector, BF16 3-d, a 0-d scalar and an empty tensor, in non-sorted order.
Tensors Mixed(uint32_t seed) {
  std::mt19937 rng(seed);
  Tensors t;
  t.Add("model.layers.0.mlp.up_proj.weight", DType::kF32, {3, 5}, RandomBytes(3 * 5 * 4, rng));
  t.Add("model.embed_tokens.weight", DType::kBF16, {2, 3, 4}, RandomBytes(2 * 3 * 4 * 2, rng));
  t.Add("lm_head.bias", DType::kF16, {7}, RandomBytes(7 * 2, rng));
  t.Add("scale", DType::kF32, {}, RandomBytes(4, rng));
  t.Add("empty", DType::kBF16, {0, 4}, {});
  return t;
}

void ExpectSameTensors(std::span<const TensorToWrite> expected, const std::vector<const TensorView*>& got) {
  ASSERT_EQ(expected.size(), got.size());
  for (const TensorToWrite& e : expected) {
    const TensorView* v = nullptr;
    for (const TensorView* g : got) {
      if (g->name == e.name) v = g;
    }
    ASSERT_NE(v, nullptr) << e.name;
    EXPECT_EQ(v->dtype, e.dtype) << e.name;
    EXPECT_EQ(v->shape, e.shape) << e.name;
    ASSERT_EQ(v->data.size(), e.data.size()) << e.name;
    EXPECT_TRUE(std::equal(v->data.begin(), v->data.end(), e.data.begin())) << e.name;
  }
}

// Property: every dtype, a 0-d scalar and an empty tensor read back with the same dtype, shape and bytes, along
// with the metadata; tensors come out in data-offset order, which for our writer is name order.
TEST(Safetensors, RoundTrip) {
  const fs::path dir = TempDir("roundtrip");
  Tensors t = Mixed(1);
  // Brackets and an escaped quote inside a name must not count as JSON nesting.
  t.Add(Cat("odd \\\"", std::string(40, '['), "{ name"), DType::kF16, {1}, std::vector<std::byte>(2));
  const std::string path = (dir / "m.safetensors").string();
  ASSERT_TRUE(WriteSafetensors(path, t.Span(), {{"format", "pt"}, {"note", "ünïcode"}}).ok());
  EXPECT_FALSE(fs::exists(Cat(path, ".tmp.", std::to_string(::getpid()))));
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> f = SafetensorsFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status();
  std::vector<const TensorView*> views;
  for (const TensorView& v : (*f)->tensors()) views.push_back(&v);
  ExpectSameTensors(t.Span(), views);
  for (size_t i = 1; i < views.size(); ++i) EXPECT_LT(views[i - 1]->name, views[i]->name);
  EXPECT_EQ((*f)->metadata().at("note"), "ünïcode");
  ASSERT_NE((*f)->Find("scale"), nullptr);
  EXPECT_EQ((*f)->Find("scale")->numel(), 1);
  EXPECT_EQ((*f)->Find("empty")->numel(), 0);
  EXPECT_EQ((*f)->Find("nope"), nullptr);
}

// Property (reference layout, writer side): the file is an 8-byte little-endian N, N bytes of compact JSON padded
// with spaces to a multiple of 8, then the tensors back to back in name order with offsets relative to 8 + N.
TEST(Safetensors, WriterLayout) {
  const fs::path dir = TempDir("layout");
  Tensors t = Mixed(2);
  ASSERT_TRUE(WriteSafetensors((dir / "m.safetensors").string(), t.Span()).ok());
  const std::string bytes = ReadAll(dir / "m.safetensors");
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  ASSERT_LE(8 + n, bytes.size());
  EXPECT_EQ(n % 8, 0u);
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.front(), '{');
  const json j = json::parse(header);  // trailing spaces are JSON whitespace
  EXPECT_FALSE(j.contains("__metadata__"));  // empty metadata is not written
  uint64_t expect_offset = 0;
  std::vector<std::string> names;
  for (const TensorToWrite& x : t.list) names.push_back(x.name);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const json& e = j.at(name);
    EXPECT_EQ(e.at("data_offsets")[0].get<uint64_t>(), expect_offset) << name;
    const uint64_t end = e.at("data_offsets")[1].get<uint64_t>();
    const TensorToWrite* src = nullptr;
    for (const TensorToWrite& x : t.list) {
      if (x.name == name) src = &x;
    }
    ASSERT_EQ(end - expect_offset, src->data.size());
    if (!src->data.empty()) {  // an empty tensor's data() may be null, which memcmp must not get
      EXPECT_EQ(std::memcmp(bytes.data() + 8 + n + expect_offset, src->data.data(), src->data.size()), 0) << name;
    }
    EXPECT_EQ(e.at("dtype"), std::string(DTypeName(src->dtype)));
    expect_offset = end;
  }
  EXPECT_EQ(bytes.size(), 8 + n + expect_offset);
}

// Property (reference layout, reader side): a file assembled byte by byte from the spec, with an unpadded header,
// keys out of order and a BF16 tensor before an F32 one in the data section, parses to the right values.
TEST(Safetensors, HandBuiltFile) {
  const fs::path dir = TempDir("hand");
  const std::string header =
      R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},)"
      R"("__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[0,4]}})";
  std::string data;
  const uint16_t bf16[2] = {0x3f80, 0xc040};  // 1.0, -3.0
  data.append(reinterpret_cast<const char*>(bf16), 4);
  const float f32[2] = {0.5f, -7.25f};
  data.append(reinterpret_cast<const char*>(f32), 8);
  WriteAll(dir / "hand.safetensors", U64(header.size()) + header + data);
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> f = SafetensorsFile::Open((dir / "hand.safetensors").string());
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ((*f)->tensors().size(), 2u);
  EXPECT_EQ((*f)->tensors()[0].name, "b");  // data-offset order
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
  EXPECT_EQ(ToFloat32(*(*f)->Find("b")), std::vector<float>({1.0f, -3.0f}));
  EXPECT_EQ(ToFloat32(*(*f)->Find("w")), std::vector<float>({0.5f, -7.25f}));
  EXPECT_EQ((*f)->Find("b")->shape, std::vector<int64_t>({1, 2}));
}

// Property: F16 widening is exact for all 65536 bit patterns (normals, subnormals, ±0, ±inf, NaN with sign), checked
// against the IEEE definition computed in double; BF16 widening is exactly u16 << 16.
TEST(Safetensors, ToFloat32Exact) {
  std::vector<uint16_t> all(65536);
  for (uint32_t i = 0; i < 65536; ++i) all[i] = static_cast<uint16_t>(i);
  const std::vector<std::byte> bytes = AsBytes(all);
  TensorView half{"h", DType::kF16, {65536}, bytes};
  const std::vector<float> f = ToFloat32(half);
  ASSERT_EQ(f.size(), 65536u);
  for (uint32_t i = 0; i < 65536; ++i) {
    const int sign = (i >> 15) ? -1 : 1;
    const int exp = (i >> 10) & 31;
    const int mant = i & 1023;
    if (exp == 31) {
      if (mant == 0) {
        EXPECT_EQ(f[i], sign * INFINITY) << i;
      } else {
        EXPECT_TRUE(std::isnan(f[i])) << i;
      }
      EXPECT_EQ(std::signbit(f[i]), sign < 0) << i;
      continue;
    }
    const double expect = exp == 0 ? sign * std::ldexp(double(mant), -24) : sign * std::ldexp(1024.0 + mant, exp - 25);
    EXPECT_EQ(double(f[i]), expect) << i;
    EXPECT_EQ(std::signbit(f[i]), sign < 0) << i;
  }
  EXPECT_EQ(f[0x3c00], 1.0f);
  EXPECT_EQ(f[0x7bff], 65504.0f);
  EXPECT_EQ(f[0x0001], std::ldexp(1.0f, -24));

  TensorView brain{"b", DType::kBF16, {65536}, bytes};
  const std::vector<float> b = ToFloat32(brain);
  for (uint32_t i = 0; i < 65536; ++i) ASSERT_EQ(std::bit_cast<uint32_t>(b[i]), i << 16) << i;
}

// Property: a checkpoint over the shard limit is split greedily in name order into model-0000i-of-0000n files plus
// an index whose weight_map and total_size match, and the folder reads back identical; under the limit it is
// one model.safetensors.
TEST(Safetensors, ShardedCheckpoint) {
  const fs::path dir = TempDir("sharded");
  std::mt19937 rng(3);
  Tensors t;
  uint64_t total = 0;
  for (int i = 0; i < 12; ++i) {
    const int64_t rows = 1 + static_cast<int64_t>(rng() % 20);
    t.Add(Cat("layer.", std::to_string(i), ".w"), i % 3 == 0 ? DType::kF32 : DType::kBF16, {rows, 8},
          RandomBytes(static_cast<size_t>(rows * 8 * (i % 3 == 0 ? 4 : 2)), rng));
    total += t.storage.back().size();
  }
  t.Add("scalar", DType::kF32, {}, RandomBytes(4, rng));
  t.Add("nothing", DType::kF16, {0}, {});
  total += 4;
  ASSERT_TRUE(WriteSafetensorsCheckpoint(dir.string(), t.Span(), 300).ok());
  const json index = json::parse(ReadAll(dir / "model.safetensors.index.json"));
  EXPECT_EQ(index["metadata"]["total_size"].get<uint64_t>(), total);
  std::set<std::string> files;
  for (auto& [name, file] : index["weight_map"].items()) files.insert(file.get<std::string>());
  EXPECT_EQ(index["weight_map"].size(), t.list.size());
  ASSERT_GT(files.size(), 2u);
  char first[64];
  std::snprintf(first, sizeof first, "model-00001-of-%05zu.safetensors", files.size());
  EXPECT_EQ(*files.begin(), first);
  EXPECT_FALSE(fs::exists(dir / "model.safetensors"));
  for (const std::string& file : files) {
    EXPECT_LE(fs::file_size(dir / file), 300u + 1024u) << file;  // data ≤ limit (no tensor here exceeds it)
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> shard = SafetensorsFile::Open((dir / file).string());
    ASSERT_TRUE(shard.ok()) << shard.status();
    EXPECT_EQ((*shard)->metadata().at("format"), "pt");  // transformers refuses other formats
  }
  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> ck = SafetensorsCheckpoint::Open(dir.string());
  ASSERT_TRUE(ck.ok()) << ck.status();
  ExpectSameTensors(t.Span(), (*ck)->tensors());
  for (size_t i = 1; i < (*ck)->tensors().size(); ++i) {
    EXPECT_LT((*ck)->tensors()[i - 1]->name, (*ck)->tensors()[i]->name);
  }
  ASSERT_NE((*ck)->Find("layer.7.w"), nullptr);
  EXPECT_EQ((*ck)->Find("layer.7.w")->name, "layer.7.w");
  EXPECT_EQ((*ck)->Find("layer.77.w"), nullptr);
  // The index path itself opens too.
  EXPECT_TRUE(SafetensorsCheckpoint::Open((dir / "model.safetensors.index.json").string()).ok());

  const fs::path one = TempDir("single");
  ASSERT_TRUE(WriteSafetensorsCheckpoint(one.string(), t.Span()).ok());
  EXPECT_TRUE(fs::exists(one / "model.safetensors"));
  EXPECT_FALSE(fs::exists(one / "model.safetensors.index.json"));
  ck = SafetensorsCheckpoint::Open(one.string());
  ASSERT_TRUE(ck.ok()) << ck.status();
  ExpectSameTensors(t.Span(), (*ck)->tensors());
}

std::set<std::string> FolderFiles(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

// Property: saving over an earlier save (sharded → same shard count, → other count, → single, → sharded) always
// leaves exactly the new set plus unrelated files, including when new shard names collide with old ones (the staged
// path), and removes leftovers of a crashed save.
TEST(Safetensors, ResaveReplacesOldSet) {
  const fs::path dir = TempDir("resave");
  WriteAll(dir / "config.json", "{}");
  WriteAll(dir / "model_ema.safetensors", "not ours");
  WriteAll(dir / "model-00001-of-00002.staged-0.safetensors", "crash leftover");
  WriteAll(dir / "model.safetensors.tmp.999", "crash leftover");
  const std::vector<std::pair<uint32_t, uint64_t>> saves = {{10, 200}, {11, 200}, {12, 80}, {13, 1 << 20}, {15, 1 << 20}, {14, 200}};
  for (const auto& [seed, limit] : saves) {
    std::mt19937 rng(seed);
    Tensors t;
    for (int i = 0; i < 6; ++i) t.Add(Cat("t", std::to_string(i)), DType::kF32, {10}, RandomBytes(40, rng));
    ASSERT_TRUE(WriteSafetensorsCheckpoint(dir.string(), t.Span(), limit).ok()) << seed;
    absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> ck = SafetensorsCheckpoint::Open(dir.string());
    ASSERT_TRUE(ck.ok()) << ck.status();
    ExpectSameTensors(t.Span(), (*ck)->tensors());
    std::set<std::string> expected = {"config.json", "model_ema.safetensors"};
    if (limit >= 240) {
      expected.insert("model.safetensors");
    } else {
      const int per = static_cast<int>(limit / 40), n = (6 + per - 1) / per;
      expected.insert("model.safetensors.index.json");
      for (int s = 1; s <= n; ++s) {
        expected.insert(Cat("model-0000", std::to_string(s), "-of-0000", std::to_string(n), ".safetensors"));
      }
    }
    EXPECT_EQ(FolderFiles(dir), expected) << "save with seed " << seed;
  }
}

// Property: a folder whose shards disagree with the index (a tensor moved, a shard missing, a path outside the
// folder) or that has no checkpoint at all is refused, naming the shard or folder.
TEST(Safetensors, CheckpointMismatch) {
  const fs::path dir = TempDir("mismatch");
  Tensors t;
  for (int i = 0; i < 4; ++i) t.Add(Cat("t", std::to_string(i)), DType::kF32, {4}, std::vector<std::byte>(16));
  ASSERT_TRUE(WriteSafetensorsCheckpoint(dir.string(), t.Span(), 32).ok());
  const json good = json::parse(ReadAll(dir / "model.safetensors.index.json"));
  auto open_with = [&](const json& index) {
    WriteAll(dir / "model.safetensors.index.json", index.dump());
    absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> ck = SafetensorsCheckpoint::Open(dir.string());
    return ck.ok() ? std::string("OK") : std::string(ck.status().message());
  };
  EXPECT_EQ(open_with(good), "OK");
  json moved = good;
  moved["weight_map"]["t0"] = "model-00002-of-00002.safetensors";
  std::string msg = open_with(moved);
  EXPECT_NE(msg.find("model-0000"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'t0'"), std::string::npos) << msg;
  json extra = good;
  extra["weight_map"]["t9"] = "model-00001-of-00002.safetensors";
  msg = open_with(extra);
  EXPECT_NE(msg.find("model-00001-of-00002.safetensors: lacks tensor 't9'"), std::string::npos) << msg;
  json missing = good;
  missing["weight_map"]["t9"] = "model-00003-of-00003.safetensors";
  msg = open_with(missing);
  EXPECT_NE(msg.find("cannot open"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model-00003-of-00003.safetensors"), std::string::npos) << msg;
  json outside = good;
  outside["weight_map"]["t3"] = "../evil.safetensors";
  msg = open_with(outside);
  EXPECT_NE(msg.find("same folder"), std::string::npos) << msg;
  msg = open_with(json::array());
  EXPECT_NE(msg.find("not a JSON object"), std::string::npos) << msg;
  const fs::path empty = TempDir("empty");
  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> ck = SafetensorsCheckpoint::Open(empty.string());
  ASSERT_FALSE(ck.ok());
  EXPECT_EQ(ck.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(ck.status().message()).find("no model.safetensors"), std::string::npos);
}

// Property: the writer refuses inputs that would make an invalid file (byte count ≠ shape × dtype, duplicate or
// reserved names) instead of writing them.
TEST(Safetensors, WriterRefusesBadInput) {
  const fs::path dir = TempDir("badinput");
  Tensors t;
  t.Add("a", DType::kF32, {2, 2}, std::vector<std::byte>(12));
  EXPECT_FALSE(WriteSafetensors((dir / "x.safetensors").string(), t.Span()).ok());
  Tensors d;
  d.Add("a", DType::kF16, {1}, std::vector<std::byte>(2));
  d.Add("a", DType::kF16, {1}, std::vector<std::byte>(2));
  EXPECT_FALSE(WriteSafetensors((dir / "x.safetensors").string(), d.Span()).ok());
  EXPECT_FALSE(WriteSafetensorsCheckpoint(dir.string(), d.Span(), 1).ok());
  Tensors r;
  r.Add("__metadata__", DType::kF16, {1}, std::vector<std::byte>(2));
  EXPECT_FALSE(WriteSafetensors((dir / "x.safetensors").string(), r.Span()).ok());
  EXPECT_TRUE(FolderFiles(dir).empty());
}

struct Hostile {
  std::string name;
  std::string bytes;  // the whole file
  std::string needle;  // must appear in the error
};

std::string File(const std::string& header, size_t data_bytes) {
  return Cat(U64(header.size()), header, std::string(data_bytes, '\0'));
}

// Property: each malformed file is refused (InvalidArgument, never a crash or a view past the mapping) with a
// message naming the file and the specific problem.
TEST(Safetensors, HostileHeaders) {
  const fs::path dir = TempDir("hostile");
  const std::string ok_entry = R"("a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]})";
  const std::vector<Hostile> cases = {
      {"short file", std::string(5, '\0'), "too short"},
      {"huge N", Cat(U64(uint64_t{1} << 63), "{}"), "exceeds"},
      {"N past EOF", Cat(U64(1000), "{}", std::string(50, ' ')), "past the end of the file"},
      {"bad JSON", File(R"({"a":{"dtype":"F32",)", 0), "invalid JSON"},
      {"empty header", File("", 0), "invalid JSON"},
      {"not an object", File("[1,2]", 0), "not a JSON object"},
      {"offsets past end", File(Cat("{", ok_entry, "}"), 8), "run past the data section"},
      {"begin after end", File(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8), "end before"},
      {"overlap",
       File(Cat("{", ok_entry, R"(,"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})"), 24), "overlap"},
      {"wrong byte count", File(R"({"x":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})", 16),
       "tensor 'x': data_offsets [0, 12] hold 12 bytes but F32 [2,2] needs 16"},
      {"shape overflow",
       File(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0), "more elements"},
      {"bytes overflow", File(R"({"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})", 0),
       "needs more than 2^64 bytes"},
      {"negative dim", File(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", 0),
       "not a non-negative integer"},
      {"float dim", File(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,0]}})", 0),
       "not a non-negative integer"},
      {"non-string metadata", File(R"({"__metadata__":{"step":5}})", 0), "__metadata__ 'step' must be a string"},
      {"metadata not object", File(R"({"__metadata__":[1]})", 0), "__metadata__ must be an object"},
      {"unsupported dtype", File(R"({"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", 8),
       "tensor 'ids': unsupported dtype 'I64'"},
      {"F64", File(R"({"d":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", 8), "unsupported dtype 'F64'"},
      {"unknown dtype", File(R"({"q":{"dtype":"Q4_K","shape":[1],"data_offsets":[0,8]}})", 8), "unknown dtype"},
      {"missing dtype", File(R"({"q":{"shape":[1],"data_offsets":[0,4]}})", 4), "dtype missing"},
      {"missing shape", File(R"({"q":{"dtype":"F32","data_offsets":[0,4]}})", 4), "shape missing"},
      {"three offsets", File(R"({"q":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", 8), "data_offsets"},
      {"negative offset", File(R"({"q":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", 8), "data_offsets"},
      {"entry not object", File(R"({"q":[1,2]})", 0), "entry must be an object"},
      {"deep nesting", File(Cat(std::string(100000, '['), std::string(100000, ']')), 0), "nested deeper"},
      {"duplicate name", File(Cat("{", ok_entry, ",", ok_entry, "}"), 16), "listed twice"},
  };
  for (const Hostile& h : cases) {
    const fs::path path = dir / "h.safetensors";
    WriteAll(path, h.bytes);
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> f = SafetensorsFile::Open(path.string());
    ASSERT_FALSE(f.ok()) << h.name;
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument) << h.name;
    const std::string message(f.status().message());
    EXPECT_EQ(message.rfind(Cat(path.string(), ": "), 0), 0u) << h.name << ": " << message;
    EXPECT_NE(message.find(h.needle), std::string::npos) << h.name << ": '" << h.needle << "' not in: " << message;
  }
  // Gaps between tensors and empty tensors placed inside another's range are harmless and accepted.
  WriteAll(dir / "ok.safetensors",
           File(Cat("{", ok_entry, R"(,"e":{"dtype":"F16","shape":[0],"data_offsets":[4,4]}})"), 24));
  EXPECT_TRUE(SafetensorsFile::Open((dir / "ok.safetensors").string()).ok());
}

// Property: ~2000 seeded mutations of a valid file (byte flips in the header, digit swaps that hit offsets and
// shapes, structural characters, rewritten or off-by-a-bit lengths, truncations) each either open cleanly, with
// every view inside the mapping and sized numel × dtype, or return an error; the reader never crashes.
TEST(Safetensors, HeaderFuzz) {
  const fs::path dir = TempDir("fuzz");
  Tensors t = Mixed(4);
  ASSERT_TRUE(WriteSafetensors((dir / "base.safetensors").string(), t.Span(), {{"format", "pt"}}).ok());
  const std::string base = ReadAll(dir / "base.safetensors");
  uint64_t n;
  std::memcpy(&n, base.data(), 8);
  std::mt19937 rng(20240611);
  const std::string structural = "{}[],:\"0123456789-.e ";
  int ok = 0, refused = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int iter = 0; iter < 2000; ++iter) {
    std::string bytes = base;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = 8 + rng() % n;  // inside the header
      switch (rng() % 7) {
        case 0: bytes[pos] = static_cast<char>(bytes[pos] ^ (1 << (rng() % 8))); break;
        case 1: bytes[pos] = structural[rng() % structural.size()]; break;
        case 2:
          if (bytes[pos] >= '0' && bytes[pos] <= '9') bytes[pos] = static_cast<char>('0' + rng() % 10);
          break;
        case 3: {  // a new length: random, near the real one, or at the edges
          const uint64_t choices[] = {rng() | (uint64_t{rng()} << 32), n + rng() % 16 - 8, bytes.size() - 8,
                                      bytes.size() - 7, 0, 1};
          const uint64_t len = choices[rng() % 6];
          std::memcpy(bytes.data(), &len, 8);
          break;
        }
        case 4: bytes.resize(rng() % bytes.size()); break;
        case 5: bytes.insert(pos, 1, structural[rng() % structural.size()]); break;
        case 6: bytes.erase(pos, 1); break;
      }
      if (bytes.size() <= 8 + n) break;  // later header edits would index past the end
    }
    const fs::path path = dir / "f.safetensors";
    // Unlink first: truncating an existing file makes ext4 flush it (auto_da_alloc), 1000× slower on a busy disk.
    fs::remove(path);
    WriteAll(path, bytes);
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> f = SafetensorsFile::Open(path.string());
    if (!f.ok()) {
      ++refused;
      EXPECT_FALSE(f.status().message().empty());
      continue;
    }
    ++ok;
    uint64_t len;
    std::memcpy(&len, bytes.data(), 8);
    for (const TensorView& v : (*f)->tensors()) {
      EXPECT_EQ(v.data.size(), static_cast<uint64_t>(v.numel()) * DTypeBytes(v.dtype)) << iter;
      EXPECT_EQ(ToFloat32(v).size(), static_cast<size_t>(v.numel()));  // touches every byte of the view
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GT(ok, 0);
  EXPECT_GT(refused, 0);
  EXPECT_LT(seconds, 30.0);
  std::printf("fuzz: %d opened, %d refused in %.2f s\n", ok, refused, seconds);
}

}  // namespace
}  // namespace distill::hf
