// Optimizer, learning-rate schedule, gradient clipping and optimizer checkpoints for the train loop, matching
// Hugging Face Trainer's defaults: AdamW with weight decay on weight matrices only, linear warmup then cosine /
// linear / constant decay to a floor (open-r1's cosine_with_min_lr), global-norm clipping.
//
// Master weights: under bf16 autocast (the CUDA default) the model stays fp32 and the optimizer updates the
// parameters themselves. With bf16 weights (train.dtype=bfloat16) it updates fp32 master copies instead, and the
// trainer rounds them into the weights after each step.
#pragma once

#include <torch/optim/adamw.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace distill::trainer {

struct AdamWOptions {
  double lr = 1e-5;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Whether a parameter gets weight decay: matrices (≥ 2-D) that are not biases or norm weights, as HF Trainer's
// get_decay_parameter_names (embeddings and LM head decay; norms and biases do not).
bool DecaysWeight(std::string_view name, const torch::Tensor& param);

// torch AdamW over `params` in two groups, in this order and omitting an empty one: decayed (weight_decay) and
// not decayed (0). Parameters with requires_grad false are left out. InvalidArgument when none is left or an
// option is out of range.
absl::StatusOr<std::unique_ptr<torch::optim::AdamW>> MakeAdamW(const NamedTensors& params, const AdamWOptions& options);

// ZeRO stage 1 (optimizer state sharding): the rank that keeps the AdamW state of each of `params`, and steps it,
// when `world_size` ranks share the state. Tensors go whole, in order, each to the rank with the fewest elements
// so far (ties: the lowest rank), so every rank computes the same split and no share exceeds another by more than
// the largest tensor.
std::vector<int> OptimizerShardOwners(std::span<const torch::Tensor> params, int world_size);

// How the learning rate falls after warmup.
enum class LrDecay { kCosine, kLinear, kConstant };
// HF lr_scheduler_type names: "cosine", "cosine_with_min_lr", "linear", "constant", "constant_with_warmup".
absl::StatusOr<LrDecay> ParseLrDecay(std::string_view name);

struct ScheduleOptions {
  double lr = 1e-5;  // peak, reached at the end of warmup
  LrDecay decay = LrDecay::kCosine;
  int64_t warmup_steps = 0;   // wins over warmup_ratio when > 0
  double warmup_ratio = 0.0;  // warmup = ceil(ratio · total_steps), as HF
  double min_lr_ratio = 0.0;  // floor as a fraction of lr (cosine and linear)
};

// Warmup length in optimizer steps for a run of `total_steps`.
int64_t WarmupSteps(const ScheduleOptions& options, int64_t total_steps);

// The lr for the optimizer step that follows `step` completed steps (HF's LambdaLR): lr · step / warmup during
// warmup, then with progress p = (step − warmup) / (total − warmup) clamped to [0, 1]:
// cosine: floor + (1 − floor) · ½(1 + cos πp); linear: floor + (1 − floor)(1 − p); constant: 1; times lr.
double LearningRate(const ScheduleOptions& options, int64_t step, int64_t total_steps);

// Sets the lr of every parameter group (call before each optimizer.step()).
void SetLearningRate(torch::optim::Optimizer& optimizer, double lr);

// Global L2 norm over every defined gradient of `params` (computed in fp32 or wider), returned before clipping;
// when it exceeds `max_norm` every gradient is scaled by max_norm / (norm + 1e-6), as torch's clip_grad_norm_.
// Parameters without a gradient are skipped (0 when none has one); a non-finite norm leaves the gradients as they
// are so the caller can skip the step.
double ClipGradNorm(std::span<const torch::Tensor> params, double max_norm);
// ClipGradNorm in two parts, for gradients spread over ranks (ZeRO-1): the per-gradient L2 norms it combines, [n]
// in fp32 or wider (one per tensor of `grads`, all defined), and the scaling of `grads` by
// max_norm / (‖norms‖ + 1e-6) when that is below 1. Returns ‖norms‖; a non-finite one scales nothing.
torch::Tensor GradNorms(std::span<const torch::Tensor> grads);
double ScaleToMaxNorm(std::span<const torch::Tensor> grads, const torch::Tensor& norms, double max_norm);

// True when every element of every defined tensor is finite (one device sync). Pass gradients to decide whether
// to skip a step.
bool AllFinite(std::span<const torch::Tensor> tensors);
// The gradients of `params` (undefined where a parameter has none), for AllFinite.
std::vector<torch::Tensor> Grads(std::span<const torch::Tensor> params);

// Writes the optimizer state (moments, step counts, group options) and the schedule position `step` to `path`
// (torch archive), temp-then-rename. With `with_weights` the parameters' values go too: fp32 master copies of bf16
// weights exist nowhere else.
absl::Status SaveOptimizerState(const torch::optim::Optimizer& optimizer, int64_t step, const std::string& path,
                                bool with_weights = false);
// Restores what SaveOptimizerState wrote into an optimizer built the same way over the same parameters, onto
// their device, and returns the saved step; `with_weights` also restores the parameters' values (an archive saved
// without them is an error). Errors name the file.
absl::StatusOr<int64_t> LoadOptimizerState(torch::optim::Optimizer& optimizer, const std::string& path,
                                           bool with_weights = false);

// A file SaveOptimizerState wrote for an optimizer over some of a run's trainable tensors: `indices` into the run's
// full list (NamedTensors given to the loader below), in the order that optimizer was built over them.
struct SavedOptimizerShare {
  std::string path;
  std::vector<size_t> indices;
};
// Restores AdamW state saved over another split of the same tensors (another number of ranks, or a whole
// optimizer.pt into a sharded optimizer and back) into `optimizer`, built by MakeAdamW with `options` over the
// defined entries of `stepped` (one per entry of `named`, undefined for another rank's tensors). Each file holding
// any of them is read whole onto the CPU, one at a time; this optimizer's tensors take their moments and step
// counts, and with `with_weights` their values. Returns the step the files agree on. Errors name the file.
absl::StatusOr<int64_t> LoadResplitOptimizerState(torch::optim::Optimizer& optimizer, const NamedTensors& named,
                                                  const std::vector<torch::Tensor>& stepped,
                                                  const std::vector<SavedOptimizerShare>& files,
                                                  const AdamWOptions& options, bool with_weights);

}  // namespace distill::trainer
