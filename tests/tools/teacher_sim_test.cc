// The offline teacher simulator over real HTTP on loopback: dialect fields, correct answers, determinism, fault
// injection, the request log and the API key check.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tools/teacher/problems.h"
#include "tools/teacher/teacher_sim.h"
#include "tools/teacher/trace.h"

namespace distill::teacher {
namespace {

using json = nlohmann::json;

std::unique_ptr<TeacherSim> StartSim(TeacherSimOptions options) {
  auto sim = std::make_unique<TeacherSim>(std::move(options));
  absl::Status status = sim->Start();
  EXPECT_TRUE(status.ok()) << status;
  return sim;
}

json Request(const std::string& prompt, bool stream = false) {
  json body = {{"model", "deepseek-reasoner"},
               {"messages", json::array({{{"role", "user"}, {"content", prompt}}})},
               {"temperature", 0.6},
               {"top_p", 0.95}};
  if (stream) {
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
  }
  return body;
}

// One HTTP exchange: status (0 when the connection failed before headers), headers, body as received (also
// the part received before a connection drop) and whether the transfer completed.
struct Exchange {
  int status = 0;
  httplib::Headers headers;
  std::string body;
  bool complete = false;
};

Exchange Post(const TeacherSim& sim, const json& body, httplib::Headers headers = {}) {
  httplib::Client client("127.0.0.1", sim.port());
  client.set_read_timeout(10, 0);
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.headers = std::move(headers);
  req.headers.emplace("Content-Type", "application/json");
  req.body = body.dump();
  Exchange out;
  req.content_receiver = [&out](const char* data, size_t len, uint64_t, uint64_t) {
    out.body.append(data, len);
    return true;
  };
  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  out.complete = client.send(req, res, error);
  out.status = res.status > 0 ? res.status : 0;
  out.headers = res.headers;
  if (out.body.empty()) out.body = res.body;
  return out;
}

// SSE events of a stream ("data: …" payloads in order) and whether it ended with [DONE].
struct Sse {
  std::vector<json> events;
  int unparsable = 0;
  bool done = false;
};

Sse ParseSse(const std::string& body) {
  Sse sse;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) end = body.size();
    std::string event = body.substr(pos, end - pos);
    pos = end + 2;
    if (event.rfind("data: ", 0) != 0) continue;
    std::string payload = event.substr(6);
    if (payload == "[DONE]") {
      sse.done = true;
      continue;
    }
    json parsed = json::parse(payload, nullptr, false);
    if (parsed.is_discarded())
      ++sse.unparsable;
    else
      sse.events.push_back(std::move(parsed));
  }
  return sse;
}

// Reasoning and content assembled from stream deltas, with the field names seen.
struct Assembled {
  std::string reasoning, reasoning_alias, content, finish_reason;
  bool content_before_reasoning_ended = false;
  json usage;
};

Assembled Assemble(const Sse& sse) {
  Assembled a;
  for (const json& e : sse.events) {
    if (e.contains("usage") && e["usage"].is_object()) a.usage = e["usage"];
    for (const json& c : e["choices"]) {
      const json& d = c["delta"];
      if (d.contains("reasoning_content") && d["reasoning_content"].is_string()) {
        if (!a.content.empty()) a.content_before_reasoning_ended = true;
        a.reasoning += d["reasoning_content"].get<std::string>();
      }
      if (d.contains("reasoning") && d["reasoning"].is_string()) a.reasoning_alias += d["reasoning"].get<std::string>();
      if (d.contains("content") && d["content"].is_string()) a.content += d["content"].get<std::string>();
      if (c["finish_reason"].is_string()) a.finish_reason = c["finish_reason"];
    }
  }
  return a;
}

