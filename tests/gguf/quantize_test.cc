// Our quantizers against ggml's own: libggml-base.so from node-llama-cpp is dlopen'ed and its
// ggml_quantize_chunk (which, with no importance matrix, runs the *_ref quantizers) must produce the same bytes,
// and its dequantize_row_* the same floats, for every supported type, data pattern and thread count.
#include <dlfcn.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tools/gguf/quant_blocks.h"
#include "tools/gguf/quantize.h"

namespace distill::gguf {
namespace {

const char kLibrary[] = DISTILL_NPM_MODULES "/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so";

struct Ggml {
  void* handle = nullptr;
  size_t (*quantize_chunk)(int, const float*, void*, int64_t, int64_t, int64_t, const float*) = nullptr;
  size_t (*row_size)(int, int64_t) = nullptr;
  int64_t (*blck_size)(int) = nullptr;
  size_t (*type_size)(int) = nullptr;
  void (*quantize_init)(int) = nullptr;
  void (*fp16_to_fp32_row)(const uint16_t*, float*, int64_t) = nullptr;
  void (*bf16_to_fp32_row)(const uint16_t*, float*, int64_t) = nullptr;

  template <typename Fn>
  void Bind(Fn& fn, const char* symbol) {
    fn = reinterpret_cast<Fn>(dlsym(handle, symbol));
  }
  using Dequant = void (*)(const void*, float*, int64_t);
  Dequant DequantFor(GgmlType type) const {
    const char* symbol = nullptr;
    switch (type) {
      case GgmlType::kQ8_0: symbol = "dequantize_row_q8_0"; break;
      case GgmlType::kQ4_0: symbol = "dequantize_row_q4_0"; break;
      case GgmlType::kQ5_0: symbol = "dequantize_row_q5_0"; break;
      case GgmlType::kQ5_1: symbol = "dequantize_row_q5_1"; break;
      case GgmlType::kQ4_K: symbol = "dequantize_row_q4_K"; break;
      case GgmlType::kQ5_K: symbol = "dequantize_row_q5_K"; break;
      case GgmlType::kQ6_K: symbol = "dequantize_row_q6_K"; break;
      default: return nullptr;
    }
    return reinterpret_cast<Dequant>(dlsym(handle, symbol));
  }
};

const Ggml& Lib() {
  static const Ggml* lib = [] {
    auto* g = new Ggml;
    g->handle = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
    if (g->handle == nullptr) return g;
    g->Bind(g->quantize_chunk, "ggml_quantize_chunk");
    g->Bind(g->row_size, "ggml_row_size");
    g->Bind(g->blck_size, "ggml_blck_size");
    g->Bind(g->type_size, "ggml_type_size");
    g->Bind(g->quantize_init, "ggml_quantize_init");
    g->Bind(g->fp16_to_fp32_row, "ggml_fp16_to_fp32_row");
    g->Bind(g->bf16_to_fp32_row, "ggml_bf16_to_fp32_row");
    return g;
  }();
  return *lib;
}

class QuantizeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const Ggml& g = Lib();
    ASSERT_NE(g.handle, nullptr) << "cannot dlopen " << kLibrary << ": run tools/setup.sh";
    ASSERT_TRUE(g.quantize_chunk && g.row_size && g.blck_size && g.type_size && g.quantize_init &&
                g.fp16_to_fp32_row && g.bf16_to_fp32_row);
  }
};

constexpr GgmlType kAllTypes[] = {GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kQ5_1,
                                  GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K, GgmlType::kF16,
                                  GgmlType::kBF16, GgmlType::kF32};

std::vector<float> Gaussian(int64_t count, float sigma, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(static_cast<size_t>(count));
  for (auto& x : v) x = dist(rng);
  return v;
}

