#include "tokenizers/bpe_trainer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <queue>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "tokenizers/added_vocab.h"
#include "tokenizers/bpe.h"
#include "tokenizers/normalizer.h"
#include "tokenizers/pretokenizer.h"
#include "tokenizers/utf8.h"

namespace distill::tok {
namespace {

using OrderedJson = nlohmann::ordered_json;

// Qwen2 / Qwen2.5 / Qwen3's split pattern (pretokenizer_fast.cc runs it on a hand-written scanner): \p{N} alone,
// so every digit is its own pre-token.
constexpr std::string_view kQwen2Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

using Pair = uint64_t;
inline Pair MakePair(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}
inline int32_t Left(Pair p) { return static_cast<int32_t>(p >> 32); }
inline int32_t Right(Pair p) { return static_cast<int32_t>(p & 0xFFFFFFFFu); }

struct HeapEntry {
  int64_t count;
  Pair pair;
};
// Max-heap order: larger count first, then the smaller (left id, right id).
struct HeapLess {
  bool operator()(const HeapEntry& a, const HeapEntry& b) const {
    if (a.count != b.count) return a.count < b.count;
    return a.pair > b.pair;
  }
};

OrderedJson ByteLevelStep() {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
}

absl::Status CheckOptions(const BpeTrainOptions& o) {
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < o.special_tokens.size(); ++i) {
    const std::string& s = o.special_tokens[i];
    const std::string where = absl::StrCat("bpe trainer: special_tokens[", i, "]");
    if (s.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": empty"));
    if (utf8::FindInvalid(s) != std::string_view::npos)
      return absl::InvalidArgumentError(absl::StrCat(where, ": invalid UTF-8"));
    if (!seen.insert(s).second)
      return absl::InvalidArgumentError(absl::StrCat(where, ": \"", s, "\" is listed twice"));
    // A single byte-level character is already a vocabulary piece; HF would give the added token that id.
    if (auto bytes = ByteLevelToBytes(s); bytes && bytes->size() == 1)
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": \"", s, "\" is a byte-level character of the base alphabet"));
  }
  const int64_t minimum = 256 + static_cast<int64_t>(o.special_tokens.size());
  if (o.vocab_size < minimum)
    return absl::InvalidArgumentError(absl::StrCat(
        "bpe trainer: vocab_size ", o.vocab_size, " is too small: the 256 byte tokens and ", o.special_tokens.size(),
        " special tokens alone need ", minimum));
  if (o.vocab_size > kMaxTokenId)
    return absl::InvalidArgumentError(absl::StrCat("bpe trainer: vocab_size ", o.vocab_size, " exceeds ", kMaxTokenId));
  if (o.min_frequency < 1) return absl::InvalidArgumentError("bpe trainer: min_frequency must be at least 1");
  if (o.max_token_bytes < 0) return absl::InvalidArgumentError("bpe trainer: max_token_bytes must be ≥ 0");
  return absl::OkStatus();
}

// The trainer's state: distinct words as symbol sequences with their counts, pair counts and, per pair, the words
// that may hold it (a superset: entries go stale and are checked when used).
class Trainer {
 public:
  explicit Trainer(const BpeTrainOptions& options) : options_(options) {
    // Ids 0…255: the byte-level characters in code point order, which is GPT-2's bytes_to_unicode order.
    std::vector<int> order(256);
    for (int b = 0; b < 256; ++b) order[b] = b;
    std::sort(order.begin(), order.end(), [](int a, int b) {
      return ByteToCodepoint(static_cast<uint8_t>(a)) < ByteToCodepoint(static_cast<uint8_t>(b));
    });
    for (int id = 0; id < 256; ++id) {
      byte_id_[order[id]] = id;
      AddToken(std::string(1, static_cast<char>(order[id])));
    }
    for (const std::string& s : options.special_tokens) special_pieces_.insert(s);
  }

