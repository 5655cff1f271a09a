// The training loop: one optimizer step = grad_accum micro-batches per rank, every gradient divided by the number
// of mask-1 tokens in the whole global batch before it is summed over ranks, so accumulation and data
// parallelism reproduce one big batch. Checkpoints (trainer/train_checkpoint.cc) make a killed run resumable with
// bit-identical metrics on CPU.
#include "trainer/train.h"

#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/shard/loader.h"
#include "data/splitmix.h"
#include "trainer/autocast.h"
#include "trainer/checkpoint_io.h"
#include "trainer/cpu_threads.h"
#include "trainer/distributed.h"
#include "trainer/lora.h"
#include "trainer/memory.h"
#include "trainer/loss.h"
#include "trainer/optim.h"
#include "trainer/train_checkpoint.h"

namespace distill::trainer {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

absl::StatusOr<torch::Device> ResolveDevice(const std::string& name, int local_rank) {
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name == "auto") {
    if (!torch::cuda::is_available()) return torch::Device(torch::kCPU);
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank));
  }
  if (name == "cuda" || name.starts_with("cuda:")) {
    if (!torch::cuda::is_available())
      return absl::FailedPreconditionError("train.device: " + name + " asked for, but LibTorch sees no CUDA device");
    if (name == "cuda") return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank));
    try {
      return torch::Device(name);
    } catch (const c10::Error&) {
      return absl::InvalidArgumentError("train.device: cannot parse \"" + name + "\"");
    }
  }
  return absl::InvalidArgumentError("train.device: expected auto, cpu, cuda or cuda:N, got \"" + name + "\"");
}

// A batch's buffers as tensors on `device` (cu_seqlens left for the caller to point at the batch's, which it owns).
MicroBatch ToTensors(shard::Batch& b, torch::Device device, bool all_tokens) {
  const auto shape = std::vector<int64_t>{b.rows, b.seq_len};
  auto i32 = torch::TensorOptions().dtype(torch::kInt32);
  MicroBatch t;
  t.ids = torch::from_blob(b.input_ids.data(), shape, i32).to(device, torch::kInt64);
  t.positions = torch::from_blob(b.position_ids.data(), shape, i32).to(device, torch::kInt64);
  torch::Tensor targets = torch::from_blob(b.targets.data(), shape, i32).to(torch::kInt64);
  torch::Tensor mask = torch::from_blob(b.loss_mask.data(), shape, torch::TensorOptions().dtype(torch::kUInt8))
                           .to(torch::kInt64);
  // Plain-text pretraining trains on every real next token, whatever the shard's masks say.
  if (all_tokens) mask = (targets != kIgnoreTarget).to(torch::kInt64);
  t.targets = targets.to(device);
  t.mask = mask.to(device);
  return t;
}

int64_t LossTokens(const MicroBatch& t) { return t.mask.sum().item<int64_t>(); }

// Mean loss over a split's batches (no gradients), summed over ranks.
absl::StatusOr<double> Evaluate(const Model& model, const shard::ShardSet& set, const TrainOptions& o,
                                DataParallel& dp, torch::Device device, bool all_tokens) {
  shard::LoaderOptions lo;
  lo.seed = o.seed;
  lo.rank = dp.rank();
  lo.world_size = dp.world_size();
  lo.batch_size = static_cast<int>(o.micro_batch_rows);
  lo.shuffle = false;
  lo.keep_remainder = true;  // every row, on any number of ranks
  auto loader = shard::Loader::Create(set, lo);
  if (!loader.ok()) return loader.status();
  int64_t batches = loader->batches_per_epoch();
  if (o.eval_max_batches > 0) batches = std::min(batches, o.eval_max_batches);
  torch::NoGradGuard no_grad;
  double sum = 0;
  int64_t tokens = 0;
  for (int64_t i = 0; i < batches; ++i) {
    shard::Batch b = loader->Next();
    MicroBatch t = ToTensors(b, device, all_tokens);
    torch::Tensor hidden = Hidden(model, t.ids, t.positions, b.cu_seqlens);
    MaskedLoss loss = MaskedLossSum(model, hidden, t.targets, t.mask, o.loss_chunk);
    sum += loss.sum.item<double>();
    tokens += loss.tokens;
  }
  auto global_sum = dp.AllReduceSum(sum);
  auto global_tokens = dp.AllReduceSum(tokens);
  if (!global_sum.ok()) return global_sum.status();
  if (!global_tokens.ok()) return global_tokens.status();
  return *global_tokens > 0 ? *global_sum / static_cast<double>(*global_tokens) : 0.0;
}

