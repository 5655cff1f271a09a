// Internal to tools/gguf: ggml's block layouts and the helpers every quantizer shares. Everything here has
// internal linkage: quant_k.cc is compiled once per instruction set, and a shared inline definition built with
// AVX2 must not be picked by the linker for the baseline build.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

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
inline int NearestInt(float fval) {
  const float val = fval + 12582912.f;
  const int32_t i = std::bit_cast<int32_t>(val);
  return (i & 0x007fffff) - 0x00400000;
}

inline void GetScaleMinK4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

}  // namespace
}  // namespace distill::gguf::internal
