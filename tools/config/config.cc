// Run configuration: schema entries, typed getters, resolved.yaml / JSON output (loading is in config_load.cc).
#include "tools/config/config.h"


#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

#include "tools/config/config_internal.h"

namespace distill::config {
namespace internal {

namespace fs = std::filesystem;

const char* TypeName(ValueType type) {
  switch (type) {
    case ValueType::kBool:
      return "bool";
    case ValueType::kInt:
      return "int";
    case ValueType::kFloat:
      return "float";
    case ValueType::kString:
      return "string";
    case ValueType::kPath:
      return "path";
    case ValueType::kStringList:
      return "string list";
    case ValueType::kPathList:
      return "path list";
    case ValueType::kEnum:
      return "enum";
  }
  return "?";
}

bool IsStringType(ValueType t) { return t == ValueType::kString || t == ValueType::kPath || t == ValueType::kEnum; }
bool IsListType(ValueType t) { return t == ValueType::kStringList || t == ValueType::kPathList; }

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "distill config: %s\n", message.c_str());
  std::abort();
}

// Levenshtein distance, for "did you mean".

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string_view LastComponent(std::string_view key) {
  const size_t dot = key.rfind('.');
  return dot == std::string_view::npos ? key : key.substr(dot + 1);
}

// Every proper dotted prefix of every key ("a.b.c" gives "a" and "a.b").
std::set<std::string> Sections(const std::vector<SchemaEntry>& entries) {
  std::set<std::string> sections;
  for (const auto& e : entries) {
    for (size_t dot = e.key.find('.'); dot != std::string::npos; dot = e.key.find('.', dot + 1)) {
      sections.insert(e.key.substr(0, dot));
    }
  }
  return sections;
}

// " (did you mean 'x'?)" or "".
std::string Suggestion(std::string_view unknown, const std::vector<SchemaEntry>& entries,
                       const std::set<std::string>& sections) {
  std::vector<std::string> candidates;
  for (const auto& e : entries) candidates.push_back(e.key);
  candidates.insert(candidates.end(), sections.begin(), sections.end());
  std::string best;
  size_t best_distance = std::string::npos;
  for (const auto& c : candidates) {
    const size_t d = EditDistance(unknown, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  const size_t limit = std::max<size_t>(2, unknown.size() / 3);
  if (!best.empty() && best_distance <= limit) return absl::StrCat(" (did you mean '", best, "'?)");
  // The right name in the wrong section: "lr" or "model.lr" for "train.lr".
  for (const auto& e : entries) {
    if (LastComponent(e.key) == LastComponent(unknown)) return absl::StrCat(" (did you mean '", e.key, "'?)");
  }
  return "";
}


std::string Quote(std::string_view s) {
  return nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}


std::string FormatDouble(double v) {
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v);
  std::string s(buf, res.ptr);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // keep it recognisably a float
  return s;
}

bool InRange(const Range& range, double v) {
  if (range.min && (range.min_exclusive ? v <= *range.min : v < *range.min)) return false;
  if (range.max && (range.max_exclusive ? v >= *range.max : v > *range.max)) return false;
  return true;
}

bool InRange(const Range& range, int64_t v) {
  // Compared as integers: CheckRange keeps an int key's bounds exact integers within ±2^53, while v may not be.
  const auto bound = [](double b) { return static_cast<int64_t>(b); };
  if (range.min && (range.min_exclusive ? v <= bound(*range.min) : v < bound(*range.min))) return false;
  if (range.max && (range.max_exclusive ? v >= bound(*range.max) : v > bound(*range.max))) return false;
  return true;
}

absl::Status CheckRange(const SchemaEntry& e) {
  const Range& r = e.range;
  if (!r.min && !r.max) return absl::OkStatus();
  if (e.type != ValueType::kInt && e.type != ValueType::kFloat) {
    return absl::InternalError(absl::StrCat("a range on a ", TypeName(e.type), " key"));
  }
  for (const std::optional<double>& bound : {r.min, r.max}) {
    if (!bound) continue;
    if (!std::isfinite(*bound)) return absl::InternalError("a bound that is not finite");
    if (e.type == ValueType::kInt && (std::trunc(*bound) != *bound || std::fabs(*bound) > 0x1p53)) {
      return absl::InternalError(absl::StrCat("bound ", *bound, " of an int key is not an integer below 2^53"));
    }
  }
  if (r.min && r.max && (*r.min > *r.max || (*r.min == *r.max && (r.min_exclusive || r.max_exclusive)))) {
    return absl::InternalError(absl::StrCat("empty range ", RangeText(r)));
  }
  if (e.default_value) {
    const Value& v = *e.default_value;
    const bool is_int = e.type == ValueType::kInt;
    if (is_int ? !InRange(r, std::get<int64_t>(v)) : !InRange(r, std::get<double>(v))) {
      return absl::InternalError(absl::StrCat("default ", is_int ? absl::StrCat(std::get<int64_t>(v))
                                                                 : FormatDouble(std::get<double>(v)),
                                              " is outside ", RangeText(r)));
    }
  }
  return absl::OkStatus();
}

bool ValueMatchesType(const Value& v, ValueType t) {
  switch (t) {
    case ValueType::kBool:
      return std::holds_alternative<bool>(v);
    case ValueType::kInt:
      return std::holds_alternative<int64_t>(v);
    case ValueType::kFloat:
      return std::holds_alternative<double>(v);
    case ValueType::kString:
    case ValueType::kPath:
    case ValueType::kEnum:
      return std::holds_alternative<std::string>(v);
    case ValueType::kStringList:
    case ValueType::kPathList:
      return std::holds_alternative<std::vector<std::string>>(v);
  }
  return false;
}

// Largest nesting of flow collections ([ { ) outside quotes and comments: a guard against inputs that would
// exhaust the stack in yaml-cpp's recursive parser.

}  // namespace internal

