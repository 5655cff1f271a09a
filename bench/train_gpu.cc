// bench_train_gpu: one GPU training step of ours beside Hugging Face transformers + PyTorch eager, same run.
//
// A random model shaped like Qwen2.5-1.5B (or --layers fewer of its layers) and one packed row of --tokens tokens
// (8192: long-tailed documents, prompt tokens masked out, as `distill build` packs reasoning traces) go through:
//   ours: trainer::Hidden (attention confined to each document) → MaskedLossSum (chunked LM head on mask-1
//         positions) → backward → ClipGradNorm → AdamW, bf16 autocast over fp32 master weights (CUDA), as
//         trainer/train.cc runs a step; once plain, once with per-layer activation checkpointing, and once with
//         checkpointing and bf16 weights stepped through fp32 master copies (train.dtype=bfloat16);
//   peer: bench/train_gpu_peer.py — transformers' Qwen2ForCausalLM from the same safetensors (sdpa attention,
//         packed documents from position_ids, labels loss), torch.autocast bf16, torch.optim.AdamW, clipping;
//         once plain, once with gradient_checkpointing_enable().
// Prints tokens/s (steps after the first), MFU (model FLOPs of trainer::TrainingFlopsPerToken over --peak-tflops),
// peak device memory (allocator peak, as torch.cuda.max_memory_allocated), the ratios ours / peer, and both sides'
// step-1 loss, which must agree within bf16 rounding, and both sides' fp32 loss of the batch before training, which
// must agree to 1e-4 (an independent check of our Qwen2 and packed attention against transformers').
//
// Usage: bench_train_gpu [--device cuda|cpu] [--tokens N] [--layers N] [--steps N] [--peak-tflops F]
//                        [--python PATH] [--no-peer] [--keep]
#include <torch/cuda.h>
#include <torch/types.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "data/process.h"
#include "data/remove_tree.h"
#include "nlohmann/json.hpp"
#include "trainer/checkpoint_io.h"
#include "trainer/distributed.h"
#include "trainer/hf/model_config.h"
#include "trainer/loss.h"
#include "trainer/memory.h"
#include "trainer/model.h"
#include "trainer/optim.h"

namespace distill::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string device = "auto";
  int64_t tokens = 8192;
  int64_t layers = 28;
  int64_t steps = 6;
  double peak_tflops = 989.0;  // H100/H200 SXM dense bf16
  std::string python = "python3";
  bool peer = true;
  bool keep = false;
};

// Qwen2.5-1.5B's config.json (vocabulary, widths, GQA 12:2, head_dim 128, q/k/v biases, tied embeddings).
json Qwen25Config(int64_t layers) {
  return {{"architectures", {"Qwen2ForCausalLM"}}, {"model_type", "qwen2"}, {"vocab_size", 151936},
          {"hidden_size", 1536}, {"intermediate_size", 8960}, {"num_hidden_layers", layers},
          {"num_attention_heads", 12}, {"num_key_value_heads", 2}, {"max_position_embeddings", 32768},
          {"rope_theta", 1000000.0}, {"rms_norm_eps", 1e-6}, {"tie_word_embeddings", true},
          {"hidden_act", "silu"}, {"bos_token_id", 151643}, {"eos_token_id", 151643}, {"torch_dtype", "float32"}};
}

// One packed row: document lengths drawn long-tailed (log-normal) until the row is full; in each document the
// first ~15% are prompt tokens (no loss). Returns HF-style inputs: ids, position_ids restarting per document,
// labels (-100 on prompt tokens and on each document's first token, so no target crosses a boundary).
struct PackedRow {
  std::vector<int64_t> ids, positions, labels;
  std::vector<int32_t> cu_seqlens{0};
  double mean_context = 0;  // Σ length² / tokens
};

PackedRow MakeRow(int64_t tokens, int64_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> length(std::log(static_cast<double>(tokens) / 6.0), 0.8);
  std::uniform_int_distribution<int64_t> token(0, vocab - 1);
  PackedRow row;
  while (static_cast<int64_t>(row.ids.size()) < tokens) {
    const int64_t left = tokens - static_cast<int64_t>(row.ids.size());
    int64_t n = std::clamp<int64_t>(static_cast<int64_t>(length(rng)), 64, left);
    if (left - n < 64) n = left;  // no sliver of a document at the end
    const int64_t prompt = std::max<int64_t>(1, n * 15 / 100);
    for (int64_t t = 0; t < n; ++t) {
      const int64_t id = token(rng);
      row.ids.push_back(id);
      row.positions.push_back(t);
      row.labels.push_back(t < prompt ? -100 : id);
    }
    row.cu_seqlens.push_back(static_cast<int32_t>(row.ids.size()));
    row.mean_context += static_cast<double>(n) * static_cast<double>(n);
  }
  row.mean_context /= static_cast<double>(tokens);
  return row;
}

