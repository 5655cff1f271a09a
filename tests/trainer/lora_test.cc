// LoRA as PEFT: zero-B init, frozen base, merge, PEFT's adapter folder format and its round trip, on tiny CPU
// models.
#include "trainer/lora.h"

#include <torch/nn/functional/loss.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "data/remove_tree.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/trainer/test_models.h"
#include "trainer/checkpoint_io.h"
#include "trainer/hf/safetensors.h"
#include "trainer/optim.h"

namespace distill::trainer {
namespace {

using testing::TestModel;

std::string TempPath(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / ("lora_test_" + name);
  EXPECT_TRUE(data::RemoveTree(dir.string()).ok());  // not remove_all: see data/remove_tree.h
  std::filesystem::create_directories(dir);
  return dir.string();
}

torch::Tensor Forward(const Model& model, const torch::Tensor& ids) {
  const int64_t b = ids.size(0), t = ids.size(1);
  return Logits(model, Hidden(model, ids, torch::arange(t, torch::kLong).expand({b, t})));
}

LoraOptions Options(int64_t r = 4, double alpha = 8, double dropout = 0.0) {
  LoraOptions o;
  o.r = r;
  o.alpha = alpha;
  o.dropout = dropout;
  o.seed = 3;
  o.base_model_name_or_path = "tiny/qwen2";
  return o;
}

// Gives every B random values so the adapters change the output.
void RandomizeB(Model& model, uint64_t seed) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  for (const auto& [name, p] : NamedTrainableParameters(model)) {
    if (name.ends_with("lora_B.weight")) p.copy_(torch::randn(p.sizes(), p.options()) * 0.2);
  }
}

TEST(LoraTest, ZeroBInitKeepsBaseOutputAndFreezesBase) {
  // Property: right after AddLora the model computes exactly the base model's logits, only A and B are trainable,
  // A ~ U(−1/√in, 1/√in) and B = 0, and named_parameters() still lists only the HF base names. Bad options (no
  // matching module, a module listed twice) are refused.
  auto model = TestModel(testing::Qwen25());
  const torch::Tensor ids = testing::RandomIds(2, 10, 96, 5);
  const torch::Tensor base = Forward(*model, ids);
  const size_t base_params = model->named_parameters().size();
  ASSERT_TRUE(AddLora(*model, Options(4, 8, 0.1)).ok());
  EXPECT_TRUE(torch::equal(Forward(*model, ids), base));
  EXPECT_EQ(model->named_parameters().size(), base_params);
  for (const auto& p : model->parameters()) EXPECT_FALSE(p.requires_grad());
  const auto trainable = NamedTrainableParameters(*model);
  EXPECT_EQ(trainable.size(), 2u * 7 * 2);  // A and B × 7 projections × 2 layers
  EXPECT_EQ(TrainableParameters(*model).size(), trainable.size());
  for (const auto& [name, p] : trainable) {
    EXPECT_TRUE(p.requires_grad()) << name;
    if (name.ends_with("lora_B.weight")) {
      EXPECT_EQ(p.count_nonzero().item<int64_t>(), 0) << name;
    } else {
      EXPECT_LE(p.abs().max().item<double>(), 1.0 / std::sqrt(static_cast<double>(p.size(1)))) << name;
      EXPECT_GT(p.std().item<double>(), 0.0) << name;
    }
  }
  EXPECT_EQ(trainable.front().first, "model.layers.0.self_attn.q_proj.lora_A.weight");
  EXPECT_EQ(AddLora(*model, Options()).code(), absl::StatusCode::kFailedPrecondition);
  LoraOptions none = Options();
  none.target_modules = {"nothing_proj"};
  EXPECT_EQ(AddLora(*TestModel(testing::Qwen25()), none).code(), absl::StatusCode::kInvalidArgument);
  LoraOptions twice = Options();  // adapter_config.json would list it twice
  twice.target_modules = {"q_proj", "v_proj", "q_proj"};
  EXPECT_EQ(AddLora(*TestModel(testing::Qwen25()), twice).message(), "lora.target_modules lists q_proj twice");
}

TEST(LoraTest, TrainingChangesOnlyAdapters) {
  // Property: optimizer steps over TrainableParameters move A and B and leave every base parameter bit-identical.
  auto model = TestModel(testing::Qwen3());
  ASSERT_TRUE(AddLora(*model, Options(4, 8, 0.1)).ok());
  std::map<std::string, torch::Tensor> before;
  for (const auto& item : model->named_parameters()) before[item.key()] = item.value().detach().clone();
  std::map<std::string, torch::Tensor> adapters_before;
  for (const auto& [name, p] : NamedTrainableParameters(*model)) adapters_before[name] = p.detach().clone();
  auto optimizer = MakeAdamW(NamedTrainableParameters(*model), AdamWOptions{1e-2, 0.9, 0.999, 1e-8, 0.1});
  ASSERT_TRUE(optimizer.ok());
  for (int step = 0; step < 3; ++step) {
    (*optimizer)->zero_grad();
    const torch::Tensor ids = testing::RandomIds(2, 10, 96, 20 + step);
    torch::Tensor logits = Forward(*model, ids);
    torch::nn::functional::cross_entropy(logits.slice(1, 0, 9).reshape({-1, 96}), ids.slice(1, 1).reshape({-1}))
        .backward();
    (*optimizer)->step();
  }
  for (const auto& item : model->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), before[item.key()])) << item.key();
    EXPECT_FALSE(item.value().grad().defined()) << item.key();
  }
  for (const auto& [name, p] : NamedTrainableParameters(*model)) {
    EXPECT_FALSE(torch::equal(p, adapters_before[name])) << name;
  }
}

