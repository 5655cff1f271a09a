// The training loop (trainer/train.h) end to end on CPU with a tiny Qwen3-shaped model and synthetic shards:
// learning, gradient accumulation, LoRA, NaN handling, bad input, kill -9 + resume, two Gloo ranks, and the same
// run on CUDA where a device is present.
#include "trainer/train.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <torch/cuda.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <csignal>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <random>
#include <thread>

#include "data/shard/shard.h"
#include "tests/trainer/test_models.h"
#include "trainer/checkpoint_io.h"
#include "trainer/distributed.h"
#include "trainer/hf/safetensors.h"
#include "trainer/train_checkpoint.h"

extern char** environ;

namespace distill::trainer {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path TestRoot() {
  static const fs::path root = fs::temp_directory_path() / ("distill-train-test-" + std::to_string(getpid()));
  return root;
}

hf::ModelConfig SmallConfig() {
  hf::ModelConfig c = testing::TinyConfig("qwen3", 64, 128, 4, 2, 16, true);
  c.vocab_size = 64;
  return c;
}

// A base model folder with seeded random weights (the same seed, the same weights).
std::string MakeBase(const std::string& name, bool poison = false, uint64_t seed = 11) {
  const fs::path dir = TestRoot() / name;
  auto model = MakeModel(SmallConfig(), torch::kCPU, torch::kFloat);
  EXPECT_TRUE(model.ok());
  InitRandom(**model, seed);
  if (poison) {
    torch::NoGradGuard g;
    (*model)->model->norm->weight.fill_(std::nanf(""));
  }
  EXPECT_TRUE(SaveModel(**model, dir.string()).ok());
  return dir.string();
}

// `rows` rows of `seq_len` tokens, two documents each: a prompt (mask 0) then a reply (mask 1) that follows a fixed
// rule (each token is the previous + 1 mod vocab), so a model can learn it. Rows alternate lengths so mask counts
// per row differ; with identical_rows every row is the first one.
std::string MakeShards(const std::string& name, int rows, uint32_t seq_len, int val_rows = 0,
                       bool identical_rows = false) {
  const fs::path dir = TestRoot() / name;
  fs::create_directories(dir);
  std::mt19937 rng(5);
  json splits = json::object();
  std::vector<std::string> names = {"train"};
  if (val_rows > 0) names.push_back("validation");
  for (const std::string& split : names) {
    auto writer = shard::ShardWriter::Create(dir.string(), split, seq_len, 0);
    EXPECT_TRUE(writer.ok());
    const int n = split == "train" ? rows : val_rows;
    for (int r = 0; r < n; ++r) {
      std::vector<int32_t> ids;
      std::vector<uint8_t> mask;
      std::vector<uint32_t> starts;
      if (identical_rows) rng.seed(5);
      const uint32_t used = seq_len - (identical_rows ? 0 : (r % 3) * 4);
      for (int doc = 0; doc < 2; ++doc) {
        starts.push_back(static_cast<uint32_t>(ids.size()));
        const uint32_t len = used / 2;
        int32_t token = static_cast<int32_t>(rng() % 60) + 3;
        for (uint32_t t = 0; t < len; ++t) {
          ids.push_back(token);
          mask.push_back(t >= 3 ? 1 : 0);  // the first tokens are the "prompt"
          token = token % 60 + 3 + (t < 3 ? static_cast<int32_t>(rng() % 2) : 0);
        }
      }
      EXPECT_TRUE((*writer)->Add(ids, mask, starts).ok());
    }
    auto files = (*writer)->Finish();
    EXPECT_TRUE(files.ok());
    json list = json::array();
    for (const auto& f : *files) list.push_back(shard::ToJson(f));
    splits[split] = {{"files", list}};
  }
  json m = {{"format", "distill-shards"}, {"format_version", shard::kFormatVersion},
            {"tokenizer_fingerprint", "t"}, {"template_fingerprint", "c"},
            {"seq_len", seq_len}, {"pad_id", 0}, {"split_names", names}, {"splits", splits}};
  std::ofstream(dir / "manifest.json") << m.dump();
  return dir.string();
}

TrainOptions BaseOptions(const std::string& base, const std::string& shards, const std::string& out) {
  TrainOptions o;
  o.base_model = base;
  o.shards = shards;
  o.out = (TestRoot() / out).string();
  o.lr = 3e-3;
  o.schedule = "constant";
  o.micro_batch_rows = 2;
  o.max_steps = 4;
  o.threads = 1;
  o.device = "cpu";
  o.seed = 3;
  return o;
}

std::vector<torch::Tensor> Weights(const std::string& checkpoint) {
  auto model = LoadModel(checkpoint, torch::kCPU, torch::kFloat);
  EXPECT_TRUE(model.ok()) << model.status();
  std::vector<torch::Tensor> out;
  for (const auto& p : (*model)->parameters()) out.push_back(p.detach().clone());
  return out;
}

double MaxDiff(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, (a[i] - b[i]).abs().max().item<double>());
  return worst;
}

// Runs this test binary's `filter` in a child process with `env` added; returns its exit status.
int RunChild(const std::string& filter, const std::vector<std::string>& env) {
  std::vector<std::string> args = {"/proc/self/exe", "--gtest_filter=" + filter};
  std::vector<std::string> environment = env;
  for (char** e = environ; *e; ++e) environment.emplace_back(*e);
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid;
  if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), envp.data()) != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

// Property: the loss falls well below its start on data with a learnable rule (the model learns), and the
// metrics file has one line per step.
TEST(Train, TinyModelOverfitsSmallShardSet) {
  TrainOptions o = BaseOptions(MakeBase("base-overfit"), MakeShards("shards-overfit", 8, 48, 2), "run-overfit");
  o.max_steps = 60;
  o.lr = 1e-2;
  o.eval_every = 30;
  auto report = Train(o);
  ASSERT_TRUE(report.ok()) << report.status();
  const double first = report->metrics.front().loss, last = report->metrics.back().loss;
  std::printf("loss %.3f -> %.3f, validation %.3f\n", first, last, report->final_val_loss.value_or(-1));
  EXPECT_GT(first, 3.0);
  EXPECT_LT(last, 1.5);
  ASSERT_TRUE(report->final_val_loss.has_value());
  std::ifstream metrics(fs::path(o.out) / "metrics.jsonl");
  int lines = 0;
  for (std::string line; std::getline(metrics, line);) ++lines;
  EXPECT_EQ(lines, 60);
  EXPECT_TRUE(fs::exists(fs::path(report->last_checkpoint) / "model.safetensors"));
}

