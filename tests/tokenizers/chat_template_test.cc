// Chat templates render byte for byte as the reference engine (@huggingface/jinja 0.5.11).
#include "tokenizers/chat_template.h"

#include <map>
#include <string>
#include <thread>
#include <vector>


#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/jinja_fixture.h"

namespace distill::tok {
namespace {

using testing::FirstDifference;
using testing::LoadJinjaFixture;

// Property: every shipped template (Qwen3, Llama 3, Llama 3.1, DeepSeek-V3 tokenizer_config.json) and every
// built-in template renders every conversation of the set, with and without the generation prompt, exactly as
// the reference does (or fails where the reference fails).
TEST(ChatTemplateTest, MatchesReferenceOnEveryTemplateAndConversation) {
  const nlohmann::json fixture = LoadJinjaFixture();
  ASSERT_TRUE(fixture.is_object()) << "missing fixture; run through ctest (fixture/jinja_renders)";
  std::map<std::string, ChatTemplate> compiled;
  for (const auto& t : fixture["templates"]) {
    const std::string name = t["kind"].get<std::string>() + ":" + t["name"].get<std::string>();
    auto c = ChatTemplate::Compile(t["source"].get<std::string>(), name);
    ASSERT_TRUE(c.ok()) << c.status();
    compiled.emplace(name, *c);
  }
  ASSERT_EQ(compiled.size(), 7u);
  size_t compared = 0, identical = 0;
  for (const auto& c : fixture["cases"]) {
    const std::string key = c["kind"].get<std::string>() + ":" + c["template"].get<std::string>();
    const std::string label = key + " × " + c["conversation"].get<std::string>() +
                              (c["context"]["add_generation_prompt"].get<bool>() ? " (+gen)" : "");
    auto out = compiled.at(key).Render(c["context"]);
    ++compared;
    if (c.contains("error")) {
      EXPECT_FALSE(out.ok()) << label << ": the reference fails with " << c["error"];
      if (!out.ok()) ++identical;
      continue;
    }
    ASSERT_TRUE(out.ok()) << label << ": " << out.status();
    const std::string want = c["output"];
    EXPECT_EQ(*out, want) << label << "\n" << FirstDifference(want, *out);
    if (*out == want) ++identical;
  }
  EXPECT_EQ(compared, 7u * 18u * 2u);  // templates × conversations × generation prompt off/on
  EXPECT_EQ(identical, compared);
}

// Property: the built-in sources the reference rendered (extracted from builtin_templates.cc by the node script)
// are exactly what BuiltinTemplateSource returns, so the parity above covers the built-ins as shipped.
TEST(ChatTemplateTest, BuiltinSourcesAreTheOnesRenderedByTheReference) {
  const nlohmann::json fixture = LoadJinjaFixture();
  ASSERT_TRUE(fixture.is_object());
  int builtins = 0;
  for (const auto& t : fixture["templates"]) {
    if (t["kind"] != "builtin") continue;
    ++builtins;
    auto src = BuiltinTemplateSource(t["name"].get<std::string>());
    ASSERT_TRUE(src.ok()) << src.status();
    EXPECT_EQ(*src, t["source"].get<std::string>());
  }
  EXPECT_EQ(builtins, 3);
}

// Property: the three built-ins exist and compile; unknown names are NotFound and list the known ones.
TEST(ChatTemplateTest, BuiltinLookup) {
  for (const char* name : {"chatml", "llama3", "deepseek-r1"}) {
    auto src = BuiltinTemplateSource(name);
    ASSERT_TRUE(src.ok()) << name;
    EXPECT_TRUE(ChatTemplate::Compile(*src, name).ok()) << name;
  }
  auto missing = BuiltinTemplateSource("vicuna");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("chatml, llama3, deepseek-r1"), std::string::npos);
}

// Property: the built-ins have the documented shapes (default system prompt, bos + headers, R1 think handling).
TEST(ChatTemplateTest, BuiltinShapes) {
  const nlohmann::json msgs = nlohmann::json::parse(R"([
    {"role": "user", "content": "hi"},
    {"role": "assistant", "content": "<think>\nhidden\n</think>\n\nvisible"},
    {"role": "user", "content": "again"}])");
  auto render = [&](const char* name, nlohmann::json extra) {
    auto t = ChatTemplate::Compile(*BuiltinTemplateSource(name), name);
    nlohmann::json ctx = {{"messages", msgs}, {"add_generation_prompt", true}};
    ctx.update(extra);
    auto out = t->Render(ctx);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : std::string();
  };
  EXPECT_EQ(render("chatml", nlohmann::json::object()).substr(0, 58), "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n");
  EXPECT_EQ(render("llama3", {{"bos_token", "<|begin_of_text|>"}}),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n<think>\nhidden\n</think>\n\nvisible<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nagain<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(render("deepseek-r1", {{"bos_token", "<｜begin▁of▁sentence｜>"}}),
            "<｜begin▁of▁sentence｜><｜User｜>hi<｜Assistant｜>\n\nvisible<｜end▁of▁sentence｜><｜User｜>again"
            "<｜Assistant｜><think>\n");
}

// Property: a compiled template is a cheap shared handle that renders the same from several threads.
TEST(ChatTemplateTest, CopiesShareTheProgram) {
  auto t = ChatTemplate::Compile("{{ messages[0].content }}!", "inline");
  ASSERT_TRUE(t.ok());
  ChatTemplate copy = *t;
  const nlohmann::json ctx = {{"messages", {{{"role", "user"}, {"content", "x"}}}}};
  EXPECT_EQ(*copy.Render(ctx), "x!");
  EXPECT_EQ(copy.origin(), "inline");
  EXPECT_EQ(copy.source(), "{{ messages[0].content }}!");
}

// Property: one compiled template renders concurrently from several threads with the same result as serially.
TEST(ChatTemplateTest, ConcurrentRendersAgree) {
  const nlohmann::json fixture = LoadJinjaFixture();
  ASSERT_TRUE(fixture.is_object());
  const nlohmann::json& first = fixture["templates"][0];
  auto t = ChatTemplate::Compile(first["source"].get<std::string>(), "concurrent");
  ASSERT_TRUE(t.ok()) << t.status();
  std::vector<nlohmann::json> contexts;
  std::vector<std::string> want;
  for (const auto& c : fixture["cases"]) {
    if (c["template"] != first["name"] || c["kind"] != first["kind"] || !c.contains("output")) continue;
    contexts.push_back(c["context"]);
    want.push_back(c["output"]);
  }
  ASSERT_FALSE(contexts.empty());
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int round = 0; round < 20; ++round)
        for (size_t i = 0; i < contexts.size(); ++i) {
          auto out = t->Render(contexts[i]);
          if (!out.ok() || *out != want[i]) ++mismatches[k];
        }
    });
  }
  for (auto& th : threads) th.join();
  for (int k = 0; k < 4; ++k) EXPECT_EQ(mismatches[k], 0) << "thread " << k;
}

}  // namespace
}  // namespace distill::tok