// The content of the last \boxed{…} (braces nested), with \frac{a}{b} written a/b.
std::string Boxed(const std::string& text) {
  size_t at = text.rfind("\\boxed{");
  if (at == std::string::npos) return "";
  size_t i = at + 7;
  int depth = 1;
  std::string inner;
  for (; i < text.size() && depth > 0; ++i) {
    if (text[i] == '{') ++depth;
    if (text[i] == '}' && --depth == 0) break;
    inner += text[i];
  }
  size_t frac = inner.find("\\frac{");
  if (frac != std::string::npos) {
    std::string sign = inner.substr(0, frac);
    std::string rest = inner.substr(frac + 6);
    size_t mid = rest.find("}{");
    return sign + rest.substr(0, mid) + "/" + rest.substr(mid + 2, rest.size() - mid - 3);
  }
  return inner;
}

// Property: every generated problem is recognised by the solver with the generator's ground truth, and the
// generator is deterministic and covers every family.
TEST(TeacherProblems, SolverAgreesWithGeneratorOnAllFamilies) {
  auto problems = GenerateProblems(7, 240);
  EXPECT_EQ(problems.size(), 240u);
  std::set<std::string> families;
  for (const Problem& p : problems) {
    families.insert(p.family);
    auto solved = SolveProblem(MathPrompt(p.text));
    ASSERT_TRUE(solved.ok()) << p.text << ": " << solved.status();
    EXPECT_EQ(FormatRational(solved->value), p.answer) << p.text;
    EXPECT_EQ(solved->family, p.family) << p.text;
  }
  EXPECT_EQ(families.size(), 9u);
  auto again = GenerateProblems(7, 240);
  for (size_t i = 0; i < problems.size(); ++i) EXPECT_EQ(problems[i].text, again[i].text);
  EXPECT_NE(GenerateProblems(8, 3)[0].text, problems[0].text);
}

