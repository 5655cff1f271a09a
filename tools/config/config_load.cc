// Run configuration: YAML loading with overrides and validation (LoadConfig).
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
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/yaml.h"

#include "tools/config/config_internal.h"

namespace distill::config {

using namespace internal;  // NOLINT: the helpers are this library's own

namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxFileBytes = 4 << 20;  // a config is a few KiB; refuse anything absurd
constexpr int kMaxFlowDepth = 64;          // yaml-cpp recurses per nesting level
constexpr size_t kMaxErrors = 20;

std::string DescribeNode(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar: {
      std::string s = node.Scalar();
      if (s.size() > 60) s = s.substr(0, 57) + "...";
      return Quote(s);
    }
    default:
      return "nothing";
  }
}

std::string ResolvePath(const std::string& value, const fs::path& base) {
  if (value.empty()) return value;
  fs::path p(value);
  if (p.is_relative()) p = base / p;
  return p.lexically_normal().string();
}


bool ParseBool(std::string_view s, bool* out) {
  if (s == "true" || s == "True" || s == "TRUE") {
    *out = true;
    return true;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    *out = false;
    return true;
  }
  return false;
}

// Converts a YAML node to the entry's type. On failure returns nullopt and sets *error (without location).
// Relative paths are resolved against `base`.
std::optional<Value> Convert(const SchemaEntry& entry, const YAML::Node& node, const fs::path& base,
                             std::string* error) {
  const auto expected = [&](const char* what) {
    *error = absl::StrCat("key '", entry.key, "': expected ", what, ", got ", DescribeNode(node));
    return std::nullopt;
  };
  const ValueType t = entry.type;
  if (IsListType(t)) {
    std::vector<std::string> list;
    if (node.IsNull()) return Value(list);
    if (node.IsScalar()) {
      list.push_back(node.Scalar());
    } else if (node.IsSequence()) {
      for (size_t i = 0; i < node.size(); ++i) {
        const YAML::Node item = node[i];
        if (!item.IsScalar()) {
          *error = absl::StrCat("key '", entry.key, "': expected a list of strings, element ", i, " is ",
                                DescribeNode(item));
          return std::nullopt;
        }
        list.push_back(item.Scalar());
      }
    } else {
      return expected("a list of strings");
    }
    if (t == ValueType::kPathList) {
      for (auto& p : list) p = ResolvePath(p, base);
    }
    return Value(std::move(list));
  }
  if (IsStringType(t) && node.IsNull() && t != ValueType::kEnum) return Value(std::string());
  if (!node.IsScalar()) {
    switch (t) {
      case ValueType::kBool:
        return expected("a bool (true or false)");
      case ValueType::kInt:
        return expected("an int");
      case ValueType::kFloat:
        return expected("a float");
      case ValueType::kEnum:
        return expected(absl::StrCat("one of ", absl::StrJoin(entry.allowed, ", ")).c_str());
      default:
        return expected("a string");
    }
  }
  const std::string& s = node.Scalar();
  // A number outside the entry's range, shown as written.
  const auto out_of_range = [&]() {
    *error = absl::StrCat("key '", entry.key, "': expected ", RangeText(entry.range), ", got ",
                          s.size() > 60 ? s.substr(0, 57) + "..." : s);
    return std::nullopt;
  };
  switch (t) {
    case ValueType::kBool: {
      bool b = false;
      if (!ParseBool(s, &b)) return expected("a bool (true or false)");
      return Value(b);
    }
    case ValueType::kInt: {
      int64_t v = 0;
      if (s.empty() || !absl::SimpleAtoi(s, &v)) return expected("an int");
      if (!InRange(entry.range, v)) return out_of_range();
      return Value(v);
    }
    case ValueType::kFloat: {
      double v = 0;
      if (s.empty() || !absl::SimpleAtod(s, &v) || !std::isfinite(v)) return expected("a float");
      if (!InRange(entry.range, v)) return out_of_range();
      return Value(v);
    }
    case ValueType::kString:
      return Value(s);
    case ValueType::kPath:
      return Value(ResolvePath(s, base));
    case ValueType::kEnum:
      if (std::find(entry.allowed.begin(), entry.allowed.end(), s) == entry.allowed.end()) {
        return expected(absl::StrCat("one of ", absl::StrJoin(entry.allowed, ", ")).c_str());
      }
      return Value(s);
    default:
      break;
  }
  *error = absl::StrCat("key '", entry.key, "': unsupported type");
  return std::nullopt;
}


