// The byte-level BPE trainer (tokenizers/bpe_trainer.h). What each test proves is in its comment; together: the
// tokenizer.json it writes is a real HF tokenizer (HF tokenizers loads it and encodes exactly as we do), every text
// round-trips, the vocabulary has the size asked for, digits are never merged, the output is deterministic, ties
// are broken as documented, bad options are refused clearly, and the folder writer makes a loadable model folder.
#include "tokenizers/bpe_trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "nlohmann/json.hpp"
#include "tests/testing/node_reference.h"
#include "tokenizers/bpe.h"
#include "tokenizers/model_folder.h"
#include "tokenizers/pretokenizer.h"
#include "tokenizers/tokenizer.h"

namespace distill::tok {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

const std::vector<std::string> kSpecials = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};

std::string TempDir(const std::string& name) { return testing::FreshDir("distill-bpetrain", name); }
using testing::ReadFile;

// A lexicon of `n` pseudo-English words made of common syllables (enough distinct words that a few thousand merges
// exist), the first ones real words.
std::vector<std::string> Lexicon(size_t n, uint32_t seed) {
  std::vector<std::string> words = {"the", "sum", "of", "and", "is", "what", "we", "add", "carry", "answer",
                                    "number", "first", "then", "result", "so", "because", "check", "twice"};
  const std::vector<std::string> syllables = {"ba", "ter", "con", "di", "ing", "tion", "re", "pro", "al", "ex",
                                              "un", "ly", "ment", "or", "st", "qu", "an", "el", "ous", "ph",
                                              "ca", "mi", "ne", "ro", "tu", "ve", "sh", "ck", "gr", "ow"};
  std::mt19937 rng(seed);
  while (words.size() < n) {
    std::string w;
    const int k = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < k; ++i) w += syllables[rng() % syllables.size()];
    if (rng() % 5 == 0) w[0] = static_cast<char>(w[0] - 'a' + 'A');
    words.push_back(std::move(w));
  }
  return words;
}

// A mixed corpus like the demo's: problem → answer arithmetic, English-like sentences (Zipf-distributed words),
// some Chinese, emoji, accented (NFC and NFD) Latin, code-ish text and whitespace runs.
std::vector<std::string> Corpus(int lines, uint32_t seed) {
  std::mt19937 rng(seed);
  static const std::vector<std::string> words = Lexicon(3000, 77);
  auto zipf = [&] {
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    return static_cast<size_t>(std::pow(static_cast<double>(words.size()), u)) - 1;
  };
  const std::vector<std::string> extras = {"我们先计算这个数字的和。", "答案是", "😀 good job 🎉", "naïve café",
                                           "nai\u0308ve cafe\u0301", "def f(x):\n    return x * 2\n",
                                           "tabs\tand  double  spaces", "Ünïcödé ßtraße", "e = mc²", "١٢٣ ٤٥"};
  std::vector<std::string> out;
  for (int i = 0; i < lines; ++i) {
    const int a = static_cast<int>(rng() % 10000), b = static_cast<int>(rng() % 10000);
    std::string s = absl::StrCat("Problem: what is ", a, " + ", b, "?\nAnswer: ", a + b, "\n");
    if (i % 3 == 0) {
      const int n = 4 + static_cast<int>(rng() % 12);
      for (int w = 0; w < n; ++w) absl::StrAppend(&s, w == 0 ? "" : " ", words[zipf()]);
      s += ".";
    }
    if (i % 7 == 0) absl::StrAppend(&s, " ", extras[rng() % extras.size()]);
    out.push_back(std::move(s));
  }
  return out;
}

BpeTrainOptions Options(int vocab_size) {
  BpeTrainOptions o;
  o.vocab_size = vocab_size;
  o.special_tokens = kSpecials;
  return o;
}

std::unique_ptr<Tokenizer> Parse(const std::string& json_text) {
  auto t = ParseTokenizerJson(json_text, "trained tokenizer.json");
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? std::move(*t) : nullptr;
}

