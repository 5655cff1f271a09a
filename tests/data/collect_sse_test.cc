// SSE framing and dialect normalisation: every endpoint dialect (DeepSeek, vLLM old/new, llama.cpp, Ollama),
// streamed or not, and over real HTTP on loopback, normalises to the same tag-free reasoning and answer.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "data/collect/collector.h"
#include "data/collect/dialect.h"
#include "data/collect/sse_parser.h"
#include "tests/data/collect_test_server.h"

namespace distill::data::collect {
namespace {

using testing::Canned;

const char* kDialects[] = {"deepseek", "vllm", "vllm-new", "llamacpp", "ollama"};

Canned Example(const std::string& dialect) {
  Canned c;
  c.dialect = dialect;
  c.reasoning = "Let me add 2 and 2.\nThat is 4; check: 4-2=2. <b>ok</b>";
  c.answer = "The answer is \\boxed{4}.";
  return c;
}

// Property: events are recovered whatever the chunking and line endings (LF, CRLF, CR), comments are ignored and
// multi-line data is joined with "\n".
TEST(SseParser, AnyChunkingAndLineEndings) {
  const std::string lf = ": keep-alive\n\ndata: {\"a\":1}\n\nevent: x\ndata: line1\ndata: line2\n\ndata: [DONE]\n\n";
  for (const std::string& eol : {std::string("\n"), std::string("\r\n"), std::string("\r")}) {
    std::string text;
    for (char c : lf) text += c == '\n' ? eol : std::string(1, c);
    for (size_t step : {1u, 2u, 3u, 7u, 1000u}) {
      std::vector<std::string> data, events;
      SseParser p([&](std::string_view d, std::string_view e) {
        data.emplace_back(d);
        events.emplace_back(e);
      });
      for (size_t i = 0; i < text.size(); i += step) p.Feed(std::string_view(text).substr(i, step));
      p.Finish();
      ASSERT_EQ(data.size(), 3u) << "eol " << eol.size() << " step " << step;
      EXPECT_EQ(data[0], "{\"a\":1}");
      EXPECT_EQ(data[1], "line1\nline2");
      EXPECT_EQ(events[1], "x");
      EXPECT_EQ(data[2], "[DONE]");
    }
  }
}

// Property: an event not closed by a blank line before the connection ends is still delivered by Finish().
TEST(SseParser, UnterminatedLastEvent) {
  std::vector<std::string> data;
  SseParser p([&](std::string_view d, std::string_view) { data.emplace_back(d); });
  p.Feed("data: a\n\ndata: b");
  EXPECT_EQ(data.size(), 1u);
  EXPECT_TRUE(p.Finish());
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(data[1], "b");
}

// Property: inline think tags are split out in every form (complete, forced-open, unterminated, none).
TEST(Dialect, SplitThinkTags) {
  std::string r, c = "\n<think>\nR1\n</think>\n\nA1";
  EXPECT_TRUE(SplitThinkTags(r, c));
  EXPECT_EQ(TrimCopy(r), "R1");
  EXPECT_EQ(TrimCopy(c), "A1");
  r.clear();
  c = "R2\n</think>\nA2";  // "<think>\n" was forced into the prompt
  EXPECT_TRUE(SplitThinkTags(r, c));
  EXPECT_EQ(TrimCopy(r), "R2");
  EXPECT_EQ(TrimCopy(c), "A2");
  r.clear();
  c = "<think>R3 cut off";
  EXPECT_TRUE(SplitThinkTags(r, c));
  EXPECT_EQ(r, "R3 cut off");
  EXPECT_EQ(c, "");
  r.clear();
  c = "plain";
  EXPECT_FALSE(SplitThinkTags(r, c));
  EXPECT_EQ(c, "plain");
}

// Property: for every dialect, the non-streaming body and the streamed deltas (fed one byte at a time, so tags
// and UTF-8 straddle chunks) normalise to the same reasoning/answer/finish_reason/usage, free of tags.
TEST(Dialect, StreamingAndNonStreamingAgreeForEveryDialect) {
  for (const char* d : kDialects) {
    Canned c = Example(d);
    auto whole = NormaliseResponse(testing::NonStreamBody(c));
    ASSERT_TRUE(whole.ok()) << d << ": " << whole.status();
    StreamNormaliser s;
    for (const std::string& ev : testing::StreamEvents(c))
      for (char ch : ev) s.Feed(std::string_view(&ch, 1));
    auto streamed = s.Finish();
    ASSERT_TRUE(streamed.ok()) << d << ": " << streamed.status();
    for (const Completion* x : {&*whole, &*streamed}) {
      EXPECT_EQ(x->reasoning, c.reasoning) << d;
      EXPECT_EQ(x->answer, c.answer) << d;
      EXPECT_EQ(x->finish_reason, "stop") << d;
      EXPECT_EQ(x->model, "teacher-1") << d;
      EXPECT_EQ(x->usage.prompt_tokens, 11) << d;
      EXPECT_EQ(x->usage.completion_tokens, 42) << d;
      EXPECT_EQ(x->reasoning.find("<think>"), std::string::npos);
      EXPECT_EQ(x->answer.find("</think>"), std::string::npos);
    }
    EXPECT_EQ(whole->detected_dialect, streamed->detected_dialect) << d;
    if (std::string(d) == "deepseek") {
      EXPECT_EQ(whole->usage.reasoning_tokens.value_or(-1), 30);
      EXPECT_EQ(streamed->usage.reasoning_tokens.value_or(-1), 30);
    }
  }
}

// Property: broken bodies are errors with a reason, never a silently empty trace.
TEST(Dialect, BrokenBodiesAreErrors) {
  EXPECT_FALSE(NormaliseResponse("{not json").ok());
  EXPECT_FALSE(NormaliseResponse("{\"error\":{\"message\":\"overloaded\"}}").ok());
  EXPECT_FALSE(NormaliseResponse("{\"choices\":[]}").ok());
  Canned c = Example("deepseek");
  auto events = testing::StreamEvents(c);
  StreamNormaliser cut;  // ends in the middle of the reasoning: no finish_reason, no [DONE]
  for (size_t i = 0; i < 3; ++i) cut.Feed(events[i]);
  auto r = cut.Finish();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("stream ended early"), std::string::npos);
  StreamNormaliser bad;
  bad.Feed("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: {oops\n\n");
  EXPECT_FALSE(bad.Finish().ok());
  StreamNormaliser empty;
  EXPECT_FALSE(empty.Finish().ok());
}

// Property: an endpoint that ignores "stream": true and answers a whole JSON completion is still normalised; a
// JSON error body stays an error.
TEST(Dialect, StreamRequestAnsweredWithPlainJson) {
  Canned c = Example("vllm");
  StreamNormaliser s;
  std::string body = testing::NonStreamBody(c);
  s.Feed(std::string_view(body).substr(0, 10));
  s.Feed(std::string_view(body).substr(10));
  auto r = s.Finish();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->reasoning, c.reasoning);
  EXPECT_EQ(r->answer, c.answer);
  StreamNormaliser e;
  e.Feed("{\"error\":{\"message\":\"model overloaded\"}}");
  auto err = e.Finish();
  ASSERT_FALSE(err.ok());
  EXPECT_NE(std::string(err.status().message()).find("model overloaded"), std::string::npos);
}

