#include "tokenizers/bpe_tokenizer.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tokenizers/utf8.h"

namespace distill::tok {
namespace {

std::atomic<uint64_t> next_instance{1};

constexpr size_t kMaxCachedWord = 256;
constexpr size_t kMaxCacheEntries = 1 << 18;

// Per-thread cache of pre-token → ids for one tokenizer.
struct WordCache {
  uint64_t owner = 0;
  uint64_t last_use = 0;
  StringMap<std::pair<uint32_t, uint32_t>> map;  // word -> [offset, count) in store
  std::vector<TokenId> store;
  void Reset(uint64_t o) {
    owner = o;
    map.clear();
    store.clear();
  }
};

// The calling thread's cache for tokenizer `owner`: a few tokenizers used in turn on one thread each keep theirs;
// the least recently used cache is recycled.
WordCache* CacheFor(uint64_t owner) {
  thread_local WordCache caches[4];
  thread_local uint64_t clock = 0;
  WordCache* victim = &caches[0];
  for (WordCache& c : caches) {
    if (c.owner == owner) {
      victim = &c;
      break;
    }
    if (c.last_use < victim->last_use) victim = &c;
  }
  if (victim->owner != owner || victim->map.size() > kMaxCacheEntries) victim->Reset(owner);
  victim->last_use = ++clock;
  return victim;
}

}  // namespace

struct BpeTokenizer::Scratch {
  std::vector<AddedVocab::Segment> raw_segments, norm_segments;
  std::string normalized;
  PreTokenizeScratch pre;
  std::vector<std::string_view> pieces;
  WordCache* cache = nullptr;
};

BpeTokenizer::BpeTokenizer() : instance_(next_instance.fetch_add(1)) {}

void BpeTokenizer::Finish(std::vector<AddedToken> added) {
  std::stable_sort(added.begin(), added.end(), [](const AddedToken& a, const AddedToken& b) { return a.id < b.id; });
  added_tokens_ = std::move(added);
  TokenId max_id = model_.MaxId();
  for (const AddedToken& t : added_tokens_) {
    max_id = std::max(max_id, t.id);
    std::string match = t.content;
    if (t.normalized) normalizer_.Normalize(t.content, &match);
    added_vocab_.Add(t, std::move(match));
    added_by_content_.emplace(t.content, t.id);
  }
  vocab_size_ = static_cast<size_t>(max_id + 1);
  token_bytes_.assign(vocab_size_, std::string());
  id_kind_.assign(vocab_size_, 0);
  auto bytes_of = [](const std::string& piece) {
    auto b = ByteLevelToBytes(piece);
    return b ? *std::move(b) : piece;  // as HF's ByteLevel decoder: characters outside the alphabet stay as they are
  };
  for (TokenId id = 0; id <= model_.MaxId(); ++id) {
    if (const std::string* p = model_.IdToPiece(id)) {
      token_bytes_[static_cast<size_t>(id)] = decoder_ == DecoderKind::kByteLevel ? bytes_of(*p) : *p;
      id_kind_[static_cast<size_t>(id)] = 1;
    }
  }
  for (const AddedToken& t : added_tokens_) {
    token_bytes_[static_cast<size_t>(t.id)] = decoder_ == DecoderKind::kByteLevel ? bytes_of(t.content) : t.content;
    id_kind_[static_cast<size_t>(t.id)] = t.special ? 3 : 2;
  }
}

absl::StatusOr<std::vector<TokenId>> BpeTokenizer::Encode(std::string_view text) const {
  if (const size_t bad = utf8::FindInvalid(text); bad != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("invalid UTF-8 at byte ", bad, " of the input text"));
  }
  if (text.size() > UINT32_MAX) return absl::InvalidArgumentError("text longer than 4 GiB");
  thread_local Scratch scratch;
  scratch.cache = CacheFor(instance_);
  scratch.pre.arena.clear();
  std::vector<TokenId> ids;
  ids.reserve(text.size() / 3 + 4);
  if (!added_vocab_.has_raw()) {
    EncodeSegment(text, &scratch, &ids);
  } else {
    std::vector<AddedVocab::Segment>& segs = scratch.raw_segments;
    segs.clear();
    added_vocab_.Split(text, /*normalized=*/false, &segs);
    for (const auto& seg : segs) {
      if (seg.id >= 0) {
        ids.push_back(seg.id);
      } else {
        EncodeSegment(text.substr(seg.start, seg.end - seg.start), &scratch, &ids);
      }
    }
  }
  return ids;
}

