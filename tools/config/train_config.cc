#include "tools/config/train_config.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace distill::config {
namespace {

// More intra-op threads than any machine has cores: LibTorch would spend minutes creating them.
constexpr int64_t kMaxThreads = 4096;

// "<where the value came from>: key '<key>': expected <expected>, got <value>", where the origin is the config
// file's line:column, the command-line override, or "default".
std::string RangeProblem(const Config& cfg, const char* key, const char* expected) {
  const Value& value = cfg.values[static_cast<size_t>(cfg.Find(key))];
  std::string got;
  if (const auto* i = std::get_if<int64_t>(&value)) got = absl::StrCat(*i);
  if (const auto* d = std::get_if<double>(&value)) got = absl::StrCat(*d);
  const std::string origin = cfg.Origin(key);
  return absl::StrCat(origin.starts_with("override") ? "command-line " + origin : origin, ": key '", key,
                      "': expected ", expected, ", got ", got);
}

}  // namespace

Schema TrainSchema() {
  Schema s{"train", {}};
  auto& e = s.entries;
  e.push_back(RequiredKey("train.base_model", ValueType::kPath, "HF base model folder"));
  e.push_back(RequiredKey("train.shards", ValueType::kPath, "shard folder from distill build"));
  e.push_back(Key("train.out", ValueType::kPath, std::string("run"), "run folder"));
  e.push_back(EnumKey("train.mode", {"full", "lora", "pretrain"}, "full",
                      "full SFT, LoRA adapters, or plain-text pretraining (loss on every token)"));
  e.push_back(Key("train.template", ValueType::kString, std::string(),
                  "the chat template the shards were built with, when not the base model's"));
  e.push_back(Key("train.lr", ValueType::kFloat, 1e-5, "peak learning rate"));
  e.push_back(EnumKey("train.schedule", {"cosine", "linear", "constant"}, "cosine", "decay after warmup"));
  e.push_back(Key("train.min_lr_ratio", ValueType::kFloat, 0.0, "floor of the decay, as a share of lr"));
  e.push_back(Key("train.warmup_ratio", ValueType::kFloat, 0.0, "linear warmup, share of the total steps"));
  e.push_back(Key("train.warmup_steps", ValueType::kInt, int64_t{0}, "linear warmup steps (wins over the ratio)"));
  e.push_back(Key("train.weight_decay", ValueType::kFloat, 0.0, "AdamW decay (not on norms and biases)"));
  e.push_back(Key("train.beta1", ValueType::kFloat, 0.9, "AdamW β1"));
  e.push_back(Key("train.beta2", ValueType::kFloat, 0.999, "AdamW β2"));
  e.push_back(Key("train.eps", ValueType::kFloat, 1e-8, "AdamW ε"));
  e.push_back(Key("train.max_grad_norm", ValueType::kFloat, 1.0, "global gradient-norm clip (0 = off)"));
  e.push_back(Key("train.micro_batch_rows", ValueType::kInt, int64_t{1}, "shard rows per micro-batch per rank"));
  e.push_back(Key("train.grad_accum", ValueType::kInt, int64_t{1}, "micro-batches per optimizer step"));
  e.push_back(Key("train.epochs", ValueType::kFloat, 1.0, "passes over the train split (when max_steps is 0)"));
  e.push_back(Key("train.max_steps", ValueType::kInt, int64_t{0}, "optimizer steps (0 = from epochs)"));
  e.push_back(Key("train.loss_chunk", ValueType::kInt, int64_t{1024}, "masked positions per LM-head chunk"));
  e.push_back(Key("train.eval_every", ValueType::kInt, int64_t{0}, "validation every N steps (0 = at the end)"));
  e.push_back(Key("train.eval_max_batches", ValueType::kInt, int64_t{0}, "validation batches (0 = all)"));
  e.push_back(Key("train.save_every", ValueType::kInt, int64_t{0}, "checkpoint every N steps (0 = at the end)"));
  e.push_back(Key("train.keep_last", ValueType::kInt, int64_t{2}, "checkpoints kept"));
  e.push_back(Key("train.recompute", ValueType::kBool, false, "activation checkpointing per decoder layer"));
  e.push_back(EnumKey("train.dtype", {"auto", "float32", "bfloat16"}, "auto",
                      "auto: bf16 autocast on CUDA, fp32 on CPU"));
  e.push_back(Key("train.device", ValueType::kString, std::string("auto"), "auto | cpu | cuda | cuda:N"));
  e.push_back(Key("train.seed", ValueType::kInt, int64_t{42}, "seed of every random choice"));
  e.push_back(Key("train.threads", ValueType::kInt, int64_t{0}, "CPU intra-op threads (0 = LibTorch's default)"));
  e.push_back(Key("train.rope_theta", ValueType::kFloat, 0.0, "override config.json's rope_theta (0 = keep)"));
  e.push_back(Key("lora.r", ValueType::kInt, int64_t{16}, "LoRA rank"));
  e.push_back(Key("lora.alpha", ValueType::kFloat, 32.0, "LoRA alpha (scaling alpha / r)"));
  e.push_back(Key("lora.dropout", ValueType::kFloat, 0.05, "dropout on the adapter input"));
  e.push_back(Key("lora.target_modules", ValueType::kStringList,
                  std::vector<std::string>{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"},
                  "projections that get adapters"));
  return s;
}

absl::StatusOr<trainer::TrainOptions> TrainOptionsFromConfig(const Config& cfg) {
  trainer::TrainOptions o;
  o.base_model = cfg.GetString("train.base_model");
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
  o.dtype = cfg.GetString("train.dtype");
  o.device = cfg.GetString("train.device");
  o.seed = static_cast<uint64_t>(cfg.GetInt("train.seed"));
  const int64_t threads = cfg.GetInt("train.threads");
  o.threads = static_cast<int>(std::clamp<int64_t>(threads, -1, kMaxThreads + 1));  // range-checked below
  const double rope_theta = cfg.GetDouble("train.rope_theta");
  if (rope_theta > 0) o.rope_theta = rope_theta;
  o.lora_r = cfg.GetInt("lora.r");
  o.lora_alpha = cfg.GetDouble("lora.alpha");
  o.lora_dropout = cfg.GetDouble("lora.dropout");
  o.lora_targets = cfg.GetStringList("lora.target_modules");

  // Ranges that would only fail after the model is loaded are checked here, before anything runs; every problem
  // is reported, each naming where its value came from.
  std::vector<std::string> problems;
  auto require = [&](bool ok, const char* key, const char* expected) {
    if (!ok) problems.push_back(RangeProblem(cfg, key, expected));
  };
  require(o.lr > 0 && o.lr <= 1, "train.lr", "0 < x ≤ 1");
  require(o.min_lr_ratio >= 0 && o.min_lr_ratio <= 1, "train.min_lr_ratio", "0 ≤ x ≤ 1");
  require(o.warmup_ratio >= 0 && o.warmup_ratio < 1, "train.warmup_ratio", "0 ≤ x < 1");
  require(o.warmup_steps >= 0, "train.warmup_steps", "≥ 0");
  require(o.weight_decay >= 0, "train.weight_decay", "≥ 0");
  require(o.beta1 >= 0 && o.beta1 < 1, "train.beta1", "0 ≤ x < 1");
  require(o.beta2 >= 0 && o.beta2 < 1, "train.beta2", "0 ≤ x < 1");
  require(o.eps > 0, "train.eps", "> 0");
  require(o.max_grad_norm >= 0, "train.max_grad_norm", "≥ 0 (0 = no clipping)");
  require(o.micro_batch_rows >= 1 && o.micro_batch_rows <= std::numeric_limits<int32_t>::max(),
          "train.micro_batch_rows", "1 ≤ x ≤ 2147483647");
  require(o.grad_accum >= 1, "train.grad_accum", "≥ 1");
  require(o.epochs > 0 && o.epochs <= 1e6, "train.epochs", "0 < x ≤ 1000000");
  require(o.max_steps >= 0, "train.max_steps", "≥ 0 (0 = from epochs)");
  require(o.loss_chunk >= 1, "train.loss_chunk", "≥ 1");
  require(o.eval_every >= 0, "train.eval_every", "≥ 0");
  require(o.eval_max_batches >= 0, "train.eval_max_batches", "≥ 0 (0 = all)");
  require(o.save_every >= 0, "train.save_every", "≥ 0");
  require(o.keep_last >= 1, "train.keep_last", "≥ 1");
  require(threads >= 0 && threads <= kMaxThreads, "train.threads", "0 ≤ x ≤ 4096 (0 = LibTorch's default)");
  require(rope_theta >= 0, "train.rope_theta", "≥ 0 (0 = keep config.json's)");
  if (o.mode == "lora") {
    require(o.lora_r >= 1, "lora.r", "≥ 1");
    require(o.lora_alpha > 0, "lora.alpha", "> 0");
    require(o.lora_dropout >= 0 && o.lora_dropout < 1, "lora.dropout", "0 ≤ x < 1");
  }
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));

  o.resolved_config = ToJson(cfg);
  return o;
}

}  // namespace distill::config
