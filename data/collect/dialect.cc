#include "data/collect/dialect.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace distill::data::collect {
namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

std::string Snippet(std::string_view s) {
  std::string out(s.substr(0, 120));
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  return out;
}

std::string StringField(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

void ReadUsage(const nlohmann::json& root, Completion& out) {
  auto it = root.find("usage");
  if (it == root.end() || !it->is_object()) return;
  const nlohmann::json& u = *it;
  out.has_usage = true;
  if (auto p = u.find("prompt_tokens"); p != u.end() && p->is_number_integer()) out.usage.prompt_tokens = *p;
  if (auto c = u.find("completion_tokens"); c != u.end() && c->is_number_integer())
    out.usage.completion_tokens = *c;
  if (auto d = u.find("completion_tokens_details"); d != u.end() && d->is_object()) {
    if (auto r = d->find("reasoning_tokens"); r != d->end() && r->is_number_integer())
      out.usage.reasoning_tokens = r->get<int64_t>();
  }
}

void ReadEcho(const nlohmann::json& root, Completion& out) {
  if (auto m = root.find("model"); m != root.end() && m->is_string() && out.model.empty()) out.model = *m;
  if (auto t = root.find("temperature"); t != root.end() && t->is_number()) out.sampling_returned.temperature = *t;
  if (auto p = root.find("top_p"); p != root.end() && p->is_number()) out.sampling_returned.top_p = *p;
  if (auto s = root.find("seed"); s != root.end() && s->is_number_integer())
    out.sampling_returned.seed = s->get<int64_t>();
}

absl::Status ErrorObject(const nlohmann::json& root) {
  auto it = root.find("error");
  if (it == root.end() || it->is_null()) return absl::OkStatus();
  std::string message = it->is_object() ? StringField(*it, "message") : (it->is_string() ? it->get<std::string>() : "");
  if (message.empty()) message = it->dump();
  return absl::UnavailableError(absl::StrCat("endpoint error: ", Snippet(message)));
}

// Final assembly shared by both paths.
void Finalise(std::string reasoning_content, std::string reasoning_field, std::string content, Completion& out) {
  std::string reasoning;
  if (!reasoning_content.empty()) {
    reasoning = std::move(reasoning_content);
    out.detected_dialect = "deepseek";
  } else if (!reasoning_field.empty()) {
    reasoning = std::move(reasoning_field);
    out.detected_dialect = "vllm";
  }
  bool tags = SplitThinkTags(reasoning, content);
  if (out.detected_dialect.empty()) out.detected_dialect = tags ? "ollama" : "openai";
  out.reasoning = TrimCopy(reasoning);
  out.answer = TrimCopy(content);
}

}  // namespace

std::string TrimCopy(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return std::string(s);
}

bool SplitThinkTags(std::string& reasoning, std::string& content) {
  size_t start = 0;
  while (start < content.size() && IsSpace(content[start])) ++start;
  std::string_view rest = std::string_view(content).substr(start);
  if (rest.substr(0, kOpen.size()) == kOpen) {
    rest.remove_prefix(kOpen.size());
    size_t close = rest.find(kClose);
    std::string_view inner = close == std::string_view::npos ? rest : rest.substr(0, close);
    std::string answer = close == std::string_view::npos ? "" : std::string(rest.substr(close + kClose.size()));
    if (!reasoning.empty() && !inner.empty()) reasoning.push_back('\n');
    reasoning.append(inner);
    content = std::move(answer);
    return true;
  }
  // "<think>\n" forced into the prompt: the model's text starts inside the thought and only closes it.
  if (size_t close = content.find(kClose); close != std::string::npos && content.find(kOpen) == std::string::npos) {
    if (!reasoning.empty()) reasoning.push_back('\n');
    reasoning.append(content, 0, close);
    content = content.substr(close + kClose.size());
    return true;
  }
  return false;
}