// Normalizes a raw-text segment, then splits it on normalized added tokens.
void BpeTokenizer::EncodeSegment(std::string_view text, Scratch* scratch, std::vector<TokenId>* ids) const {
  std::string_view norm = text;
  std::string owned;
  if (!normalizer_.empty() && normalizer_.Normalize(text, &owned)) norm = owned;
  if (!added_vocab_.has_normalized()) {
    EncodePlain(norm, scratch, ids);
    return;
  }
  std::vector<AddedVocab::Segment>& segs = scratch->norm_segments;
  segs.clear();
  added_vocab_.Split(norm, /*normalized=*/true, &segs);
  for (const auto& seg : segs) {
    if (seg.id >= 0) {
      ids->push_back(seg.id);
    } else {
      EncodePlain(norm.substr(seg.start, seg.end - seg.start), scratch, ids);
    }
  }
}

void BpeTokenizer::EncodePlain(std::string_view text, Scratch* scratch, std::vector<TokenId>* ids) const {
  std::vector<std::string_view>& pieces = scratch->pieces;
  pieces.clear();
  pre_tokenizer_.Run(text, &scratch->pre, &pieces);
  for (std::string_view piece : pieces) EncodePiece(piece, scratch, ids);
}

void BpeTokenizer::EncodePiece(std::string_view piece, Scratch* scratch, std::vector<TokenId>* ids) const {
  if (piece.size() > kMaxCachedWord || piece.size() <= 1) {
    model_.EncodeWord(piece, ids);
    return;
  }
  WordCache& cache = *scratch->cache;
  if (auto it = cache.map.find(piece); it != cache.map.end()) {
    const auto [off, count] = it->second;
    ids->insert(ids->end(), cache.store.begin() + off, cache.store.begin() + off + count);
    return;
  }
  const size_t before = ids->size();
  model_.EncodeWord(piece, ids);
  const auto off = static_cast<uint32_t>(cache.store.size());
  cache.store.insert(cache.store.end(), ids->begin() + static_cast<std::ptrdiff_t>(before), ids->end());
  cache.map.emplace(piece, std::make_pair(off, static_cast<uint32_t>(ids->size() - before)));
}

absl::StatusOr<std::string> BpeTokenizer::Decode(std::span<const TokenId> ids, bool skip_special) const {
  std::string bytes;
  bool first = true;
  for (size_t i = 0; i < ids.size(); ++i) {
    const TokenId id = ids[i];
    if (id < 0 || static_cast<size_t>(id) >= vocab_size_ || id_kind_[static_cast<size_t>(id)] == 0) {
      return absl::InvalidArgumentError(absl::StrCat("Decode: id ", id, " at position ", i, " is not in the vocabulary"));
    }
    if (skip_special && id_kind_[static_cast<size_t>(id)] == 3) continue;
    if (decoder_ == DecoderKind::kJoinWithSpace && !first) bytes.push_back(' ');
    bytes += token_bytes_[static_cast<size_t>(id)];
    first = false;
  }
  return utf8::Lossy(bytes);
}

std::optional<std::string> BpeTokenizer::IdToPiece(TokenId id) const {
  if (id < 0 || static_cast<size_t>(id) >= vocab_size_) return std::nullopt;
  if (id_kind_[static_cast<size_t>(id)] >= 2) {
    auto it = std::lower_bound(added_tokens_.begin(), added_tokens_.end(), id,
                               [](const AddedToken& t, TokenId v) { return t.id < v; });
    if (it != added_tokens_.end() && it->id == id) return it->content;
  }
  if (const std::string* p = model_.IdToPiece(id)) return *p;
  return std::nullopt;
}

std::optional<TokenId> BpeTokenizer::PieceToId(std::string_view piece) const {
  if (auto it = added_by_content_.find(piece); it != added_by_content_.end()) return it->second;
  return model_.PieceToId(piece);
}

bool BpeTokenizer::IsSpecial(TokenId id) const {
  return id >= 0 && static_cast<size_t>(id) < vocab_size_ && id_kind_[static_cast<size_t>(id)] == 3;
}

std::string BpeTokenizer::TokenBytes(TokenId id) const {
  if (id < 0 || static_cast<size_t>(id) >= vocab_size_) return std::string();
  return token_bytes_[static_cast<size_t>(id)];
}

std::string BpeTokenizer::Describe() const {
  return absl::StrCat("bpe(tokenizer.json; normalizer=", normalizer_.Describe(), "; pre=", pre_tokenizer_.Describe(),
                      "; merges=", model_.num_merges(), model_.ignore_merges() ? "; ignore_merges" : "", ")");
}

}  // namespace distill::tok
