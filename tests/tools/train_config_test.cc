// The `train:` / `lora:` sections of a run config read into trainer::TrainOptions: values in range for their type
// but not for training are refused before anything loads, each problem naming its key, where the value came from
// (file:line:column, the command-line override, or the default) and the value.
#include "tools/config/train_config.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace distill::config {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class TrainConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("distill_train_config_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Loads `yaml` (written to run.yaml) with `overrides` against TrainSchema, then reads the options.
  absl::StatusOr<trainer::TrainOptions> Read(const std::string& yaml, const std::vector<std::string>& overrides) {
    const fs::path path = dir_ / "run.yaml";
    std::ofstream(path) << yaml;
    auto cfg = LoadConfig(TrainSchema(), path.string(), overrides);
    if (!cfg.ok()) return cfg.status();
    return TrainOptionsFromConfig(*cfg);
  }

  fs::path dir_;
};

const char* kValid = "train:\n  base_model: base\n  shards: shards\n  lr: 4.0e-5\n  warmup_ratio: 0.03\n";

// Property: a config in range reads into the options it spells.
TEST_F(TrainConfigTest, ReadsValuesInRange) {
  auto o = Read(kValid, {"train.grad_accum=16"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_DOUBLE_EQ(o->lr, 4e-5);
  EXPECT_DOUBLE_EQ(o->warmup_ratio, 0.03);
  EXPECT_EQ(o->grad_accum, 16);
  EXPECT_EQ(o->mode, "full");
}

// Property: an out-of-range value in the file is refused naming the file's line:column, the key and the value.
TEST_F(TrainConfigTest, FileValueOutOfRangeNamesItsLine) {
  auto o = Read("train:\n  base_model: base\n  shards: shards\n  warmup_ratio: 2\n", {});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string m(o.status().message());
  EXPECT_THAT(m, HasSubstr("run.yaml:4:17: key 'train.warmup_ratio': expected 0 ≤ x < 1, got 2")) << m;
}

// Property: every problem is reported at once, overrides named as such; LoRA ranges only count in LoRA mode.
TEST_F(TrainConfigTest, EveryProblemAtOnceWithItsOrigin) {
  auto o = Read(kValid, {"train.lr=-1", "train.grad_accum=0", "lora.r=0", "train.beta2=1"});
  ASSERT_FALSE(o.ok());
  const std::string m(o.status().message());
  EXPECT_THAT(m, HasSubstr("command-line override #1: key 'train.lr': expected 0 < x ≤ 1, got -1")) << m;
  EXPECT_THAT(m, HasSubstr("command-line override #2: key 'train.grad_accum': expected ≥ 1, got 0")) << m;
  EXPECT_THAT(m, HasSubstr("command-line override #4: key 'train.beta2': expected 0 ≤ x < 1, got 1")) << m;
  EXPECT_THAT(m, Not(HasSubstr("lora.r"))) << m;

  auto lora = Read(kValid, {"train.mode=lora", "lora.r=0", "lora.dropout=1.5"});
  ASSERT_FALSE(lora.ok());
  const std::string l(lora.status().message());
  EXPECT_THAT(l, HasSubstr("command-line override #2: key 'lora.r': expected ≥ 1, got 0")) << l;
  EXPECT_THAT(l, HasSubstr("command-line override #3: key 'lora.dropout': expected 0 ≤ x < 1, got 1.5")) << l;
}

// Property: every shipped training recipe (configs/*.yaml with a train: section) loads against the schema and is
// in range, given the two paths each leaves to the command line.
TEST_F(TrainConfigTest, ShippedRecipesAreValid) {
  int recipes = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(DISTILL_SOURCE_DIR) / "configs")) {
    if (entry.path().extension() != ".yaml") continue;
    std::ifstream in(entry.path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find("\ntrain:\n") == std::string::npos && !text.starts_with("train:\n")) continue;
    SCOPED_TRACE(entry.path().filename().string());
    auto cfg = LoadConfig(TrainSchema(), entry.path().string(), {"train.base_model=base", "train.shards=shards"});
    ASSERT_TRUE(cfg.ok()) << cfg.status();
    auto o = TrainOptionsFromConfig(*cfg);
    EXPECT_TRUE(o.ok()) << o.status();
    ++recipes;
  }
  EXPECT_GE(recipes, 5);  // demo, r1-distill-qwen-1.5b, r1-distill-qwen-7b, r1-distill-llama-8b, qwen3-8b
}

}  // namespace
}  // namespace distill::config