  absl::Status CountTexts(const std::vector<std::string>& texts) {
    AddedVocab specials;
    for (size_t i = 0; i < options_.special_tokens.size(); ++i) {
      const std::string& s = options_.special_tokens[i];
      AddedToken t;
      t.id = static_cast<TokenId>(i);  // any id ≥ 0 marks a match
      t.content = s;
      t.special = true;
      specials.Add(t, s);
    }
    PreTokenizer pre;
    auto regex = CompileSplitPattern(kQwen2Pattern, false);
    if (!regex.ok()) return regex.status();
    pre.AddSplit(std::shared_ptr<const Regex>(std::move(*regex)), SplitBehavior::kIsolated, false);
    if (auto s = pre.AddByteLevel(false, false); !s.ok()) return s;
    Normalizer nfc;
    nfc.Add(Normalizer::Form::kNFC);

    std::vector<AddedVocab::Segment> segments;
    PreTokenizeScratch scratch;
    std::vector<std::string_view> pieces;
    std::string normalized;
    for (size_t i = 0; i < texts.size(); ++i) {
      const std::string& text = texts[i];
      if (const size_t bad = utf8::FindInvalid(text); bad != std::string_view::npos)
        return absl::InvalidArgumentError(absl::StrCat("bpe trainer: text ", i, ": invalid UTF-8 at byte ", bad));
      if (text.size() > UINT32_MAX)
        return absl::InvalidArgumentError(absl::StrCat("bpe trainer: text ", i, " is longer than 4 GiB"));
      segments.clear();
      specials.Split(text, /*normalized=*/false, &segments);
      for (const auto& seg : segments) {
        if (seg.id >= 0) continue;  // a special token: not learned
        std::string_view plain(text.data() + seg.start, seg.end - seg.start);
        if (nfc.Normalize(plain, &normalized)) plain = normalized;
        pieces.clear();
        scratch.arena.clear();
        pre.Run(plain, &scratch, &pieces);
        for (std::string_view p : pieces) {
          if (auto it = word_counts_.find(p); it != word_counts_.end()) {
            ++it->second;
          } else {
            word_counts_.emplace(std::string(p), 1);
          }
        }
      }
    }
    return absl::OkStatus();
  }

  void Train() {
    // Words in byte order, so indices (and everything after) do not depend on hash-map iteration order.
    std::vector<std::pair<std::string, int64_t>> sorted(word_counts_.begin(), word_counts_.end());
    word_counts_ = {};
    std::sort(sorted.begin(), sorted.end());
    words_.reserve(sorted.size());
    counts_.reserve(sorted.size());
    for (auto& [bytes, count] : sorted) {
      std::vector<int32_t> symbols;
      symbols.reserve(bytes.size());
      for (char c : bytes) symbols.push_back(byte_id_[static_cast<uint8_t>(c)]);
      words_.push_back(std::move(symbols));
      counts_.push_back(count);
    }
    for (uint32_t w = 0; w < words_.size(); ++w) {
      const auto& s = words_[w];
      for (size_t k = 0; k + 1 < s.size(); ++k) {
        const Pair p = MakePair(s[k], s[k + 1]);
        pair_counts_[p] += counts_[w];
        where_[p].push_back(w);
      }
    }
    for (const auto& [p, c] : pair_counts_) heap_.push({c, p});

    const size_t target = static_cast<size_t>(options_.vocab_size) - options_.special_tokens.size();
    while (token_bytes_.size() < target && !heap_.empty()) {
      const HeapEntry top = heap_.top();
      heap_.pop();
      auto it = pair_counts_.find(top.pair);
      const int64_t current = it == pair_counts_.end() ? 0 : it->second;
      if (current != top.count) {
        // Counts of existing pairs mostly fall; a rise pushed a fresh entry already.
        if (current > 0 && current < top.count) heap_.push({current, top.pair});
        continue;
      }
      if (current < options_.min_frequency) break;
      const int32_t a = Left(top.pair), b = Right(top.pair);
      std::string merged = token_bytes_[a] + token_bytes_[b];
      if ((options_.max_token_bytes > 0 && merged.size() > static_cast<size_t>(options_.max_token_bytes)) ||
          special_pieces_.contains(BytesToByteLevel(merged))) {
        pair_counts_.erase(it);  // never merged; counts of this pair only fall from here (see Merge)
        where_.erase(top.pair);
        banned_.insert(top.pair);
        continue;
      }
      int32_t id;
      if (auto found = bytes_to_id_.find(merged); found != bytes_to_id_.end()) {
        id = found->second;  // another pair already spells this token (HF keeps one id, both merges)
      } else {
        id = AddToken(std::move(merged));
      }
      if (merged_pairs_.insert(top.pair).second) merges_.push_back(top.pair);
      Merge(top.pair, id);
    }
  }