// Property: the examples of the brief are solved exactly (precedence, parentheses, exact fractions).
TEST(TeacherProblems, SolvesHandWrittenPrompts) {
  auto v = [](const char* prompt) {
    auto s = SolveProblem(prompt);
    return s.ok() ? FormatRational(s->value) : std::string(s.status().message());
  };
  EXPECT_EQ(v("What is 347 * 29?"), "10063");
  EXPECT_EQ(v("Compute (12 + 7) * 3."), "57");
  EXPECT_EQ(v("What is 2 + 3 * 4 - 10 / 4?"), "23/2");
  EXPECT_EQ(v("What is 7 × 6 ÷ 4?"), "21/2");
  EXPECT_EQ(v("Evaluate -(3 - 10) * 2."), "14");
  EXPECT_EQ(v("Tom has 12 apples and buys 7 more. How many apples does he have?"), "19");
  EXPECT_EQ(SolveProblem("Hello there").status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(SolveProblem("What is 5 / 0?").ok());
  // A megabyte of letters (a regex recursing per character would overflow the stack) is simply not a problem.
  EXPECT_EQ(SolveProblem("Ann has 3 " + std::string(1 << 20, 'a')).status().code(), absl::StatusCode::kNotFound);
}

// Property: at fault rate 0 the boxed answer of every response equals the generator's ground truth (200
// generated problems, DeepSeek dialect, non-streaming).
TEST(TeacherSim, BoxedAnswersMatchGroundTruth) {
  auto sim = StartSim({});
  for (const Problem& p : GenerateProblems(2026, 200)) {
    Exchange ex = Post(*sim, Request(MathPrompt(p.text)));
    ASSERT_EQ(ex.status, 200) << ex.body;
    json body = json::parse(ex.body);
    const json& message = body["choices"][0]["message"];
    EXPECT_EQ(Boxed(message["content"].get<std::string>()), p.answer) << p.text;
    EXPECT_NE(message["reasoning_content"].get<std::string>().find("Let me"), std::string::npos) << p.text;
  }
}

// Property: DeepSeek non-streaming puts reasoning in message.reasoning_content, the answer in content, and
// counts reasoning tokens in usage.completion_tokens_details.
TEST(TeacherSim, DeepSeekNonStreamingFields) {
  auto sim = StartSim({});
  Exchange ex = Post(*sim, Request("What is 347 * 29?"));
  ASSERT_EQ(ex.status, 200);
  json body = json::parse(ex.body);
  EXPECT_EQ(body["object"], "chat.completion");
  const json& choice = body["choices"][0];
  EXPECT_EQ(choice["finish_reason"], "stop");
  std::string reasoning = choice["message"]["reasoning_content"];
  std::string content = choice["message"]["content"];
  EXPECT_NE(reasoning.find("10063"), std::string::npos);
  EXPECT_EQ(reasoning.find("<think>"), std::string::npos);
  EXPECT_EQ(Boxed(content), "10063");
  EXPECT_EQ(body["usage"]["completion_tokens_details"]["reasoning_tokens"], CountTokens(reasoning));
  EXPECT_EQ(body["usage"]["completion_tokens"], CountTokens(reasoning) + CountTokens(content));
}

// Property: in every dialect, streaming and non-streaming carry the same reasoning and answer, in the fields
// that dialect defines (ollama: inline <think>…</think> at the start of content), reasoning deltas come before
// content deltas, the stream ends with [DONE] and include_usage adds a final usage chunk.
TEST(TeacherSim, EveryDialectStreamingAndNot) {
  TeacherSimOptions options;
  options.vllm_reasoning_alias = true;
  auto sim = StartSim(options);
  for (const char* dialect : {"deepseek", "vllm", "llamacpp", "ollama"}) {
    SCOPED_TRACE(dialect);
    httplib::Headers headers = {{"X-Teacher-Dialect", dialect}};
    Exchange plain = Post(*sim, Request("Compute (12 + 7) * 3."), headers);
    ASSERT_EQ(plain.status, 200);
    json message = json::parse(plain.body)["choices"][0]["message"];
    Exchange streamed = Post(*sim, Request("Compute (12 + 7) * 3.", true), headers);
    ASSERT_EQ(streamed.status, 200);
    EXPECT_NE(streamed.headers.find("Content-Type")->second.find("text/event-stream"), std::string::npos);
    Sse sse = ParseSse(streamed.body);
    EXPECT_TRUE(sse.done);
    EXPECT_EQ(sse.unparsable, 0);
    ASSERT_FALSE(sse.events.empty());
    EXPECT_EQ(sse.events.front()["object"], "chat.completion.chunk");
    EXPECT_TRUE(sse.events.back()["choices"].empty());
    Assembled a = Assemble(sse);
    EXPECT_EQ(a.finish_reason, "stop");
    EXPECT_EQ(a.usage["completion_tokens"], json::parse(plain.body)["usage"]["completion_tokens"]);
    EXPECT_FALSE(a.content_before_reasoning_ended);
    std::string content = message["content"];
    EXPECT_EQ(a.content, content);
    EXPECT_EQ(Boxed(content), "57");
    if (std::string(dialect) == "ollama") {
      EXPECT_FALSE(message.contains("reasoning_content"));
      EXPECT_EQ(content.rfind("<think>\n", 0), 0u);
      EXPECT_NE(content.find("\n</think>\n\n"), std::string::npos);
      EXPECT_TRUE(a.reasoning.empty());
    } else {
      std::string reasoning = message["reasoning_content"];
      EXPECT_FALSE(reasoning.empty());
      EXPECT_EQ(content.find("<think>"), std::string::npos);
      EXPECT_EQ(a.reasoning, reasoning);
      EXPECT_EQ(message.contains("reasoning"), std::string(dialect) == "vllm");
      if (std::string(dialect) == "vllm") {
        EXPECT_EQ(message["reasoning"], reasoning);
        EXPECT_EQ(a.reasoning_alias, reasoning);
      }
      EXPECT_EQ(json::parse(plain.body)["usage"].contains("completion_tokens_details"),
                std::string(dialect) == "deepseek");
    }
  }
}

// Property: the server's default dialect applies without the header (ollama server → inline think).
TEST(TeacherSim, DefaultDialectFromOptions) {
  TeacherSimOptions options;
  options.dialect = Dialect::kOllama;
  auto sim = StartSim(options);
  Exchange ex = Post(*sim, Request("What is 84 / 7?"));
  ASSERT_EQ(ex.status, 200);
  std::string content = json::parse(ex.body)["choices"][0]["message"]["content"];
  EXPECT_EQ(content.rfind("<think>\n", 0), 0u);
  EXPECT_EQ(Boxed(content), "12");
  EXPECT_EQ(sim->Log().back().dialect, "ollama");
}

// Property: the same seed gives byte-identical text (across servers and repeats); the request's `seed` field and
// the choice index select different samples.
TEST(TeacherSim, DeterministicForSameSeed) {
  TeacherSimOptions options;
  options.seed = 99;
  options.defects.wait_correction = 0.5;
  auto a = StartSim(options);
  auto b = StartSim(options);
  std::set<std::string> distinct;
  for (int s = 0; s < 8; ++s) {
    json req = Request("What is 4821 * 37?");
    req["seed"] = s;
    req["n"] = 2;
    json ra = json::parse(Post(*a, req).body), rb = json::parse(Post(*b, req).body);
    EXPECT_EQ(ra["choices"], rb["choices"]);
    EXPECT_EQ(ra["choices"], json::parse(Post(*a, req).body)["choices"]);
    distinct.insert(ra["choices"][0]["message"]["reasoning_content"].get<std::string>());
    distinct.insert(ra["choices"][1]["message"]["reasoning_content"].get<std::string>());
    EXPECT_EQ(Boxed(ra["choices"][1]["message"]["content"]), "178377");
  }
  EXPECT_GT(distinct.size(), 3u);
}

// Property: max_tokens cuts the completion (whitespace-separated words) and sets finish_reason "length".
TEST(TeacherSim, MaxTokensTruncates) {
  auto sim = StartSim({});
  json req = Request("What is 347 * 29?");
  req["max_tokens"] = 10;
  json body = json::parse(Post(*sim, req).body);
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(body["usage"]["completion_tokens"], 10);
  EXPECT_EQ(body["choices"][0]["message"]["content"], "");
  EXPECT_EQ(sim->Log().back().outcome, "length");
}

// Property: each content defect at rate 1 shows up the way it is defined.
TEST(TeacherSim, ContentDefects) {
  auto reply = [](DefectRates rates) {
    TeacherSimOptions options;
    options.defects = rates;
    auto sim = StartSim(options);
    return json::parse(Post(*sim, Request("What is 347 * 29?")).body)["choices"][0];
  };
  DefectRates r;
  r.language_mix = 1;
  EXPECT_NE(reply(r)["message"]["reasoning_content"].get<std::string>().find("。"), std::string::npos);
  r = {};
  r.loop = 1;
  r.loop_repeats = 30;
  std::string looped = reply(r)["message"]["reasoning_content"];
  std::map<std::string, size_t> paragraphs;
  size_t most = 0;
  for (size_t start = 0; start < looped.size();) {
    size_t end = std::min(looped.find("\n\n", start), looped.size());
    most = std::max(most, ++paragraphs[looped.substr(start, end - start)]);
    start = end + 2;
  }
  EXPECT_GE(most, 31u);
  r = {};
  r.wrong_answer = 1;
  std::string wrong = Boxed(reply(r)["message"]["content"]);
  EXPECT_FALSE(wrong.empty());
  EXPECT_NE(wrong, "10063");
  r = {};
  r.truncation = 1;
  json truncated = reply(r);
  EXPECT_EQ(truncated["finish_reason"], "length");
  EXPECT_EQ(truncated["message"]["content"], "");
  r = {};
  r.no_reasoning = 1;
  json bare = reply(r);
  EXPECT_EQ(bare["message"]["reasoning_content"], "");
  EXPECT_EQ(Boxed(bare["message"]["content"]), "10063");
  r = {};
  r.empty = 1;
  json empty = reply(r);
  EXPECT_EQ(empty["message"]["reasoning_content"], "");
  EXPECT_EQ(empty["message"]["content"], "");
  EXPECT_EQ(empty["finish_reason"], "stop");
}

// Property: 429 carries Retry-After as seconds or as an HTTP date; 500 and 503 are JSON errors.
TEST(TeacherSimFaults, RateLimitAndServerErrors) {
  TeacherSimOptions options;
  options.faults.rate_limit = 1;
  options.retry_after_s = 2;
  options.retry_after_date_share = 0.5;
  auto sim = StartSim(options);
  int seconds = 0, dates = 0;
  for (int i = 0; i < 40; ++i) {
    Exchange ex = Post(*sim, Request("What is " + std::to_string(i) + " + 1?"));
    ASSERT_EQ(ex.status, 429);
    auto it = ex.headers.find("Retry-After");
    ASSERT_NE(it, ex.headers.end());
    if (it->second == "2")
      ++seconds;
    else if (it->second.size() == 29 && it->second.substr(26) == "GMT")
      ++dates;
    EXPECT_EQ(json::parse(ex.body)["error"]["type"], "rate_limit_error");
  }
  EXPECT_GT(seconds, 0);
  EXPECT_GT(dates, 0);
  EXPECT_EQ(seconds + dates, 40);
  for (auto [fault, status] : {std::pair{"server_error", 500}, std::pair{"unavailable", 503}}) {
    TeacherSimOptions o;
    (std::string(fault) == "server_error" ? o.faults.server_error : o.faults.unavailable) = 1;
    auto s = StartSim(o);
    Exchange ex = Post(*s, Request("What is 1 + 1?"));
    EXPECT_EQ(ex.status, status);
    EXPECT_TRUE(json::parse(ex.body).contains("error"));
    EXPECT_EQ(s->Log().back().outcome, fault);
  }
}

// Property: a cut stream is an SSE body that stops before [DONE] on a dropped connection; a cut non-streaming
// response is shorter than its Content-Length.
TEST(TeacherSimFaults, CutStream) {
  TeacherSimOptions options;
  options.faults.cut_stream = 1;
  auto sim = StartSim(options);
  Exchange ex = Post(*sim, Request("What is 347 * 29?", true));
  EXPECT_FALSE(ex.complete);
  Sse sse = ParseSse(ex.body);
  EXPECT_FALSE(sse.done);
  EXPECT_GE(sse.events.size(), 1u);
  Exchange plain = Post(*sim, Request("What is 347 * 29?"));
  EXPECT_FALSE(plain.complete);
  EXPECT_TRUE(json::parse(plain.body, nullptr, false).is_discarded());
  EXPECT_EQ(sim->Log().back().outcome, "cut_stream");
}

// Property: malformed_json gives 200 with a body (or one SSE event) that is not valid JSON.
TEST(TeacherSimFaults, MalformedJson) {
  TeacherSimOptions options;
  options.faults.malformed_json = 1;
  auto sim = StartSim(options);
  Exchange plain = Post(*sim, Request("What is 3 * 4?"));
  EXPECT_EQ(plain.status, 200);
  EXPECT_TRUE(json::parse(plain.body, nullptr, false).is_discarded());
  Exchange streamed = Post(*sim, Request("What is 3 * 4?", true));
  EXPECT_EQ(streamed.status, 200);
  Sse sse = ParseSse(streamed.body);
  EXPECT_EQ(sse.unparsable, 1);
  EXPECT_TRUE(sse.done);
}

// Property: slow_first_byte delays the response by slow_first_byte_ms, and instant mode removes the delay.
TEST(TeacherSimFaults, SlowFirstByteAndInstant) {
  TeacherSimOptions options;
  options.faults.slow_first_byte = 1;
  options.slow_first_byte_ms = 400;
  auto sim = StartSim(options);
  auto t0 = std::chrono::steady_clock::now();
  Exchange ex = Post(*sim, Request("What is 2 + 2?"));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(ex.status, 200);
  EXPECT_GE(ms, 390);
  EXPECT_EQ(Boxed(json::parse(ex.body)["choices"][0]["message"]["content"]), "4");
  options.instant = true;
  options.slow_first_byte_ms = 5000;
  auto fast = StartSim(options);
  t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Post(*fast, Request("What is 2 + 2?")).status, 200);
  ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(ms, 2000);
  EXPECT_EQ(fast->Log().back().outcome, "slow_first_byte");
}

