// SentencePiece backend: the fixture model is trained by the test itself (tiny BPE, identity normalization,
// byte fallback, user-defined <think>/</think>, an extra control piece <ctrl>) into a temp folder.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "gtest/gtest.h"
// libsentencepiece's headers declare `namespace absl { using std::string_view; }`, which clashes with the
// system Abseil (whose absl::string_view is its own class). Its API only needs a std::string_view alias, so
// the headers are included with their `absl` renamed; the types (and symbols) are unchanged.
#define absl distill_sentencepiece_absl
#include "sentencepiece_processor.h"
#include "sentencepiece_trainer.h"
#undef absl
#include "nlohmann/json.hpp"
#include "tokenizers/model_folder.h"
#include "tokenizers/tokenizer.h"
#include "tokenizers/training_view.h"

namespace distill::tok {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> SampleTexts() {
  return {
      "Hello world, this is a small test.",
      "The quick brown fox jumps over the lazy dog 12345 times.",
      "Bonjour le monde, ceci est un petit essai à Noël.",
      "Grüße aus München über die Straße.",
      "日本語のテキストを少しだけ書きます。",
      "中文文本用于测试分词器。",
      "Привет, мир! Это проверка.",
      "emoji 🤖 and symbols ∑ ≠ √",
      "<think>\nLet me reason step by step.\n</think>\n\nThe answer is 42.",
      "  leading and  double  spaces ",
  };
}

class SentencePieceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("distill_sp_test_" + std::to_string(::getpid())));
    fs::create_directories(*dir_);
    const fs::path corpus = *dir_ / "corpus.txt";
    {
      std::ofstream out(corpus);
      for (int rep = 0; rep < 40; ++rep) {
        for (const auto& t : SampleTexts()) {
          // The trainer reads one sentence per line; keep newlines out of training sentences.
          std::string line = t;
          for (char& c : line) {
            if (c == '\n') c = ' ';
          }
          out << line << " " << rep << "\n";
        }
      }
    }
    const std::unordered_map<std::string, std::string> args = {
        {"input", corpus.string()},
        {"model_prefix", (*dir_ / "m").string()},
        {"model_type", "bpe"},
        {"vocab_size", "400"},
        {"hard_vocab_limit", "false"},
        {"character_coverage", "1.0"},
        {"byte_fallback", "true"},
        {"normalization_rule_name", "identity"},
        {"remove_extra_whitespaces", "false"},
        {"user_defined_symbols", "<think>,</think>"},
        {"control_symbols", "<ctrl>"},
        {"minloglevel", "2"},
    };
    const auto status = sentencepiece::SentencePieceTrainer::Train(args);
    ASSERT_TRUE(status.ok()) << status.ToString();
    model_path_ = new std::string((*dir_ / "m.model").string());
  }

  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(*dir_, ec);
    delete dir_;
    delete model_path_;
  }

  void SetUp() override {
    ASSERT_NE(model_path_, nullptr);
    auto loaded = LoadSentencePiece(*model_path_);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    tok_ = std::move(*loaded);
    ASSERT_TRUE(sp_.Load(*model_path_).ok());
  }

  static fs::path* dir_;
  static std::string* model_path_;
  std::unique_ptr<Tokenizer> tok_;
  sentencepiece::SentencePieceProcessor sp_;
};

fs::path* SentencePieceTest::dir_ = nullptr;
std::string* SentencePieceTest::model_path_ = nullptr;

std::vector<TokenId> Ids(const std::vector<int>& v) { return {v.begin(), v.end()}; }