// Texts the tokenizer was not trained on, special tokens inside text included.
std::vector<std::string> ProbeTexts() {
  std::vector<std::string> probes = Corpus(40, 999);
  probes.insert(probes.end(),
                {"", " ", "\n\n", "<|im_start|>user\nWhat is 12 + 30?<|im_end|>\n<|im_start|>assistant\n42<|im_end|>",
                 "text<|endoftext|>more<|endoftext|>", "<|im_end", "｜not special｜", "ZZZ never seen: Ωμέγα ∑∫ 𝔘𝔫𝔦",
                 "emoji 👩‍👩‍👧‍👦 and flags 🇫🇷🇯🇵", "中文没有出现过的句子：量子力学", "  leading and trailing  ",
                 "I'm sure they've said we'll go, it's DONE'S", "1234567890 00 007", "e\u0301 vs é (NFD vs NFC)",
                 "\r\nwindows\r\nlines", "\x7f\x01 control bytes"});
  return probes;
}

// Property: HF tokenizers (the Rust library, through npm) loads the produced tokenizer.json and encodes texts it
// was not trained on — arithmetic, English, Chinese, emoji, NFD text, special tokens inside text — to exactly the
// ids our tokenizer gives, so the demo's student vocabulary behaves identically in both stacks.
TEST(BpeTrainer, HfTokenizersLoadsItAndEncodesIdentically) {
#ifndef DISTILL_HAVE_HF_TOKENIZERS
  GTEST_SKIP() << "needs node and tools/npm (tools/setup.sh)";
#endif
  auto trained = TrainByteLevelBpe(Corpus(3000, 1), Options(800));
  ASSERT_TRUE(trained.ok()) << trained.status();
  const std::string dir = TempDir("hf");
  TokenizerFolderOptions folder;
  folder.eos_token = "<|im_end|>";
  folder.pad_token = "<|endoftext|>";
  ASSERT_TRUE(WriteTokenizerFolder(dir, *trained, folder).ok());
  auto ours = LoadModelTokenization(dir);
  ASSERT_TRUE(ours.ok()) << ours.status();
  const std::vector<std::string> probes = ProbeTexts();
  json texts = json::array();
  for (const auto& p : probes) texts.push_back(p);
  const json ref = testing::RunNodeReference("hf_chat.js", {{"tokenizer", dir + "/tokenizer.json"},
                                                            {"contexts", json::array()}, {"texts", texts}});
  ASSERT_EQ(ref["encoded"].size(), probes.size());
  for (size_t i = 0; i < probes.size(); ++i) {
    auto ids = ours->tokenizer->Encode(probes[i]);
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_EQ(json(*ids), ref["encoded"][i]) << "text " << i << ": " << json(probes[i]).dump();
  }
  // The special tokens inside text are single ids, after the BPE vocabulary.
  auto chat = ours->tokenizer->Encode("<|im_start|>x<|im_end|>");
  ASSERT_TRUE(chat.ok());
  EXPECT_EQ(chat->front(), 798);
  EXPECT_EQ(chat->back(), 799);
}

