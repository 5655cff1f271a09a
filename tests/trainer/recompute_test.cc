// Per-layer activation checkpointing (trainer/recompute.h, Hidden(..., recompute)): same gradients, less memory.
#include "trainer/recompute.h"

#include <limits.h>
#include <ATen/Parallel.h>
#include <torch/autograd.h>
#include <torch/types.h>
#include <torch/utils.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/trainer/test_models.h"
#include "trainer/lora.h"
#include "trainer/loss.h"

namespace distill::trainer {
namespace {

using testing::RandomIds;
using testing::TestModel;

// Two packed rows: documents of 13 and 19 tokens, then 32 of one document, as the loader's cu_seqlens.
const std::vector<int32_t> kCuSeqlens = {0, 13, 32, 64};

torch::Tensor PackedPositions() {
  torch::Tensor p = torch::cat({torch::arange(13), torch::arange(19), torch::arange(32)});
  return p.to(torch::kLong).reshape({2, 32});
}

// Loss = Σ hidden · probe (a fixed random direction), so every hidden value gets a distinct gradient.
std::map<std::string, torch::Tensor> Grads(Model& model, const torch::Tensor& ids, bool recompute) {
  model.zero_grad();
  torch::Tensor hidden = Hidden(model, ids, PackedPositions(), kCuSeqlens, recompute);
  torch::manual_seed(3);
  torch::Tensor probe = torch::randn(hidden.sizes(), hidden.options().requires_grad(false));
  (hidden * probe).sum().backward();
  std::map<std::string, torch::Tensor> grads;
  for (const auto& item : model.named_parameters()) {
    if (item.value().grad().defined()) grads[item.key()] = item.value().grad().clone();
  }
  return grads;
}

double CompareGrads(const std::map<std::string, torch::Tensor>& a, const std::map<std::string, torch::Tensor>& b,
                    double rel_tol) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (const auto& [name, grad] : a) {
    if (!b.contains(name)) {
      ADD_FAILURE() << name << " has no gradient with recompute";
      continue;
    }
    const double diff = (grad.to(torch::kDouble) - b.at(name).to(torch::kDouble)).abs().max().item<double>();
    EXPECT_LE(diff, rel_tol * std::max(1.0, grad.abs().max().item<double>())) << name;
    worst = std::max(worst, diff);
  }
  return worst;
}

// Property: checkpointing every layer changes no parameter gradient (fp32 and fp64, tied and untied, GQA and
// q/k norms, packed documents): the recomputed layer is the same function of the same input.
TEST(RecomputeTest, GradientsEqualWithoutRecompute) {
  for (const hf::ModelConfig& config : {testing::Llama31(), testing::Qwen3()}) {
    for (torch::Dtype dtype : {torch::kDouble, torch::kFloat}) {
      std::shared_ptr<Model> model = TestModel(config, 9, dtype);
      torch::Tensor ids = RandomIds(2, 32, config.vocab_size, 4);
      const auto plain = Grads(*model, ids, false);
      const auto recomputed = Grads(*model, ids, true);
      // Every parameter but an untied lm_head, which the probe loss does not use.
      EXPECT_EQ(plain.size(), model->parameters().size() - (model->lm_head ? 1 : 0));
      const double worst = CompareGrads(plain, recomputed, dtype == torch::kDouble ? 1e-13 : 1e-6);
      std::printf("%s %s: max |grad diff| with vs without recompute %.3g\n", config.model_type.c_str(),
                  dtype == torch::kDouble ? "fp64" : "fp32", worst);
    }
  }
}

// Property: with frozen embeddings (the layer input needs no gradient, as under LoRA) the layers' parameters
// still get their gradients, and autograd::grad (not only backward) reaches them.
TEST(RecomputeTest, FrozenInputAndAutogradGrad) {
  std::shared_ptr<Model> model = TestModel(testing::Llama31(), 9, torch::kDouble);
  model->model->embed_tokens->weight.requires_grad_(false);
  torch::Tensor ids = RandomIds(2, 32, 96, 4);
  const auto plain = Grads(*model, ids, false);
  const auto recomputed = Grads(*model, ids, true);
  EXPECT_EQ(recomputed.count("model.embed_tokens.weight"), 0u);
  CompareGrads(plain, recomputed, 1e-13);

  const torch::Tensor& q = model->model->layers[0]->self_attn->q_proj->weight;
  torch::Tensor hidden = Hidden(*model, ids, PackedPositions(), kCuSeqlens, true);
  torch::Tensor via_grad = torch::autograd::grad({hidden.square().sum()}, {q})[0];
  model->zero_grad();
  Hidden(*model, ids, PackedPositions(), kCuSeqlens, false).square().sum().backward();
  EXPECT_TRUE(torch::allclose(via_grad, q.grad(), 1e-12, 1e-13));
}

// Property: LoRA under recompute gets the adapters' gradients of the plain pass (the adapters, not registered
// parameters, are inputs of the checkpointed function), with dropout too: the recomputation in backward replays
// the forward's masks, and the generator then continues exactly where it would have without recompute.
TEST(RecomputeTest, LoraDropoutMasksAreReplayed) {
  std::shared_ptr<Model> model = TestModel(testing::Qwen3(), 9, torch::kDouble);
  LoraOptions lora;
  lora.r = 4;
  lora.dropout = 0.5;
  lora.seed = 2;
  ASSERT_TRUE(AddLora(*model, lora).ok());
  model->train();
  {
    torch::NoGradGuard no_grad;
    for (const auto& [name, tensor] : NamedTrainableParameters(*model))  // B starts at zero: give A a gradient
      if (name.find("lora_B") != std::string::npos) tensor.normal_(0, 0.1);
  }
  torch::Tensor ids = RandomIds(2, 32, testing::Qwen3().vocab_size, 4);
  const auto run = [&](bool recompute, torch::Tensor* next_draw) {
    for (auto& [name, tensor] : NamedTrainableParameters(*model)) tensor.mutable_grad() = torch::Tensor();
    torch::manual_seed(17);
    torch::Tensor hidden = Hidden(*model, ids, PackedPositions(), kCuSeqlens, recompute);
    hidden.square().sum().backward();
    *next_draw = torch::rand({4}, torch::kDouble);
    std::map<std::string, torch::Tensor> grads;
    for (const auto& [name, tensor] : NamedTrainableParameters(*model))
      if (tensor.grad().defined()) grads[name] = tensor.grad().clone();
    return grads;
  };
  torch::Tensor after_plain, after_recompute;
  const auto plain = run(false, &after_plain);
  const auto recomputed = run(true, &after_recompute);
  EXPECT_EQ(plain.size(), 2 * 7 * static_cast<size_t>(testing::Qwen3().num_hidden_layers));  // A and B, 7 targets
  CompareGrads(plain, recomputed, 1e-12);
  EXPECT_TRUE(torch::equal(after_plain, after_recompute));
}

// The memory workload, run in a fresh process so its peak is its own: a 6-layer model, 2 rows × 512 tokens,
// forward (chunked loss over every token) and backward. Prints the rise of VmHWM (peak resident set) above the
// resident set before the forward, in KiB.
constexpr char kChildEnv[] = "DISTILL_RECOMPUTE_CHILD";

int64_t StatusKb(const std::string& key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with(key + ":")) return std::atoll(line.c_str() + key.size() + 1);
  }
  return -1;
}

