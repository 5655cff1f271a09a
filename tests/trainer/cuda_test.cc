// The GPU path: the same model code on CUDA agrees with CPU. Runs only where LibTorch sees a CUDA device (CI has
// none: every test here skips there).
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <optional>

#include "tests/trainer/test_models.h"
#include "trainer/autocast.h"
#include "trainer/loss.h"
#include "trainer/model.h"

namespace distill::trainer {
namespace {

struct Result {
  double loss = 0;
  std::vector<torch::Tensor> grads;
};

// Loss and parameter gradients of one packed batch on `device`, optionally under bf16 autocast.
Result ForwardBackward(const hf::ModelConfig& config, torch::Device device, bool bf16_autocast) {
  auto model = testing::TestModel(config, 3);
  model->to(device);
  torch::manual_seed(1);
  const int64_t rows = 2, T = 96;
  auto ids = torch::randint(0, config.vocab_size, {rows, T}, torch::kInt64).to(device);
  auto positions = torch::arange(T, torch::kInt64).repeat({rows, 1});
  positions.index_put_({torch::indexing::Slice(), torch::indexing::Slice(40, T)},
                       torch::arange(T - 40, torch::kInt64));  // a second document from token 40
  positions = positions.to(device);
  std::vector<int32_t> cu = {0, 40, 96, 136, 192};
  auto targets = torch::roll(ids, -1, 1);
  auto mask = (torch::rand({rows, T}) > 0.3).to(torch::kInt64).to(device);
  std::optional<CudaAutocast> autocast;
  if (bf16_autocast) autocast.emplace(true);
  torch::Tensor hidden = Hidden(*model, ids, positions, cu, /*recompute=*/true);
  MaskedLoss loss = MaskedLossSum(*model, hidden, targets, mask, 64);
  (loss.sum / static_cast<double>(loss.tokens)).backward();
  autocast.reset();
  Result r;
  r.loss = loss.sum.item<double>() / static_cast<double>(loss.tokens);
  for (const auto& p : model->parameters()) r.grads.push_back(p.grad().to(torch::kCPU, torch::kFloat));
  return r;
}

// Property: fp32 forward and backward on CUDA equal CPU's to fp32 tolerance, for every family.
TEST(Cuda, ForwardBackwardMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (const hf::ModelConfig& config : {testing::Llama31(), testing::Qwen25(), testing::Qwen3()}) {
    SCOPED_TRACE(config.model_type);
    Result cpu = ForwardBackward(config, torch::kCPU, false);
    Result gpu = ForwardBackward(config, torch::Device(torch::kCUDA, 0), false);
    EXPECT_NEAR(cpu.loss, gpu.loss, 1e-4 * std::abs(cpu.loss));
    for (size_t i = 0; i < cpu.grads.size(); ++i) {
      const double scale = cpu.grads[i].abs().max().item<double>() + 1e-6;
      EXPECT_LT((cpu.grads[i] - gpu.grads[i]).abs().max().item<double>() / scale, 1e-3) << "parameter " << i;
    }
  }
}

// Property: bf16 autocast on CUDA gives the fp32 loss to within 2% (bf16 has 8 mantissa bits).
TEST(Cuda, Bf16AutocastLossWithinTolerance) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (const hf::ModelConfig& config : {testing::Llama31(), testing::Qwen3()}) {
    SCOPED_TRACE(config.model_type);
    Result fp32 = ForwardBackward(config, torch::Device(torch::kCUDA, 0), false);
    Result bf16 = ForwardBackward(config, torch::Device(torch::kCUDA, 0), true);
    EXPECT_NEAR(fp32.loss, bf16.loss, 0.02 * std::abs(fp32.loss));
  }
}

}  // namespace
}  // namespace distill::trainer
