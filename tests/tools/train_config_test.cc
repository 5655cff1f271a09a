// The `train:` / `lora:` sections of a run config read into trainer::TrainOptions: values in range for their type
// but not for training are refused by TrainSchema's ranges before anything loads, each problem naming its key, where
// the value came from (file:line:column or the command-line override) and the value.
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
    return TrainOptionsFromConfig(*cfg);  // cannot fail once the config loaded
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

// Property: every problem is reported at once, each override named with its text; a later override that puts the
// value back in range does not excuse the earlier one (as with type errors).
TEST_F(TrainConfigTest, EveryProblemAtOnceWithItsOrigin) {
  auto o = Read(kValid, {"train.lr=-1", "train.grad_accum=0", "lora.r=0", "train.beta2=1", "lora.dropout=1.5",
                         "train.grad_accum=2"});
  ASSERT_FALSE(o.ok());
  const std::string m(o.status().message());
  EXPECT_THAT(m, HasSubstr("command-line override #1 'train.lr=-1': key 'train.lr': expected 0 < x ≤ 1, got -1")) << m;
  EXPECT_THAT(m, HasSubstr("override #2 'train.grad_accum=0': key 'train.grad_accum': expected ≥ 1, got 0")) << m;
  EXPECT_THAT(m, HasSubstr("override #3 'lora.r=0': key 'lora.r': expected ≥ 1, got 0")) << m;
  EXPECT_THAT(m, HasSubstr("override #4 'train.beta2=1': key 'train.beta2': expected 0 ≤ x < 1, got 1")) << m;
  EXPECT_THAT(m, HasSubstr("override #5 'lora.dropout=1.5': key 'lora.dropout': expected 0 ≤ x < 1, got 1.5")) << m;
  EXPECT_THAT(m, Not(HasSubstr("#6"))) << m;
}

// Property: values that would wrap around when narrowed (rows and threads are int inside), overflow the step count
// (epochs), or mean nothing (a negative rope_theta, where 0 keeps config.json's) are refused, not reinterpreted.
TEST_F(TrainConfigTest, RefusesValuesThatWouldWrapOrOverflow) {
  auto o = Read(kValid, {"train.micro_batch_rows=4294967296", "train.threads=4294967297", "train.epochs=1e300",
                         "train.rope_theta=-1"});
  ASSERT_FALSE(o.ok());
  const std::string m(o.status().message());
  EXPECT_THAT(m, HasSubstr("key 'train.micro_batch_rows': expected 1 ≤ x ≤ 2147483647, got 4294967296")) << m;
  EXPECT_THAT(m, HasSubstr("key 'train.threads': expected 0 ≤ x ≤ 4096 (0 = LibTorch's default), got 4294967297"))
      << m;
  EXPECT_THAT(m, HasSubstr("key 'train.epochs': expected 0 < x ≤ 1000000, got 1e300")) << m;
  EXPECT_THAT(m, HasSubstr("key 'train.rope_theta': expected ≥ 0 (0 = keep config.json's), got -1")) << m;

  auto kept = Read(kValid, {"train.threads=4096", "train.rope_theta=0"});
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->threads, 4096);
  EXPECT_FALSE(kept->rope_theta.has_value());
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
    EXPECT_EQ(TrainOptionsFromConfig(*cfg).base_model, fs::absolute("base").lexically_normal().string());
    ++recipes;
  }
  EXPECT_GE(recipes, 5);  // demo, r1-distill-qwen-1.5b, r1-distill-qwen-7b, r1-distill-llama-8b, qwen3-8b
}

}  // namespace
}  // namespace distill::config
