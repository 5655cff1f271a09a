#include "tokenizers/model_folder.h"

#include <filesystem>
#include <fstream>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tokenizers/file_util.h"

namespace distill::tok {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// tokenizer_config.json writes special tokens as a string, an AddedToken object {"content": …}, or null.
absl::StatusOr<std::optional<std::string>> SpecialTokenField(const json& config, const std::string& key,
                                                            const std::string& file) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::optional<std::string>();
  if (it->is_string()) return std::optional<std::string>(it->get<std::string>());
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return std::optional<std::string>((*it)["content"].get<std::string>());
  return absl::InvalidArgumentError(
      absl::StrCat(file, ": ", key, ": expected a string, an object with a string \"content\", or null"));
}

// chat_template is a string, or a list of {"name", "template"} of which "default" is the chat template.
absl::StatusOr<std::optional<std::string>> TemplateField(const json& config, const std::string& file) {
  auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) return std::optional<std::string>();
  if (it->is_string()) return std::optional<std::string>(it->get<std::string>());
  if (it->is_array()) {
    for (size_t i = 0; i < it->size(); ++i) {
      const json& entry = (*it)[i];
      if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") ||
          !entry["name"].is_string() || !entry["template"].is_string())
        return absl::InvalidArgumentError(absl::StrCat(
            file, ": chat_template[", i, "]: expected an object with string \"name\" and \"template\""));
      if (entry["name"] == "default") return std::optional<std::string>(entry["template"].get<std::string>());
    }
    return absl::InvalidArgumentError(absl::StrCat(file, ": chat_template: no entry named \"default\""));
  }
  return absl::InvalidArgumentError(absl::StrCat(file, ": chat_template: expected a string or a list"));
}

