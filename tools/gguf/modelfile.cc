#include "tools/gguf/modelfile.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace distill::gguf {
namespace {

namespace fs = std::filesystem;

// Ollama's Go-template forms of the three chat formats we train with.
constexpr char kChatMl[] = R"({{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}
{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
)";
constexpr char kLlama3[] = R"({{- if .System }}<|start_header_id|>system<|end_header_id|>

{{ .System }}<|eot_id|>{{ end }}
{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>

{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>

)";
constexpr char kDeepSeek[] = R"({{- if .System }}{{ .System }}{{ end }}
{{- range .Messages }}
{{- if eq .Role "user" }}<｜User｜>{{ .Content }}
{{- else if eq .Role "assistant" }}<｜Assistant｜>{{ .Content }}<｜end▁of▁sentence｜>
{{- end }}
{{- end }}<｜Assistant｜>)";

}  // namespace

absl::StatusOr<std::string> ModelfileText(const std::string& gguf_file_name, const tok::ModelTokenization& model,
                                          const GgufVocab& vocab) {
  std::string tmpl;
  if (vocab.end_of_turn == "<|im_end|>") {
    tmpl = kChatMl;
  } else if (vocab.end_of_turn == "<|eot_id|>") {
    tmpl = kLlama3;
  } else if (vocab.end_of_turn == "<｜end▁of▁sentence｜>") {
    tmpl = kDeepSeek;
  } else {
    return absl::FailedPreconditionError(absl::StrCat("no Ollama template for a chat format whose turns end with \"",
                                                      vocab.end_of_turn, "\" (known: ChatML, Llama 3, DeepSeek-R1)"));
  }
  // Keep the forced opening of the reasoning block where the training template's generation prompt has it.
  nlohmann::json probe = nlohmann::json::array({{{"role", "user"}, {"content", "DISTILL_PROBE"}}});
  auto prompt = tok::RenderChat(model, probe, /*add_generation_prompt=*/true);
  if (!prompt.ok()) return prompt.status();
  if (prompt->ends_with("<think>\n")) tmpl += "<think>\n";
  std::string out = absl::StrCat("# Written by distill export. Run: ollama create <name> -f Modelfile\nFROM ./",
                                 gguf_file_name, "\nTEMPLATE \"\"\"", tmpl, "\"\"\"\n");
  absl::StrAppend(&out, "PARAMETER stop \"", vocab.end_of_turn, "\"\n");
  // DeepSeek-R1's usage recommendations for its distills.
  absl::StrAppend(&out, "PARAMETER temperature 0.6\nPARAMETER top_p 0.95\n");
  return out;
}

absl::StatusOr<std::string> WriteModelfile(const std::string& gguf_path, const tok::ModelTokenization& model,
                                           const GgufVocab& vocab) {
  const fs::path gguf(gguf_path);
  auto text = ModelfileText(gguf.filename().string(), model, vocab);
  if (!text.ok()) return text.status();
  const fs::path path = gguf.parent_path() / "Modelfile";
  const std::string temp = absl::StrCat(path.string(), ".tmp.", getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << *text;
    out.flush();
    if (!out) {
      std::remove(temp.c_str());
      return absl::InternalError(absl::StrCat("cannot write ", temp));
    }
  }
  std::error_code ec;
  fs::rename(temp, path, ec);
  if (ec) {
    std::remove(temp.c_str());
    return absl::InternalError(absl::StrCat("cannot rename ", temp, " to ", path.string(), ": ", ec.message()));
  }
  return path.string();
}

}  // namespace distill::gguf
