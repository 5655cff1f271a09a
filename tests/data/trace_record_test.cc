// Trace records: prompt-line parsing (every accepted form, errors naming file:line and field), stable prompt ids,
// trace and failure JSON round trips with type checks naming the field, UTF-8 validation.
#include "data/trace_record.h"

#include <gtest/gtest.h>

#include <string>

namespace distill::data {
namespace {

using nlohmann::json;

const std::string kWhere = "prompts.jsonl:7";

// Asserts that parsing `line` fails with a message naming kWhere and every fragment in `fragments`.
void ExpectPromptError(const std::string& line, std::initializer_list<std::string> fragments) {
  auto parsed = ParsePromptLine(line, kWhere);
  ASSERT_FALSE(parsed.ok()) << line;
  const std::string message(parsed.status().message());
  EXPECT_NE(message.find(kWhere + ":"), std::string::npos) << message;
  for (const std::string& f : fragments) EXPECT_NE(message.find(f), std::string::npos) << message << " / " << f;
}

// Property: a bare "prompt" becomes one user message and gets a stable 16-hex-digit id from its messages.
TEST(ParsePromptLine, BarePromptBecomesUserMessageWithStableId) {
  auto p = ParsePromptLine(R"({"prompt": "What is 2+3?"})", kWhere);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->messages, json::parse(R"([{"role": "user", "content": "What is 2+3?"}])"));
  EXPECT_EQ(p->id, PromptIdFor(p->messages));
  EXPECT_EQ(p->id.size(), 16u);
  EXPECT_EQ(p->id.find_first_not_of("0123456789abcdef"), std::string::npos) << p->id;
  EXPECT_FALSE(p->ground_truth.has_value());
  EXPECT_TRUE(p->extra.empty());
  // The same prompt written as messages (keys in another order, other spacing) gets the same id.
  auto m = ParsePromptLine(R"({"messages":[{"content":"What is 2+3?","role":"user"}]})", kWhere);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->id, p->id);
  auto other = ParsePromptLine(R"({"prompt": "What is 2+4?"})", kWhere);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->id, p->id);
}

// Property: PromptIdFor is a pure function of the messages' value (stable across runs: a fixed FNV-1a of the
// canonical dump).
TEST(PromptIdFor, StableValue) {
  const json messages = json::parse(R"([{"role":"user","content":"hi"}])");
  EXPECT_EQ(PromptIdFor(messages), PromptIdFor(json::parse(R"([{"content":"hi","role":"user"}])")));
  EXPECT_EQ(PromptIdFor(messages), PromptIdFor(messages));
  EXPECT_NE(PromptIdFor(messages), PromptIdFor(json::parse(R"([{"role":"user","content":"hi "}])")));
}

// Property: messages are kept as given; id (string or integer) and answer (string or number) become strings;
// every other field lands in extra.
TEST(ParsePromptLine, MessagesIdAnswerAndExtra) {
  auto p = ParsePromptLine(
      R"({"id": 42, "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q", "name": "u"}],
          "answer": 0.5, "source": "gsm8k", "level": 3})",
      kWhere);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->id, "42");
  ASSERT_EQ(p->messages.size(), 2u);
  EXPECT_EQ(p->messages[1]["name"], "u");
  EXPECT_EQ(p->ground_truth, "0.5");
  EXPECT_EQ(p->extra, json::parse(R"({"source": "gsm8k", "level": 3})"));

  auto s = ParsePromptLine(R"({"id": "abc", "prompt": "q", "answer": "\\frac{1}{2}"})", kWhere);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->id, "abc");
  EXPECT_EQ(s->ground_truth, "\\frac{1}{2}");
  auto n = ParsePromptLine(R"({"prompt": "q", "answer": 1234567890123})", kWhere);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->ground_truth, "1234567890123");
  auto null_answer = ParsePromptLine(R"({"prompt": "q", "answer": null, "id": null})", kWhere);
  ASSERT_TRUE(null_answer.ok());
  EXPECT_FALSE(null_answer->ground_truth.has_value());
  EXPECT_EQ(null_answer->id, PromptIdFor(null_answer->messages));
  // A trailing CR (CRLF files) is whitespace.
  EXPECT_TRUE(ParsePromptLine("{\"prompt\": \"q\"}\r", kWhere).ok());
}

