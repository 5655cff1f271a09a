// Ports of ggml-quants.c's reference quantizers and dequantizers (llama.cpp, MIT). Bit-identity with ggml
// depends on doing the same fp32 operations in the same order: expressions below keep ggml's shape
// (`w*l*l` is (w*l)*l, sums run in index order), and nothing may be contracted into FMAs (tools/CMakeLists.txt
// builds the quantizers with -ffp-contract=off); quantize_test catches any drift. The K-quant quantizers live in
// quant_k.cc, built per instruction set; this file picks one at run time.
#include "tools/gguf/quant_blocks.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "tools/gguf/quant_common.h"
#include "tools/gguf/quantize.h"

namespace distill::gguf::internal {
namespace {

// Legacy types: d from the signed element of largest magnitude (first one wins on ties).
float SignedAbsMax(const float* x) {
  float amax = 0.0f;
  float max = 0.0f;
  for (int j = 0; j < kQK; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

// roundf (half away from zero) inline, for |v| < 2^23: truncate, then step away from zero when the dropped
// fraction is at least one half (the fraction of a float is exact). The libm call was half of Q8_0's time.
inline float RoundHalfAway(float v) {
  const float a = std::fabs(v);
  float t = static_cast<float>(static_cast<int32_t>(a));
  t += (a - t >= 0.5f) ? 1.0f : 0.0f;  // a select, not a branch, so the block loop vectorizes
  return std::copysign(t, v);
}

}  // namespace

void QuantizeRowQ8_0(const float* x, std::byte* out, int64_t n) {
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = d != 0 ? 1.0f / d : 0.0f;
    BlockQ8_0 b;
    b.d = Fp32ToFp16(d);
    int32_t q[kQK];
    for (int j = 0; j < kQK; ++j) q[j] = static_cast<int32_t>(RoundHalfAway(x[j] * id));  // |x·id| ≤ 127
    for (int j = 0; j < kQK; ++j) b.qs[j] = static_cast<int8_t>(q[j]);
    Store(b, out, i);
  }
}

void QuantizeRowQ4_0(const float* x, std::byte* out, int64_t n) {
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    const float d = SignedAbsMax(x) / -8;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    BlockQ4_0 b;
    b.d = Fp32ToFp16(d);
    for (int j = 0; j < kQK / 2; ++j) {
      const float x0 = x[j] * id;
      const float x1 = x[kQK / 2 + j] * id;
      const uint8_t xi0 = static_cast<uint8_t>(std::min<int>(15, static_cast<int8_t>(x0 + 8.5f)));
      const uint8_t xi1 = static_cast<uint8_t>(std::min<int>(15, static_cast<int8_t>(x1 + 8.5f)));
      b.qs[j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
    }
    Store(b, out, i);
  }
}

namespace {

// Q5_0 and Q5_1 store 32 five-bit levels alike: value j's low nibble in qs[j % 16] (low half for j < 16, high
// half after), and its fifth bit as bit j of the little-endian word qh.
void PackFiveBitLevels(const uint8_t* levels, uint8_t* qs, uint8_t* qh_bytes) {
  uint32_t qh = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    qs[j] = static_cast<uint8_t>((levels[j] & 0x0F) | ((levels[kQK / 2 + j] & 0x0F) << 4));
    qh |= ((levels[j] & 0x10u) >> 4) << j;
    qh |= ((levels[kQK / 2 + j] & 0x10u) >> 4) << (j + kQK / 2);
  }
  std::memcpy(qh_bytes, &qh, sizeof(qh));
}

void UnpackFiveBitLevels(const uint8_t* qs, const uint8_t* qh_bytes, int* levels) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, sizeof(qh));
  for (int j = 0; j < kQK / 2; ++j) {
    levels[j] = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) << 4) & 0x10);
    levels[kQK / 2 + j] = (qs[j] >> 4) | static_cast<int>((qh >> (j + 12)) & 0x10);
  }
}

}  // namespace

void QuantizeRowQ5_0(const float* x, std::byte* out, int64_t n) {
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    const float d = SignedAbsMax(x) / -16;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    BlockQ5_0 b;
    b.d = Fp32ToFp16(d);
    uint8_t levels[kQK];
    for (int j = 0; j < kQK; ++j)
      levels[j] = static_cast<uint8_t>(std::min<int>(31, static_cast<int8_t>(x[j] * id + 16.5f)));
    PackFiveBitLevels(levels, b.qs, b.qh);
    Store(b, out, i);
  }
}

