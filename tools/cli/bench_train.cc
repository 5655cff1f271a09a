// `distill bench train`: CPU training throughput (tokens/s) and peak RSS of our trainer beside PyTorch eager in
// Python (bench/train_peer.py: a Hugging Face modeling_qwen3.py-style model on Debian's python3-torch, the same
// LibTorch) running the same random Qwen3-shaped model, the same batch and the same AdamW steps in the same run.
//   1. writes a random model (trainer::InitRandom, trainer::SaveModel → model.safetensors + config.json) and one
//      batch (batch.json: input_ids, HF labels masked to the "assistant" tokens, position_ids, the optimizer's
//      hyperparameters) to a temp folder;
//   2. runs our steps in a child process (this executable, hidden --child-dir mode: LoadModel, then per step
//      Hidden → MaskedLossSum → backward → ClipGradNorm → AdamW, as trainer/train.cc does), once plain and once with
//      train.recompute (activation checkpointing), taking each child's peak RSS from wait4's ru_maxrss;
//   3. runs the Python peer as a child the same way;
//   4. prints tokens/s (steps after the first: the first is warm-up on both sides), peak RSS, the ratios against
//      the target (≥ 1.0× the peer's tokens/s at ≤ 0.8× its peak RSS), and step 1's loss on both sides, which
//      must agree (an independent check of our model against an HF-style implementation).
#include <fcntl.h>
#include <malloc.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <ATen/Parallel.h>
#include <torch/types.h>
#include <torch/utils.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "data/remove_tree.h"
#include "nlohmann/json.hpp"
#include "tools/cli/bench.h"
#include "tools/cli/torch_verbs.h"
#include "trainer/checkpoint_io.h"
#include "trainer/hf/model_config.h"
#include "trainer/loss.h"
#include "trainer/model.h"
#include "trainer/optim.h"

extern char** environ;

namespace distill::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct TrainBenchOptions {
  int64_t hidden = 512;
  int64_t layers = 8;
  int64_t vocab = 32000;
  int64_t seq_len = 1024;
  int64_t rows = 2;
  int64_t steps = 3;
  int threads = 0;
  double lr = 1e-4;
  uint64_t seed = 1234;
  std::string python = "/usr/bin/python3";
  bool keep = false;
  bool skip_recompute = false;
  // Hidden child mode: run our steps on <child_dir>/model + batch.json, write the result JSON to child_out.
  std::string child_dir;
  std::string child_out;
  bool child_recompute = false;
};

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// ---------------------------------------------------------------------------------------------------------------
// The child: our training steps.

