// LoadTokenizerJson / ParseTokenizerJson: reads a Hugging Face tokenizer.json into a BpeTokenizer. Every error names
// the origin and the JSON path at fault ("tokenizer.json: pre_tokenizer.pretokenizers[1].type: unknown ...").
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "tokenizers/bpe_tokenizer.h"
#include "tokenizers/file_util.h"
#include "tokenizers/json_fast.h"
#include "tokenizers/tokenizer.h"
#include "tokenizers/utf8.h"

namespace distill::tok {
namespace {

using Json = nlohmann::json;

// model.vocab and model.merges as flat lists (in file order when read by ReadLargeMembers, in nlohmann's key order
// when read from the DOM).
struct VocabLists {
  std::vector<std::pair<std::string, int64_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;
};

// Splits a merge spelled "left right" at its one space; false when there is not exactly one.
bool SplitMerge(std::string_view s, std::string* left, std::string* right) {
  const size_t sp = s.find(' ');
  if (sp == std::string_view::npos || s.find(' ', sp + 1) != std::string_view::npos) return false;
  left->assign(s.substr(0, sp));
  right->assign(s.substr(sp + 1));
  return true;
}

struct LargeMembers {
  Json root;  // every member but model.vocab and model.merges
  VocabLists lists;
};

// tokenizer.json with model.vocab and model.merges read straight into flat lists — a DOM of them (std::map nodes
// and a string per entry) was most of loading a 150k-token vocabulary — and every other member into a DOM.
// nullopt for anything this path does not take (invalid UTF-8 or JSON, a non-integer id, a repeated "model",
// "vocab" or "merges", a model that is not an object): the caller then parses the text the ordinary way. With
// `skip_vocab` the vocabulary is checked but not kept.
std::optional<LargeMembers> ReadLargeMembers(std::string_view text, bool skip_vocab = false) {
  if (utf8::FindInvalid(text) != std::string_view::npos) return std::nullopt;
  LargeMembers out;
  out.root = Json::object();
  JsonReader reader(text);
  std::string merge;
  auto read_vocab = [&] {
    return reader.ForEachMember([&](const std::string& piece) {
      int64_t id;
      if (!reader.Int64(id)) return false;
      out.lists.vocab.emplace_back(piece, id);
      return true;
    });
  };
  auto read_merges = [&] {
    return reader.ForEachElement([&] {
      auto& [left, right] = out.lists.merges.emplace_back();
      if (reader.Peek() == '"') return reader.String(merge) && SplitMerge(merge, &left, &right);
      int n = 0;
      return reader.ForEachElement([&] { return ++n <= 2 && reader.String(n == 1 ? left : right); }) && n == 2;
    });
  };
  bool have_model = false, have_vocab = false, have_merges = false;
  const bool ok = reader.ForEachMember([&](const std::string& key) {
    if (key != "model") return reader.Value(out.root[key]);
    if (std::exchange(have_model, true)) return false;
    Json& model = out.root["model"] = Json::object();
    return reader.ForEachMember([&](const std::string& member) {
      if (member == "vocab") return !std::exchange(have_vocab, true) && (skip_vocab ? reader.Skip() : read_vocab());
      if (member == "merges") return !std::exchange(have_merges, true) && read_merges();
      return reader.Value(model[member]);
    });
  });
  if (!ok || !reader.AtEnd() || !have_vocab || !have_merges) return std::nullopt;
  return out;
}

// HF fast tokenizers add BOS through the post_processor (Llama 3: a TemplateProcessing whose single-sequence
// template starts with a special token), alone or inside a Sequence.
bool PostProcessorAddsBos(const Json& root) {
  auto type_is = [](const Json& j, std::string_view type) {
    auto it = j.find("type");
    return it != j.end() && it->is_string() && it->get_ref<const std::string&>() == type;
  };
  auto it = root.find("post_processor");
  if (it == root.end() || !it->is_object()) return false;
  std::vector<const Json*> processors = {&*it};
  if (auto list = it->find("processors"); type_is(*it, "Sequence") && list != it->end() && list->is_array()) {
    processors.clear();
    for (const Json& p : *list) processors.push_back(&p);
  }
  for (const Json* p : processors) {
    if (!p->is_object() || !type_is(*p, "TemplateProcessing")) continue;
    auto single = p->find("single");
    if (single != p->end() && single->is_array() && !single->empty() && (*single)[0].is_object() &&
        (*single)[0].contains("SpecialToken"))
      return true;
  }
  return false;
}

class Loader {
 public:
  explicit Loader(const std::string& origin) : origin_(origin) {}

  // `lists`, when given, holds model.vocab and model.merges (then absent from `root`).
  absl::StatusOr<std::unique_ptr<Tokenizer>> Load(const Json& root, const VocabLists* lists = nullptr);

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

