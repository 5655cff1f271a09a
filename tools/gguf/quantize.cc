#include "tools/gguf/quantize.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <thread>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "absl/strings/str_cat.h"
#include "tools/gguf/quant_blocks.h"

namespace distill::gguf {
namespace {

// Block geometry of ggml's types (ggml.c type_traits); ids that were removed from ggml (4, 5, 31–33, …) are
// absent so the reader refuses them instead of guessing a size.
struct TypeEntry {
  uint32_t id;
  TypeTraits traits;
};
constexpr TypeEntry kTypes[] = {
    {0, {"f32", 1, 4}},          {1, {"f16", 1, 2}},          {2, {"q4_0", 32, 18}},
    {3, {"q4_1", 32, 20}},       {6, {"q5_0", 32, 22}},       {7, {"q5_1", 32, 24}},
    {8, {"q8_0", 32, 34}},       {9, {"q8_1", 32, 36}},       {10, {"q2_K", 256, 84}},
    {11, {"q3_K", 256, 110}},    {12, {"q4_K", 256, 144}},    {13, {"q5_K", 256, 176}},
    {14, {"q6_K", 256, 210}},    {15, {"q8_K", 256, 292}},    {16, {"iq2_xxs", 256, 66}},
    {17, {"iq2_xs", 256, 74}},   {18, {"iq3_xxs", 256, 98}},  {19, {"iq1_s", 256, 50}},
    {20, {"iq4_nl", 32, 18}},    {21, {"iq3_s", 256, 110}},   {22, {"iq2_s", 256, 82}},
    {23, {"iq4_xs", 256, 136}},  {24, {"i8", 1, 1}},          {25, {"i16", 1, 2}},
    {26, {"i32", 1, 4}},         {27, {"i64", 1, 8}},         {28, {"f64", 1, 8}},
    {29, {"iq1_m", 256, 56}},    {30, {"bf16", 1, 2}},        {34, {"tq1_0", 256, 54}},
    {35, {"tq2_0", 256, 66}},    {39, {"mxfp4", 32, 17}},
};

using RowFn = void (*)(const float*, std::byte*, int64_t);
using DerowFn = void (*)(const std::byte*, float*, int64_t);

uint32_t F32Bits(float f) { return std::bit_cast<uint32_t>(f); }
float F32FromBits(uint32_t u) { return std::bit_cast<float>(u); }

void F32Row(const float* x, std::byte* out, int64_t n) { std::memcpy(out, x, static_cast<size_t>(n) * 4); }
void F16RowScalar(const float* x, std::byte* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = Fp32ToFp16(x[i]);
    std::memcpy(out + 2 * i, &h, 2);
  }
}
#if defined(__x86_64__)
// Eight at a time with F16C's VCVTPS2PH: round-to-nearest-even like Fp32ToFp16, so the same bits, except that the
// instruction keeps a NaN's payload where ggml's reference writes sign | 0x7E00; those lanes are redone.
__attribute__((target("avx,f16c"))) void F16RowF16c(const float* x, std::byte* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2 * i), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    if (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)) != 0) F16RowScalar(x + i, out + 2 * i, 8);
  }
  F16RowScalar(x + i, out + 2 * i, n - i);
}
#endif
void F16Row(const float* x, std::byte* out, int64_t n) {
#if defined(__x86_64__)
  static const bool f16c = __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
  if (f16c) return F16RowF16c(x, out, n);
#endif
  F16RowScalar(x, out, n);
}
void BF16Row(const float* x, std::byte* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = Fp32ToBf16(x[i]);
    std::memcpy(out + 2 * i, &h, 2);
  }
}
void F32Derow(const std::byte* in, float* y, int64_t n) { std::memcpy(y, in, static_cast<size_t>(n) * 4); }
void F16Derow(const std::byte* in, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, in + 2 * i, 2);
    y[i] = Fp16ToFp32(h);
  }
}
void BF16Derow(const std::byte* in, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, in + 2 * i, 2);
    y[i] = Bf16ToFp32(h);
  }
}

struct Kernels {
  RowFn quantize = nullptr;
  DerowFn dequantize = nullptr;
};

