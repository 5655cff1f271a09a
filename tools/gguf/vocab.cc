#include "tools/gguf/vocab.h"

#include <filesystem>
#include <optional>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "tokenizers/file_util.h"
#include "tokenizers/training_view.h"

namespace distill::gguf {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The split regexes of the byte-level BPE families llama.cpp knows, as tokenizer.json spells them.
const std::vector<std::string> kQwen2Splits = {
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};
const std::vector<std::string> kLlama3Splits = {
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};
const std::vector<std::string> kDeepSeekV3Splits = {
    R"(\p{N}{1,3})", "[一-龥぀-ゟ゠-ヿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
    "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"};

void CollectSplits(const json& pre, std::vector<std::string>& out) {
  if (!pre.is_object()) return;
  const std::string type = pre.value("type", "");
  if (type == "Sequence" && pre.contains("pretokenizers") && pre["pretokenizers"].is_array()) {
    for (const json& p : pre["pretokenizers"]) CollectSplits(p, out);
  } else if (type == "Split" && pre.contains("pattern") && pre["pattern"].is_object()) {
    const json& pattern = pre["pattern"];
    if (pattern.contains("Regex") && pattern["Regex"].is_string()) out.push_back(pattern["Regex"].get<std::string>());
    if (pattern.contains("String") && pattern["String"].is_string())
      out.push_back("string:" + pattern["String"].get<std::string>());
  }
}

// Added tokens that convert_hf_to_gguf marks CONTROL although tokenizer.json does not flag them special.
bool LooksSpecial(const std::string& token) {
  auto wrapped = [&](std::string_view open, std::string_view close) {
    return token.size() >= open.size() + close.size() && token.starts_with(open) && token.ends_with(close);
  };
  return token == "<pad>" || token == "<mask>" || token == "<2mass>" || token == "[@BOS@]" || wrapped("<|", "|>") ||
         wrapped("<｜", "｜>") || wrapped("<unused", ">");
}

absl::StatusOr<uint32_t> IdOf(const tok::Tokenizer& tokenizer, const std::string& piece, const char* what,
                              const fs::path& tokenizer_path) {
  auto id = tokenizer.PieceToId(piece);
  if (!id) {
    return absl::FailedPreconditionError(
        absl::StrCat(tokenizer_path.string(), ": ", what, " \"", piece, "\" is not in the vocabulary"));
  }
  return static_cast<uint32_t>(*id);
}

// SentencePiece-style vocabularies converted to tokenizer.json (Llama 2, Mistral, Gemma): "▁" word boundaries
// (Metaspace, or a normalizer that prepends / replaces with "▁") and byte fallback instead of byte-level pieces.
bool LooksSentencePiece(const json& tj) {
  const json& model = tj["model"];
  if (model.is_object() && model.value("byte_fallback", false)) return true;
  const std::string dump = (tj.contains("pre_tokenizer") ? tj["pre_tokenizer"].dump() : std::string()) +
                           (tj.contains("normalizer") ? tj["normalizer"].dump() : std::string());
  return dump.find("Metaspace") != std::string::npos || dump.find("\u2581") != std::string::npos ||
         dump.find("\xe2\x96\x81") != std::string::npos;
}

// A merge as GGUF spells it, "left right": a literal space inside a part would split that form, so byte-level
// BPE's U+0120 stands for it.
std::string GgufMerge(std::string left, std::string right) {
  for (std::string* part : {&left, &right}) {
    for (size_t at = part->find(' '); at != std::string::npos; at = part->find(' ', at)) part->replace(at, 1, "Ġ");
  }
  return absl::StrCat(left, " ", right);
}

// A DOM merge (tokenizer.json's "a b" string, kept verbatim, or its [a, b] pair), or nullopt for another form.
std::optional<std::string> MergeText(const json& merge) {
  if (merge.is_string()) return merge.get<std::string>();
  if (!merge.is_array() || merge.size() != 2 || !merge[0].is_string() || !merge[1].is_string()) return std::nullopt;
  return GgufMerge(merge[0].get<std::string>(), merge[1].get<std::string>());
}

}  // namespace

absl::StatusOr<GgufTokenizerFile> ReadGgufTokenizerFile(const std::string& model_path) {
  const fs::path folder = fs::is_directory(model_path) ? fs::path(model_path) : fs::path(model_path).parent_path();
  GgufTokenizerFile f;
  f.path = (folder / "tokenizer.json").string();
  auto file = tok::MappedFile::Open(f.path);
  if (!file.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        folder.string(), ": no tokenizer.json (GGUF export supports byte-level BPE vocabularies: Llama 3, Qwen2/3, "
                         "DeepSeek)"));
  }
  // The tokenizer loader's fast path (vocabulary skipped, merges as flat pairs), else nlohmann's DOM.
  json tj;
  bool has_merges = true;  // the fast path declines a model without merges
  if (auto pairs = tok::ReadTokenizerJsonMerges(file->text(), &tj)) {
    f.merges.reserve(pairs->size());
    for (auto& [left, right] : *pairs) f.merges.push_back(GgufMerge(std::move(left), std::move(right)));
  } else {
    try {
      tj = json::parse(file->text());
    } catch (const json::exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(f.path, ": ", e.what()));
    }
    const json* model = tj.contains("model") ? &tj["model"] : nullptr;
    has_merges = model && model->is_object() && model->contains("merges");
    if (has_merges) {
      if (!(*model)["merges"].is_array())
        return absl::InvalidArgumentError(absl::StrCat(f.path, ": model.merges: expected an array"));
      for (const json& merge : (*model)["merges"]) {
        std::optional<std::string> text = MergeText(merge);
        if (!text) {
          return absl::InvalidArgumentError(
              absl::StrCat(f.path, ": model.merges: expected \"a b\" strings or [a, b] pairs"));
        }
        f.merges.push_back(std::move(*text));
      }
    }
  }
  const json* bpe = tj.contains("model") ? &tj["model"] : nullptr;
  if (!bpe || !bpe->is_object() || bpe->value("type", "BPE") != "BPE" || !has_merges)
    return absl::FailedPreconditionError(absl::StrCat(f.path, ": model: expected a BPE model with merges"));
  if (LooksSentencePiece(tj)) {
    return absl::FailedPreconditionError(absl::StrCat(
        f.path, ": a SentencePiece-style vocabulary (\"▁\" word boundaries / byte fallback); GGUF "
        "export writes byte-level BPE vocabularies only (Llama 3, Qwen2/3, DeepSeek)"));
  }
  if (tj.contains("pre_tokenizer")) {
    f.pre_tokenizer = tj["pre_tokenizer"];
    CollectSplits(f.pre_tokenizer, f.splits);
  }
  return f;
}