// Property: k micro-batches of 1 row equal one batch of k rows (the loss is normalised by the global mask count,
// and the rows here have different mask counts).
TEST(Train, GradientAccumulationEqualsOneBigBatch) {
  const std::string base = MakeBase("base-accum"), shards = MakeShards("shards-accum", 8, 32);
  TrainOptions big = BaseOptions(base, shards, "run-accum-big");
  big.micro_batch_rows = 4;
  big.max_steps = 2;
  TrainOptions small = BaseOptions(base, shards, "run-accum-small");
  small.micro_batch_rows = 1;
  small.grad_accum = 4;
  small.max_steps = 2;
  auto a = Train(big), b = Train(small);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  for (size_t i = 0; i < a->metrics.size(); ++i) {
    EXPECT_NEAR(a->metrics[i].loss, b->metrics[i].loss, 1e-5);
    EXPECT_EQ(a->metrics[i].loss_tokens, b->metrics[i].loss_tokens);
  }
  // Adam divides by √v, so fp32 rounding differences in the summed gradients move weights by up to ~lr·1e-2.
  EXPECT_LT(MaxDiff(Weights(a->last_checkpoint), Weights(b->last_checkpoint)), 1e-4);
}

// Property: LoRA training changes only the adapters; the checkpoint is a PEFT adapter folder; activation
// checkpointing changes nothing of a LoRA run, dropout included.
TEST(Train, LoraTrainsAdaptersOnly) {
  TrainOptions o = BaseOptions(MakeBase("base-lora"), MakeShards("shards-lora", 4, 32), "run-lora");
  o.mode = "lora";
  o.lora_r = 4;
  o.lora_targets = {"q_proj", "v_proj"};
  auto report = Train(o);
  ASSERT_TRUE(report.ok()) << report.status();
  const fs::path dir = report->last_checkpoint;
  EXPECT_TRUE(fs::exists(dir / "adapter_model.safetensors"));
  EXPECT_TRUE(fs::exists(dir / "adapter_config.json"));
  EXPECT_FALSE(fs::exists(dir / "model.safetensors"));
  auto adapter = hf::SafetensorsFile::Open((dir / "adapter_model.safetensors").string());
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  EXPECT_EQ((*adapter)->tensors().size(), 2u * 2u * 2u);  // 2 layers × {q, v} × {A, B}
  EXPECT_LT(report->metrics.back().loss, report->metrics.front().loss);

  // With activation checkpointing (and LoRA dropout 0.3), the same run: the adapters still get their gradients
  // and the recomputation replays the dropout masks, so every step's loss and gradient norm match.
  o.lora_dropout = 0.3;
  o.out = (TestRoot() / "run-lora-dropout").string();
  auto plain = Train(o);
  o.recompute = true;
  o.out = (TestRoot() / "run-lora-recompute").string();
  auto recomputed = Train(o);
  ASSERT_TRUE(plain.ok()) << plain.status();
  ASSERT_TRUE(recomputed.ok()) << recomputed.status();
  ASSERT_EQ(plain->metrics.size(), recomputed->metrics.size());
  for (size_t i = 0; i < plain->metrics.size(); ++i) {
    EXPECT_NEAR(recomputed->metrics[i].loss, plain->metrics[i].loss, 1e-6) << "step " << i + 1;
    EXPECT_NEAR(recomputed->metrics[i].grad_norm, plain->metrics[i].grad_norm, 1e-6 * plain->metrics[i].grad_norm)
        << "step " << i + 1;
  }
  EXPECT_LT(recomputed->metrics.back().loss, recomputed->metrics.front().loss);
}

// Property: the logged lr of step k is HF Trainer's (LambdaLR after k − 1 scheduler steps): warmup starts at 0,
// cosine then falls from the peak, and the last step of a linear decay to 0 still trains (lr > 0).
TEST(Train, LearningRatesFollowHfSchedulers) {
  const std::string base = MakeBase("base-lr"), shards = MakeShards("shards-lr", 8, 32);
  TrainOptions cosine = BaseOptions(base, shards, "run-lr-cosine");
  cosine.max_steps = 7;
  cosine.warmup_steps = 2;
  cosine.schedule = "cosine";
  auto run = Train(cosine);
  ASSERT_TRUE(run.ok()) << run.status();
  const double pi = std::acos(-1.0);
  for (const StepMetrics& m : run->metrics) {
    const double done = static_cast<double>(m.step - 1);  // scheduler steps before this optimizer step
    const double expected = done < 2 ? cosine.lr * done / 2 : cosine.lr * 0.5 * (1 + std::cos(pi * (done - 2) / 5));
    EXPECT_NEAR(m.lr, expected, 1e-15) << "step " << m.step;
  }
  EXPECT_EQ(run->metrics.front().lr, 0.0);

  TrainOptions linear = BaseOptions(base, shards, "run-lr-linear");
  linear.max_steps = 4;
  linear.schedule = "linear";
  auto line = Train(linear);
  ASSERT_TRUE(line.ok()) << line.status();
  ASSERT_EQ(line->metrics.size(), 4u);
  EXPECT_DOUBLE_EQ(line->metrics.front().lr, linear.lr);
  EXPECT_DOUBLE_EQ(line->metrics.back().lr, linear.lr / 4);
}

// Property: a NaN loss stops the run naming the step and the batch, and writes no checkpoint.
TEST(Train, NanLossStopsWithStepAndBatch) {
  TrainOptions o = BaseOptions(MakeBase("base-nan", /*poison=*/true), MakeShards("shards-nan", 4, 32), "run-nan");
  auto report = Train(o);
  ASSERT_FALSE(report.ok());
  const std::string message(report.status().message());
  EXPECT_NE(message.find("step 1"), std::string::npos) << message;
  EXPECT_NE(message.find("shard rows"), std::string::npos) << message;
  EXPECT_FALSE(LatestCheckpoint(o.out).has_value());
}

// Property: bad input fails before any step with an error naming what is wrong.
TEST(Train, BadInputIsRefusedBeforeTraining) {
  const std::string shards = MakeShards("shards-bad", 4, 32);
  TrainOptions missing = BaseOptions((TestRoot() / "no-such-model").string(), shards, "run-bad");
  auto a = Train(missing);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(std::string(a.status().message()).find("no-such-model"), std::string::npos) << a.status();
  TrainOptions mode = BaseOptions(MakeBase("base-bad"), shards, "run-bad2");
  mode.mode = "dpo";
  auto b = Train(mode);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(std::string(b.status().message()).find("train.mode"), std::string::npos) << b.status();
  TrainOptions no_shards = BaseOptions(MakeBase("base-bad3"), (TestRoot() / "no-shards").string(), "run-bad3");
  auto c = Train(no_shards);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("no-shards"), std::string::npos) << c.status();
  EXPECT_FALSE(fs::exists(fs::path(mode.out) / "metrics.jsonl"));

  // A config.json that disagrees with its weights, or describes more than memory holds: the file is named.
  const std::string mismatched = MakeBase("base-bad4");
  const fs::path config = fs::path(mismatched) / "config.json";
  json edited = json::parse(std::ifstream(config));
  edited["vocab_size"] = 32;
  std::ofstream(config, std::ios::trunc) << edited.dump();
  auto d = Train(BaseOptions(mismatched, shards, "run-bad4"));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message().find(mismatched + ": checkpoint does not fit the qwen3 model"), 0) << d.status();
  edited["num_hidden_layers"] = 2147483647;
  std::ofstream(config, std::ios::trunc) << edited.dump();
  auto e = Train(BaseOptions(mismatched, shards, "run-bad5"));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kResourceExhausted) << e.status();
  EXPECT_EQ(e.status().message().find(config.string() + ": the config describes "), 0) << e.status();
}

