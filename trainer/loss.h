// The training loss: cross-entropy of the next token on loss-mask-1 positions only (assistant tokens). The LM head
// is applied only to those positions and a chunk of them at a time, inside a custom autograd function that saves
// no logits and recomputes each chunk's in backward, so a [tokens × vocab] logits tensor never exists — with a
// 152k vocabulary and 32k-token rows it would be 20 GB in fp32.
//
// Shapes: B batch rows, T tokens, H hidden_size, V vocab_size, N selected (mask-1) positions.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <span>
#include <vector>

#include "trainer/model.h"

namespace distill::trainer {

// Positions of the LM head's chunks when the caller passes none: 1024 rows × V logits in fp32 at a time.
inline constexpr int64_t kDefaultLossChunk = 1024;
inline constexpr int64_t kIgnoreTarget = -100;  // the shard loader's ignore index

// Sum of token losses and how many tokens it covers. The trainer divides `sum` by the mask-1 tokens of the whole
// global batch (all micro-batches and ranks), not by `tokens`, so every token weighs the same.
struct MaskedLoss {
  torch::Tensor sum;   // fp32 scalar (fp64 in a double model), differentiable wrt hidden and the head weight
  int64_t tokens = 0;  // positions that contributed
};

// Σ CE(hidden[p] @ Wᵀ, targets[p]) over positions p with loss_mask[p] != 0 and targets[p] != -100, where W is
// LmHeadWeight(model). hidden [B, T, H] in the model dtype; targets [B, T] any integer dtype; loss_mask [B, T] any
// dtype (non-zero = train). Logits are formed `chunk` positions at a time and cast to fp32 before the softmax.
// Gradients reach hidden (exactly 0 on masked positions) and W (accumulated over chunks in fp32).
MaskedLoss MaskedLossSum(const Model& model, const torch::Tensor& hidden, const torch::Tensor& targets,
                         const torch::Tensor& loss_mask, int64_t chunk = kDefaultLossChunk);

// One micro-batch on the model's device: ids, positions, targets [B, T] int64 and loss mask [B, T] (non-zero =
// train); `cu_seqlens` as Hidden() takes it (empty: every row is one document).
struct MicroBatch {
  torch::Tensor ids, positions, targets, mask;
  std::span<const int32_t> cu_seqlens;
};

// A micro-batch's part of a training step, as the trainer and the training benchmarks run it: the forward (under
// CUDA bf16 autocast when `autocast`; layers recomputed in backward when `recompute`), MaskedLossSum, and the
// backward of sum / denominator, which adds to the parameters' .grad. `denominator` is the mask-1 token count of
// the whole global batch. Returns the unscaled loss sum; the caller checks that it is finite.
double AccumulateGradients(const Model& model, const MicroBatch& batch, double denominator, bool recompute,
                           bool autocast, int64_t chunk = kDefaultLossChunk);

// The chunked head + CE on already selected rows: hidden_rows [N, H], weight [V, H], targets [N] int64 (all
// valid). Returns the fp32 (fp64 for double inputs) scalar sum. Forward saves only its inputs; backward recomputes
// each chunk's logits to give grad_hidden_rows and grad_weight.
torch::Tensor ChunkedHeadLossSum(const torch::Tensor& hidden_rows, const torch::Tensor& weight,
                                 const torch::Tensor& targets, int64_t chunk = kDefaultLossChunk);

// Reference for tests: the same sum with the full [B, T, V] logits materialised and cross_entropy(ignore_index).
torch::Tensor FullLogitsLossSum(const Model& model, const torch::Tensor& hidden, const torch::Tensor& targets,
                                const torch::Tensor& loss_mask);

// Loss of each segment of a packed batch, for evaluation and tests (no gradient).
struct DocumentLoss {
  double sum = 0;      // Σ token CE over the segment's mask-1 positions
  int64_t tokens = 0;  // how many there were
};
// One entry per segment of `cu_seqlens` (the loader's, over the flattened B·T batch; a padding tail is a segment
// with tokens 0); empty cu_seqlens: one segment per row. Same inputs and chunking as MaskedLossSum.
std::vector<DocumentLoss> PerDocumentLoss(const Model& model, const torch::Tensor& hidden,
                                          const torch::Tensor& targets, const torch::Tensor& loss_mask,
                                          std::span<const int32_t> cu_seqlens, int64_t chunk = kDefaultLossChunk);

}  // namespace distill::trainer