TEST(LoraTest, DropoutOnlyWhileTraining) {
  // Property: in eval mode the adapter path is deterministic; in training mode dropout changes the output.
  auto model = TestModel(testing::Qwen3());
  ASSERT_TRUE(AddLora(*model, Options(4, 8, 0.5)).ok());
  RandomizeB(*model, 1);
  const torch::Tensor ids = testing::RandomIds(1, 8, 96, 6);
  model->eval();
  const torch::Tensor a = Forward(*model, ids);
  EXPECT_TRUE(torch::equal(Forward(*model, ids), a));
  model->train();
  EXPECT_FALSE(torch::allclose(Forward(*model, ids), a));
}

TEST(LoraTest, MergedModelMatchesAdapterForward) {
  // Property: after MergeLora (W += scaling·BA) the plain model computes the base+adapter logits.
  auto model = TestModel(testing::Qwen25(), 7, torch::kDouble);
  ASSERT_TRUE(AddLora(*model, Options(4, 16)).ok());
  RandomizeB(*model, 2);
  model->eval();
  const torch::Tensor ids = testing::RandomIds(2, 10, 96, 8);
  const torch::Tensor with_adapters = Forward(*model, ids);
  ASSERT_FALSE(torch::allclose(with_adapters, Forward(*TestModel(testing::Qwen25(), 7, torch::kDouble), ids)));
  ASSERT_TRUE(MergeLora(*model).ok());
  EXPECT_TRUE(NamedTrainableParameters(*model).size() == model->named_parameters().size());
  EXPECT_TRUE(torch::allclose(Forward(*model, ids), with_adapters, 1e-9, 1e-9));
  EXPECT_EQ(MergeLora(*model).code(), absl::StatusCode::kFailedPrecondition);
}

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return nlohmann::json::parse(text.str());
}