using namespace internal;  // NOLINT: the helpers are this library's own

namespace {

namespace fs = std::filesystem;

// Schema key components are [A-Za-z0-9_-]; only the YAML null spellings need quotes to stay string keys.
std::string FormatKey(const std::string& name) {
  if (name == "null" || name == "Null" || name == "NULL" || name == "~") return Quote(name);
  return name;
}

std::string FormatValue(const Value& v) {
  if (const bool* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const int64_t* i = std::get_if<int64_t>(&v)) return absl::StrCat(*i);
  if (const double* d = std::get_if<double>(&v)) return FormatDouble(*d);
  if (const std::string* s = std::get_if<std::string>(&v)) return Quote(*s);
  const auto& list = std::get<std::vector<std::string>>(v);
  std::vector<std::string> quoted;
  for (const auto& s : list) quoted.push_back(Quote(s));
  return absl::StrCat("[", absl::StrJoin(quoted, ", "), "]");
}

// Emits the entries (indices) whose keys start with `prefix` (empty or ending in '.'), grouped by the next key
// component in order of first appearance.
void EmitYaml(const Config& config, const std::vector<size_t>& indices, size_t prefix_len, int indent, bool docs,
              std::string* out) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<size_t>> children;
  for (size_t i : indices) {
    const std::string& key = config.entries[i].key;
    const size_t dot = key.find('.', prefix_len);
    const std::string name = key.substr(prefix_len, dot == std::string::npos ? std::string::npos : dot - prefix_len);
    if (children.find(name) == children.end()) order.push_back(name);
    children[name].push_back(i);
  }
  const std::string pad(static_cast<size_t>(indent), ' ');
  for (const auto& name : order) {
    const auto& group = children[name];
    const SchemaEntry& first = config.entries[group[0]];
    if (group.size() == 1 && first.key.size() == prefix_len + name.size()) {
      if (docs) {
        std::string doc = first.doc;
        if (first.type == ValueType::kEnum) {
          absl::StrAppend(&doc, doc.empty() ? "" : " ", "(one of: ", absl::StrJoin(first.allowed, ", "), ")");
        }
        Range bounds = first.range;
        bounds.note.clear();  // the doc explains special values already
        if (const std::string range = RangeText(bounds); !range.empty()) {
          absl::StrAppend(&doc, doc.empty() ? "" : "; ", range);
        }
        if (!doc.empty()) absl::StrAppend(out, pad, "# ", doc, "\n");
      }
      absl::StrAppend(out, pad, FormatKey(name), ": ", FormatValue(config.values[group[0]]), "\n");
    } else {
      absl::StrAppend(out, pad, FormatKey(name), ":\n");
      EmitYaml(config, group, prefix_len + name.size() + 1, indent + 2, docs, out);
    }
  }
}