// Every added_tokens_decoder entry must name the same token the tokenizer has at that id.
absl::Status CheckAddedTokensDecoder(const json& config, const Tokenizer& tokenizer, const std::string& file) {
  auto it = config.find("added_tokens_decoder");
  if (it == config.end()) return absl::OkStatus();
  if (!it->is_object()) return absl::InvalidArgumentError(absl::StrCat(file, ": added_tokens_decoder: expected an object"));
  for (const auto& [key, entry] : it->items()) {
    const std::string where = absl::StrCat(file, ": added_tokens_decoder[\"", key, "\"]");
    TokenId id = 0;
    if (key.empty() || key.size() > 9 || key.find_first_not_of("0123456789") != std::string::npos)
      return absl::InvalidArgumentError(absl::StrCat(where, ": expected a token id as key"));
    id = static_cast<TokenId>(std::stol(key));
    if (!entry.is_object() || !entry.contains("content") || !entry["content"].is_string())
      return absl::InvalidArgumentError(absl::StrCat(where, ": expected an object with a string \"content\""));
    const std::string content = entry["content"].get<std::string>();
    auto found = tokenizer.PieceToId(content);
    if (!found || *found != id)
      return absl::InvalidArgumentError(absl::StrCat(where, ": token \"", content, "\" has id ",
                                                     found ? std::to_string(*found) : "none",
                                                     " in the tokenizer, not ", id));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<json>> OptionalJsonFile(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<json>();
  auto parsed = ParseJsonFile(path.string());
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_object()) return absl::InvalidArgumentError(absl::StrCat(path.string(), ": expected a JSON object"));
  return std::optional<json>(std::move(*parsed));
}

absl::Status LoadTemplate(const ModelFolderOptions& options, const std::optional<std::string>& folder_template,
                          const std::string& folder_origin, ModelTokenization& out) {
  std::string source;
  std::string origin;
  if (options.template_override.empty()) {
    if (!folder_template) return absl::OkStatus();
    source = *folder_template;
    origin = folder_origin;
    out.template_name = "tokenizer_config.json";
  } else if (auto builtin = BuiltinTemplateSource(options.template_override); builtin.ok()) {
    source = *builtin;
    origin = "builtin:" + options.template_override;
    out.template_name = options.template_override;
  } else {
    const std::string& file = options.template_override;
    std::error_code ec;
    if (!fs::is_regular_file(file, ec))
      return absl::NotFoundError(absl::StrCat("template '", file, "' is neither a built-in (", builtin.status().message(),
                                              ") nor a file"));
    if (absl::EndsWith(file, ".json")) {
      auto config = ParseJsonFile(file);
      if (!config.ok()) return config.status();
      auto from_config = TemplateField(*config, file);
      if (!from_config.ok()) return from_config.status();
      if (!*from_config) return absl::InvalidArgumentError(absl::StrCat(file, ": no chat_template field"));
      source = **from_config;
      origin = file + ":chat_template";
    } else {
      auto text = ReadFileToString(file);
      if (!text.ok()) return text.status();
      source = *text;
      origin = file;
    }
    out.template_name = file;
  }
  auto compiled = ChatTemplate::Compile(source, origin);
  if (!compiled.ok()) return compiled.status();
  out.chat_template = std::move(*compiled);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ModelTokenization> LoadModelTokenization(const std::string& path, const ModelFolderOptions& options) {
  std::error_code ec;
  fs::path folder = path;
  fs::path tokenizer_file;
  if (fs::is_directory(path, ec)) {
    for (const char* name : {"tokenizer.json", "tokenizer.model"}) {
      if (fs::exists(folder / name, ec)) {
        tokenizer_file = folder / name;
        break;
      }
    }
    if (tokenizer_file.empty())
      return absl::NotFoundError(absl::StrCat(path, ": no tokenizer.json or tokenizer.model in this folder"));
  } else if (fs::is_regular_file(path, ec)) {
    char magic[4] = {};
    std::ifstream(path, std::ios::binary).read(magic, sizeof magic);
    if (std::string_view(magic, sizeof magic) == "GGUF") {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": a GGUF file (llama.cpp weights), not a Hugging Face model folder or tokenizer file"));
    }
    tokenizer_file = path;
    folder = tokenizer_file.parent_path();
    if (folder.empty()) folder = ".";
  } else {
    return absl::NotFoundError(absl::StrCat(path, ": no such model folder or tokenizer file"));
  }

  ModelTokenization out;
  out.path = path;
  const bool is_sentencepiece = tokenizer_file.extension() == ".model";
  auto tokenizer = is_sentencepiece ? LoadSentencePiece(tokenizer_file.string())
                                    : LoadTokenizerJson(tokenizer_file.string());
  if (!tokenizer.ok()) return tokenizer.status();
  out.tokenizer = std::move(*tokenizer);

  // Config files beside a loose tokenizer file are used only when it carries the standard name.
  const bool standard_name = tokenizer_file.filename() == "tokenizer.json" || tokenizer_file.filename() == "tokenizer.model";
  std::optional<json> config;
  std::optional<json> generation;
  if (standard_name) {
    auto loaded = OptionalJsonFile(folder / "tokenizer_config.json");
    if (!loaded.ok()) return loaded.status();
    config = std::move(*loaded);
    auto loaded_generation = OptionalJsonFile(folder / "generation_config.json");
    if (!loaded_generation.ok()) return loaded_generation.status();
    generation = std::move(*loaded_generation);
  }

  std::optional<std::string> folder_template;
  const std::string config_path = (folder / "tokenizer_config.json").string();
  std::string template_origin = config_path + ":chat_template";
  if (config) {
    for (auto [key, field] : {std::pair{"bos_token", &out.bos_token}, std::pair{"eos_token", &out.eos_token},
                              std::pair{"pad_token", &out.pad_token}}) {
      auto value = SpecialTokenField(*config, key, config_path);
      if (!value.ok()) return value.status();
      *field = std::move(*value);
    }
    for (const auto& token : {out.bos_token, out.eos_token, out.pad_token}) {
      if (token && !out.tokenizer->PieceToId(*token))
        return absl::InvalidArgumentError(absl::StrCat(config_path, ": special token \"", *token,
                                                       "\" is not in the tokenizer's vocabulary"));
    }
    if (auto status = CheckAddedTokensDecoder(*config, *out.tokenizer, config_path); !status.ok()) return status;
    auto tmpl = TemplateField(*config, config_path);
    if (!tmpl.ok()) return tmpl.status();
    folder_template = std::move(*tmpl);
    if (auto it = config->find("add_bos_token"); it != config->end()) {
      if (!it->is_boolean())
        return absl::InvalidArgumentError(absl::StrCat(config_path, ": add_bos_token: expected true or false"));
      out.add_bos_token = it->get<bool>();
    } else if (!is_sentencepiece) {
      out.add_bos_token = out.tokenizer->PostProcessorAddsBos();
    }
  }
  // Newer transformers save the template as chat_template.jinja beside the config.
  if (!folder_template && standard_name && fs::exists(folder / "chat_template.jinja", ec)) {
    auto text = ReadFileToString((folder / "chat_template.jinja").string());
    if (!text.ok()) return text.status();
    folder_template = std::move(*text);
    template_origin = (folder / "chat_template.jinja").string();
  }
  if (auto status = LoadTemplate(options, folder_template, template_origin, out); !status.ok()) return status;

  const std::string generation_path = (folder / "generation_config.json").string();
  if (generation && generation->contains("eos_token_id")) {
    const json& eos = (*generation)["eos_token_id"];
    auto add_id = [&](const json& v) -> absl::Status {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= int64_t(out.tokenizer->VocabSize()))
        return absl::InvalidArgumentError(absl::StrCat(generation_path, ": eos_token_id: expected token ids below ",
                                                       out.tokenizer->VocabSize(), ", got ", v.dump()));
      out.eos_token_ids.push_back(v.get<TokenId>());
      return absl::OkStatus();
    };
    if (eos.is_array()) {
      for (const json& v : eos)
        if (auto status = add_id(v); !status.ok()) return status;
    } else if (!eos.is_null()) {
      if (auto status = add_id(eos); !status.ok()) return status;
    }
  }
  if (out.eos_token_ids.empty() && out.eos_token) out.eos_token_ids.push_back(*out.tokenizer->PieceToId(*out.eos_token));
  return out;
}

