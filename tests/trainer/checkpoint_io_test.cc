// Weights round-trip through a Hugging Face folder: save → load gives identical parameters and logits (single
// file and sharded), a bf16 checkpoint widens exactly into an fp32 model, and checkpoints that do not fit the
// model are refused naming every missing, unexpected and mis-shaped tensor, leaving the model untouched.
#include "trainer/checkpoint_io.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "data/remove_tree.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/trainer/test_models.h"

namespace distill::trainer {
namespace {
namespace fs = std::filesystem;
using testing::Llama31;
using testing::Qwen25;
using testing::Qwen3;
using testing::RandomIds;
using testing::TestModel;

std::string TempDir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("distill-ckpt-" + std::to_string(::getpid())) / name;
  EXPECT_TRUE(data::RemoveTree(dir.string()).ok());  // not remove_all: see data/remove_tree.h
  fs::create_directories(dir);
  return dir.string();
}

std::map<std::string, torch::Tensor> Parameters(const Model& model) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : model.named_parameters()) out[item.key()] = item.value().detach().clone();
  return out;
}

torch::Tensor LogitsOf(const Model& model) {
  torch::NoGradGuard no_grad;
  const torch::Tensor ids = RandomIds(1, 9, model.config.vocab_size, 4);
  return Logits(model, Hidden(model, ids, torch::arange(9, torch::kLong).unsqueeze(0)));
}

void ExpectSameParameters(const Model& a, const Model& b) {
  const auto pa = Parameters(a), pb = Parameters(b);
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& [name, t] : pa) {
    ASSERT_TRUE(pb.count(name)) << name;
    EXPECT_TRUE(torch::equal(t, pb.at(name))) << name;
  }
}

// Writes `tensors` (fp32) as `folder`/model.safetensors.
void WriteTensors(const std::string& folder, const std::map<std::string, torch::Tensor>& tensors) {
  std::vector<torch::Tensor> host;
  std::vector<hf::TensorToWrite> out;
  for (const auto& [name, t] : tensors) {
    host.push_back(t.to(torch::kFloat).contiguous());
    out.push_back({name, hf::DType::kF32, host.back().sizes().vec(),
                   std::span<const std::byte>(static_cast<const std::byte*>(host.back().data_ptr()),
                                              host.back().numel() * 4)});
  }
  fs::remove(fs::path(folder) / "model.safetensors.index.json");
  ASSERT_TRUE(hf::WriteSafetensors((fs::path(folder) / "model.safetensors").string(), out).ok());
}

// Save then load gives the same parameters bit for bit, the same logits and the same config, for each family;
// a tiny shard limit writes an index with several shards that loads the same.
TEST(CheckpointIo, SaveLoadRoundTrip) {
  for (const hf::ModelConfig& config : {Llama31(), Qwen25(), Qwen3()}) {
    auto model = TestModel(config);
    for (uint64_t shard_bytes : {uint64_t{5} << 30, uint64_t{400000}}) {
      const std::string folder = TempDir(config.model_type + std::to_string(shard_bytes));
      ASSERT_TRUE(SaveModel(*model, folder, {}, shard_bytes).ok());
      EXPECT_EQ(fs::exists(fs::path(folder) / "model.safetensors.index.json"), shard_bytes < 1000000);
      auto loaded = LoadModel(folder, torch::kCPU, torch::kFloat);
      ASSERT_TRUE(loaded.ok()) << loaded.status();
      ExpectSameParameters(*model, **loaded);
      EXPECT_TRUE(torch::equal(LogitsOf(*model), LogitsOf(**loaded))) << config.model_type;
      const hf::ModelConfig& c = (*loaded)->config;
      EXPECT_EQ(c.model_type, config.model_type);
      EXPECT_EQ(c.head_dim, config.head_dim);
      EXPECT_EQ(c.tie_word_embeddings, config.tie_word_embeddings);
      EXPECT_EQ(c.attention_bias, config.attention_bias);
      EXPECT_EQ(c.qk_norm, config.qk_norm);
      EXPECT_EQ(c.rope_scaling.has_value(), config.rope_scaling.has_value());
      EXPECT_EQ(c.torch_dtype, "float32");
    }
  }
}