absl::Status ErrnoError(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(path, ": ", what, ": ", std::strerror(errno)));
}

}  // namespace


Range AtLeast(double lo, std::string note) { return Range{lo, std::nullopt, false, false, std::move(note)}; }
Range Above(double lo, std::string note) { return Range{lo, std::nullopt, true, false, std::move(note)}; }
Range Closed(double lo, double hi, std::string note) { return Range{lo, hi, false, false, std::move(note)}; }
Range ClosedOpen(double lo, double hi, std::string note) { return Range{lo, hi, false, true, std::move(note)}; }
Range OpenClosed(double lo, double hi, std::string note) { return Range{lo, hi, true, false, std::move(note)}; }

std::string RangeText(const Range& range) {
  const auto number = [](double v) {  // integers in full, others in shortest round-trip form
    return std::trunc(v) == v && std::fabs(v) < 1e18 ? absl::StrCat(static_cast<int64_t>(v)) : FormatDouble(v);
  };
  std::string text;
  if (range.min && range.max) {
    text = absl::StrCat(number(*range.min), range.min_exclusive ? " < x " : " ≤ x ",
                        range.max_exclusive ? "< " : "≤ ", number(*range.max));
  } else if (range.min) {
    text = absl::StrCat(range.min_exclusive ? "> " : "≥ ", number(*range.min));
  } else if (range.max) {
    text = absl::StrCat(range.max_exclusive ? "< " : "≤ ", number(*range.max));
  }
  if (!text.empty() && !range.note.empty()) absl::StrAppend(&text, " (", range.note, ")");
  return text;
}

SchemaEntry Key(std::string key, ValueType type, Value default_value, std::string doc, Range range) {
  if (type == ValueType::kFloat && std::holds_alternative<int64_t>(default_value)) {
    default_value = static_cast<double>(std::get<int64_t>(default_value));
  }
  return SchemaEntry{std::move(key), type, std::move(default_value), std::move(doc), {}, std::move(range)};
}

SchemaEntry RequiredKey(std::string key, ValueType type, std::string doc, Range range) {
  return SchemaEntry{std::move(key), type, std::nullopt, std::move(doc), {}, std::move(range)};
}

SchemaEntry EnumKey(std::string key, std::vector<std::string> allowed, std::optional<std::string> default_value,
                    std::string doc) {
  std::optional<Value> def;
  if (default_value) def = Value(std::move(*default_value));
  return SchemaEntry{std::move(key), ValueType::kEnum, std::move(def), std::move(doc), std::move(allowed), {}};
}

absl::Status ValidateSchema(const Schema& schema) {
  const auto fail = [&](const std::string& key, const std::string& why) {
    return absl::InternalError(absl::StrCat("config schema '", schema.name, "': key '", key, "': ", why));
  };
  std::set<std::string> keys;
  for (const auto& e : schema.entries) {
    if (e.key.empty()) return fail(e.key, "empty key");
    for (const std::string& part : std::vector<std::string>(absl::StrSplit(e.key, '.'))) {
      if (part.empty()) return fail(e.key, "empty key component");
      for (char c : part) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
          return fail(e.key, "key components use letters, digits, '_' and '-'");
        }
      }
    }
    if (!keys.insert(e.key).second) return fail(e.key, "declared twice");
    if (e.default_value && !ValueMatchesType(*e.default_value, e.type)) {
      return fail(e.key, absl::StrCat("default is not a ", TypeName(e.type)));
    }
    if (e.type == ValueType::kEnum) {
      if (e.allowed.empty()) return fail(e.key, "enum without allowed values");
      if (e.default_value && std::find(e.allowed.begin(), e.allowed.end(),
                                       std::get<std::string>(*e.default_value)) == e.allowed.end()) {
        return fail(e.key, "enum default is not an allowed value");
      }
    } else if (!e.allowed.empty()) {
      return fail(e.key, "allowed values on a non-enum key");
    }
    if (e.type == ValueType::kFloat && e.default_value && !std::isfinite(std::get<double>(*e.default_value))) {
      return fail(e.key, "default is not finite");
    }
    if (absl::Status st = CheckRange(e); !st.ok()) return fail(e.key, std::string(st.message()));
  }
  for (const auto& section : Sections(schema.entries)) {
    if (keys.count(section) > 0) return fail(section, "is both a key and a section of other keys");
  }
  return absl::OkStatus();
}

