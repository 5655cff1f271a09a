// The collection run (`distill collect`): prompts JSONL in, one trace line per (prompt, sample) out, every
// (prompt, sample) that cannot be collected written to a failures JSONL with its reason — never dropped.
// Resumable: keys already in the traces file are skipped, a torn last line is repaired. Shardable: --shard i/N
// keeps the prompts whose id hashes to i (StableHash(id) % N), so N machines split one prompt file.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "data/collect/backoff.h"
#include "data/collect/http_pool.h"
#include "data/collect/jsonl_log.h"
#include "data/collect/progress.h"
#include "data/collect/rate_limiter.h"
#include "data/verify.h"
#include "nlohmann/json.hpp"

namespace distill::data::collect {

struct CollectOptions {
  // Files.
  std::string prompts_path;
  std::string out_path;       // traces JSONL (appended to; resume)
  std::string failures_path;  // empty = out_path with ".jsonl" replaced by ".failures.jsonl"
  // When not empty, written as "<out_path>.config.yaml" once the prompts are read and the outputs open, so a run
  // that fails before (a mistyped prompts path) leaves the config of the run beside the traces in place.
  std::string config_yaml;
  // Endpoint.
  std::string base_url;       // e.g. https://api.deepseek.com or http://127.0.0.1:8000 (…/v1 accepted)
  std::string model;
  std::string api_key_env;    // name of the environment variable holding the key; empty = no Authorization
  std::string dialect = "auto";  // auto | deepseek | vllm | llamacpp | ollama | openai (recorded in traces)
  bool stream = true;
  // Sampling (DeepSeek-R1 recommendations).
  double temperature = 0.6;
  double top_p = 0.95;
  int64_t max_tokens = 32768;
  std::optional<int64_t> seed;  // when set, sent per request as a hash of (seed, prompt id, sample)
  int samples = 1;
  std::string instruction_suffix;  // appended (after a newline) to the last user turn
  // Split and limits.
  int shard_index = 0;
  int shard_count = 1;
  int64_t limit_prompts = 0;  // 0 = all
  // Transport.
  RateLimits limits;          // limits.max_in_flight = concurrency (default 64)
  HttpTimeouts timeouts;
  int max_attempts = 5;
  BackoffPolicy backoff;
  // Acceptance of a 200.
  bool require_reasoning = true;   // a 200 without reasoning is retried, then a failure
  bool accept_length = false;      // keep finish_reason "length" (truncated) traces
  JsonlLogOptions log;
  // Inline verify: each trace is checked with data::VerifyTrace(trace, verify_options) as it completes (against
  // the prompt's ground truth; stateless, so no de-dup) and written with the verdict as its "verify" object
  // (VerdictToJson without "line"). Every trace is still written; `distill verify` splits them later.
  bool verify = false;
  data::VerifyOptions verify_options;
  // Reporting.
  double price_input_per_m = 0;    // per million prompt tokens
  double price_output_per_m = 0;   // per million completion tokens
  ProgressMode progress = ProgressMode::kAuto;
  double progress_interval_s = 10;
  // Set from a signal handler to stop starting requests; in-flight ones are abandoned (redone on resume).
  const std::atomic<bool>* cancel = nullptr;
};

// Default failures path for a traces path.
std::string DefaultFailuresPath(const std::string& out_path);

// The chat-completions URL for a base URL ("…/v1" or not, trailing "/" ignored).
std::string ChatCompletionsUrl(const std::string& base_url);

// `base_url` without user:password@ and without a query string (what traces record).
std::string RedactUrl(const std::string& base_url);

// The messages actually sent for a prompt: system turns folded into the first user turn (`*folded_system` set
// when that happened), `suffix` appended to the last user turn unless it already ends with it.
nlohmann::json PrepareMessages(const nlohmann::json& messages, const std::string& suffix, bool* folded_system);

// Parses "i/N" (0 <= i < N).
absl::Status ParseShard(const std::string& text, int* index, int* count);

// Runs the collection. Errors only for problems that stop the whole run (unreadable prompts file, unwritable
// output, missing API key variable); per-request problems end in the failures file.
absl::StatusOr<CollectCounters> RunCollect(const CollectOptions& options);

}  // namespace distill::data::collect