// Every file under `dir`, by path relative to it, with its bytes.
std::map<std::string, std::string> FilesUnder(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    files[fs::relative(e.path(), dir).string()] = std::string(std::istreambuf_iterator<char>(in), {});
  }
  return files;
}

// Property: a fresh run into a folder holding an earlier run is refused before the model loads, naming the folder
// and what it holds, and keeping every byte there (metrics, checkpoint, resolved.yaml); metrics without a complete
// checkpoint are not offered --resume; while another process holds the folder even --resume is refused; overwrite
// starts afresh, leaving only the new run's files, unless it would delete the base model it trains from.
TEST(Train, FreshRunKeepsAnEarlierRunUnlessOverwriting) {
  const std::string base = MakeBase("base-fresh"), shards = MakeShards("shards-fresh", 8, 32);
  TrainOptions first = BaseOptions(base, shards, "run-fresh");
  first.max_steps = 3;
  first.resolved_yaml = "first: run\n";
  ASSERT_TRUE(Train(first).ok());
  const fs::path run = first.out;
  const auto before = FilesUnder(run);
  ASSERT_TRUE(before.count("checkpoint-3/trainer_state.json"));
  EXPECT_EQ(before.at("resolved.yaml"), "first: run\n");

  TrainOptions again = first;
  again.max_steps = 2;
  again.resolved_yaml = "second: run\n";
  auto refused = Train(again);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.status().message(),
            run.string() + ": holds an earlier run (metrics.jsonl with 3 steps, checkpoint-3); continue it with "
                           "--resume, start over with --overwrite (deletes it), or choose another train.out");
  EXPECT_TRUE(FilesUnder(run) == before);

  // The metrics of a run killed before its first checkpoint: there is nothing to resume from.
  TrainOptions partial = BaseOptions(base, shards, "run-partial");
  fs::create_directories(partial.out);
  std::ofstream(fs::path(partial.out) / "metrics.jsonl") << "{\"step\": 1}\n";
  auto no_checkpoint = Train(partial);
  ASSERT_FALSE(no_checkpoint.ok());
  EXPECT_NE(no_checkpoint.status().message().find(
                "(metrics.jsonl with 1 step); it has no complete checkpoint to resume from: start over with "
                "--overwrite"),
            std::string::npos)
      << no_checkpoint.status();

  // While another process holds the folder (a run still going), even --resume is refused, and nothing changes.
  {
    const int held = ::open((run / ".distill-train.lock").c_str(), O_RDWR);
    ASSERT_GE(held, 0);
    ASSERT_EQ(::flock(held, LOCK_EX | LOCK_NB), 0);
    TrainOptions resume = first;
    resume.resume = true;
    auto busy = Train(resume);
    ::close(held);
    ASSERT_FALSE(busy.ok());
    EXPECT_EQ(busy.status().message(), run.string() + ": another distill train is running in this folder (it holds "
                                                      ".distill-train.lock); wait for it to finish, or choose another "
                                                      "train.out");
    EXPECT_TRUE(FilesUnder(run) == before);
  }

  // Overwriting may not delete what the run reads: here a base model that is the earlier run's checkpoint.
  TrainOptions from_own_checkpoint = again;
  from_own_checkpoint.overwrite = true;
  from_own_checkpoint.base_model = (run / "checkpoint-3").string();
  auto spared = Train(from_own_checkpoint);
  ASSERT_FALSE(spared.ok());
  EXPECT_EQ(spared.status().message(), (run / "checkpoint-3").string() + ": --overwrite would delete it, and the run "
                                           "reads " + from_own_checkpoint.base_model + " from it; copy that elsewhere "
                                           "first, or choose another train.out");
  EXPECT_TRUE(FilesUnder(run) == before);

  again.overwrite = true;
  auto fresh = Train(again);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  const auto after = FilesUnder(run);
  EXPECT_FALSE(after.count("checkpoint-3/trainer_state.json"));
  EXPECT_TRUE(after.count("checkpoint-2/trainer_state.json"));
  EXPECT_EQ(after.at("resolved.yaml"), "second: run\n");
  const std::string& metrics = after.at("metrics.jsonl");
  EXPECT_EQ(std::count(metrics.begin(), metrics.end(), '\n'), 2) << metrics;
}

// The options of both halves of the kill test: 7 steps, a checkpoint every 3, warmup then cosine.
TrainOptions ResumeOptions(const std::string& base, const std::string& shards, const std::string& out) {
  TrainOptions o = BaseOptions(base, shards, "unused");
  o.out = out;
  o.max_steps = 7;
  o.save_every = 3;
  o.schedule = "cosine";
  o.warmup_steps = 2;
  return o;
}

// Resumes `options` in `dir` to the end and expects `full`'s metrics (loss, lr, grad norm, token counts) and final
// weights bit for bit.
void ExpectResumeReproduces(const TrainOptions& options, const std::string& dir, const TrainReport& full) {
  TrainOptions again = options;
  again.out = dir;
  again.resume = true;
  auto resumed = Train(again);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  ASSERT_EQ(resumed->metrics.size(), full.metrics.size());
  for (size_t i = 0; i < full.metrics.size(); ++i) {
    const StepMetrics &x = full.metrics[i], &y = resumed->metrics[i];
    EXPECT_EQ(x.step, y.step);
    EXPECT_EQ(x.loss, y.loss) << "step " << x.step;
    EXPECT_EQ(x.lr, y.lr) << "step " << x.step;
    EXPECT_EQ(x.grad_norm, y.grad_norm) << "step " << x.step;
    EXPECT_EQ(x.loss_tokens, y.loss_tokens) << "step " << x.step;
  }
  if (options.mode == "lora") {
    const auto bytes = [](const std::string& checkpoint) {
      std::ifstream in(fs::path(checkpoint) / "adapter_model.safetensors", std::ios::binary);
      return std::string(std::istreambuf_iterator<char>(in), {});
    };
    EXPECT_EQ(bytes(full.last_checkpoint), bytes(resumed->last_checkpoint));
  } else {
    EXPECT_EQ(MaxDiff(Weights(full.last_checkpoint), Weights(resumed->last_checkpoint)), 0.0);
  }
}

// The child half of the kill test: trains and dies like kill -9 (no cleanup) after step 4.
TEST(Train, KilledChild) {
  const char* dir = std::getenv("DISTILL_TRAIN_KILL_DIR");
  if (!dir) GTEST_SKIP() << "runs as a child of KillAndResumeGivesIdenticalMetrics";
  TrainOptions o = ResumeOptions(std::getenv("DISTILL_TRAIN_BASE"), std::getenv("DISTILL_TRAIN_SHARDS"), dir);
  o.on_step = [](const StepMetrics& m, int64_t) {
    if (m.step == 4) _exit(9);
  };
  (void)Train(o);
  _exit(1);  // not reached when the kill works
}

