#include "tools/teacher/teacher_sim.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/match.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tools/teacher/rng.h"

namespace distill::teacher {
namespace {

using json = nlohmann::json;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void SendError(httplib::Response& res, int status, std::string_view type, std::string_view message) {
  res.status = status;
  json body = {{"error", {{"message", message}, {"type", type}, {"code", status}}}};
  res.set_content(body.dump(), "application/json");
}

// RFC 7231 IMF-fixdate `seconds` from now, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
std::string HttpDate(int seconds) {
  std::time_t t = std::time(nullptr) + seconds;
  std::tm tm{};
  gmtime_r(&t, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday], tm.tm_mday,
                kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

// Text of an OpenAI message content: a string, or an array of {"type": "text", "text": …} parts.
std::string ContentText(const json& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string out;
  if (content.is_array()) {
    for (const json& part : content) {
      if (part.is_object() && part.value("type", "") == "text" && part.contains("text") && part["text"].is_string())
        out += part["text"].get<std::string>();
    }
  }
  return out;
}

// Constant-time comparison for the API key.
bool SameSecret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
  return diff == 0 && !b.empty();
}

// cpp-httplib binds with SO_REUSEPORT, so a second server on a busy port would start silently: probe the port
// with a plain socket first. True when the port is free (or the host is not a numeric IPv4 address).
bool PortFree(const std::string& host, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) return true;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return true;
  bool free = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return free;
}

}  // namespace

std::string_view FaultName(Fault fault) {
  switch (fault) {
    case Fault::kNone:
      return "none";
    case Fault::kRateLimit:
      return "rate_limit";
    case Fault::kServerError:
      return "server_error";
    case Fault::kUnavailable:
      return "unavailable";
    case Fault::kSlowFirstByte:
      return "slow_first_byte";
    case Fault::kCutStream:
      return "cut_stream";
    case Fault::kMalformedJson:
      return "malformed_json";
  }
  return "none";
}

absl::StatusOr<Fault> ParseFault(std::string_view name) {
  for (Fault f : {Fault::kNone, Fault::kRateLimit, Fault::kServerError, Fault::kUnavailable, Fault::kSlowFirstByte,
                  Fault::kCutStream, Fault::kMalformedJson}) {
    if (FaultName(f) == name) return f;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown fault '", absl::string_view(name.data(), name.size()),
                                                 "'"));
}

double FaultRates::Total() const {
  return rate_limit + server_error + unavailable + slow_first_byte + cut_stream + malformed_json;
}

FaultRates FaultRates::Uniform(double total) {
  double each = total / 6;
  return FaultRates{each, each, each, each, each, each};
}

TeacherSim::TeacherSim(TeacherSimOptions options) : options_(std::move(options)) {}

TeacherSim::~TeacherSim() { Stop(); }

std::string TeacherSim::url() const { return absl::StrCat("http://", options_.host, ":", port_); }

