// AdamW parameter groups, the learning-rate schedule, gradient clipping and bit-identical resume from a saved
// optimizer state, on tiny CPU models.
#include "trainer/optim.h"

#include <torch/nn/functional/loss.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numbers>
#include <string>

#include "data/remove_tree.h"
#include "gtest/gtest.h"
#include "tests/testing/file_size_limit.h"
#include "tests/trainer/test_models.h"
#include "trainer/checkpoint_io.h"
#include "trainer/lora.h"

namespace distill::trainer {
namespace {

using testing::TestModel;
using testing::TinyConfig;

std::string TempPath(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / ("optim_test_" + name);
  EXPECT_TRUE(data::RemoveTree(dir.string()).ok());  // not remove_all: see data/remove_tree.h
  std::filesystem::create_directories(dir);
  return dir.string();
}

NamedTensors Named(const Model& model) {
  NamedTensors out;
  for (const auto& item : model.named_parameters()) out.emplace_back(item.key(), item.value());
  return out;
}

// Next-token cross-entropy over every position.
torch::Tensor Loss(const Model& model, const torch::Tensor& ids) {
  const int64_t b = ids.size(0), t = ids.size(1);
  torch::Tensor positions = torch::arange(t, torch::kLong).expand({b, t});
  torch::Tensor logits = Logits(model, Hidden(model, ids, positions));
  return torch::nn::functional::cross_entropy(logits.slice(1, 0, t - 1).reshape({-1, logits.size(-1)}),
                                              ids.slice(1, 1).reshape({-1}));
}

TEST(OptimTest, WeightDecayOnlyOnWeightMatrices) {
  // Property: with zero gradients an AdamW step multiplies decayed weights by exactly (1 − lr·wd) and leaves
  // norms and biases bit-identical.
  auto model = TestModel(testing::Qwen25());  // has q/k/v biases and norms
  const double lr = 0.1, wd = 0.05;
  auto optimizer = MakeAdamW(Named(*model), AdamWOptions{lr, 0.9, 0.999, 1e-8, wd});
  ASSERT_TRUE(optimizer.ok()) << optimizer.status();
  ASSERT_EQ((*optimizer)->param_groups().size(), 2u);
  std::map<std::string, torch::Tensor> before;
  int decayed = 0, kept = 0;
  for (const auto& item : model->named_parameters()) {
    before[item.key()] = item.value().detach().clone();
    item.value().mutable_grad() = torch::zeros_like(item.value());
  }
  (*optimizer)->step();
  for (const auto& item : model->named_parameters()) {
    const torch::Tensor& old = before[item.key()];
    const bool norm_or_bias = item.key().ends_with("bias") || item.key().ends_with("norm.weight");
    EXPECT_EQ(DecaysWeight(item.key(), item.value()), !norm_or_bias) << item.key();
    if (norm_or_bias) {
      ++kept;
      EXPECT_TRUE(torch::equal(item.value(), old)) << item.key();
    } else {
      ++decayed;
      EXPECT_TRUE(torch::equal(item.value(), old * (1 - lr * wd))) << item.key();
      EXPECT_TRUE(torch::allclose(old - item.value(), lr * wd * old, 1e-3, 1e-9)) << item.key();  // fp32 cancellation
    }
  }
  EXPECT_GT(decayed, 0);
  EXPECT_GT(kept, 0);
}

TEST(OptimTest, RejectsNothingToTrainAndBadOptions) {
  // Property: an optimizer over no trainable parameter, or with out-of-range options, is an error, not a crash.
  auto model = TestModel(testing::Qwen3());
  for (auto& p : model->parameters()) p.set_requires_grad(false);
  EXPECT_FALSE(MakeAdamW(Named(*model), AdamWOptions{}).ok());
  for (auto& p : model->parameters()) p.set_requires_grad(true);
  EXPECT_FALSE(MakeAdamW(Named(*model), AdamWOptions{1e-5, 1.0, 0.999, 1e-8, 0}).ok());
  EXPECT_TRUE(MakeAdamW(Named(*model), AdamWOptions{}).ok());
}

// Property: the ZeRO-1 split gives every tensor one owner, every rank a share when there are enough tensors, shares
// within the largest tensor of each other, and the same split on every call (every rank computes it alone).
TEST(OptimTest, OptimizerShardsAreBalancedAndDeterministic) {
  std::shared_ptr<Model> model = TestModel(testing::Qwen3());
  std::vector<torch::Tensor> params = model->parameters();
  int64_t largest = 0;
  for (const auto& p : params) largest = std::max(largest, p.numel());
  for (int world : {1, 2, 3, 8}) {
    const std::vector<int> owners = OptimizerShardOwners(params, world);
    ASSERT_EQ(owners.size(), params.size());
    EXPECT_EQ(owners, OptimizerShardOwners(params, world));
    std::vector<int64_t> load(static_cast<size_t>(world), 0);
    for (size_t i = 0; i < params.size(); ++i) {
      ASSERT_GE(owners[i], 0);
      ASSERT_LT(owners[i], world);
      load[static_cast<size_t>(owners[i])] += params[i].numel();
    }
    const auto [low, high] = std::minmax_element(load.begin(), load.end());
    EXPECT_GT(*low, 0) << world << " ranks";
    EXPECT_LE(*high - *low, largest) << world << " ranks";
  }
}

TEST(OptimTest, ScheduleMatchesFormulas) {
  // Property: linear warmup from 0, then cosine / linear / constant to the floor, at the steps that matter.
  ScheduleOptions s{1e-4, LrDecay::kCosine, 0, 0.1, 0.1};
  const int64_t total = 100;
  EXPECT_EQ(WarmupSteps(s, total), 10);
  EXPECT_DOUBLE_EQ(LearningRate(s, 0, total), 0.0);
  EXPECT_DOUBLE_EQ(LearningRate(s, 5, total), 0.5e-4);
  EXPECT_DOUBLE_EQ(LearningRate(s, 10, total), 1e-4);
  EXPECT_DOUBLE_EQ(LearningRate(s, 55, total), 1e-4 * (0.1 + 0.9 * 0.5));
  EXPECT_DOUBLE_EQ(LearningRate(s, 32, total),
                   1e-4 * (0.1 + 0.9 * 0.5 * (1 + std::cos(std::numbers::pi * 22.0 / 90.0))));
  EXPECT_DOUBLE_EQ(LearningRate(s, 100, total), 1e-5);
  EXPECT_DOUBLE_EQ(LearningRate(s, 150, total), 1e-5);  // stays at the floor past the end

  s.decay = LrDecay::kLinear;
  EXPECT_DOUBLE_EQ(LearningRate(s, 55, total), 1e-4 * (0.1 + 0.9 * 0.5));
  EXPECT_DOUBLE_EQ(LearningRate(s, 100, total), 1e-5);
  s.decay = LrDecay::kConstant;
  EXPECT_DOUBLE_EQ(LearningRate(s, 3, total), 0.3e-4);
  EXPECT_DOUBLE_EQ(LearningRate(s, 99, total), 1e-4);

  s.warmup_steps = 4;  // wins over the ratio
  EXPECT_EQ(WarmupSteps(s, total), 4);
  s.warmup_steps = 0;
  s.warmup_ratio = 0.03;  // ceil, as HF
  EXPECT_EQ(WarmupSteps(s, 50), 2);

  EXPECT_EQ(*ParseLrDecay("cosine_with_min_lr"), LrDecay::kCosine);
  EXPECT_EQ(*ParseLrDecay("linear"), LrDecay::kLinear);
  EXPECT_EQ(*ParseLrDecay("constant_with_warmup"), LrDecay::kConstant);
  EXPECT_FALSE(ParseLrDecay("polynomial").ok());
}

TEST(OptimTest, SetLearningRateReachesEveryGroup) {
  // Property: the scheduled lr is what every group's AdamW options hold before a step.
  auto model = TestModel(testing::Qwen25());
  auto optimizer = MakeAdamW(Named(*model), AdamWOptions{});
  ASSERT_TRUE(optimizer.ok());
  SetLearningRate(**optimizer, 3e-4);
  for (const auto& group : (*optimizer)->param_groups()) EXPECT_DOUBLE_EQ(group.options().get_lr(), 3e-4);
}

TEST(OptimTest, ClipReturnsPreClipNormAndScalesToMaxNorm) {
  // Property: the returned norm is the global L2 norm before clipping, parameters without gradients are skipped,
  // and afterwards the global norm is max_norm (or unchanged when already below it).
  torch::Tensor a = torch::zeros({2}, torch::requires_grad());
  torch::Tensor b = torch::zeros({1}, torch::requires_grad());
  torch::Tensor no_grad = torch::zeros({3}, torch::requires_grad());
  a.mutable_grad() = torch::tensor({3.0f, 4.0f});
  b.mutable_grad() = torch::tensor({12.0f});
  std::vector<torch::Tensor> params = {a, no_grad, b};
  EXPECT_NEAR(ClipGradNorm(params, 100.0), 13.0, 1e-6);
  EXPECT_TRUE(torch::equal(a.grad(), torch::tensor({3.0f, 4.0f})));
  EXPECT_NEAR(ClipGradNorm(params, 1.3), 13.0, 1e-6);
  const double after = std::sqrt(a.grad().pow(2).sum().item<double>() + b.grad().pow(2).sum().item<double>());
  EXPECT_NEAR(after, 1.3, 1e-5);
  EXPECT_NEAR(a.grad()[0].item<double>() / a.grad()[1].item<double>(), 0.75, 1e-6);  // direction kept
  EXPECT_FALSE(no_grad.grad().defined());
  std::vector<torch::Tensor> none = {no_grad};
  EXPECT_EQ(ClipGradNorm(none, 1.0), 0.0);
}

TEST(OptimTest, AllFiniteFindsNanAndInf) {
  // Property: one NaN or inf anywhere makes AllFinite false; undefined tensors are ignored.
  torch::Tensor p = torch::zeros({4}, torch::requires_grad());
  std::vector<torch::Tensor> params = {p};
  EXPECT_TRUE(AllFinite(Grads(params)));  // undefined grad
  p.mutable_grad() = torch::ones({4});
  EXPECT_TRUE(AllFinite(Grads(params)));
  p.mutable_grad()[2] = std::nan("");
  EXPECT_FALSE(AllFinite(Grads(params)));
  p.mutable_grad()[2] = INFINITY;
  EXPECT_FALSE(AllFinite(Grads(params)));
}

// `steps` optimizer steps from `first_step` with the scheduled lr and clipping; batches depend only on the step.
void Train(Model& model, torch::optim::Optimizer& optimizer, int64_t first_step, int64_t steps) {
  const ScheduleOptions schedule{1e-2, LrDecay::kCosine, 2, 0.0, 0.1};
  const int64_t total = 6;
  std::vector<torch::Tensor> params;
  for (const auto& [name, p] : NamedTrainableParameters(model)) params.push_back(p);
  for (int64_t step = first_step; step < first_step + steps; ++step) {
    optimizer.zero_grad();
    Loss(model, testing::RandomIds(2, 12, model.config.vocab_size, 100 + step)).backward();
    ClipGradNorm(params, 1.0);
    SetLearningRate(optimizer, LearningRate(schedule, step, total));
    optimizer.step();
  }
}

TEST(OptimTest, ResumeIsBitIdentical) {
  // Property: 3 steps, save model + optimizer, reload both into fresh objects, 3 more steps gives exactly the
  // parameters of 6 uninterrupted steps.
  const hf::ModelConfig config = TinyConfig("qwen2", 32, 48, 2, 1, 16, true);
  const AdamWOptions adam{1e-2, 0.9, 0.95, 1e-8, 0.1};

  auto straight = TestModel(config, 11);
  auto straight_opt = MakeAdamW(Named(*straight), adam);
  ASSERT_TRUE(straight_opt.ok());
  Train(*straight, **straight_opt, 0, 6);

  auto first = TestModel(config, 11);
  auto first_opt = MakeAdamW(Named(*first), adam);
  ASSERT_TRUE(first_opt.ok());
  Train(*first, **first_opt, 0, 3);
  const std::string dir = TempPath("resume");
  ASSERT_TRUE(SaveModel(*first, dir).ok());
  const std::string state = dir + "/optimizer.pt";
  ASSERT_TRUE(SaveOptimizerState(**first_opt, 3, state).ok());
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {  // the temp file was renamed away
    EXPECT_FALSE(entry.path().filename().string().starts_with("optimizer.pt.tmp")) << entry.path();
  }

  auto resumed = LoadModel(dir, torch::kCPU, torch::kFloat);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  auto resumed_opt = MakeAdamW(Named(**resumed), adam);
  ASSERT_TRUE(resumed_opt.ok());
  auto step = LoadOptimizerState(**resumed_opt, state);
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_EQ(*step, 3);
  Train(**resumed, **resumed_opt, *step, 3);

  auto expected = straight->named_parameters();
  for (const auto& item : (*resumed)->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), expected[item.key()])) << item.key();
  }
  EXPECT_FALSE(torch::equal(straight->model->norm->weight, first->model->norm->weight));  // training moved it

  EXPECT_FALSE(LoadOptimizerState(**resumed_opt, dir + "/missing.pt").ok());
  EXPECT_FALSE(LoadOptimizerState(**resumed_opt, dir + "/config.json").ok());
}

