#include "tools/config/train_config.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace distill::config {
namespace {

// More intra-op threads than any machine has cores: LibTorch would spend minutes creating them.
constexpr double kMaxThreads = 4096;
// Rows per micro-batch become an int in the shard loader.
constexpr double kMaxInt32 = std::numeric_limits<int32_t>::max();

}  // namespace

Schema TrainSchema() {
  Schema s{"train", {}};
  auto& e = s.entries;
  e.push_back(RequiredKey("train.base_model", ValueType::kPath, "HF base model folder"));
  e.push_back(Key("train.base_adapter", ValueType::kPath, std::string(),
                  "PEFT LoRA adapter folder on base_model: trained further (lora) or merged in (full, pretrain)"));
  e.push_back(RequiredKey("train.shards", ValueType::kPath, "shard folder from distill build"));
  e.push_back(Key("train.out", ValueType::kPath, std::string("run"), "run folder"));
  e.push_back(EnumKey("train.mode", {"full", "lora", "pretrain"}, "full",
                      "full SFT, LoRA adapters, or plain-text pretraining (loss on every token)"));
  e.push_back(Key("train.template", ValueType::kString, std::string(),
                  "the chat template the shards were built with, when not the base model's"));
  e.push_back(Key("train.lr", ValueType::kFloat, 1e-5, "peak learning rate", OpenClosed(0, 1)));
  e.push_back(EnumKey("train.schedule", {"cosine", "linear", "constant"}, "cosine", "decay after warmup"));
  e.push_back(Key("train.min_lr_ratio", ValueType::kFloat, 0.0, "floor of the decay, as a share of lr",
                  Closed(0, 1)));
  e.push_back(Key("train.warmup_ratio", ValueType::kFloat, 0.0, "linear warmup, share of the total steps",
                  ClosedOpen(0, 1)));
  e.push_back(Key("train.warmup_steps", ValueType::kInt, int64_t{0}, "linear warmup steps (wins over the ratio)",
                  AtLeast(0)));
  e.push_back(Key("train.weight_decay", ValueType::kFloat, 0.0, "AdamW decay (not on norms and biases)",
                  AtLeast(0)));
  e.push_back(Key("train.beta1", ValueType::kFloat, 0.9, "AdamW β1", ClosedOpen(0, 1)));
  e.push_back(Key("train.beta2", ValueType::kFloat, 0.999, "AdamW β2", ClosedOpen(0, 1)));
  e.push_back(Key("train.eps", ValueType::kFloat, 1e-8, "AdamW ε", Above(0)));
  e.push_back(Key("train.max_grad_norm", ValueType::kFloat, 1.0, "global gradient-norm clip (0 = off)",
                  AtLeast(0, "0 = no clipping")));
  e.push_back(Key("train.micro_batch_rows", ValueType::kInt, int64_t{1}, "shard rows per micro-batch per rank",
                  Closed(1, kMaxInt32)));
  e.push_back(Key("train.grad_accum", ValueType::kInt, int64_t{1}, "micro-batches per optimizer step",
                  AtLeast(1)));
  e.push_back(Key("train.epochs", ValueType::kFloat, 1.0, "passes over the train split (when max_steps is 0)",
                  OpenClosed(0, 1e6)));
  e.push_back(Key("train.max_steps", ValueType::kInt, int64_t{0}, "optimizer steps (0 = from epochs)",
                  AtLeast(0, "0 = from epochs")));
  e.push_back(Key("train.loss_chunk", ValueType::kInt, int64_t{1024}, "masked positions per LM-head chunk",
                  AtLeast(1)));
  e.push_back(Key("train.eval_every", ValueType::kInt, int64_t{0}, "validation every N steps (0 = at the end)",
                  AtLeast(0)));
  e.push_back(Key("train.eval_max_batches", ValueType::kInt, int64_t{0}, "validation batches (0 = all)",
                  AtLeast(0, "0 = all")));
  e.push_back(Key("train.save_every", ValueType::kInt, int64_t{0}, "checkpoint every N steps (0 = at the end)",
                  AtLeast(0)));
  e.push_back(Key("train.keep_last", ValueType::kInt, int64_t{2}, "checkpoints kept", AtLeast(1)));
  e.push_back(Key("train.recompute", ValueType::kBool, false, "activation checkpointing per decoder layer"));
  e.push_back(Key("train.shard_optimizer", ValueType::kBool, true,
                  "with several ranks, each keeps the AdamW state of its share of the parameters (ZeRO stage 1)"));
  e.push_back(EnumKey("train.dtype", {"auto", "float32", "bfloat16"}, "auto",
                      "auto: bf16 autocast on CUDA, fp32 on CPU; bfloat16: bf16 weights, fp32 master copies"));
  e.push_back(Key("train.device", ValueType::kString, std::string("auto"), "auto | cpu | cuda | cuda:N"));
  e.push_back(Key("train.seed", ValueType::kInt, int64_t{42}, "seed of every random choice"));
  e.push_back(Key("train.threads", ValueType::kInt, int64_t{0}, "CPU intra-op threads (0 = LibTorch's default)",
                  Closed(0, kMaxThreads, "0 = LibTorch's default")));
  e.push_back(Key("train.rope_theta", ValueType::kFloat, 0.0, "override config.json's rope_theta (0 = keep)",
                  AtLeast(0, "0 = keep config.json's")));
  e.push_back(Key("lora.r", ValueType::kInt, int64_t{16}, "LoRA rank", AtLeast(1)));
  e.push_back(Key("lora.alpha", ValueType::kFloat, 32.0, "LoRA alpha (scaling alpha / r)", Above(0)));
  e.push_back(Key("lora.dropout", ValueType::kFloat, 0.05, "dropout on the adapter input", ClosedOpen(0, 1)));
  e.push_back(Key("lora.use_rslora", ValueType::kBool, false, "rank-stabilised scaling alpha / √r (PEFT use_rslora)"));
  e.push_back(Key("lora.target_modules", ValueType::kStringList,
                  std::vector<std::string>{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"},
                  "projections that get adapters"));
  return s;
}

trainer::TrainOptions TrainOptionsFromConfig(const Config& cfg) {
  trainer::TrainOptions o;
  o.base_model = cfg.GetString("train.base_model");
  o.base_adapter = cfg.GetString("train.base_adapter");
  o.shards = cfg.GetString("train.shards");
  o.out = cfg.GetString("train.out");
  o.mode = cfg.GetString("train.mode");
  o.lr = cfg.GetDouble("train.lr");
  o.schedule = cfg.GetString("train.schedule");
  o.min_lr_ratio = cfg.GetDouble("train.min_lr_ratio");
  o.warmup_ratio = cfg.GetDouble("train.warmup_ratio");
  o.warmup_steps = cfg.GetInt("train.warmup_steps");
  o.weight_decay = cfg.GetDouble("train.weight_decay");
  o.beta1 = cfg.GetDouble("train.beta1");
  o.beta2 = cfg.GetDouble("train.beta2");
  o.eps = cfg.GetDouble("train.eps");
  o.max_grad_norm = cfg.GetDouble("train.max_grad_norm");
  o.micro_batch_rows = cfg.GetInt("train.micro_batch_rows");
  o.grad_accum = cfg.GetInt("train.grad_accum");
  o.epochs = cfg.GetDouble("train.epochs");
  o.max_steps = cfg.GetInt("train.max_steps");
  o.loss_chunk = cfg.GetInt("train.loss_chunk");
  o.eval_every = cfg.GetInt("train.eval_every");
  o.eval_max_batches = cfg.GetInt("train.eval_max_batches");
  o.save_every = cfg.GetInt("train.save_every");
  o.keep_last = cfg.GetInt("train.keep_last");
  o.recompute = cfg.GetBool("train.recompute");
  o.shard_optimizer = cfg.GetBool("train.shard_optimizer");
  o.dtype = cfg.GetString("train.dtype");
  o.device = cfg.GetString("train.device");
  o.seed = static_cast<uint64_t>(cfg.GetInt("train.seed"));
  o.threads = static_cast<int>(cfg.GetInt("train.threads"));  // the schema bounds it to 0..4096
  if (const double rope_theta = cfg.GetDouble("train.rope_theta"); rope_theta > 0) o.rope_theta = rope_theta;
  o.lora_r = cfg.GetInt("lora.r");
  o.lora_alpha = cfg.GetDouble("lora.alpha");
  o.lora_dropout = cfg.GetDouble("lora.dropout");
  o.lora_use_rslora = cfg.GetBool("lora.use_rslora");
  o.lora_targets = cfg.GetStringList("lora.target_modules");
  o.resolved_config = ToJson(cfg);
  return o;
}

}  // namespace distill::config