absl::Status TeacherSim::Start() {
  if (server_) return absl::FailedPreconditionError("already started");
  const FaultRates& f = options_.faults;
  for (double r : {f.rate_limit, f.server_error, f.unavailable, f.slow_first_byte, f.cut_stream, f.malformed_json}) {
    if (r < 0 || r > 1) return absl::InvalidArgumentError("fault rates must be in [0, 1]");
  }
  if (f.Total() > 1 + 1e-9) return absl::InvalidArgumentError("fault rates sum to more than 1");
  if (options_.threads < 1) options_.threads = 1;
  if (!options_.log_path.empty()) {
    log_file_.open(options_.log_path, std::ios::app);
    if (!log_file_) return absl::UnavailableError(absl::StrCat("cannot open log ", options_.log_path));
  }
  server_ = std::make_unique<httplib::Server>();
  int threads = options_.threads;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  server_->set_keep_alive_timeout(1);
  // cpp-httplib closes a connection after 5 requests and listens with a backlog of 5 by default: far too few for
  // a collector with hundreds of requests in flight (dropped connects retry only after 1-15 s).
  server_->set_keep_alive_max_count(100000);
  server_->set_socket_options([this](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listen_socket_ = sock;
  });
  server_->Post("/v1/chat/completions",
                [this](const httplib::Request& req, httplib::Response& res) { HandleCompletion(req, res); });
  server_->Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) { HandleModels(req, res); });
  auto not_found = [this](const httplib::Request& req, httplib::Response& res) {
    SendError(res, 404, "not_found", "unknown endpoint");
    Record({NowMs(), req.method, req.path, "", false, 404, "not_found", ""});
  };
  server_->Get(".*", not_found);
  server_->Post(".*", not_found);

  if (options_.port == 0) {
    port_ = server_->bind_to_any_port(options_.host);
    if (port_ <= 0) return absl::UnavailableError(absl::StrCat("cannot bind ", options_.host));
  } else {
    if (!PortFree(options_.host, options_.port) || !server_->bind_to_port(options_.host, options_.port))
      return absl::UnavailableError(absl::StrCat("cannot bind ", options_.host, ":", options_.port, " (in use?)"));
    port_ = options_.port;
  }
  if (listen_socket_ >= 0) ::listen(listen_socket_, SOMAXCONN);  // on Linux this raises the bound socket's backlog
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  for (int i = 0; i < 5000 && !server_->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!server_->is_running()) {
    Stop();
    return absl::UnavailableError("server did not start");
  }
  return absl::OkStatus();
}

void TeacherSim::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  if (log_file_.is_open()) log_file_.close();
}

std::vector<RequestLogEntry> TeacherSim::Log() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_;
}

bool TeacherSim::Sleep(int ms) {
  if (options_.instant || ms <= 0) return !stopping_;
  std::unique_lock<std::mutex> lock(mu_);
  return !stop_cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_.load(); });
}

void TeacherSim::Record(RequestLogEntry entry) {
  std::lock_guard<std::mutex> lock(mu_);
  if (log_file_.is_open()) {
    json line = {{"timestamp_ms", entry.timestamp_ms}, {"method", entry.method}, {"path", entry.path},
                 {"dialect", entry.dialect},           {"streamed", entry.streamed}, {"status", entry.status},
                 {"outcome", entry.outcome},           {"defects", entry.defects}};
    log_file_ << line.dump() << "\n";
    log_file_.flush();
  }
  log_.push_back(std::move(entry));
}

bool TeacherSim::Authorized(const httplib::Request& req, httplib::Response& res) {
  if (options_.api_key.empty()) return true;
  std::string header = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() > kBearer.size() && std::string_view(header).substr(0, kBearer.size()) == kBearer &&
      SameSecret(std::string_view(header).substr(kBearer.size()), options_.api_key))
    return true;
  SendError(res, 401, "authentication_error", "Authentication Fails (missing or invalid API key)");
  return false;
}

Fault TeacherSim::DrawFault(const std::string& body, uint64_t* detail_seed) {
  uint64_t key = HashText(body);
  uint64_t attempt;
  {
    std::lock_guard<std::mutex> lock(mu_);
    attempt = attempts_[key]++;
  }
  Rng rng(MixSeed(MixSeed(options_.fault_seed, key), attempt));
  double u = rng.Unit();
  *detail_seed = rng.Next();
  const FaultRates& f = options_.faults;
  std::pair<double, Fault> table[] = {{f.rate_limit, Fault::kRateLimit},         {f.server_error, Fault::kServerError},
                                      {f.unavailable, Fault::kUnavailable},     {f.slow_first_byte, Fault::kSlowFirstByte},
                                      {f.cut_stream, Fault::kCutStream},        {f.malformed_json, Fault::kMalformedJson}};
  double acc = 0;
  for (const auto& [rate, fault] : table) {
    acc += rate;
    if (u < acc) return fault;
  }
  return Fault::kNone;
}

void TeacherSim::HandleModels(const httplib::Request& req, httplib::Response& res) {
  RequestLogEntry entry{NowMs(), req.method, req.path, "", false, 200, "ok", ""};
  if (!Authorized(req, res)) {
    entry.status = 401;
    entry.outcome = "unauthorized";
  } else {
    json body = {{"object", "list"},
                 {"data", json::array({{{"id", options_.model},
                                        {"object", "model"},
                                        {"created", 0},
                                        {"owned_by", "distill-teacher-sim"}}})}};
    res.set_content(body.dump(), "application/json");
  }
  Record(std::move(entry));
}