// Q5_1: 5-bit levels between each block's min and max (scale and offset, no search).
void QuantizeRowQ5_1(const float* x, std::byte* out, int64_t n) {
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    float min = std::numeric_limits<float>::max();
    float max = -std::numeric_limits<float>::max();
    for (int j = 0; j < kQK; ++j) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / ((1 << 5) - 1);
    const float id = d != 0 ? 1.0f / d : 0.0f;
    BlockQ5_1 b;
    b.d = Fp32ToFp16(d);
    b.m = Fp32ToFp16(min);
    uint8_t levels[kQK];
    for (int j = 0; j < kQK; ++j) levels[j] = static_cast<uint8_t>((x[j] - min) * id + 0.5f);
    PackFiveBitLevels(levels, b.qs, b.qh);
    Store(b, out, i);
  }
}

// The K-quant quantizers (quant_k.cc) in the widest build this CPU runs.
#if defined(DISTILL_QUANT_AVX2)
namespace {
bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
}  // namespace
void QuantizeRowQ4_K(const float* x, std::byte* out, int64_t n) {
  HasAvx2() ? avx2::QuantizeRowQ4_K(x, out, n) : baseline::QuantizeRowQ4_K(x, out, n);
}
void QuantizeRowQ5_K(const float* x, std::byte* out, int64_t n) {
  HasAvx2() ? avx2::QuantizeRowQ5_K(x, out, n) : baseline::QuantizeRowQ5_K(x, out, n);
}
void QuantizeRowQ6_K(const float* x, std::byte* out, int64_t n) {
  HasAvx2() ? avx2::QuantizeRowQ6_K(x, out, n) : baseline::QuantizeRowQ6_K(x, out, n);
}
#else
void QuantizeRowQ4_K(const float* x, std::byte* out, int64_t n) { baseline::QuantizeRowQ4_K(x, out, n); }
void QuantizeRowQ5_K(const float* x, std::byte* out, int64_t n) { baseline::QuantizeRowQ5_K(x, out, n); }
void QuantizeRowQ6_K(const float* x, std::byte* out, int64_t n) { baseline::QuantizeRowQ6_K(x, out, n); }
#endif

void DequantizeRowQ8_0(const std::byte* in, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const auto b = Load<BlockQ8_0>(in, i);
    const float d = Fp16ToFp32(b.d);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(b.qs[j]) * d;
  }
}

void DequantizeRowQ4_0(const std::byte* in, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const auto b = Load<BlockQ4_0>(in, i);
    const float d = Fp16ToFp32(b.d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = static_cast<float>((b.qs[j] & 0x0F) - 8) * d;
      y[j + kQK / 2] = static_cast<float>((b.qs[j] >> 4) - 8) * d;
    }
  }
}

void DequantizeRowQ5_0(const std::byte* in, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const auto b = Load<BlockQ5_0>(in, i);
    const float d = Fp16ToFp32(b.d);
    int levels[kQK];
    UnpackFiveBitLevels(b.qs, b.qh, levels);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(levels[j] - 16) * d;
  }
}

void DequantizeRowQ5_1(const std::byte* in, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const auto b = Load<BlockQ5_1>(in, i);
    const float d = Fp16ToFp32(b.d);
    const float m = Fp16ToFp32(b.m);
    int levels[kQK];
    UnpackFiveBitLevels(b.qs, b.qh, levels);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(levels[j]) * d + m;
  }
}

void DequantizeRowQ4_K(const std::byte* in, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const auto b = Load<BlockQ4_K>(in, i);
    const float d = Fp16ToFp32(b.d);
    const float min = Fp16ToFp32(b.dmin);
    const uint8_t* q = b.qs;
    int is = 0;
    for (int j = 0; j < kQKK; j += 64) {
      uint8_t sc, m;
      GetScaleMinK4(is + 0, b.scales, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = min * static_cast<float>(m);
      GetScaleMinK4(is + 1, b.scales, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = min * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
      q += 32;
      is += 2;
    }
  }
}

void DequantizeRowQ5_K(const std::byte* in, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const auto b = Load<BlockQ5_K>(in, i);
    const float d = Fp16ToFp32(b.d);
    const float min = Fp16ToFp32(b.dmin);
    const uint8_t* ql = b.qs;
    int is = 0;
    unsigned u1 = 1, u2 = 2;
    for (int j = 0; j < kQKK; j += 64) {
      uint8_t sc, m;
      GetScaleMinK4(is + 0, b.scales, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = min * static_cast<float>(m);
      GetScaleMinK4(is + 1, b.scales, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = min * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>((ql[l] & 0xF) + (b.qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>((ql[l] >> 4) + (b.qh[l] & u2 ? 16 : 0)) - m2;
      ql += 32;
      is += 2;
      u1 <<= 2;
      u2 <<= 2;
    }
  }
}

void DequantizeRowQ6_K(const std::byte* in, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const auto b = Load<BlockQ6_K>(in, i);
    const float d = Fp16ToFp32(b.d);
    const uint8_t* ql = b.ql;
    const uint8_t* qh = b.qh;
    const int8_t* sc = b.scales;
    for (int base = 0; base < kQKK; base += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l + 0] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

}  // namespace distill::gguf::internal
