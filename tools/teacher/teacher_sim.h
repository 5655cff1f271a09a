// TeacherSim: an offline stand-in for DeepSeek-R1 behind an OpenAI-compatible HTTP server (cpp-httplib), for
// tests and the demo. It solves the arithmetic and word problems of tools/teacher/problems.h with R1-style
// traces, speaks every dialect of DESIGN.md "Endpoint dialects", and injects content defects and HTTP faults at
// configurable, reproducible rates. Endpoints: POST /v1/chat/completions, GET /v1/models. See docs/teacher-sim.md.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/teacher/dialect.h"
#include "tools/teacher/trace.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace distill::teacher {

// HTTP fault kinds, as names used in options, the X-Teacher-Fault header and the log:
// "rate_limit" (429 + Retry-After), "server_error" (500), "unavailable" (503), "slow_first_byte" (delay, then a
// normal answer), "cut_stream" (connection closed part-way), "malformed_json" (200 with a broken JSON body/event).
enum class Fault { kNone, kRateLimit, kServerError, kUnavailable, kSlowFirstByte, kCutStream, kMalformedJson };
std::string_view FaultName(Fault fault);
absl::StatusOr<Fault> ParseFault(std::string_view name);  // also accepts "none"

// Per-request probabilities of each fault; their sum must be <= 1.
struct FaultRates {
  double rate_limit = 0;
  double server_error = 0;
  double unavailable = 0;
  double slow_first_byte = 0;
  double cut_stream = 0;
  double malformed_json = 0;
  double Total() const;
  // `total` spread evenly over the six kinds (what --fault-rate sets).
  static FaultRates Uniform(double total);
};

// Everything the server does; the defaults give a clean, fast DeepSeek-dialect teacher on a free port.
struct TeacherSimOptions {
  std::string host = "127.0.0.1";  // bind address (DESIGN.md: servers bind loopback unless told otherwise)
  int port = 0;                    // 0 = pick a free port (see TeacherSim::port())
  Dialect dialect = Dialect::kDeepSeek;  // default; a request's X-Teacher-Dialect header overrides it
  bool vllm_reasoning_alias = false;     // vllm dialect: also emit the newer `reasoning` field
  std::string model = "deepseek-reasoner";  // listed by /v1/models; responses echo the request's model if given
  uint64_t seed = 0;               // content seed: same (seed, prompt, request seed, choice index) → same text
  DefectRates defects;             // content defects (wrong answers, language mixing, loops, truncation, …)
  FaultRates faults;               // HTTP faults
  uint64_t fault_seed = 0;         // fault draws: same (fault_seed, request body, attempt number) → same fault
  bool instant = false;            // no artificial delays at all (latency, slow first byte, chunk pacing)
  int latency_ms = 0;              // delay before the first byte of every response
  int chunk_delay_ms = 0;          // delay between streamed events
  int slow_first_byte_ms = 2000;   // delay of the slow_first_byte fault
  int retry_after_s = 1;           // Retry-After of a 429 (seconds, or an HTTP date that far ahead)
  double retry_after_date_share = 0.3;  // share of 429s whose Retry-After is an HTTP date
  int words_per_chunk = 4;         // words per streamed delta
  std::string api_key;             // non-empty: require "Authorization: Bearer <api_key>" (401 otherwise)
  std::string log_path;            // non-empty: append every RequestLogEntry as a JSONL line
  int threads = 8;                 // worker threads (concurrent connections served)
};

// One request as the server saw it (also the JSONL line of the log file). Never holds the API key.
struct RequestLogEntry {
  int64_t timestamp_ms = 0;   // arrival, Unix epoch milliseconds
  std::string method;         // "GET", "POST"
  std::string path;
  std::string dialect;        // dialect used ("" when not a completion)
  bool streamed = false;
  int status = 0;             // HTTP status sent (200 for a cut stream: the cut comes after the headers)
  std::string outcome;        // "ok", "length", "empty", "rate_limit", "server_error", "unavailable",
                              // "slow_first_byte", "cut_stream", "malformed_json", "unauthorized",
                              // "bad_request", "not_found"
  std::string defects;        // content defects injected, comma separated ("" when none)
};

// The simulator. Thread-safe; Start once, Stop (or destroy) to shut down.
class TeacherSim {
 public:
  explicit TeacherSim(TeacherSimOptions options);
  ~TeacherSim();  // Stops.
  TeacherSim(const TeacherSim&) = delete;
  TeacherSim& operator=(const TeacherSim&) = delete;

  // Binds and starts serving on a background thread; returns once the server accepts connections.
  // InvalidArgument for bad options, Unavailable when the port cannot be bound or the log file opened.
  absl::Status Start();
  // The bound port (valid after a successful Start).
  int port() const { return port_; }
  // "http://<host>:<port>" (the base URL; the API lives under /v1).
  std::string url() const;
  // Stops accepting, interrupts artificial delays and joins the server thread. Idempotent.
  void Stop();
  // A copy of every request logged so far, in arrival order.
  std::vector<RequestLogEntry> Log() const;

 private:
  void HandleCompletion(const httplib::Request& req, httplib::Response& res);
  void HandleModels(const httplib::Request& req, httplib::Response& res);
  bool Authorized(const httplib::Request& req, httplib::Response& res);
  // The fault for this request body and attempt; `detail_seed` seeds the fault's details.
  Fault DrawFault(const std::string& body, uint64_t* detail_seed);
  void Record(RequestLogEntry entry);
  // Sleeps unless instant or stopping; false when interrupted by Stop.
  bool Sleep(int ms);

  TeacherSimOptions options_;
  std::unique_ptr<httplib::Server> server_;
  int listen_socket_ = -1;  // the listening socket, captured at creation to raise its backlog
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> next_id_{0};
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  std::vector<RequestLogEntry> log_;
  std::ofstream log_file_;
  std::map<uint64_t, uint64_t> attempts_;  // request-body hash → requests seen
};

}  // namespace distill::teacher