// Property: decode(encode(x)) == x for every valid UTF-8 text, seen or unseen (the 256 byte tokens cover every
// byte, nothing is normalized away except NFD → NFC, which the probes contain only in NFC-stable form here).
TEST(BpeTrainer, DecodeOfEncodeIsIdentity) {
  auto trained = TrainByteLevelBpe(Corpus(2000, 2), Options(600));
  ASSERT_TRUE(trained.ok()) << trained.status();
  auto t = Parse(*trained);
  ASSERT_NE(t, nullptr);
  std::vector<std::string> texts = Corpus(300, 3);
  for (const auto& p : ProbeTexts())
    if (p.find("\u0301") == std::string::npos && p.find("\u0308") == std::string::npos) texts.push_back(p);
  // Random code points from all planes.
  std::mt19937 rng(5);
  for (int k = 0; k < 200; ++k) {
    std::string s;
    for (int c = 0; c < 20; ++c) {
      uint32_t cp = rng() % 0x110000;
      if (cp >= 0xD800 && cp < 0xE000) cp = 'x';
      if (cp >= 0x300 && cp < 0x370) cp = 'y';  // combining marks could recompose under NFC
      std::string one;
      if (cp < 0x80) one = std::string(1, static_cast<char>(cp));
      else if (cp < 0x800) one = {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
      else if (cp < 0x10000)
        one = {static_cast<char>(0xE0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
               static_cast<char>(0x80 | (cp & 0x3F))};
      else
        one = {static_cast<char>(0xF0 | (cp >> 18)), static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
               static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), static_cast<char>(0x80 | (cp & 0x3F))};
      s += one;
    }
    texts.push_back(s);
  }
  int checked = 0;
  for (const std::string& text : texts) {
    auto ids = t->Encode(text);
    ASSERT_TRUE(ids.ok()) << ids.status();
    auto back = t->Decode(*ids);
    ASSERT_TRUE(back.ok());
    // NFC may legitimately change a random string (e.g. Hangul jamo compose); compare with what NFC keeps.
    if (*back != text) {
      auto again = t->Encode(*back);
      ASSERT_TRUE(again.ok());
      EXPECT_EQ(*again, *ids) << "decode is not stable for " << json(text).dump();
      continue;
    }
    ++checked;
  }
  EXPECT_GT(checked, static_cast<int>(texts.size()) * 9 / 10);
}

// Property: the vocabulary (BPE pieces + special tokens) has exactly the size asked for when the corpus has
// enough repeated pairs, and stops short (never padded) when min_frequency runs out of pairs.
TEST(BpeTrainer, VocabularySizeIsExactlyAsAsked) {
  const std::vector<std::string> corpus = Corpus(2000, 4);
  for (int size : {259, 300, 512, 1000}) {
    auto trained = TrainByteLevelBpe(corpus, Options(size));
    ASSERT_TRUE(trained.ok()) << trained.status();
    auto t = Parse(*trained);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->VocabSize(), static_cast<size_t>(size));
    const json j = json::parse(*trained);
    EXPECT_EQ(j["model"]["vocab"].size() + j["added_tokens"].size(), static_cast<size_t>(size));
  }
  BpeTrainOptions tiny = Options(5000);
  tiny.min_frequency = 2;
  auto small = TrainByteLevelBpe({"abc abc xyz"}, tiny);
  ASSERT_TRUE(small.ok());
  auto t = Parse(*small);
  ASSERT_NE(t, nullptr);
  // "abc" twice: a+b, ab+c, then (Ġ,abc) once — below min_frequency. 256 + 2 merges + 3 specials.
  EXPECT_EQ(t->VocabSize(), 261u);
}

// Property: no vocabulary piece joins a digit with anything (Qwen2's split isolates every \p{N}), so numbers are
// always spelled digit by digit — what lets a tiny model learn column arithmetic.
TEST(BpeTrainer, DigitsStaySingleTokens) {
  auto trained = TrainByteLevelBpe(Corpus(3000, 6), Options(1000));
  ASSERT_TRUE(trained.ok());
  const json j = json::parse(*trained);
  int with_digits = 0;
  for (const auto& [piece, id] : j["model"]["vocab"].items()) {
    auto bytes = ByteLevelToBytes(piece);
    ASSERT_TRUE(bytes.has_value()) << piece;
    if (bytes->find_first_of("0123456789") != std::string::npos) {
      ++with_digits;
      EXPECT_EQ(bytes->size(), 1u) << "piece '" << *bytes << "' joins a digit with something";
    }
  }
  EXPECT_EQ(with_digits, 10);
  auto t = Parse(*trained);
  auto ids = t->Encode("1234567890");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->size(), 10u);
}

// Property: the same texts and options give byte-identical tokenizer.json (no dependence on hash-map order,
// thread timing or addresses), and a different corpus gives a different one.
TEST(BpeTrainer, Deterministic) {
  const std::vector<std::string> corpus = Corpus(2000, 7);
  auto a = TrainByteLevelBpe(corpus, Options(700));
  auto b = TrainByteLevelBpe(corpus, Options(700));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  auto c = TrainByteLevelBpe(Corpus(2000, 8), Options(700));
  ASSERT_TRUE(c.ok());
  EXPECT_NE(*a, *c);
}