// Property: on text without control pieces (user-defined pieces included), ids equal libsentencepiece's own.
TEST_F(SentencePieceTest, IdsEqualProcessorOnTextWithoutControlPieces) {
  for (const auto& text : SampleTexts()) {
    auto ids = tok_->Encode(text);
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_EQ(*ids, Ids(sp_.EncodeAsIds(text))) << text;
  }
  auto empty = tok_->Encode("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

// Property: user-defined pieces found in text (matched by libsentencepiece) become single ids.
TEST_F(SentencePieceTest, UserDefinedPiecesAreSingleIds) {
  const auto think = tok_->PieceToId("<think>");
  const auto end_think = tok_->PieceToId("</think>");
  ASSERT_TRUE(think && end_think);
  auto ids = tok_->Encode("a<think>b</think>c");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(std::count(ids->begin(), ids->end(), *think), 1);
  EXPECT_EQ(std::count(ids->begin(), ids->end(), *end_think), 1);
}

// Property: decode(encode(x)) == x for text the identity normalizer leaves unchanged (special pieces included).
TEST_F(SentencePieceTest, RoundTrip) {
  std::vector<std::string> texts = SampleTexts();
  texts.push_back("<s>[INST] hi [/INST] there</s>");
  texts.push_back("x<ctrl>y<unk>z");
  texts.push_back("unseen chars: ℵ ☃ 🦀 🧪");  // byte fallback
  for (const auto& text : texts) {
    auto ids = tok_->Encode(text);
    ASSERT_TRUE(ids.ok()) << ids.status();
    auto back = tok_->Decode(*ids);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, text);
  }
}

// Property: control pieces (<s>, </s>, extra control symbols) and <unk> in text become single ids; the text
// between them is encoded as separate segments, exactly like libsentencepiece encodes each segment alone.
TEST_F(SentencePieceTest, ControlPiecesInTextBecomeSingleIds) {
  const TokenId bos = sp_.bos_id(), eos = sp_.eos_id(), unk = sp_.unk_id();
  const TokenId ctrl = sp_.PieceToId("<ctrl>");
  ASSERT_TRUE(sp_.IsControl(ctrl));
  auto ids = tok_->Encode("<s>Hello world</s>");
  ASSERT_TRUE(ids.ok());
  std::vector<TokenId> want = {bos};
  for (int id : sp_.EncodeAsIds("Hello world")) want.push_back(id);
  want.push_back(eos);
  EXPECT_EQ(*ids, want);

  ids = tok_->Encode("a<ctrl><ctrl>b<unk>");
  ASSERT_TRUE(ids.ok());
  want.clear();
  for (int id : sp_.EncodeAsIds("a")) want.push_back(id);
  want.insert(want.end(), {ctrl, ctrl});
  for (int id : sp_.EncodeAsIds("b")) want.push_back(id);
  want.push_back(unk);
  EXPECT_EQ(*ids, want);

  // libsentencepiece itself does not match control pieces: proves the splitting is ours.
  const auto raw = sp_.EncodeAsIds("<s>");
  EXPECT_NE(Ids(raw), std::vector<TokenId>{bos});
  // A partial control piece is ordinary text.
  ids = tok_->Encode("<s");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, Ids(sp_.EncodeAsIds("<s")));
}

// Property: Decode(skip_special) drops control and unk pieces; without it they are written as their text.
TEST_F(SentencePieceTest, SkipSpecial) {
  const std::string body = "Bonjour <think>\nok\n</think> fin";
  auto ids = tok_->Encode("<s>" + body + "</s>");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->front(), sp_.bos_id());
  EXPECT_EQ(ids->back(), sp_.eos_id());
  auto skipped = tok_->Decode(*ids, /*skip_special=*/true);
  ASSERT_TRUE(skipped.ok());
  EXPECT_EQ(*skipped, body);  // user-defined pieces are not special: kept
  auto kept = tok_->Decode(*ids, /*skip_special=*/false);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, "<s>" + body + "</s>");
}

// Property: invalid UTF-8 is an InvalidArgument error naming the byte offset of the first bad sequence.
TEST_F(SentencePieceTest, InvalidUtf8NamesOffset) {
  struct Case {
    std::string text;
    size_t offset;
  };
  const std::vector<Case> cases = {
      {"ab\xff" "cd", 2},
      {"hé\xe6\x97", 3},                 // truncated 3-byte sequence at the end
      {"\xc0\xaf", 0},                   // overlong '/'
      {"ok \xed\xa0\x80", 3},            // surrogate
      {"<s>\xf4\x90\x80\x80", 3},        // above U+10FFFF
      {"日本\x80", 6},                   // stray continuation byte
  };
  for (const auto& c : cases) {
    auto ids = tok_->Encode(c.text);
    ASSERT_FALSE(ids.ok());
    EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(ids.status().message().find("byte offset " + std::to_string(c.offset)), std::string::npos)
        << ids.status();
  }
}