// Property: faults are drawn from (fault_seed, body, attempt): two servers with the same fault_seed answer the
// same request sequence with the same statuses, retries of one body eventually succeed, and every kind occurs
// at a mixed rate; the X-Teacher-Fault header forces a kind.
TEST(TeacherSimFaults, ReproducibleMixedFaults) {
  TeacherSimOptions options;
  options.faults = FaultRates::Uniform(0.6);
  options.fault_seed = 5;
  options.instant = true;
  auto a = StartSim(options);
  auto b = StartSim(options);
  for (int i = 0; i < 60; ++i) {
    json req = Request("What is " + std::to_string(i % 20) + " * 3?", i % 2 == 0);
    EXPECT_EQ(Post(*a, req).status, Post(*b, req).status) << i;
  }
  std::map<std::string, int> outcomes;
  for (const RequestLogEntry& e : a->Log()) ++outcomes[e.outcome];
  for (const char* kind : {"rate_limit", "server_error", "unavailable", "slow_first_byte", "cut_stream",
                           "malformed_json", "ok"})
    EXPECT_GT(outcomes[kind], 0) << kind;
  std::vector<std::string> seq_a, seq_b;
  for (const auto& e : a->Log()) seq_a.push_back(e.outcome);
  for (const auto& e : b->Log()) seq_b.push_back(e.outcome);
  EXPECT_EQ(seq_a, seq_b);
  auto c = StartSim({});
  EXPECT_EQ(Post(*c, Request("What is 1 + 1?"), {{"X-Teacher-Fault", "rate_limit"}}).status, 429);
  EXPECT_EQ(Post(*c, Request("What is 1 + 1?"), {{"X-Teacher-Fault", "bogus"}}).status, 400);
}