// Property: a run killed after step 4 (checkpoint at 3) and resumed gives the uninterrupted run's metrics (loss,
// lr, grad norm, token counts) bit for bit, and the same final weights, on CPU with fixed threads.
TEST(Train, KillAndResumeGivesIdenticalMetrics) {
  const std::string base = MakeBase("base-resume"), shards = MakeShards("shards-resume", 12, 32);
  TrainOptions whole = ResumeOptions(base, shards, (TestRoot() / "run-whole").string());
  auto full = Train(whole);
  ASSERT_TRUE(full.ok()) << full.status();

  const std::string dir = (TestRoot() / "run-killed").string();
  const int status = RunChild("Train.KilledChild", {"DISTILL_TRAIN_KILL_DIR=" + dir, "DISTILL_TRAIN_BASE=" + base,
                                                    "DISTILL_TRAIN_SHARDS=" + shards});
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 9) << status;
  ASSERT_TRUE(LatestCheckpoint(dir).has_value());

  ExpectResumeReproduces(whole, dir, *full);
}

// Stops `whole` (in `mode`; LoRA with dropout, which draws random masks) after step 4 and resumes it.
void StopAndResume(TrainOptions whole, const std::string& mode, const std::string& dtype) {
  whole.mode = mode;
  whole.dtype = dtype;
  whole.lora_r = 4;
  whole.lora_dropout = 0.1;
  auto full = Train(whole);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_FALSE(full->stopped);

  TrainOptions stopping = whole;
  stopping.out = whole.out + "-stopped";
  int64_t steps_done = 0;
  stopping.on_step = [&](const StepMetrics& m, int64_t) { steps_done = m.step; };
  stopping.stop_requested = [&] { return steps_done >= 4; };
  auto stopped = Train(stopping);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_TRUE(stopped->stopped);
  EXPECT_EQ(stopped->steps, 4);
  EXPECT_EQ(stopped->total_steps, 7);
  EXPECT_EQ(stopped->last_checkpoint, (fs::path(stopping.out) / "checkpoint-4").string());
  EXPECT_EQ(LatestCheckpoint(stopping.out), stopped->last_checkpoint);
  EXPECT_FALSE(fs::exists(fs::path(stopping.out) / "checkpoint-5"));
  ExpectResumeReproduces(whole, stopping.out, *full);
}

// Property: a stop request (the CLI's SIGINT/SIGTERM) after step 4 ends the run there with that step's checkpoint
// (off the save_every 3 schedule) and nothing after it; --resume then gives the uninterrupted run's metrics and
// weights bit for bit, as after kill -9, but without losing step 4; in full and in LoRA mode (dropout masks too),
// with fp32 weights and with bf16 ones (their fp32 masters restored from the optimizer file).
TEST(Train, StopRequestSavesThatStepAndResumesExactly) {
  const std::string base = MakeBase("base-stop"), shards = MakeShards("shards-stop", 12, 32);
  for (const std::string dtype : {"float32", "bfloat16"}) {
    for (const std::string mode : {"full", "lora"}) {
      SCOPED_TRACE(mode + " " + dtype);
      StopAndResume(ResumeOptions(base, shards, (TestRoot() / ("run-stop-whole-" + mode + "-" + dtype)).string()),
                    mode, dtype);
    }
  }
}

// Mean |a − b| over every element of two weight lists.
double MeanAbsDiff(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double sum = 0, count = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sum += (a[i] - b[i]).abs().sum().item<double>();
    count += static_cast<double>(a[i].numel());
  }
  return sum / count;
}

// Property: with bf16 weights (train.dtype=bfloat16) the optimizer steps fp32 master copies. At lr 2e-5, below
// half a bf16 ulp of most weights, the weights still move as an fp32 run's do (steps applied to the bf16 weights
// themselves would round away for most of them). The checkpoint holds bf16 weights; activation checkpointing
// changes nothing; LoRA on a bf16 base trains fp32 adapters; a bf16 checkpoint saved without masters (an older
// distill) is refused on --resume.
TEST(Train, Bf16WeightsTrainThroughFp32Masters) {
  // A base of bf16 numbers, so the fp32 and the bf16 runs start from the same weights.
  const fs::path base = TestRoot() / "base-bf16";
  {
    auto model = MakeModel(SmallConfig(), torch::kCPU, torch::kFloat);
    ASSERT_TRUE(model.ok());
    InitRandom(**model, 11);
    ASSERT_TRUE(SaveModel(**model, base.string(), torch::kBFloat16).ok());
  }
  const std::string shards = MakeShards("shards-bf16", 12, 32);
  TrainOptions reference = BaseOptions(base.string(), shards, "run-bf16-reference");
  reference.lr = 2e-5;
  reference.max_steps = 6;
  TrainOptions bf16 = reference;
  bf16.out = (TestRoot() / "run-bf16").string();
  bf16.dtype = "bfloat16";
  auto a = Train(reference), b = Train(bf16);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  const std::vector<torch::Tensor> start = Weights(base.string()), fp32_end = Weights(a->last_checkpoint),
                                   bf16_end = Weights(b->last_checkpoint);
  double below = 0, total = 0;  // weights whose bf16 half-ulp exceeds one step of lr
  for (const torch::Tensor& w : start) {
    const torch::Tensor half_ulp = torch::pow(2.0, torch::floor(torch::log2(w.abs())) - 8);
    below += (half_ulp > reference.lr).sum().item<double>();
    total += static_cast<double>(w.numel());
  }
  double rounded_alike = 0;  // the bf16 run's weight is the fp32 run's rounded to bf16
  for (size_t i = 0; i < start.size(); ++i)
    rounded_alike += (bf16_end[i] == fp32_end[i].to(torch::kBFloat16).to(torch::kFloat)).sum().item<double>();
  const double moved_fp32 = MeanAbsDiff(fp32_end, start), moved_bf16 = MeanAbsDiff(bf16_end, start);
  std::printf("%.0f%% of weights have a half bf16 ulp above lr; mean move fp32 %.3g, bf16 %.3g; %.1f%% of the "
              "bf16 weights are the fp32 ones rounded\n",
              100 * below / total, moved_fp32, moved_bf16, 100 * rounded_alike / total);
  EXPECT_GT(below / total, 0.5);
  EXPECT_NEAR(moved_bf16 / moved_fp32, 1.0, 0.25);
  EXPECT_GT(rounded_alike / total, 0.9);
  auto saved = hf::SafetensorsFile::Open((fs::path(b->last_checkpoint) / "model.safetensors").string());
  ASSERT_TRUE(saved.ok()) << saved.status();
  for (const auto& view : (*saved)->tensors()) EXPECT_EQ(view.dtype, hf::DType::kBF16) << view.name;

  // Activation checkpointing recomputes the same bf16 layers: the same losses and weights.
  TrainOptions recomputed = bf16;
  recomputed.out = (TestRoot() / "run-bf16-recompute").string();
  recomputed.recompute = true;
  auto r = Train(recomputed);
  ASSERT_TRUE(r.ok()) << r.status();
  for (size_t i = 0; i < r->metrics.size(); ++i) EXPECT_EQ(r->metrics[i].loss, b->metrics[i].loss) << i + 1;
  EXPECT_EQ(MaxDiff(Weights(r->last_checkpoint), bf16_end), 0.0);

  // LoRA on the bf16 base: the adapters are fp32 (PEFT's autocast_adapter_dtype) and saved so.
  TrainOptions lora = bf16;
  lora.out = (TestRoot() / "run-bf16-lora").string();
  lora.mode = "lora";
  lora.lora_r = 4;
  lora.lr = 3e-3;
  auto c = Train(lora);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_LT(c->metrics.back().loss, c->metrics.front().loss);
  auto adapter = hf::SafetensorsFile::Open((fs::path(c->last_checkpoint) / "adapter_model.safetensors").string());
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  for (const auto& view : (*adapter)->tensors()) EXPECT_EQ(view.dtype, hf::DType::kF32) << view.name;

  // A bf16 checkpoint from before master copies (no "master_weights" in trainer_state.json) is refused.
  const fs::path state_path = fs::path(b->last_checkpoint) / "trainer_state.json";
  json state = json::parse(std::ifstream(state_path));
  EXPECT_EQ(state.at("master_weights"), true);
  state.erase("master_weights");
  std::ofstream(state_path, std::ios::trunc) << state.dump();
  TrainOptions again = bf16;
  again.resume = true;
  again.max_steps = 8;
  auto refused = Train(again);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("trained without fp32 master copies"), std::string::npos)
      << refused.status();
}

