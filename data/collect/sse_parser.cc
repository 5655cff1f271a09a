#include "data/collect/sse_parser.h"

namespace distill::data::collect {

void SseParser::Feed(std::string_view bytes) {
  for (char c : bytes) {
    if (c == '\n') {
      if (last_was_cr_) {  // the LF of a CRLF: the line already ended at the CR
        last_was_cr_ = false;
        continue;
      }
      Line(line_);
      line_.clear();
    } else if (c == '\r') {
      last_was_cr_ = true;
      Line(line_);
      line_.clear();
      continue;
    } else {
      line_.push_back(c);
    }
    last_was_cr_ = false;
  }
}

bool SseParser::Finish() {
  bool pending = !line_.empty() || has_data_;
  if (!line_.empty()) {
    Line(line_);
    line_.clear();
  }
  if (has_data_) Dispatch();
  return pending;
}

void SseParser::Line(std::string_view line) {
  if (line.empty()) {
    if (has_data_) Dispatch();
    event_.clear();
    return;
  }
  if (line.front() == ':') return;  // comment / keep-alive
  std::string_view field = line;
  std::string_view value;
  if (size_t colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    event_.assign(value);
  }
  // id / retry and unknown fields are ignored.
}

void SseParser::Dispatch() {
  ++events_;
  on_event_(data_, event_);
  data_.clear();
  event_.clear();
  has_data_ = false;
}

}  // namespace distill::data::collect