absl::StatusOr<std::vector<TokenId>> EncodePlain(const ModelTokenization& model, std::string_view text,
                                                 bool add_special_tokens) {
  auto ids = model.tokenizer->Encode(text);
  if (!ids.ok()) return ids.status();
  if (add_special_tokens && model.add_bos_token && model.bos_token)
    ids->insert(ids->begin(), *model.tokenizer->PieceToId(*model.bos_token));
  return ids;
}

nlohmann::json TemplateContext(const ModelTokenization& model, const nlohmann::json& messages,
                               bool add_generation_prompt) {
  json context = {{"messages", messages}, {"add_generation_prompt", add_generation_prompt}};
  // transformers passes only the special tokens that are set; an unset one is undefined in the template.
  if (model.bos_token) context["bos_token"] = *model.bos_token;
  if (model.eos_token) context["eos_token"] = *model.eos_token;
  if (model.pad_token) context["pad_token"] = *model.pad_token;
  return context;
}

absl::StatusOr<std::string> RenderChat(const ModelTokenization& model, const nlohmann::json& messages,
                                       bool add_generation_prompt) {
  if (!model.chat_template)
    return absl::FailedPreconditionError(absl::StrCat(
        model.path, ": has no chat_template; choose a built-in one (chatml, llama3, deepseek-r1) or a template file"));
  // The variables TemplateContext holds, without copying the messages into it.
  const json generation = add_generation_prompt;
  const json bos = model.bos_token.value_or(""), eos = model.eos_token.value_or(""), pad = model.pad_token.value_or("");
  TemplateVariables vars = {{"messages", &messages}, {"add_generation_prompt", &generation}};
  if (model.bos_token) vars.emplace_back("bos_token", &bos);
  if (model.eos_token) vars.emplace_back("eos_token", &eos);
  if (model.pad_token) vars.emplace_back("pad_token", &pad);
  return model.chat_template->Render(vars);
}

}  // namespace distill::tok