  std::string ToJson() const {
    OrderedJson vocab = OrderedJson::object();
    for (size_t id = 0; id < token_bytes_.size(); ++id) vocab[BytesToByteLevel(token_bytes_[id])] = id;
    OrderedJson merges = OrderedJson::array();
    for (Pair p : merges_)
      merges.push_back({BytesToByteLevel(token_bytes_[Left(p)]), BytesToByteLevel(token_bytes_[Right(p)])});
    OrderedJson added = OrderedJson::array();
    for (size_t i = 0; i < options_.special_tokens.size(); ++i) {
      added.push_back({{"id", token_bytes_.size() + i},
                       {"content", options_.special_tokens[i]},
                       {"single_word", false},
                       {"lstrip", false},
                       {"rstrip", false},
                       {"normalized", false},
                       {"special", true}});
    }
    OrderedJson split = {{"type", "Split"},
                         {"pattern", {{"Regex", std::string(kQwen2Pattern)}}},
                         {"behavior", "Isolated"},
                         {"invert", false}};
    OrderedJson root;
    root["version"] = "1.0";
    root["truncation"] = nullptr;
    root["padding"] = nullptr;
    root["added_tokens"] = std::move(added);
    root["normalizer"] = {{"type", "NFC"}};
    root["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", OrderedJson::array({split, ByteLevelStep()})}};
    root["post_processor"] = ByteLevelStep();
    root["decoder"] = ByteLevelStep();
    OrderedJson model;
    model["type"] = "BPE";
    model["dropout"] = nullptr;
    model["unk_token"] = nullptr;
    model["continuing_subword_prefix"] = "";
    model["end_of_word_suffix"] = "";
    model["fuse_unk"] = false;
    model["byte_fallback"] = false;
    model["ignore_merges"] = false;
    model["vocab"] = std::move(vocab);
    model["merges"] = std::move(merges);
    root["model"] = std::move(model);
    return root.dump(2) + "\n";
  }

 private:
  int32_t AddToken(std::string bytes) {
    const auto id = static_cast<int32_t>(token_bytes_.size());
    bytes_to_id_.emplace(bytes, id);
    token_bytes_.push_back(std::move(bytes));
    return id;
  }

  // Replaces every non-overlapping occurrence (left to right) of `pair` by `id` in the words that hold it and
  // updates the pair counts: each touched word's pairs are subtracted before and added after.
  void Merge(Pair pair, int32_t id) {
    const int32_t a = Left(pair), b = Right(pair);
    std::vector<uint32_t> candidates = std::move(where_[pair]);
    where_.erase(pair);
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
    absl::flat_hash_map<Pair, int64_t> delta;
    std::vector<int32_t> out;
    for (uint32_t w : candidates) {
      std::vector<int32_t>& s = words_[w];
      bool holds = false;
      for (size_t k = 0; k + 1 < s.size(); ++k) {
        if (s[k] == a && s[k + 1] == b) {
          holds = true;
          break;
        }
      }
      if (!holds) continue;
      const int64_t c = counts_[w];
      for (size_t k = 0; k + 1 < s.size(); ++k) delta[MakePair(s[k], s[k + 1])] -= c;
      out.clear();
      for (size_t k = 0; k < s.size();) {
        if (k + 1 < s.size() && s[k] == a && s[k + 1] == b) {
          out.push_back(id);
          k += 2;
        } else {
          out.push_back(s[k]);
          ++k;
        }
      }
      s.assign(out.begin(), out.end());
      for (size_t k = 0; k + 1 < s.size(); ++k) {
        const Pair p = MakePair(s[k], s[k + 1]);
        delta[p] += c;
        if (s[k] == id || s[k + 1] == id) where_[p].push_back(w);
      }
    }
    for (const auto& [p, d] : delta) {
      if (d == 0 || banned_.contains(p)) continue;
      int64_t& count = pair_counts_[p];
      count += d;
      if (d > 0) heap_.push({count, p});  // heap order is total, so push order does not matter
      if (count <= 0) pair_counts_.erase(p);
    }
    pair_counts_.erase(pair);
  }

  const BpeTrainOptions& options_;
  int32_t byte_id_[256];
  absl::flat_hash_set<std::string> special_pieces_;
  StringMap<int64_t> word_counts_;
  std::vector<std::vector<int32_t>> words_;
  std::vector<int64_t> counts_;
  absl::flat_hash_map<Pair, int64_t> pair_counts_;
  absl::flat_hash_map<Pair, std::vector<uint32_t>> where_;
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, HeapLess> heap_;
  absl::flat_hash_set<Pair> banned_, merged_pairs_;
  std::vector<Pair> merges_;
  std::vector<std::string> token_bytes_;
  absl::flat_hash_map<std::string, int32_t> bytes_to_id_;
};