int RunChild(const TrainBenchOptions& o) {
  std::ifstream in(fs::path(o.child_dir) / "batch.json");
  json batch;
  try {
    batch = json::parse(in);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench train child: batch.json: %s\n", e.what());
    return 1;
  }
  const int threads = batch.at("threads").get<int>();
  at::set_num_threads(threads);
  torch::manual_seed(0);
  auto model_or = trainer::LoadModel((fs::path(o.child_dir) / "model").string(), torch::kCPU, torch::kFloat32);
  if (!model_or.ok()) {
    std::fprintf(stderr, "bench train child: %s\n", std::string(model_or.status().message()).c_str());
    return 1;
  }
  trainer::Model& model = **model_or;
  model.train();

  // The batch as the shard loader hands it to train.cc: targets[t] = ids[t+1], loss_mask[t] = mask of token t+1
  // (HF's labels shifted left), -100 / 0 at each row's last position.
  const auto ids_rows = batch.at("input_ids").get<std::vector<std::vector<int64_t>>>();
  const auto label_rows = batch.at("labels").get<std::vector<std::vector<int64_t>>>();
  const auto pos_rows = batch.at("position_ids").get<std::vector<std::vector<int64_t>>>();
  const int64_t rows = static_cast<int64_t>(ids_rows.size()), T = static_cast<int64_t>(ids_rows.at(0).size());
  std::vector<int64_t> ids, positions, targets;
  std::vector<float> mask;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t t = 0; t < T; ++t) {
      ids.push_back(ids_rows[r][t]);
      positions.push_back(pos_rows[r][t]);
      const int64_t next = t + 1 < T ? label_rows[r][t + 1] : trainer::kIgnoreTarget;
      targets.push_back(next);
      mask.push_back(next == trainer::kIgnoreTarget ? 0.f : 1.f);
    }
  }
  const auto opts64 = torch::TensorOptions().dtype(torch::kInt64);
  trainer::MicroBatch micro;
  micro.ids = torch::from_blob(ids.data(), {rows, T}, opts64).clone();
  micro.positions = torch::from_blob(positions.data(), {rows, T}, opts64).clone();
  micro.targets = torch::from_blob(targets.data(), {rows, T}, opts64).clone();
  micro.mask = torch::from_blob(mask.data(), {rows, T}, torch::kFloat32).clone();
  int64_t loss_tokens = 0;
  for (float m : mask) loss_tokens += m != 0.f;
  const double denominator = static_cast<double>(std::max<int64_t>(1, loss_tokens));

  trainer::NamedTensors named;
  for (const auto& item : model.named_parameters()) {
    if (item.value().requires_grad()) named.emplace_back(item.key(), item.value());
  }
  std::vector<torch::Tensor> params;
  for (const auto& [name, p] : named) params.push_back(p);
  const trainer::AdamWOptions adam{batch.at("lr").get<double>(), batch.at("beta1").get<double>(),
                                   batch.at("beta2").get<double>(), batch.at("eps").get<double>(),
                                   batch.at("weight_decay").get<double>()};
  auto optimizer = trainer::MakeAdamW(named, adam);
  if (!optimizer.ok()) {
    std::fprintf(stderr, "bench train child: %s\n", std::string(optimizer.status().message()).c_str());
    return 1;
  }
  const double max_grad_norm = batch.at("max_grad_norm").get<double>();
  const int64_t steps = batch.at("steps").get<int64_t>();

  json losses = json::array(), seconds = json::array();
  for (int64_t step = 1; step <= steps; ++step) {
    const auto started = Clock::now();
    (*optimizer)->zero_grad();
    const double value =
        trainer::AccumulateGradients(model, micro, denominator, o.child_recompute, /*autocast=*/false);
    trainer::ClipGradNorm(params, max_grad_norm > 0 ? max_grad_norm : INFINITY);
    trainer::SetLearningRate(**optimizer, adam.lr);
    (*optimizer)->step();
    seconds.push_back(Since(started));
    losses.push_back(value / denominator);
  }
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  const json result = {{"losses", losses},
                       {"step_seconds", seconds},
                       {"tokens_per_step", rows * T},
                       {"threads", at::get_num_threads()},
                       {"peak_rss_mb", static_cast<double>(ru.ru_maxrss) / 1024.0}};
  std::ofstream(o.child_out) << result.dump() << "\n";
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// The parent.