// Property: with_weights saves the optimizer's own parameters (fp32 masters of bf16 weights exist nowhere else) and
// restores them exactly; a file saved without them is refused naming the file, leaving the parameters as they were.
TEST(OptimTest, WeightsSavedWithTheStateComeBack) {
  auto model = TestModel(TinyConfig("qwen2", 32, 48, 2, 1, 16, true), 11);
  auto optimizer = MakeAdamW(Named(*model), AdamWOptions{1e-2, 0.9, 0.95, 1e-8, 0.1});
  ASSERT_TRUE(optimizer.ok());
  Train(*model, **optimizer, 0, 2);
  std::vector<torch::Tensor> trained;
  for (const auto& p : model->parameters()) trained.push_back(p.detach().clone());
  const std::string dir = TempPath("weights"), with = dir + "/with.pt", without = dir + "/without.pt";
  ASSERT_TRUE(SaveOptimizerState(**optimizer, 2, with, /*with_weights=*/true).ok());
  ASSERT_TRUE(SaveOptimizerState(**optimizer, 2, without).ok());
  EXPECT_GT(std::filesystem::file_size(with), std::filesystem::file_size(without));

  Train(*model, **optimizer, 2, 1);  // the parameters move on
  const auto refused = LoadOptimizerState(**optimizer, without, /*with_weights=*/true);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find(without + ": holds no weight_0"), std::string::npos) << refused.status();
  const auto moved = model->parameters();
  EXPECT_FALSE(torch::equal(moved.back(), trained.back()));  // moved on, and untouched by the refused load

  const auto step = LoadOptimizerState(**optimizer, with, /*with_weights=*/true);
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_EQ(*step, 2);
  const auto restored = model->parameters();
  for (size_t i = 0; i < trained.size(); ++i) EXPECT_TRUE(torch::equal(restored[i], trained[i])) << i;
}