struct Result {
  std::string name;
  std::vector<double> losses, step_seconds;
  double fp32_loss = NAN;  // the batch's loss before training, fp32 throughout (plain runs only)
  double peak_mb = 0;
  std::string error;
  double TokensPerSecond(int64_t tokens) const {  // steps after the first (warm-up)
    const size_t first = step_seconds.size() > 1 ? 1 : 0;
    double sum = 0;
    for (size_t k = first; k < step_seconds.size(); ++k) sum += step_seconds[k];
    return sum > 0 ? static_cast<double>(tokens) * static_cast<double>(step_seconds.size() - first) / sum : 0;
  }
};

void Synchronize(torch::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

std::string OursName(bool recompute, bool bf16_weights) {
  return bf16_weights ? "ours, bf16 weights, recompute" : recompute ? "ours, recompute" : "ours";
}

// Our steps, from the saved weights, as trainer/train.cc runs them (one micro-batch, constant learning rate); with
// bf16_weights, train.dtype=bfloat16 on one rank: bf16 weights, no autocast, AdamW on fp32 masters.
Result RunOursSteps(const Options& o, const fs::path& model_dir, const PackedRow& row, torch::Device device,
                    bool recompute, bool bf16_weights) {
  Result r;
  r.name = OursName(recompute, bf16_weights);
  auto model_or = trainer::LoadModel(model_dir.string(), device, bf16_weights ? torch::kBFloat16 : torch::kFloat32);
  if (!model_or.ok()) {
    r.error = std::string(model_or.status().message());
    return r;
  }
  trainer::Model& model = **model_or;
  model.train();
  const int64_t T = static_cast<int64_t>(row.ids.size());
  std::vector<int64_t> targets(T, trainer::kIgnoreTarget);
  for (int64_t t = 0; t + 1 < T; ++t) targets[t] = row.labels[t + 1];
  std::vector<int64_t> ids = row.ids, positions = row.positions;
  const auto on = torch::TensorOptions().dtype(torch::kInt64);
  trainer::MicroBatch micro;
  micro.ids = torch::from_blob(ids.data(), {1, T}, on).to(device);
  micro.positions = torch::from_blob(positions.data(), {1, T}, on).to(device);
  micro.targets = torch::from_blob(targets.data(), {1, T}, on).to(device);
  micro.mask = micro.targets.ne(trainer::kIgnoreTarget).to(torch::kFloat32);
  micro.cu_seqlens = row.cu_seqlens;
  const double denominator = std::max(1.0, micro.mask.sum().item<double>());

  trainer::NamedTensors named;
  std::vector<torch::Tensor> params, stepped;
  for (const auto& item : model.named_parameters()) {
    params.push_back(item.value());
    stepped.push_back(bf16_weights ? item.value().detach().to(torch::kFloat32).set_requires_grad(true) : item.value());
    named.emplace_back(item.key(), stepped.back());
  }
  const trainer::AdamWOptions adam{1e-5, 0.9, 0.95, 1e-8, 1e-4};
  auto optimizer = trainer::MakeAdamW(named, adam);
  if (!optimizer.ok()) {
    r.error = std::string(optimizer.status().message());
    return r;
  }
  auto one_rank = trainer::DataParallel::Init(trainer::DistEnv{}, device);  // no group: the fold alone
  if (!one_rank.ok()) {
    r.error = std::string(one_rank.status().message());
    return r;
  }
  if (!recompute && !bf16_weights) {
    torch::NoGradGuard no_grad;
    r.fp32_loss = trainer::MaskedLossSum(model, trainer::Hidden(model, micro.ids, micro.positions, micro.cu_seqlens),
                                         micro.targets, micro.mask).sum.item<double>() / denominator;
  }
  Synchronize(device);
  trainer::ResetPeakMemory(device);
  for (int64_t step = 0; step < o.steps; ++step) {
    const auto started = Clock::now();
    (*optimizer)->zero_grad();
    r.losses.push_back(
        trainer::AccumulateGradients(model, micro, denominator, recompute, device.is_cuda() && !bf16_weights) /
        denominator);
    if (bf16_weights) {
      if (auto s = (*one_rank)->AccumulateGradientsIntoMasters(params, stepped, {}); !s.ok()) {
        r.error = std::string(s.message());
        return r;
      }
    }
    trainer::ClipGradNorm(stepped, 1.0);
    (*optimizer)->step();
    if (bf16_weights) {
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < params.size(); ++i) params[i].copy_(stepped[i]);
    }
    Synchronize(device);
    r.step_seconds.push_back(std::chrono::duration<double>(Clock::now() - started).count());
  }
  r.peak_mb = trainer::PeakMemoryMb(device);
  return r;
}