// Property: --resume refuses, before any step and with the way on named, a checkpoint the run does not fit: a LoRA
// run resumed with another lora.alpha or use_rslora (its adapters would be saved under a scale they were not
// trained with), on other base weights, with another parameter dtype, with max_steps below its step, or with
// another number of rows per step. The run
// folder keeps every byte (metrics.jsonl, resolved.yaml, checkpoints). The same base copied elsewhere resumes.
TEST(Train, ResumeRefusesACheckpointThatDoesNotFit) {
  const std::string base = MakeBase("base-fit"), shards = MakeShards("shards-fit", 8, 32);
  TrainOptions first = BaseOptions(base, shards, "run-fit");
  first.mode = "lora";
  first.lora_r = 4;
  first.max_steps = 3;
  first.resolved_yaml = "first: run\n";
  ASSERT_TRUE(Train(first).ok());
  const fs::path run = first.out;
  const auto before = FilesUnder(run);
  const std::string checkpoint = (run / "checkpoint-3").string();
  struct Case {
    std::string name;
    std::function<void(TrainOptions&)> change;
    std::string expected;
  };
  const std::string other_base = MakeBase("base-fit-other", /*poison=*/false, /*seed=*/12);
  const std::vector<Case> cases = {
      {"alpha", [](TrainOptions& o) { o.lora_alpha = 64; }, "adapter_config.json: the adapter has r 4, alpha 32"},
      {"rslora", [](TrainOptions& o) { o.lora_use_rslora = true; }, "the run asks for r 4, alpha 32 (rsLoRA)"},
      {"base", [&](TrainOptions& o) { o.base_model = other_base; },
       checkpoint + ": its adapters were trained on " + base + " (weights "},
      {"dtype", [](TrainOptions& o) { o.dtype = "bfloat16"; },
       checkpoint + ": trained with float32 parameters, resumed with bfloat16 (train.dtype); resume with "
                    "train.dtype=float32 (or auto)"},
      {"max_steps", [](TrainOptions& o) { o.max_steps = 2; },
       checkpoint + ": the run is past its end, step 3 of 2; raise train.max_steps"},
      {"global batch", [](TrainOptions& o) { o.grad_accum = 2; },
       checkpoint + ": trained with 2 rows per step (ranks × micro_batch_rows × grad_accum = 1 × 2 × 1), this run "
                    "has 4 (1 × 2 × 2); set train.micro_batch_rows × train.grad_accum to 2"},
  };
  for (const Case& c : cases) {
    TrainOptions again = first;
    again.resume = true;
    again.max_steps = 5;
    again.resolved_yaml = "second: run\n";
    c.change(again);
    auto resumed = Train(again);
    ASSERT_FALSE(resumed.ok()) << c.name;
    EXPECT_NE(resumed.status().message().find(c.expected), std::string::npos) << c.name << ": " << resumed.status();
    EXPECT_TRUE(FilesUnder(run) == before) << c.name;
  }
  // The base copied to another folder has the same weights: the run resumes there.
  const fs::path moved = TestRoot() / "base-fit-moved";
  fs::copy(base, moved, fs::copy_options::recursive);
  TrainOptions again = first;
  again.resume = true;
  again.max_steps = 4;
  again.base_model = moved.string();
  auto resumed = Train(again);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->steps, 4);
}

// Property: a checkpoint whose files disagree (trainer_state.json's step against its folder or against
// optimizer.pt, a malformed field) is refused on --resume with the file named, before any step: metrics.jsonl
// keeps its bytes and no later checkpoint appears.
TEST(Train, DamagedCheckpointIsNamedOnResume) {
  const std::string base = MakeBase("base-damaged"), shards = MakeShards("shards-damaged", 12, 32);
  TrainOptions first = BaseOptions(base, shards, "run-damaged");
  first.max_steps = 3;
  first.save_every = 1;
  first.keep_last = 2;
  ASSERT_TRUE(Train(first).ok());
  const fs::path run = first.out, checkpoint = run / "checkpoint-3", state_path = checkpoint / "trainer_state.json";
  const auto read = [](const fs::path& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string metrics = read(run / "metrics.jsonl"), state = read(state_path);
  const auto edited = [&](const std::function<void(json&)>& edit) {
    json j = json::parse(state);
    edit(j);
    return j.dump();
  };
  struct Case {
    std::string name, state;
    bool old_optimizer;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"step of another folder", edited([](auto& j) { j["step"] = 2; }), false,
       state_path.string() + ": \"step\" is 2 in the folder of step 3"},
      {"step as text", edited([](auto& j) { j["step"] = "3"; }), false,
       state_path.string() + ": \"step\" missing or not an integer"},
      {"no mode", edited([](auto& j) { j.erase("mode"); }), false, state_path.string() + ": \"mode\" missing"},
      {"dtype as number", edited([](auto& j) { j["param_dtype"] = 32; }), false,
       state_path.string() + ": \"param_dtype\" is not a string"},
      {"shuffle as text", edited([](auto& j) { j["cursor"]["shuffle"] = "yes"; }), false,
       state_path.string() + ": loader cursor: \"shuffle\" is not true or false"},
      {"not an object", "[3]", false, state_path.string() + ": expected a JSON object"},
      {"optimizer of step 2", state, true,
       (checkpoint / "optimizer.pt").string() + ": holds step 2, trainer_state.json step 3"},
  };
  for (const Case& c : cases) {
    std::ofstream(state_path, std::ios::trunc) << c.state;
    if (c.old_optimizer) {
      fs::copy_file(run / "checkpoint-2" / "optimizer.pt", checkpoint / "optimizer.pt",
                    fs::copy_options::overwrite_existing);
    }
    TrainOptions again = first;
    again.max_steps = 4;
    again.resume = true;
    const auto resumed = Train(again);
    ASSERT_FALSE(resumed.ok()) << c.name;
    EXPECT_NE(resumed.status().message().find(c.expected), std::string::npos) << c.name << ": " << resumed.status();
    EXPECT_EQ(read(run / "metrics.jsonl"), metrics) << c.name;
    EXPECT_FALSE(fs::exists(run / "checkpoint-4")) << c.name;
  }
}

