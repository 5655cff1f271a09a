// distill export MODEL_DIR -o model.gguf --type q4_k_m: an HF model folder (a trained checkpoint or any Llama /
// Qwen2 / Qwen3 model) to a GGUF that llama.cpp, Ollama and LM Studio run, optionally with an Ollama Modelfile.
// A LoRA checkpoint (PEFT adapter folder) is merged into its base model (--base, or the adapter's
// base_model_name_or_path) while the GGUF is written.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_format.h"
#include "tools/cli/verbs.h"
#include "tools/gguf/exporter.h"

namespace distill::cli {
namespace {

int RunExport(const gguf::ExportOptions& options, bool quiet) {
  auto report = gguf::ExportGguf(options);
  if (!report.ok()) {
    std::fprintf(stderr, "distill export: %s\n", std::string(report.status().message()).c_str());
    return 1;
  }
  if (quiet) return 0;
  if (!report->base_model.empty())
    std::printf("merged %lld LoRA adapters into base model %s\n", static_cast<long long>(report->merged_adapters),
                report->base_model.c_str());
  std::printf("architecture %s, pre-tokenizer %s, end of turn %s (eos id %u)\n", report->architecture.c_str(),
              report->pre_tokenizer.c_str(), report->end_of_turn.c_str(), report->eos_id);
  std::map<std::string, int> by_type;
  for (const auto& t : report->tensors) ++by_type[gguf::TypeTraitsOf(t.type)->name];
  std::string types;
  for (const auto& [name, n] : by_type) types += absl::StrFormat("%s%d %s", types.empty() ? "" : ", ", n, name);
  std::printf("%zu tensors (%s)\n", report->tensors.size(), types.c_str());
  std::printf("wrote %s: %.1f MB from %.1f MB of safetensors in %.2f s (%.2f GB/s of source)\n", options.out.c_str(),
              report->file_bytes / 1e6, report->source_bytes / 1e6, report->seconds,
              report->source_bytes / 1e9 / std::max(report->seconds, 1e-9));
  if (!report->modelfile_path.empty())
    std::printf("wrote %s (ollama create <name> -f %s)\n", report->modelfile_path.c_str(),
                report->modelfile_path.c_str());
  return 0;
}

VerbRun Setup(CLI::App& cmd) {
  auto options = std::make_shared<gguf::ExportOptions>();
  auto quiet = std::make_shared<bool>(false);
  cmd.add_option("model", options->model,
                 "HF model folder (config.json, *.safetensors, tokenizer files), or a LoRA adapter folder")
      ->required();
  cmd.add_option("-o,--out", options->out, "output .gguf path")->required();
  cmd.add_option("--base", options->base_model,
                 "for a LoRA adapter folder: the base model folder (default: adapter_config.json's "
                 "base_model_name_or_path)");
  cmd.add_option("-t,--type", options->type,
                 "f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k, q4_k_m or q5_k_m (default f16)");
  cmd.add_option("--template", options->template_override,
                 "the chat template the model was trained with, when not the folder's (chatml, llama3, deepseek-r1, file)");
  cmd.add_option("--name", options->name, "general.name (default: the folder's name)");
  cmd.add_flag("--modelfile", options->modelfile, "also write an Ollama Modelfile beside the GGUF");
  cmd.add_option("--threads", options->threads, "quantizer threads (0 = all cores)")->check(kNonNegative);
  cmd.add_flag("-q,--quiet", *quiet, "print nothing on success");
  return [options, quiet] { return RunExport(*options, *quiet); };
}

}  // namespace
}  // namespace distill::cli

DISTILL_REGISTER_VERB(export_verb, "export", "Export an HF model folder to GGUF for llama.cpp / Ollama (+ Modelfile)",
                      80, distill::cli::Setup);