// Property: every malformed prompt line is an error naming file:line, the field and what was expected.
TEST(ParsePromptLine, ErrorsNameFileLineAndField) {
  ExpectPromptError(R"({"prompt": 5})", {"'prompt'", "expected a string", "got an integer"});
  ExpectPromptError(R"({"prompt": "  "})", {"'prompt'", "non-empty"});
  ExpectPromptError(R"({"messages": "hi"})", {"'messages'", "expected an array"});
  ExpectPromptError(R"({"messages": []})", {"'messages'", "at least one message"});
  ExpectPromptError(R"({"messages": [{"role": "user", "content": "a"}, {"role": "user"}]})",
                    {"missing field 'messages[1].content'"});
  ExpectPromptError(R"({"messages": [{"role": "user", "content": ["a"]}]})",
                    {"'messages[0].content'", "expected a string", "got an array"});
  ExpectPromptError(R"({"messages": [{"role": "", "content": "a"}]})", {"'messages[0].role'", "non-empty"});
  ExpectPromptError(R"({"messages": ["a"]})", {"'messages[0]'", "expected an object"});
  ExpectPromptError(R"({"prompt": "a", "messages": [{"role": "user", "content": "a"}]})",
                    {"'prompt' and 'messages'"});
  ExpectPromptError(R"({"question": "a"})", {"missing field 'prompt'", "'messages'"});
  ExpectPromptError(R"({"prompt": "a", "id": true})", {"'id'", "a string or an integer", "got a boolean"});
  ExpectPromptError(R"({"prompt": "a", "id": 1.5})", {"'id'", "got a number"});
  ExpectPromptError(R"({"prompt": "a", "id": ""})", {"'id'", "non-empty"});
  ExpectPromptError(R"({"prompt": "a", "answer": {"x": 1}})", {"'answer'", "a string or a number", "got an object"});
  ExpectPromptError(R"(["a"])", {"expected a JSON object", "got an array"});
  ExpectPromptError(R"({"prompt": "a")", {"not valid JSON", "byte"});
  ExpectPromptError("   ", {"empty line"});
}

// Property: invalid UTF-8 is an error giving the byte offset of the first bad sequence.
TEST(ParsePromptLine, InvalidUtf8NamesByteOffset) {
  ExpectPromptError("{\"prompt\": \"ab\xff\"}", {"invalid UTF-8 at byte 14"});
  EXPECT_EQ(FindInvalidUtf8("h\xc3\xa9llo \xe4\xb8\x96"), std::nullopt);
  EXPECT_EQ(FindInvalidUtf8("ok\xc0\x80"), 2u);          // overlong NUL
  EXPECT_EQ(FindInvalidUtf8("x\xed\xa0\x80"), 1u);       // UTF-16 surrogate
  EXPECT_EQ(FindInvalidUtf8("abc\xe4\xb8"), 3u);         // truncated sequence
  EXPECT_EQ(FindInvalidUtf8("\xf4\x90\x80\x80"), 0u);    // above U+10FFFF
  EXPECT_EQ(FindInvalidUtf8("a\x80"), 1u);               // stray continuation byte
}

TraceRecord FullTrace() {
  TraceRecord t;
  t.prompt_id = "p1";
  t.sample_index = 3;
  t.messages = json::parse(R"([{"role": "user", "content": "What is 2+3?"}])");
  t.ground_truth = "5";
  t.extra = json::parse(R"({"source": "demo", "level": 1})");
  t.reasoning = "2 plus 3 is 5.";
  t.answer = "\\boxed{5}";
  t.teacher_model = "deepseek-reasoner";
  t.endpoint = "https://api.deepseek.com";
  t.dialect = "deepseek";
  t.sampling_requested = {0.6, 0.95, 32768, 7};
  t.sampling_returned = {0.6, std::nullopt, std::nullopt, std::nullopt};
  t.usage = {12, 40, 30};
  t.finish_reason = "stop";
  t.latency_s = 1.25;
  t.first_token_s = 0.5;
  t.attempts = 2;
  t.started_at = "2026-11-26T10:00:00Z";
  t.finished_at = "2026-11-26T10:00:02Z";
  return t;
}