// The step's gradients summed over ranks: unsharded (no owners) every rank gets every sum; sharded (ZeRO-1) only
// each tensor's owner gets its sum, and the other ranks drop that gradient.
absl::Status SumGradients(DataParallel& dp, const std::vector<torch::Tensor>& params, const std::vector<int>& owners) {
  if (owners.empty()) return dp.AllReduceGradients(params);
  if (auto s = dp.ReduceGradientsToOwners(params, owners); !s.ok()) return s;
  for (size_t i = 0; i < params.size(); ++i)
    if (owners[i] != dp.rank()) params[i].mutable_grad() = torch::Tensor();  // a partial sum; only its owner steps it
  return absl::OkStatus();
}

// Clips the summed gradients of `stepped` (what this rank's optimizer steps: the parameters or their fp32 masters,
// undefined where another rank owns one) to `max_norm`; returns their global norm before clipping. Sharded, the
// norm is combined from every rank's share exactly as ClipGradNorm combines it, so both ways clip the same.
absl::StatusOr<double> ClipSummedGradients(DataParallel& dp, const std::vector<torch::Tensor>& stepped,
                                           const std::vector<int>& owners, double max_norm) {
  if (owners.empty()) return ClipGradNorm(stepped, max_norm);
  std::vector<torch::Tensor> mine;
  std::vector<int64_t> mine_at;
  for (size_t i = 0; i < stepped.size(); ++i) {
    if (owners[i] == dp.rank()) {
      mine.push_back(stepped[i].grad());  // defined by the reduce
      mine_at.push_back(static_cast<int64_t>(i));
    }
  }
  // Every tensor's norm at its place, each from its owner: the vector ClipGradNorm would stack, bit for bit.
  const torch::Tensor mine_norms = GradNorms(mine);
  torch::Tensor norms = torch::zeros({static_cast<int64_t>(stepped.size())}, mine_norms.options());
  norms.index_copy_(0, torch::tensor(mine_at, torch::kLong).to(norms.device()), mine_norms);
  if (auto s = dp.AllReduceSumInPlace(norms); !s.ok()) return s;
  return ScaleToMaxNorm(mine, norms, max_norm);
}

// The tensors this rank's optimizer steps, one per parameter: the parameter itself, or with `masters` an fp32 copy
// of it (requires_grad, no gradient yet); undefined where another rank owns it (`owners` not empty).
std::vector<torch::Tensor> SteppedTensors(const std::vector<torch::Tensor>& params, const std::vector<int>& owners,
                                          int rank, bool masters) {
  std::vector<torch::Tensor> stepped(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    if (!owners.empty() && owners[i] != rank) continue;
    stepped[i] = masters ? params[i].detach().to(torch::kFloat, /*non_blocking=*/false, /*copy=*/true)
                               .set_requires_grad(true)
                         : params[i];
  }
  return stepped;
}

