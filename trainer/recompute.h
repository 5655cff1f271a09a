// Activation checkpointing per decoder layer: forward keeps only the layer's input (plus RoPE cos/sin and the
// document segments), and backward runs the layer again with grad enabled to get the gradients. Saved activations
// drop from every intermediate of every layer to one [B, T, H] tensor per layer, for about one extra forward.
#pragma once

#include <torch/types.h>

#include "trainer/blocks.h"

namespace distill::trainer {

// Apply(layer, h, rope, segments, nullptr) with checkpointing: same value, same gradients wrt h [B, T, H] and the
// layer's parameters (they flow through autograd, so backward() and autograd::grad() both see them). `layer` must
// outlive the backward pass; `segments` (null: one document per row) is copied. No key/value cache.
// The layer must be deterministic: base layers are; a LoRA dropout added later must replay its RNG state here.
torch::Tensor ApplyRecomputed(const DecoderLayer& layer, const torch::Tensor& h, const Rope& rope,
                              const RowSegments* segments);

}  // namespace distill::trainer