Kernels KernelsOf(GgmlType type) {
  switch (type) {
    case GgmlType::kF32: return {F32Row, F32Derow};
    case GgmlType::kF16: return {F16Row, F16Derow};
    case GgmlType::kBF16: return {BF16Row, BF16Derow};
    case GgmlType::kQ8_0: return {internal::QuantizeRowQ8_0, internal::DequantizeRowQ8_0};
    case GgmlType::kQ4_0: return {internal::QuantizeRowQ4_0, internal::DequantizeRowQ4_0};
    case GgmlType::kQ5_0: return {internal::QuantizeRowQ5_0, internal::DequantizeRowQ5_0};
    case GgmlType::kQ5_1: return {internal::QuantizeRowQ5_1, internal::DequantizeRowQ5_1};
    case GgmlType::kQ4_K: return {internal::QuantizeRowQ4_K, internal::DequantizeRowQ4_K};
    case GgmlType::kQ5_K: return {internal::QuantizeRowQ5_K, internal::DequantizeRowQ5_K};
    case GgmlType::kQ6_K: return {internal::QuantizeRowQ6_K, internal::DequantizeRowQ6_K};
  }
  return {};
}

std::string TypeLabel(GgmlType type) {
  const auto traits = TypeTraitsOf(type);
  return traits ? std::string(traits->name) : absl::StrCat("type ", static_cast<uint32_t>(type));
}

// Checks the shape and returns the bytes per row.
absl::StatusOr<int64_t> CheckShape(GgmlType type, int64_t rows, int64_t n_per_row) {
  if (!CanQuantize(type)) {
    return absl::InvalidArgumentError(absl::StrCat("no quantizer for ggml ", TypeLabel(type)));
  }
  if (rows < 0) return absl::InvalidArgumentError(absl::StrCat("negative row count ", rows));
  auto row_bytes = RowBytes(type, n_per_row);
  if (!row_bytes.ok()) return row_bytes.status();
  if (rows > 0 && n_per_row > std::numeric_limits<int64_t>::max() / rows) {
    return absl::InvalidArgumentError(absl::StrCat(rows, " rows of ", n_per_row, " overflow"));
  }
  return row_bytes;
}

// Runs fn(row_begin, row_end) over contiguous row chunks on up to `threads` threads. Small jobs stay on the
// calling thread: starting threads costs more than quantizing a few thousand values.
template <typename Fn>
void ParallelRows(int64_t rows, int64_t n_per_row, int threads, Fn fn) {
  constexpr int64_t kMinValuesPerThread = 1 << 16;
  int64_t want = threads > 0 ? threads : std::max<int64_t>(1, std::thread::hardware_concurrency());
  want = std::min<int64_t>(want, rows);
  want = std::min<int64_t>(want, std::max<int64_t>(1, rows * n_per_row / kMinValuesPerThread));
  if (want <= 1) {
    if (rows > 0) fn(int64_t{0}, rows);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(want - 1));
  const int64_t chunk = (rows + want - 1) / want;
  for (int64_t t = 1; t < want; ++t) {
    const int64_t begin = t * chunk, end = std::min(rows, begin + chunk);
    if (begin < end) pool.emplace_back([=] { fn(begin, end); });
  }
  fn(int64_t{0}, std::min(rows, chunk));
  for (auto& thread : pool) thread.join();
}

}  // namespace

std::optional<TypeTraits> TypeTraitsOf(uint32_t type_id) {
  for (const auto& entry : kTypes) {
    if (entry.id == type_id) return entry.traits;
  }
  return std::nullopt;
}

bool CanQuantize(GgmlType type) { return KernelsOf(type).quantize != nullptr; }

absl::StatusOr<int64_t> RowBytes(GgmlType type, int64_t n_per_row) {
  const auto traits = TypeTraitsOf(type);
  if (!traits) return absl::InvalidArgumentError(absl::StrCat("unknown ggml type ", static_cast<uint32_t>(type)));
  if (n_per_row < 0 || n_per_row % traits->block_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat("row of ", n_per_row, " elements is not a whole number of ",
                                                   traits->name, " blocks of ", traits->block_size));
  }
  const int64_t blocks = n_per_row / traits->block_size;
  if (blocks > std::numeric_limits<int64_t>::max() / traits->block_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("row of ", n_per_row, " elements overflows 63 bits as ",
                                                   traits->name));
  }
  return blocks * traits->block_bytes;
}

