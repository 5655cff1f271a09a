// Incremental Server-Sent Events parser (the framing of OpenAI-style streaming responses): bytes in, one
// callback per complete event with its joined `data:` lines. Handles LF, CRLF and CR line ends, comments (":"),
// multi-line data and chunk boundaries anywhere, including inside a line ending.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace distill::data::collect {

class SseParser {
 public:
  // Called with the data of each event (data lines joined by "\n"), and its `event:` name (empty when none).
  using EventFn = std::function<void(std::string_view data, std::string_view event)>;

  explicit SseParser(EventFn on_event) : on_event_(std::move(on_event)) {}

  // Feeds the next chunk of the byte stream.
  void Feed(std::string_view bytes);
  // Ends the stream: an event not yet terminated by a blank line is dispatched (servers that close right after
  // the last data line). Returns true when a partial line or event was pending.
  bool Finish();

  // Number of events dispatched so far.
  size_t events() const { return events_; }

 private:
  void Line(std::string_view line);
  void Dispatch();

  EventFn on_event_;
  std::string line_;
  std::string data_;
  std::string event_;
  bool has_data_ = false;
  bool last_was_cr_ = false;
  size_t events_ = 0;
};

}  // namespace distill::data::collect
