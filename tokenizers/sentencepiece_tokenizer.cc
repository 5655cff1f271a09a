// SentencePiece backend of distill::tok::Tokenizer (Llama-2 / Mistral style tokenizer.model files).
//
// Encoding follows the original (Meta / mistral-common) pipelines and HF's legacy slow tokenizer:
//  - No BOS/EOS is added.
//  - Special pieces (SentencePiece CONTROL pieces such as <s>, </s>, and the UNKNOWN piece <unk>) are not
//    matched in text by libsentencepiece itself. We match them in the raw text (leftmost, longest first), emit
//    their ids, and encode the text between matches with libsentencepiece, one call per segment — so each
//    segment gets the model's dummy prefix ("▁") as if it were encoded on its own.
//  - USER_DEFINED pieces (e.g. <think>) are matched by libsentencepiece itself (before normalization), so text
//    without special pieces encodes exactly as SentencePieceProcessor::EncodeAsIds does.
// Decoding skips special pieces when asked; otherwise they are written as their piece text.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
// libsentencepiece's headers declare `namespace absl { using std::string_view; }`, which clashes with the
// system Abseil (whose absl::string_view is its own class). Its API only needs a std::string_view alias, so
// the headers are included with their `absl` renamed; the types (and symbols) are unchanged.
#define absl distill_sentencepiece_absl
#include "sentencepiece_processor.h"
#undef absl
#include "tokenizers/tokenizer.h"

namespace distill::tok {
namespace {

// Returns the byte offset of the first invalid UTF-8 sequence in `s`, or nullopt when `s` is valid UTF-8
// (no overlong forms, no surrogates, nothing above U+10FFFF, no truncated sequences).
std::optional<size_t> FirstInvalidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;   // overlong
      if (c == 0xED) hi = 0x9F;   // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;   // overlong
      if (c == 0xF4) hi = 0x8F;   // above U+10FFFF
    } else {
      return i;
    }
    if (i + len > n) return i;
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    }
    i += len;
  }
  return std::nullopt;
}

// Minimal protobuf wire-format reader, used only to learn what libsentencepiece's public API does not expose
// (which pieces are USER_DEFINED, and the model type). The input was already validated by libsentencepiece.
class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }

  bool Varint(uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return false;
      const auto b = static_cast<unsigned char>(data_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        *out = v;
        return true;
      }
    }
    return false;
  }

  // Reads one field: its number, wire type, and (for varints) value or (for length-delimited) payload.
  bool Field(uint32_t* number, uint32_t* wire_type, uint64_t* varint, std::string_view* payload) {
    uint64_t key = 0;
    if (!Varint(&key)) return false;
    *number = static_cast<uint32_t>(key >> 3);
    *wire_type = static_cast<uint32_t>(key & 7);
    switch (*wire_type) {
      case 0:
        return Varint(varint);
      case 1:
        return Skip(8);
      case 5:
        return Skip(4);
      case 2: {
        uint64_t len = 0;
        if (!Varint(&len) || len > data_.size() - pos_) return false;
        *payload = data_.substr(pos_, static_cast<size_t>(len));
        pos_ += static_cast<size_t>(len);
        return true;
      }
      default:
        return false;  // groups are not used by sentencepiece_model.proto
    }
  }

 private:
  bool Skip(size_t n) {
    if (n > data_.size() - pos_) return false;
    pos_ += n;
    return true;
  }
  std::string_view data_;
  size_t pos_ = 0;
};

// ModelProto.SentencePiece.Type values (sentencepiece_model.proto).
constexpr uint64_t kTypeUserDefined = 4;

struct ProtoFacts {
  std::vector<uint64_t> piece_types;  // one per piece, NORMAL (1) when absent
  std::string model_type = "unigram";
};

