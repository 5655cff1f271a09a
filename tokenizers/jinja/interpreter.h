// Tree-walking evaluator with @huggingface/jinja's semantics (scoping, operators, filters, tests, methods).
// Bounded: output and intermediate strings are capped, evaluation steps and nesting (macro recursion) are
// limited, so hostile templates end in a JinjaError rather than a crash or a hang.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "nlohmann/json.hpp"
#include "tokenizers/jinja/ast.h"
#include "tokenizers/jinja/value.h"

namespace distill::tok::jinja {

// A scope: its own variables and the enclosing scope. A scope holds a handful of variables, so a list searched in
// order beats a hash map (which allocated a node per variable and a bucket array per loop iteration); a scope that
// grows past kIndexFrom names (a generated template) also gets an index, so lookups never become quadratic.
struct Env {
  explicit Env(EnvPtr parent_env) : parent(std::move(parent_env)) {}
  EnvPtr parent;
  // The variable in this scope or the nearest enclosing one that has it; null when none does.
  const Value* Find(std::string_view name) const;
  void Set(const std::string& name, Value v);

 private:
  static constexpr size_t kIndexFrom = 16;
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  // Position of this scope's own variable `name` in vars_, or npos.
  size_t OwnIndex(std::string_view name) const;
  std::vector<std::pair<std::string, Value>> vars_;
  std::unordered_map<std::string, size_t, NameHash, std::equal_to<>> index_;  // name → position in vars_
};

struct Limits {
  size_t max_string_bytes = size_t{256} << 20;
  size_t max_steps = 5'000'000;
  int max_depth = 600;      // nested evaluations
  int max_macro_depth = 64;  // nested macro/caller invocations
  size_t max_array = 1'000'000;
};

class Interpreter {
 public:
  explicit Interpreter(Limits limits = {}) : limits_(limits) {}
  // Throws JinjaError.
  std::string Run(const Program& program, const nlohmann::json& context);
  // The same with the context's members held apart (name, value the caller keeps alive).
  std::string Run(const Program& program, const std::vector<std::pair<std::string, const nlohmann::json*>>& vars);

  // Shared with filters.cc / methods.cc.
  Value Eval(const Node* n, const EnvPtr& env);
  std::string EvalBlock(const std::vector<NodePtr>& body, const EnvPtr& env);
  void CheckSize(size_t bytes) const;
  void CheckArray(size_t n) const;
  // Counts `n` units of work against the step limit (loop iterations, list items built).
  void Charge(size_t n);

 private:
  Value EvalNode(const Node& n, const EnvPtr& env);
  Value EvalBinary(const Node& n, const EnvPtr& env);
  Value EvalMember(const Node& n, const EnvPtr& env);
  Value EvalSlice(const Value& object, const Node& slice, const EnvPtr& env);
  Value EvalSet(const Node& n, const EnvPtr& env);
  Value EvalFor(const Node& n, const EnvPtr& env);
  // Statements appending their output to `out` (EvalBlock and EvalFor return it instead).
  void ExecBlock(const std::vector<NodePtr>& body, const EnvPtr& env, std::string& out);
  void ExecFor(const Node& n, const EnvPtr& env, std::string& out);
  template <class F>
  auto Guarded(const Node& n, F&& f);
  Value EvalCall(const Node& n, const EnvPtr& env);
  Value EvalCallBlock(const Node& n, const EnvPtr& env);
  Value EvalUnary(const Node& n, const EnvPtr& env);
  Value DefineMacro(const Node& n, const EnvPtr& env);
  void BindMacroArgs(const std::string& name, const std::vector<NodePtr>& params, bool uses_kwargs,
                     bool uses_varargs, std::vector<Value> args, const EnvPtr& scope);
  std::pair<std::vector<Value>, Object> EvalArgs(const std::vector<NodePtr>& args, const EnvPtr& env);
  Value Invoke(const Value& fn, std::vector<Value>& args, const EnvPtr& env);
  // The global function or constant `name` (true, none, range, namespace, …); Undefined when there is none. Made on
  // lookup rather than stored in every render's global scope.
  Value Builtin(std::string_view name);

  // filters.cc
  Value ApplyFilter(const Value& operand, const Node& filter, const EnvPtr& env);
  Value ApplyFilterCall(const Value& operand, const Node& call, const EnvPtr& env);

  Limits limits_;
  size_t steps_ = 0;
  int depth_ = 0;
  int macro_depth_ = 0;
};

// Whether `name` is one of the globals Builtin() makes (a context variable may not shadow one).
bool IsBuiltinName(std::string_view name);
// tests (filters.cc); `arg` is null when the test is used without an argument.
bool ApplyTest(const std::string& name, const Value& operand, const Value* arg);
// Reference compareRuntimeValues.
int CompareValues(const Value& a, const Value& b, bool case_sensitive);
// Reference getAttributeValue (dotted path).
Value GetAttributePath(const Value& item, const std::string& path);

// methods.cc: built-in members of strings, arrays and objects (`s.split`, `d.items`, `xs.length`);
// Undefined when there is none.
Value GetBuiltin(const Value& object, const std::string& name, Interpreter& interp);
// JS `String.prototype.replace` with the reference's count semantics.
std::string ReplaceString(const std::string& s, const std::string& old_value, const std::string& new_value,
                          double count, bool has_count);
// The reference's `join` of raw values (null/undefined become empty).
std::string JoinPiece(const Value& v);

}  // namespace distill::tok::jinja
