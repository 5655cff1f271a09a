#include "data/collect/collector.h"

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <fstream>
#include <memory>
#include <queue>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "data/atomic_file.h"
#include "data/collect/dialect.h"
#include "data/trace_record.h"

namespace distill::data::collect {
namespace {

std::string NowRfc3339() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  int ms = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

double NowUnixSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct Job {
  size_t prompt = 0;  // index into prompts
  int sample = 0;
  std::string key;
  int attempts = 0;
  int free_429s = 0;  // 429s not counted against max_attempts (up to kFree429s)
  std::string started_at;
  // Last failed attempt, for the failures line.
  std::string reason;
  std::string error;
  long last_status = 0;
};

struct Prepared {
  PromptRecord record;
  nlohmann::json sent;  // messages as sent
};

struct InFlight {
  size_t job = 0;
  double start_s = 0;
  std::unique_ptr<StreamNormaliser> stream;
  std::optional<double> first_token_s;
};

// Outcome of one attempt.
struct Attempt {
  bool ok = false;
  bool retryable = true;
  bool rate_limited = false;
  std::optional<double> retry_after_s;
  std::string reason;  // short code
  std::string error;   // message
  Completion completion;
};

std::string Snippet(std::string_view s) {
  std::string out(s.substr(0, 160));
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  return out;
}

Attempt Classify(const CollectOptions& o, HttpResult& http, InFlight& flight) {
  Attempt a;
  if (http.error_kind != HttpErrorKind::kNone) {
    switch (http.error_kind) {
      case HttpErrorKind::kConnect:
        a.reason = "connection";
        break;
      case HttpErrorKind::kFirstByteTimeout:
      case HttpErrorKind::kIdleTimeout:
      case HttpErrorKind::kTotalTimeout:
        a.reason = "timeout";
        break;
      case HttpErrorKind::kReset:
        a.reason = "connection_reset";
        break;
      default:
        a.reason = "transport";
    }
    a.error = http.error;
    return a;
  }
  if (http.status == 429) {
    a.reason = "rate_limited";
    a.rate_limited = true;
    a.retry_after_s = ParseRetryAfter(http.retry_after, NowUnixSeconds());
    a.error = absl::StrCat("HTTP 429", http.retry_after.empty() ? "" : " Retry-After: ", http.retry_after);
    return a;
  }
  if (http.status < 200 || http.status >= 300) {
    a.reason = absl::StrCat("http_", http.status);
    a.retryable = http.status >= 500 || http.status == 408 || http.status == 409;
    if (!http.retry_after.empty()) a.retry_after_s = ParseRetryAfter(http.retry_after, NowUnixSeconds());
    a.error = absl::StrCat("HTTP ", http.status, ": ", Snippet(http.body));
    return a;
  }
  absl::StatusOr<Completion> c = flight.stream ? flight.stream->Finish() : NormaliseResponse(http.body);
  if (!c.ok()) {
    absl::string_view msg = c.status().message();
    a.reason = absl::StartsWith(msg, "stream ended early") ? "truncated_stream"
               : absl::StartsWith(msg, "endpoint error")   ? "endpoint_error"
               : absl::StartsWith(msg, "empty stream")     ? "empty_response"
                                                            : "malformed_response";
    a.error = std::string(msg);
    return a;
  }
  if (c->reasoning.empty() && c->answer.empty()) {
    a.reason = "empty_response";
    a.error = "200 with neither reasoning nor answer";
    return a;
  }
  if (o.require_reasoning && c->reasoning.empty()) {
    a.reason = "no_reasoning";
    a.error = "200 without reasoning (the model skipped thinking)";
    return a;
  }
  if (!o.accept_length && c->finish_reason == "length") {
    a.reason = "length";
    a.error = absl::StrCat("finish_reason length: truncated at max_tokens ", o.max_tokens);
    return a;
  }
  a.ok = true;
  a.completion = std::move(*c);
  return a;
}

}  // namespace

std::string DefaultFailuresPath(const std::string& out_path) {
  if (absl::EndsWith(out_path, ".jsonl")) return out_path.substr(0, out_path.size() - 6) + ".failures.jsonl";
  return out_path + ".failures.jsonl";
}

std::string ChatCompletionsUrl(const std::string& base_url) {
  std::string base = base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (absl::EndsWith(base, "/chat/completions")) return base;
  if (absl::EndsWith(base, "/v1")) return base + "/chat/completions";
  return base + "/v1/chat/completions";
}

std::string RedactUrl(const std::string& url) {
  // Query strings may carry keys (?key=…, ?api-key=…): dropped with the user:password@ part.
  std::string base_url = url.substr(0, url.find_first_of("?#"));
  size_t scheme = base_url.find("://");
  size_t host_start = scheme == std::string::npos ? 0 : scheme + 3;
  size_t slash = base_url.find('/', host_start);
  size_t at = base_url.rfind('@', slash == std::string::npos ? std::string::npos : slash);
  if (at == std::string::npos || at < host_start) return base_url;
  return base_url.substr(0, host_start) + base_url.substr(at + 1);
}

nlohmann::json PrepareMessages(const nlohmann::json& messages, const std::string& suffix, bool* folded_system) {
  nlohmann::json out = nlohmann::json::array();
  std::string system;
  for (const auto& m : messages) {
    if (m.is_object() && m.value("role", "") == "system") {
      if (m.contains("content") && m["content"].is_string()) {
        if (!system.empty()) system += "\n\n";
        system += m["content"].get<std::string>();
      }
      if (folded_system) *folded_system = true;
      continue;
    }
    out.push_back(m);
  }
  auto is_user = [](const nlohmann::json& m) { return m.is_object() && m.value("role", "") == "user"; };
  if (!system.empty()) {
    bool placed = false;
    for (auto& m : out) {
      if (is_user(m) && m.contains("content") && m["content"].is_string()) {
        m["content"] = system + "\n\n" + m["content"].get<std::string>();
        placed = true;
        break;
      }
    }
    if (!placed) out.insert(out.begin(), nlohmann::json{{"role", "user"}, {"content", system}});
  }
  if (!suffix.empty()) {
    for (auto it = out.rbegin(); it != out.rend(); ++it) {
      if (!is_user(*it)) continue;
      nlohmann::json& content = (*it)["content"];
      if (content.is_string()) {
        std::string text = content.get<std::string>();
        if (!absl::EndsWith(text, suffix)) content = text + "\n" + suffix;
      } else if (content.is_array()) {
        content.push_back({{"type", "text"}, {"text", suffix}});
      }
      break;
    }
  }
  return out;
}

absl::Status ParseShard(const std::string& text, int* index, int* count) {
  std::vector<std::string> parts = absl::StrSplit(text, '/');
  int i = 0, n = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &i) || !absl::SimpleAtoi(parts[1], &n) || n < 1 || i < 0 ||
      i >= n)
    return absl::InvalidArgumentError(absl::StrCat("--shard: expected i/N with 0 <= i < N, got '", text, "'"));
  *index = i;
  *count = n;
  return absl::OkStatus();
}