// ggml_compute_fp32_to_fp16 (from the FP16 library): the scaling through 2^112 and 2^-110 makes the FPU do the
// round-to-nearest-even of the mantissa, including subnormal halves, and overflow to infinity.
uint16_t Fp32ToFp16(float f) {
  const float scale_to_inf = 0x1.0p+112f;
  const float scale_to_zero = 0x1.0p-110f;
  float base = (std::fabs(f) * scale_to_inf) * scale_to_zero;
  const uint32_t w = F32Bits(f);
  const uint32_t shl1_w = w + w;
  const uint32_t sign = w & 0x80000000u;
  uint32_t bias = shl1_w & 0xFF000000u;
  if (bias < 0x71000000u) bias = 0x71000000u;
  base = F32FromBits((bias >> 1) + 0x07800000u) + base;
  const uint32_t bits = F32Bits(base);
  const uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
  const uint32_t mantissa_bits = bits & 0x00000FFFu;
  const uint32_t nonsign = exp_bits + mantissa_bits;
  return static_cast<uint16_t>((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

// Exact widening (every half is a float).
float Fp16ToFp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  const uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0x1F) return F32FromBits(sign | 0x7F800000u | (mantissa << 13));
  if (exponent != 0) return F32FromBits(sign | ((exponent + 112) << 23) | (mantissa << 13));
  // Zero or subnormal: mantissa · 2^-24, exact in float.
  const float magnitude = static_cast<float>(mantissa) * 0x1.0p-24f;
  return sign ? -magnitude : magnitude;
}

uint16_t Fp32ToBf16(float f) {
  const uint32_t u = F32Bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 64);  // quiet the NaN
  return static_cast<uint16_t>((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
}

float Bf16ToFp32(uint16_t h) { return F32FromBits(static_cast<uint32_t>(h) << 16); }

absl::Status QuantizeRows(GgmlType type, const float* src, int64_t rows, int64_t n_per_row, std::byte* dst,
                          int threads) {
  auto row_bytes = CheckShape(type, rows, n_per_row);
  if (!row_bytes.ok()) return row_bytes.status();
  const auto traits = *TypeTraitsOf(type);
  if (traits.block_size > 1) {
    // ggml's block quantizers assume finite input (nearest_int and the int8 casts are undefined otherwise).
    for (int64_t i = 0; i < rows * n_per_row; ++i) {
      if (!std::isfinite(src[i])) {
        return absl::InvalidArgumentError(absl::StrCat("non-finite value ", src[i], " at row ", i / n_per_row,
                                                       ", column ", i % n_per_row, " cannot be quantized to ",
                                                       traits.name));
      }
    }
  }
  const RowFn fn = KernelsOf(type).quantize;
  const int64_t stride = *row_bytes;
  ParallelRows(rows, n_per_row, threads, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) fn(src + r * n_per_row, dst + r * stride, n_per_row);
  });
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::byte>> Quantize(GgmlType type, std::span<const float> src, int64_t n_per_row,
                                                int threads) {
  if (n_per_row <= 0 || static_cast<int64_t>(src.size()) % n_per_row != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(src.size(), " values do not split into rows of ", n_per_row));
  }
  const int64_t rows = static_cast<int64_t>(src.size()) / n_per_row;
  auto row_bytes = CheckShape(type, rows, n_per_row);
  if (!row_bytes.ok()) return row_bytes.status();
  std::vector<std::byte> out(static_cast<size_t>(rows * *row_bytes));
  if (auto status = QuantizeRows(type, src.data(), rows, n_per_row, out.data(), threads); !status.ok()) {
    return status;
  }
  return out;
}

absl::Status DequantizeRows(GgmlType type, const std::byte* src, int64_t rows, int64_t n_per_row, float* dst,
                            int threads) {
  auto row_bytes = CheckShape(type, rows, n_per_row);
  if (!row_bytes.ok()) return row_bytes.status();
  const DerowFn fn = KernelsOf(type).dequantize;
  const int64_t stride = *row_bytes;
  ParallelRows(rows, n_per_row, threads, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) fn(src + r * stride, dst + r * n_per_row, n_per_row);
  });
  return absl::OkStatus();
}

absl::StatusOr<std::vector<float>> Dequantize(GgmlType type, std::span<const std::byte> src, int64_t n_per_row,
                                              int threads) {
  auto row_bytes = CheckShape(type, 1, n_per_row);
  if (!row_bytes.ok()) return row_bytes.status();
  if (*row_bytes == 0 || static_cast<int64_t>(src.size()) % *row_bytes != 0) {
    return absl::InvalidArgumentError(absl::StrCat(src.size(), " bytes are not whole ", TypeLabel(type),
                                                   " rows of ", n_per_row, " elements"));
  }
  const int64_t rows = static_cast<int64_t>(src.size()) / *row_bytes;
  std::vector<float> out(static_cast<size_t>(rows * n_per_row));
  if (auto status = DequantizeRows(type, src.data(), rows, n_per_row, out.data(), threads); !status.ok()) {
    return status;
  }
  return out;
}

}  // namespace distill::gguf