// Property: vocabulary accessors agree with libsentencepiece; added tokens are control/unk (special) and
// user-defined (not special) pieces in id order.
TEST_F(SentencePieceTest, VocabularyAccessors) {
  EXPECT_EQ(tok_->VocabSize(), static_cast<size_t>(sp_.GetPieceSize()));
  for (int id = 0; id < sp_.GetPieceSize(); ++id) {
    const auto piece = tok_->IdToPiece(id);
    ASSERT_TRUE(piece.has_value());
    EXPECT_EQ(*piece, sp_.IdToPiece(id));
    EXPECT_EQ(tok_->PieceToId(*piece), id);
    EXPECT_EQ(tok_->IsSpecial(id), sp_.IsControl(id) || sp_.IsUnknown(id));
  }
  EXPECT_FALSE(tok_->IdToPiece(-1).has_value());
  EXPECT_FALSE(tok_->IdToPiece(sp_.GetPieceSize()).has_value());
  EXPECT_FALSE(tok_->PieceToId("no-such-piece-xyz").has_value());
  EXPECT_FALSE(tok_->IsSpecial(-1));

  std::unordered_map<std::string, AddedToken> by_content;
  TokenId last = -1;
  for (const auto& a : tok_->AddedTokens()) {
    EXPECT_GT(a.id, last);
    last = a.id;
    by_content[a.content] = a;
  }
  ASSERT_EQ(by_content.size(), 6u) << "expected <unk> <s> </s> <ctrl> <think> </think>";
  EXPECT_TRUE(by_content["<s>"].special);
  EXPECT_TRUE(by_content["</s>"].special);
  EXPECT_TRUE(by_content["<ctrl>"].special);
  EXPECT_TRUE(by_content["<unk>"].special);
  EXPECT_FALSE(by_content["<think>"].special);
  EXPECT_FALSE(by_content["</think>"].special);
  EXPECT_EQ(by_content["<s>"].id, sp_.bos_id());

  const std::string d = tok_->Describe();
  EXPECT_NE(d.find("sentencepiece"), std::string::npos) << d;
  EXPECT_NE(d.find("bpe"), std::string::npos) << d;
  EXPECT_NE(d.find("m.model"), std::string::npos) << d;
}

// Property: TokenBytes gives each token's bytes in running text ("▁" as a space, byte pieces as bytes); over
// Encode(x) they concatenate to the dummy prefix " " followed by x.
TEST_F(SentencePieceTest, TokenBytesConcatenateToText) {
  const std::vector<std::string> texts = {"Hello world", "unseen 🦀 ℵ", "Grüße <think>\nok\n</think> x"};
  for (const std::string& text : texts) {
    auto ids = tok_->Encode(text);
    ASSERT_TRUE(ids.ok());
    std::string joined;
    for (TokenId id : *ids) joined.append(tok_->TokenBytes(id));
    std::string want(1, ' ');
    want.append(text);
    EXPECT_EQ(joined, want);
  }
  EXPECT_EQ(tok_->TokenBytes(sp_.bos_id()), "<s>");
  EXPECT_EQ(tok_->TokenBytes(sp_.PieceToId("<0x41>")), "A");
  EXPECT_EQ(tok_->TokenBytes(-1), "");
}

// Property: out-of-range ids are an error, not a crash.
TEST_F(SentencePieceTest, DecodeRejectsOutOfRangeIds) {
  const std::vector<TokenId> bad = {0, static_cast<TokenId>(tok_->VocabSize())};
  EXPECT_FALSE(tok_->Decode(bad).ok());
  const std::vector<TokenId> negative = {-5};
  EXPECT_FALSE(tok_->Decode(negative).ok());
}