int FlowDepth(std::string_view text) {
  int depth = 0, max_depth = 0;
  char quote = 0;
  bool comment = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (comment) {
      if (c == '\n') comment = false;
      continue;
    }
    if (quote != 0) {
      if (c == '\\' && quote == '"') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '#' && (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t' || text[i - 1] == '\n')) {
      comment = true;
    } else if (c == '"' || c == '\'') {
      // A quote inside a plain scalar (it's) does not open a string; treat only quotes after a separator.
      if (i == 0 || std::strchr(" \t\n[{,:", text[i - 1]) != nullptr) quote = c;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

// Receives parser events only to note where documents start.
class DocumentCounter : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++starts_ == 2) second_start = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  YAML::Mark second_start = YAML::Mark::null_mark();

 private:
  int starts_ = 0;
};

// State of one LoadConfig call.
class Loader {
 public:
  explicit Loader(const Schema& schema) : schema_(schema), sections_(Sections(schema.entries)) {
    config_.entries = schema.entries;
    config_.values.resize(schema.entries.size());
    config_.origins.assign(schema.entries.size(), "default");
    set_.assign(schema.entries.size(), false);
    for (size_t i = 0; i < schema.entries.size(); ++i) index_[schema.entries[i].key] = i;
  }

  absl::Status Run(const std::optional<std::string>& config_path, const std::vector<std::string>& overrides) {
    std::error_code ec;
    const fs::path cwd = fs::current_path(ec);
    for (size_t i = 0; i < schema_.entries.size(); ++i) {
      const SchemaEntry& e = schema_.entries[i];
      if (!e.default_value) continue;
      Value v = *e.default_value;
      // Defaults are relative to the current directory, so a resolved config holds only absolute paths.
      if (e.type == ValueType::kPath) v = ResolvePath(std::get<std::string>(v), cwd);
      if (e.type == ValueType::kPathList) {
        for (auto& p : std::get<std::vector<std::string>>(v)) p = ResolvePath(p, cwd);
      }
      config_.values[i] = std::move(v);
      set_[i] = true;
    }
    if (config_path) {
      if (absl::Status st = LoadFile(*config_path); !st.ok()) return st;
    }
    for (size_t i = 0; i < overrides.size(); ++i) ApplyOverride(i + 1, overrides[i], cwd);
    for (size_t i = 0; i < schema_.entries.size(); ++i) {
      if (set_[i]) continue;
      const SchemaEntry& e = schema_.entries[i];
      AddError(absl::StrCat(config_path ? absl::StrCat(*config_path, ": ") : "", "missing required key '", e.key,
                            "' (", e.doc, "); set it in the config file or with ", e.key, "=…"));
    }
    if (!errors_.empty()) {
      std::string message = absl::StrJoin(errors_, "\n");
      if (dropped_errors_ > 0) absl::StrAppend(&message, "\n… and ", dropped_errors_, " more errors");
      return absl::InvalidArgumentError(message);
    }
    return absl::OkStatus();
  }

  Config Take() { return std::move(config_); }

 private:
  void AddError(std::string message) {
    if (errors_.size() < kMaxErrors) {
      errors_.push_back(std::move(message));
    } else {
      ++dropped_errors_;
    }
  }

  std::string At(const YAML::Mark& mark) const {
    if (mark.is_null() || mark.line < 0) return absl::StrCat(file_label_, ": ");
    return absl::StrCat(file_label_, ":", mark.line + 1, ":", mark.column + 1, ": ");
  }

  absl::Status LoadFile(const std::string& path) {
    file_label_ = path;
    std::error_code ec;
    if (!fs::exists(path, ec)) return absl::NotFoundError(absl::StrCat(path, ": config file not found"));
    if (!fs::is_regular_file(path, ec)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
    }
    const auto size = fs::file_size(path, ec);
    if (ec || size > kMaxFileBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": ", ec ? ec.message() : absl::StrCat("too large for a config (", size, " bytes)")));
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string text = buffer.str();
    const fs::path absolute = fs::absolute(path, ec).lexically_normal();
    config_.config_path = absolute.string();
    const fs::path base = absolute.parent_path();

    if (FlowDepth(text) > kMaxFlowDepth) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": malformed YAML: nesting deeper than ", kMaxFlowDepth));
    }
    YAML::Node root;
    try {
      // Count documents with a bounded number of parser calls: YAML::LoadAll loops forever (allocating) on
      // some malformed input such as a lone ',' (yaml-cpp issue #1040, fixed after 0.7).
      std::istringstream stream(text);
      YAML::Parser parser(stream);
      DocumentCounter counter;
      int docs = 0;
      while (docs < 2 && parser.HandleNextDocument(counter)) ++docs;
      if (docs == 0) return absl::OkStatus();  // an empty file: all defaults
      if (docs > 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            At(counter.second_start), "malformed YAML, or more than one YAML document (a config holds one)"));
      }
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(At(e.mark), "malformed YAML: ", e.msg));
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": malformed YAML: ", e.what()));
    }
    if (root.IsNull()) return absl::OkStatus();
    if (!root.IsMap()) {
      return absl::InvalidArgumentError(
          absl::StrCat(At(root.Mark()), "the top level must be a mapping of keys, got ", DescribeNode(root)));
    }
    try {
      std::map<std::string, YAML::Mark> seen;
      Walk(root, "", base, seen);
    } catch (const std::exception& e) {  // yaml-cpp conversions; not expected
      AddError(absl::StrCat(path, ": ", e.what()));
    }
    return absl::OkStatus();
  }

  void Walk(const YAML::Node& map, const std::string& prefix, const fs::path& base,
            std::map<std::string, YAML::Mark>& seen) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key_node = it->first;
      const YAML::Node value = it->second;
      const YAML::Mark key_mark = key_node.Mark();
      if (!key_node.IsScalar() || key_node.Scalar().empty()) {
        AddError(absl::StrCat(At(key_mark), "keys must be non-empty strings, got ", DescribeNode(key_node)));
        continue;
      }
      const std::string full = prefix.empty() ? key_node.Scalar() : absl::StrCat(prefix, ".", key_node.Scalar());
      if (auto [pos, inserted] = seen.emplace(full, key_mark); !inserted) {
        const YAML::Mark& first = pos->second;
        AddError(absl::StrCat(At(key_mark), "duplicate key '", full, "' (first set at line ", first.line + 1,
                              ", column ", first.column + 1, ")"));
        continue;
      }
      if (const auto found = index_.find(full); found != index_.end()) {
        const size_t i = found->second;
        std::string error;
        const YAML::Mark value_mark = value.Mark().is_null() ? key_mark : value.Mark();
        if (auto v = Convert(schema_.entries[i], value, base, &error)) {
          config_.values[i] = std::move(*v);
          config_.origins[i] = absl::StrCat(file_label_, ":", value_mark.line + 1, ":", value_mark.column + 1);
          set_[i] = true;
        } else {
          AddError(absl::StrCat(At(value_mark), error));
        }
      } else if (sections_.count(full) > 0) {
        if (value.IsMap()) {
          Walk(value, full, base, seen);
        } else if (!value.IsNull()) {
          AddError(absl::StrCat(At(key_mark), "'", full, "' is a section (", SectionKeys(full),
                                "), expected a mapping, got ", DescribeNode(value)));
        }
      } else {
        AddError(absl::StrCat(At(key_mark), "unknown key '", full, "'",
                              Suggestion(full, schema_.entries, sections_)));
      }
    }
  }

  std::string SectionKeys(const std::string& section) const {
    std::vector<std::string> keys;
    for (const auto& e : schema_.entries) {
      if (e.key.size() > section.size() && e.key.compare(0, section.size(), section) == 0 &&
          e.key[section.size()] == '.') {
        keys.push_back(e.key);
      }
    }
    if (keys.size() > 4) {
      keys.resize(4);
      keys.push_back("…");
    }
    return absl::StrCat("keys ", absl::StrJoin(keys, ", "));
  }

  void ApplyOverride(size_t number, const std::string& text, const fs::path& cwd) {
    const std::string where = absl::StrCat("command-line override #", number, " '", text, "': ");
    const size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0) {
      AddError(absl::StrCat(where, "expected key=value"));
      return;
    }
    const std::string key = text.substr(0, eq);
    const std::string raw = text.substr(eq + 1);
    const auto found = index_.find(key);
    if (found == index_.end()) {
      if (sections_.count(key) > 0) {
        AddError(absl::StrCat(where, "'", key, "' is a section (", SectionKeys(key), "); set its keys one by one"));
      } else {
        AddError(absl::StrCat(where, "unknown key '", key, "'", Suggestion(key, schema_.entries, sections_)));
      }
      return;
    }
    const size_t i = found->second;
    const SchemaEntry& entry = schema_.entries[i];
    YAML::Node node;
    bool parsed = false;
    std::string parse_error;
    if (FlowDepth(raw) <= kMaxFlowDepth) {
      try {
        node = YAML::Load(raw);
        parsed = true;
      } catch (const YAML::Exception& e) {
        parse_error = e.msg;
      } catch (const std::exception& e) {
        parse_error = e.what();
      }
    } else {
      parse_error = "nesting too deep";
    }
    // For string and path keys, text that is not a YAML scalar ("a: b", ",") is taken verbatim.
    const bool null_spelling = raw.empty() || raw == "~" || raw == "null" || raw == "Null" || raw == "NULL";
    if ((entry.type == ValueType::kString || entry.type == ValueType::kPath) &&
        (!parsed || node.IsMap() || (node.IsNull() && !null_spelling))) {
      node = YAML::Node(raw);
      parsed = true;
    }
    if (parsed && node.IsNull() && !null_spelling) {
      parsed = false;
      parse_error = "not a YAML scalar or flow sequence";
    }
    if (!parsed) {
      AddError(absl::StrCat(where, "malformed value: ", parse_error));
      return;
    }
    std::string error;
    if (auto v = Convert(entry, node, cwd, &error)) {
      config_.values[i] = std::move(*v);
      config_.origins[i] = absl::StrCat("override #", number);
      set_[i] = true;
    } else {
      AddError(absl::StrCat(where, error));
    }
  }

  const Schema& schema_;
  const std::set<std::string> sections_;
  std::map<std::string, size_t> index_;
  Config config_;
  std::vector<bool> set_;
  std::string file_label_;
  std::vector<std::string> errors_;
  size_t dropped_errors_ = 0;
};


}  // namespace

absl::StatusOr<Config> LoadConfig(const Schema& schema, const std::optional<std::string>& config_path,
                                  const std::vector<std::string>& overrides) {
  if (absl::Status st = ValidateSchema(schema); !st.ok()) return st;
  try {
    Loader loader(schema);
    if (absl::Status st = loader.Run(config_path, overrides); !st.ok()) return st;
    return loader.Take();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(config_path.value_or("config"), ": ", e.what()));
  }
}


}  // namespace distill::config
