// Model-folder loading: special tokens, add_bos_token, generation_config eos ids, template selection, and clear
// errors for broken files.
#include "tokenizers/model_folder.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "tests/testing/node_reference.h"

namespace distill::tok {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::LenmlModel;

// A scratch model folder holding a copy of a real vocabulary's files, removed at the end of the test.
class ScratchFolder {
 public:
  explicit ScratchFolder(const std::string& vocab) {
    path_ = fs::temp_directory_path() / ("distill-model-" + std::to_string(::getpid()) + "-" + vocab);
    fs::remove_all(path_);
    fs::create_directories(path_);
    fs::copy_file(LenmlModel(vocab) + "/tokenizer.json", path_ / "tokenizer.json");
    fs::copy_file(LenmlModel(vocab) + "/tokenizer_config.json", path_ / "tokenizer_config.json");
  }
  ~ScratchFolder() { fs::remove_all(path_); }
  std::string path() const { return path_.string(); }
  void Write(const std::string& name, const std::string& content) const { std::ofstream(path_ / name) << content; }
  json Config() const {
    std::ifstream in(path_ / "tokenizer_config.json");
    return json::parse(in);
  }

 private:
  fs::path path_;
};

// Property: Qwen3's folder gives ChatML special tokens, no BOS, and <|im_end|> as the eos id.
TEST(ModelFolder, LoadsQwen3SpecialTokens) {
  auto model = LoadModelTokenization(LenmlModel("qwen3"));
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_FALSE(model->bos_token.has_value());
  EXPECT_EQ(model->eos_token, "<|im_end|>");
  EXPECT_EQ(model->pad_token, "<|endoftext|>");
  EXPECT_FALSE(model->add_bos_token);
  EXPECT_EQ(model->eos_token_ids, std::vector<TokenId>{151645});
  ASSERT_TRUE(model->chat_template.has_value());
  EXPECT_EQ(model->template_name, "tokenizer_config.json");
}

// Property: plain encoding gives transformers' tokenizer(text) ids. BOS from a TemplateProcessing post_processor
// (Llama 3.1) or from nowhere (Qwen3, the Llama 3.0 files) is checked against HF tokenizers itself; BOS from
// tokenizer_config's add_bos_token (DeepSeek: transformers rewrites the post_processor) is bos + the plain ids.
TEST(ModelFolder, PlainEncodingMatchesHuggingFace) {
  const std::string text = "Hello there";
  for (const std::string vocab : {"llama3", "llama3_1", "deepseek_v3", "qwen3"}) {
    auto model = LoadModelTokenization(LenmlModel(vocab));
    ASSERT_TRUE(model.ok()) << model.status();
    for (bool special : {false, true}) {
      auto ids = EncodePlain(*model, text, special);
      ASSERT_TRUE(ids.ok()) << ids.status();
      const json reference = testing::RunNodeReference("hf_chat.js", {{"tokenizer", LenmlModel(vocab) + "/tokenizer.json"},
                                                                      {"texts", {text}},
                                                                      {"add_special_tokens", special}});
      std::vector<TokenId> expected = reference["encoded"][0].get<std::vector<TokenId>>();
      if (vocab == "deepseek_v3" && special) {
        const json plain = testing::RunNodeReference(
            "hf_chat.js", {{"tokenizer", LenmlModel(vocab) + "/tokenizer.json"}, {"texts", {text}}});
        expected = {*model->tokenizer->PieceToId("<｜begin▁of▁sentence｜>")};
        for (int id : plain["encoded"][0]) expected.push_back(id);
      }
      EXPECT_EQ(*ids, expected) << vocab << " special=" << special;
    }
  }
}

// Property: generation_config.json's eos_token_id (an int or a list) sets the stop ids.
TEST(ModelFolder, ReadsGenerationConfigEosIds) {
  ScratchFolder folder("llama3_1");
  folder.Write("generation_config.json", R"({"bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009]})");
  auto model = LoadModelTokenization(folder.path());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->eos_token_ids, (std::vector<TokenId>{128001, 128008, 128009}));
  folder.Write("generation_config.json", R"({"eos_token_id": 999999999})");
  auto bad = LoadModelTokenization(folder.path());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("generation_config.json: eos_token_id"), std::string::npos) << bad.status();
}

