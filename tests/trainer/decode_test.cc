// KV-cache decoding is the full forward pass done incrementally: every step's logits equal a full re-run's,
// greedy generation picks the full forward's argmax, sampling is reproducible from its seed, and a vanishing
// top_p is greedy.
#include "trainer/decode.h"

#include <vector>

#include "gtest/gtest.h"
#include "tests/trainer/test_models.h"

namespace distill::trainer {
namespace {
using testing::Llama31;
using testing::Qwen25;
using testing::Qwen3;
using testing::RandomIds;
using testing::TestModel;

torch::Tensor FullLogits(const Model& model, const torch::Tensor& ids) {
  torch::NoGradGuard no_grad;
  const torch::Tensor pos = torch::arange(ids.size(1), torch::kLong).expand({ids.size(0), ids.size(1)});
  return Logits(model, Hidden(model, ids, pos));
}

// Prefill 7 tokens, then one token per step, two rows at once: each step's logits equal the full forward's at
// that position. In double precision the two agree to rounding (1e-12); in fp32 within a few ulps of the logits.
TEST(Decode, CachedStepsEqualFullForward) {
  for (const hf::ModelConfig& config : {Llama31(), Qwen25(), Qwen3()}) {
    for (const auto& [dtype, tolerance] : {std::pair{torch::kDouble, 1e-12}, std::pair{torch::kFloat, 2e-5}}) {
      auto model = TestModel(config, 7, dtype);
      const torch::Tensor ids = RandomIds(2, 16, config.vocab_size, 21);
      const torch::Tensor full = FullLogits(*model, ids).to(torch::kDouble);
      KvCache cache;
      const torch::Tensor prefill = DecodeLogits(*model, ids.slice(1, 0, 7), cache);
      double max_diff = (prefill - full.slice(1, 0, 7)).abs().max().item<double>();
      for (int64_t t = 7; t < 16; ++t) {
        const torch::Tensor step = DecodeLogits(*model, ids.slice(1, t, t + 1), cache);
        max_diff = std::max(max_diff, (step - full.slice(1, t, t + 1)).abs().max().item<double>());
      }
      EXPECT_EQ(cache.length(), 16);
      EXPECT_LT(max_diff, tolerance) << config.model_type << " " << dtype;
      // A chunk of several tokens after the cache (queries aligned at the end of the keys) agrees too.
      KvCache chunked;
      DecodeLogits(*model, ids.slice(1, 0, 5), chunked);
      const torch::Tensor chunk = DecodeLogits(*model, ids.slice(1, 5, 16), chunked);
      EXPECT_LT((chunk - full.slice(1, 5, 16)).abs().max().item<double>(), tolerance) << config.model_type;
      std::printf("%s %s: max |cached - full| %.3g\n", config.model_type.c_str(),
                  dtype == torch::kDouble ? "f64" : "f32", max_diff);
    }
  }
}

// Greedy generation's tokens are the argmax of a full forward over prompt + tokens so far, and the recorded
// step logits are that forward's.
TEST(Generate, GreedyIsArgmaxOfFullForward) {
  auto model = TestModel(Qwen3(), 7, torch::kDouble);
  const std::vector<int64_t> prompt = {5, 17, 42, 8, 90};
  GenerateOptions options;
  options.max_new_tokens = 12;
  options.keep_logits = true;
  auto generated = Generate(*model, prompt, options);
  ASSERT_TRUE(generated.ok()) << generated.status();
  ASSERT_EQ(generated->tokens.size(), 1u);
  const std::vector<int64_t>& tokens = generated->tokens[0];
  ASSERT_EQ(tokens.size(), 12u);
  ASSERT_EQ(generated->logits.size(), 12u);
  std::vector<int64_t> seq = prompt;
  for (size_t s = 0; s < tokens.size(); ++s) {
    const torch::Tensor last = FullLogits(*model, torch::tensor(seq, torch::kLong).unsqueeze(0))[0][-1];
    EXPECT_EQ(tokens[s], last.argmax().item<int64_t>()) << "step " << s;
    EXPECT_LT((generated->logits[s][0] - last).abs().max().item<double>(), 1e-12) << "step " << s;
    seq.push_back(tokens[s]);
  }
}

// Generation stops at the first eos id it emits; rows that stopped wait for the others.
TEST(Generate, StopsOnAnyEos) {
  auto model = TestModel(Llama31());
  const std::vector<int64_t> prompt = {1, 2, 3};
  GenerateOptions options;
  options.max_new_tokens = 10;
  auto free_run = Generate(*model, prompt, options);
  ASSERT_TRUE(free_run.ok());
  const std::vector<int64_t> tokens = free_run->tokens[0];
  options.eos_ids = {999, tokens[3]};
  auto stopped = Generate(*model, prompt, options);
  ASSERT_TRUE(stopped.ok());
  size_t first = 0;
  while (tokens[first] != tokens[3]) ++first;
  EXPECT_EQ(stopped->tokens[0], std::vector<int64_t>(tokens.begin(), tokens.begin() + first + 1));
  options.max_new_tokens = 0;
  EXPECT_TRUE(Generate(*model, prompt, options)->tokens[0].empty());
}

// Temperature-1, top-p 0.95 sampling of `rows` sequences of up to `max_new_tokens` tokens.
GenerateOptions Sampling(uint64_t seed, int64_t rows, int64_t max_new_tokens) {
  GenerateOptions options;
  options.max_new_tokens = max_new_tokens;
  options.temperature = 1.0;
  options.top_p = 0.95;
  options.num_sequences = rows;
  options.seed = seed;
  return options;
}

// Sampling at temperature 1 is the same for the same seed, differs across seeds and rows, and top_p → 0 is greedy.
TEST(Generate, SeededSamplingIsReproducible) {
  auto model = TestModel(Qwen25());
  const std::vector<int64_t> prompt = {7, 7, 31};
  GenerateOptions options = Sampling(1234, 3, 16);
  auto a = Generate(*model, prompt, options);
  auto b = Generate(*model, prompt, options);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->tokens, b->tokens);
  EXPECT_NE(a->tokens[0], a->tokens[1]);
  options.seed = 1235;
  EXPECT_NE(Generate(*model, prompt, options)->tokens, a->tokens);