bool ParseProtoFacts(std::string_view serialized, ProtoFacts* facts) {
  WireReader model(serialized);
  while (!model.done()) {
    uint32_t number = 0, wire = 0;
    uint64_t varint = 0;
    std::string_view payload;
    if (!model.Field(&number, &wire, &varint, &payload)) return false;
    if (number == 1 && wire == 2) {  // repeated SentencePiece pieces = 1
      uint64_t type = 1;
      WireReader piece(payload);
      while (!piece.done()) {
        uint32_t n = 0, w = 0;
        uint64_t v = 0;
        std::string_view p;
        if (!piece.Field(&n, &w, &v, &p)) return false;
        if (n == 3 && w == 0) type = v;
      }
      facts->piece_types.push_back(type);
    } else if (number == 2 && wire == 2) {  // TrainerSpec trainer_spec = 2; model_type = 3
      WireReader spec(payload);
      while (!spec.done()) {
        uint32_t n = 0, w = 0;
        uint64_t v = 0;
        std::string_view p;
        if (!spec.Field(&n, &w, &v, &p)) return false;
        if (n == 3 && w == 0) {
          static constexpr const char* kNames[] = {"?", "unigram", "bpe", "word", "char"};
          facts->model_type = v < 5 ? kNames[v] : absl::StrCat("type", v);
        }
      }
    }
  }
  return true;
}

