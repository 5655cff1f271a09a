// distill eval BENCH.jsonl -o DIR --backend endpoint|torch|gguf --model M: n samples per problem from an
// OpenAI-compatible endpoint, an HF checkpoint (LibTorch) or a GGUF (llama.cpp), graded into an eval run folder;
// `--compare DIR…` prints runs side by side; `--convert FORMAT` turns a public benchmark export into our format.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "tools/cli/exception_message.h"
#include "tools/cli/torch_verbs.h"
#include "tools/cli/verbs.h"
#include "tools/eval/eval_run.h"
#include "tools/eval/runner.h"
#include "tools/eval/torch_backend.h"

namespace distill::cli {
namespace {

struct EvalFlags {
  eval::EvalOptions options;
  std::vector<std::string> compare;
  std::string convert;
  bool quiet = false;
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "distill eval: %s\n", message.c_str());
  return 1;
}

int RunCompare(const std::vector<std::string>& dirs) {
  std::vector<eval::EvalRunSummary> runs;
  for (const std::string& dir : dirs) {
    auto run = eval::ReadEvalRunSummary(dir);
    if (!run.ok()) return Fail(std::string(run.status().message()));
    runs.push_back(*run);
  }
  std::printf("%s", eval::FormatComparisonTable(runs).c_str());
  return 0;
}

int RunEval(EvalFlags& flags) {
  if (!flags.compare.empty()) return RunCompare(flags.compare);
  eval::EvalOptions& options = flags.options;
  if (!flags.convert.empty()) {
    auto report = eval::ConvertBenchmark(options.benchmark, flags.convert, options.out);
    if (!report.ok()) return Fail(std::string(report.status().message()));
    if (!flags.quiet)
      std::printf("converted %lld problems (%s layout) to %s\n", static_cast<long long>(report->items),
                  report->format.c_str(), options.out.c_str());
    return 0;
  }
  if (options.benchmark.empty() || options.out.empty()) return Fail("a benchmark file and -o DIR are required");
  if (!flags.quiet) {
    options.on_progress = [](int64_t done, int64_t total) {
      std::fprintf(stderr, "\reval: %lld/%lld samples", static_cast<long long>(done), static_cast<long long>(total));
      if (done == total) std::fprintf(stderr, "\n");
    };
  }
  absl::StatusOr<eval::EvalResult> result = absl::UnknownError("no backend");
  try {
    if (options.backend == "endpoint") {
      result = eval::RunEndpointEval(options);
    } else if (options.backend == "gguf") {
      if (options.tokenizer.empty()) return Fail("--backend gguf needs --tokenizer MODEL_DIR (its tokenizer and template)");
      if (std::error_code ec; std::filesystem::is_directory(options.model, ec))
        return Fail("--backend gguf: -m " + options.model + " is a folder; expected a .gguf file (make one with "
                    "distill export, or evaluate the folder with --backend torch)");
      result = eval::RunTokenEval(options, eval::MakeLlamaCppBackend(options));
    } else if (options.backend == "torch") {
      auto backend = eval::MakeTorchBackend(options);
      if (!backend.ok()) return Fail(std::string(backend.status().message()));
      result = eval::RunTokenEval(options, *backend);
    } else {
      return Fail("--backend: expected endpoint, torch or gguf, got \"" + options.backend + "\"");
    }
  } catch (const std::exception& e) {  // LibTorch reports errors as exceptions
    return Fail(ExceptionMessage(e));
  }
  if (!result.ok()) return Fail(std::string(result.status().message()));
  if (flags.quiet) return 0;
  auto summary = eval::ReadEvalRunSummary(options.out);
  if (!summary.ok()) return Fail(std::string(summary.status().message()));
  std::printf("%s", eval::FormatComparisonTable({*summary}).c_str());
  std::printf("wrote %s (eval.json, samples.jsonl) in %.1f s%s\n", options.out.c_str(), result->wall_seconds,
              result->failed_samples
                  ? absl::StrFormat("; %lld samples failed at the endpoint (graded wrong)",
                                    static_cast<long long>(result->failed_samples)).c_str()
                  : "");
  return 0;
}

VerbRun Setup(CLI::App& cmd) {
  auto flags = std::make_shared<EvalFlags>();
  eval::EvalOptions& o = flags->options;
  cmd.add_option("benchmark", o.benchmark, "benchmark JSONL (problem, answer, optional id and difficulty)");
  cmd.add_option("-o,--out", o.out, "eval run folder to write (eval.json, samples.jsonl)");
  cmd.add_option("--backend", o.backend, "endpoint | torch | gguf")->default_str("torch");
  o.backend = "torch";
  cmd.add_option("-m,--model", o.model,
                 "endpoint: model id; torch: HF model folder or LoRA adapter folder; gguf: the .gguf file");
  cmd.add_option("--base", o.base, "torch, for a LoRA adapter folder: its base model folder (default: "
                                   "adapter_config.json's base_model_name_or_path)");
  cmd.add_option("-u,--base-url", o.base_url, "endpoint: base URL (…/v1 accepted)");
  cmd.add_option("--api-key-env", o.api_key_env, "endpoint: environment variable holding the API key");
  cmd.add_option("--tokenizer", o.tokenizer, "torch/gguf: model folder with tokenizer and chat template "
                                             "(default for torch: the model folder)");
  cmd.add_option("--template", o.template_override, "chat template instead of the folder's (chatml, llama3, deepseek-r1, file)");
  cmd.add_option("-n,--samples", o.samples, "samples per problem (R1 protocol: 64 for AIME, 4 for MATH-500, 8 for GPQA)")
      ->capture_default_str();
  cmd.add_option("--temperature", o.temperature, "sampling temperature (0 = greedy)")->capture_default_str();
  cmd.add_option("--top-p", o.top_p, "nucleus sampling")->capture_default_str();
  cmd.add_option("--max-new-tokens", o.max_new_tokens, "per sample")->capture_default_str();
  cmd.add_option("--batch", o.batch, "torch: sequences decoded together (bounds the KV cache; samples do not "
                                     "depend on it)")
      ->capture_default_str()
      ->check(kPositive);
  cmd.add_flag("--prefill-think", o.prefill_think, "start the assistant turn with \"<think>\\n\" (torch, gguf)");
  cmd.add_option("--instruction", o.instruction, "appended to each problem on a new line (\"\" for none)")
      ->capture_default_str();
  cmd.add_option("--seed", o.seed, "sampling seed")->capture_default_str();
  cmd.add_option("--pass-k", o.ks, "k values of pass@k (those above n are left out)");
  cmd.add_option("--limit", o.limit, "only the first N problems");
  cmd.add_option("--name", o.name, "the run's name in tables (default: the folder's name)");
  cmd.add_option("--node", o.node, "gguf: node executable")->capture_default_str();
  cmd.add_option("--dtype", o.torch_dtype, "torch: weights and KV cache, auto = bf16 on CUDA, fp32 on the CPU")
      ->check(CLI::IsMember({"auto", "float32", "bfloat16"}))
      ->capture_default_str();
  cmd.add_option("--kv-cache", o.llama_kv_cache, "gguf: llama.cpp's KV cache type")
      ->check(CLI::IsMember({"f16", "f32"}))
      ->capture_default_str();
  cmd.add_option("--compare", flags->compare, "print these eval run folders side by side and exit");
  cmd.add_option("--convert", flags->convert,
                 "convert BENCHMARK from a public export (math500, aime, gsm8k, auto) into our format at -o FILE");
  cmd.add_flag("-q,--quiet", flags->quiet, "print nothing on success");
  return [flags] { return RunEval(*flags); };
}

}  // namespace
}  // namespace distill::cli

DISTILL_REGISTER_VERB(eval_verb, distill::cli::kEvalVerb.name, distill::cli::kEvalVerb.description,
                      distill::cli::kEvalVerb.order, distill::cli::Setup);