TEST(LoraTest, SavedAdapterIsPeftFormatAndRoundTrips) {
  // Property: adapter_model.safetensors holds PEFT's keys with shapes [r, in] / [out, r] in F32,
  // adapter_config.json PEFT's fields, and loading the folder into a fresh base restores the adapters exactly
  // (into a model that already has adapters: in place, keeping the optimizer's tensors).
  auto model = TestModel(testing::Qwen25());
  const LoraOptions options = Options(4, 8, 0.05);
  ASSERT_TRUE(AddLora(*model, options).ok());
  RandomizeB(*model, 3);
  const std::string dir = TempPath("save");
  ASSERT_TRUE(SaveLoraAdapter(*model, options, dir).ok());

  auto file = hf::SafetensorsFile::Open(dir + "/adapter_model.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->tensors().size(), 28u);
  const std::string p = "base_model.model.model.layers.0.";
  struct Expected {
    std::string key;
    std::vector<int64_t> shape;
  };
  for (const Expected& e :
       {Expected{p + "self_attn.q_proj.lora_A.weight", {4, 384}},
        Expected{p + "self_attn.q_proj.lora_B.weight", {384, 4}},
        Expected{p + "self_attn.k_proj.lora_B.weight", {64, 4}}, Expected{p + "mlp.down_proj.lora_A.weight", {4, 256}},
        Expected{p + "mlp.gate_proj.lora_B.weight", {256, 4}},
        Expected{"base_model.model.model.layers.1.self_attn.o_proj.lora_A.weight", {4, 384}}}) {
    const hf::TensorView* view = (*file)->Find(e.key);
    ASSERT_NE(view, nullptr) << e.key;
    EXPECT_EQ(view->shape, e.shape) << e.key;
    EXPECT_EQ(view->dtype, hf::DType::kF32) << e.key;
  }
  EXPECT_EQ((*file)->metadata().at("format"), "pt");

  const nlohmann::json config = ReadJson(dir + "/adapter_config.json");
  EXPECT_EQ(config["peft_type"], "LORA");
  EXPECT_EQ(config["task_type"], "CAUSAL_LM");
  EXPECT_EQ(config["r"], 4);
  EXPECT_EQ(config["lora_alpha"], 8);
  EXPECT_DOUBLE_EQ(config["lora_dropout"].get<double>(), 0.05);
  EXPECT_EQ(config["bias"], "none");
  EXPECT_EQ(config["fan_in_fan_out"], false);
  EXPECT_EQ(config["inference_mode"], true);
  EXPECT_EQ(config["base_model_name_or_path"], "tiny/qwen2");
  EXPECT_EQ(config["target_modules"].get<std::set<std::string>>(),
            (std::set<std::string>{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}));

  auto fresh = TestModel(testing::Qwen25());
  auto loaded = LoadLoraAdapter(*fresh, dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->r, 4);
  EXPECT_EQ(loaded->alpha, 8);
  const auto want = NamedTrainableParameters(*model);
  const auto got = NamedTrainableParameters(*fresh);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].first, want[i].first);
    EXPECT_TRUE(torch::equal(got[i].second, want[i].second)) << got[i].first;
  }

  auto resumed = TestModel(testing::Qwen25());
  ASSERT_TRUE(AddLora(*resumed, options).ok());
  const void* storage = resumed->model->layers[0]->self_attn->q_proj->lora->b.data_ptr();
  ASSERT_TRUE(LoadLoraAdapter(*resumed, dir).ok());
  EXPECT_EQ(resumed->model->layers[0]->self_attn->q_proj->lora->b.data_ptr(), storage);
  EXPECT_TRUE(torch::equal(resumed->model->layers[0]->self_attn->q_proj->lora->b,
                           model->model->layers[0]->self_attn->q_proj->lora->b));

  auto other_rank = TestModel(testing::Qwen25());
  ASSERT_TRUE(AddLora(*other_rank, Options(2, 8)).ok());
  EXPECT_EQ(LoadLoraAdapter(*other_rank, dir).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(LoadLoraAdapter(*TestModel(testing::Qwen3()), dir).ok());  // shapes do not fit
}

TEST(LoraTest, MergeFolderWritesAPlainCheckpoint) {
  // Property: merging an adapter folder onto a base folder gives an HF folder whose model computes the
  // base+adapter logits, with the tokenizer files copied.
  auto model = TestModel(testing::Qwen25());
  const std::string base = TempPath("merge_base"), adapter = TempPath("merge_adapter"), out = TempPath("merge_out");
  ASSERT_TRUE(SaveModel(*model, base).ok());
  std::ofstream(base + "/tokenizer.json") << "{\"model\": {}}";
  ASSERT_TRUE(AddLora(*model, Options()).ok());
  RandomizeB(*model, 4);
  ASSERT_TRUE(SaveLoraAdapter(*model, Options(), adapter).ok());
  model->eval();
  const torch::Tensor ids = testing::RandomIds(1, 8, 96, 9);
  const torch::Tensor want = Forward(*model, ids);

  ASSERT_TRUE(MergeLoraFolder(base, adapter, out).ok());
  auto merged = LoadModel(out, torch::kCPU, torch::kFloat);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_TRUE(torch::allclose(Forward(**merged, ids), want, 1e-4, 1e-4));
  EXPECT_TRUE(std::filesystem::exists(out + "/tokenizer.json"));
  EXPECT_FALSE(std::filesystem::exists(out + "/adapter_config.json"));
  EXPECT_FALSE(MergeLoraFolder(base, base, out).ok());  // not an adapter folder
}

}  // namespace
}  // namespace distill::trainer