absl::StatusOr<GgufVocab> ReadGgufVocab(const tok::ModelTokenization& model, GgufTokenizerFile file,
                                        int64_t vocab_size, std::optional<int64_t> config_bos_id) {
  const fs::path folder = fs::is_directory(model.path) ? fs::path(model.path) : fs::path(model.path).parent_path();
  const fs::path tokenizer_path = file.path;
  GgufVocab v;
  const std::vector<std::string>& splits = file.splits;
  const tok::Tokenizer& tokenizer = *model.tokenizer;
  if (splits == kQwen2Splits) {
    v.pre = tokenizer.PieceToId("<｜begin▁of▁sentence｜>") ? "deepseek-r1-qwen" : "qwen2";
  } else if (splits == kLlama3Splits) {
    v.pre = "llama-bpe";
  } else if (splits == kDeepSeekV3Splits) {
    v.pre = "deepseek-v3";
  } else {
    const json& pre = file.pre_tokenizer;
    return absl::FailedPreconditionError(absl::StrCat(
        tokenizer_path.string(), ": pre_tokenizer: unknown split regexes [", absl::StrJoin(splits, " | "), "] (",
        pre.is_object() ? pre.value("type", "?") : std::string("none"),
        "); GGUF export knows the Qwen2/Qwen3, Llama 3, DeepSeek-R1-Distill-Qwen and DeepSeek-V3 pre-tokenizers"));
  }

  if (static_cast<int64_t>(tokenizer.VocabSize()) > vocab_size)
    return absl::FailedPreconditionError(absl::StrCat(tokenizer_path.string(), ": the tokenizer has ",
                                                      tokenizer.VocabSize(), " tokens but config.json's vocab_size is ",
                                                      vocab_size));
  std::vector<const tok::AddedToken*> added(static_cast<size_t>(vocab_size), nullptr);
  for (const tok::AddedToken& token : tokenizer.AddedTokens())
    if (token.id >= 0 && token.id < vocab_size) added[token.id] = &token;
  v.tokens.resize(static_cast<size_t>(vocab_size));
  v.token_types.resize(static_cast<size_t>(vocab_size));
  for (int64_t id = 0; id < vocab_size; ++id) {
    const tok::AddedToken* a = added[id];
    std::optional<std::string> piece = a ? std::optional<std::string>(a->content)
                                         : tokenizer.IdToPiece(static_cast<tok::TokenId>(id));
    if (!piece || piece->empty()) {
      v.tokens[id] = absl::StrCat("[PAD", id, "]");
      v.token_types[id] = static_cast<int32_t>(TokenType::kUnused);
      continue;
    }
    v.tokens[id] = std::move(*piece);
    TokenType type = TokenType::kNormal;
    if (a) type = a->special || LooksSpecial(a->content) ? TokenType::kControl : TokenType::kUserDefined;
    v.token_types[id] = static_cast<int32_t>(type);
  }
  v.merges = std::move(file.merges);

  if (!model.chat_template)
    return absl::FailedPreconditionError(absl::StrCat(
        model.path, ": no chat template; pass the template the student was trained with (--template)"));
  v.chat_template = model.chat_template->source();
  auto prepared = tok::PrepareTrainingTemplate(model);
  if (!prepared.ok()) {
    return absl::Status(prepared.status().code(),
                        absl::StrCat(folder.string(), ": cannot tell which token ends an assistant turn (the GGUF's "
                                     "eos) with chat template ", model.template_name, " on this vocabulary: ",
                                     prepared.status().message()));
  }
  v.end_of_turn = prepared->end_of_turn;
  auto eot = IdOf(tokenizer, v.end_of_turn, "the chat template's end-of-turn token", tokenizer_path);
  if (!eot.ok()) return eot.status();
  v.eos_id = *eot;
  v.eot_id = *eot;
  if (model.bos_token) {
    auto bos = IdOf(tokenizer, *model.bos_token, "bos_token", tokenizer_path);
    if (!bos.ok()) return bos.status();
    v.bos_id = *bos;
  } else if (config_bos_id && *config_bos_id >= 0 && *config_bos_id < vocab_size) {
    v.bos_id = static_cast<uint32_t>(*config_bos_id);
  }
  if (model.pad_token) {
    auto pad = IdOf(tokenizer, *model.pad_token, "pad_token", tokenizer_path);
    if (!pad.ok()) return pad.status();
    v.pad_id = *pad;
  }
  v.add_bos = model.add_bos_token;
  return v;
}

}  // namespace distill::gguf
