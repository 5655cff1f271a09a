// A base model's tokenization as the Hugging Face stack sees it: the tokenizer (tokenizer.json or
// tokenizer.model), tokenizer_config.json (special tokens, add_bos_token, chat_template) and
// generation_config.json (end-of-sequence ids).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tokenizers/chat_template.h"
#include "tokenizers/tokenizer.h"

namespace distill::tok {

struct ModelFolderOptions {
  // Use this template instead of the folder's: a built-in name ("chatml", "llama3", "deepseek-r1") or a path to a
  // file holding Jinja source or a tokenizer_config.json. Empty = the folder's own chat_template.
  std::string template_override;
};

struct ModelTokenization {
  std::string path;                      // the folder (or tokenizer file) this was loaded from
  std::shared_ptr<const Tokenizer> tokenizer;
  std::optional<std::string> bos_token;  // content strings from tokenizer_config.json, when set
  std::optional<std::string> eos_token;
  std::optional<std::string> pad_token;
  bool add_bos_token = false;            // plain-text encoding prepends bos (tokenizer_config or post_processor)
  std::vector<TokenId> eos_token_ids;    // generation_config.json eos_token_id, else the eos_token's id
  std::optional<ChatTemplate> chat_template;
  std::string template_name;             // "tokenizer_config.json", a built-in name, or the override path
};

// Loads `path`: a model folder, or a single tokenizer.json / tokenizer.model file (then without template unless
// overridden). Errors name the file and the field at fault.
absl::StatusOr<ModelTokenization> LoadModelTokenization(const std::string& path,
                                                        const ModelFolderOptions& options = {});

// Encodes plain text as `tokenizer(text)` would: BOS prepended when add_special_tokens and add_bos_token.
absl::StatusOr<std::vector<TokenId>> EncodePlain(const ModelTokenization& model, std::string_view text,
                                                 bool add_special_tokens);

// The global variables transformers' apply_chat_template passes to the template: messages,
// add_generation_prompt and the special tokens that are set.
nlohmann::json TemplateContext(const ModelTokenization& model, const nlohmann::json& messages,
                               bool add_generation_prompt);

// Renders `messages` with the model's template; FailedPrecondition when it has none (naming the built-ins).
absl::StatusOr<std::string> RenderChat(const ModelTokenization& model, const nlohmann::json& messages,
                                       bool add_generation_prompt);

}  // namespace distill::tok
