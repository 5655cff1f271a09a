// Run configuration: every verb (collect, build, train, export, eval) is described by one YAML file plus dotted
// command-line overrides (`train.lr=2e-5`, `data.files=[a.jsonl,b.jsonl]`), checked against a schema the verb
// declares, and recorded fully resolved (resolved.yaml) beside the verb's outputs.
//
// YAML layout: nested mappings whose dotted paths are the schema keys (`train: {lr: 2e-5}` sets `train.lr`); a
// mapping key may itself contain dots (`train.lr: 2e-5`). Errors name the key, the file and line:column, or the
// override ("command-line override #2 'train.lr=abc'").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace distill::config {

// The type of a configuration value.
//  kBool: true/false (also True/TRUE/False/FALSE). kInt: 64-bit decimal integer. kFloat: finite number (ints
//  accepted). kString: any scalar (on the command line, text that is not a YAML scalar, like "a: b", is taken
//  verbatim). kPath: a string; a relative path is resolved against the folder of the config file it came from
//  (overrides and defaults: the current directory) and normalised; empty means unset and stays empty.
//  kStringList / kPathList: a sequence of scalars (a single scalar is a one-element list; kPathList resolves each
//  element like kPath). kEnum: a string from SchemaEntry::allowed.
enum class ValueType { kBool, kInt, kFloat, kString, kPath, kStringList, kPathList, kEnum };

// A value: bool (kBool), int64_t (kInt), double (kFloat), string (kString, kPath, kEnum), list (kStringList,
// kPathList).
using Value = std::variant<bool, int64_t, double, std::string, std::vector<std::string>>;

// Bounds on a kInt or kFloat value, checked by LoadConfig where the value is read, so a value out of range is
// named with its file:line:column or override like a type error. An unset side is unbounded; an exclusive side
// excludes the bound itself. `note` follows the expected range in messages and docs ("0 ≤ x ≤ 4096 (0 = auto)").
// Bounds are doubles: an int key's bounds must be integers of magnitude ≤ 2^53.
struct Range {
  std::optional<double> min, max;
  bool min_exclusive = false, max_exclusive = false;
  std::string note;
};

// Range shorthands: x ≥ lo; x > lo; lo ≤ x ≤ hi; lo ≤ x < hi; lo < x ≤ hi.
Range AtLeast(double lo, std::string note = {});
Range Above(double lo, std::string note = {});
Range Closed(double lo, double hi, std::string note = {});
Range ClosedOpen(double lo, double hi, std::string note = {});
Range OpenClosed(double lo, double hi, std::string note = {});

// The expected-value text of a range, as in messages: "0 < x ≤ 1", "≥ 1 (0 = off)"; empty for no bounds.
std::string RangeText(const Range& range);

// One key a verb accepts. `default_value` nullopt means required. Relative default paths resolve against the
// current directory, so a resolved config holds only absolute paths (or empty = unset).
struct SchemaEntry {
  std::string key;  // dotted, e.g. "train.lr"; no key may be a prefix section of another ("a" and "a.b")
  ValueType type = ValueType::kString;
  std::optional<Value> default_value;
  std::string doc;                   // one line, written as a comment by ToYaml
  std::vector<std::string> allowed;  // kEnum only
  Range range;                       // kInt and kFloat only; the default must lie in it
};

// A verb's keys, in the order ToYaml writes them. `name` (e.g. "train") appears in schema errors.
struct Schema {
  std::string name;
  std::vector<SchemaEntry> entries;
};

// Shorthands for schema declarations.
SchemaEntry Key(std::string key, ValueType type, Value default_value, std::string doc, Range range = {});
SchemaEntry RequiredKey(std::string key, ValueType type, std::string doc, Range range = {});
SchemaEntry EnumKey(std::string key, std::vector<std::string> allowed, std::optional<std::string> default_value,
                    std::string doc);

// Checks a schema: well-formed unique keys, no key nested under another, defaults of the declared type, enum defaults
// among the allowed values, ranges only on numbers, non-empty and holding their defaults. LoadConfig calls it; an error
// here is a programming error in the verb.
absl::Status ValidateSchema(const Schema& schema);

// A resolved configuration: one value per schema entry, in schema order.
struct Config {
  std::vector<SchemaEntry> entries;  // copy of the schema's entries
  std::vector<Value> values;         // values[i] belongs to entries[i]
  std::vector<std::string> origins;  // where values[i] came from: "default", "file.yaml:3:7", "override #2"
  std::string config_path;           // the YAML file loaded (absolute), empty when none

  // Typed getters, total for keys in the schema of the right type: GetString for kString/kPath/kEnum,
  // GetDouble for kFloat/kInt, GetStringList for kStringList/kPathList. Asking for a key that is not in the
  // schema, or with the wrong type, is a programming error: it aborts with a message naming the key.
  std::string GetString(std::string_view key) const;
  int64_t GetInt(std::string_view key) const;
  double GetDouble(std::string_view key) const;
  bool GetBool(std::string_view key) const;
  std::vector<std::string> GetStringList(std::string_view key) const;
  // Where the value of `key` came from (see `origins`); aborts for keys not in the schema.
  std::string Origin(std::string_view key) const;
  // Index of `key` in entries, or -1.
  int Find(std::string_view key) const;
};

// Loads `config_path` (when given) and applies `overrides` ("key=value", value parsed as a YAML scalar or flow
// sequence, later overrides win) on top of the schema defaults. Rejects, naming key and file:line:col or the override:
// unknown keys (with a "did you mean" suggestion), duplicate keys, type errors, enum values not allowed, numbers
// outside their Range ("key 'k': expected 0 < x ≤ 1, got 2"), missing required keys, malformed YAML, more than one YAML
// document, a top level that is not a mapping. All problems found are reported together (one per line) as
// InvalidArgument; a missing file is NotFound. Never throws.
absl::StatusOr<Config> LoadConfig(const Schema& schema, const std::optional<std::string>& config_path,
                                  const std::vector<std::string>& overrides);

// YAML text of the config: nested mappings in schema order, strings double-quoted, floats in shortest
// round-trip form; with `docs`, each key is preceded by "# doc" (with enum keys' allowed values and numbers'
// ranges). Deterministic; LoadConfig of the output (same schema) gives the same values.
std::string ToYaml(const Config& config, bool docs = true);

// The config as nested JSON objects (for manifests).
nlohmann::json ToJson(const Config& config);

// Writes ToYaml(config) to `path` through a temp file in the same folder, fsync, then rename (and fsync of the
// folder), so `path` is never a half-written file. The folder must exist.
absl::Status WriteResolvedConfig(const Config& config, const std::string& path);

}  // namespace distill::config