// RunOursSteps, with a LibTorch error (out of memory at long rows, say) reported as this run's failure.
Result RunOurs(const Options& o, const fs::path& model_dir, const PackedRow& row, torch::Device device,
               bool recompute, bool bf16_weights = false) {
  try {
    return RunOursSteps(o, model_dir, row, device, recompute, bf16_weights);
  } catch (const std::exception& e) {
    Result r;
    r.name = OursName(recompute, bf16_weights);
    const std::string what = e.what();
    r.error = what.substr(0, what.find('\n'));
    return r;
  }
}

// The transformers peer in a child process; its result is the last JSON line it prints.
Result RunPeer(const Options& o, const fs::path& dir, bool recompute) {
  Result r;
  r.name = recompute ? "transformers, checkpointing" : "transformers";
  const fs::path script = fs::path(DISTILL_SOURCE_DIR) / "bench/train_gpu_peer.py";
  const fs::path out = dir / (recompute ? "peer-recompute.json" : "peer.json");
  std::vector<std::string> args = {o.python, script.string(), "--model", (dir / "model").string(), "--batch",
                                   (dir / "batch.json").string(), "--out", out.string()};
  if (recompute) args.push_back("--recompute");
  if (absl::Status run = data::RunProcess(args); !run.ok()) {
    r.error = std::string(run.message());  // its own output, above, says why
    return r;
  }
  try {
    const json j = json::parse(std::ifstream(out));
    r.losses = j.at("losses").get<std::vector<double>>();
    r.step_seconds = j.at("step_seconds").get<std::vector<double>>();
    r.peak_mb = j.at("peak_mb").get<double>();
    if (j.contains("fp32_loss") && j.at("fp32_loss").is_number()) r.fp32_loss = j.at("fp32_loss").get<double>();
  } catch (const std::exception& e) {
    r.error = out.string() + ": " + e.what();
  }
  return r;
}

