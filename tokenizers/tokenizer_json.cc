// LoadTokenizerJson / ParseTokenizerJson: reads a Hugging Face tokenizer.json into a BpeTokenizer. Every error names
// the origin and the JSON path at fault ("tokenizer.json: pre_tokenizer.pretokenizers[1].type: unknown ...").
#include <algorithm>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "tokenizers/bpe_tokenizer.h"
#include "tokenizers/file_util.h"
#include "tokenizers/tokenizer.h"

namespace distill::tok {
namespace {

using Json = nlohmann::json;

class Loader {
 public:
  explicit Loader(const std::string& origin) : origin_(origin) {}

  absl::StatusOr<std::unique_ptr<Tokenizer>> Load(const Json& root);

 private:
  absl::Status Err(const std::string& path, absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(origin_, ": ", path, ": ", what));
  }
  static std::string Key(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : absl::StrCat(path, ".", std::string(key));
  }
  static std::string Index(const std::string& path, size_t i) { return absl::StrCat(path, "[", i, "]"); }
  static const char* TypeName(const Json& j) { return j.type_name(); }

  // Optional boolean member: missing or null gives `def`.
  absl::Status GetBool(const Json& obj, std::string_view key, const std::string& path, bool def, bool* out) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
      *out = def;
      return absl::OkStatus();
    }
    if (!it->is_boolean()) return Err(Key(path, key), absl::StrCat("expected a boolean, got ", TypeName(*it)));
    *out = it->get<bool>();
    return absl::OkStatus();
  }
  absl::Status GetString(const Json& obj, std::string_view key, const std::string& path, std::string* out) const {
    auto it = obj.find(key);
    if (it == obj.end()) return Err(Key(path, key), "missing");
    if (!it->is_string()) return Err(Key(path, key), absl::StrCat("expected a string, got ", TypeName(*it)));
    *out = it->get<std::string>();
    return absl::OkStatus();
  }
  absl::Status GetType(const Json& obj, const std::string& path, std::string* type) const {
    if (!obj.is_object()) return Err(path, absl::StrCat("expected an object, got ", TypeName(obj)));
    return GetString(obj, "type", path, type);
  }

  absl::Status LoadModel(const Json& j, const std::string& path, BpeTokenizer* t);
  absl::Status LoadNormalizer(const Json& j, const std::string& path, Normalizer* n);
  absl::Status LoadPreTokenizer(const Json& j, const std::string& path, PreTokenizer* p);
  absl::Status LoadDecoder(const Json& j, const std::string& path, BpeTokenizer* t);
  absl::Status LoadAddedTokens(const Json& j, const std::string& path, std::vector<AddedToken>* out);

  const std::string& origin_;
};

