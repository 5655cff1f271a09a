// Trace records: prompt-line parsing, trace/failure JSON conversion (docs/formats.md has the schemas).
#include "data/trace_record.h"

#include <cinttypes>
#include <cstdio>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "data/trace_filters.h"
#include "tokenizers/json_fast.h"
#include "tokenizers/utf8.h"

namespace distill::data {
namespace {

using nlohmann::json;

std::string TypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "an unsupported value";
  }
}

absl::Status FieldError(const std::string& where, std::string_view field, std::string_view expected,
                        const json* got) {
  std::string msg = where + ": field '" + std::string(field) + "': expected " + std::string(expected);
  if (got) msg += ", got " + TypeName(*got);
  return absl::InvalidArgumentError(msg);
}

absl::Status MissingField(const std::string& where, std::string_view field, std::string_view expected) {
  return absl::InvalidArgumentError(where + ": missing field '" + std::string(field) + "' (" + std::string(expected) +
                                    ")");
}

// Reads typed members of one JSON object, naming `prefix + key` in errors. The first error sticks.
class ObjectReader {
 public:
  ObjectReader(const json& object, const std::string& where, std::string prefix = "")
      : object_(object), where_(where), prefix_(std::move(prefix)) {}
  // A reader that moves strings out of `object` instead of copying them (the caller gives it up).
  static ObjectReader Consuming(json& object, const std::string& where) {
    ObjectReader r(object, where);
    r.consume_ = true;
    return r;
  }
  bool consuming() const { return consume_; }

  const json* Find(const char* key) const {
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }

  void String(const char* key, bool required, std::string* out) {
    const json* v = Find(key);
    if (!v) return Missing(key, required, "a string");
    if (!v->is_string()) return Fail(key, "a string", v);
    *out = Take(v);
  }
  void OptString(const char* key, std::optional<std::string>* out) {
    const json* v = Find(key);
    if (!v || v->is_null()) return;
    if (!v->is_string()) return Fail(key, "a string", v);
    *out = Take(v);
  }
  // The value of `v` (a member of this reader's object): moved out when consuming, else copied.
  std::string Take(const json* v) {
    if (consume_) return std::move(const_cast<json*>(v)->get_ref<std::string&>());  // the caller gave it up
    return v->get_ref<const std::string&>();
  }
  void Int(const char* key, bool required, int64_t min, int64_t max, int64_t* out) {
    const json* v = Find(key);
    if (!v) return Missing(key, required, "an integer");
    auto expected = [&] { return "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]"; };
    if (v->is_number_unsigned()) {
      uint64_t u = v->get<uint64_t>();
      if (u > static_cast<uint64_t>(max)) return Fail(key, expected(), nullptr);
      *out = static_cast<int64_t>(u);
      return;
    }
    if (!v->is_number_integer()) return Fail(key, expected(), v);
    int64_t i = v->get<int64_t>();
    if (i < min || i > max) return Fail(key, expected() + ", got " + std::to_string(i), nullptr);
    *out = i;
  }
  void Int32(const char* key, bool required, int32_t min, int32_t* out) {
    int64_t v = *out;
    Int(key, required, min, std::numeric_limits<int32_t>::max(), &v);
    *out = static_cast<int32_t>(v);
  }
  void OptInt(const char* key, int64_t min, std::optional<int64_t>* out) {
    const json* v = Find(key);
    if (!v || v->is_null()) return;
    int64_t i = 0;
    Int(key, true, min, std::numeric_limits<int64_t>::max(), &i);
    if (ok()) *out = i;
  }
  void Double(const char* key, bool required, double* out) {
    const json* v = Find(key);
    if (!v) return Missing(key, required, "a number");
    if (!v->is_number()) return Fail(key, "a number", v);
    *out = v->get<double>();
  }
  void OptDouble(const char* key, std::optional<double>* out) {
    const json* v = Find(key);
    if (!v || v->is_null()) return;
    double d = 0;
    Double(key, true, &d);
    if (ok()) *out = d;
  }