class SentencePieceTokenizer final : public Tokenizer {
 public:
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Load(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      return absl::NotFoundError(absl::StrCat(path, ": no such SentencePiece model file"));
    }
    if (!std::filesystem::is_regular_file(path, ec)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file, not a SentencePiece model"));
    }
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    if (!in.good() && !in.eof()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read SentencePiece model file"));
    }
    const std::string bytes = buffer.str();
    if (bytes.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": empty file, not a SentencePiece model"));
    }
    auto tok = std::unique_ptr<SentencePieceTokenizer>(new SentencePieceTokenizer());
    tok->name_ = std::filesystem::path(path).filename().string();
    const auto status = tok->sp_.LoadFromSerializedProto(bytes);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": not a valid SentencePiece model: ", status.ToString()));
    }
    ProtoFacts facts;
    const int size = tok->sp_.GetPieceSize();
    if (!ParseProtoFacts(bytes, &facts) || facts.piece_types.size() != static_cast<size_t>(size) || size <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": not a valid SentencePiece model (piece table)"));
    }
    tok->model_type_ = facts.model_type;
    tok->special_.assign(static_cast<size_t>(size), false);
    for (int id = 0; id < size; ++id) {
      const bool special = tok->sp_.IsControl(id) || tok->sp_.IsUnknown(id);
      const bool user = facts.piece_types[static_cast<size_t>(id)] == kTypeUserDefined;
      if (!special && !user) continue;
      AddedToken added;
      added.content = tok->sp_.IdToPiece(id);
      added.id = id;
      added.special = special;
      tok->added_.push_back(added);
      if (special) {
        tok->special_[static_cast<size_t>(id)] = true;
        if (!added.content.empty()) tok->matchable_.push_back({added.content, id});
      }
    }
    // Longest first, so that at one position the longest special piece wins.
    std::stable_sort(tok->matchable_.begin(), tok->matchable_.end(),
                     [](const Special& a, const Special& b) { return a.text.size() > b.text.size(); });
    return std::unique_ptr<Tokenizer>(std::move(tok));
  }

  absl::StatusOr<std::vector<TokenId>> Encode(std::string_view text) const override {
    if (const auto bad = FirstInvalidUtf8(text)) {
      return absl::InvalidArgumentError(absl::StrFormat("invalid UTF-8 at byte offset %d", *bad));
    }
    std::vector<TokenId> out;
    size_t segment_start = 0;
    size_t i = 0;
    while (i < text.size()) {
      const Special* hit = nullptr;
      for (const Special& s : matchable_) {
        if (text.compare(i, s.text.size(), s.text) == 0) {
          hit = &s;
          break;
        }
      }
      if (hit == nullptr) {
        ++i;
        continue;
      }
      if (auto st = EncodeSegment(text.substr(segment_start, i - segment_start), &out); !st.ok()) return st;
      out.push_back(hit->id);
      i += hit->text.size();
      segment_start = i;
    }
    if (auto st = EncodeSegment(text.substr(segment_start), &out); !st.ok()) return st;
    return out;
  }

  absl::StatusOr<std::string> Decode(std::span<const TokenId> ids, bool skip_special) const override {
    std::string out;
    std::vector<int> run;
    auto flush = [&]() -> absl::Status {
      if (run.empty()) return absl::OkStatus();
      std::string piece_text;
      const auto st = sp_.Decode(run, &piece_text);
      if (!st.ok()) return absl::InternalError(absl::StrCat("sentencepiece decode failed: ", st.ToString()));
      out += piece_text;
      run.clear();
      return absl::OkStatus();
    };
    for (size_t k = 0; k < ids.size(); ++k) {
      const TokenId id = ids[k];
      if (id < 0 || static_cast<size_t>(id) >= special_.size()) {
        return absl::OutOfRangeError(
            absl::StrFormat("token id %d at position %d is out of range (vocabulary size %d)", id, k, special_.size()));
      }
      if (!special_[static_cast<size_t>(id)]) {
        run.push_back(id);
        continue;
      }
      if (auto st = flush(); !st.ok()) return st;
      if (!skip_special) out += sp_.IdToPiece(id);
    }
    if (auto st = flush(); !st.ok()) return st;
    return out;
  }

  std::optional<std::string> IdToPiece(TokenId id) const override {
    if (id < 0 || static_cast<size_t>(id) >= special_.size()) return std::nullopt;
    return sp_.IdToPiece(id);
  }

  std::optional<TokenId> PieceToId(std::string_view piece) const override {
    const int id = sp_.PieceToId(piece);
    if (id < 0 || static_cast<size_t>(id) >= special_.size()) return std::nullopt;
    // libsentencepiece maps unknown pieces to the unk id; only the unk piece itself maps there.
    if (sp_.IsUnknown(id) && sp_.IdToPiece(id) != piece) return std::nullopt;
    return id;
  }

  size_t VocabSize() const override { return special_.size(); }
  const std::vector<AddedToken>& AddedTokens() const override { return added_; }
  bool IsSpecial(TokenId id) const override {
    return id >= 0 && static_cast<size_t>(id) < special_.size() && special_[static_cast<size_t>(id)];
  }
  // The bytes the token stands for in running text: "▁" (U+2581) as a space, byte pieces <0xNN> as that byte,
  // special pieces as their text (as Decode without skip_special writes them). Note that Decode drops the
  // dummy-prefix space at the start of each encoded segment, so the concatenation of TokenBytes over
  // Encode(x) is " " + x (not x) for models with add_dummy_prefix.
  std::string TokenBytes(TokenId id) const override {
    if (id < 0 || static_cast<size_t>(id) >= special_.size()) return std::string();
    const std::string& piece = sp_.IdToPiece(id);
    if (special_[static_cast<size_t>(id)]) return piece;
    if (sp_.IsByte(id) && piece.size() == 6 && piece.starts_with("<0x") && piece.back() == '>') {
      int value = 0;
      for (size_t k = 3; k < 5; ++k) {
        const char c = piece[k];
        value = value * 16 + (c >= '0' && c <= '9' ? c - '0' : (c >= 'A' && c <= 'F' ? c - 'A' + 10 : c - 'a' + 10));
      }
      return std::string(1, static_cast<char>(value));
    }
    return absl::StrReplaceAll(piece, {{"\xe2\x96\x81", " "}});
  }

  std::string Describe() const override {
    return absl::StrFormat("sentencepiece(%s, %s, vocab=%d)", name_, model_type_, special_.size());
  }

 private:
  struct Special {
    std::string text;
    TokenId id;
  };

  SentencePieceTokenizer() = default;

  absl::Status EncodeSegment(std::string_view segment, std::vector<TokenId>* out) const {
    if (segment.empty()) return absl::OkStatus();
    std::vector<int> ids;
    const auto st = sp_.Encode(segment, &ids);
    if (!st.ok()) return absl::InternalError(absl::StrCat("sentencepiece encode failed: ", st.ToString()));
    out->insert(out->end(), ids.begin(), ids.end());
    return absl::OkStatus();
  }

  sentencepiece::SentencePieceProcessor sp_;
  std::string name_;
  std::string model_type_;
  std::vector<bool> special_;  // per id: CONTROL or UNKNOWN
  std::vector<AddedToken> added_;
  std::vector<Special> matchable_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePiece(const std::string& path) {
  return SentencePieceTokenizer::Load(path);
}

}  // namespace distill::tok