absl::Status Loader::LoadModel(const Json& j, const std::string& path, BpeTokenizer* t) {
  if (!j.is_object()) return Err(path, absl::StrCat("expected an object, got ", TypeName(j)));
  if (auto it = j.find("type"); it != j.end()) {
    if (!it->is_string()) return Err(Key(path, "type"), "expected a string");
    if (*it != "BPE") return Err(Key(path, "type"), absl::StrCat("unsupported model '", it->get<std::string>(), "'"));
  }
  bool byte_fallback = false, ignore_merges = false;
  if (auto s = GetBool(j, "byte_fallback", path, false, &byte_fallback); !s.ok()) return s;
  if (byte_fallback) return Err(Key(path, "byte_fallback"), "byte_fallback is not supported");
  if (auto s = GetBool(j, "ignore_merges", path, false, &ignore_merges); !s.ok()) return s;
  if (auto it = j.find("dropout"); it != j.end() && !it->is_null()) {
    if (!it->is_number()) return Err(Key(path, "dropout"), "expected a number or null");
    if (it->get<double>() != 0.0) return Err(Key(path, "dropout"), "BPE dropout is not supported");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_string()) return Err(Key(path, key), "expected a string or null");
    if (!it->get_ref<const std::string&>().empty()) return Err(Key(path, key), "non-empty values are not supported");
  }
  BpeModel& model = t->model();
  model.set_ignore_merges(ignore_merges);
  auto vocab = j.find("vocab");
  if (vocab == j.end()) return Err(Key(path, "vocab"), "missing");
  if (!vocab->is_object()) return Err(Key(path, "vocab"), absl::StrCat("expected an object, got ", TypeName(*vocab)));
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    const std::string p = absl::StrCat(path, ".vocab[\"", it.key(), "\"]");
    if (!it->is_number_integer()) return Err(p, absl::StrCat("expected an integer id, got ", TypeName(*it)));
    const auto id = it->get<int64_t>();
    if (id < 0 || id > kMaxTokenId) return Err(p, absl::StrCat("id ", id, " out of range [0, ", kMaxTokenId, "]"));
    if (auto s = model.AddPiece(it.key(), static_cast<TokenId>(id)); !s.ok()) return Err(p, s.message());
  }
  auto merges = j.find("merges");
  if (merges == j.end()) return Err(Key(path, "merges"), "missing");
  if (!merges->is_array()) return Err(Key(path, "merges"), absl::StrCat("expected an array, got ", TypeName(*merges)));
  for (size_t i = 0; i < merges->size(); ++i) {
    const Json& m = (*merges)[i];
    const std::string p = Index(Key(path, "merges"), i);
    std::string left, right;
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
        return Err(p, absl::StrCat("expected \"left right\", got \"", s, "\""));
      }
      left = s.substr(0, sp);
      right = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      return Err(p, "expected a string \"left right\" or a pair [\"left\", \"right\"]");
    }
    if (auto s = model.AddMerge(left, right, static_cast<uint32_t>(i)); !s.ok()) return Err(p, s.message());
  }
  if (auto s = model.Finish(); !s.ok()) return Err(Key(path, "vocab"), s.message());
  return absl::OkStatus();
}

absl::Status Loader::LoadNormalizer(const Json& j, const std::string& path, Normalizer* n) {
  if (j.is_null()) return absl::OkStatus();
  std::string type;
  if (auto s = GetType(j, path, &type); !s.ok()) return s;
  if (type == "NFC") n->Add(Normalizer::Form::kNFC);
  else if (type == "NFD") n->Add(Normalizer::Form::kNFD);
  else if (type == "NFKC") n->Add(Normalizer::Form::kNFKC);
  else if (type == "NFKD") n->Add(Normalizer::Form::kNFKD);
  else if (type == "Sequence") {
    auto it = j.find("normalizers");
    const std::string p = Key(path, "normalizers");
    if (it == j.end()) return Err(p, "missing");
    if (!it->is_array()) return Err(p, absl::StrCat("expected an array, got ", TypeName(*it)));
    for (size_t i = 0; i < it->size(); ++i) {
      if ((*it)[i].is_null()) return Err(Index(p, i), "expected an object, got null");
      if (auto s = LoadNormalizer((*it)[i], Index(p, i), n); !s.ok()) return s;
    }
  } else {
    return Err(Key(path, "type"), absl::StrCat("unknown normalizer '", type, "'"));
  }
  return absl::OkStatus();
}

