// A training run's folder: metrics.jsonl (one line per optimizer step), and checkpoint-<step>/ folders written
// as ".checkpoint-<step>.tmp" and renamed into place once complete (trainer_state.json inside marks a finished
// one). A checkpoint holds the model in HF layout (or the LoRA adapter in PEFT's), the tokenizer files with the
// training chat template, optimizer.pt and trainer_state.json (step, loader cursor, resolved config). No generator
// state: the trainer seeds dropout from (seed, step).
#pragma once

#include <torch/optim/optimizer.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/shard/loader.h"
#include "trainer/distributed.h"
#include "trainer/hf/safetensors.h"
#include "trainer/lora.h"
#include "trainer/model.h"
#include "trainer/optim.h"
#include "trainer/train.h"

namespace distill::trainer {

// Where metrics and checkpoints go; only the main rank writes.
struct RunFolder {
  std::string dir;
  bool main = true;
  // Starts a fresh run: deletes the checkpoint-N folders of an earlier one (the caller has checked it may, see
  // CheckFreshRunFolder) and truncates metrics.jsonl.
  absl::Status StartFresh() const;
  absl::Status AppendMetrics(const StepMetrics& m) const;  // one flushed line
  absl::Status WriteResolvedConfig(const std::string& yaml) const;  // resolved.yaml, temp-then-rename
};

// An exclusive lock on "<out>/.distill-train.lock" (flock), held while it lives: one run per folder, so a second
// `distill train` (say a --resume while the first still runs) cannot interleave metrics and checkpoints with it.
class RunFolderLock {
 public:
  // Creates `out` when missing. FailedPrecondition, naming the folder, while another process holds the lock.
  static absl::StatusOr<RunFolderLock> Acquire(const std::string& out);
  RunFolderLock(RunFolderLock&& other) noexcept;
  RunFolderLock& operator=(RunFolderLock&&) = delete;
  ~RunFolderLock();

 private:
  explicit RunFolderLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// OK when `out` holds no earlier run: no metrics.jsonl lines and no checkpoint-N folder (complete or not).
// Otherwise FailedPrecondition naming the folder and what it holds, with the ways on: --resume, --overwrite, or
// another train.out.
absl::Status CheckFreshRunFolder(const std::string& out);

// OK when none of `inputs` (the base model, the shards) lies in a checkpoint-N folder of `out`, which --overwrite
// deletes; otherwise FailedPrecondition naming the folder and the input.
absl::Status CheckOverwriteSparesInputs(const std::string& out, const std::vector<std::string>& inputs);

// What a checkpoint must share with the run that resumes it beyond the options it records: written into
// trainer_state.json, compared by ResumeFromLatest (checkpoints from before a field existed skip its check).
struct RunIdentity {
  std::string base_model;        // train.base_model as given (named in messages)
  std::string base_fingerprint;  // BaseWeightsFingerprint of its weights: a LoRA run's adapters fit only them
  std::string param_dtype;       // "float32" or "bfloat16": the weights' dtype
  // The optimizer steps fp32 master copies of bf16 weights, saved in its file(s) (see SaveOptimizerState).
  bool master_weights = false;
};

// 16 hex digits identifying a model's weights: every tensor's name, dtype, shape and first 4 KiB of data, mixed.
// A moved or copied folder keeps it; another model, even a fine-tune of the same shape, does not.
std::string BaseWeightsFingerprint(const hf::SafetensorsCheckpoint& weights);

// The latest complete checkpoint folder in `out`, if any.
std::optional<std::string> LatestCheckpoint(const std::string& out);

// Writes checkpoint-<step> (all ranks call it; rank 0 writes, the others wait at a barrier; under a sharded
// optimizer every rank also writes its optimizer-rank<r>-of-<n>.pt into rank 0's folder, which must be on a file
// system they share) and removes all but the last options.keep_last. Returns the folder.
absl::StatusOr<std::string> SaveCheckpoint(const RunFolder& run, const TrainOptions& options,
                                           const RunIdentity& identity, const Model& model,
                                           const torch::optim::Optimizer& optimizer, const shard::Loader& loader,
                                           const LoraOptions& lora, int64_t step, DataParallel& dp);

// This rank's optimizer over the run's trainable tensors, for restoring state saved by another number of ranks.
struct OptimizerLayout {
  NamedTensors named;                  // every trainable tensor, in MakeAdamW's input order
  std::vector<torch::Tensor> stepped;  // what this rank's optimizer steps for each (undefined: another rank's)
  AdamWOptions adam;                   // what it was built with
};

struct Resumed {
  int64_t step = 0;
  std::vector<StepMetrics> metrics;  // of steps 1..step, as logged
};
// Restores weights (or adapters), optimizer (this rank's share when sharded) and loader cursor from the latest
// complete checkpoint and, once every rank has (a collective), cuts metrics.jsonl back to its step (a killed run
// may have logged steps after it).
// Another number of ranks may resume it when the global batch (ranks × micro_batch_rows × grad_accum) is the same
// and they can split the rows of the epoch taken so far: the optimizer state is then read from the saved files and
// split anew (LoadResplitOptimizerState), whole or sharded. NotFound when there is no checkpoint.
// FailedPrecondition, before anything is cut, when it does not fit this run (on any rank): its step past
// `total_steps`, another mode or parameter dtype, another global batch, or (LoRA) adapters of another shape or
// trained on other base weights.
absl::StatusOr<Resumed> ResumeFromLatest(const RunFolder& run, const TrainOptions& options,
                                         const RunIdentity& identity, int64_t total_steps, Model& model,
                                         torch::optim::Optimizer& optimizer, const OptimizerLayout& layout,
                                         shard::Loader& loader, const LoraOptions& lora, DataParallel& dp);

}  // namespace distill::trainer