// Property: ToJson → TraceFromJson gives back every field, and ToJson of the result is identical.
TEST(TraceJson, RoundTripsEveryField) {
  const TraceRecord t = FullTrace();
  const json j = ToJson(t);
  auto back = TraceFromJson(json::parse(j.dump()), "traces.jsonl:1");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->prompt_id, t.prompt_id);
  EXPECT_EQ(back->sample_index, 3);
  EXPECT_EQ(back->messages, t.messages);
  EXPECT_EQ(back->ground_truth, "5");
  EXPECT_EQ(back->extra, t.extra);
  EXPECT_EQ(back->reasoning, t.reasoning);
  EXPECT_EQ(back->answer, t.answer);
  EXPECT_EQ(back->teacher_model, t.teacher_model);
  EXPECT_EQ(back->endpoint, t.endpoint);
  EXPECT_EQ(back->dialect, t.dialect);
  EXPECT_EQ(back->sampling_requested.temperature, 0.6);
  EXPECT_EQ(back->sampling_requested.top_p, 0.95);
  EXPECT_EQ(back->sampling_requested.max_tokens, 32768);
  EXPECT_EQ(back->sampling_requested.seed, 7);
  EXPECT_EQ(back->sampling_returned.temperature, 0.6);
  EXPECT_FALSE(back->sampling_returned.top_p.has_value());
  EXPECT_EQ(back->usage.prompt_tokens, 12);
  EXPECT_EQ(back->usage.completion_tokens, 40);
  EXPECT_EQ(back->usage.reasoning_tokens, 30);
  EXPECT_EQ(back->finish_reason, "stop");
  EXPECT_EQ(back->latency_s, 1.25);
  EXPECT_EQ(back->first_token_s, 0.5);
  EXPECT_EQ(back->attempts, 2);
  EXPECT_EQ(back->started_at, t.started_at);
  EXPECT_EQ(back->finished_at, t.finished_at);
  EXPECT_EQ(ToJson(*back), j);
  // The consuming overload (above, on a temporary) and the copying one read the same record.
  auto copied = TraceFromJson(j, "traces.jsonl:1");
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_EQ(ToJson(*copied), j);
}

// Property: optional fields are omitted when unset and come back unset.
TEST(TraceJson, OptionalFieldsOmittedWhenUnset) {
  TraceRecord t = FullTrace();
  t.ground_truth.reset();
  t.extra = json::object();
  t.first_token_s.reset();
  t.usage.reasoning_tokens.reset();
  t.sampling_requested = {};
  const json j = ToJson(t);
  EXPECT_FALSE(j.contains("ground_truth"));
  EXPECT_FALSE(j.contains("extra"));
  EXPECT_FALSE(j.contains("first_token_s"));
  EXPECT_FALSE(j["usage"].contains("reasoning_tokens"));
  EXPECT_EQ(j["sampling_requested"], json::object());
  auto back = TraceFromJson(j, "t:1");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FALSE(back->ground_truth.has_value());
  EXPECT_FALSE(back->first_token_s.has_value());
  EXPECT_FALSE(back->usage.reasoning_tokens.has_value());
  EXPECT_FALSE(back->sampling_requested.temperature.has_value());
  EXPECT_TRUE(back->extra.is_object() && back->extra.empty());
  EXPECT_EQ(ToJson(*back), j);
}

// Property: a minimal trace (the required fields only) parses with defaults for the metadata.
TEST(TraceJson, MinimalTrace) {
  auto t = TraceFromJson(json::parse(R"({"prompt_id": "p", "sample_index": 0,
      "messages": [{"role": "user", "content": "q"}], "reasoning": "r", "answer": "a", "finish_reason": "stop"})"),
                         "t:1");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->attempts, 1);
  EXPECT_EQ(t->usage.completion_tokens, 0);
  EXPECT_TRUE(t->teacher_model.empty());
}