// Property: URLs recorded in traces carry no credentials (userinfo, query string); the chat URL is derived from
// any base form.
TEST(Dialect, UrlsRedactedAndDerived) {
  EXPECT_EQ(RedactUrl("https://user:pw@api.example.com/v1?key=abc"), "https://api.example.com/v1");
  EXPECT_EQ(RedactUrl("http://127.0.0.1:8000"), "http://127.0.0.1:8000");
  EXPECT_EQ(ChatCompletionsUrl("http://h:1"), "http://h:1/v1/chat/completions");
  EXPECT_EQ(ChatCompletionsUrl("http://h:1/v1/"), "http://h:1/v1/chat/completions");
  EXPECT_EQ(ChatCompletionsUrl("http://h:1/v1/chat/completions"), "http://h:1/v1/chat/completions");
}

// Property: over real HTTP, each dialect × {stream, no stream} yields the same normalised trace record.
TEST(Dialect, EndToEndOverHttpIdenticalTraces) {
  std::string dir = testing::TempDir("sse_e2e");
  {
    std::ofstream p(dir + "/prompts.jsonl");
    p << R"({"id":"p1","prompt":"What is 2+2?","answer":"4"})" << "\n";
  }
  std::vector<nlohmann::json> traces;
  for (const char* d : kDialects) {
    Canned c = Example(d);
    testing::TestServer server([&](const testing::SeenRequest& req, httplib::Response& res) {
      testing::ServeCanned(req, res, c);
    });
    for (bool stream : {true, false}) {
      CollectOptions o;
      o.prompts_path = dir + "/prompts.jsonl";
      o.out_path = dir + "/" + d + (stream ? "_s" : "_n") + ".jsonl";
      o.base_url = server.base_url();
      o.model = "teacher";
      o.stream = stream;
      o.progress = ProgressMode::kOff;
      auto run = RunCollect(o);
      ASSERT_TRUE(run.ok()) << run.status();
      EXPECT_EQ(run->succeeded, 1) << d << " stream=" << stream;
      auto lines = testing::ReadJsonl(o.out_path);
      ASSERT_EQ(lines.size(), 1u);
      traces.push_back(lines[0]);
    }
    auto reqs = server.requests();
    ASSERT_EQ(reqs.size(), 2u);
    EXPECT_DOUBLE_EQ(reqs[0].body["temperature"].get<double>(), 0.6);
    EXPECT_DOUBLE_EQ(reqs[0].body["top_p"].get<double>(), 0.95);
    EXPECT_EQ(reqs[0].body["max_tokens"].get<int>(), 32768);
  }
  for (const auto& t : traces) {
    EXPECT_EQ(t["reasoning"], traces[0]["reasoning"]);
    EXPECT_EQ(t["answer"], traces[0]["answer"]);
    EXPECT_EQ(t["finish_reason"], "stop");
    EXPECT_EQ(t["prompt_id"], "p1");
    EXPECT_EQ(t["sample_index"], 0);
    EXPECT_EQ(t["ground_truth"], "4");
    EXPECT_EQ(t["teacher_model"], "teacher-1");
    EXPECT_EQ(t["usage"]["completion_tokens"], 42);
  }
  EXPECT_EQ(traces[0]["reasoning"], Example("x").reasoning);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace distill::data::collect