TEST(RecomputeMemory, Child) {
  const char* mode = std::getenv(kChildEnv);
  if (mode == nullptr) GTEST_SKIP() << "only run by RecomputeMemory.PeakIsLower";
  at::set_num_threads(1);
  hf::ModelConfig config = testing::Llama31();
  config.num_hidden_layers = 6;
  std::shared_ptr<Model> model = TestModel(config, 9, torch::kFloat);
  const int64_t rows = 2, n = 512;
  torch::Tensor ids = RandomIds(rows, n, config.vocab_size, 4);
  torch::Tensor positions = torch::arange(n).expand({rows, n}).contiguous();
  torch::Tensor ones = torch::ones({rows, n}, torch::kUInt8);
  const int64_t before = StatusKb("VmRSS");
  torch::Tensor hidden = Hidden(*model, ids, positions, {}, std::string(mode) == "1");
  MaskedLossSum(*model, hidden, ids, ones).sum.backward();
  std::printf("peak_rise_kb=%lld\n", static_cast<long long>(StatusKb("VmHWM") - before));
}

int64_t ChildPeakRiseKb(bool recompute) {
  char exe[PATH_MAX] = {};
  const ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (len <= 0) return -1;
  const std::string command = std::string(kChildEnv) + "=" + (recompute ? "1" : "0") + " '" + exe +
                              "' --gtest_filter=RecomputeMemory.Child 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  int64_t rise = -1;
  char line[512];
  while (std::fgets(line, sizeof(line), pipe) != nullptr) {
    long long value = 0;
    if (std::sscanf(line, "peak_rise_kb=%lld", &value) == 1) rise = value;
  }
  return pclose(pipe) == 0 ? rise : -1;
}

// Property: checkpointing lowers the training step's peak memory. Measured as the rise of the peak resident set
// (VmHWM) over the resident set before the forward, each configuration in its own freshly exec'd process (fork
// without exec would inherit the parent's pages and its OpenMP pool).
TEST(RecomputeMemory, PeakIsLower) {
  if (std::getenv(kChildEnv) != nullptr) GTEST_SKIP();
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's quarantine keeps freed blocks resident: peak RSS does not follow live tensors";
#endif
  const int64_t plain = ChildPeakRiseKb(false);
  const int64_t recomputed = ChildPeakRiseKb(true);
  ASSERT_GT(plain, 0);
  ASSERT_GT(recomputed, 0);
  std::printf("peak RSS rise, 6 layers x 2 rows x 512 tokens fp32: %lld KiB without recompute, %lld KiB with\n",
              static_cast<long long>(plain), static_cast<long long>(recomputed));
  EXPECT_LT(recomputed * 10, plain * 7);  // at least 30% lower
}

}  // namespace
}  // namespace distill::trainer
