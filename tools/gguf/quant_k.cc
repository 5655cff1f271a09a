// ggml's K-quant quantizers (Q4_K, Q5_K, Q6_K; ports of ggml-quants.c's quantize_row_q*_K_ref, llama.cpp, MIT),
// whose scale searches run candidate scales side by side in vector lanes. Compiled once per instruction set, each
// copy in its own namespace: as is (SSE2, 4 lanes) into internal::baseline, and on x86-64 again with -mavx2 (8
// lanes, one YMM register per value) into internal::avx2; quant_blocks.cc picks one at run time. Bit-identity with
// ggml as in quant_blocks.cc: the same fp32 operations in the same order per lane, and no FMA contraction (every
// build has -ffp-contract=off; the AVX2 one no -mfma).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tools/gguf/quant_blocks.h"
#include "tools/gguf/quant_common.h"
#include "tools/gguf/quantize.h"

#ifndef DISTILL_QUANT_ISA
#define DISTILL_QUANT_ISA baseline
#define DISTILL_QUANT_LANES 4
#endif

namespace distill::gguf::internal::DISTILL_QUANT_ISA {
namespace {

// The scale searches below try many candidate scales, and each candidate's sums run over the values in index order.
// Candidates run side by side in the lanes of a vector, and the pick among them stays scalar and in ggml's order:
// every lane does exactly the scalar operations in the same order, which keeps each lane's sums bit-identical to
// ggml's loop while the hardware does kLanes candidates at once.
// Four lanes with SSE2 (eight in two registers each spilled to the stack and ran 1.7x slower); eight with AVX2,
// one register each: 1.5x the four-lane speed on Q4_K_M.
constexpr int kLanes = DISTILL_QUANT_LANES;
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


}  // namespace

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


}  // namespace distill::gguf::internal::DISTILL_QUANT_ISA
