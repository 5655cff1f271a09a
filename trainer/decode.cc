#include "trainer/decode.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "data/splitmix.h"

namespace distill::trainer {

namespace {

// Uniform in [0, 1) from the top 53 bits: std::uniform_real_distribution differs between standard libraries.
double Uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace

uint64_t SequenceSeed(uint64_t seed, int64_t index) {
  return index == 0 ? seed : data::SplitMix64Mix(seed + data::kGoldenGamma * static_cast<uint64_t>(index));
}

torch::Tensor DecodeLogits(const Model& model, const torch::Tensor& ids, KvCache& cache) {
  torch::NoGradGuard no_grad;
  torch::Tensor logits = Logits(model, HiddenCached(model, ids, cache));
  return logits.to(at::promote_types(logits.scalar_type(), torch::kFloat));
}

int64_t SampleToken(const torch::Tensor& logits, double temperature, double top_p, std::mt19937_64& rng) {
  torch::Tensor row = logits.to(torch::kCPU, torch::kFloat).contiguous();
  const float* z = row.data_ptr<float>();
  const int64_t vocab = row.numel();
  // Greedy and the nucleus both prefer the lowest id among equal logits, so top_p → 0 equals greedy.
  const int64_t best = std::max_element(z, z + vocab) - z;
  if (temperature <= 0) return best;

  std::vector<double> p(vocab);
  double total = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    p[i] = std::exp((static_cast<double>(z[i]) - z[best]) / temperature);
    total += p[i];
  }
  std::vector<int64_t> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  int64_t kept = vocab;
  if (top_p < 1) {
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return p[a] > p[b]; });
    double mass = 0;
    for (kept = 0; kept < vocab && (kept == 0 || mass < top_p * total); ++kept) mass += p[order[kept]];
  }
  double kept_mass = 0;
  for (int64_t i = 0; i < kept; ++i) kept_mass += p[order[i]];
  double u = Uniform(rng) * kept_mass;
  for (int64_t i = 0; i < kept; ++i) {
    u -= p[order[i]];
    if (u < 0) return order[i];
  }
  return order[kept - 1];  // rounding left u ≥ 0 after the last kept token
}

absl::StatusOr<Generation> Generate(const Model& model, std::span<const int64_t> prompt,
                                    const GenerateOptions& options) {
  const int64_t vocab = model.config.vocab_size;
  if (prompt.empty()) return absl::InvalidArgumentError("generate: empty prompt");
  for (int64_t id : prompt) {
    if (id < 0 || id >= vocab) {
      return absl::InvalidArgumentError(absl::StrCat("generate: prompt id ", id, " outside vocabulary of ", vocab));
    }
  }
  if (options.max_new_tokens < 0 || options.num_sequences < 1 || options.first_sequence < 0 ||
      !(options.temperature >= 0) || !(options.top_p > 0 && options.top_p <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "generate: need max_new_tokens >= 0, num_sequences >= 1, first_sequence >= 0, temperature >= 0 and ",
        "0 < top_p <= 1; got ", options.max_new_tokens, ", ", options.num_sequences, ", ", options.first_sequence,
        ", ", options.temperature, ", ", options.top_p));
  }
  torch::NoGradGuard no_grad;
  const int64_t rows = options.num_sequences;
  const torch::Device device = LmHeadWeight(model).device();
  torch::Tensor ids = torch::tensor(std::vector<int64_t>(prompt.begin(), prompt.end()), torch::kLong)
                          .to(device)
                          .unsqueeze(0)
                          .expand({rows, static_cast<int64_t>(prompt.size())});
  std::vector<std::mt19937_64> rngs;
  for (int64_t r = 0; r < rows; ++r) rngs.emplace_back(SequenceSeed(options.seed, options.first_sequence + r));
  Generation out;
  out.tokens.resize(rows);
  std::vector<bool> done(rows, false);
  KvCache cache;
  torch::Tensor next_logits = DecodeLogits(model, ids, cache).select(1, -1);  // [rows, vocab]
  for (int64_t step = 0; step < options.max_new_tokens; ++step) {
    torch::Tensor step_logits = next_logits.to(torch::kCPU);
    if (options.keep_logits) out.logits.push_back(step_logits.clone());
    std::vector<int64_t> next(rows, 0);
    bool all_done = true;
    for (int64_t r = 0; r < rows; ++r) {
      if (done[r]) continue;
      next[r] = SampleToken(step_logits[r], options.temperature, options.top_p, rngs[r]);
      out.tokens[r].push_back(next[r]);
      done[r] = std::find(options.eos_ids.begin(), options.eos_ids.end(), next[r]) != options.eos_ids.end();
      all_done = all_done && done[r];
    }
    if (all_done || step + 1 == options.max_new_tokens) break;
    next_logits = DecodeLogits(model, torch::tensor(next, torch::kLong).to(device).unsqueeze(1), cache).select(1, 0);
  }
  return out;
}

}  // namespace distill::trainer