void TeacherSim::HandleCompletion(const httplib::Request& req, httplib::Response& res) {
  RequestLogEntry entry{NowMs(), req.method, req.path, "", false, 200, "ok", ""};
  auto fail = [&](int status, std::string_view type, std::string_view outcome, std::string_view message) {
    SendError(res, status, type, message);
    entry.status = status;
    entry.outcome = std::string(outcome);
    Record(std::move(entry));
  };
  if (!Authorized(req, res)) {
    entry.status = 401;
    entry.outcome = "unauthorized";
    Record(std::move(entry));
    return;
  }
  Dialect dialect = options_.dialect;
  if (req.has_header("X-Teacher-Dialect")) {
    auto parsed = ParseDialect(req.get_header_value("X-Teacher-Dialect"));
    if (!parsed.ok()) return fail(400, "invalid_request_error", "bad_request", std::string(parsed.status().message()));
    dialect = *parsed;
  }
  entry.dialect = std::string(DialectName(dialect));

  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object())
    return fail(400, "invalid_request_error", "bad_request", "request body is not a JSON object");
  const json* messages = body.contains("messages") ? &body["messages"] : nullptr;
  if (!messages || !messages->is_array() || messages->empty())
    return fail(400, "invalid_request_error", "bad_request", "`messages` must be a non-empty array");
  std::string prompt;
  bool found_user = false;
  int prompt_tokens = 0;
  for (const json& m : *messages) {
    if (!m.is_object()) return fail(400, "invalid_request_error", "bad_request", "each message must be an object");
    std::string text = m.contains("content") ? ContentText(m["content"]) : "";
    prompt_tokens += CountTokens(text) + 4;
    if (m.value("role", "") == "user") {
      prompt = std::move(text);
      found_user = true;
    }
  }
  if (!found_user) return fail(400, "invalid_request_error", "bad_request", "no user message");
  auto int_field = [&](const char* name, int64_t fallback) -> int64_t {
    return body.contains(name) && body[name].is_number_integer() ? body[name].get<int64_t>() : fallback;
  };
  bool stream = body.value("stream", false);
  entry.streamed = stream;
  bool include_usage = body.contains("stream_options") && body["stream_options"].is_object() &&
                       body["stream_options"].value("include_usage", false);
  int64_t max_tokens = int_field("max_completion_tokens", int_field("max_tokens", 0));
  int64_t n = int_field("n", 1);
  if (n < 1 || n > 16) return fail(400, "invalid_request_error", "bad_request", "`n` must be in [1, 16]");
  uint64_t request_seed = static_cast<uint64_t>(int_field("seed", 0));

  uint64_t detail_seed = 0;
  Fault fault = DrawFault(req.body, &detail_seed);
  if (req.has_header("X-Teacher-Fault")) {
    auto forced = ParseFault(req.get_header_value("X-Teacher-Fault"));
    if (!forced.ok()) return fail(400, "invalid_request_error", "bad_request", std::string(forced.status().message()));
    fault = *forced;
  }
  if (!Sleep(options_.latency_ms)) return fail(503, "service_unavailable", "unavailable", "server shutting down");
  Rng fault_rng(detail_seed);  // details of the fault (Retry-After form, where a stream is cut)
  switch (fault) {
    case Fault::kRateLimit: {
      bool as_date = fault_rng.Chance(options_.retry_after_date_share);
      res.set_header("Retry-After",
                     as_date ? HttpDate(options_.retry_after_s) : std::to_string(options_.retry_after_s));
      return fail(429, "rate_limit_error", "rate_limit", "Rate limit reached, please retry later");
    }
    case Fault::kServerError:
      return fail(500, "server_error", "server_error", "Internal server error (simulated)");
    case Fault::kUnavailable:
      return fail(503, "service_unavailable", "unavailable", "Server overloaded, please try again later (simulated)");
    case Fault::kSlowFirstByte:
      if (!Sleep(options_.slow_first_byte_ms))
        return fail(503, "service_unavailable", "unavailable", "server shutting down");
      break;
    default:
      break;
  }

  ResponseSpec spec;
  spec.dialect = dialect;
  spec.vllm_reasoning_alias = options_.vllm_reasoning_alias;
  spec.id = absl::StrCat("chatcmpl-sim-", next_id_++);
  spec.model = body.contains("model") && body["model"].is_string() ? body["model"].get<std::string>() : options_.model;
  spec.created = NowMs() / 1000;
  spec.prompt_tokens = prompt_tokens;
  std::vector<std::string> defects;
  bool all_empty = true, any_length = false;
  for (int64_t i = 0; i < n; ++i) {
    uint64_t seed = MixSeed(MixSeed(MixSeed(options_.seed, HashText(prompt)), request_seed), static_cast<uint64_t>(i));
    Completion c = ComposeCompletion(prompt, seed, options_.defects);
    ChoiceText choice{std::move(c.reasoning), std::move(c.content), c.truncated ? "length" : "stop"};
    if (max_tokens > 0) {
      int reasoning_tokens = CountTokens(choice.reasoning);
      if (reasoning_tokens + CountTokens(choice.content) > max_tokens) {
        if (reasoning_tokens >= max_tokens) {
          choice.reasoning = TruncateTokens(choice.reasoning, static_cast<int>(max_tokens));
          choice.content.clear();
        } else {
          choice.content = TruncateTokens(choice.content, static_cast<int>(max_tokens) - reasoning_tokens);
        }
        choice.finish_reason = "length";
      }
    }
    for (const std::string& d : c.defects) {
      if (std::find(defects.begin(), defects.end(), d) == defects.end()) defects.push_back(d);
    }
    all_empty = all_empty && choice.reasoning.empty() && choice.content.empty();
    any_length = any_length || choice.finish_reason == "length";
    spec.choices.push_back(std::move(choice));
  }
  entry.defects = absl::StrJoin(defects, ",");
  entry.outcome = all_empty ? "empty" : any_length ? "length" : "ok";
  if (fault == Fault::kSlowFirstByte || fault == Fault::kCutStream || fault == Fault::kMalformedJson)
    entry.outcome = std::string(FaultName(fault));

  if (!stream) {
    std::string text = CompletionJson(spec).dump();
    if (fault == Fault::kMalformedJson) {
      text = text.substr(0, text.size() / 2) + "<!-- upstream error -->";
    }
    if (fault == Fault::kCutStream) {
      // Declare the full length, send half, then drop the connection.
      auto shared = std::make_shared<std::string>(std::move(text));
      res.set_content_provider(shared->size(), "application/json",
                               [shared](size_t offset, size_t, httplib::DataSink& sink) {
                                 size_t half = shared->size() / 2;
                                 if (offset < half) sink.write(shared->data() + offset, half - offset);
                                 return offset < half;
                               });
    } else {
      res.set_content(text, "application/json");
    }
    Record(std::move(entry));
    return;
  }

  auto events = std::make_shared<std::vector<std::string>>(
      StreamEvents(spec, include_usage, options_.words_per_chunk));
  size_t cut_at = events->size();  // events sent before the connection drops
  if (fault == Fault::kCutStream) {
    cut_at = 1 + fault_rng.Index(events->size() > 3 ? events->size() - 3 : 1);
  } else if (fault == Fault::kMalformedJson) {
    size_t at = events->size() / 2;
    (*events)[at] = absl::StrCat("data: {\"id\": \"", spec.id, "\", \"choices\": [{\"delta\": {\"content\": \"\n\n");
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream", [this, events, cut_at](size_t, httplib::DataSink& sink) {
        for (size_t i = 0; i < events->size(); ++i) {
          if (i == cut_at) return false;  // drop the connection without the terminating chunk
          const std::string& e = (*events)[i];
          if (!sink.write(e.data(), e.size())) return false;
          if (i + 1 < events->size() && !Sleep(options_.chunk_delay_ms)) return false;
        }
        sink.done();
        return true;
      });
  Record(std::move(entry));
}

}  // namespace distill::teacher