absl::Status Loader::LoadPreTokenizer(const Json& j, const std::string& path, PreTokenizer* p) {
  if (j.is_null()) return absl::OkStatus();
  std::string type;
  if (auto s = GetType(j, path, &type); !s.ok()) return s;
  if (type == "Sequence") {
    auto it = j.find("pretokenizers");
    const std::string q = Key(path, "pretokenizers");
    if (it == j.end()) return Err(q, "missing");
    if (!it->is_array()) return Err(q, absl::StrCat("expected an array, got ", TypeName(*it)));
    for (size_t i = 0; i < it->size(); ++i) {
      if ((*it)[i].is_null()) return Err(Index(q, i), "expected an object, got null");
      if (auto s = LoadPreTokenizer((*it)[i], Index(q, i), p); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  if (type == "ByteLevel") {
    bool add_prefix_space = true, use_regex = true;
    if (auto s = GetBool(j, "add_prefix_space", path, true, &add_prefix_space); !s.ok()) return s;
    if (auto s = GetBool(j, "use_regex", path, true, &use_regex); !s.ok()) return s;
    if (auto s = p->AddByteLevel(add_prefix_space, use_regex); !s.ok()) return Err(path, s.message());
    return absl::OkStatus();
  }
  if (type == "Digits") {
    bool individual = false;
    if (auto s = GetBool(j, "individual_digits", path, false, &individual); !s.ok()) return s;
    p->AddDigits(individual);
    return absl::OkStatus();
  }
  if (type == "Split") {
    auto pat = j.find("pattern");
    const std::string pp = Key(path, "pattern");
    if (pat == j.end()) return Err(pp, "missing");
    if (!pat->is_object() || pat->size() != 1) return Err(pp, "expected {\"Regex\": …} or {\"String\": …}");
    const bool literal = pat->begin().key() == "String";
    if (!literal && pat->begin().key() != "Regex") {
      return Err(pp, absl::StrCat("unknown pattern kind '", pat->begin().key(), "'"));
    }
    const std::string pk = Key(pp, pat->begin().key());
    if (!pat->begin()->is_string()) return Err(pk, absl::StrCat("expected a string, got ", TypeName(*pat->begin())));
    auto re = CompileSplitPattern(pat->begin()->get<std::string>(), literal);
    if (!re.ok()) return Err(pk, re.status().message());
    std::string behavior;
    if (auto s = GetString(j, "behavior", path, &behavior); !s.ok()) return s;
    SplitBehavior b;
    if (behavior == "Isolated") b = SplitBehavior::kIsolated;
    else if (behavior == "Removed") b = SplitBehavior::kRemoved;
    else if (behavior == "MergedWithPrevious") b = SplitBehavior::kMergedWithPrevious;
    else if (behavior == "MergedWithNext") b = SplitBehavior::kMergedWithNext;
    else if (behavior == "Contiguous") b = SplitBehavior::kContiguous;
    else return Err(Key(path, "behavior"), absl::StrCat("unknown split behavior '", behavior, "'"));
    bool invert = false;
    if (auto s = GetBool(j, "invert", path, false, &invert); !s.ok()) return s;
    p->AddSplit(std::shared_ptr<const Regex>(std::move(*re)), b, invert);
    return absl::OkStatus();
  }
  return Err(Key(path, "type"), absl::StrCat("unknown pre-tokenizer '", type, "'"));
}

absl::Status Loader::LoadDecoder(const Json& j, const std::string& path, BpeTokenizer* t) {
  if (j.is_null()) {
    t->set_decoder(BpeTokenizer::DecoderKind::kJoinWithSpace);
    return absl::OkStatus();
  }
  std::string type;
  if (auto s = GetType(j, path, &type); !s.ok()) return s;
  if (type == "ByteLevel") {
    t->set_decoder(BpeTokenizer::DecoderKind::kByteLevel);
    return absl::OkStatus();
  }
  if (type == "Sequence") {
    auto it = j.find("decoders");
    const std::string q = Key(path, "decoders");
    if (it == j.end()) return Err(q, "missing");
    if (!it->is_array() || it->size() != 1) return Err(q, "only a Sequence of exactly one ByteLevel decoder is supported");
    return LoadDecoder((*it)[0], Index(q, 0), t);
  }
  return Err(Key(path, "type"), absl::StrCat("unknown decoder '", type, "'"));
}

absl::Status Loader::LoadAddedTokens(const Json& j, const std::string& path, std::vector<AddedToken>* out) {
  if (j.is_null()) return absl::OkStatus();
  if (!j.is_array()) return Err(path, absl::StrCat("expected an array, got ", TypeName(j)));
  for (size_t i = 0; i < j.size(); ++i) {
    const Json& e = j[i];
    const std::string p = Index(path, i);
    if (!e.is_object()) return Err(p, absl::StrCat("expected an object, got ", TypeName(e)));
    AddedToken t;
    auto id = e.find("id");
    if (id == e.end()) return Err(Key(p, "id"), "missing");
    if (!id->is_number_integer() || id->get<int64_t>() < 0 || id->get<int64_t>() > kMaxTokenId) {
      return Err(Key(p, "id"), absl::StrCat("expected an integer id in [0, ", kMaxTokenId, "]"));
    }
    t.id = static_cast<TokenId>(id->get<int64_t>());
    if (auto s = GetString(e, "content", p, &t.content); !s.ok()) return s;
    if (t.content.empty()) return Err(Key(p, "content"), "empty added token");
    if (auto s = GetBool(e, "special", p, false, &t.special); !s.ok()) return s;
    if (auto s = GetBool(e, "lstrip", p, false, &t.lstrip); !s.ok()) return s;
    if (auto s = GetBool(e, "rstrip", p, false, &t.rstrip); !s.ok()) return s;
    if (auto s = GetBool(e, "normalized", p, !t.special, &t.normalized); !s.ok()) return s;
    if (auto s = GetBool(e, "single_word", p, false, &t.single_word); !s.ok()) return s;
    out->push_back(std::move(t));
  }
  return absl::OkStatus();
}

// HF does not trust the ids written in "added_tokens": a token whose content is a vocabulary piece gets that id,
// any other gets the next id after the vocabulary / the added tokens so far (AddedVocabulary::add_tokens). Real files
// agree with the written ids; this keeps odd files (gaps, clashes) identical to HF too. Repeated contents keep the
// first id.
void AssignAddedIds(const BpeModel& model, std::vector<AddedToken>* added) {
  const auto model_size = static_cast<TokenId>(model.size());
  StringMap<TokenId> seen;
  TokenId max_added = -1;
  std::vector<AddedToken> out;
  for (AddedToken& a : *added) {
    if (seen.contains(a.content)) continue;
    if (auto id = model.PieceToId(a.content)) {
      a.id = *id;
    } else if (max_added < 0) {
      a.id = model_size;
    } else {
      a.id = (max_added >= model_size || model_size == 0) ? max_added + 1 : model_size;
    }
    seen.emplace(a.content, a.id);
    max_added = std::max(max_added, a.id);
    out.push_back(std::move(a));
  }
  *added = std::move(out);
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Loader::Load(const Json& root) {
  if (!root.is_object()) return Err("(root)", absl::StrCat("expected an object, got ", TypeName(root)));
  auto t = std::make_unique<BpeTokenizer>();
  t->set_origin(origin_);
  auto model = root.find("model");
  if (model == root.end()) return Err("model", "missing");
  if (auto s = LoadModel(*model, "model", t.get()); !s.ok()) return s;
  if (auto it = root.find("normalizer"); it != root.end()) {
    if (auto s = LoadNormalizer(*it, "normalizer", &t->normalizer()); !s.ok()) return s;
  }
  if (auto it = root.find("pre_tokenizer"); it != root.end()) {
    if (auto s = LoadPreTokenizer(*it, "pre_tokenizer", &t->pre_tokenizer()); !s.ok()) return s;
  }
  // Byte-level BPE only: the ByteLevel pre-tokenizer must come last (pieces are matched as raw bytes).
  if (!t->pre_tokenizer().ends_with_byte_level()) {
    return Err("pre_tokenizer",
               "not a byte-level BPE tokenizer: a ByteLevel pre-tokenizer must be the last pre-tokenizer");
  }
  if (auto it = root.find("decoder"); it != root.end()) {
    if (auto s = LoadDecoder(*it, "decoder", t.get()); !s.ok()) return s;
  } else {
    t->set_decoder(BpeTokenizer::DecoderKind::kJoinWithSpace);
  }
  std::vector<AddedToken> added;
  if (auto it = root.find("added_tokens"); it != root.end()) {
    if (auto s = LoadAddedTokens(*it, "added_tokens", &added); !s.ok()) return s;
  }
  AssignAddedIds(t->model(), &added);
  t->Finish(std::move(added));
  return std::unique_ptr<Tokenizer>(std::move(t));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> ParseTokenizerJson(std::string_view json, const std::string& origin) {
  Json root;
  try {
    root = Json::parse(json.begin(), json.end());
  } catch (const Json::parse_error& e) {
    std::string what = e.what();
    if (auto pos = what.find("syntax error"); pos != std::string::npos) what = what.substr(pos);
    // nlohmann counts bytes from 1 (the last byte read); report the 0-based offset of that byte.
    return absl::InvalidArgumentError(absl::StrCat(origin, ": byte ", e.byte > 0 ? e.byte - 1 : 0, ": ", what));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": ", e.what()));
  }
  try {
    return Loader(origin).Load(root);
  } catch (const std::exception& e) {  // a JSON type mismatch this loader did not anticipate
    return absl::InvalidArgumentError(absl::StrCat(origin, ": ", e.what()));
  }
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerJson(const std::string& path) {
  auto text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  return ParseTokenizerJson(*text, path);
}

}  // namespace distill::tok