// Property: TraceFromJson rejects wrong types and missing required fields, naming where and the field path.
TEST(TraceJson, ErrorsNameTheField) {
  struct Case {
    std::string field;
    json value;  // null: remove the field
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"prompt_id", json(), "missing field 'prompt_id'"},
      {"prompt_id", 3, "field 'prompt_id': expected a string, got an integer"},
      {"sample_index", "3", "field 'sample_index': expected an integer"},
      {"sample_index", -1, "field 'sample_index'"},
      {"sample_index", 4294967296LL, "field 'sample_index'"},
      {"messages", json(), "missing field 'messages'"},
      {"messages", json::parse(R"([{"role": "user"}])"), "missing field 'messages[0].content'"},
      {"ground_truth", 5, "field 'ground_truth': expected a string"},
      {"extra", json::array(), "field 'extra': expected an object"},
      {"reasoning", json(), "missing field 'reasoning'"},
      {"answer", false, "field 'answer': expected a string, got a boolean"},
      {"sampling_requested", json::parse(R"({"temperature": "hot"})"),
       "field 'sampling_requested.temperature': expected a number, got a string"},
      {"sampling_returned", 1, "field 'sampling_returned': expected an object"},
      {"usage", json::parse(R"({"reasoning_tokens": -1})"), "field 'usage.reasoning_tokens'"},
      {"usage", json::parse(R"({"prompt_tokens": 1.5})"), "field 'usage.prompt_tokens'"},
      {"finish_reason", json(), "missing field 'finish_reason'"},
      {"latency_s", "1s", "field 'latency_s': expected a number"},
      {"first_token_s", json::array(), "field 'first_token_s': expected a number"},
      {"attempts", 1.0, "field 'attempts': expected an integer"},
      {"started_at", 0, "field 'started_at': expected a string"},
  };
  for (const Case& c : cases) {
    json j = ToJson(FullTrace());
    if (c.value.is_null()) {
      j.erase(c.field);
    } else {
      j[c.field] = c.value;
    }
    auto t = TraceFromJson(j, "traces.jsonl:12");
    ASSERT_FALSE(t.ok()) << c.field;
    const std::string message(t.status().message());
    auto consumed = TraceFromJson(json(j), "traces.jsonl:12");  // the moving overload names the same error
    EXPECT_EQ(consumed.status(), t.status()) << c.field;
    EXPECT_NE(message.find("traces.jsonl:12: "), std::string::npos) << message;
    EXPECT_NE(message.find(c.expected), std::string::npos) << message << " / " << c.expected;
  }
  auto not_object = TraceFromJson(json::array(), "t:2");
  ASSERT_FALSE(not_object.ok());
  EXPECT_NE(not_object.status().message().find("t:2: expected a JSON object"), std::string::npos);
}

// Property: TraceKey is "<prompt_id>#<sample_index>".
TEST(TraceKey, Format) { EXPECT_EQ(TraceKey("abc", 3), "abc#3"); }

// Property: failure lines round-trip and name bad fields.
TEST(FailureJson, RoundTripAndErrors) {
  FailureRecord f{"p", 2, "http_status", 5, 429, "rate limited", "2026-11-26T10:00:00Z"};
  const json j = ToJson(f);
  EXPECT_EQ(j, json::parse(R"({"prompt_id":"p","sample_index":2,"reason":"http_status","attempts":5,
      "last_status":429,"last_error":"rate limited","at":"2026-11-26T10:00:00Z"})"));
  auto back = FailureFromJson(j, "failures.jsonl:1");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(ToJson(*back), j);
  json bad = j;
  bad["last_status"] = "429";
  auto err = FailureFromJson(bad, "failures.jsonl:4");
  ASSERT_FALSE(err.ok());
  EXPECT_NE(err.status().message().find("failures.jsonl:4: field 'last_status'"), std::string::npos)
      << err.status();
}

// Property: PromptText joins the user turns only; ParseJsonObjectLine and IsBlankLine behave as JSONL readers need.
TEST(Helpers, PromptTextAndLines) {
  const json messages = json::parse(R"([{"role":"system","content":"sys"},{"role":"user","content":"a"},
      {"role":"assistant","content":"b"},{"role":"user","content":"c"}])");
  EXPECT_EQ(PromptText(messages), "a\n\nc");
  EXPECT_TRUE(IsBlankLine(" \t\r"));
  EXPECT_FALSE(IsBlankLine(" x"));
  EXPECT_TRUE(ParseJsonObjectLine(R"({"a":1})", "f:1").ok());
  EXPECT_FALSE(ParseJsonObjectLine("1", "f:1").ok());
}

}  // namespace
}  // namespace distill::data