  absl::Status ReadVocabLists(const Json& model, const std::string& path, VocabLists* out) const;
  absl::Status LoadModel(const Json& j, const std::string& path, const VocabLists* lists, BpeTokenizer* t);
  absl::Status LoadNormalizer(const Json& j, const std::string& path, Normalizer* n);
  absl::Status LoadPreTokenizer(const Json& j, const std::string& path, PreTokenizer* p);
  absl::Status LoadDecoder(const Json& j, const std::string& path, BpeTokenizer* t);
  absl::Status LoadAddedTokens(const Json& j, const std::string& path, std::vector<AddedToken>* out);

  const std::string& origin_;
};

absl::Status Loader::ReadVocabLists(const Json& j, const std::string& path, VocabLists* out) const {
  auto vocab = j.find("vocab");
  if (vocab == j.end()) return Err(Key(path, "vocab"), "missing");
  if (!vocab->is_object()) return Err(Key(path, "vocab"), absl::StrCat("expected an object, got ", TypeName(*vocab)));
  out->vocab.reserve(vocab->size());
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    if (!it->is_number_integer()) {
      return Err(absl::StrCat(path, ".vocab[\"", it.key(), "\"]"),
                 absl::StrCat("expected an integer id, got ", TypeName(*it)));
    }
    out->vocab.emplace_back(it.key(), it->get<int64_t>());
  }
  auto merges = j.find("merges");
  if (merges == j.end()) return Err(Key(path, "merges"), "missing");
  if (!merges->is_array()) return Err(Key(path, "merges"), absl::StrCat("expected an array, got ", TypeName(*merges)));
  out->merges.resize(merges->size());
  for (size_t i = 0; i < merges->size(); ++i) {
    const Json& m = (*merges)[i];
    auto& [left, right] = out->merges[i];
    if (m.is_string()) {
      const std::string& text = m.get_ref<const std::string&>();
      if (!SplitMerge(text, &left, &right))
        return Err(Index(Key(path, "merges"), i), absl::StrCat("expected \"left right\", got \"", text, "\""));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      return Err(Index(Key(path, "merges"), i), "expected a string \"left right\" or a pair [\"left\", \"right\"]");
    }
  }
  return absl::OkStatus();
}

absl::Status Loader::LoadModel(const Json& j, const std::string& path, const VocabLists* lists, BpeTokenizer* t) {
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
  VocabLists from_dom;
  if (!lists) {
    if (auto s = ReadVocabLists(j, path, &from_dom); !s.ok()) return s;
    lists = &from_dom;
  }
  model.Reserve(lists->vocab.size(), lists->merges.size());
  for (const auto& [piece, id] : lists->vocab) {
    auto where = [&] { return absl::StrCat(path, ".vocab[\"", piece, "\"]"); };
    if (id < 0 || id > kMaxTokenId)
      return Err(where(), absl::StrCat("id ", id, " out of range [0, ", kMaxTokenId, "]"));
    if (auto s = model.AddPiece(piece, static_cast<TokenId>(id)); !s.ok()) return Err(where(), s.message());
  }
  for (size_t i = 0; i < lists->merges.size(); ++i) {
    const auto& [left, right] = lists->merges[i];
    if (auto s = model.AddMerge(left, right, static_cast<uint32_t>(i)); !s.ok())
      return Err(Index(Key(path, "merges"), i), s.message());
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

absl::StatusOr<std::unique_ptr<Tokenizer>> Loader::Load(const Json& root, const VocabLists* lists) {
  if (!root.is_object()) return Err("(root)", absl::StrCat("expected an object, got ", TypeName(root)));
  auto t = std::make_unique<BpeTokenizer>();
  t->set_origin(origin_);
  t->set_post_processor_adds_bos(PostProcessorAddsBos(root));
  auto model = root.find("model");
  if (model == root.end()) return Err("model", "missing");
  if (auto s = LoadModel(*model, "model", lists, t.get()); !s.ok()) return s;
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
  // The fast path gives up on anything unusual, a loader error included, so that every error comes from the one
  // path below and reads the same whichever path met it first.
  if (std::optional<LargeMembers> fast = ReadLargeMembers(json)) {
    try {
      auto loaded = Loader(origin).Load(fast->root, &fast->lists);
      if (loaded.ok()) return loaded;
    } catch (const std::exception&) {
    }
  }
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

bool TokenizerJsonHasFastPath(std::string_view json) { return ReadLargeMembers(json).has_value(); }

std::optional<std::vector<std::pair<std::string, std::string>>> ReadTokenizerJsonMerges(std::string_view json,
                                                                                       nlohmann::json* rest) {
  std::optional<LargeMembers> fast = ReadLargeMembers(json, /*skip_vocab=*/true);
  if (!fast) return std::nullopt;
  *rest = std::move(fast->root);
  return std::move(fast->lists.merges);
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerJson(const std::string& path) {
  auto file = MappedFile::Open(path);
  if (!file.ok()) return file.status();
  return ParseTokenizerJson(file->text(), path);
}

}  // namespace distill::tok