// Compares our bytes (1 and 4 threads) and dequantization to ggml's for one matrix.
void ExpectSameAsGgml(GgmlType type, const std::vector<float>& src, int64_t n_per_row, const std::string& label) {
  SCOPED_TRACE(label + " " + TypeTraitsOf(type)->name + " n_per_row=" + std::to_string(n_per_row));
  const Ggml& g = Lib();
  const int t = static_cast<int>(type);
  const int64_t rows = static_cast<int64_t>(src.size()) / n_per_row;
  g.quantize_init(t);
  const size_t row_bytes = g.row_size(t, n_per_row);
  ASSERT_EQ(static_cast<int64_t>(row_bytes), *RowBytes(type, n_per_row));
  std::vector<std::byte> expected(row_bytes * static_cast<size_t>(rows));
  ASSERT_EQ(g.quantize_chunk(t, src.data(), expected.data(), 0, rows, n_per_row, nullptr), expected.size());

  for (int threads : {1, 4}) {
    std::vector<std::byte> ours(expected.size(), std::byte{0xAB});
    ASSERT_TRUE(QuantizeRows(type, src.data(), rows, n_per_row, ours.data(), threads).ok());
    size_t first = 0;
    while (first < ours.size() && ours[first] == expected[first]) ++first;
    ASSERT_EQ(first, ours.size()) << "threads=" << threads << ": first differing byte " << first << " (row "
                                  << first / row_bytes << ", byte " << first % row_bytes << "): ours "
                                  << int(ours[first]) << ", ggml " << int(expected[first]);
  }

  std::vector<float> ggml_floats(src.size()), our_floats(src.size());
  if (type == GgmlType::kF32) {
    std::memcpy(ggml_floats.data(), expected.data(), expected.size());
  } else if (type == GgmlType::kF16 || type == GgmlType::kBF16) {
    auto fn = type == GgmlType::kF16 ? g.fp16_to_fp32_row : g.bf16_to_fp32_row;
    fn(reinterpret_cast<const uint16_t*>(expected.data()), ggml_floats.data(), static_cast<int64_t>(src.size()));
  } else {
    auto fn = g.DequantFor(type);
    ASSERT_NE(fn, nullptr);
    fn(expected.data(), ggml_floats.data(), static_cast<int64_t>(src.size()));
  }
  ASSERT_TRUE(DequantizeRows(type, expected.data(), rows, n_per_row, our_floats.data(), 3).ok());
  for (size_t i = 0; i < src.size(); ++i) {
    // Bitwise, so NaN payloads and signed zeros count too.
    ASSERT_EQ(std::bit_cast<uint32_t>(our_floats[i]), std::bit_cast<uint32_t>(ggml_floats[i]))
        << "dequantized element " << i << ": ours " << our_floats[i] << ", ggml " << ggml_floats[i];
  }
}

TEST_F(QuantizeTest, TypeTableMatchesGgml) {
  for (uint32_t id = 0; id < 64; ++id) {
    const auto traits = TypeTraitsOf(id);
    if (!traits) continue;
    SCOPED_TRACE(traits->name);
    EXPECT_EQ(Lib().blck_size(static_cast<int>(id)), traits->block_size);
    EXPECT_EQ(static_cast<int64_t>(Lib().type_size(static_cast<int>(id))), traits->block_bytes);
  }
}

TEST_F(QuantizeTest, GaussianWeightShapes) {
  uint32_t seed = 1;
  for (GgmlType type : kAllTypes) {
    for (auto [rows, n] : {std::pair<int64_t, int64_t>{3, 1536}, {5, 4096}, {1, 256}, {37, 512}}) {
      ExpectSameAsGgml(type, Gaussian(rows * n, 0.02f, seed++), n, "gaussian(0.02)");
    }
    ExpectSameAsGgml(type, Gaussian(4 * 2048, 1.0f, seed++), 2048, "gaussian(1)");
  }
}

TEST_F(QuantizeTest, ManyRowsExerciseThreads) {
  for (GgmlType type : kAllTypes) {
    ExpectSameAsGgml(type, Gaussian(300 * 1024, 0.05f, 99), 1024, "300 rows");
  }
}

TEST_F(QuantizeTest, Outliers) {
  for (GgmlType type : kAllTypes) {
    auto v = Gaussian(8 * 1536, 0.02f, 7);
    std::mt19937 rng(11);
    for (size_t i = 0; i < v.size(); i += 1 + rng() % 97) v[i] *= (rng() % 2 ? 60.0f : -45.0f);
    ExpectSameAsGgml(type, v, 1536, "outliers");
  }
}

TEST_F(QuantizeTest, ZerosTinyAndConstantRows) {
  const int64_t n = 512;
  std::vector<float> v;
  auto add_row = [&](auto fn) {
    for (int64_t i = 0; i < n; ++i) v.push_back(fn(i));
  };
  add_row([](int64_t) { return 0.0f; });
  add_row([](int64_t i) { return i % 3 == 0 ? -0.0f : 0.0f; });
  add_row([](int64_t i) { return (i % 7 - 3) * 1e-30f; });  // d underflows fp16
  add_row([](int64_t i) { return (i % 5 - 2) * 1e-7f; });   // fp16 subnormal scales
  add_row([](int64_t i) { return (i % 11 - 5) * 1e-20f; });
  add_row([](int64_t) { return 0.75f; });
  add_row([](int64_t) { return -3.5f; });
  add_row([](int64_t i) { return i % 64 == 5 ? 1.0f : 0.0f; });  // one spike per block
  add_row([](int64_t i) { return i < 256 ? 0.0f : 1e4f * static_cast<float>(i % 9); });  // half zero
  for (GgmlType type : kAllTypes) ExpectSameAsGgml(type, v, n, "special rows");
}