// Property: the request log (memory and JSONL file) has one entry per request with path, dialect, streamed flag
// and outcome, so tests can count requests; bad requests and unknown paths are logged too.
TEST(TeacherSim, RequestLogCounts) {
  std::string path = ::testing::TempDir() + "/teacher_sim_log.jsonl";
  std::remove(path.c_str());
  TeacherSimOptions options;
  options.log_path = path;
  auto sim = StartSim(options);
  for (int i = 0; i < 5; ++i) Post(*sim, Request("What is 6 * 7?", i % 2 == 1));
  Post(*sim, Request("What is 6 * 7?"), {{"X-Teacher-Fault", "server_error"}, {"X-Teacher-Dialect", "vllm"}});
  httplib::Client client("127.0.0.1", sim->port());
  EXPECT_EQ(client.Post("/v1/chat/completions", "{not json", "application/json")->status, 400);
  auto models = client.Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(json::parse(models->body)["data"][0]["id"], "deepseek-reasoner");
  EXPECT_EQ(client.Get("/v2/nothing")->status, 404);
  sim->Stop();
  std::vector<RequestLogEntry> log = sim->Log();
  ASSERT_EQ(log.size(), 9u);
  int streamed = 0, ok = 0;
  for (int i = 0; i < 5; ++i) {
    streamed += log[i].streamed;
    ok += log[i].outcome == "ok";
    EXPECT_EQ(log[i].path, "/v1/chat/completions");
    EXPECT_EQ(log[i].dialect, "deepseek");
  }
  EXPECT_EQ(streamed, 2);
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(log[5].outcome, "server_error");
  EXPECT_EQ(log[5].dialect, "vllm");
  EXPECT_EQ(log[5].status, 500);
  EXPECT_EQ(log[6].outcome, "bad_request");
  EXPECT_EQ(log[7].path, "/v1/models");
  EXPECT_EQ(log[8].outcome, "not_found");
  for (size_t i = 1; i < log.size(); ++i) EXPECT_GE(log[i].timestamp_ms, log[i - 1].timestamp_ms);
  std::ifstream in(path);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    json entry = json::parse(line);
    EXPECT_EQ(entry["outcome"], log[static_cast<size_t>(lines)].outcome);
    ++lines;
  }
  EXPECT_EQ(lines, 9);
}