absl::StatusOr<Completion> NormaliseResponse(std::string_view body) {
  nlohmann::json root = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object())
    return absl::DataLossError(absl::StrCat("malformed JSON response: '", Snippet(body), "'"));
  if (absl::Status e = ErrorObject(root); !e.ok()) return e;
  auto choices = root.find("choices");
  if (choices == root.end() || !choices->is_array() || choices->empty() || !(*choices)[0].is_object())
    return absl::DataLossError("response has no choices");
  const nlohmann::json& choice = (*choices)[0];
  auto message = choice.find("message");
  if (message == choice.end() || !message->is_object()) return absl::DataLossError("choices[0] has no message");
  Completion out;
  ReadEcho(root, out);
  ReadUsage(root, out);
  out.finish_reason = StringField(choice, "finish_reason");
  Finalise(StringField(*message, "reasoning_content"), StringField(*message, "reasoning"),
           StringField(*message, "content"), out);
  return out;
}

StreamNormaliser::StreamNormaliser()
    : parser_([this](std::string_view data, std::string_view /*event*/) { OnEvent(data); }) {}

void StreamNormaliser::Feed(std::string_view bytes) {
  constexpr size_t kMaxRaw = 64u << 20;
  if (parser_.events() == 0 && raw_.size() + bytes.size() <= kMaxRaw) raw_.append(bytes);
  parser_.Feed(bytes);
  if (parser_.events() > 0 && !raw_.empty()) raw_.clear();
}

void StreamNormaliser::OnEvent(std::string_view data) {
  if (!error_.ok()) return;
  std::string_view trimmed = data;
  while (!trimmed.empty() && IsSpace(trimmed.back())) trimmed.remove_suffix(1);
  if (trimmed == "[DONE]") {
    done_ = true;
    return;
  }
  nlohmann::json chunk = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (chunk.is_discarded() || !chunk.is_object()) {
    error_ = absl::DataLossError(absl::StrCat("malformed JSON in stream event: '", Snippet(data), "'"));
    return;
  }
  if (absl::Status e = ErrorObject(chunk); !e.ok()) {
    error_ = e;
    return;
  }
  ReadEcho(chunk, out_);
  ReadUsage(chunk, out_);
  auto choices = chunk.find("choices");
  if (choices == chunk.end() || !choices->is_array() || choices->empty()) return;  // e.g. the usage-only chunk
  const nlohmann::json& choice = (*choices)[0];
  if (!choice.is_object()) return;
  if (auto d = choice.find("delta"); d != choice.end() && d->is_object()) {
    std::string rc = StringField(*d, "reasoning_content");
    std::string r = StringField(*d, "reasoning");
    std::string c = StringField(*d, "content");
    if (!rc.empty() || !r.empty() || !c.empty()) got_text_ = true;
    reasoning_raw_ += rc;
    reasoning_field_ += r;
    content_raw_ += c;
  }
  if (std::string fr = StringField(choice, "finish_reason"); !fr.empty()) out_.finish_reason = fr;
}

absl::StatusOr<Completion> StreamNormaliser::Finish() {
  parser_.Finish();
  if (!error_.ok()) return error_;
  if (parser_.events() == 0) {
    // Not SSE: an endpoint may answer a streaming request with a plain JSON body (an error, or the whole
    // completion when it ignores "stream").
    if (TrimCopy(raw_).empty()) return absl::DataLossError("empty stream");
    nlohmann::json root = nlohmann::json::parse(raw_, nullptr, false);
    if (!root.is_discarded() && root.is_object()) return NormaliseResponse(raw_);
    return absl::DataLossError(absl::StrCat("not an event stream: '", Snippet(raw_), "'"));
  }
  if (!done_ && out_.finish_reason.empty()) return absl::DataLossError("stream ended early");
  Completion out = std::move(out_);
  Finalise(std::move(reasoning_raw_), std::move(reasoning_field_), std::move(content_raw_), out);
  return out;
}

}  // namespace distill::data::collect