int Run(const Options& o) {
  const bool cuda = o.device == "cuda" || (o.device == "auto" && torch::cuda::is_available());
  if (cuda && !torch::cuda::is_available()) {
    std::fprintf(stderr, "bench_train_gpu: --device cuda, but LibTorch sees no CUDA device\n");
    return 1;
  }
  const torch::Device device = cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  const fs::path dir = fs::temp_directory_path() / ("distill-bench-train-gpu-" + std::to_string(::getpid()));
  fs::create_directories(dir);

  const json config_json = Qwen25Config(o.layers);
  auto config = hf::ParseModelConfig(config_json, "Qwen2.5-1.5B shape");
  if (!config.ok()) {
    std::fprintf(stderr, "bench_train_gpu: %s\n", std::string(config.status().message()).c_str());
    return 1;
  }
  double flops_per_token = 0;
  const PackedRow row = MakeRow(o.tokens, config->vocab_size, 1234);
  {
    const auto started = Clock::now();
    auto model = trainer::MakeModel(*config, torch::kCPU, torch::kFloat32);
    if (!model.ok()) {
      std::fprintf(stderr, "bench_train_gpu: %s\n", std::string(model.status().message()).c_str());
      return 1;
    }
    trainer::InitRandom(**model, 1234);
    flops_per_token = trainer::TrainingFlopsPerToken(**model, row.mean_context);
    if (auto s = trainer::SaveModel(**model, (dir / "model").string()); !s.ok()) {
      std::fprintf(stderr, "bench_train_gpu: %s\n", std::string(s.message()).c_str());
      return 1;
    }
    double params = 0;
    for (const auto& p : (*model)->parameters()) params += static_cast<double>(p.numel());
    std::printf("model: random Qwen2.5-1.5B shape, %lld layers, fp32 master weights (%.2f B parameters; made and "
                "saved in %.1f s)\n",
                static_cast<long long>(o.layers), params / 1e9,
                std::chrono::duration<double>(Clock::now() - started).count());
  }
  std::ofstream(dir / "batch.json") << json{{"input_ids", row.ids},
                                             {"position_ids", row.positions},
                                             {"labels", row.labels},
                                             {"steps", o.steps},
                                             {"lr", 1e-5},
                                             {"betas", {0.9, 0.95}},
                                             {"eps", 1e-8},
                                             {"weight_decay", 1e-4},
                                             {"max_grad_norm", 1.0}}
                                            .dump();
  std::printf("batch: 1 packed row of %lld tokens, %zu documents (mean attended context %.0f), %lld AdamW steps, "
              "%s on %s\n",
              static_cast<long long>(o.tokens), row.cu_seqlens.size() - 1, row.mean_context,
              static_cast<long long>(o.steps), cuda ? "bf16 autocast" : "fp32", device.str().c_str());
  std::fflush(stdout);

  std::vector<Result> results;  // ours plain, recompute, bf16 weights + recompute; then the peer's two
  for (const auto& [recompute, bf16_weights] : {std::pair{false, false}, {true, false}, {true, true}}) {
    results.push_back(RunOurs(o, dir / "model", row, device, recompute, bf16_weights));
    trainer::ReleaseCachedMemory(device);  // the peer process needs the device memory our cache holds
  }
  if (o.peer) {
    for (bool recompute : {false, true}) results.push_back(RunPeer(o, dir, recompute));
  }
  std::printf("\n%-30s %11s %7s %12s   step-1 loss\n", "", "tokens/s", "MFU", "peak MB");
  int rc = 0;
  for (const Result& r : results) {
    if (!r.error.empty()) {
      std::printf("%-30s failed: %s\n", r.name.c_str(), r.error.c_str());
      std::fflush(stdout);
      rc = 1;
      continue;
    }
    const double tps = r.TokensPerSecond(o.tokens);
    std::printf("%-30s %11.0f %6.1f%% %12.0f   %.6f\n", r.name.c_str(), tps,
                100.0 * tps * flops_per_token / (o.peak_tflops * 1e12), r.peak_mb, r.losses.at(0));
    std::fflush(stdout);
  }
  if (results.size() == 5 && rc == 0) {
    for (const auto& [k, p] : {std::pair<size_t, size_t>{0, 3}, {1, 4}, {2, 4}}) {
      const Result &ours = results[k], &peer = results[p];
      const double d = std::abs(ours.losses[0] - peer.losses[0]);
      const bool agree = d <= 0.01 * std::abs(peer.losses[0]);  // bf16 matmuls on both sides
      std::printf("%s / %s: %.2fx tokens/s, %.2fx peak memory; step-1 loss |difference| %.2e (%s)\n",
                  ours.name.c_str(), peer.name.c_str(), ours.TokensPerSecond(o.tokens) / peer.TokensPerSecond(o.tokens),
                  ours.peak_mb / peer.peak_mb, d, agree ? "agree" : "DISAGREE");
      if (!agree) rc = 1;
    }
    const double fp32 = std::abs(results[0].fp32_loss - results[3].fp32_loss);
    const bool fp32_agree = fp32 <= 1e-4 * std::abs(results[3].fp32_loss);
    std::printf("fp32 loss before training: ours %.7f, transformers %.7f, |difference| %.2e (%s)\n",
                results[0].fp32_loss, results[3].fp32_loss, fp32, fp32_agree ? "agree" : "DISAGREE");
    if (!fp32_agree) rc = 1;
    std::fflush(stdout);
  }
  if (o.keep) std::printf("kept: %s\n", dir.c_str());
  else (void)data::RemoveTree(dir.string());
  return rc;
}

}  // namespace
}  // namespace distill::bench

int main(int argc, char** argv) {
  distill::bench::Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_train_gpu: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--device") o.device = value();
    else if (a == "--tokens") o.tokens = std::stoll(value());
    else if (a == "--layers") o.layers = std::stoll(value());
    else if (a == "--steps") o.steps = std::stoll(value());
    else if (a == "--peak-tflops") o.peak_tflops = std::stod(value());
    else if (a == "--python") o.python = value();
    else if (a == "--no-peer") o.peer = false;
    else if (a == "--keep") o.keep = true;
    else {
      std::fprintf(stderr, "bench_train_gpu: unknown flag %s (see the comment at the top of bench/train_gpu.cc)\n",
                   a.c_str());
      return 2;
    }
  }
  if (o.tokens < 128 || o.layers < 1 || o.steps < 1) {
    std::fprintf(stderr, "bench_train_gpu: need --tokens >= 128, --layers >= 1, --steps >= 1\n");
    return 2;
  }
  int rc = 1;
  try {
    rc = distill::bench::Run(o);
  } catch (const std::exception& e) {  // LibTorch errors (e.g. out of memory) end the bench with their message
    std::fprintf(stderr, "bench_train_gpu: %s\n", e.what());
  }
  return rc;
}
