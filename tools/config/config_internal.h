// Helpers shared by the run-configuration sources (config.cc: schema, getters, output; config_load.cc: YAML
// loading and overrides). Internal to tools/config.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "tools/config/config.h"

namespace distill::config::internal {

// The type's name in error messages ("float", "path list", …).
const char* TypeName(ValueType type);
// Levenshtein distance, for "did you mean".
size_t EditDistance(std::string_view a, std::string_view b);
// The last dotted component of a key.
std::string_view LastComponent(std::string_view key);
// Every proper dotted prefix of every key ("a.b.c" gives "a" and "a.b").
std::set<std::string> Sections(const std::vector<SchemaEntry>& entries);
// " (did you mean 'x'?)" or "".
std::string Suggestion(std::string_view unknown, const std::vector<SchemaEntry>& entries, const std::set<std::string>& sections);
// String-valued (string, path, enum) and list-valued types.
bool IsStringType(ValueType t);
bool IsListType(ValueType t);
// A JSON-quoted string (invalid UTF-8 replaced).
std::string Quote(std::string_view s);
// Shortest text that reads back as the same double.
std::string FormatDouble(double v);
// True when the value's alternative fits the type.
bool ValueMatchesType(const Value& v, ValueType t);
// True when `v` lies within `range` (for an int key, compared exactly as integers).
bool InRange(const Range& range, double v);
bool InRange(const Range& range, int64_t v);
// Checks an entry's range (a programming error when not OK): only on kInt/kFloat, finite, integer bounds on
// kInt, not empty, and holding the default (whose type ValidateSchema has checked).
absl::Status CheckRange(const SchemaEntry& e);

}  // namespace distill::config::internal