int Config::Find(std::string_view key) const {
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].key == key) return static_cast<int>(i);
  }
  return -1;
}

namespace {
const Value& Lookup(const Config& config, std::string_view key, const char* getter, bool (*accepts)(ValueType)) {
  const int i = config.Find(key);
  if (i < 0 || static_cast<size_t>(i) >= config.values.size()) {
    Die(absl::StrCat(getter, "(\"", std::string(key), "\"): no such key in the schema"));
  }
  const SchemaEntry& e = config.entries[static_cast<size_t>(i)];
  if (!accepts(e.type)) Die(absl::StrCat(getter, "(\"", std::string(key), "\"): the key is a ", TypeName(e.type)));
  return config.values[static_cast<size_t>(i)];
}
}  // namespace

std::string Config::GetString(std::string_view key) const {
  return std::get<std::string>(Lookup(*this, key, "GetString", IsStringType));
}

int64_t Config::GetInt(std::string_view key) const {
  return std::get<int64_t>(Lookup(*this, key, "GetInt", [](ValueType t) { return t == ValueType::kInt; }));
}

double Config::GetDouble(std::string_view key) const {
  const Value& v = Lookup(*this, key, "GetDouble",
                          [](ValueType t) { return t == ValueType::kFloat || t == ValueType::kInt; });
  if (const int64_t* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  return std::get<double>(v);
}

bool Config::GetBool(std::string_view key) const {
  return std::get<bool>(Lookup(*this, key, "GetBool", [](ValueType t) { return t == ValueType::kBool; }));
}

std::vector<std::string> Config::GetStringList(std::string_view key) const {
  return std::get<std::vector<std::string>>(Lookup(*this, key, "GetStringList", IsListType));
}

std::string Config::Origin(std::string_view key) const {
  const int i = Find(key);
  if (i < 0 || static_cast<size_t>(i) >= origins.size()) Die(absl::StrCat("Origin(\"", std::string(key), "\"): no such key"));
  return origins[static_cast<size_t>(i)];
}

std::string ToYaml(const Config& config, bool docs) {
  std::vector<size_t> all(config.entries.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  std::string out;
  EmitYaml(config, all, 0, 0, docs, &out);
  return out;
}

nlohmann::json ToJson(const Config& config) {
  nlohmann::json root = nlohmann::json::object();
  for (size_t i = 0; i < config.entries.size() && i < config.values.size(); ++i) {
    const std::vector<std::string> parts = absl::StrSplit(config.entries[i].key, '.');
    nlohmann::json* node = &root;
    for (size_t p = 0; p + 1 < parts.size(); ++p) node = &(*node)[parts[p]];
    nlohmann::json& leaf = (*node)[parts.back()];
    std::visit([&](const auto& v) { leaf = v; }, config.values[i]);
  }
  return root;
}

absl::Status WriteResolvedConfig(const Config& config, const std::string& path) {
  const std::string text = ToYaml(config);
  const fs::path target(path);
  fs::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  std::string tmp = absl::StrCat(path, ".tmp.XXXXXX");
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return ErrnoError("cannot create temp file", tmp);
  const auto fail = [&](const char* what) {
    const absl::Status st = ErrnoError(what, tmp);
    ::unlink(tmp.c_str());
    return st;
  };
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return fail("write failed");
    }
    written += static_cast<size_t>(n);
  }
  if (::fchmod(fd, 0644) != 0 || ::fsync(fd) != 0) {
    ::close(fd);
    return fail("fsync failed");
  }
  if (::close(fd) != 0) return fail("close failed");
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const absl::Status st = ErrnoError("cannot rename temp file to", path);
    ::unlink(tmp.c_str());
    return st;
  }
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return absl::OkStatus();
}

}  // namespace distill::config
