// Filters and tests, following @huggingface/jinja's applyFilter / Environment.TESTS type by type.
#include <algorithm>
#include <cmath>

#include "tokenizers/jinja/interpreter.h"
#include "tokenizers/jinja/js_text.h"
#include "tokenizers/jinja/parser.h"

namespace distill::tok::jinja {
namespace {

constexpr size_t kNoPos = std::string::npos;
[[noreturn]] void Throw(const std::string& msg) { throw JinjaError(msg, kNoPos); }

[[noreturn]] void Unsupported(const std::string& filter, const Value& operand) {
  Throw("filter '" + filter + "' is not defined for " + TypeName(operand));
}

const Value* Arg(const std::vector<Value>& args, size_t i) { return i < args.size() ? &args[i] : nullptr; }

// args.at(i) ?? kwargs.get(name) ?? fallback
Value Pick(const std::vector<Value>& args, size_t i, const Object& kwargs, const char* name, Value fallback) {
  if (const Value* v = Arg(args, i)) return *v;
  if (name)
    if (const Value* v = kwargs.Find(name)) return *v;
  return fallback;
}

std::string Indent(const std::string& s, int width, bool first, bool blank) {
  const std::string pad(static_cast<size_t>(std::max(width, 0)), ' ');
  std::string out;
  size_t start = 0, line = 0;
  while (true) {
    const size_t nl = s.find('\n', start);
    const std::string x = s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (line) out += '\n';
    out += ((!first && line == 0) || (!blank && x.empty())) ? x : pad + x;
    if (nl == std::string::npos) break;
    start = nl + 1;
    ++line;
  }
  return out;
}

std::string Title(const std::string& s) {
  auto word = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  std::string out = s;
  for (size_t i = 0; i < out.size(); ++i)
    if (word(out[i]) && (i == 0 || !word(s[i - 1])) && out[i] >= 'a' && out[i] <= 'z')
      out[i] = static_cast<char>(out[i] - 'a' + 'A');
  return out;
}

Value SortArray(const Value& operand, bool reverse, bool case_sensitive, const Value& attribute) {
  Array items = *operand.arr;
  auto key = [&](const Value& item) {
    if (attribute.type == Type::kNull) return item;
    const std::string path = attribute.type == Type::kInt ? JsNumberToString(attribute.num) : attribute.s.get();
    return GetAttributePath(item, path);
  };
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    const int r = CompareValues(key(a), key(b), case_sensitive);
    return (reverse ? -r : r) < 0;
  });
  return Value::MakeArray(std::move(items));
}

}  // namespace

std::string JoinPiece(const Value& v) {
  if (v.IsNullish()) return "";
  return JsValueString(v);
}