// The child half of the data-parallel test: one Gloo rank.
TEST(Train, DataParallelChild) {
  const char* out = std::getenv("DISTILL_TRAIN_DP_OUT");
  if (!out) GTEST_SKIP() << "runs as a child of TwoGlooRanksMatchOneProcess";
  TrainOptions o = BaseOptions(std::getenv("DISTILL_TRAIN_BASE"), std::getenv("DISTILL_TRAIN_SHARDS"), "unused");
  o.out = out;
  o.micro_batch_rows = 1;
  o.resume = std::getenv("DISTILL_TRAIN_DP_RESUME") != nullptr;
  o.shard_optimizer = std::getenv("DISTILL_TRAIN_DP_UNSHARDED") == nullptr;
  if (const char* dtype = std::getenv("DISTILL_TRAIN_DP_DTYPE")) o.dtype = dtype;
  if (const char* dropout = std::getenv("DISTILL_TRAIN_DP_LORA_DROPOUT")) {
    o.mode = "lora";
    o.lora_r = 4;
    o.lora_dropout = std::atof(dropout);
    o.max_steps = 1;
  }
  // A stop asked of rank 1 alone after this step (a signal that reached one rank).
  const char* stop_after = std::getenv("DISTILL_TRAIN_DP_STOP_AFTER");
  const int64_t stop_step = stop_after && std::string(std::getenv("RANK")) == "1" ? std::atoll(stop_after) : 0;
  int64_t done = 0;
  o.on_step = [&](const StepMetrics& m, int64_t) { done = m.step; };
  o.stop_requested = [&] { return stop_step > 0 && done >= stop_step ? SIGTERM : 0; };
  auto report = Train(o);
  if (!report.ok()) {
    std::fprintf(stderr, "rank %s: %s\n", std::getenv("RANK"), std::string(report.status().message()).c_str());
    _exit(2);
  }
  _exit(report->stopped ? report->stop_reason : 0);  // rank 0 too exits with the reason rank 1 was given
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// Two DataParallelChild ranks training `base` on `shards` into `dir`, with `extra` environment; their exit statuses.
std::vector<int> RunGlooPair(const std::string& base, const std::string& shards, const std::string& dir,
                             const std::vector<std::string>& extra) {
  const std::string port = std::to_string(FreePort());
  std::vector<int> statuses(2);
  std::vector<std::thread> ranks;
  for (int r = 0; r < 2; ++r) {
    ranks.emplace_back([&, r] {
      std::vector<std::string> env = {"DISTILL_TRAIN_DP_OUT=" + dir, "DISTILL_TRAIN_BASE=" + base,
                                      "DISTILL_TRAIN_SHARDS=" + shards, "RANK=" + std::to_string(r),
                                      "LOCAL_RANK=0", "WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + port};
      env.insert(env.end(), extra.begin(), extra.end());
      statuses[r] = RunChild("Train.DataParallelChild", env);
    });
  }
  for (auto& t : ranks) t.join();
  return statuses;
}

// Field `key` of every line of `dir`'s metrics.jsonl.
std::vector<double> Logged(const std::string& dir, const char* key) {
  std::ifstream metrics(fs::path(dir) / "metrics.jsonl");
  std::vector<double> values;
  for (std::string line; std::getline(metrics, line);) values.push_back(json::parse(line)[key].get<double>());
  return values;
}

// Property: two processes on Gloo, each with one row per step, match one process with two rows per step (the
// same global batch): the same loss curve and final weights, to tolerance; also after a stop asked of one rank and
// a resume, and when one process resumes the pair's checkpoint or the pair one process's; the sharded optimizer
// (ZeRO-1, the default) gives the unsharded run's weights bit for bit; and with bf16 weights and fp32 masters
// (sharded or not, and resumed by one process) the pair is one process accumulating the same rows, bit for bit.
TEST(Train, TwoGlooRanksMatchOneProcess) {
  if (!DataParallel::HasBackend(torch::kCPU)) GTEST_SKIP() << "no Gloo in this build (no gloo headers)";
  const std::string base = MakeBase("base-dp"), shards = MakeShards("shards-dp", 8, 32, /*val_rows=*/3);
  auto single = Train(BaseOptions(base, shards, "run-dp-single"));
  ASSERT_TRUE(single.ok()) << single.status();
  const std::string out = (TestRoot() / "run-dp").string();
  // The two ranks' exit statuses for a run into `dir` with `extra` environment.
  const auto run_ranks = [&](const std::string& dir, const std::vector<std::string>& extra) {
    return RunGlooPair(base, shards, dir, extra);
  };
  const auto expect_exits = [](const std::vector<int>& statuses, int code) {
    for (int r = 0; r < 2; ++r)
      EXPECT_TRUE(WIFEXITED(statuses[r]) && WEXITSTATUS(statuses[r]) == code) << "rank " << r << ": " << statuses[r];
  };
  const auto losses_in = [](const std::string& dir) { return Logged(dir, "loss"); };
  const auto expect_single_run = [&](const std::string& dir) {
    const std::vector<double> losses = losses_in(dir);
    ASSERT_EQ(losses.size(), single->metrics.size());
    for (size_t i = 0; i < losses.size(); ++i)
      EXPECT_NEAR(losses[i], single->metrics[i].loss, 1e-5) << "step " << i + 1;
    auto latest = LatestCheckpoint(dir);
    ASSERT_TRUE(latest.has_value());
    // The gradients' sums run in another order (one GEMM over both rows against a sum per rank plus the
    // all-reduce); Adam's first steps move a near-zero gradient by about ±lr whatever its size, so rounding shows
    // up to ~1e-5 (2.7e-5 measured with one OpenBLAS thread) against 4 steps of lr 3e-3.
    EXPECT_LT(MaxDiff(Weights(single->last_checkpoint), Weights(*latest)), 1e-4);
  };
  expect_exits(run_ranks(out, {}), 0);
  expect_single_run(out);
  // The validation loss covers all 3 rows on 2 ranks (none is dropped to even the ranks out).
  {
    std::ifstream metrics(fs::path(out) / "metrics.jsonl");
    std::string line, last;
    while (std::getline(metrics, line)) last = line;
    ASSERT_TRUE(single->final_val_loss.has_value());
    EXPECT_NEAR(json::parse(last).value("val_loss", -1.0), *single->final_val_loss, 1e-6);
  }

  // Started again in the same folder without resume: rank 0 refuses it and rank 1 learns so (neither waits in a
  // collective for the other), and the earlier run keeps every byte.
  const auto before = FilesUnder(out);
  expect_exits(run_ranks(out, {}), 2);
  EXPECT_TRUE(FilesUnder(out) == before);

  // A stop asked of rank 1 alone after step 2 (SIGTERM): both ranks stop there (neither waits for the other) and
  // both report SIGTERM, rank 0 saves checkpoint-2, and the resumed pair ends as the uninterrupted one.
  const std::string stopped = (TestRoot() / "run-dp-stopped").string();
  expect_exits(run_ranks(stopped, {"DISTILL_TRAIN_DP_STOP_AFTER=2"}), SIGTERM);
  EXPECT_EQ(losses_in(stopped).size(), 2u);
  EXPECT_EQ(LatestCheckpoint(stopped), (fs::path(stopped) / "checkpoint-2").string());
  expect_exits(run_ranks(stopped, {"DISTILL_TRAIN_DP_RESUME=1"}), 0);
  expect_single_run(stopped);

  // Another number of ranks with the same rows per step resumes it: the pair's checkpoint (optimizer state in two
  // shards) by one process with two rows per micro-batch, and one process's (optimizer.pt whole) by the pair.
  const std::string down = (TestRoot() / "run-dp-down").string(), up = (TestRoot() / "run-dp-up").string();
  expect_exits(run_ranks(down, {"DISTILL_TRAIN_DP_STOP_AFTER=2"}), SIGTERM);
  {
    // A checkpoint only rank 1 cannot read (its optimizer share cut short), after a killed run logged a step past
    // it: both ranks refuse the resume, and metrics.jsonl keeps that line (rank 0 cuts it only once all restored).
    const fs::path damaged = TestRoot() / "run-dp-damaged";
    fs::copy(down, damaged, fs::copy_options::recursive);
    std::ofstream(damaged / "metrics.jsonl", std::ios::app) << "{\"step\": 3, \"loss\": 1.0}\n";
    const fs::path share = damaged / "checkpoint-2" / "optimizer-rank1-of-2.pt";
    fs::resize_file(share, fs::file_size(share) / 2);
    const auto kept = FilesUnder(damaged);
    expect_exits(run_ranks(damaged.string(), {"DISTILL_TRAIN_DP_RESUME=1"}), 2);
    EXPECT_TRUE(FilesUnder(damaged) == kept);
  }
  TrainOptions one = BaseOptions(base, shards, "unused");
  one.out = down;
  one.resume = true;
  auto resumed_alone = Train(one);
  ASSERT_TRUE(resumed_alone.ok()) << resumed_alone.status();
  expect_single_run(down);
  one.out = up;
  one.resume = false;
  int64_t one_done = 0;
  one.on_step = [&](const StepMetrics& m, int64_t) { one_done = m.step; };
  one.stop_requested = [&] { return one_done >= 2; };
  ASSERT_TRUE(Train(one).ok());
  expect_exits(run_ranks(up, {"DISTILL_TRAIN_DP_RESUME=1"}), 0);
  expect_single_run(up);

  // The optimizer state sharded (the default, ZeRO-1: gradients reduced to their owners) or whole on each rank:
  // the same gradient norms and weights bit for bit, and each rank's checkpoint file holds about half the state.
  const std::string whole = (TestRoot() / "run-dp-unsharded").string();
  expect_exits(run_ranks(whole, {"DISTILL_TRAIN_DP_UNSHARDED=1"}), 0);
  EXPECT_EQ(MaxDiff(Weights(*LatestCheckpoint(out)), Weights(*LatestCheckpoint(whole))), 0.0);
  // Combined from the owners' shares when sharded.
  const auto grad_norms = [](const std::string& dir) { return Logged(dir, "grad_norm"); };
  EXPECT_EQ(grad_norms(out), grad_norms(whole));
  EXPECT_GT(grad_norms(whole).front(), 1.0);  // above max_grad_norm: the clipping is exercised
  const fs::path sharded_checkpoint = *LatestCheckpoint(out), whole_checkpoint = *LatestCheckpoint(whole);
  EXPECT_FALSE(fs::exists(sharded_checkpoint / "optimizer.pt"));
  const double full_size = static_cast<double>(fs::file_size(whole_checkpoint / "optimizer.pt"));
  for (const char* shard : {"optimizer-rank0-of-2.pt", "optimizer-rank1-of-2.pt"}) {
    ASSERT_TRUE(fs::exists(sharded_checkpoint / shard)) << shard;
    const double share = static_cast<double>(fs::file_size(sharded_checkpoint / shard)) / full_size;
    std::printf("%s: %.2f of the whole optimizer.pt\n", shard, share);
    EXPECT_LT(share, 0.65) << shard;
  }
  // bf16 weights (train.dtype=bfloat16): each micro-batch's gradients are summed in fp32 into the fp32 masters
  // (over Gloo on fp32 copies; sharded by default), so the pair is one bf16 process that accumulates the same two
  // rows as two micro-batches, bit for bit: losses, gradient norms and weights.
  TrainOptions bf16 = BaseOptions(base, shards, "run-dp-bf16-single");
  bf16.dtype = "bfloat16";
  bf16.micro_batch_rows = 1;
  bf16.grad_accum = 2;
  auto single_bf16 = Train(bf16);
  ASSERT_TRUE(single_bf16.ok()) << single_bf16.status();
  for (const bool unsharded : {false, true}) {
    SCOPED_TRACE(unsharded ? "bf16 unsharded" : "bf16 sharded");
    const std::string pair_bf16 = (TestRoot() / (unsharded ? "run-dp-bf16-unsharded" : "run-dp-bf16")).string();
    std::vector<std::string> env = {"DISTILL_TRAIN_DP_DTYPE=bfloat16"};
    if (unsharded) env.push_back("DISTILL_TRAIN_DP_UNSHARDED=1");
    expect_exits(run_ranks(pair_bf16, env), 0);
    const std::vector<double> bf16_losses = losses_in(pair_bf16), bf16_norms = grad_norms(pair_bf16);
    ASSERT_EQ(bf16_losses.size(), single_bf16->metrics.size());
    ASSERT_EQ(bf16_norms.size(), single_bf16->metrics.size());
    for (size_t i = 0; i < bf16_losses.size(); ++i) {
      EXPECT_EQ(bf16_losses[i], single_bf16->metrics[i].loss) << "step " << i + 1;
      EXPECT_EQ(bf16_norms[i], single_bf16->metrics[i].grad_norm) << "step " << i + 1;
    }
    EXPECT_EQ(MaxDiff(Weights(single_bf16->last_checkpoint), Weights(*LatestCheckpoint(pair_bf16))), 0.0);
  }
  // The bf16 pair stopped after step 2 and resumed by one process: its fp32 masters come from both ranks' files,
  // so the run still ends as the single process's, bit for bit.
  const std::string bf16_down = (TestRoot() / "run-dp-bf16-down").string();
  expect_exits(run_ranks(bf16_down, {"DISTILL_TRAIN_DP_DTYPE=bfloat16", "DISTILL_TRAIN_DP_STOP_AFTER=2"}), SIGTERM);
  TrainOptions bf16_alone = bf16;
  bf16_alone.out = bf16_down;
  bf16_alone.resume = true;
  auto bf16_resumed = Train(bf16_alone);
  ASSERT_TRUE(bf16_resumed.ok()) << bf16_resumed.status();
  ASSERT_EQ(bf16_resumed->metrics.size(), single_bf16->metrics.size());
  for (size_t i = 0; i < bf16_resumed->metrics.size(); ++i) {
    EXPECT_EQ(bf16_resumed->metrics[i].loss, single_bf16->metrics[i].loss) << "step " << i + 1;
    EXPECT_EQ(bf16_resumed->metrics[i].grad_norm, single_bf16->metrics[i].grad_norm) << "step " << i + 1;
  }
  EXPECT_EQ(MaxDiff(Weights(single_bf16->last_checkpoint), Weights(bf16_resumed->last_checkpoint)), 0.0);
}

// Property: each rank draws its own LoRA dropout masks. Two Gloo ranks fed the same row, with dropout 0.5, log
// another gradient norm than one process on that row (whose masks rank 0 draws): their mean gradient is not the
// single one's; with dropout 0 they agree. (The first step's loss cannot show it: lora_B starts at zero.)
TEST(Train, RanksDrawTheirOwnDropoutMasks) {
  if (!DataParallel::HasBackend(torch::kCPU)) GTEST_SKIP() << "no Gloo in this build (no gloo headers)";
  const std::string base = MakeBase("base-masks"), shards = MakeShards("shards-masks", 4, 32, 0, true);
  for (const double dropout : {0.5, 0.0}) {
    SCOPED_TRACE(dropout);
    TrainOptions single = BaseOptions(base, shards, absl::StrCat("run-masks-single-", dropout));
    single.mode = "lora";
    single.lora_r = 4;
    single.lora_dropout = dropout;
    single.micro_batch_rows = 1;
    single.max_steps = 1;
    auto alone = Train(single);
    ASSERT_TRUE(alone.ok()) << alone.status();
    const std::string pair = (TestRoot() / absl::StrCat("run-masks-pair-", dropout)).string();
    for (int status : RunGlooPair(base, shards, pair, {absl::StrCat("DISTILL_TRAIN_DP_LORA_DROPOUT=", dropout)}))
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    const std::vector<double> norms = Logged(pair, "grad_norm");
    ASSERT_EQ(norms.size(), 1u);
    const double single_norm = alone->metrics.front().grad_norm;
    std::printf("dropout %.1f: gradient norm of one process %.9f, of two ranks on the same row %.9f\n", dropout,
                single_norm, norms.front());
    if (dropout > 0) {
      EXPECT_GT(std::abs(norms.front() - single_norm), 1e-3 * single_norm);
    } else {
      EXPECT_NEAR(norms.front(), single_norm, 1e-6 * single_norm);
    }
  }
}

// Property: the same loop on a CUDA device gives the CPU's losses and weights in fp32 (here with per-layer
// recompute, which must not change them); under bf16 autocast, the CUDA default, the losses stay within bf16
// rounding of fp32 and still fall, and the metrics report device memory; bf16 weights with fp32 masters follow
// the CPU's within bf16 rounding. Skips without CUDA (CI has none).
TEST(Train, CudaRunMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const std::string base = MakeBase("base-cuda"), shards = MakeShards("shards-cuda", 8, 48, 2);
  TrainOptions cpu = BaseOptions(base, shards, "run-cuda-cpu");
  cpu.max_steps = 12;
  cpu.eval_every = 6;
  TrainOptions fp32 = cpu, bf16 = cpu;
  fp32.out = (TestRoot() / "run-cuda-fp32").string();
  fp32.device = "cuda";
  fp32.dtype = "float32";
  fp32.recompute = true;
  bf16.out = (TestRoot() / "run-cuda-bf16").string();
  bf16.device = "cuda";
  auto a = Train(cpu), b = Train(fp32), c = Train(bf16);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(a->metrics.size(), b->metrics.size());
  ASSERT_EQ(a->metrics.size(), c->metrics.size());
  for (size_t i = 0; i < a->metrics.size(); ++i) {
    std::printf("step %zu: cpu %.6f cuda fp32 %.6f cuda bf16 %.6f\n", i + 1, a->metrics[i].loss, b->metrics[i].loss,
                c->metrics[i].loss);
    EXPECT_NEAR(b->metrics[i].loss, a->metrics[i].loss, 1e-4 * a->metrics[i].loss) << "step " << i + 1;
    EXPECT_NEAR(c->metrics[i].loss, b->metrics[i].loss, 0.03 * b->metrics[i].loss) << "step " << i + 1;
  }
  ASSERT_TRUE(a->final_val_loss && b->final_val_loss);
  EXPECT_NEAR(*b->final_val_loss, *a->final_val_loss, 1e-4 * *a->final_val_loss);
  EXPECT_LT(c->metrics.back().loss, c->metrics.front().loss);
  EXPECT_GT(b->metrics.back().memory_mb, 0);
  // Adam moves a near-zero gradient by about ±lr whatever its size, so rounding can flip a step of lr 3e-3.
  const double diff = MaxDiff(Weights(a->last_checkpoint), Weights(b->last_checkpoint));
  std::printf("largest weight difference cpu vs cuda fp32 after 12 steps: %.3g\n", diff);
  EXPECT_LT(diff, 1e-2);

  // bf16 weights through fp32 masters on CUDA (train.dtype=bfloat16, no autocast): the CPU's bf16 run within bf16
  // rounding, step by step, and learning.
  TrainOptions cpu_bf16 = cpu, cuda_bf16 = cpu;
  cpu_bf16.out = (TestRoot() / "run-cuda-cpu-bf16").string();
  cpu_bf16.dtype = "bfloat16";
  cuda_bf16.out = (TestRoot() / "run-cuda-bf16-weights").string();
  cuda_bf16.dtype = "bfloat16";
  cuda_bf16.device = "cuda";
  auto d = Train(cpu_bf16), e = Train(cuda_bf16);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(d->metrics.size(), e->metrics.size());
  for (size_t i = 0; i < d->metrics.size(); ++i) {
    std::printf("step %zu: bf16 weights cpu %.6f cuda %.6f\n", i + 1, d->metrics[i].loss, e->metrics[i].loss);
    EXPECT_NEAR(e->metrics[i].loss, d->metrics[i].loss, 0.03 * d->metrics[i].loss) << "step " << i + 1;
    EXPECT_NEAR(e->metrics[i].loss, b->metrics[i].loss, 0.05 * b->metrics[i].loss) << "step " << i + 1;
  }
  EXPECT_LT(e->metrics.back().loss, e->metrics.front().loss);
}

}  // namespace
}  // namespace distill::trainer
