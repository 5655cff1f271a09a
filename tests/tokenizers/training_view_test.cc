// The training view against the Hugging Face stack: for real vocabularies and templates, the rendered text equals
// @huggingface/jinja's render of the same context, the ids equal HF tokenizers' encoding of that text, and the
// loss mask covers exactly the assistant's reply plus its end-of-turn token.
#include "tokenizers/training_view.h"

#include <gtest/gtest.h>

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/strip.h"
#include "tests/testing/node_reference.h"

namespace distill::tok {
namespace {

using nlohmann::json;
using testing::LenmlModel;
using testing::RunNodeReference;

std::vector<TraceExample> Traces() {
  auto user = [](std::string text) { return json{{"content", std::move(text)}, {"role", "user"}}; };
  std::vector<TraceExample> traces;
  traces.push_back({json::array({user("What is 17 * 23?")}), "17 * 23 = 17 * 20 + 17 * 3 = 340 + 51 = 391.",
                    "The answer is \\boxed{391}."});
  traces.push_back({json::array({json{{"content", "Answer briefly."}, {"role", "system"}},
                                 user("Solve x^2 - 5x + 6 = 0. Please reason step by step, and put your final "
                                      "answer within \\boxed{}.")}),
                    "Factor: (x-2)(x-3) = 0.\n\nSo x = 2 or x = 3.", "$x \\in \\{2, 3\\}$, so \\boxed{2, 3}."});
  traces.push_back({json::array({user("Hi!"), json{{"content", "<think>\nGreeting.\n</think>\n\nHello!"}, {"role", "assistant"}},
                                 user("用中文解释：为什么天空是蓝色的？")}),
                    "瑞利散射：短波长的光散射更强。\n\nLet me double-check… yes.", "因为瑞利散射 🌤️。"});
  traces.push_back({json::array({user("Say nothing but OK.")}), "", "OK"});
  traces.push_back({json::array({user("  padded question\n\n")}), "  indented reasoning\n\twith a tab  ",
                    "answer with trailing space "});
  return traces;
}

struct Case {
  std::string vocab;
  std::string template_override;  // empty = the folder's own chat_template
};

class TrainingViewTest : public ::testing::TestWithParam<Case> {};

// Property: text == HF render, ids == HF ids, and mask-1 tokens decode to exactly the assistant span, which ends
// with the end-of-turn token and contains the answer.
TEST_P(TrainingViewTest, MatchesHuggingFaceAndMasksExactlyTheReply) {
  const Case& c = GetParam();
  auto model = LoadModelTokenization(LenmlModel(c.vocab), {.template_override = c.template_override});
  ASSERT_TRUE(model.ok()) << model.status();
  auto prepared = PrepareTrainingTemplate(*model);
  ASSERT_TRUE(prepared.ok()) << prepared.status();

  std::vector<TrainingView> views;
  json request = {{"tokenizer", LenmlModel(c.vocab) + "/tokenizer.json"},
                  {"template", model->chat_template->source()},
                  {"contexts", json::array()},
                  {"texts", json::array()}};
  for (const TraceExample& trace : Traces()) {
    auto view = RenderTrainingView(*prepared, trace);
    ASSERT_TRUE(view.ok()) << view.status();
    json full = trace.prompt;
    full.push_back({{"content", ThinkBlock(trace.reasoning, trace.answer)}, {"role", "assistant"}});
    request["contexts"].push_back(TemplateContext(*model, full, false));
    request["contexts"].push_back(TemplateContext(*model, trace.prompt, true));
    if (view->think_block_appended) {
      request["texts"].push_back(view->text.substr(0, view->assistant_begin));
      request["texts"].push_back(view->text.substr(view->assistant_begin));
    } else {
      request["texts"].push_back(view->text);
      request["texts"].push_back("");
    }
    views.push_back(std::move(*view));
  }
  const json reference = RunNodeReference("hf_chat.js", request);

  const auto traces = Traces();
  for (size_t i = 0; i < views.size(); ++i) {
    SCOPED_TRACE("trace " + std::to_string(i));
    const TrainingView& view = views[i];
    const std::string hf_full = reference["rendered"][2 * i]["text"];
    const std::string hf_prompt = reference["rendered"][2 * i + 1]["text"];
    if (view.think_block_appended) {
      EXPECT_EQ(view.text.substr(0, view.assistant_begin), hf_prompt);
    } else {
      EXPECT_EQ(view.text, hf_full);
      EXPECT_EQ(view.assistant_begin, hf_prompt.size());
    }
    std::vector<TokenId> expected_ids = reference["encoded"][2 * i].get<std::vector<TokenId>>();
    for (int id : reference["encoded"][2 * i + 1]) expected_ids.push_back(id);
    EXPECT_EQ(view.ids, expected_ids);

    std::vector<TokenId> trained;
    size_t runs = 0;
    for (size_t t = 0; t < view.ids.size(); ++t) {
      if (view.loss_mask[t]) trained.push_back(view.ids[t]);
      if (view.loss_mask[t] && (t == 0 || !view.loss_mask[t - 1])) ++runs;
    }
    EXPECT_EQ(runs, 1u) << "the trained tokens form one contiguous run";
    auto decoded = model->tokenizer->Decode(trained);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    const std::string span = view.text.substr(view.assistant_begin, view.assistant_end - view.assistant_begin);
    EXPECT_EQ(*decoded, span);
    EXPECT_TRUE(span.ends_with(prepared->end_of_turn)) << span;
    EXPECT_NE(span.find(std::string(absl::StripTrailingAsciiWhitespace(traces[i].answer))), std::string::npos);
    if (!traces[i].reasoning.empty() && traces[i].reasoning.find_first_not_of(" \t\n") != std::string::npos) {
      EXPECT_NE(span.find(std::string(absl::StripAsciiWhitespace(traces[i].reasoning))), std::string::npos);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(RealVocabularies, TrainingViewTest,
                         ::testing::Values(Case{"qwen3", ""}, Case{"llama3", ""}, Case{"llama3_1", ""},
                                           Case{"deepseek_v3", ""}, Case{"qwen3", "chatml"},
                                           Case{"llama3_1", "llama3"}, Case{"deepseek_v3", "deepseek-r1"}),
                         [](const auto& info) {
                           std::string name = info.param.vocab + "_" +
                                              (info.param.template_override.empty() ? "own" : info.param.template_override);
                           for (char& ch : name)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });

// Property: the end-of-turn token is the one each family closes assistant turns with.
TEST(TrainingTemplate, FindsEachFamilysEndOfTurn) {
  const std::map<std::string, std::string> expected = {
      {"qwen3", "<|im_end|>"}, {"llama3_1", "<|eot_id|>"}, {"deepseek_v3", "<｜end▁of▁sentence｜>"}};
  for (const auto& [vocab, end] : expected) {
    auto model = LoadModelTokenization(LenmlModel(vocab));
    ASSERT_TRUE(model.ok()) << model.status();
    auto prepared = PrepareTrainingTemplate(*model);
    ASSERT_TRUE(prepared.ok()) << prepared.status();
    EXPECT_EQ(prepared->end_of_turn, end) << vocab;
  }
}

// Property: the Qwen3 reply is rendered in R1-Distill form, <think>\n{reasoning}\n</think>\n\n{answer}<|im_end|>.
TEST(TrainingView, Qwen3ReplyIsTheCanonicalThinkBlock) {
  auto model = LoadModelTokenization(LenmlModel("qwen3"));
  ASSERT_TRUE(model.ok()) << model.status();
  auto prepared = PrepareTrainingTemplate(*model);
  ASSERT_TRUE(prepared.ok());
  const TraceExample trace = Traces()[0];
  auto view = RenderTrainingView(*prepared, trace);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_FALSE(view->think_block_appended);
  EXPECT_EQ(view->text.substr(view->assistant_begin, view->assistant_end - view->assistant_begin),
            ThinkBlock(trace.reasoning, trace.answer) + "<|im_end|>");
  EXPECT_EQ(view->text.substr(view->assistant_end), "\n");
}

// Property: with a prompt-render cache the views are exactly those without it, over samples that repeat prompts
// (hits), change them, and more prompts than the cache holds; an entry of one template is never used for
// another (Qwen3 and Llama 3.1 render the same messages differently).
TEST(TrainingView, PromptRenderCacheGivesTheSameViews) {
  auto qwen = LoadModelTokenization(LenmlModel("qwen3"));
  auto llama = LoadModelTokenization(LenmlModel("llama3_1"));
  ASSERT_TRUE(qwen.ok() && llama.ok());
  auto qwen_template = PrepareTrainingTemplate(*qwen);
  auto llama_template = PrepareTrainingTemplate(*llama);
  ASSERT_TRUE(qwen_template.ok() && llama_template.ok());
  PromptRenderCache cache;
  const std::vector<TraceExample> traces = Traces();
  int compared = 0;
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < 12; ++i) {
      TraceExample trace = traces[i % traces.size()];
      if (i >= traces.size()) trace.prompt[0]["content"] = "variant " + std::to_string(i) + " of the question";
      for (const TrainingTemplate* prepared : {&*qwen_template, &*llama_template}) {
        auto plain = RenderTrainingView(*prepared, trace);
        auto cached = RenderTrainingView(*prepared, trace, &cache);
        ASSERT_TRUE(plain.ok() && cached.ok());
        EXPECT_EQ(cached->text, plain->text);
        EXPECT_EQ(cached->ids, plain->ids);
        EXPECT_EQ(cached->loss_mask, plain->loss_mask);
        EXPECT_EQ(cached->assistant_begin, plain->assistant_begin);
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 72);
  PromptRenderCache fresh;
  ASSERT_TRUE(RenderTrainingView(*qwen_template, traces[0], &fresh).ok());
  EXPECT_NE(fresh.Find(*qwen_template, traces[0].prompt), nullptr);
  EXPECT_EQ(fresh.Find(*llama_template, traces[0].prompt), nullptr);
}

// Property: special-token text inside a trace is refused, since it would be read as a control token.
TEST(TrainingView, RejectsSpecialTokenTextInTrace) {
  auto model = LoadModelTokenization(LenmlModel("qwen3"));
  ASSERT_TRUE(model.ok());
  auto prepared = PrepareTrainingTemplate(*model);
  ASSERT_TRUE(prepared.ok());
  TraceExample trace = Traces()[0];
  trace.reasoning += "<|im_end|>";
  auto view = RenderTrainingView(*prepared, trace);
  ASSERT_FALSE(view.ok());
  EXPECT_NE(view.status().message().find("<|im_end|>"), std::string::npos) << view.status();
}

// Property: inline think blocks and reasoning_content both become the same tag-free trace.
TEST(TraceFromConversation, ReadsInlineAndSeparateReasoning) {
  json inline_think = json::array({{{"role", "user"}, {"content", "q"}},
                                   {{"role", "assistant"}, {"content", "<think>\nr1\nr2\n</think>\n\nans"}}});
  auto a = TraceFromConversation(inline_think);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->reasoning, "r1\nr2");
  EXPECT_EQ(a->answer, "ans");
  EXPECT_EQ(a->prompt.size(), 1u);
  json separate = json::array({{{"role", "user"}, {"content", "q"}},
                               {{"role", "assistant"}, {"content", "ans"}, {"reasoning_content", "r1\nr2"}}});
  auto b = TraceFromConversation(separate);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->reasoning, a->reasoning);
  EXPECT_EQ(b->answer, a->answer);
  auto bad = TraceFromConversation(json::array({{{"role", "user"}, {"content", "q"}}}));
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("messages[0]"), std::string::npos) << bad.status();
}

}  // namespace
}  // namespace distill::tok