absl::StatusOr<CollectCounters> RunCollect(const CollectOptions& o) {
  CollectCounters counters;
  counters.verify_enabled = o.verify;
  double t0 = NowSteadySeconds();
  if (o.base_url.empty()) return absl::InvalidArgumentError("no endpoint base URL");
  if (o.model.empty()) return absl::InvalidArgumentError("no model name");
  if (o.samples < 1) return absl::InvalidArgumentError("samples must be >= 1");
  if (o.max_attempts < 1) return absl::InvalidArgumentError("max_attempts must be >= 1");
  if (o.shard_count < 1 || o.shard_index < 0 || o.shard_index >= o.shard_count)
    return absl::InvalidArgumentError("shard index out of range");
  const std::string failures_path = o.failures_path.empty() ? DefaultFailuresPath(o.out_path) : o.failures_path;
  // Traces appended to the prompts file (or to each other) would corrupt it: a mistyped path, refused up front.
  for (const auto& [path, what] : {std::pair{o.out_path, "traces"}, std::pair{failures_path, "failures"}}) {
    if (data::SamePath(path, o.prompts_path)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the ", what, " file ", path, " is the prompts file; choose another path for the ", what));
    }
  }
  if (data::SamePath(o.out_path, failures_path)) {
    return absl::InvalidArgumentError(absl::StrCat("the traces and failures files are both ", o.out_path));
  }
  std::string auth_header;
  if (!o.api_key_env.empty()) {
    const char* key = std::getenv(o.api_key_env.c_str());
    if (key == nullptr || *key == '\0')
      return absl::FailedPreconditionError(
          absl::StrCat("the API key variable ", o.api_key_env, " is not set (or empty) in the environment"));
    auth_header = absl::StrCat("Authorization: Bearer ", key);
  }

  // Prompts.
  std::ifstream in(o.prompts_path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read prompts file ", o.prompts_path));
  std::vector<Prepared> prompts;
  absl::flat_hash_set<std::string> seen_ids;
  int64_t folded = 0, line_no = 0;
  std::string line;
  while (std::getline(in, line)) {
    ++line_no;
    if (IsBlankLine(line)) continue;
    std::string where = absl::StrCat(o.prompts_path, ":", line_no);
    absl::StatusOr<PromptRecord> rec = ParsePromptLine(line, where);
    if (!rec.ok()) {
      ++counters.malformed_prompts;
      std::fprintf(stderr, "distill collect: skipping malformed prompt: %s\n",
                   std::string(rec.status().message()).c_str());
      continue;
    }
    if (o.shard_count > 1 && StableHash(rec->id) % static_cast<uint64_t>(o.shard_count) !=
                                 static_cast<uint64_t>(o.shard_index))
      continue;
    if (!seen_ids.insert(rec->id).second) {
      std::fprintf(stderr, "distill collect: %s: duplicate prompt id '%s'; skipped\n", where.c_str(), rec->id.c_str());
      continue;
    }
    if (o.limit_prompts > 0 && static_cast<int64_t>(prompts.size()) >= o.limit_prompts) break;
    bool had_system = false;
    Prepared p;
    p.sent = PrepareMessages(rec->messages, o.instruction_suffix, &had_system);
    if (had_system) ++folded;
    p.record = std::move(*rec);
    prompts.push_back(std::move(p));
  }
  if (folded > 0)
    std::fprintf(stderr,
                 "distill collect: warning: %lld prompts had a system message; folded into the user turn "
                 "(DeepSeek-R1: no system prompt)\n",
                 static_cast<long long>(folded));

  // Outputs and resume.
  auto traces = JsonlLog::Open(o.out_path, o.log);
  if (!traces.ok()) return traces.status();
  auto failures = JsonlLog::Open(failures_path, o.log);
  if (!failures.ok()) return failures.status();
  absl::flat_hash_set<std::string> done;
  ScanStats scan;
  if (absl::Status s = ScanDoneKeys(o.out_path, done, &scan); !s.ok()) return s;
  if (!o.config_yaml.empty()) {
    if (auto s = data::WriteFileAtomically(o.out_path + ".config.yaml", o.config_yaml); !s.ok()) return s;
  }

  std::vector<Job> jobs;
  std::deque<size_t> ready;
  for (size_t p = 0; p < prompts.size(); ++p) {
    for (int s = 0; s < o.samples; ++s) {
      ++counters.total;
      std::string key = TraceKey(prompts[p].record.id, s);
      if (done.contains(key)) {
        ++counters.skipped_done;
        continue;
      }
      Job j;
      j.prompt = p;
      j.sample = s;
      j.key = std::move(key);
      ready.push_back(jobs.size());
      jobs.push_back(std::move(j));
    }
  }

  const std::string url = ChatCompletionsUrl(o.base_url);
  const std::string endpoint = RedactUrl(o.base_url);
  RateLimits limits = o.limits;
  if (limits.max_in_flight < 1) limits.max_in_flight = 1;
  RateLimiter limiter(limits, NowSteadySeconds());
  HttpPool pool(limits.max_in_flight);
  ProgressReporter progress(o.progress, o.progress_interval_s);
  using Delayed = std::pair<double, size_t>;
  std::priority_queue<Delayed, std::vector<Delayed>, std::greater<>> delayed;
  std::unordered_map<uint64_t, InFlight> flights;
  uint64_t next_tag = 1;
  absl::Status fatal;

  auto write_failure = [&](Job& job) {
    FailureRecord f;
    f.prompt_id = prompts[job.prompt].record.id;
    f.sample_index = job.sample;
    f.reason = job.reason;
    f.attempts = job.attempts;
    f.last_status = static_cast<int32_t>(job.last_status);
    f.last_error = job.error;
    f.at = NowRfc3339();
    if (absl::Status s = (*failures)->Append(ToJson(f).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        !s.ok())
      fatal = s;
    ++counters.failed;
  };

  auto start = [&](size_t job_index, double now) {
    Job& job = jobs[job_index];
    const Prepared& p = prompts[job.prompt];
    if (job.attempts == 0) job.started_at = NowRfc3339();
    ++job.attempts;
    nlohmann::json body = {{"model", o.model},        {"messages", p.sent},           {"temperature", o.temperature},
                           {"top_p", o.top_p},        {"max_tokens", o.max_tokens},  {"stream", o.stream}};
    if (o.stream) body["stream_options"] = {{"include_usage", true}};
    if (o.seed) body["seed"] = static_cast<int64_t>(StableHash(job.key, static_cast<uint64_t>(*o.seed)) >> 33);
    HttpRequest req;
    req.url = url;
    // "Expect:" turns off curl's Expect: 100-continue on bodies over 1 KiB (a 1 s stall on servers without it).
    req.headers = {"Content-Type: application/json", "Expect:", "Accept: application/json"};
    if (o.stream) req.headers.back() = "Accept: text/event-stream";
    if (!auth_header.empty()) req.headers.push_back(auth_header);
    req.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    req.timeouts = o.timeouts;
    uint64_t tag = next_tag++;
    InFlight& f = flights[tag];
    f.job = job_index;
    f.start_s = now;
    if (o.stream) {
      f.stream = std::make_unique<StreamNormaliser>();
      InFlight* fp = &f;
      req.on_data = [fp](std::string_view bytes) {
        fp->stream->Feed(bytes);
        if (!fp->first_token_s && fp->stream->got_text()) fp->first_token_s = NowSteadySeconds() - fp->start_s;
      };
    }
    limiter.OnStart(now);
    ++counters.requests;
    if (job.attempts > 1) ++counters.retries;
    pool.Start(tag, std::move(req));
  };

  auto finish = [&](uint64_t tag, HttpResult& http, double now) {
    auto it = flights.find(tag);
    if (it == flights.end()) return;
    InFlight flight = std::move(it->second);
    flights.erase(it);
    Job& job = jobs[flight.job];
    Attempt a = Classify(o, http, flight);
    job.last_status = http.status;
    if (a.ok) {
      limiter.OnSuccess();
      const Completion& c = a.completion;
      const Prepared& p = prompts[job.prompt];
      TraceRecord t;
      t.prompt_id = p.record.id;
      t.sample_index = job.sample;
      t.messages = p.sent;
      t.ground_truth = p.record.ground_truth;
      t.extra = p.record.extra;
      t.reasoning = c.reasoning;
      t.answer = c.answer;
      t.teacher_model = c.model.empty() ? o.model : c.model;
      t.endpoint = endpoint;
      t.dialect = o.dialect == "auto" ? c.detected_dialect : o.dialect;
      t.sampling_requested.temperature = o.temperature;
      t.sampling_requested.top_p = o.top_p;
      t.sampling_requested.max_tokens = o.max_tokens;
      if (o.seed) t.sampling_requested.seed = static_cast<int64_t>(StableHash(job.key, static_cast<uint64_t>(*o.seed)) >> 33);
      t.sampling_returned = c.sampling_returned;
      t.usage = c.usage;
      t.finish_reason = c.finish_reason;
      t.latency_s = http.total_s;
      t.first_token_s = flight.first_token_s;
      t.attempts = job.attempts;
      t.started_at = job.started_at;
      t.finished_at = NowRfc3339();
      nlohmann::json out = ToJson(t);
      if (o.verify) {
        data::TraceVerdict verdict = data::VerifyTrace(t, o.verify_options);
        data::VerifyCounts& vc = counters.verify;
        ++vc.lines;
        ++vc.traces;
        if (verdict.graded) {
          ++vc.graded;
          if (verdict.correct.value_or(false)) ++vc.correct;
        } else {
          ++vc.ungraded;
        }
        if (verdict.accepted()) {
          ++vc.accepted;
        } else {
          ++vc.rejected;
          ++vc.first_reasons[verdict.reasons.front().code];
          for (const data::VerifyReason& r : verdict.reasons) ++vc.reasons[r.code];
        }
        out["verify"] = data::VerdictToJson(verdict, /*line=*/0);
      }
      if (absl::Status s = (*traces)->Append(out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
          !s.ok())
        fatal = s;
      ++counters.succeeded;
      counters.prompt_tokens += c.usage.prompt_tokens;
      counters.completion_tokens += c.usage.completion_tokens;
      counters.reasoning_tokens += c.usage.reasoning_tokens.value_or(0);
      counters.cost = counters.prompt_tokens / 1e6 * o.price_input_per_m +
                      counters.completion_tokens / 1e6 * o.price_output_per_m;
      limiter.OnTokens(static_cast<double>(c.usage.prompt_tokens + c.usage.completion_tokens), now);
      return;
    }
    job.reason = a.reason;
    job.error = a.error;
    double delay = BackoffDelay(o.backoff, job.key, job.attempts);
    if (a.rate_limited) {
      ++counters.rate_limited;
      limiter.On429(a.retry_after_s, delay, now);
      if (a.retry_after_s) delay = std::max(delay * 0.25, *a.retry_after_s);
      // Being told to slow down is not the request's fault: the first few 429s do not use up attempts.
      if (job.free_429s < std::max(8, 2 * o.max_attempts)) ++job.free_429s;
    } else if (a.retry_after_s) {
      delay = std::max(delay, *a.retry_after_s);  // e.g. 503 with Retry-After: this request only
    }
    if (http.status == 401) {
      fatal = absl::PermissionDeniedError(absl::StrCat(
          "the endpoint rejected the credentials (HTTP 401)",
          o.api_key_env.empty() ? "; set collect.endpoint.api_key_env" : absl::StrCat("; check ", o.api_key_env),
          ". Nothing was marked failed: rerun to resume"));
      return;
    }
    if (!a.retryable || job.attempts - job.free_429s >= o.max_attempts) {
      if (a.retryable) job.error = absl::StrCat(job.error, " (gave up after ", job.attempts, " attempts)");
      write_failure(job);
      return;
    }
    delayed.emplace(now + delay, flight.job);
  };

  std::vector<std::pair<uint64_t, HttpResult>> finished;
  while (fatal.ok()) {
    double now = NowSteadySeconds();
    bool cancelled = o.cancel && o.cancel->load();
    if (cancelled) {
      counters.cancelled = true;
      break;
    }
    while (!delayed.empty() && delayed.top().first <= now) {
      ready.push_front(delayed.top().second);
      delayed.pop();
    }
    double wait_s = 0.05;
    while (!ready.empty()) {
      double w = limiter.WaitBeforeStart(pool.in_flight(), now);
      if (w > 0) {
        wait_s = std::min(wait_s, w);
        break;
      }
      start(ready.front(), now);
      ready.pop_front();
    }
    if (ready.empty() && delayed.empty() && pool.in_flight() == 0) break;
    if (!delayed.empty()) wait_s = std::min(wait_s, std::max(0.0, delayed.top().first - now));
    finished.clear();
    pool.Poll(static_cast<int>(wait_s * 1000) + 1, finished);
    now = NowSteadySeconds();
    for (auto& [tag, http] : finished) finish(tag, http, now);
    counters.elapsed_s = now - t0;
    progress.Update(counters, now);
  }
  counters.elapsed_s = NowSteadySeconds() - t0;
  progress.Update(counters, NowSteadySeconds(), /*force=*/true);
  progress.Finish();
  if (absl::Status s = (*traces)->Sync(); !s.ok() && fatal.ok()) fatal = s;
  if (absl::Status s = (*failures)->Sync(); !s.ok() && fatal.ok()) fatal = s;
  if (!fatal.ok()) return fatal;
  return counters;
}

}  // namespace distill::data::collect
