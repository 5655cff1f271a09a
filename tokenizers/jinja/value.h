// Runtime values of the interpreter, mirroring @huggingface/jinja's RuntimeValue classes: numbers are JS doubles
// (kInt vs kFloat only changes formatting), strings are UTF-8, arrays/objects/namespaces are shared references
// (identity matters for ==, and `set ns.x` mutates the shared namespace), objects keep insertion order.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nlohmann/json.hpp"

namespace distill::tok::jinja {

struct Env;
struct Value;
using EnvPtr = std::shared_ptr<Env>;
using Array = std::vector<Value>;
// Called with positional arguments (keyword arguments, if any, as a trailing kKwargs value) and the caller's scope.
using Function = std::function<Value(std::vector<Value>& args, const EnvPtr& scope)>;

enum class Type { kUndefined, kNull, kBool, kInt, kFloat, kString, kArray, kTuple, kObject, kKwargs, kNamespace,
                  kFunction };

// A string value's bytes. Templates copy values freely (variable lookups, member access, loop variables) and a
// reasoning trace can be megabytes, so a long string is shared by every copy of its Value; short ones are kept
// inline. A long string may also be a slice of another's shared bytes (what `split` and `strip` give), so that
// `content.split('</think>')[0].rstrip('\n')` copies nothing; get() turns a slice into bytes of its own on first
// use, view() never does. Immutable, except that Take() may move the bytes out of the only copy.
class Str {
 public:
  Str() = default;
  Str(std::string s) {  // NOLINT(google-explicit-constructor): values are made from strings everywhere
    if (s.size() <= kInline) inline_ = std::move(s);
    else shared_ = std::make_shared<std::string>(std::move(s));
  }
  // `s` itself, without a copy when it is long: the caller keeps `s` alive and unchanged for as long as this Str
  // and its copies live (a render's context, held by the caller for the render). Never moved out by Take().
  static Str Borrow(const std::string& s) {
    if (s.size() <= kInline) return Str(s);
    Str out;
    // An aliasing pointer with no owner: use_count() is 0, so Take() copies.
    out.shared_ = std::shared_ptr<std::string>(std::shared_ptr<void>(), const_cast<std::string*>(&s));
    return out;
  }
  // The bytes [pos, pos + len) of `whole` (clamped to its end), sharing them when they are long.
  static Str Slice(const Str& whole, size_t pos, size_t len) {
    const std::string_view part = whole.view().substr(pos, len);
    if (part.size() == whole.size()) return whole;
    if (part.size() <= kInline || !whole.shared_) return Str(std::string(part));
    Str out;
    out.shared_ = whole.shared_;
    out.pos_ = whole.pos_ + pos;
    out.len_ = part.size();
    return out;
  }
  operator const std::string&() const { return get(); }  // NOLINT(google-explicit-constructor)
  operator std::string_view() const { return view(); }    // NOLINT(google-explicit-constructor)
  const std::string& get() const {
    if (len_ != kWhole) {  // a slice: its own bytes from now on
      shared_ = std::make_shared<std::string>(view());
      pos_ = 0;
      len_ = kWhole;
    }
    return shared_ ? *shared_ : inline_;
  }
  std::string_view view() const {
    if (!shared_) return inline_;
    return len_ == kWhole ? std::string_view(*shared_) : std::string_view(*shared_).substr(pos_, len_);
  }
  size_t size() const { return view().size(); }
  bool empty() const { return view().empty(); }
  size_t find(std::string_view what, size_t from = 0) const { return view().find(what, from); }
  // The bytes, moved out when no other copy shares them and copied otherwise; leaves this string empty. Lets
  // `a + b + c` append to the left operand's buffer instead of copying it at every `+`.
  std::string Take() {
    std::string out = !shared_                                         ? std::move(inline_)
                      : len_ == kWhole && shared_.use_count() == 1 ? std::move(*shared_)
                                                                     : std::string(view());
    shared_.reset();
    inline_.clear();
    pos_ = 0;
    len_ = kWhole;
    return out;
  }
  friend bool operator==(const Str& a, const Str& b) { return a.view() == b.view(); }
  friend bool operator==(const Str& a, std::string_view b) { return a.view() == b; }