// Property: a full disk while optimizer.pt is written (here a file-size limit) is an error naming the file, not an
// abort: LibTorch's archive writer must never see a failed write (it throws again from its destructor), and the
// previous optimizer.pt and no temp file remain.
TEST(OptimTest, FullDiskIsAnErrorNotAnAbort) {
  auto model = TestModel(TinyConfig("qwen2", 32, 48, 2, 1, 16, true), 11);
  auto optimizer = MakeAdamW(Named(*model), AdamWOptions{});
  ASSERT_TRUE(optimizer.ok());
  Train(*model, **optimizer, 0, 1);  // moments to write
  const std::string dir = TempPath("full-disk"), path = dir + "/optimizer.pt";
  std::ofstream(path) << "previous";
  const absl::Status status =
      distill::testing::WithFileSizeLimit(16 * 1024, [&] { return SaveOptimizerState(**optimizer, 1, path); });
  ASSERT_FALSE(status.ok());
  EXPECT_NE(std::string(status.message()).find("optimizer.pt"), std::string::npos) << status;
  std::ifstream in(path);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "previous");
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    EXPECT_EQ(entry.path().filename().string(), "optimizer.pt") << entry.path();
}

TEST(OptimTest, LoadRefusesDamagedStateBeforeAnyStep) {
  // Property: moments saved for another model shape (same parameter count, so torch's loader pairs them up) are
  // refused at load, naming the file and both shapes; an unreadable file's error carries no C++ backtrace.
  const AdamWOptions adam{1e-2, 0.9, 0.95, 1e-8, 0.1};
  auto narrow = TestModel(TinyConfig("qwen2", 32, 48, 2, 1, 16, true), 11);
  auto narrow_opt = MakeAdamW(Named(*narrow), adam);
  ASSERT_TRUE(narrow_opt.ok());
  Train(*narrow, **narrow_opt, 0, 1);
  const std::string dir = TempPath("damaged");
  const std::string state = dir + "/optimizer.pt";
  ASSERT_TRUE(SaveOptimizerState(**narrow_opt, 1, state).ok());

  auto wide = TestModel(TinyConfig("qwen2", 64, 48, 2, 1, 32, true), 11);
  auto wide_opt = MakeAdamW(Named(*wide), adam);
  ASSERT_TRUE(wide_opt.ok());
  const auto shapes = LoadOptimizerState(**wide_opt, state);
  ASSERT_FALSE(shapes.ok());
  EXPECT_EQ(shapes.status().code(), absl::StatusCode::kDataLoss) << shapes.status();
  EXPECT_NE(shapes.status().message().find(state + ": parameter 0 has shape [" +
                                           std::to_string(wide->config.vocab_size) + ", 64], its saved moment [" +
                                           std::to_string(narrow->config.vocab_size) + ", 32]"),
            std::string::npos)
      << shapes.status();

  std::filesystem::resize_file(state, std::filesystem::file_size(state) / 2);
  const auto cut = LoadOptimizerState(**narrow_opt, state);
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.status().message().find(state + ": cannot load optimizer state: "), std::string::npos) << cut.status();
  EXPECT_EQ(cut.status().message().find("frame #"), std::string::npos) << cut.status();
}

}  // namespace
}  // namespace distill::trainer