// Writes the random model and batch.json into `dir`.
absl::Status WriteInputs(const TrainBenchOptions& o, int threads, const fs::path& dir) {
  const int64_t head_dim = 64;
  const int64_t heads = std::max<int64_t>(1, o.hidden / head_dim);
  const int64_t kv_heads = heads % 2 == 0 ? heads / 2 : heads;
  const json config_json = {{"architectures", {"Qwen3ForCausalLM"}},
                            {"model_type", "qwen3"},
                            {"vocab_size", o.vocab},
                            {"hidden_size", o.hidden},
                            {"intermediate_size", 3 * o.hidden},
                            {"num_hidden_layers", o.layers},
                            {"num_attention_heads", heads},
                            {"num_key_value_heads", kv_heads},
                            {"head_dim", head_dim},
                            {"max_position_embeddings", std::max<int64_t>(4096, o.seq_len)},
                            {"rope_theta", 1000000.0},
                            {"rms_norm_eps", 1e-6},
                            {"attention_bias", false},
                            {"tie_word_embeddings", true},
                            {"hidden_act", "silu"},
                            {"torch_dtype", "float32"}};
  auto config = hf::ParseModelConfig(config_json, "bench config");
  if (!config.ok()) return config.status();
  {
    auto model = trainer::MakeModel(*config, torch::kCPU, torch::kFloat32);
    if (!model.ok()) return model.status();
    trainer::InitRandom(**model, o.seed);
    if (auto s = trainer::SaveModel(**model, (dir / "model").string()); !s.ok()) return s;
  }

  // Rows of random tokens shaped like SFT chat rows: alternating user (mask 0) and assistant (mask 1) turns of a
  // few hundred tokens; HF's labels are the ids on assistant tokens and -100 elsewhere.
  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<int64_t> token(0, o.vocab - 1);
  std::uniform_int_distribution<int64_t> turn(o.seq_len / 16 + 1, o.seq_len / 4 + 1);
  json ids = json::array(), labels = json::array(), positions = json::array();
  for (int64_t r = 0; r < o.rows; ++r) {
    json row_ids = json::array(), row_labels = json::array(), row_pos = json::array();
    bool assistant = false;
    int64_t left = turn(rng);
    for (int64_t t = 0; t < o.seq_len; ++t) {
      if (left-- == 0) {
        assistant = !assistant;
        left = turn(rng) - 1;
      }
      const int64_t id = token(rng);
      row_ids.push_back(id);
      row_labels.push_back(assistant ? id : -100);
      row_pos.push_back(t);
    }
    ids.push_back(row_ids);
    labels.push_back(row_labels);
    positions.push_back(row_pos);
  }
  const json batch = {{"input_ids", ids},  {"labels", labels},         {"position_ids", positions},
                      {"steps", o.steps},  {"lr", o.lr},               {"beta1", 0.9},
                      {"beta2", 0.999},    {"eps", 1e-8},              {"weight_decay", 0.01},
                      {"max_grad_norm", 1.0}, {"threads", threads}};
  std::ofstream out(dir / "batch.json");
  out << batch.dump() << "\n";
  if (!out) return absl::InternalError("cannot write " + (dir / "batch.json").string());
  return absl::OkStatus();
}

struct Side {
  bool ok = false;
  double tokens_per_s = 0;
  double peak_rss_mb = 0;  // wait4
  double self_rss_mb = 0;  // the process's own getrusage
  double wall_s = 0;
  std::vector<double> losses;
  std::string error;
};

Side Measure(const std::vector<std::string>& args, const std::string& stdout_path, const std::string& result_path) {
  Side s;
  const ChildRun run = RunMeasuredChild(args, stdout_path);
  s.wall_s = run.wall_s;
  if (!run.ok) {
    s.error = run.error;
    return s;
  }
  try {
    std::ifstream in(result_path);
    json j;
    // The peer prints its JSON as the last line of stdout.
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line[0] == '{') j = json::parse(line);
    }
    s.losses = j.at("losses").get<std::vector<double>>();
    const auto secs = j.at("step_seconds").get<std::vector<double>>();
    const double tokens = j.at("tokens_per_step").get<double>();
    // Steps after the first (warm-up: first-touch allocations, thread pool start); all of them when only one.
    double sum = 0;
    const size_t first = secs.size() > 1 ? 1 : 0;
    for (size_t k = first; k < secs.size(); ++k) sum += secs[k];
    s.tokens_per_s = sum > 0 ? tokens * static_cast<double>(secs.size() - first) / sum : 0;
    s.self_rss_mb = j.at("peak_rss_mb").get<double>();
  } catch (const std::exception& e) {
    s.error = result_path + ": " + e.what();
    return s;
  }
  s.peak_rss_mb = static_cast<double>(run.maxrss_kb) / 1024.0;
  s.ok = true;
  return s;
}

