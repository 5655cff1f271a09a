// Internal: one-row kernels behind QuantizeRows / DequantizeRows (ports of ggml-quants.c's *_ref and
// dequantize_row_* functions). `n` is a multiple of the type's block size; in/out need no alignment.
#pragma once

#include <cstddef>
#include <cstdint>

namespace distill::gguf::internal {

void QuantizeRowQ8_0(const float* x, std::byte* out, int64_t n);
void QuantizeRowQ4_0(const float* x, std::byte* out, int64_t n);
void QuantizeRowQ5_0(const float* x, std::byte* out, int64_t n);
void QuantizeRowQ5_1(const float* x, std::byte* out, int64_t n);
void QuantizeRowQ4_K(const float* x, std::byte* out, int64_t n);
void QuantizeRowQ5_K(const float* x, std::byte* out, int64_t n);
void QuantizeRowQ6_K(const float* x, std::byte* out, int64_t n);

// quant_k.cc's builds of the K-quant quantizers above, per instruction set (the ones above pick one at run time).
namespace baseline {
void QuantizeRowQ4_K(const float* x, std::byte* out, int64_t n);
void QuantizeRowQ5_K(const float* x, std::byte* out, int64_t n);
void QuantizeRowQ6_K(const float* x, std::byte* out, int64_t n);
}  // namespace baseline
namespace avx2 {  // x86-64 only
void QuantizeRowQ4_K(const float* x, std::byte* out, int64_t n);
void QuantizeRowQ5_K(const float* x, std::byte* out, int64_t n);
void QuantizeRowQ6_K(const float* x, std::byte* out, int64_t n);
}  // namespace avx2

void DequantizeRowQ8_0(const std::byte* in, float* y, int64_t n);
void DequantizeRowQ4_0(const std::byte* in, float* y, int64_t n);
void DequantizeRowQ5_0(const std::byte* in, float* y, int64_t n);
void DequantizeRowQ5_1(const std::byte* in, float* y, int64_t n);
void DequantizeRowQ4_K(const std::byte* in, float* y, int64_t n);
void DequantizeRowQ5_K(const std::byte* in, float* y, int64_t n);
void DequantizeRowQ6_K(const std::byte* in, float* y, int64_t n);

}  // namespace distill::gguf::internal