// Property: the most frequent pair is merged first, ties go to the smallest (left id, right id) — here "a b"
// (ids of 'a' < 'c') before "c d" — and the file has Qwen2's layout (NFC, Split+ByteLevel, byte alphabet order).
TEST(BpeTrainer, MergeOrderAndLayout) {
  BpeTrainOptions o;
  o.vocab_size = 258;
  auto trained = TrainByteLevelBpe({"cdcd", "abab"}, o);
  ASSERT_TRUE(trained.ok()) << trained.status();
  const json j = json::parse(*trained);
  EXPECT_EQ(j["model"]["merges"], json::parse(R"([["a","b"],["c","d"]])"));
  EXPECT_EQ(j["model"]["vocab"]["!"], 0);
  EXPECT_EQ(j["model"]["vocab"]["Ā"], 188);  // byte 0x00: first of the remapped bytes, after the 188 printable ones
  EXPECT_EQ(j["model"]["vocab"]["ab"], 256);
  EXPECT_EQ(j["model"]["type"], "BPE");
  EXPECT_EQ(j["normalizer"]["type"], "NFC");
  EXPECT_EQ(j["pre_tokenizer"]["pretokenizers"][0]["behavior"], "Isolated");
  EXPECT_EQ(j["pre_tokenizer"]["pretokenizers"][1]["type"], "ByteLevel");
  EXPECT_EQ(j["decoder"]["type"], "ByteLevel");
  EXPECT_TRUE(j["added_tokens"].empty());
  // A more frequent pair beats the tie order.
  auto freq = TrainByteLevelBpe({"ab", "cd cd cd"}, o);
  ASSERT_TRUE(freq.ok());
  EXPECT_EQ(json::parse(*freq)["model"]["merges"][0], json::parse(R"(["c","d"])"));
}

