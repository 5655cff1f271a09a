// Chat templates: a Jinja-subset interpreter that renders tokenizer_config.json "chat_template" byte for byte as
// @huggingface/jinja (and Python jinja2 under transformers) does, plus built-in named templates.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace distill::tok {

namespace jinja {
struct Program;  // parsed template, see tokenizers/jinja/
}

// A render's global variables by name, each pointing at a JSON value the caller keeps alive during the call.
using TemplateVariables = std::vector<std::pair<std::string, const nlohmann::json*>>;

// A compiled template. Cheap to copy (shares the parsed program); thread-safe for concurrent Render.
class ChatTemplate {
 public:
  // Parses `source`. Unsupported constructs and syntax errors are InvalidArgument errors naming the construct and
  // its line:column in the template, prefixed by `origin` (e.g. "models/qwen3/tokenizer_config.json:chat_template").
  static absl::StatusOr<ChatTemplate> Compile(std::string_view source, std::string origin = "chat_template");

  // Renders with `context` as the global variables, exactly as transformers' apply_chat_template passes them:
  // messages (array of {role, content, [reasoning_content]}), add_generation_prompt (bool), bos_token,
  // eos_token, and any extra keys. Runtime errors (raise_exception, type errors) name line:column.
  absl::StatusOr<std::string> Render(const nlohmann::json& context) const;
  // The same from variables held apart, so a trace's messages need not be copied into one context document first.
  absl::StatusOr<std::string> Render(const TemplateVariables& variables) const;

  const std::string& source() const { return source_; }
  const std::string& origin() const { return origin_; }

 private:
  // Runs `run` on a fresh interpreter, mapping its exceptions to statuses naming line:column.
  template <typename Run>
  absl::StatusOr<std::string> RenderWith(Run&& run) const;

  std::shared_ptr<const jinja::Program> program_;
  std::string source_;
  std::string origin_;
};

// Built-in templates for bases that ship none: "chatml" (Qwen2.5 style), "llama3", "deepseek-r1".
// Returns the Jinja source, or NotFound listing the known names.
absl::StatusOr<std::string> BuiltinTemplateSource(std::string_view name);

}  // namespace distill::tok
