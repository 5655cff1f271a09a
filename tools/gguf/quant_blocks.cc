// Ports of ggml-quants.c's reference quantizers and dequantizers (llama.cpp, MIT). Bit-identity with ggml
// depends on doing the same fp32 operations in the same order: expressions below keep ggml's shape
// (`w*l*l` is (w*l)*l, sums run in index order), and nothing may be contracted into FMAs — the project builds
// for baseline x86-64, where GCC has no FMA to contract into; quantize_test catches any drift.
#include "tools/gguf/quant_blocks.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "tools/gguf/quantize.h"

namespace distill::gguf::internal {
namespace {

static_assert(std::endian::native == std::endian::little, "GGUF blocks are little-endian; so is this host");

constexpr int kQK = 32;    // elements per block of the legacy types
constexpr int kQKK = 256;  // elements per K-quant super-block
constexpr float kGroupMaxEps = 1e-15f;

// Block layouts of ggml-common.h. Kernels build a block in a local and memcpy it out, so dst needs no alignment.
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];
};
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[kQKK / 2];
};
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[kQKK / 8];
  uint8_t qs[kQKK / 2];
};
struct BlockQ6_K {
  uint8_t ql[kQKK / 2];
  uint8_t qh[kQKK / 4];
  int8_t scales[kQKK / 16];
  uint16_t d;
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18 && sizeof(BlockQ5_0) == 22 &&
              sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210);