// ZeRO-1: each rank has stepped the tensors it owns; every rank takes the others' from their owners.
absl::Status BroadcastFromOwners(DataParallel& dp, const std::vector<torch::Tensor>& params,
                                 const std::vector<int>& owners) {
  for (int root = 0; root < dp.world_size(); ++root) {
    std::vector<torch::Tensor> share;
    for (size_t i = 0; i < params.size(); ++i)
      if (owners[i] == root) share.push_back(params[i]);
    if (auto s = dp.Broadcast(share, root); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// Why any rank was asked to stop (TrainOptions::stop_requested's value; the lowest when ranks differ), 0 when none
// was: every rank learns it, so a rank no signal reached exits as the signalled ones do. A collective (a small
// count per reason) on every rank at every step when several run.
absl::StatusOr<int> StopAgreed(const TrainOptions& o, DataParallel& dp) {
  constexpr int kReasons = 65;  // signal numbers 1..64; any other positive value counts as 64
  const int local = o.stop_requested ? std::clamp(o.stop_requested(), 0, kReasons - 1) : 0;
  if (dp.world_size() == 1) return local;
  torch::Tensor counts = torch::zeros({kReasons}, torch::TensorOptions().dtype(torch::kLong).device(dp.device()));
  if (local > 0) counts[local] = 1;
  if (auto s = dp.AllReduceSumInPlace(counts); !s.ok()) return s;
  const torch::Tensor asked = counts.slice(0, 1).nonzero();
  return asked.numel() == 0 ? 0 : static_cast<int>(asked[0][0].item<int64_t>()) + 1;
}

}  // namespace

nlohmann::json StepMetrics::ToJson() const {
  nlohmann::json j = {{"step", step},   {"epoch", epoch},         {"loss", loss},
                      {"lr", lr},       {"grad_norm", grad_norm}, {"tokens", tokens},
                      {"loss_tokens", loss_tokens}, {"tokens_per_s", tokens_per_s}, {"mfu", mfu},
                      {"memory_mb", memory_mb}};
  if (val_loss) j["val_loss"] = *val_loss;
  return j;
}

absl::Status CheckStartingModel(const TrainOptions& o) {
  if (IsLoraAdapterFolder(o.base_model)) {
    absl::StatusOr<std::string> base = LoraAdapterBase(o.base_model);
    return absl::InvalidArgumentError(absl::StrCat(
        "train.base_model ", o.base_model, " is a LoRA adapter folder (adapter_config.json), not a model: set ",
        "train.base_model to its base model", base.ok() ? absl::StrCat(" (", *base, ")") : std::string(),
        " and train.base_adapter=", o.base_model));
  }
  if (!o.base_adapter.empty() && !IsLoraAdapterFolder(o.base_adapter)) {
    return absl::NotFoundError(absl::StrCat("train.base_adapter ", o.base_adapter,
                                            ": no adapter_config.json there (expected a PEFT LoRA adapter folder)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<TrainReport> Train(const TrainOptions& o) {
  if (o.mode != "full" && o.mode != "lora" && o.mode != "pretrain")
    return absl::InvalidArgumentError("train.mode: expected full, lora or pretrain, got \"" + o.mode + "\"");
  if (absl::Status s = CheckStartingModel(o); !s.ok()) return s;
  auto env = DistEnvFromEnvironment();
  if (!env.ok()) return env.status();
  auto device = ResolveDevice(o.device, env->local_rank);
  if (!device.ok()) return device.status();
  auto dp = DataParallel::Init(*env, *device);
  if (!dp.ok()) return dp.status();
  const bool main = (*dp)->is_main();

  // The folder is refused before anything loads while another run holds it, when it holds an earlier run (unless
  // resuming), or when an overwrite would delete the base model or the shards. Rank 0 looks and keeps the lock;
  // every rank learns the verdict, so none waits in a collective for a rank that gave up.
  std::optional<RunFolderLock> lock;
  absl::Status usable = absl::OkStatus();
  if (main) {
    auto locked = RunFolderLock::Acquire(o.out);
    if (locked.ok()) {
      lock.emplace(std::move(*locked));
    } else {
      usable = locked.status();
    }
    if (usable.ok() && !o.resume) {
      std::vector<std::string> inputs = {o.base_model, o.shards};
      if (!o.base_adapter.empty()) inputs.push_back(o.base_adapter);
      usable = o.overwrite ? CheckOverwriteSparesInputs(o.out, inputs) : CheckFreshRunFolder(o.out);
    }
  }
  auto refused = (*dp)->AllReduceSum(int64_t{usable.ok() ? 0 : 1});
  if (!refused.ok()) return refused.status();
  if (!usable.ok()) return usable;
  if (*refused > 0) return absl::FailedPreconditionError(absl::StrCat(o.out, ": rank 0 refused the run folder"));

  // Data first: a bad shard folder fails before the model is loaded.
  auto train_set = shard::ShardSet::Open(o.shards, "train");
  if (!train_set.ok()) return train_set.status();
  std::unique_ptr<shard::ShardSet> val_set;
  if (fs::exists(fs::path(o.shards) / "manifest.json")) {
    const auto& names = (*train_set)->manifest().value("split_names", nlohmann::json::array());
    for (const auto& n : names) {
      if (n == "validation") {
        auto v = shard::ShardSet::Open(o.shards, "validation");
        if (!v.ok()) return v.status();
        if ((*v)->num_rows() > 0) val_set = std::move(*v);
      }
    }
  }
  shard::LoaderOptions lo;
  lo.seed = o.seed;
  lo.rank = (*dp)->rank();
  lo.world_size = (*dp)->world_size();
  lo.batch_size = static_cast<int>(o.micro_batch_rows);
  auto loader = shard::Loader::Create(**train_set, lo);
  if (!loader.ok()) return loader.status();

  // Model: fp32 weights under autocast on CUDA (they are the optimizer's master copy) or fp32 on the CPU; with
  // train.dtype=bfloat16 bf16 weights on any device, and the optimizer steps fp32 master copies (or fp32 adapters).
  auto config = hf::LoadModelConfig(o.base_model);
  if (!config.ok()) return config.status();
  if (o.rope_theta) config->rope_theta = *o.rope_theta;
  // Rows longer than the base's context (open-r1 trains the 4k Qwen2.5-Math-7B at 32k): checkpoints declare the
  // length trained at, as open-r1's edited config.json does, so vLLM's and llama.cpp's context limits allow it.
  config->max_position_embeddings = std::max<int64_t>(config->max_position_embeddings, (*train_set)->seq_len());
  ConfigureCpuThreads(o.threads, config->hidden_size);
  const bool cuda = device->is_cuda();
  if (!cuda) KeepFreedMemoryInHeap();
  const torch::Dtype dtype = o.dtype == "bfloat16" ? torch::kBFloat16 : torch::kFloat32;
  const bool autocast = cuda && o.dtype == "auto";
  auto model_or = MakeModel(*config, *device, dtype);
  if (!model_or.ok()) {
    const std::string config_path = (fs::path(o.base_model) / "config.json").string();
    return absl::Status(model_or.status().code(), absl::StrCat(config_path, ": ", model_or.status().message()));
  }
  std::shared_ptr<Model> model = *model_or;
  RunIdentity identity{o.base_model, "", dtype == torch::kBFloat16 ? "bfloat16" : "float32"};
  {
    auto checkpoint = hf::SafetensorsCheckpoint::Open(o.base_model);
    if (!checkpoint.ok()) return checkpoint.status();
    if (auto s = LoadWeights(*model, **checkpoint); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(o.base_model, ": ", s.message()));
    }
    identity.base_fingerprint = BaseWeightsFingerprint(**checkpoint);
  }
  LoraOptions lora;
  lora.r = o.lora_r;
  lora.alpha = o.lora_alpha;
  lora.dropout = o.lora_dropout;
  lora.use_rslora = o.lora_use_rslora;
  lora.target_modules = o.lora_targets;
  lora.seed = o.seed;
  lora.base_model_name_or_path = o.base_model;
  if (!o.base_adapter.empty()) {  // an earlier adapter: trained further in lora mode, else the starting weights
    absl::Status s = o.mode == "lora" ? ContinueLoraAdapter(*model, lora, o.base_adapter)
                                      : LoadLoraAdapter(*model, o.base_adapter).status();
    if (s.ok() && o.mode != "lora") s = MergeLora(*model);
    if (!s.ok()) return s;
  } else if (o.mode == "lora") {
    if (auto s = AddLora(*model, lora); !s.ok()) return s;
  }
  model->train();
  const auto named = NamedTrainableParameters(*model);
  std::vector<torch::Tensor> params;
  for (const auto& [name, p] : named) params.push_back(p);
  if (auto s = (*dp)->Broadcast(params); !s.ok()) return s;

  // ZeRO-1: this rank's optimizer holds only the tensors it owns; the others' come back by broadcast each step.
  const int world = (*dp)->world_size(), rank = (*dp)->rank();
  const bool sharded = o.shard_optimizer && world > 1;
  std::vector<int> owners;
  if (sharded) {
    if (params.size() < static_cast<size_t>(world))
      return absl::InvalidArgumentError(absl::StrCat("train.shard_optimizer: ", params.size(),
                                                     " trainable tensors cannot be shared among ", world,
                                                     " ranks; set train.shard_optimizer=false"));
    owners = OptimizerShardOwners(params, world);
  }
  // bf16 weights train through fp32 master copies: an AdamW step of lr 1e-5 is below half a bf16 ulp of most
  // weights and would round away. LoRA's adapters are fp32 already (PEFT's autocast_adapter_dtype).
  identity.master_weights = std::any_of(params.begin(), params.end(),
                                        [](const torch::Tensor& p) { return p.scalar_type() != torch::kFloat; });
  const std::vector<torch::Tensor> stepped = SteppedTensors(params, owners, rank, identity.master_weights);
  NamedTensors owned;
  for (size_t i = 0; i < named.size(); ++i)
    if (stepped[i].defined()) owned.emplace_back(named[i].first, stepped[i]);
  AdamWOptions adam{o.lr, o.beta1, o.beta2, o.eps, o.weight_decay};
  auto optimizer = MakeAdamW(owned, adam);
  if (!optimizer.ok()) return optimizer.status();
  auto decay = ParseLrDecay(o.schedule);
  if (!decay.ok()) return decay.status();
  ScheduleOptions schedule{o.lr, *decay, o.warmup_steps, o.warmup_ratio, o.min_lr_ratio};
  const int64_t batches_per_epoch = loader->batches_per_epoch();
  const int64_t steps_per_epoch = std::max<int64_t>(1, batches_per_epoch / o.grad_accum);
  const int64_t total_steps =
      o.max_steps > 0 ? o.max_steps : std::max<int64_t>(1, static_cast<int64_t>(std::ceil(o.epochs * steps_per_epoch)));
  const bool all_tokens = o.mode == "pretrain";

  RunFolder run{o.out, main};
  TrainReport report;
  report.total_steps = total_steps;
  int64_t start_step = 0;
  if (o.resume) {
    const OptimizerLayout layout{named, stepped, adam};
    auto resumed = ResumeFromLatest(run, o, identity, total_steps, *model, **optimizer, layout, *loader, lora, **dp);
    if (!resumed.ok()) return resumed.status();
    start_step = resumed->step;
    report.metrics = std::move(resumed->metrics);
    report.steps = start_step;  // a finished run resumed: nothing left to do, and the report says where it ended
    if (!report.metrics.empty()) report.final_loss = report.metrics.back().loss;
    report.last_checkpoint = LatestCheckpoint(o.out).value_or("");
  } else if (main) {
    if (auto s = run.StartFresh(); !s.ok()) return s;
  }
  if (!o.resolved_yaml.empty() && start_step < total_steps) {  // a finished run resumed trains nothing
    if (auto s = run.WriteResolvedConfig(o.resolved_yaml); !s.ok()) return s;
  }

  const double flops_per_token = TrainingFlopsPerToken(*model, static_cast<double>((*train_set)->seq_len()));
  for (int64_t step = start_step + 1; step <= total_steps; ++step) {
    const auto started = Clock::now();
    // LoRA dropout draws from the default generators (CPU and CUDA), seeded here from (seed, step, rank): a resumed
    // run draws what the uninterrupted one drew, on any device, with no generator state in the checkpoint, and each
    // rank draws its own masks (rank 0 those of a single process).
    uint64_t stream = data::SplitMix64Mix(o.seed + data::kGoldenGamma * static_cast<uint64_t>(step));
    if (rank > 0) stream = data::SplitMix64Mix(stream + data::kGoldenGamma * static_cast<uint64_t>(rank));
    torch::manual_seed(stream);
    std::vector<shard::Batch> batches;
    std::vector<MicroBatch> tensors;
    int64_t local_loss_tokens = 0, local_tokens = 0;
    for (int64_t k = 0; k < o.grad_accum; ++k) {
      batches.push_back(loader->Next());
      tensors.push_back(ToTensors(batches.back(), *device, all_tokens));
      local_loss_tokens += LossTokens(tensors.back());
      local_tokens += batches.back().tokens;
    }
    auto global_loss_tokens = (*dp)->AllReduceSum(local_loss_tokens);
    auto global_tokens = (*dp)->AllReduceSum(local_tokens);
    if (!global_loss_tokens.ok()) return global_loss_tokens.status();
    if (!global_tokens.ok()) return global_tokens.status();
    const double denominator = static_cast<double>(std::max<int64_t>(1, *global_loss_tokens));

    // Every trainable tensor's, not the optimizer's: a sharded optimizer knows only this rank's share.
    for (const torch::Tensor& p : params) p.mutable_grad() = torch::Tensor();
    for (const torch::Tensor& t : stepped)
      if (t.defined()) t.mutable_grad() = torch::Tensor();
    double local_sum = 0;
    for (size_t k = 0; k < tensors.size(); ++k) {
      tensors[k].cu_seqlens = batches[k].cu_seqlens;  // batches no longer grows
      const double value = AccumulateGradients(*model, tensors[k], denominator, o.recompute, autocast,
                                               o.loss_chunk);
      if (!std::isfinite(value)) {
        const auto& rows = batches[k].row_indices;
        return absl::DataLossError(absl::StrFormat(
            "step %d: the loss is %f on micro-batch %d (epoch %d, shard rows %s); nothing was saved for this step",
            step, value, k, batches[k].epoch,
            rows.empty() ? std::string("none") : absl::StrCat(rows.front(), "…", rows.back())));
      }
      local_sum += value;
      // bf16 gradients are summed in fp32 into the masters after every micro-batch, never in bf16 across them.
      if (identity.master_weights) {
        if (auto s = (*dp)->AccumulateGradientsIntoMasters(params, stepped, owners); !s.ok()) return s;
      }
    }
    if (!identity.master_weights) {
      if (auto s = SumGradients(**dp, params, owners); !s.ok()) return s;
    }
    auto clipped = ClipSummedGradients(**dp, stepped, owners, o.max_grad_norm > 0 ? o.max_grad_norm : INFINITY);
    if (!clipped.ok()) return clipped.status();
    const double grad_norm = *clipped;
    auto global_sum = (*dp)->AllReduceSum(local_sum);
    if (!global_sum.ok()) return global_sum.status();
    if (!std::isfinite(grad_norm))
      return absl::DataLossError(absl::StrFormat(
          "step %d: the gradient norm is %f (epoch %d); nothing was saved for this step", step, grad_norm,
          batches.front().epoch));
    // HF's LambdaLR: optimizer step k runs at the factor of k − 1 completed steps (the first warmup step at 0).
    const double lr = LearningRate(schedule, step - 1, total_steps);
    SetLearningRate(**optimizer, lr);
    (*optimizer)->step();
    if (identity.master_weights) {
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < params.size(); ++i)
        if (stepped[i].defined()) params[i].copy_(stepped[i]);  // rounded to the nearest bf16
    }
    if (sharded) {
      if (auto s = BroadcastFromOwners(**dp, params, owners); !s.ok()) return s;
    }

    StepMetrics m;
    m.step = step;
    m.epoch = batches.back().epoch;
    m.loss = *global_sum / denominator;
    m.lr = lr;
    m.grad_norm = grad_norm;
    m.tokens = *global_tokens;
    m.loss_tokens = *global_loss_tokens;
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    m.tokens_per_s = seconds > 0 ? static_cast<double>(m.tokens) / seconds : 0;
    // MFU needs the accelerator's peak: DISTILL_PEAK_TFLOPS per device (e.g. 989 for an H100's dense bf16).
    if (const char* peak = std::getenv("DISTILL_PEAK_TFLOPS"); peak && cuda)
      m.mfu = m.tokens_per_s * flops_per_token / ((*dp)->world_size() * std::atof(peak) * 1e12);
    m.memory_mb = PeakMemoryMb(*device);
    const bool last = step == total_steps;
    if (val_set && ((o.eval_every > 0 && step % o.eval_every == 0) || last)) {
      model->eval();
      CudaAutocast autocast_scope(autocast);
      auto val = Evaluate(*model, *val_set, o, **dp, *device, all_tokens);
      model->train();
      if (!val.ok()) return val.status();
      m.val_loss = *val;
      report.final_val_loss = *val;
    }
    report.metrics.push_back(m);
    report.steps = step;
    report.final_loss = m.loss;
    if (main) {
      if (auto s = run.AppendMetrics(m); !s.ok()) return s;
    }
    if (o.on_step) o.on_step(m, total_steps);
    // Every rank learns of a stop at the same step (a signal reaches ranks at different moments, or only one).
    auto stop = last ? absl::StatusOr<int>(0) : StopAgreed(o, **dp);
    if (!stop.ok()) return stop.status();
    if (last || *stop || (o.save_every > 0 && step % o.save_every == 0)) {
      auto saved = SaveCheckpoint(run, o, identity, *model, **optimizer, *loader, lora, step, **dp);
      if (!saved.ok()) return saved.status();
      report.last_checkpoint = *saved;
    }
    if (*stop) {
      report.stopped = true;
      report.stop_reason = *stop;
      break;
    }
  }
  return report;
}

}  // namespace distill::trainer