// A bf16 save widens exactly into an fp32 model: every parameter equals the original rounded to bf16.
TEST(CheckpointIo, Bf16CheckpointLoadsExactlyIntoFp32) {
  auto model = TestModel(Qwen25());
  const std::string folder = TempDir("bf16");
  ASSERT_TRUE(SaveModel(*model, folder, torch::kBFloat16).ok());
  std::ifstream config_file(fs::path(folder) / "config.json");
  EXPECT_EQ(nlohmann::json::parse(config_file).at("torch_dtype"), "bfloat16");
  auto loaded = LoadModel(folder, torch::kCPU, torch::kFloat);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const auto original = Parameters(*model);
  for (const auto& [name, t] : Parameters(**loaded)) {
    EXPECT_EQ(t.scalar_type(), torch::kFloat);
    EXPECT_TRUE(torch::equal(t, original.at(name).to(torch::kBFloat16).to(torch::kFloat))) << name;
  }
  // And into a bf16 model without change.
  auto loaded_bf16 = LoadModel(folder, torch::kCPU, torch::kBFloat16);
  ASSERT_TRUE(loaded_bf16.ok()) << loaded_bf16.status();
  EXPECT_TRUE(torch::equal(Parameters(**loaded_bf16).at("model.norm.weight"),
                           original.at("model.norm.weight").to(torch::kBFloat16)));
}

// Missing, unexpected and mis-shaped tensors are all named in one error, and the model keeps its weights.
TEST(CheckpointIo, RefusesCheckpointsThatDoNotFit) {
  auto source = TestModel(Llama31(), 1);
  const std::string folder = TempDir("misfit");
  ASSERT_TRUE(SaveModel(*source, folder).ok());
  auto tensors = Parameters(*source);
  tensors.erase("model.layers.1.mlp.up_proj.weight");
  tensors["model.layers.7.mlp.up_proj.weight"] = torch::zeros({2, 2});
  tensors["model.layers.0.self_attn.k_proj.weight"] = torch::zeros({65, 256});
  tensors["model.layers.0.self_attn.rotary_emb.inv_freq"] = torch::zeros({32});  // old checkpoints: skipped
  WriteTensors(folder, tensors);

  auto target = TestModel(Llama31(), 2);
  const auto before = Parameters(*target);
  auto checkpoint = hf::SafetensorsCheckpoint::Open(folder);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  const absl::Status status = LoadWeights(*target, **checkpoint);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  const std::string message(status.message());
  for (const char* name : {"missing: model.layers.1.mlp.up_proj.weight", "unexpected: model.layers.7.mlp.up_proj",
                           "model.layers.0.self_attn.k_proj.weight [65, 256] (model [64, 256])"}) {
    EXPECT_NE(message.find(name), std::string::npos) << message;
  }
  EXPECT_EQ(message.find("inv_freq"), std::string::npos) << message;
  for (const auto& [name, t] : Parameters(*target)) EXPECT_TRUE(torch::equal(t, before.at(name))) << name;
  // LoadModel names the folder.
  EXPECT_NE(std::string(LoadModel(folder, torch::kCPU, torch::kFloat).status().message()).find(folder),
            std::string::npos);
}

// A tied model takes lm_head.weight only as a copy of the embedding.
TEST(CheckpointIo, TiedModelAcceptsOnlyADuplicateHead) {
  auto model = TestModel(Qwen3());
  const std::string folder = TempDir("tied");
  auto tensors = Parameters(*model);
  ASSERT_TRUE(SaveModel(*model, folder).ok());
  tensors["lm_head.weight"] = tensors.at("model.embed_tokens.weight");
  WriteTensors(folder, tensors);
  EXPECT_TRUE(LoadModel(folder, torch::kCPU, torch::kFloat).ok());
  tensors["lm_head.weight"] = tensors.at("model.embed_tokens.weight") + 1;
  WriteTensors(folder, tensors);
  auto loaded = LoadModel(folder, torch::kCPU, torch::kFloat);
  EXPECT_NE(std::string(loaded.status().message()).find("lm_head.weight differs"), std::string::npos)
      << loaded.status();
}

}  // namespace
}  // namespace distill::trainer
