// The `distill eval` runner: a benchmark (tools/eval/benchmark.h) answered by one model through one backend, n
// samples per problem, graded and written as an eval run folder (tools/eval/eval_run.h).
//
// Backends:
//  - "endpoint": any OpenAI-compatible chat endpoint (llama.cpp server, Ollama, vLLM, the teacher) through the
//    collector (data/collect): retries, rate limits and resume come with it; its traces land in DIR/traces.jsonl.
//  - "torch": an HF-layout checkpoint through our LibTorch KV-cache decoder (tools/eval/torch_backend.h).
//  - "gguf": a GGUF through llama.cpp (node-llama-cpp, tools/eval/llama_cpp_generate.js).
// The torch and gguf backends get the same prompt ids: the problem as the user turn (plus the R1 instruction),
// rendered with the model folder's chat template and generation prompt, optionally followed by "<think>\n".
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "data/collect/jsonl_log.h"
#include "tokenizers/model_folder.h"
#include "tools/eval/benchmark.h"
#include "tools/eval/metrics.h"

namespace distill::eval {

struct EvalOptions {
  std::string benchmark;   // our benchmark JSONL
  std::string out;         // the eval run folder
  std::string name;        // the run's column heading (default: the folder's name)
  std::string backend;     // endpoint | torch | gguf
  std::string model;       // endpoint: model id; torch: HF model folder or PEFT LoRA adapter folder; gguf: the .gguf
  // torch, adapter `model`: its base model folder (default: its base_model_name_or_path; the backend fills it in,
  // so the folder's generation.json stamps the base's files too)
  std::string base;
  std::string base_url;    // endpoint only
  std::string api_key_env; // endpoint only: the environment variable holding the key
  std::string tokenizer;   // torch/gguf: model folder with the tokenizer and template (default: `model` for torch)
  std::string template_override;  // see tok::ModelFolderOptions
  int samples = 1;                // n per problem
  double temperature = 0.6;       // 0 = greedy
  double top_p = 0.95;
  int64_t max_new_tokens = 32768;
  // torch: sequences decoded together, a problem's samples in groups of this many. It bounds the KV cache (a 1.5B
  // Qwen's fp32 cache holds 57 KB per token, bf16 half that: 8 × 32k tokens ≈ 15 GB in fp32); the samples do not
  // depend on it.
  int batch = 8;
  // torch: the weights' and KV cache's dtype. auto: bf16 on CUDA (as vLLM serves R1 distills: half the memory and
  // the time per token of fp32), fp32 on the CPU; or float32 | bfloat16.
  std::string torch_dtype = "auto";
  bool prefill_think = false;     // start the assistant turn with "<think>\n" (unless the template already does)
  std::string instruction = "Please reason step by step, and put your final answer within \\boxed{}.";
  uint64_t seed = 0;
  std::vector<int> ks = {1, 2, 4, 8, 16, 32, 64};
  int64_t limit = 0;              // only the first `limit` problems (0 = all)
  std::string node = "node";      // gguf: the node executable; NODE_PATH defaults to tools/npm/node_modules
  std::string llama_script;       // gguf: path of llama_cpp_generate.js (default: beside the source tree's)
  std::string llama_kv_cache = "f16";  // gguf: llama.cpp's KV cache type, f16 (its default) or f32
  std::function<void(int64_t done, int64_t total)> on_progress;  // samples finished so far
};

// One prompt's generation request for a token backend: `samples` completions of `prompt_ids`.
struct TokenRequest {
  std::vector<int64_t> prompt_ids;
  int samples = 1;
  uint64_t seed = 0;  // per problem; a backend derives each sample's stream from it
};

// One completion: new tokens with the stop token removed, and why it ended ("stop" or "length").
struct TokenSample {
  std::vector<int64_t> tokens;
  std::string finish_reason;
};

// Generates for every request in order (result[i] has requests[i].samples entries). Sampling settings come from
// the EvalOptions the backend was made with; `stop_ids` end a sample.
using TokenBackend = std::function<absl::StatusOr<std::vector<std::vector<TokenSample>>>(
    const std::vector<TokenRequest>& requests, const std::vector<int64_t>& stop_ids)>;

// A token backend's finished samples in the eval folder (one JSONL line each: key "<request>#<sample>", prompt_ids,
// tokens, finish_reason), appended and flushed as they finish, so a rerun of the same generation decodes only what
// is missing: after a crash, or with more samples per problem.
class TokenResultLog {
 public:
  // Claims options.out for this generation (its generation.json; the log is deleted when it names another model or
  // other settings), opens `name` there for appending (cutting a torn last line; locked while open) and keeps the
  // samples already in it whose prompt ids are the requests'.
  static absl::StatusOr<std::unique_ptr<TokenResultLog>> Open(const EvalOptions& options, const std::string& name,
                                                              const std::vector<TokenRequest>& requests);
  // Sample `sample` of request `request` when the log holds it, else nullptr.
  const TokenSample* Find(size_t request, int sample) const;
  size_t size() const { return found_.size(); }  // samples found when opened
  const std::string& path() const;
  // Records a finished sample (written and flushed before returning).
  absl::Status Append(size_t request, int sample, const TokenSample& result);

 private:
  TokenResultLog() = default;
  std::unique_ptr<data::collect::JsonlLog> log_;
  std::string path_;
  std::vector<std::vector<int64_t>> prompts_;  // the requests' prompt ids, recorded with each sample
  std::map<std::pair<size_t, int>, TokenSample> found_;
};

// The llama.cpp backend for options.model (a .gguf): one node process for all requests.
TokenBackend MakeLlamaCppBackend(const EvalOptions& options);

// The user turn and generation prompt for one problem, as prompt text (with the "<think>\n" prefill when asked).
absl::StatusOr<std::string> RenderEvalPrompt(const tok::ModelTokenization& model, const EvalOptions& options,
                                             const std::string& problem);

// The result of a run: the metrics written to the folder.
struct EvalResult {
  EvalMetrics metrics;
  double wall_seconds = 0;
  int64_t failed_samples = 0;  // endpoint samples the collector gave up on (graded as empty, wrong)
};

// What a token backend is asked for a benchmark: the problems, one request per problem (prompt ids rendered as
// RenderEvalPrompt does, per-problem seeds), and the ids that end a sample (the tokenizer's eos ids plus the
// template's end-of-turn token).
struct TokenEvalPlan {
  std::vector<BenchmarkItem> items;
  std::vector<TokenRequest> requests;  // requests[i] answers items[i]
  std::vector<int64_t> stop_ids;
  bool think_open = false;             // the prompts end inside a think block
  tok::ModelTokenization model;        // options.tokenizer (or options.model)
};

// Reads the benchmark and tokenizer named by `options`. Errors name the file.
absl::StatusOr<TokenEvalPlan> PlanTokenEval(const EvalOptions& options);

// Runs the eval with a token backend (torch, gguf) and writes options.out. Errors: unreadable benchmark or
// tokenizer, backend failure, unwritable folder.
absl::StatusOr<EvalResult> RunTokenEval(const EvalOptions& options, const TokenBackend& backend);

// Runs the eval against options.base_url with the collector and writes options.out.
absl::StatusOr<EvalResult> RunEndpointEval(const EvalOptions& options);

}  // namespace distill::eval
