// Test helpers for the collector tests: a tiny OpenAI-compatible server on cpp-httplib (127.0.0.1, any port)
// whose responses a test scripts per request, and canned completions in each endpoint dialect, streamed or not.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"

namespace distill::data::collect::testing {

struct SeenRequest {
  double t = 0;  // steady seconds at arrival
  nlohmann::json body;
  std::string authorization;
  int hit = 0;  // 1-based count of requests for this prompt text so far
  std::string prompt;  // content of the last user message
  int remote_port = 0;  // client's port: one per connection (keep-alive reuse shows as few ports)
  bool expect_header = false;
};

inline double SteadyNow() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

class TestServer {
 public:
  using Handler = std::function<void(const SeenRequest&, httplib::Response&)>;

  explicit TestServer(Handler handler) : handler_(std::move(handler)) {
    server_.new_task_queue = [] { return new httplib::ThreadPool(16); };
    server_.set_keep_alive_max_count(1000);  // httplib closes after 5 requests by default
    server_.set_tcp_nodelay(true);
    server_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      SeenRequest seen;
      seen.t = SteadyNow();
      seen.body = nlohmann::json::parse(req.body, nullptr, false);
      seen.authorization = req.get_header_value("Authorization");
      seen.remote_port = req.remote_port;
      seen.expect_header = req.has_header("Expect");
      if (seen.body.is_object() && seen.body.contains("messages") && !seen.body["messages"].empty())
        seen.prompt = seen.body["messages"].back().value("content", "");
      {
        std::lock_guard<std::mutex> lock(mu_);
        seen.hit = ++hits_[seen.prompt];
        requests_.push_back(seen);
      }
      handler_(seen, res);
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~TestServer() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<SeenRequest> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  Handler handler_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::map<std::string, int> hits_;
  std::vector<SeenRequest> requests_;
};

// A completion in one dialect.
struct Canned {
  std::string dialect;  // deepseek | vllm | vllm-new | llamacpp | ollama
  std::string reasoning;
  std::string answer;
  std::string finish_reason = "stop";
  std::string model = "teacher-1";
};

inline nlohmann::json UsageJson(const Canned& c) {
  nlohmann::json u = {{"prompt_tokens", 11}, {"completion_tokens", 42}, {"total_tokens", 53}};
  if (c.dialect == "deepseek") u["completion_tokens_details"] = {{"reasoning_tokens", 30}};
  return u;
}

inline std::string InlineContent(const Canned& c) { return "<think>\n" + c.reasoning + "\n</think>\n\n" + c.answer; }

inline std::string NonStreamBody(const Canned& c) {
  nlohmann::json msg = {{"role", "assistant"}};
  if (c.dialect == "ollama") {
    msg["content"] = InlineContent(c);
  } else if (c.dialect == "vllm-new") {
    msg["reasoning"] = c.reasoning;
    msg["content"] = c.answer;
  } else {
    msg["reasoning_content"] = c.reasoning;
    msg["content"] = c.answer;
  }
  nlohmann::json body = {{"id", "x"},
                         {"object", "chat.completion"},
                         {"model", c.model},
                         {"choices", {{{"index", 0}, {"message", msg}, {"finish_reason", c.finish_reason}}}},
                         {"usage", UsageJson(c)}};
  return body.dump();
}

// Splits text into pieces of `n` bytes (so tags straddle chunk boundaries).
inline std::vector<std::string> Pieces(const std::string& s, size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size(); i += n) out.push_back(s.substr(i, n));
  return out;
}

// SSE events (each "data: …\n\n") of a streamed completion; `with_done` adds the final [DONE].
inline std::vector<std::string> StreamEvents(const Canned& c, bool with_done = true) {
  std::vector<std::string> ev;
  auto chunk = [&](nlohmann::json delta, nlohmann::json finish) {
    nlohmann::json j = {{"id", "x"},
                        {"object", "chat.completion.chunk"},
                        {"model", c.model},
                        {"choices", {{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}}}};
    ev.push_back("data: " + j.dump() + "\n\n");
  };
  chunk({{"role", "assistant"}, {"content", ""}}, nullptr);
  if (c.dialect == "ollama") {
    for (const auto& p : Pieces(InlineContent(c), 5)) chunk({{"content", p}}, nullptr);
  } else {
    std::string field = c.dialect == "vllm-new" ? "reasoning" : "reasoning_content";
    for (const auto& p : Pieces(c.reasoning, 7)) chunk({{field, p}, {"content", nullptr}}, nullptr);
    for (const auto& p : Pieces(c.answer, 7)) chunk({{"content", p}}, nullptr);
  }
  chunk(nlohmann::json::object(), c.finish_reason);
  nlohmann::json usage = {{"id", "x"}, {"object", "chat.completion.chunk"}, {"model", c.model},
                          {"choices", nlohmann::json::array()}, {"usage", UsageJson(c)}};
  ev.push_back("data: " + usage.dump() + "\n\n");
  if (with_done) ev.push_back("data: [DONE]\n\n");
  return ev;
}

// Serves `events` as a chunked event stream; stops after `cut_after` events when >= 0 (closing the connection
// with `abort` true, or ending the body cleanly otherwise).
inline void ServeStream(httplib::Response& res, std::vector<std::string> events, int cut_after = -1,
                        bool abort = false) {
  auto shared = std::make_shared<std::vector<std::string>>(std::move(events));
  res.set_chunked_content_provider("text/event-stream", [shared, cut_after, abort](size_t, httplib::DataSink& sink) {
    int n = 0;
    for (const auto& e : *shared) {
      if (cut_after >= 0 && n == cut_after) {
        if (abort) return false;
        break;
      }
      sink.write(e.data(), e.size());
      ++n;
    }
    sink.done();
    return true;
  });
}

inline void ServeCanned(const SeenRequest& req, httplib::Response& res, const Canned& c) {
  if (req.body.value("stream", false)) {
    ServeStream(res, StreamEvents(c));
  } else {
    res.set_content(NonStreamBody(c), "application/json");
  }
}

inline std::vector<nlohmann::json> ReadJsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline std::string TempDir(const std::string& name) {
  std::string dir = ::testing::TempDir() + "/distill_" + name + "_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace distill::data::collect::testing