// Property: the incremental pair counting gives exactly the merges of the textbook algorithm that recounts every
// pair of every word before each merge (same pre-tokens, same tie order), so the speed-up changes nothing.
TEST(BpeTrainer, IncrementalCountsMatchRecountingEveryStep) {
  std::vector<std::string> corpus;  // NFC text only, so the split below sees what the trainer sees
  for (std::string& text : Corpus(400, 12))
    if (text.find("\u0301") == std::string::npos && text.find("\u0308") == std::string::npos)
      corpus.push_back(std::move(text));
  BpeTrainOptions o;
  o.vocab_size = 256 + 300;
  auto trained = TrainByteLevelBpe(corpus, o);
  ASSERT_TRUE(trained.ok());
  const json j = json::parse(*trained);

  // Pre-tokens: the file's own split pattern (ByteLevel after it does not split further).
  auto split = CompileSplitPattern(j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"].get<std::string>(), false);
  ASSERT_TRUE(split.ok());
  std::map<std::string, int64_t> word_counts;
  for (const std::string& text : corpus) {
    MatchList m;
    (*split)->FindAll(text, &m);
    for (auto [b, e] : m) ++word_counts[text.substr(b, e - b)];
  }
  json vocab = json::object();
  for (const auto& [piece, id] : j["model"]["vocab"].items())
    if (id.get<int>() < 256) vocab[piece] = id;
  // Recount everything each step.
  std::map<std::string, int> id_of;
  std::vector<std::string> piece_of;
  for (const auto& [piece, id] : vocab.items()) id_of[*ByteLevelToBytes(piece)] = id.get<int>();
  piece_of.resize(256);
  for (const auto& [bytes, id] : id_of) piece_of[id] = bytes;
  std::vector<std::pair<std::vector<int>, int64_t>> words;
  for (const auto& [w, c] : word_counts) {
    std::vector<int> ids;
    for (char ch : w) ids.push_back(id_of[std::string(1, ch)]);
    words.push_back({ids, c});
  }
  json merges = json::array();
  std::set<std::pair<int, int>> merged;
  while (piece_of.size() < 556) {
    std::map<std::pair<int, int>, int64_t> counts;
    for (const auto& [ids, c] : words)
      for (size_t k = 0; k + 1 < ids.size(); ++k) counts[{ids[k], ids[k + 1]}] += c;
    std::pair<int, int> best{-1, -1};
    int64_t best_count = 0;
    for (const auto& [p, c] : counts)
      if (c > best_count) best = p, best_count = c;  // map order: the smallest pair wins ties
    if (best_count < 2) break;
    const std::string joined = piece_of[best.first] + piece_of[best.second];
    int id;
    if (auto it = id_of.find(joined); it != id_of.end()) {
      id = it->second;
    } else {
      id = static_cast<int>(piece_of.size());
      id_of[joined] = id;
      piece_of.push_back(joined);
    }
    if (merged.insert(best).second)
      merges.push_back({BytesToByteLevel(piece_of[best.first]), BytesToByteLevel(piece_of[best.second])});
    for (auto& [ids, c] : words) {
      std::vector<int> out;
      for (size_t k = 0; k < ids.size();) {
        if (k + 1 < ids.size() && ids[k] == best.first && ids[k + 1] == best.second) {
          out.push_back(id);
          k += 2;
        } else {
          out.push_back(ids[k++]);
        }
      }
      ids = out;
    }
  }
  EXPECT_GT(merges.size(), 250u);
  EXPECT_EQ(j["model"]["merges"].size(), merges.size());
  EXPECT_EQ(j["model"]["merges"], merges);
}

// Property: special tokens are never learned as merges even when the corpus is full of them, and they are cut out
// of the training text (their pieces do not leak into merges like "<|").
TEST(BpeTrainer, SpecialTokensAreNotLearned) {
  std::vector<std::string> corpus(500, "<|im_start|>hi<|im_end|><|endoftext|>");
  auto trained = TrainByteLevelBpe(corpus, Options(400));
  ASSERT_TRUE(trained.ok());
  const json j = json::parse(*trained);
  for (const auto& [piece, id] : j["model"]["vocab"].items()) {
    EXPECT_EQ(piece.find("<|"), std::string::npos) << piece;
    EXPECT_EQ(piece.find("|>"), std::string::npos) << piece;
  }
  EXPECT_EQ(j["added_tokens"].size(), 3u);
  EXPECT_EQ(j["added_tokens"][0]["id"], j["model"]["vocab"].size());
  EXPECT_EQ(j["added_tokens"][0]["content"], "<|endoftext|>");
  EXPECT_EQ(j["added_tokens"][2]["content"], "<|im_end|>");
  EXPECT_TRUE(j["added_tokens"][2]["special"].get<bool>());
}

// Property: bad options and inputs are refused with an error that says what is wrong.
TEST(BpeTrainer, RefusesBadOptions) {
  auto too_small = TrainByteLevelBpe({"abc"}, Options(258));
  ASSERT_FALSE(too_small.ok());
  EXPECT_EQ(too_small.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(too_small.status().message().find("vocab_size 258 is too small"), std::string::npos)
      << too_small.status();
  EXPECT_NE(too_small.status().message().find("need 259"), std::string::npos) << too_small.status();
  EXPECT_TRUE(TrainByteLevelBpe({"abc"}, Options(259)).ok());

  BpeTrainOptions dup = Options(400);
  dup.special_tokens.push_back("<|im_end|>");
  auto d = TrainByteLevelBpe({"abc"}, dup);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("listed twice"), std::string::npos) << d.status();

  BpeTrainOptions empty = Options(400);
  empty.special_tokens.push_back("");
  EXPECT_NE(TrainByteLevelBpe({"abc"}, empty).status().message().find("special_tokens[3]: empty"),
            std::string::npos);

  BpeTrainOptions byte_char = Options(400);
  byte_char.special_tokens.push_back("!");
  EXPECT_NE(TrainByteLevelBpe({"abc"}, byte_char).status().message().find("byte-level character"),
            std::string::npos);

  BpeTrainOptions freq = Options(400);
  freq.min_frequency = 0;
  EXPECT_FALSE(TrainByteLevelBpe({"abc"}, freq).ok());

  auto bad_utf8 = TrainByteLevelBpe({"fine", "bad \xC3\x28 byte"}, Options(400));
  ASSERT_FALSE(bad_utf8.ok());
  EXPECT_NE(bad_utf8.status().message().find("text 1: invalid UTF-8 at byte 4"), std::string::npos)
      << bad_utf8.status();
}

// Property: max_token_bytes caps the merged pieces' length.
TEST(BpeTrainer, MaxTokenBytes) {
  BpeTrainOptions o = Options(600);
  o.max_token_bytes = 3;
  auto trained = TrainByteLevelBpe(Corpus(1000, 9), o);
  ASSERT_TRUE(trained.ok());
  const json j = json::parse(*trained);
  for (const auto& [piece, id] : j["model"]["vocab"].items()) EXPECT_LE(ByteLevelToBytes(piece)->size(), 3u);
}

// Property: a few MB of text with a 4096 vocabulary trains in seconds (incremental pair counts), not minutes.
TEST(BpeTrainer, FastEnoughForTheDemo) {
  std::vector<std::string> corpus = Corpus(60000, 10);
  size_t bytes = 0;
  for (const auto& s : corpus) bytes += s.size();
  const auto start = std::chrono::steady_clock::now();
  auto trained = TrainByteLevelBpe(corpus, Options(4096));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(trained.ok());
  std::printf("trained %.1f MB, vocab 4096 (%zu merges) in %.2f s\n", bytes / 1e6,
              json::parse(*trained)["model"]["merges"].size(), seconds);
  EXPECT_GT(bytes, 2'000'000u);
  EXPECT_LT(seconds, 30.0);
}

// Property: the folder writer makes a model folder that LoadModelTokenization accepts (tokenizer_config's
// added_tokens_decoder matches tokenizer.json, eos/pad resolve, the template compiles), written without temp
// leftovers; special tokens that are not added tokens are refused.
TEST(BpeTrainer, WritesALoadableTokenizerFolder) {
  auto trained = TrainByteLevelBpe(Corpus(500, 11), Options(400));
  ASSERT_TRUE(trained.ok());
  const std::string dir = TempDir("folder");
  TokenizerFolderOptions o;
  o.eos_token = "<|im_end|>";
  o.pad_token = "<|endoftext|>";
  o.model_max_length = 2048;
  o.chat_template =
      "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
      "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
  ASSERT_TRUE(WriteTokenizerFolder(dir, *trained, o).ok());
  EXPECT_EQ(ReadFile(dir + "/tokenizer.json"), *trained);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    ++files;
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
  }
  EXPECT_EQ(files, 2u);
  auto model = LoadModelTokenization(dir);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_FALSE(model->add_bos_token);
  EXPECT_FALSE(model->bos_token.has_value());
  EXPECT_EQ(model->eos_token, "<|im_end|>");
  ASSERT_EQ(model->eos_token_ids.size(), 1u);
  EXPECT_EQ(model->eos_token_ids[0], 399);
  ASSERT_TRUE(model->chat_template.has_value());
  auto rendered = RenderChat(*model, json::array({{{"role", "user"}, {"content", "1+1?"}}}), true);
  ASSERT_TRUE(rendered.ok()) << rendered.status();
  EXPECT_EQ(*rendered, "<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n");
  const json config = json::parse(ReadFile(dir + "/tokenizer_config.json"));
  EXPECT_EQ(config["model_max_length"], 2048);
  EXPECT_EQ(config["added_tokens_decoder"]["397"]["content"], "<|endoftext|>");

  TokenizerFolderOptions bad;
  bad.eos_token = "</s>";
  auto refused = WriteTokenizerFolder(TempDir("bad"), *trained, bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("eos_token \"</s>\" is not an added token"), std::string::npos) << refused;
}

}  // namespace
}  // namespace distill::tok