// Property: a truncated or malformed tokenizer_config.json is refused with the file and the byte offset.
TEST(ModelFolder, MalformedConfigNamesFileAndOffset) {
  ScratchFolder folder("qwen3");
  folder.Write("tokenizer_config.json", R"({"add_bos_token": false, "bos_token": )");
  auto model = LoadModelTokenization(folder.path());
  ASSERT_FALSE(model.ok());
  const std::string message(model.status().message());
  EXPECT_NE(message.find("tokenizer_config.json: byte "), std::string::npos) << message;

  folder.Write("tokenizer_config.json", R"({"add_bos_token": "yes"})");
  model = LoadModelTokenization(folder.path());
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("add_bos_token"), std::string::npos) << model.status();
}

// Property: an added_tokens_decoder entry that disagrees with tokenizer.json is refused, naming the entry.
TEST(ModelFolder, AddedTokensDecoderMustAgreeWithTokenizer) {
  ScratchFolder folder("qwen3");
  json config = folder.Config();
  config["added_tokens_decoder"]["151645"]["content"] = "<|not_a_token|>";
  folder.Write("tokenizer_config.json", config.dump());
  auto model = LoadModelTokenization(folder.path());
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("added_tokens_decoder[\"151645\"]"), std::string::npos) << model.status();
}

// Property: a base without a chat_template cannot render chats until a built-in or a file is chosen.
TEST(ModelFolder, TemplateSelection) {
  ScratchFolder folder("llama3_1");
  json config = folder.Config();
  config.erase("chat_template");
  folder.Write("tokenizer_config.json", config.dump());
  auto bare = LoadModelTokenization(folder.path());
  ASSERT_TRUE(bare.ok()) << bare.status();
  const json messages = json::array({{{"role", "user"}, {"content", "hi"}}});
  auto refused = RenderChat(*bare, messages, true);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("llama3"), std::string::npos) << refused.status();

  auto builtin = LoadModelTokenization(folder.path(), {.template_override = "llama3"});
  ASSERT_TRUE(builtin.ok()) << builtin.status();
  EXPECT_EQ(builtin->template_name, "llama3");
  auto rendered = RenderChat(*builtin, messages, true);
  ASSERT_TRUE(rendered.ok()) << rendered.status();
  EXPECT_NE(rendered->find("<|start_header_id|>user<|end_header_id|>"), std::string::npos) << *rendered;

  folder.Write("custom.jinja", "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}");
  auto from_file = LoadModelTokenization(folder.path(), {.template_override = folder.path() + "/custom.jinja"});
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(*RenderChat(*from_file, messages, false), "[user] hi\n");

  auto unknown = LoadModelTokenization(folder.path(), {.template_override = "no-such-template"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("no-such-template"), std::string::npos);
}

// Property: tokenizer_config.json cut at any of many offsets, or with bytes flipped, is refused or loaded — never a
// crash — and every refusal names the file.
TEST(ModelFolder, RandomlyDamagedConfigNeverCrashes) {
  ScratchFolder folder("llama3_1");
  const std::string original = folder.Config().dump();
  std::mt19937 rng(1234);
  for (int round = 0; round < 40; ++round) {
    std::string damaged = original.substr(0, rng() % (original.size() + 1));
    if (round % 2) {
      damaged = original;
      for (int flips = 0; flips < 3; ++flips) damaged[rng() % damaged.size()] = static_cast<char>(rng() % 256);
    }
    folder.Write("tokenizer_config.json", damaged);
    auto model = LoadModelTokenization(folder.path());
    if (!model.ok()) {
      EXPECT_NE(model.status().message().find("tokenizer_config.json"), std::string::npos) << model.status();
    }
  }
}

// Property: a missing folder or one without a tokenizer gives NotFound naming the path.
TEST(ModelFolder, MissingThingsAreNamed) {
  auto missing = LoadModelTokenization("/nonexistent/model");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/model"), std::string::npos);
  const fs::path empty = fs::temp_directory_path() / ("distill-empty-" + std::to_string(::getpid()));
  fs::create_directories(empty);
  auto no_tokenizer = LoadModelTokenization(empty.string());
  fs::remove_all(empty);
  ASSERT_FALSE(no_tokenizer.ok());
  EXPECT_NE(no_tokenizer.status().message().find("no tokenizer.json or tokenizer.model"), std::string::npos);
}

}  // namespace
}  // namespace distill::tok
