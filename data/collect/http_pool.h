// A pool of concurrent HTTP POSTs on libcurl's multi interface: up to N transfers in flight on kept-alive
// connections, streaming (bytes handed to a callback as they arrive) or buffered, with connect, first-byte, idle
// and total timeouts. Single-threaded: the owner calls Poll() in its loop. TLS is verified (libcurl defaults).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace distill::data::collect {

struct HttpTimeouts {
  int64_t connect_ms = 10'000;        // TCP/TLS connect (CURLOPT_CONNECTTIMEOUT_MS)
  int64_t first_byte_ms = 300'000;    // request sent → first response byte (reasoning models think before output)
  int64_t idle_ms = 120'000;          // longest silence between bytes once the response started
  int64_t total_ms = 3'600'000;       // whole transfer (CURLOPT_TIMEOUT_MS); 0 = none
};

struct HttpRequest {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // POSTed as is
  HttpTimeouts timeouts;
  // When set, response body bytes of a 2xx response go here as they arrive (streaming); otherwise they are
  // buffered into HttpResult::body. Non-2xx bodies are always buffered (error descriptions).
  std::function<void(std::string_view)> on_data;
};

enum class HttpErrorKind { kNone, kConnect, kFirstByteTimeout, kIdleTimeout, kTotalTimeout, kReset, kOther };

struct HttpResult {
  long status = 0;                  // HTTP status, 0 when no response line arrived
  std::string body;                 // buffered body (see HttpRequest::on_data); capped at 64 MiB
  std::string retry_after;          // Retry-After header value, if any
  HttpErrorKind error_kind = HttpErrorKind::kNone;
  std::string error;                // transport error description; empty when the transfer completed
  double total_s = 0;               // start → end
  double first_byte_s = -1;         // start → first body byte; -1 when none
  int64_t body_bytes = 0;
};

class HttpPool {
 public:
  explicit HttpPool(int max_connections);
  ~HttpPool();
  HttpPool(const HttpPool&) = delete;
  HttpPool& operator=(const HttpPool&) = delete;

  // Starts a POST; its result comes back from Poll() with `tag`.
  void Start(uint64_t tag, HttpRequest request);
  // Drives transfers, waiting up to `wait_ms` for activity, and appends finished ones to `finished`.
  void Poll(int wait_ms, std::vector<std::pair<uint64_t, HttpResult>>& finished);
  int in_flight() const { return in_flight_; }

  struct Transfer;

 private:
  void* multi_;
  int in_flight_ = 0;
  std::vector<std::unique_ptr<Transfer>> transfers_;
};

}  // namespace distill::data::collect