// Property: with an API key configured, requests without it or with a wrong one get 401, the right one gets
// 200, and the key is never written to the log.
TEST(TeacherSim, ApiKeyRequired) {
  std::string path = ::testing::TempDir() + "/teacher_sim_key.jsonl";
  std::remove(path.c_str());
  TeacherSimOptions options;
  options.api_key = "sk-test-secret-123";
  options.log_path = path;
  auto sim = StartSim(options);
  EXPECT_EQ(Post(*sim, Request("What is 1 + 2?")).status, 401);
  EXPECT_EQ(Post(*sim, Request("What is 1 + 2?"), {{"Authorization", "Bearer sk-wrong"}}).status, 401);
  Exchange ok = Post(*sim, Request("What is 1 + 2?"), {{"Authorization", "Bearer sk-test-secret-123"}});
  EXPECT_EQ(ok.status, 200);
  httplib::Client client("127.0.0.1", sim->port());
  EXPECT_EQ(client.Get("/v1/models")->status, 401);
  sim->Stop();
  std::vector<RequestLogEntry> log = sim->Log();
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[0].outcome, "unauthorized");
  EXPECT_EQ(log[2].outcome, "ok");
  std::stringstream file;
  file << std::ifstream(path).rdbuf();
  EXPECT_EQ(file.str().find("sk-test-secret"), std::string::npos);
  EXPECT_NE(file.str().find("unauthorized"), std::string::npos);
}