  std::string Path(const char* key) const { return prefix_ + key; }
  void Fail(const char* key, std::string_view expected, const json* got) {
    if (status_.ok()) status_ = FieldError(where_, Path(key), expected, got);
  }
  void Set(absl::Status status) {
    if (status_.ok()) status_ = std::move(status);
  }
  bool ok() const { return status_.ok(); }
  const absl::Status& status() const { return status_; }

 private:
  void Missing(const char* key, bool required, std::string_view expected) {
    if (required && status_.ok()) status_ = MissingField(where_, Path(key), expected);
  }

  const json& object_;
  const std::string& where_;
  std::string prefix_;
  absl::Status status_;
  bool consume_ = false;
};

// Checks a messages array: non-empty, each an object with a non-empty string "role" and a string "content".
absl::Status ValidateMessages(const json& messages, const std::string& where, std::string_view field) {
  if (!messages.is_array()) return FieldError(where, field, "an array of {role, content} objects", &messages);
  if (messages.empty()) return FieldError(where, field, "at least one message", nullptr);
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    auto name = [&] { return std::string(field) + "[" + std::to_string(i) + "]"; };
    if (!m.is_object()) return FieldError(where, name(), "an object {role, content}", &m);
    auto role = m.find("role");
    if (role == m.end()) return MissingField(where, name() + ".role", "a string");
    if (!role->is_string() || role->get_ref<const std::string&>().empty())
      return FieldError(where, name() + ".role", "a non-empty string", role->is_string() ? nullptr : &*role);
    auto content = m.find("content");
    if (content == m.end()) return MissingField(where, name() + ".content", "a string");
    if (!content->is_string()) return FieldError(where, name() + ".content", "a string", &*content);
  }
  return absl::OkStatus();
}

// String form of an id or answer given as a string or a number.
std::string ScalarToString(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return v.dump();
}

json SamplingToJson(const Sampling& s) {
  json out = json::object();
  if (s.temperature) out["temperature"] = *s.temperature;
  if (s.top_p) out["top_p"] = *s.top_p;
  if (s.max_tokens) out["max_tokens"] = *s.max_tokens;
  if (s.seed) out["seed"] = *s.seed;
  return out;
}

void ReadSampling(ObjectReader& parent, const char* key, const std::string& where, Sampling* out) {
  const json* v = parent.Find(key);
  if (!v || !parent.ok()) return;
  if (!v->is_object()) return parent.Fail(key, "an object", v);
  ObjectReader r(*v, where, std::string(key) + ".");
  r.OptDouble("temperature", &out->temperature);
  r.OptDouble("top_p", &out->top_p);
  r.OptInt("max_tokens", 0, &out->max_tokens);
  r.OptInt("seed", std::numeric_limits<int64_t>::min(), &out->seed);
  parent.Set(r.status());
}

}  // namespace

std::string PromptIdFor(const nlohmann::json& messages) {
  // nlohmann::json keeps object keys sorted, so dump() is canonical for equal values.
  uint64_t h = Fnv1a64(messages.dump());
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, h);
  return buf;
}

std::optional<size_t> FindInvalidUtf8(std::string_view s) {
  const size_t at = tok::utf8::FindInvalid(s);
  return at == std::string_view::npos ? std::nullopt : std::optional<size_t>(at);
}