TEST_F(QuantizeTest, RandomScalesFuzz) {
  std::mt19937 rng(2024);
  std::uniform_real_distribution<float> exponent(-8.0f, 4.0f);
  for (GgmlType type : kAllTypes) {
    std::vector<float> v;
    const int64_t n = 256;
    for (int r = 0; r < 200; ++r) {
      const float scale = std::pow(10.0f, exponent(rng));
      const float shift = (rng() % 4 == 0) ? scale * static_cast<float>(rng() % 5) : 0.0f;
      const auto row = Gaussian(n, scale, static_cast<uint32_t>(rng()));
      for (float x : row) v.push_back(x + shift);
    }
    ExpectSameAsGgml(type, v, n, "random scales");
  }
}

// Skewed, one-sided and grid-valued blocks: the K-quant scale search accepts candidates that move its min (and
// later candidates then search from there) and meets exact rounding ties; the lane-parallel search must agree.
TEST_F(QuantizeTest, SkewedOneSidedAndGridBlocksFuzz) {
  std::mt19937 rng(77);
  std::exponential_distribution<float> skewed(3.0f);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  const int64_t n = 256;
  std::vector<float> v;
  for (int r = 0; r < 240; ++r) {
    const int kind = r % 6;
    for (int64_t i = 0; i < n; ++i) {
      float x = 0;
      switch (kind) {
        case 0: x = skewed(rng); break;                                     // all positive, long tail
        case 1: x = -skewed(rng); break;                                    // all negative
        case 2: x = skewed(rng) - 0.1f; break;                              // mostly positive
        case 3: x = static_cast<float>(static_cast<int>(rng() % 31) - 8) / 4.0f; break;  // a grid: rounding ties
        case 4: x = uniform(rng) * (i % 32 < 4 ? 20.0f : 0.5f); break;      // a few large values per sub-block
        default: x = uniform(rng) + (i % 32 == 0 ? 3.0f : 0.0f); break;     // one spike per sub-block
      }
      v.push_back(x);
    }
  }
  for (GgmlType type : kAllTypes) ExpectSameAsGgml(type, v, n, "skewed, one-sided and grid blocks");
}

// QuantizeRows runs the build of the K-quant quantizers this CPU picks (quant_k.cc as is, or for AVX2); each
// build on its own gives ggml's bytes, on Gaussian rows and on the skewed, one-sided and grid blocks above.
TEST_F(QuantizeTest, EveryInstructionSetBuildOfKQuantsMatchesGgml) {
  using Row = void (*)(const float*, std::byte*, int64_t);
  struct Build {
    const char* name;
    Row q4_k, q5_k, q6_k;
  };
  std::vector<Build> builds = {{"baseline", internal::baseline::QuantizeRowQ4_K, internal::baseline::QuantizeRowQ5_K,
                                internal::baseline::QuantizeRowQ6_K}};
#if defined(DISTILL_QUANT_AVX2)
  if (__builtin_cpu_supports("avx2")) {
    builds.push_back({"avx2", internal::avx2::QuantizeRowQ4_K, internal::avx2::QuantizeRowQ5_K,
                      internal::avx2::QuantizeRowQ6_K});
  }
#endif
  const int64_t n = 256;
  std::vector<float> v = Gaussian(64 * n, 0.02f, 5);
  std::mt19937 rng(78);
  std::exponential_distribution<float> skewed(3.0f);
  for (int r = 0; r < 64; ++r) {
    for (int64_t i = 0; i < n; ++i) {
      const float x = r % 3 == 0   ? skewed(rng)
                      : r % 3 == 1 ? -skewed(rng)
                                   : static_cast<float>(static_cast<int>(rng() % 31) - 8) / 4.0f;
      v.push_back(x);
    }
  }
  const int64_t rows = static_cast<int64_t>(v.size()) / n;
  const Ggml& g = Lib();
  for (GgmlType type : {GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K}) {
    const int t = static_cast<int>(type);
    g.quantize_init(t);
    const size_t row_bytes = g.row_size(t, n);
    std::vector<std::byte> expected(row_bytes * static_cast<size_t>(rows));
    ASSERT_EQ(g.quantize_chunk(t, v.data(), expected.data(), 0, rows, n, nullptr), expected.size());
    for (const Build& b : builds) {
      SCOPED_TRACE(std::string(b.name) + " " + TypeTraitsOf(type)->name);
      const Row row = type == GgmlType::kQ4_K ? b.q4_k : type == GgmlType::kQ5_K ? b.q5_k : b.q6_k;
      std::vector<std::byte> ours(expected.size(), std::byte{0xAB});
      for (int64_t r = 0; r < rows; ++r) row(v.data() + r * n, ours.data() + r * static_cast<int64_t>(row_bytes), n);
      ASSERT_TRUE(ours == expected);
    }
  }
  std::printf("K-quant builds checked: %zu\n", builds.size());
}