template <typename Block>
void Store(const Block& block, std::byte* out, int64_t index) {
  std::memcpy(out + index * static_cast<int64_t>(sizeof(Block)), &block, sizeof(Block));
}
template <typename Block>
Block Load(const std::byte* in, int64_t index) {
  Block block;
  std::memcpy(&block, in + index * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
  return block;
}

// Round half to even through the 1.5·2^23 trick, exactly as ggml does (including its result for values beyond
// ±2^22, which the callers clamp anyway).
int NearestInt(float fval) {
  const float val = fval + 12582912.f;
  const int32_t i = std::bit_cast<int32_t>(val);
  return (i & 0x007fffff) - 0x00400000;
}

// The scale searches below try many candidate scales, and each candidate's sums run over the values in index order.
// Candidates run side by side in the lanes of a vector, and the pick among them stays scalar and in ggml's order:
// every lane does exactly the scalar operations in the same order, which keeps each lane's sums bit-identical to
// ggml's loop while the hardware does 4 candidates at once.
// Four lanes: one SSE register per value. Eight (two registers each) spilled to the stack and ran 1.7x slower.
constexpr int kLanes = 4;
using FloatLanes = float __attribute__((vector_size(4 * kLanes)));
using IntLanes = int32_t __attribute__((vector_size(4 * kLanes)));

// NearestInt in every lane.
IntLanes NearestInts(FloatLanes v) {
  const FloatLanes biased = v + 12582912.f;
  IntLanes i;
  std::memcpy(&i, &biased, sizeof(i));
  return (i & 0x007fffff) - 0x00400000;
}

// max(lo, min(hi, l)) in every lane, through masks (SSE2 has no 32-bit integer min/max).
IntLanes Clamp(IntLanes l, int32_t lo, int32_t hi) {
  const IntLanes below = l < lo;  // all ones where true
  l = (l & ~below) | (below & lo);
  const IntLanes above = l > hi;
  return (l & ~above) | (above & hi);
}

FloatLanes ToFloat(IntLanes l) { return __builtin_convertvector(l, FloatLanes); }

// `when` (all-ones lanes) ? a : b, bit for bit.
FloatLanes Select(IntLanes when, FloatLanes a, FloatLanes b) {
  IntLanes a_bits, b_bits;
  std::memcpy(&a_bits, &a, sizeof(a_bits));
  std::memcpy(&b_bits, &b, sizeof(b_bits));
  const IntLanes bits = (a_bits & when) | (b_bits & ~when);
  FloatLanes out;
  std::memcpy(&out, &bits, sizeof(out));
  return out;
}

// make_qx_quants: symmetric signed quantization of n values to [-nmax, nmax-1] with a scale search.
// Only the paths Q6_K uses (rmse_type 1, no importance weights) are needed.
template <int n, int nmax>
float MakeQxQuants(const float* x, int8_t* L) {
  float max = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = NearestInt(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  // ggml's candidates is = -9..-1, 1..9, in that order.
  constexpr int kCandidates = 18;
  constexpr int kGroups = (kCandidates + kLanes - 1) / kLanes;
  float iscales[kGroups * kLanes], sumlxs[kGroups * kLanes], suml2s[kGroups * kLanes];
  for (int c = 0; c < kGroups * kLanes; ++c) {
    const int k = std::min(c, kCandidates - 1);  // lanes past the last candidate repeat it
    const int is = k < 9 ? k - 9 : k - 8;
    iscales[c] = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
  }
  for (int g = 0; g < kGroups; ++g) {
    FloatLanes lane_iscale;
    std::memcpy(&lane_iscale, iscales + g * kLanes, sizeof(lane_iscale));
    FloatLanes lane_sumlx = {}, lane_suml2 = {};
    for (int i = 0; i < n; ++i) {
      const FloatLanes fl = ToFloat(Clamp(NearestInts(lane_iscale * x[i]), -nmax, nmax - 1));
      const float w = x[i] * x[i];
      const float wx = w * x[i];
      lane_sumlx += wx * fl;
      lane_suml2 += (w * fl) * fl;
    }
    std::memcpy(sumlxs + g * kLanes, &lane_sumlx, sizeof(lane_sumlx));
    std::memcpy(suml2s + g * kLanes, &lane_suml2, sizeof(lane_suml2));
  }
  int chosen = -1;
  for (int c = 0; c < kCandidates; ++c) {
    if (suml2s[c] > 0 && sumlxs[c] * sumlxs[c] > best * suml2s[c]) {
      scale = sumlxs[c] / suml2s[c];
      best = scale * sumlxs[c];
      chosen = c;
    }
  }
  if (chosen >= 0) {
    for (int i = 0; i < n; ++i) {
      const int l = NearestInt(iscales[chosen] * x[i]);
      L[i] = static_cast<int8_t>(nmax + std::max(-nmax, std::min(nmax - 1, l)));
    }
  }
  return scale;
}

// make_qkx2_quants: asymmetric quantization (scale and min) of n values to [0, nmax], searching the scale.
// Returns the scale; *the_min receives minus the offset (≥ 0).
template <int n, int nmax, int nstep>
float MakeQkx2Quants(const float* x, const float* weights, uint8_t* L, float* the_min, float rmin, float rdelta) {
  float min = x[0];
  float max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.f;
  }
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = NearestInt(iscale * (x[i] - min));
    L[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    float diff = scale * static_cast<float>(L[i]) + min - x[i];
    diff = diff * diff;
    best_error += weights[i] * diff;
  }
  // Candidates is = 0..nstep, in order. ggml moves `min` to each accepted candidate's min, and later candidates
  // search from there; so lanes compute the candidates ahead from the current min, and after an acceptance that
  // moves it, the rest are computed again from the new one.
  float chosen_iscale = 0, chosen_from_min = 0;
  bool chosen = false;
  for (int next = 0; next <= nstep;) {
    FloatLanes lane_iscale;
    for (int k = 0; k < kLanes; ++k)
      lane_iscale[k] =
          (rmin + rdelta * static_cast<float>(std::min(next + k, nstep)) + static_cast<float>(nmax)) / (max - min);
    FloatLanes levels[n];  // each candidate's level of each value, reused by the error sums below
    FloatLanes sum_l = {}, sum_l2 = {}, sum_xl = {};
    for (int i = 0; i < n; ++i) {
      const FloatLanes fl = levels[i] = ToFloat(Clamp(NearestInts(lane_iscale * (x[i] - min)), 0, nmax));
      const FloatLanes wl = weights[i] * fl;
      sum_l += wl;
      sum_l2 += wl * fl;
      sum_xl += wl * x[i];
    }
    const FloatLanes D = sum_w * sum_l2 - sum_l * sum_l;
    FloatLanes this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
    FloatLanes this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    const IntLanes positive_min = this_min > 0;
    const FloatLanes fallback_scale = sum_xl / sum_l2;
    this_scale = Select(positive_min, fallback_scale, this_scale);
    this_min = Select(positive_min, FloatLanes{}, this_min);
    FloatLanes cur_error = {};
    for (int i = 0; i < n; ++i) {
      FloatLanes diff = this_scale * levels[i] + this_min - x[i];
      diff = diff * diff;
      cur_error += weights[i] * diff;
    }
    const float searched_from = min;
    int restart = -1;
    for (int k = 0; k < kLanes && next + k <= nstep; ++k) {
      if (!(D[k] > 0) || !(cur_error[k] < best_error)) continue;
      best_error = cur_error[k];
      scale = this_scale[k];
      chosen = true;
      chosen_iscale = lane_iscale[k];
      chosen_from_min = searched_from;
      const bool moved = this_min[k] != min;
      min = this_min[k];
      if (moved) {
        restart = next + k + 1;
        break;
      }
    }
    next = restart >= 0 ? restart : next + kLanes;
  }
  if (chosen) {
    for (int i = 0; i < n; ++i) {
      const int l = NearestInt(chosen_iscale * (x[i] - chosen_from_min));
      L[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    }
  }
  *the_min = -min;
  return scale;
}

void GetScaleMinK4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

// Shared by Q4_K (nmax 15) and Q5_K (nmax 31): per-32 (scale, min) search, then 6-bit scales and mins packed
// against the super-block maxima, then requantization against the packed values. Fills L[256] and the header.
template <int nmax, int nstep>
void QuantizeKBlock(const float* x, float rmin, float rdelta, uint8_t* L, uint16_t* d_out, uint16_t* dmin_out,
                    uint8_t* scales_out) {
  float weights[32];
  float mins[kQKK / 32];
  float scales[kQKK / 32];
  float max_scale = 0;
  float max_min = 0;
  for (int j = 0; j < kQKK / 32; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = MakeQkx2Quants<32, nmax, nstep>(x + 32 * j, weights, L + 32 * j, &mins[j], rmin, rdelta);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < kQKK / 32; ++j) {
    // ggml stores nearest_int into a uint8_t before clamping; keep the same truncation.
    uint8_t ls = static_cast<uint8_t>(NearestInt(inv_scale * scales[j]));
    uint8_t lm = static_cast<uint8_t>(NearestInt(inv_min * mins[j]));
    ls = std::min<uint8_t>(63, ls);
    lm = std::min<uint8_t>(63, lm);
    if (j < 4) {
      scales_out[j] = ls;
      scales_out[j + 4] = lm;
    } else {
      scales_out[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
      scales_out[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
      scales_out[j - 0] |= static_cast<uint8_t>((lm >> 4) << 6);
    }
  }
  *d_out = Fp32ToFp16(max_scale / 63.f);
  *dmin_out = Fp32ToFp16(max_min / 63.f);
  for (int j = 0; j < kQKK / 32; ++j) {
    uint8_t sc, m;
    GetScaleMinK4(j, scales_out, &sc, &m);
    const float d = Fp16ToFp32(*d_out) * static_cast<float>(sc);
    if (d == 0) continue;
    const float dm = Fp16ToFp32(*dmin_out) * static_cast<float>(m);
    for (int ii = 0; ii < 32; ++ii) {
      const int l = NearestInt((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    }
  }
}

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

void QuantizeRowQ4_K(const float* x, std::byte* out, int64_t n) {
  uint8_t L[kQKK];
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    BlockQ4_K b{};
    QuantizeKBlock<15, 20>(x, -1.f, 0.1f, L, &b.d, &b.dmin, b.scales);
    uint8_t* q = b.qs;
    for (int j = 0; j < kQKK; j += 64) {
      for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
      q += 32;
    }
    Store(b, out, i);
  }
}

void QuantizeRowQ5_K(const float* x, std::byte* out, int64_t n) {
  uint8_t L[kQKK];
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    BlockQ5_K b{};
    QuantizeKBlock<31, 15>(x, -0.5f, 0.1f, L, &b.d, &b.dmin, b.scales);
    uint8_t* ql = b.qs;
    uint8_t m1 = 1, m2 = 2;
    for (int base = 0; base < kQKK; base += 64) {
      for (int j = 0; j < 32; ++j) {
        int l1 = L[base + j];
        if (l1 > 15) {
          l1 -= 16;
          b.qh[j] |= m1;
        }
        int l2 = L[base + j + 32];
        if (l2 > 15) {
          l2 -= 16;
          b.qh[j] |= m2;
        }
        ql[j] = static_cast<uint8_t>(l1 | (l2 << 4));
      }
      m1 = static_cast<uint8_t>(m1 << 2);
      m2 = static_cast<uint8_t>(m2 << 2);
      ql += 32;
    }
    Store(b, out, i);
  }
}

void QuantizeRowQ6_K(const float* x, std::byte* out, int64_t n) {
  int8_t L[kQKK];
  float scales[kQKK / 16];
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    float max_scale = 0;
    float max_abs_scale = 0;
    for (int ib = 0; ib < kQKK / 16; ++ib) {
      const float scale = MakeQxQuants<16, 32>(x + 16 * ib, L + 16 * ib);
      scales[ib] = scale;
      const float abs_scale = std::fabs(scale);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scale;
      }
    }
    BlockQ6_K b{};
    if (max_abs_scale < kGroupMaxEps) {
      b.d = Fp32ToFp16(0.f);
      Store(b, out, i);
      continue;
    }
    const float iscale = -128.f / max_scale;
    b.d = Fp32ToFp16(1 / iscale);
    for (int ib = 0; ib < kQKK / 16; ++ib) {
      b.scales[ib] = static_cast<int8_t>(std::min(127, NearestInt(iscale * scales[ib])));
    }
    for (int j = 0; j < kQKK / 16; ++j) {
      const float d = Fp16ToFp32(b.d) * static_cast<float>(b.scales[j]);
      if (d == 0) continue;
      for (int ii = 0; ii < 16; ++ii) {
        int l = NearestInt(x[16 * j + ii] / d);
        l = std::max(-32, std::min(31, l));
        L[16 * j + ii] = static_cast<int8_t>(l + 32);
      }
    }
    uint8_t* ql = b.ql;
    uint8_t* qh = b.qh;
    for (int j = 0; j < kQKK; j += 128) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t q1 = L[j + l + 0] & 0xF;
        const uint8_t q2 = L[j + l + 32] & 0xF;
        const uint8_t q3 = L[j + l + 64] & 0xF;
        const uint8_t q4 = L[j + l + 96] & 0xF;
        ql[l + 0] = static_cast<uint8_t>(q1 | (q3 << 4));
        ql[l + 32] = static_cast<uint8_t>(q2 | (q4 << 4));
        qh[l] = static_cast<uint8_t>((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                                     ((L[j + l + 96] >> 4) << 6));
      }
      ql += 64;
      qh += 32;
    }
    Store(b, out, i);
  }
}

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
