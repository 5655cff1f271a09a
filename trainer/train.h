// The SFT / LoRA / plain-text training loop: an HF base model folder and packed shard folders in, a run folder
// out (resolved config, metrics.jsonl, checkpoints). Loss is cross-entropy on mask-1 tokens only, normalised by
// the number of mask-1 tokens in the whole global batch (all micro-batches, all ranks), so gradient accumulation
// and data parallelism give the same update as one big batch.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace distill::trainer {

struct StepMetrics;

struct TrainOptions {
  std::string base_model;  // HF folder: config.json, model*.safetensors, tokenizer files
  // A PEFT LoRA adapter folder over base_model (empty: none): trained further in mode lora (lora_* must equal its
  // adapter_config.json), merged into the weights in modes full and pretrain.
  std::string base_adapter;
  std::string shards;      // shard folder (train split; validation split read from it when present)
  std::string out;         // run folder
  std::string mode = "full";  // full | lora | pretrain (loss on every token, no masks needed)

  // LoRA (mode lora), PEFT's meaning.
  int64_t lora_r = 16;
  double lora_alpha = 32;
  double lora_dropout = 0.05;
  bool lora_use_rslora = false;  // scaling alpha / √r instead of alpha / r
  std::vector<std::string> lora_targets = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                           "down_proj"};

  // Optimisation.
  double lr = 1e-5;
  std::string schedule = "cosine";  // cosine | linear | constant (after warmup), down to min_lr_ratio · lr
  double min_lr_ratio = 0.0;
  double warmup_ratio = 0.0;   // of the total steps; warmup_steps wins when > 0
  int64_t warmup_steps = 0;
  double weight_decay = 0.0;   // not applied to norms and biases
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double max_grad_norm = 1.0;  // global-norm clipping; 0 = off
  int64_t micro_batch_rows = 1;  // shard rows per micro-batch per rank
  int64_t grad_accum = 1;        // micro-batches per optimizer step
  double epochs = 1;             // used when max_steps is 0
  int64_t max_steps = 0;
  int64_t loss_chunk = 1024;     // masked positions per LM-head chunk

  // Evaluation, logging, checkpoints.
  int64_t eval_every = 0;        // steps; 0 = only at the end
  int64_t eval_max_batches = 0;  // 0 = the whole validation split
  int64_t save_every = 0;        // steps; 0 = only at the end
  int64_t keep_last = 2;         // checkpoints kept
  bool resume = false;           // continue from the latest complete checkpoint in `out`
  // A fresh run (resume false) in a folder holding an earlier run (metrics.jsonl lines, checkpoint-N folders) is
  // refused before the model loads, so nothing of it is lost; with overwrite those are deleted once the run starts.
  bool overwrite = false;

  // Execution.
  bool recompute = false;        // activation checkpointing per decoder layer
  // With several ranks, each keeps and steps the AdamW state of its share of the parameters, gets only that
  // share's gradient sums, and sends the updated share to the others (ZeRO stage 1): the state's 8 bytes per
  // parameter are divided among the ranks, the traffic stays an all-reduce's, and the weights equal an unsharded
  // run's (bit for bit on 2 ranks; from 3 on, the backend's reduce and all-reduce may add the ranks' gradients in
  // different orders). Checkpoints hold one optimizer file per rank.
  bool shard_optimizer = true;
  // auto: fp32 weights, bf16 autocast on CUDA (HF Trainer's bf16: true) and fp32 on CPU. float32: fp32 throughout.
  // bfloat16: bf16 weights and compute on any device; the optimizer steps fp32 master copies (sharded with its
  // state) and sums gradients into them in fp32 after every micro-batch (DeepSpeed's and Megatron's bf16); LoRA's
  // adapters stay fp32 on the bf16 base. Per parameter 2 + 2 bytes plus 16 divided among the ranks, against
  // autocast's 4 + 4 + 2 plus 8 divided: less from two ranks on.
  std::string dtype = "auto";
  std::string device = "auto";   // auto | cpu | cuda | cuda:N (LOCAL_RANK picks the GPU under a launcher)
  uint64_t seed = 42;
  int threads = 0;               // intra-op threads on CPU (0 = LibTorch's default); OpenBLAS: ConfigureCpuThreads
  std::optional<double> rope_theta;  // override config.json's (open-r1 raises Qwen2.5-Math's to 300k for 32k)

  std::string chat_template;       // the template the shards were built with: saved in checkpoints' tokenizer_config
  nlohmann::json resolved_config;  // recorded in checkpoints
  std::string resolved_yaml;       // when not empty, written as out/resolved.yaml by rank 0 once the run starts
  // Called after every optimizer step (rank 0 and others alike) with the step's metrics and the total steps:
  // the CLI draws its progress bar from it.
  std::function<void(const StepMetrics&, int64_t total_steps)> on_step;
  // Polled after every optimizer step (the CLI's SIGINT/SIGTERM flag). Once it is nonzero on any rank, every rank
  // stops after that same step: its checkpoint is saved (unless the step saved one anyway) and Train returns with
  // TrainReport::stopped, so --resume goes on exactly as the uninterrupted run would have. Empty: never.
  // It returns why (the signal number; any positive value) or 0 while no stop is asked.
  std::function<int()> stop_requested;
};

// One optimizer step's record (a line of metrics.jsonl).
struct StepMetrics {
  int64_t step = 0;
  int64_t epoch = 0;
  double loss = 0;          // mean over the step's global mask-1 tokens
  double lr = 0;
  double grad_norm = 0;     // before clipping
  int64_t tokens = 0;       // non-padding tokens in the global batch
  int64_t loss_tokens = 0;
  double tokens_per_s = 0;
  double mfu = 0;           // model FLOPs utilisation estimate (0 on CPU, where no peak is known)
  double memory_mb = 0;     // peak CUDA memory allocated to tensors on CUDA, peak RSS on the CPU
  std::optional<double> val_loss;
  nlohmann::json ToJson() const;
};

struct TrainReport {
  int64_t steps = 0;
  double final_loss = 0;
  std::optional<double> final_val_loss;
  std::string last_checkpoint;  // folder
  std::vector<StepMetrics> metrics;
  int64_t total_steps = 0;      // the run's planned steps (steps < total_steps when stopped)
  bool stopped = false;         // ended early by TrainOptions::stop_requested, after saving checkpoint `steps`
  int stop_reason = 0;          // what stop_requested returned on the rank(s) that asked (the lowest if they differ)
};

// The starting model's folders, before anything loads: base_model must not be a LoRA adapter folder (the message
// names its base and the train.base_adapter override that loads it), and base_adapter, when set, must be one.
// Train calls it; the CLI calls it first too, so the shards' tokenizer check reads a model folder.
absl::Status CheckStartingModel(const TrainOptions& options);

// Runs the loop. Errors (bad options, a shard folder built with another tokenizer, a missing base file) come
// before any step; a NaN/inf loss stops the run with the step and batch named, and saves nothing after it.
absl::StatusOr<TrainReport> Train(const TrainOptions& options);

}  // namespace distill::trainer
