// ggml tensor types and the reference quantizers that llama.cpp's converter uses.
//
// The quantizers reproduce ggml-quants.c's quantize_row_*_ref arithmetic operation for operation (fp32, in the same
// order, no fused multiply-add), so a GGUF written here holds the same bytes `llama-quantize` would write without
// an importance matrix. tests/gguf/quantize_test.cc proves it against libggml-base.so.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace distill::gguf {

// ggml_type ids as stored in GGUF tensor infos. Only the named ones can be quantized here; the reader also knows
// the block geometry of the other standard ids (see TypeTraitsOf) so it can open files written by llama.cpp.
enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kBF16 = 30,
};

struct TypeTraits {
  const char* name;       // ggml's name: "f32", "q4_K", …
  int64_t block_size;     // elements per block
  int64_t block_bytes;    // bytes per block
};

// Block geometry of a ggml type id, or nullopt for an id this code does not know (removed or future types).
std::optional<TypeTraits> TypeTraitsOf(uint32_t type_id);
inline std::optional<TypeTraits> TypeTraitsOf(GgmlType type) { return TypeTraitsOf(static_cast<uint32_t>(type)); }

// True for the types QuantizeRows / DequantizeRows handle.
bool CanQuantize(GgmlType type);

// Bytes of one row of n_per_row elements; an error when the type is unknown or n_per_row is negative or not a
// multiple of the block size.
absl::StatusOr<int64_t> RowBytes(GgmlType type, int64_t n_per_row);

// Scalar conversions, matching ggml's CPU reference (GGML_FP32_TO_FP16 / GGML_FP32_TO_BF16): round to nearest
// even; NaN becomes a quiet NaN.
uint16_t Fp32ToFp16(float f);
float Fp16ToFp32(uint16_t h);
uint16_t Fp32ToBf16(float f);
float Bf16ToFp32(uint16_t h);

// Converts `rows` rows of `n_per_row` floats into `type`, writing rows × RowBytes bytes to dst. Rows are split
// over `threads` threads (0: hardware concurrency); every row is encoded independently, so the bytes never
// depend on the thread count. Block types refuse non-finite input (ggml's result would be meaningless).
absl::Status QuantizeRows(GgmlType type, const float* src, int64_t rows, int64_t n_per_row, std::byte* dst,
                          int threads = 0);
absl::StatusOr<std::vector<std::byte>> Quantize(GgmlType type, std::span<const float> src, int64_t n_per_row,
                                                int threads = 0);

// The inverse, matching ggml's dequantize_row_* (and exact widening for F16/BF16/F32).
absl::Status DequantizeRows(GgmlType type, const std::byte* src, int64_t rows, int64_t n_per_row, float* dst,
                            int threads = 0);
absl::StatusOr<std::vector<float>> Dequantize(GgmlType type, std::span<const std::byte> src, int64_t n_per_row,
                                              int threads = 0);

}  // namespace distill::gguf