bool IsBlankLine(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

std::string PromptText(const nlohmann::json& messages) {
  std::string out;
  if (!messages.is_array()) return out;
  for (const json& m : messages) {
    if (!m.is_object()) continue;
    auto role = m.find("role");
    auto content = m.find("content");
    if (role == m.end() || content == m.end() || !content->is_string() || *role != "user") continue;
    if (!out.empty()) out += "\n\n";
    out += content->get_ref<const std::string&>();
  }
  return out;
}

absl::StatusOr<nlohmann::json> ParseJsonObjectLine(std::string_view line, const std::string& where) {
  if (auto bad = FindInvalidUtf8(line)) {
    return absl::InvalidArgumentError(where + ": invalid UTF-8 at byte " + std::to_string(*bad));
  }
  if (IsBlankLine(line)) return absl::InvalidArgumentError(where + ": empty line (expected a JSON object)");
  if (std::optional<json> fast = tok::ParseJsonFast(line); fast && fast->is_object()) return std::move(*fast);
  json j;  // not valid JSON (or not an object): nlohmann's parser names what is wrong and where
  try {
    j = json::parse(line);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    size_t cut = what.find("] ");
    if (cut != std::string::npos) what = what.substr(cut + 2);
    return absl::InvalidArgumentError(where + ": not valid JSON (byte " + std::to_string(e.byte) + "): " + what);
  }
  if (!j.is_object()) return absl::InvalidArgumentError(where + ": expected a JSON object, got " + TypeName(j));
  return j;
}

absl::StatusOr<PromptRecord> ParsePromptLine(std::string_view line, const std::string& where) {
  absl::StatusOr<json> parsed = ParseJsonObjectLine(line, where);
  if (!parsed.ok()) return parsed.status();
  const json& j = *parsed;

  PromptRecord record;
  auto prompt = j.find("prompt");
  auto messages = j.find("messages");
  if (prompt != j.end() && messages != j.end()) {
    return absl::InvalidArgumentError(where + ": fields 'prompt' and 'messages' are both present (expected one)");
  }
  if (prompt != j.end()) {
    if (!prompt->is_string()) return FieldError(where, "prompt", "a string", &*prompt);
    if (IsBlankLine(prompt->get_ref<const std::string&>()))
      return FieldError(where, "prompt", "a non-empty string", nullptr);
    record.messages = json::array({{{"role", "user"}, {"content", *prompt}}});
  } else if (messages != j.end()) {
    if (auto s = ValidateMessages(*messages, where, "messages"); !s.ok()) return s;
    record.messages = *messages;
  } else {
    return absl::InvalidArgumentError(where + ": missing field 'prompt' (a string) or 'messages' (an array)");
  }

  auto id = j.find("id");
  if (id != j.end() && !id->is_null()) {
    if (!id->is_string() && !id->is_number_integer())
      return FieldError(where, "id", "a string or an integer", &*id);
    record.id = ScalarToString(*id);
    if (record.id.empty()) return FieldError(where, "id", "a non-empty string", nullptr);
  } else {
    record.id = PromptIdFor(record.messages);
  }

  auto answer = j.find("answer");
  if (answer != j.end() && !answer->is_null()) {
    if (!answer->is_string() && !answer->is_number())
      return FieldError(where, "answer", "a string or a number", &*answer);
    record.ground_truth = ScalarToString(*answer);
  }

  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "prompt" || it.key() == "messages" || it.key() == "id" || it.key() == "answer") continue;
    record.extra[it.key()] = it.value();
  }
  return record;
}

nlohmann::json ToJson(const TraceRecord& t) {
  json out = json::object();
  out["prompt_id"] = t.prompt_id;
  out["sample_index"] = t.sample_index;
  out["messages"] = t.messages;
  if (t.ground_truth) out["ground_truth"] = *t.ground_truth;
  if (t.extra.is_object() && !t.extra.empty()) out["extra"] = t.extra;
  out["reasoning"] = t.reasoning;
  out["answer"] = t.answer;
  out["teacher_model"] = t.teacher_model;
  out["endpoint"] = t.endpoint;
  out["dialect"] = t.dialect;
  out["sampling_requested"] = SamplingToJson(t.sampling_requested);
  out["sampling_returned"] = SamplingToJson(t.sampling_returned);
  json usage = {{"prompt_tokens", t.usage.prompt_tokens}, {"completion_tokens", t.usage.completion_tokens}};
  if (t.usage.reasoning_tokens) usage["reasoning_tokens"] = *t.usage.reasoning_tokens;
  out["usage"] = std::move(usage);
  out["finish_reason"] = t.finish_reason;
  out["latency_s"] = t.latency_s;
  if (t.first_token_s) out["first_token_s"] = *t.first_token_s;
  out["attempts"] = t.attempts;
  out["started_at"] = t.started_at;
  out["finished_at"] = t.finished_at;
  return out;
}