// Writes `contents` to `path` via "<path>.tmp.<pid>", fsync, rename (tokenizers does not link data/atomic_file).
absl::Status WriteFileAtomic(const std::string& path, std::string_view contents) {
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat(tmp, ": cannot create: ", std::strerror(errno)));
  size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return absl::InternalError(absl::StrCat(tmp, ": write failed: ", std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat(tmp, ": fsync/close failed: ", std::strerror(errno)));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("cannot rename ", tmp, " to ", path, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> TrainByteLevelBpe(const std::vector<std::string>& texts, const BpeTrainOptions& options) {
  if (auto s = CheckOptions(options); !s.ok()) return s;
  Trainer trainer(options);
  if (auto s = trainer.CountTexts(texts); !s.ok()) return s;
  trainer.Train();
  return trainer.ToJson();
}

absl::Status WriteTokenizerFolder(const std::string& dir, const std::string& tokenizer_json,
                                  const TokenizerFolderOptions& options) {
  OrderedJson parsed = OrderedJson::parse(tokenizer_json, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object())
    return absl::InvalidArgumentError("tokenizer folder: tokenizer.json text is not a JSON object");
  OrderedJson decoder = OrderedJson::object();
  absl::flat_hash_set<std::string> added_contents;
  if (auto it = parsed.find("added_tokens"); it != parsed.end() && it->is_array()) {
    for (const auto& t : *it) {
      if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || !t.contains("content") ||
          !t["content"].is_string())
        return absl::InvalidArgumentError("tokenizer folder: malformed added_tokens entry in tokenizer.json");
      const std::string content = t["content"].get<std::string>();
      added_contents.insert(content);
      decoder[std::to_string(t["id"].get<int64_t>())] = {
          {"content", content},
          {"lstrip", t.value("lstrip", false)},
          {"normalized", t.value("normalized", false)},
          {"rstrip", t.value("rstrip", false)},
          {"single_word", t.value("single_word", false)},
          {"special", t.value("special", false)}};
    }
  }
  auto token_field = [&](const char* key, const std::optional<std::string>& value) -> absl::StatusOr<OrderedJson> {
    if (!value) return OrderedJson(nullptr);
    if (!added_contents.contains(*value))
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer folder: ", key, " \"", *value, "\" is not an added token of tokenizer.json"));
    return OrderedJson(*value);
  };
  auto bos = token_field("bos_token", options.bos_token);
  if (!bos.ok()) return bos.status();
  auto eos = token_field("eos_token", options.eos_token);
  if (!eos.ok()) return eos.status();
  auto pad = token_field("pad_token", options.pad_token);
  if (!pad.ok()) return pad.status();
  if (options.add_bos_token && !options.bos_token)
    return absl::InvalidArgumentError("tokenizer folder: add_bos_token needs a bos_token");

  OrderedJson config;
  config["add_bos_token"] = options.add_bos_token;
  config["add_prefix_space"] = false;
  config["added_tokens_decoder"] = std::move(decoder);
  config["bos_token"] = *bos;
  if (!options.chat_template.empty()) config["chat_template"] = options.chat_template;
  config["clean_up_tokenization_spaces"] = false;
  config["eos_token"] = *eos;
  config["errors"] = "replace";
  config["model_max_length"] = options.model_max_length;
  config["pad_token"] = *pad;
  config["split_special_tokens"] = false;
  config["tokenizer_class"] = "Qwen2Tokenizer";
  config["unk_token"] = nullptr;

  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  const std::filesystem::path folder(dir);
  if (auto s = WriteFileAtomic((folder / "tokenizer.json").string(), tokenizer_json); !s.ok()) return s;
  return WriteFileAtomic((folder / "tokenizer_config.json").string(), config.dump(2) + "\n");
}

}  // namespace distill::tok