void PrintSide(const char* name, const Side& s) {
  if (!s.ok) {
    std::printf("  %-28s failed: %s\n", name, s.error.c_str());
    return;
  }
  std::printf("  %-28s %9.1f tokens/s   peak RSS %8.1f MB   (wall %.1f s; losses", name, s.tokens_per_s,
              s.peak_rss_mb, s.wall_s);
  for (double l : s.losses) std::printf(" %.6f", l);
  std::printf(")\n");
  std::fflush(stdout);
}

int RunTrainBench(const TrainBenchOptions& o) {
  if (!o.child_dir.empty()) return RunChild(o);
  if (o.hidden < 64 || o.hidden % 64 != 0 || o.layers < 1 || o.seq_len < 8 || o.rows < 1 || o.steps < 1 ||
      o.vocab < 16) {
    std::fprintf(stderr,
                 "bench train: need --hidden a multiple of 64, --layers >= 1, --seq-len >= 8, --rows >= 1, "
                 "--steps >= 1\n");
    return 1;
  }
  const fs::path peer_script = BenchSourceRoot() / "bench/train_peer.py";
  if (!fs::exists(peer_script)) {
    std::fprintf(stderr, "bench train: %s not found (run from the source tree)\n", peer_script.c_str());
    return 1;
  }
  {
    const ChildRun probe = RunMeasuredChild({o.python, "-c", "import torch"}, "/dev/null");
    if (!probe.ok) {
      std::fprintf(stderr,
                   "bench train: %s cannot import torch (%s): the peer needs Debian's python3-torch — run "
                   "tools/setup.sh (it installs python3-torch), or pass --python\n",
                   o.python.c_str(), probe.error.c_str());
      return 1;
    }
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) {
    std::fprintf(stderr, "bench train: cannot find this executable: %s\n", ec.message().c_str());
    return 1;
  }
  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const fs::path tmp = fs::temp_directory_path() / ("distill-bench-train-" + std::to_string(::getpid()));
  fs::create_directories(tmp);

  const auto t_gen = Clock::now();
  if (auto s = WriteInputs(o, threads, tmp); !s.ok()) {
    std::fprintf(stderr, "bench train: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  const uintmax_t weights = fs::file_size(tmp / "model/model.safetensors", ec);
  std::printf("model: random Qwen3-shaped, hidden %lld, %lld layers, vocab %lld, tied embeddings, fp32 (%.1f MB of "
              "weights, written in %.1f s)\n",
              static_cast<long long>(o.hidden), static_cast<long long>(o.layers), static_cast<long long>(o.vocab),
              static_cast<double>(weights) / 1e6, Since(t_gen));
  std::printf("batch: %lld rows x %lld tokens, %lld AdamW steps (lr %g, wd 0.01, clip 1.0), %d threads, CPU\n",
              static_cast<long long>(o.rows), static_cast<long long>(o.seq_len), static_cast<long long>(o.steps),
              o.lr, threads);
  std::printf("tokens/s over steps 2..%lld (step 1 is warm-up); peak RSS = the child's ru_maxrss (wait4)\n",
              static_cast<long long>(std::max<int64_t>(2, o.steps)));
  std::fflush(stdout);

  auto ours_args = [&](bool recompute, const std::string& out) {
    std::vector<std::string> a = {exe.string(), "bench", "train", "--child-dir", tmp.string(), "--child-out", out};
    if (recompute) a.push_back("--child-recompute");
    return a;
  };
  const std::string ours_out = (tmp / "ours.json").string(), rec_out = (tmp / "ours-recompute.json").string();
  const std::string peer_out = (tmp / "peer.json").string();
  const Side ours = Measure(ours_args(false, ours_out), "", ours_out);
  PrintSide("distill train (ours)", ours);
  Side rec;
  if (!o.skip_recompute) {
    rec = Measure(ours_args(true, rec_out), "", rec_out);
    PrintSide("ours, train.recompute on", rec);
  }
  const Side peer = Measure({o.python, peer_script.string(), "--model", (tmp / "model").string(), "--batch",
                             (tmp / "batch.json").string()},
                            peer_out, peer_out);
  PrintSide("PyTorch eager (HF-style)", peer);

  int rc = ours.ok && peer.ok && (o.skip_recompute || rec.ok) ? 0 : 1;
  if (ours.ok && peer.ok) {
    const double speed = ours.tokens_per_s / peer.tokens_per_s;
    const double memory = ours.peak_rss_mb / peer.peak_rss_mb;
    const bool speed_ok = speed >= 1.0, memory_ok = memory <= 0.8;
    std::printf("\nours / peer: %.2fx tokens/s (target >= 1.0x: %s), %.2fx peak RSS (target <= 0.8x: %s)\n", speed,
                speed_ok ? "met" : "NOT met", memory, memory_ok ? "met" : "NOT met");
    if (rec.ok)
      std::printf("with recompute: %.2fx tokens/s, %.2fx peak RSS\n", rec.tokens_per_s / peer.tokens_per_s,
                  rec.peak_rss_mb / peer.peak_rss_mb);
    std::printf("self-reported peak RSS (getrusage in the process): ours %.1f MB, peer %.1f MB\n", ours.self_rss_mb,
                peer.self_rss_mb);
    const double d = std::abs(ours.losses.at(0) - peer.losses.at(0));
    std::printf("step-1 loss: ours %.6f, peer %.6f, |difference| %.2e (%s)\n", ours.losses.at(0), peer.losses.at(0),
                d, d <= 1e-4 ? "agree" : "DISAGREE");
    if (d > 1e-4) rc = 1;
    std::printf("targets: %s\n", speed_ok && memory_ok ? "met" : "not met");
  }
  if (!o.keep) (void)data::RemoveTree(tmp.string());
  else std::printf("kept: %s\n", tmp.c_str());
  return rc;
}

BenchRun SetupBenchTrain(CLI::App& cmd) {
  auto opt = std::make_shared<TrainBenchOptions>();
  cmd.add_option("--hidden", opt->hidden, "hidden size (a multiple of 64; heads of 64, half as many KV heads)")
      ->capture_default_str();
  cmd.add_option("--layers", opt->layers, "decoder layers")->capture_default_str();
  cmd.add_option("--vocab", opt->vocab, "vocabulary size (random tokens)")->capture_default_str();
  cmd.add_option("--seq-len", opt->seq_len, "tokens per row")->capture_default_str();
  cmd.add_option("--rows", opt->rows, "rows per batch")->capture_default_str();
  cmd.add_option("--steps", opt->steps, "optimizer steps on each side")->capture_default_str();
  cmd.add_option("--threads", opt->threads, "intra-op threads on both sides (0 = all cores)")->capture_default_str();
  cmd.add_option("--lr", opt->lr, "AdamW learning rate (constant)")->capture_default_str();
  cmd.add_option("--seed", opt->seed, "seed of the weights and the batch")->capture_default_str();
  cmd.add_option("--python", opt->python, "the Python with torch that runs bench/train_peer.py")
      ->capture_default_str();
  cmd.add_flag("--no-recompute", opt->skip_recompute, "skip the run of ours with train.recompute on");
  cmd.add_flag("--keep", opt->keep, "keep the temp dir (model, batch, results)");
  cmd.add_option("--child-dir", opt->child_dir)->group("");
  cmd.add_option("--child-out", opt->child_out)->group("");
  cmd.add_flag("--child-recompute", opt->child_recompute)->group("");
  return [opt]() -> int { return RunTrainBench(*opt); };
}

}  // namespace

DISTILL_REGISTER_BENCH(train, kBenchTrain.name, kBenchTrain.description, SetupBenchTrain);

}  // namespace distill::cli