namespace {

// TraceFromJson with the reader `r` over `json` (copying or consuming).
absl::StatusOr<TraceRecord> ReadTrace(ObjectReader& r, const std::string& where) {
  TraceRecord t;
  r.String("prompt_id", true, &t.prompt_id);
  if (r.ok() && t.prompt_id.empty()) r.Fail("prompt_id", "a non-empty string", nullptr);
  r.Int32("sample_index", true, 0, &t.sample_index);
  if (r.ok()) {
    const nlohmann::json* messages = r.Find("messages");
    if (!messages) {
      r.Set(MissingField(where, "messages", "an array of {role, content} objects"));
    } else {
      r.Set(ValidateMessages(*messages, where, "messages"));
      if (r.ok()) t.messages = r.consuming() ? std::move(*const_cast<json*>(messages)) : *messages;
    }
  }
  r.OptString("ground_truth", &t.ground_truth);
  if (const nlohmann::json* extra = r.Find("extra"); extra && r.ok()) {
    if (!extra->is_object()) {
      r.Fail("extra", "an object", extra);
    } else {
      t.extra = r.consuming() ? std::move(*const_cast<json*>(extra)) : *extra;
    }
  }
  r.String("reasoning", true, &t.reasoning);
  r.String("answer", true, &t.answer);
  r.String("teacher_model", false, &t.teacher_model);
  r.String("endpoint", false, &t.endpoint);
  r.String("dialect", false, &t.dialect);
  ReadSampling(r, "sampling_requested", where, &t.sampling_requested);
  ReadSampling(r, "sampling_returned", where, &t.sampling_returned);
  if (const nlohmann::json* usage = r.Find("usage"); usage && r.ok()) {
    if (!usage->is_object()) {
      r.Fail("usage", "an object", usage);
    } else {
      ObjectReader u(*usage, where, "usage.");
      const int64_t max = std::numeric_limits<int64_t>::max();
      u.Int("prompt_tokens", false, 0, max, &t.usage.prompt_tokens);
      u.Int("completion_tokens", false, 0, max, &t.usage.completion_tokens);
      u.OptInt("reasoning_tokens", 0, &t.usage.reasoning_tokens);
      r.Set(u.status());
    }
  }
  r.String("finish_reason", true, &t.finish_reason);
  r.Double("latency_s", false, &t.latency_s);
  r.OptDouble("first_token_s", &t.first_token_s);
  r.Int32("attempts", false, 0, &t.attempts);
  r.String("started_at", false, &t.started_at);
  r.String("finished_at", false, &t.finished_at);
  if (!r.ok()) return r.status();
  return t;
}

absl::Status NotAnObject(const json& json, const std::string& where) {
  return absl::InvalidArgumentError(where + ": expected a JSON object, got " + TypeName(json));
}

}  // namespace

absl::StatusOr<TraceRecord> TraceFromJson(const nlohmann::json& json, const std::string& where) {
  if (!json.is_object()) return NotAnObject(json, where);
  ObjectReader r(json, where);
  return ReadTrace(r, where);
}

absl::StatusOr<TraceRecord> TraceFromJson(nlohmann::json&& json, const std::string& where) {
  if (!json.is_object()) return NotAnObject(json, where);
  ObjectReader r = ObjectReader::Consuming(json, where);
  return ReadTrace(r, where);
}

std::string TraceKey(const std::string& prompt_id, int32_t sample_index) {
  return prompt_id + "#" + std::to_string(sample_index);
}

nlohmann::json ToJson(const FailureRecord& f) {
  return {{"prompt_id", f.prompt_id}, {"sample_index", f.sample_index}, {"reason", f.reason},
          {"attempts", f.attempts},   {"last_status", f.last_status},   {"last_error", f.last_error},
          {"at", f.at}};
}

absl::StatusOr<FailureRecord> FailureFromJson(const nlohmann::json& json, const std::string& where) {
  if (!json.is_object()) {
    return absl::InvalidArgumentError(where + ": expected a JSON object, got " + TypeName(json));
  }
  FailureRecord f;
  ObjectReader r(json, where);
  r.String("prompt_id", true, &f.prompt_id);
  r.Int32("sample_index", true, 0, &f.sample_index);
  r.String("reason", true, &f.reason);
  r.Int32("attempts", true, 0, &f.attempts);
  r.Int32("last_status", false, 0, &f.last_status);
  r.String("last_error", false, &f.last_error);
  r.String("at", false, &f.at);
  if (!r.ok()) return r.status();
  return f;
}

}  // namespace distill::data
