#include "data/collect/http_pool.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "data/collect/jsonl_log.h"

namespace distill::data::collect {

struct HttpPool::Transfer {
  uint64_t tag = 0;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  HttpRequest request;
  HttpResult result;
  double start_s = 0;
  double last_data_s = 0;
  HttpErrorKind abort_kind = HttpErrorKind::kNone;
  std::string abort_reason;
  char error_buf[CURL_ERROR_SIZE] = {0};
};

namespace {

constexpr size_t kMaxBuffered = 64u << 20;

size_t OnWrite(char* ptr, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<HttpPool::Transfer*>(user);
  size_t n = size * nmemb;
  double now = NowSteadySeconds();
  if (t->result.first_byte_s < 0) t->result.first_byte_s = now - t->start_s;
  t->last_data_s = now;
  t->result.body_bytes += static_cast<int64_t>(n);
  long status = 0;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
  std::string_view bytes(ptr, n);
  if (t->request.on_data && status >= 200 && status < 300) {
    t->request.on_data(bytes);
  } else if (t->result.body.size() + n <= kMaxBuffered) {
    t->result.body.append(bytes);
  }
  return n;
}

size_t OnHeader(char* ptr, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<HttpPool::Transfer*>(user);
  size_t n = size * nmemb;
  absl::string_view line(ptr, n);
  if (absl::StartsWithIgnoreCase(line, "retry-after:")) {
    t->result.retry_after = std::string(absl::StripAsciiWhitespace(line.substr(12)));
  }
  return n;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<HttpPool::Transfer*>(user);
  double now = NowSteadySeconds();
  const HttpTimeouts& to = t->request.timeouts;
  if (t->result.first_byte_s < 0) {
    if (to.first_byte_ms > 0 && (now - t->start_s) * 1000 > static_cast<double>(to.first_byte_ms)) {
      t->abort_kind = HttpErrorKind::kFirstByteTimeout;
      t->abort_reason = absl::StrCat("timeout: no response within ", to.first_byte_ms, " ms");
      return 1;
    }
  } else if (to.idle_ms > 0 && (now - t->last_data_s) * 1000 > static_cast<double>(to.idle_ms)) {
    t->abort_kind = HttpErrorKind::kIdleTimeout;
    t->abort_reason = absl::StrCat("timeout: stream idle for ", to.idle_ms, " ms");
    return 1;
  }
  return 0;
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

HttpPool::HttpPool(int max_connections) {
  GlobalInit();
  multi_ = curl_multi_init();
  if (!multi_) {
    std::fprintf(stderr, "distill: curl_multi_init failed\n");
    std::abort();
  }
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(std::max(1, max_connections)));
}

HttpPool::~HttpPool() {
  for (auto& t : transfers_) {
    if (!t) continue;
    curl_multi_remove_handle(multi_, t->easy);
    curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
  }
  curl_multi_cleanup(multi_);
}

void HttpPool::Start(uint64_t tag, HttpRequest request) {
  auto t = std::make_unique<Transfer>();
  t->tag = tag;
  t->request = std::move(request);
  t->easy = curl_easy_init();
  CURL* e = t->easy;
  for (const std::string& h : t->request.headers) t->headers = curl_slist_append(t->headers, h.c_str());
  curl_easy_setopt(e, CURLOPT_URL, t->request.url.c_str());
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->request.body.data());
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->request.body.size()));
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
  curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(e, CURLOPT_XFERINFODATA, t.get());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error_buf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "distill-collect");
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(t->request.timeouts.connect_ms));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(t->request.timeouts.total_ms));
  t->start_s = NowSteadySeconds();
  t->last_data_s = t->start_s;
  curl_multi_add_handle(multi_, e);
  ++in_flight_;
  // Reuse a free slot.
  for (auto& slot : transfers_) {
    if (!slot) {
      slot = std::move(t);
      return;
    }
  }
  transfers_.push_back(std::move(t));
}

void HttpPool::Poll(int wait_ms, std::vector<std::pair<uint64_t, HttpResult>>& finished) {
  int running = 0;
  curl_multi_perform(multi_, &running);
  // With nothing to wait on, curl_multi_poll sleeps for the timeout: no busy loop while the pool is paused.
  curl_multi_poll(multi_, nullptr, 0, std::max(0, wait_ms), nullptr);
  if (in_flight_ > 0) curl_multi_perform(multi_, &running);
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* e = msg->easy_handle;
    CURLcode code = msg->data.result;
    for (auto& slot : transfers_) {
      if (!slot || slot->easy != e) continue;
      Transfer& t = *slot;
      HttpResult& r = t.result;
      curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r.status);
      r.total_s = NowSteadySeconds() - t.start_s;
      if (code != CURLE_OK) {
        if (code == CURLE_ABORTED_BY_CALLBACK && t.abort_kind != HttpErrorKind::kNone) {
          r.error_kind = t.abort_kind;
          r.error = t.abort_reason;
        } else {
          switch (code) {
            case CURLE_COULDNT_CONNECT:
            case CURLE_COULDNT_RESOLVE_HOST:
              r.error_kind = HttpErrorKind::kConnect;
              break;
            case CURLE_OPERATION_TIMEDOUT:
              r.error_kind = r.status == 0 && r.first_byte_s < 0 && r.body_bytes == 0 ? HttpErrorKind::kConnect
                                                                                     : HttpErrorKind::kTotalTimeout;
              break;
            case CURLE_RECV_ERROR:
            case CURLE_SEND_ERROR:
            case CURLE_GOT_NOTHING:
            case CURLE_PARTIAL_FILE:
              r.error_kind = HttpErrorKind::kReset;
              break;
            default:
              r.error_kind = HttpErrorKind::kOther;
          }
          r.error = absl::StrCat(curl_easy_strerror(code), t.error_buf[0] ? ": " : "", t.error_buf);
        }
      }
      finished.emplace_back(t.tag, std::move(r));
      curl_multi_remove_handle(multi_, e);
      curl_easy_cleanup(e);
      curl_slist_free_all(t.headers);
      slot.reset();
      --in_flight_;
      break;
    }
  }
}

}  // namespace distill::data::collect