 private:
  static constexpr size_t kInline = 15;  // libstdc++'s in-place capacity: no allocation either way
  static constexpr size_t kWhole = static_cast<size_t>(-1);
  std::string inline_;
  mutable std::shared_ptr<std::string> shared_;
  mutable size_t pos_ = 0, len_ = kWhole;  // a slice of *shared_ unless len_ == kWhole
};

struct Object {
  std::vector<std::pair<std::string, Value>> items;
  const Value* Find(std::string_view key) const;
  void Set(const std::string& key, Value v);
  bool Erase(std::string_view key);
};

struct Value {
  Type type = Type::kUndefined;
  bool b = false;
  double num = 0;
  Str s;
  std::shared_ptr<Array> arr;
  std::shared_ptr<Object> obj;
  std::shared_ptr<Function> fn;

  static Value Undefined() { return Value(); }
  static Value Null() { Value v; v.type = Type::kNull; return v; }
  static Value Bool(bool x) { Value v; v.type = Type::kBool; v.b = x; return v; }
  static Value Int(double x) { Value v; v.type = Type::kInt; v.num = x; return v; }
  static Value Float(double x) { Value v; v.type = Type::kFloat; v.num = x; return v; }
  static Value String(std::string x) { Value v; v.type = Type::kString; v.s = std::move(x); return v; }
  static Value MakeArray(Array items, Type t = Type::kArray) {
    Value v; v.type = t; v.arr = std::make_shared<Array>(std::move(items)); return v;
  }
  static Value MakeObject(Object o, Type t = Type::kObject) {
    Value v; v.type = t; v.obj = std::make_shared<Object>(std::move(o)); return v;
  }
  static Value MakeFunction(Function f) {
    Value v; v.type = Type::kFunction; v.fn = std::make_shared<Function>(std::move(f)); return v;
  }

  bool IsNumber() const { return type == Type::kInt || type == Type::kFloat; }
  bool IsArray() const { return type == Type::kArray || type == Type::kTuple; }          // instanceof ArrayValue
  bool IsObject() const { return type == Type::kObject || type == Type::kKwargs; }       // instanceof ObjectValue
  bool IsAttributeContainer() const { return IsObject() || type == Type::kNamespace; }
  bool IsNullish() const { return type == Type::kNull || type == Type::kUndefined; }
};

// Name of the type for error messages.
const char* TypeName(const Value& v);
// Python-like truthiness as the reference defines it (__bool__).
bool Truthy(const Value& v);
// JS `a.value == b.value` (loose) and `a.value === b.value` (strict).
bool LooseEquals(const Value& a, const Value& b);
bool StrictEquals(const Value& a, const Value& b);
// RuntimeValue.toString(): how `{{ v }}` renders (callers skip null/undefined).
std::string RenderValue(const Value& v);
// JS `v.value.toString()` (used by `~` and string `+`). Throws JinjaError for values without one.
std::string JsValueString(const Value& v);

struct JsonOptions {
  int indent = 0;  // 0: compact
  bool ensure_ascii = false;
  bool sort_keys = false;
  bool has_separators = false;
  std::string item_sep, key_sep;
};
// The reference's toJSON. Throws JinjaError for values it cannot serialise.
std::string ToJson(const Value& v, const JsonOptions& opts, int depth = 0, bool undefined_to_null = true);

// Context conversion (convertToRuntimeValues on the parsed JSON: integral numbers become integers). Long strings
// are borrowed (Str::Borrow), not copied: `j` must outlive the returned Value and every copy of it.
Value FromJson(const nlohmann::json& j);

}  // namespace distill::tok::jinja