  options.top_p = 1e-9;
  auto nucleus_of_one = Generate(*model, prompt, options);
  options.temperature = 0;
  options.top_p = 1.0;
  auto greedy = Generate(*model, prompt, options);
  ASSERT_TRUE(nucleus_of_one.ok() && greedy.ok());
  EXPECT_EQ(nucleus_of_one->tokens, greedy->tokens);
}

// Each sequence draws from its own generator, seeded by its index in the request: four rows at once, two groups
// of two (first_sequence 0 and 2) and four single rows give the same samples, and sequence 0 is the one-row run.
TEST(Generate, SamplesDoNotDependOnBatching) {
  auto model = TestModel(Qwen25());
  const std::vector<int64_t> prompt = {7, 7, 31};
  GenerateOptions options = Sampling(99, 4, 12);
  auto all = Generate(*model, prompt, options);
  ASSERT_TRUE(all.ok()) << all.status();
  for (int64_t group : {2, 1}) {
    std::vector<std::vector<int64_t>> grouped;
    for (int64_t first = 0; first < 4; first += group) {
      options.first_sequence = first;
      options.num_sequences = group;
      auto part = Generate(*model, prompt, options);
      ASSERT_TRUE(part.ok()) << part.status();
      grouped.insert(grouped.end(), part->tokens.begin(), part->tokens.end());
    }
    EXPECT_EQ(grouped, all->tokens) << "groups of " << group;
  }
  EXPECT_EQ(SequenceSeed(99, 0), 99u);
  EXPECT_NE(SequenceSeed(99, 1), SequenceSeed(100, 0));
  options.first_sequence = -1;
  EXPECT_FALSE(Generate(*model, prompt, options).ok());
}

// The nucleus keeps the most likely tokens up to top_p of the mass: with probabilities 0.5/0.3/0.2, top_p 0.7
// never samples the 0.2 token, and frequencies follow the renormalised 5:3.
TEST(SampleToken, NucleusKeepsTopMass) {
  const torch::Tensor logits = torch::tensor({std::log(0.2), std::log(0.5), std::log(0.3)}, torch::kFloat);
  std::mt19937_64 rng(9);
  int counts[3] = {0, 0, 0};
  for (int i = 0; i < 8000; ++i) ++counts[SampleToken(logits, 1.0, 0.7, rng)];
  EXPECT_EQ(counts[0], 0);
  EXPECT_NEAR(counts[1] / 8000.0, 0.625, 0.02);
  EXPECT_EQ(SampleToken(logits, 0.0, 1.0, rng), 1);
}

TEST(Generate, RefusesBadInput) {
  auto model = TestModel(Qwen3());
  EXPECT_FALSE(Generate(*model, std::vector<int64_t>{}, {}).ok());
  EXPECT_FALSE(Generate(*model, std::vector<int64_t>{96}, {}).ok());
  GenerateOptions options;
  options.top_p = 0;
  EXPECT_FALSE(Generate(*model, std::vector<int64_t>{1}, options).ok());
}

}  // namespace
}  // namespace distill::trainer
