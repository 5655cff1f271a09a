// Incremental decoding with a key/value cache: prefill the prompt once, then one token per step. Greedy or
// temperature/top-p sampling from one seeded std::mt19937_64 per sequence, so a seed gives the same tokens on every
// run, in any batching (and, for identical logits, on every device).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/model.h"

namespace distill::trainer {

struct GenerateOptions {
  int64_t max_new_tokens = 256;
  double temperature = 0.0;  // 0: greedy (argmax, lowest id on ties)
  double top_p = 1.0;        // nucleus: smallest most-likely set whose probability reaches top_p
  uint64_t seed = 0;
  std::vector<int64_t> eos_ids;  // a row stops after emitting any of these
  int64_t num_sequences = 1;     // rows sampled independently from the same prompt
  // Row r is sequence first_sequence + r of the request and draws from its own generator, seeded from (seed, that
  // index; sequence 0 from seed itself), so a request's samples are the same however its rows are batched.
  int64_t first_sequence = 0;
  bool keep_logits = false;      // record each step's logits
};

struct Generation {
  // Per row: the new tokens, ending with the eos id that stopped the row (if one did).
  std::vector<std::vector<int64_t>> tokens;
  // With keep_logits: step s's next-token logits [rows, vocab], fp32 (fp64 for a double model) on the CPU (rows that
  // already stopped included).
  std::vector<torch::Tensor> logits;
};

// Runs `ids` [B, T] after the cached tokens (a whole prompt to prefill, or one token per row to step) and
// returns their next-token logits [B, T, vocab] in fp32 (fp64 for a double model). Grad-free.
torch::Tensor DecodeLogits(const Model& model, const torch::Tensor& ids, KvCache& cache);

// Picks the next token from one row of logits [vocab] (any device, any float dtype): greedy when
// temperature == 0, else softmax(logits / temperature) restricted to the top-p nucleus, sampled with `rng`.
int64_t SampleToken(const torch::Tensor& logits, double temperature, double top_p, std::mt19937_64& rng);

// The generator seed of sequence `index` of a request seeded with `seed`: `seed` itself for sequence 0, then
// well-mixed values (SplitMix64's output function over seed + index · its increment).
uint64_t SequenceSeed(uint64_t seed, int64_t index);

// Prefills `prompt` and samples up to max_new_tokens tokens per row. InvalidArgument for an empty prompt, ids
// outside the vocabulary, or bad options.
absl::StatusOr<Generation> Generate(const Model& model, std::span<const int64_t> prompt,
                                    const GenerateOptions& options);

}  // namespace distill::trainer