int CompareValues(const Value& a, const Value& b, bool case_sensitive) {
  if (a.type == Type::kNull && b.type == Type::kNull) return 0;
  if (a.type == Type::kNull || b.type == Type::kNull) Throw(std::string("cannot compare ") + TypeName(a) + " with " + TypeName(b));
  if (a.type == Type::kUndefined && b.type == Type::kUndefined) return 0;
  if (a.type == Type::kUndefined || b.type == Type::kUndefined)
    Throw(std::string("cannot compare ") + TypeName(a) + " with " + TypeName(b));
  const auto numeric = [](const Value& v) { return v.IsNumber() || v.type == Type::kBool; };
  if (numeric(a) && numeric(b)) {
    const double x = a.type == Type::kBool ? a.b : a.num, y = b.type == Type::kBool ? b.b : b.num;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.type != b.type) Throw(std::string("cannot compare ") + TypeName(a) + " with " + TypeName(b));
  if (a.type == Type::kString) {
    const std::string x = case_sensitive ? a.s.get() : JsToLower(a.s), y = case_sensitive ? b.s.get() : JsToLower(b.s);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  Throw(std::string("cannot compare values of type ") + TypeName(a));
}

Value GetAttributePath(const Value& item, const std::string& path) {
  Value v = item;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (v.IsAttributeContainer()) {
      const Value* x = v.obj->Find(part);
      v = x ? *x : Value::Undefined();
    } else if (v.IsArray()) {
      const double index = JsParseInt(part);
      if (!std::isnan(index) && index >= 0 && index < static_cast<double>(v.arr->size())) {
        Value next = (*v.arr)[static_cast<size_t>(index)];
        v = std::move(next);
      } else {
        return Value::Undefined();
      }
    } else {
      return Value::Undefined();
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return v;
}

bool ApplyTest(const std::string& name, const Value& v, const Value* arg) {
  if (name == "boolean") return v.type == Type::kBool;
  if (name == "callable") return v.type == Type::kFunction;
  if (name == "odd" || name == "even") {
    if (v.type != Type::kInt) Throw("test '" + name + "' needs an integer, got " + TypeName(v));
    const double r = std::fmod(v.num, 2);
    return name == "odd" ? r != 0 : r == 0;
  }
  if (name == "false") return v.type == Type::kBool && !v.b;
  if (name == "true") return v.type == Type::kBool && v.b;
  if (name == "none") return v.type == Type::kNull;
  if (name == "string") return v.type == Type::kString;
  if (name == "number") return v.IsNumber();
  if (name == "integer") return v.type == Type::kInt;
  if (name == "iterable") return v.type == Type::kArray || v.type == Type::kString;
  if (name == "mapping") return v.IsObject();
  if (name == "sequence") return v.IsArray() || v.IsObject() || v.type == Type::kString;
  if (name == "lower") return v.type == Type::kString && v.s.get() == JsToLower(v.s);
  if (name == "upper") return v.type == Type::kString && v.s.get() == JsToUpper(v.s);
  if (name == "defined") return v.type != Type::kUndefined;
  if (name == "undefined") return v.type == Type::kUndefined;
  if (name == "equalto" || name == "eq") {
    if (!arg) Throw("test '" + name + "' needs an argument (use it as selectattr(\"attr\", \"" + name + "\", value))");
    return StrictEquals(v, *arg);
  }
  Throw("unsupported test '" + name + "'");
}

Value Interpreter::ApplyFilter(const Value& operand, const Node& filter, const EnvPtr& env) {
  if (filter.kind == NodeKind::kCall) return ApplyFilterCall(operand, filter, env);
  const std::string& f = filter.str;
  if (f == "safe") return operand;
  if (f == "tojson") return Value::String(ToJson(operand, JsonOptions{}));
  if (operand.IsArray()) {
    const Array& a = *operand.arr;
    if (f == "list") return operand;
    if (f == "first" || f == "last") {
      if (a.empty()) Throw("filter '" + f + "' applied to an empty list");
      return f == "first" ? a.front() : a.back();
    }
    if (f == "length") return Value::Int(static_cast<double>(a.size()));
    if (f == "reverse") return Value::MakeArray(Array(a.rbegin(), a.rend()));
    if (f == "sort") return SortArray(operand, false, false, Value::Null());
    if (f == "join") {
      std::string out;
      for (const Value& x : a) {
        out += JoinPiece(x);
        CheckSize(out.size());
      }
      return Value::String(std::move(out));
    }
    if (f == "string") return Value::String(ToJson(operand, JsonOptions{}, 0, false));
    if (f == "unique") {
      Array out;
      for (const Value& x : a) {
        bool seen = false;
        for (const Value& y : out) seen = seen || StrictEquals(x, y);
        if (!seen) out.push_back(x);
      }
      return Value::MakeArray(std::move(out));
    }
    Unsupported(f, operand);
  }
  if (operand.type == Type::kString) {
    const std::string& s = operand.s;
    if (f == "length") return Value::Int(static_cast<double>(Utf16Length(s)));
    if (f == "upper") return Value::String(JsToUpper(s));
    if (f == "lower") return Value::String(JsToLower(s));
    if (f == "title") return Value::String(Title(s));
    if (f == "capitalize") {
      return Value::String(JsCapitalize(s));
    }
    if (f == "trim") return Value::String(JsTrim(s));
    if (f == "indent") return Value::String(Indent(s, 4, false, false));
    if (f == "join" || f == "string") return operand;
    if (f == "int") {
      const double v = JsParseInt(s);
      return Value::Int(std::isnan(v) ? 0 : v);
    }
    if (f == "float") {
      const double v = JsParseFloat(s);
      return Value::Float(std::isnan(v) ? 0 : v);
    }
    Unsupported(f, operand);
  }
  if (operand.IsNumber()) {
    if (f == "abs") return operand.type == Type::kInt ? Value::Int(std::fabs(operand.num)) : Value::Float(std::fabs(operand.num));
    if (f == "int") return Value::Int(std::floor(operand.num));
    if (f == "float") return Value::Float(operand.num);
    if (f == "string") return Value::String(RenderValue(operand));
    Unsupported(f, operand);
  }
  if (operand.IsObject()) {
    if (f == "items") {
      Array out;
      for (const auto& [k, v] : operand.obj->items) out.push_back(Value::MakeArray({Value::String(k), v}));
      return Value::MakeArray(std::move(out));
    }
    if (f == "length") return Value::Int(static_cast<double>(operand.obj->items.size()));
    Value builtin = GetBuiltin(operand, f, *this);
    if (builtin.type == Type::kFunction) {
      std::vector<Value> none;
      return Invoke(builtin, none, env);
    }
    if (builtin.type != Type::kUndefined) return builtin;
    Unsupported(f, operand);
  }
  if (operand.type == Type::kBool) {
    if (f == "bool") return operand;
    if (f == "int") return Value::Int(operand.b ? 1 : 0);
    if (f == "float") return Value::Float(operand.b ? 1 : 0);
    if (f == "string") return Value::String(operand.b ? "true" : "false");
    Unsupported(f, operand);
  }
  Unsupported(f, operand);
}

Value Interpreter::ApplyFilterCall(const Value& operand, const Node& call, const EnvPtr& env) {
  const std::string& f = call.a->str;
  auto [args, kwargs] = EvalArgs(call.list, env);
  if (f == "tojson") {
    JsonOptions opts;
    const Value indent = Pick({}, 0, kwargs, "indent", Value::Null());
    if (indent.type != Type::kInt && indent.type != Type::kNull) Throw("tojson: indent must be an integer");
    if (indent.type == Type::kInt) {
      if (indent.num < 0 || indent.num > 64) Throw("tojson: indent out of range");
      opts.indent = static_cast<int>(indent.num);
    }
    const Value ascii = Pick({}, 0, kwargs, "ensure_ascii", Value::Bool(false));
    const Value sort = Pick({}, 0, kwargs, "sort_keys", Value::Bool(false));
    if (ascii.type != Type::kBool) Throw("tojson: ensure_ascii must be a boolean");
    if (sort.type != Type::kBool) Throw("tojson: sort_keys must be a boolean");
    opts.ensure_ascii = ascii.b;
    opts.sort_keys = sort.b;
    const Value seps = Pick({}, 0, kwargs, "separators", Value::Null());
    if (seps.IsArray()) {
      if (seps.arr->size() != 2 || (*seps.arr)[0].type != Type::kString || (*seps.arr)[1].type != Type::kString)
        Throw("tojson: separators must be a pair of strings");
      opts.has_separators = true;
      opts.item_sep = (*seps.arr)[0].s;
      opts.key_sep = (*seps.arr)[1].s;
    } else if (seps.type != Type::kNull) {
      Throw("tojson: separators must be a pair of strings");
    }
    return Value::String(ToJson(operand, opts));
  }
  if (f == "join") {
    Array values;
    if (operand.type == Type::kString) {
      for (char32_t c : ToCodePoints(operand.s)) {
        std::string ch;
        AppendUtf8(ch, c);
        values.push_back(Value::String(ch));
      }
    } else if (operand.IsArray()) {
      values = *operand.arr;
    } else {
      Unsupported(f, operand);
    }
    const Value sep = Pick(args, 0, kwargs, "separator", Value::String(""));
    if (sep.type != Type::kString) Throw("join: separator must be a string");
    std::string out;
    for (size_t i = 0; i < values.size(); ++i) {
      if (i) out += sep.s;
      out += JoinPiece(values[i]);
      CheckSize(out.size());
    }
    return Value::String(std::move(out));
  }
  if (f == "int" || f == "float") {
    const bool is_int = f == "int";
    const Value def = Pick(args, 0, kwargs, "default", is_int ? Value::Int(0) : Value::Float(0));
    if (operand.type == Type::kString) {
      const double v = is_int ? JsParseInt(operand.s) : JsParseFloat(operand.s);
      if (std::isnan(v)) return def;
      return is_int ? Value::Int(v) : Value::Float(v);
    }
    if (operand.IsNumber()) return operand;
    if (operand.type == Type::kBool) return is_int ? Value::Int(operand.b) : Value::Float(operand.b);
    Unsupported(f, operand);
  }
  if (f == "default") {
    const Value def = args.empty() ? Value::String("") : args[0];
    const Value boolean = Pick(args, 1, kwargs, "boolean", Value::Bool(false));
    if (boolean.type != Type::kBool) Throw("default: the second argument must be a boolean");
    if (operand.type == Type::kUndefined || (boolean.b && !Truthy(operand))) return def;
    return operand;
  }
  if (operand.IsArray()) {
    if (f == "sort") {
      const Value reverse = Pick(args, 0, kwargs, "reverse", Value::Bool(false));
      const Value cs = Pick(args, 1, kwargs, "case_sensitive", Value::Bool(false));
      const Value attribute = Pick(args, 2, kwargs, "attribute", Value::Null());
      if (reverse.type != Type::kBool || cs.type != Type::kBool) Throw("sort: reverse and case_sensitive must be booleans");
      if (!(attribute.type == Type::kString || attribute.type == Type::kInt || attribute.type == Type::kNull))
        Throw("sort: attribute must be a string or integer");
      return SortArray(operand, reverse.b, cs.b, attribute);
    }
    if (f == "selectattr" || f == "rejectattr") {
      const bool select = f == "selectattr";
      for (const Value& item : *operand.arr)
        if (!item.IsAttributeContainer()) Throw(f + " can only be applied to a list of objects");
      for (const auto& a : call.list)
        if (a->kind != NodeKind::kString) Throw("the arguments of " + f + " must be string literals");
      if (call.list.empty()) Throw(f + " needs an attribute name");
      const std::string attr = call.list[0]->str;
      const std::string test = call.list.size() > 1 ? call.list[1]->str : "";
      const Value value = call.list.size() > 2 ? Value::String(call.list[2]->str) : Value::Undefined();
      if (!test.empty() && !IsKnownTest(test)) Throw("unsupported test '" + test + "'");
      Array out;
      for (const Value& item : *operand.arr) {
        const Value* a = item.obj->Find(attr);
        bool r = false;
        if (a) r = test.empty() ? Truthy(*a) : ApplyTest(test, *a, call.list.size() > 2 ? &value : nullptr);
        if (r == select) out.push_back(item);
      }
      return Value::MakeArray(std::move(out));
    }
    if (f == "map") {
      const Value* attr = kwargs.Find("attribute");
      if (!attr) Throw("map is supported only with attribute=...");
      if (attr->type != Type::kString) Throw("map: attribute must be a string");
      const Value* def = kwargs.Find("default");
      Array out;
      for (const Value& item : *operand.arr) {
        if (!item.IsAttributeContainer()) Throw("map: items must be objects");
        Value v = GetAttributePath(item, attr->s);
        out.push_back(v.type == Type::kUndefined && def ? *def : v);
      }
      return Value::MakeArray(std::move(out));
    }
    Unsupported(f + "(...)", operand);
  }
  if (operand.type == Type::kString) {
    if (f == "indent") {
      const Value width = Pick(args, 0, kwargs, "width", Value::Int(4));
      if (width.type != Type::kInt) Throw("indent: width must be an integer");
      if (width.num < 0 || width.num > 1024) Throw("indent: width out of range");
      const Value first = Pick(args, 1, kwargs, "first", Value::Bool(false));
      const Value blank = Pick(args, 2, kwargs, "blank", Value::Bool(false));
      std::string out = Indent(operand.s, static_cast<int>(width.num), Truthy(first), Truthy(blank));
      CheckSize(out.size());
      return Value::String(std::move(out));
    }
    if (f == "replace") {
      Value fn = GetBuiltin(operand, "replace", *this);
      args.push_back(Value::MakeObject(std::move(kwargs), Type::kKwargs));
      return Invoke(fn, args, env);
    }
    Unsupported(f + "(...)", operand);
  }
  if (operand.IsObject()) {
    Value builtin = GetBuiltin(operand, f, *this);
    if (builtin.type == Type::kFunction) {
      if (!kwargs.items.empty()) args.push_back(Value::MakeObject(std::move(kwargs), Type::kKwargs));
      return Invoke(builtin, args, env);
    }
  }
  Unsupported(f + "(...)", operand);
}

}  // namespace distill::tok::jinja