// Property: a missing, empty, corrupt or truncated .model file gives an error naming the file, never a crash.
TEST_F(SentencePieceTest, BadModelFilesGiveClearErrors) {
  const fs::path missing = *dir_ / "missing.model";
  auto r = LoadSentencePiece(missing.string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(missing.string()), std::string::npos) << r.status();

  auto write = [](const fs::path& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary);
    out << bytes;
  };
  const fs::path empty = *dir_ / "empty.model";
  write(empty, "");
  r = LoadSentencePiece(empty.string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(empty.string()), std::string::npos) << r.status();

  const fs::path garbage = *dir_ / "garbage.model";
  write(garbage, std::string("this is not a protobuf \xff\xff\xff\xff\x0f garbage", 33));
  r = LoadSentencePiece(garbage.string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(garbage.string()), std::string::npos) << r.status();

  r = LoadSentencePiece(dir_->string());  // a folder
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(dir_->string()), std::string::npos) << r.status();

  std::ifstream in(*model_path_, std::ios::binary);
  const std::string model((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(model.size(), 100u);
  const fs::path truncated = *dir_ / "truncated.model";
  for (size_t cut : {size_t{1}, size_t{7}, model.size() / 3, model.size() / 2, model.size() - 3}) {
    write(truncated, model.substr(0, cut));
    r = LoadSentencePiece(truncated.string());
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find(truncated.string()), std::string::npos) << r.status();
    } else {
      // A cut on a field boundary can leave a smaller but well-formed model; it must still work.
      EXPECT_TRUE((*r)->Encode("Hello").ok());
    }
  }
}

// Property: concurrent const use is safe and deterministic.
TEST_F(SentencePieceTest, ConcurrentEncodeMatchesSequential) {
  std::vector<std::string> texts;
  for (int i = 0; i < 50; ++i) texts.push_back(SampleTexts()[static_cast<size_t>(i) % SampleTexts().size()]);
  std::vector<std::vector<TokenId>> want;
  for (const auto& t : texts) want.push_back(*tok_->Encode(t));
  std::vector<std::thread> threads;
  std::vector<std::vector<std::vector<TokenId>>> got(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (const auto& text : texts) got[static_cast<size_t>(t)].push_back(*tok_->Encode(text));
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& g : got) EXPECT_EQ(g, want);
}

// Property: a SentencePiece model folder goes through the same training view: the loss mask covers exactly the
// reply and its end-of-turn control piece, despite SentencePiece's dummy-prefix spaces.
TEST_F(SentencePieceTest, TrainingViewMasksExactlyTheReply) {
  const fs::path folder = *dir_ / "model_folder";
  fs::create_directories(folder);
  fs::copy_file(*model_path_, folder / "tokenizer.model", fs::copy_options::overwrite_existing);
  const nlohmann::json config = {
      {"bos_token", "<s>"}, {"eos_token", "</s>"}, {"add_bos_token", true},
      {"chat_template", "{% for m in messages %}<s>{{ m.role }}\n{{ m.content }}</s>\n{% endfor %}"
                        "{% if add_generation_prompt %}<s>assistant\n{% endif %}"}};
  std::ofstream(folder / "tokenizer_config.json") << config.dump();
  auto model = LoadModelTokenization(folder.string());
  ASSERT_TRUE(model.ok()) << model.status();
  auto prepared = PrepareTrainingTemplate(*model);
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  EXPECT_EQ(prepared->end_of_turn, "</s>");
  TraceExample trace;
  trace.prompt = nlohmann::json::array({{{"role", "user"}, {"content", "Bonjour le monde 12345"}}});
  trace.reasoning = "Let me reason step by step.";
  trace.answer = "The answer is 42.";
  auto view = RenderTrainingView(*prepared, trace);
  ASSERT_TRUE(view.ok()) << view.status();
  std::vector<TokenId> trained;
  for (size_t i = 0; i < view->ids.size(); ++i)
    if (view->loss_mask[i]) trained.push_back(view->ids[i]);
  auto decoded = model->tokenizer->Decode(trained);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, ThinkBlock(trace.reasoning, trace.answer) + "</s>");
  EXPECT_EQ(view->text.substr(view->assistant_begin, view->assistant_end - view->assistant_begin),
            ThinkBlock(trace.reasoning, trace.answer) + "</s>");
}

}  // namespace
}  // namespace distill::tok