// Property: concurrent clients (streaming and not) are all served correctly and every request is logged once.
TEST(TeacherSim, ConcurrentClients) {
  TeacherSimOptions options;
  options.threads = 4;
  auto sim = StartSim(options);
  auto problems = GenerateProblems(11, 48);
  std::vector<std::thread> clients;
  std::atomic<int> correct{0};
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&, t] {
      for (size_t i = static_cast<size_t>(t); i < problems.size(); i += 6) {
        bool stream = i % 2 == 0;
        Exchange ex = Post(*sim, Request(MathPrompt(problems[i].text), stream));
        std::string content = stream ? Assemble(ParseSse(ex.body)).content
                                     : json::parse(ex.body)["choices"][0]["message"]["content"].get<std::string>();
        if (ex.status == 200 && Boxed(content) == problems[i].answer) ++correct;
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(correct.load(), 48);
  EXPECT_EQ(sim->Log().size(), 48u);
}

// Property: a port in use is reported as an error, and Stop is idempotent and prompt.
TEST(TeacherSim, StartErrorsAndStop) {
  auto sim = StartSim({});
  TeacherSimOptions taken;
  taken.port = sim->port();
  TeacherSim second(taken);
  EXPECT_FALSE(second.Start().ok());
  auto t0 = std::chrono::steady_clock::now();
  sim->Stop();
  sim->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  TeacherSimOptions bad;
  bad.faults.rate_limit = 0.8;
  bad.faults.server_error = 0.8;
  EXPECT_EQ(TeacherSim(bad).Start().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace distill::teacher
