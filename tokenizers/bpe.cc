#include "tokenizers/bpe.h"

#include <algorithm>
#include <cstring>
#include <queue>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tokenizers/utf8.h"

namespace distill::tok {
namespace {

struct ByteTables {
  uint32_t to_cp[256];
  int16_t from_cp[324];  // code point -> byte, -1 when not in the alphabet
  ByteTables() {
    std::fill(std::begin(from_cp), std::end(from_cp), int16_t{-1});
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      to_cp[b] = printable ? b : next++;
      from_cp[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};
const ByteTables& Tables() {
  static const ByteTables t;
  return t;
}

constexpr size_t kSmallWord = 128;

}  // namespace

uint32_t ByteToCodepoint(uint8_t b) { return Tables().to_cp[b]; }

std::optional<std::string> ByteLevelToBytes(std::string_view piece) {
  if (utf8::FindInvalid(piece) != std::string_view::npos) return std::nullopt;
  const ByteTables& t = Tables();
  std::string out;
  out.reserve(piece.size());
  for (size_t i = 0; i < piece.size();) {
    int len;
    const uint32_t cp = utf8::Decode(piece.data() + i, &len);
    if (cp >= 324 || t.from_cp[cp] < 0) return std::nullopt;
    out.push_back(static_cast<char>(t.from_cp[cp]));
    i += static_cast<size_t>(len);
  }
  return out;
}

std::string BytesToByteLevel(std::string_view bytes) {
  std::string out;
  for (char c : bytes) utf8::Append(ByteToCodepoint(static_cast<uint8_t>(c)), &out);
  return out;
}

void BpeModel::Reserve(size_t pieces, size_t merges) {
  piece_to_id_.reserve(pieces);
  bytes_to_id_.reserve(pieces);
  id_to_piece_.reserve(pieces);
  has_id_.reserve(pieces);
  merges_.reserve(merges);
}

absl::Status BpeModel::AddPiece(std::string_view piece, TokenId id) {
  if (id < 0) return absl::InvalidArgumentError(absl::StrCat("negative id ", id));
  if (id > kMaxTokenId) return absl::InvalidArgumentError(absl::StrCat("id ", id, " exceeds the maximum ", kMaxTokenId));
  if (!piece_to_id_.emplace(piece, id).second) return absl::InvalidArgumentError("duplicate vocabulary piece");
  if (static_cast<size_t>(id) >= id_to_piece_.size()) {
    id_to_piece_.resize(static_cast<size_t>(id) + 1);
    has_id_.resize(static_cast<size_t>(id) + 1);
  }
  if (has_id_[static_cast<size_t>(id)]) return absl::InvalidArgumentError(absl::StrCat("duplicate id ", id));
  has_id_[static_cast<size_t>(id)] = true;
  id_to_piece_[static_cast<size_t>(id)] = std::string(piece);
  max_id_ = std::max(max_id_, id);
  if (auto bytes = ByteLevelToBytes(piece)) bytes_to_id_.emplace(std::move(*bytes), id);
  return absl::OkStatus();
}

absl::Status BpeModel::AddMerge(std::string_view left, std::string_view right, uint32_t rank) {
  auto a = piece_to_id_.find(left);
  if (a == piece_to_id_.end()) return absl::InvalidArgumentError(absl::StrCat("'", std::string(left), "' is not in the vocabulary"));
  auto b = piece_to_id_.find(right);
  if (b == piece_to_id_.end()) return absl::InvalidArgumentError(absl::StrCat("'", std::string(right), "' is not in the vocabulary"));
  std::string merged;
  merged.reserve(left.size() + right.size());
  auto m = piece_to_id_.find(merged.append(left).append(right));
  if (m == piece_to_id_.end()) {
    return absl::InvalidArgumentError(absl::StrCat("merged piece '", std::string(left), std::string(right), "' is not in the vocabulary"));
  }
  // HF collects merges into a map, so a repeated pair keeps its last rank.
  merges_.insert_or_assign(PairKey(a->second, b->second),
                  (static_cast<uint64_t>(rank) << 32) | static_cast<uint32_t>(m->second));
  return absl::OkStatus();
}

absl::Status BpeModel::Finish() {
  for (int b = 0; b < 256; ++b) {
    auto it = bytes_to_id_.find(std::string(1, static_cast<char>(b)));
    if (it == bytes_to_id_.end()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("the vocabulary has no token for byte 0x%02X (unk/byte_fallback are not supported)", b));
    }
    byte_id_[b] = it->second;
  }
  return absl::OkStatus();
}

std::optional<TokenId> BpeModel::PieceToId(std::string_view piece) const {
  auto it = piece_to_id_.find(piece);
  if (it == piece_to_id_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::IdToPiece(TokenId id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_piece_.size() || !has_id_[static_cast<size_t>(id)]) return nullptr;
  return &id_to_piece_[static_cast<size_t>(id)];
}

void BpeModel::EncodeWord(std::string_view bytes, std::vector<TokenId>* out) const {
  if (bytes.empty()) return;
  if (bytes.size() == 1) {
    out->push_back(byte_id_[static_cast<uint8_t>(bytes[0])]);
    return;
  }
  if (ignore_merges_) {
    auto it = bytes_to_id_.find(bytes);
    if (it != bytes_to_id_.end()) {
      out->push_back(it->second);
      return;
    }
  }
  if (bytes.size() <= kSmallWord) {
    TokenId ids[kSmallWord];
    for (size_t i = 0; i < bytes.size(); ++i) ids[i] = byte_id_[static_cast<uint8_t>(bytes[i])];
    MergeSmall(ids, bytes.size(), out);
  } else {
    MergeLarge(bytes, out);
  }
}

// Repeatedly merges the adjacent pair of lowest rank (leftmost on ties), keeping the pair table in arrays.
void BpeModel::MergeSmall(TokenId* ids, size_t n, std::vector<TokenId>* out) const {
  uint64_t pair[kSmallWord];  // merge info of (ids[k], ids[k+1])
  for (size_t k = 0; k + 1 < n; ++k) pair[k] = Merge(ids[k], ids[k + 1]);
  while (n > 1) {
    size_t best = 0;
    uint64_t best_v = pair[0];
    for (size_t k = 1; k + 1 < n; ++k) {
      if ((pair[k] >> 32) < (best_v >> 32)) {
        best_v = pair[k];
        best = k;
      }
    }
    if (best_v == ~uint64_t{0}) break;
    ids[best] = static_cast<TokenId>(static_cast<uint32_t>(best_v));
    std::memmove(ids + best + 1, ids + best + 2, (n - best - 2) * sizeof(TokenId));
    if (best + 2 < n) std::memmove(pair + best + 1, pair + best + 2, (n - best - 3) * sizeof(uint64_t));
    --n;
    if (best > 0) pair[best - 1] = Merge(ids[best - 1], ids[best]);
    if (best + 1 < n) pair[best] = Merge(ids[best], ids[best + 1]);
  }
  out->insert(out->end(), ids, ids + n);
}

// Priority-queue merge over a linked list of symbols for long words (as HF's Word::merge_all).
void BpeModel::MergeLarge(std::string_view bytes, std::vector<TokenId>* out) const {
  struct Sym {
    TokenId id;
    int32_t prev, next;
  };
  struct Cand {
    uint32_t rank;
    int32_t pos;
    TokenId left, right, merged;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  const size_t n = bytes.size();
  std::vector<Sym> sym(n);
  for (size_t i = 0; i < n; ++i) {
    sym[i] = {byte_id_[static_cast<uint8_t>(bytes[i])], static_cast<int32_t>(i) - 1,
              i + 1 < n ? static_cast<int32_t>(i + 1) : -1};
  }
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto push = [&](int32_t pos) {
    const int32_t nx = sym[static_cast<size_t>(pos)].next;
    if (nx < 0) return;
    const uint64_t m = Merge(sym[static_cast<size_t>(pos)].id, sym[static_cast<size_t>(nx)].id);
    if (m == ~uint64_t{0}) return;
    heap.push({static_cast<uint32_t>(m >> 32), pos, sym[static_cast<size_t>(pos)].id, sym[static_cast<size_t>(nx)].id,
               static_cast<TokenId>(static_cast<uint32_t>(m))});
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i));
  std::vector<bool> dead(n, false);
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    Sym& s = sym[static_cast<size_t>(c.pos)];
    if (dead[static_cast<size_t>(c.pos)] || s.id != c.left || s.next < 0) continue;
    Sym& r = sym[static_cast<size_t>(s.next)];
    if (r.id != c.right) continue;
    s.id = c.merged;
    dead[static_cast<size_t>(s.next)] = true;
    s.next = r.next;
    if (s.next >= 0) sym[static_cast<size_t>(s.next)].prev = c.pos;
    if (s.prev >= 0) push(s.prev);
    push(c.pos);
  }
  for (int32_t i = 0; i >= 0; i = sym[static_cast<size_t>(i)].next) out->push_back(sym[static_cast<size_t>(i)].id);
}

}  // namespace distill::tok