TEST_F(QuantizeTest, HalfPrecisionEdgeValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> v = {0.0f, -0.0f, 1.0f, -1.0f, 65504.0f, 65519.0f, 65520.0f, 70000.0f, -1e9f, inf, -inf, nan,
                          -nan, 5.96e-8f, 2.98e-8f, 2.99e-8f, 1e-10f, 6.1e-5f, 6.1035e-5f, 1.00048828125f,
                          1.000732421875f, 3.3895314e38f, 1e-40f, std::bit_cast<float>(0x7f800001u),
                          std::bit_cast<float>(0x3f808000u), std::bit_cast<float>(0x3f818000u),
                          std::bit_cast<float>(0x3f80ffffu), std::bit_cast<float>(0x7f7fffffu)};
  std::mt19937 rng(5);
  while (v.size() % 32 != 0 || v.size() < 4096) v.push_back(std::bit_cast<float>(static_cast<uint32_t>(rng())));
  for (GgmlType type : {GgmlType::kF16, GgmlType::kBF16, GgmlType::kF32}) {
    ExpectSameAsGgml(type, v, static_cast<int64_t>(v.size()), "edge values");
  }
}

TEST_F(QuantizeTest, RefusesBadShapesAndNonFinite) {
  std::vector<float> v(512, 1.0f);
  std::vector<std::byte> out(4096);
  EXPECT_FALSE(QuantizeRows(GgmlType::kQ4_K, v.data(), 1, 128, out.data()).ok());
  EXPECT_FALSE(QuantizeRows(GgmlType::kQ8_0, v.data(), 1, 48, out.data()).ok());
  EXPECT_FALSE(QuantizeRows(static_cast<GgmlType>(3), v.data(), 1, 32, out.data()).ok());  // q4_1: no quantizer
  EXPECT_FALSE(RowBytes(static_cast<GgmlType>(5), 32).ok());                              // removed id
  EXPECT_FALSE(RowBytes(GgmlType::kF32, int64_t{1} << 62).ok());  // 2^64 bytes: refused, not wrapped around
  EXPECT_EQ(*RowBytes(GgmlType::kF32, int64_t{1} << 60), int64_t{1} << 62);
  EXPECT_FALSE(Quantize(GgmlType::kQ8_0, v, 100).ok());                                   // 512 % 100
  v[77] = std::numeric_limits<float>::infinity();
  auto status = QuantizeRows(GgmlType::kQ8_0, v.data(), 2, 256, out.data());
  EXPECT_FALSE(status.ok());
  EXPECT_NE(std::string(status.message()).find("row 0, column 77"), std::string::npos) << status.message();
  EXPECT_TRUE(QuantizeRows(GgmlType::kF16, v.data(), 2, 256, out.data()).ok());  // F16 represents inf
}

TEST_F(QuantizeTest, RoundTripHelpers) {
  const auto v = Gaussian(4 * 256, 0.1f, 3);
  for (GgmlType type : kAllTypes) {
    auto bytes = Quantize(type, v, 256);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_EQ(static_cast<int64_t>(bytes->size()), 4 * *RowBytes(type, 256));
    auto back = Dequantize(type, *bytes, 256);
    ASSERT_TRUE(back.ok()) << back.status();
    ASSERT_EQ(back->size(), v.size());
    double err = 0, norm = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      err += ((*back)[i] - v[i]) * ((*back)[i] - v[i]);
      norm += v[i] * v[i];
    }
    EXPECT_LT(std::sqrt(err / norm), 0.12) << TypeTraitsOf(type)->name;  // 4-bit types are ~0.1 relative
  }
  EXPECT_FALSE(Dequantize(GgmlType::kQ4_0, std::vector<std::byte>(17), 32).ok());
}

}  // namespace
}  // namespace distill::gguf
