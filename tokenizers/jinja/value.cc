#include "tokenizers/jinja/value.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "tokenizers/jinja/ast.h"
#include "tokenizers/jinja/js_text.h"

namespace distill::tok::jinja {

const Value* Object::Find(std::string_view key) const {
  for (const auto& [k, v] : items)
    if (k == key) return &v;
  return nullptr;
}

void Object::Set(const std::string& key, Value v) {
  for (auto& [k, old] : items) {
    if (k == key) {
      old = std::move(v);
      return;
    }
  }
  items.emplace_back(key, std::move(v));
}

bool Object::Erase(std::string_view key) {
  for (auto it = items.begin(); it != items.end(); ++it) {
    if (it->first == key) {
      items.erase(it);
      return true;
    }
  }
  return false;
}

const char* TypeName(const Value& v) {
  switch (v.type) {
    case Type::kUndefined: return "undefined";
    case Type::kNull: return "none";
    case Type::kBool: return "boolean";
    case Type::kInt: return "integer";
    case Type::kFloat: return "float";
    case Type::kString: return "string";
    case Type::kArray: return "list";
    case Type::kTuple: return "tuple";
    case Type::kObject: return "dict";
    case Type::kKwargs: return "keyword arguments";
    case Type::kNamespace: return "namespace";
    case Type::kFunction: return "function";
  }
  return "value";
}

bool Truthy(const Value& v) {
  switch (v.type) {
    case Type::kUndefined:
    case Type::kNull: return false;
    case Type::kBool: return v.b;
    case Type::kInt:
    case Type::kFloat: return v.num != 0 && !std::isnan(v.num);
    case Type::kString: return !v.s.empty();
    case Type::kArray:
    case Type::kTuple: return !v.arr->empty();
    case Type::kObject:
    case Type::kKwargs: return !v.obj->items.empty();
    case Type::kNamespace:
    case Type::kFunction: return true;
  }
  return false;
}

namespace {
bool IsPrimitive(const Value& v) {
  return v.type == Type::kBool || v.IsNumber() || v.type == Type::kString;
}
double PrimitiveToNumber(const Value& v) {
  if (v.type == Type::kBool) return v.b ? 1 : 0;
  if (v.type == Type::kString) return JsStringToNumber(v.s);
  return v.num;
}
bool SameReference(const Value& a, const Value& b) {
  if (a.IsArray() && b.IsArray()) return a.arr == b.arr;
  if (a.IsAttributeContainer() && b.IsAttributeContainer()) return a.obj == b.obj;
  if (a.type == Type::kFunction && b.type == Type::kFunction) return a.fn == b.fn;
  return false;
}
}  // namespace

bool LooseEquals(const Value& a, const Value& b) {
  if (a.IsNullish() || b.IsNullish()) return a.IsNullish() && b.IsNullish();
  if (IsPrimitive(a) && IsPrimitive(b)) {
    if (a.type == Type::kString && b.type == Type::kString) return a.s == b.s;
    return PrimitiveToNumber(a) == PrimitiveToNumber(b);
  }
  return SameReference(a, b);
}

bool StrictEquals(const Value& a, const Value& b) {
  if (a.IsNumber() && b.IsNumber()) return a.num == b.num;
  if (a.type == Type::kString && b.type == Type::kString) return a.s == b.s;
  if (a.type == Type::kBool && b.type == Type::kBool) return a.b == b.b;
  if (a.IsNullish() || b.IsNullish()) return a.IsNullish() && b.IsNullish();  // both hold JS undefined
  return SameReference(a, b);
}

std::string RenderValue(const Value& v) {
  switch (v.type) {
    // The reference's NullValue holds JS undefined, so both print "undefined" where they print at all.
    case Type::kUndefined:
    case Type::kNull: return "undefined";
    case Type::kBool: return v.b ? "true" : "false";
    case Type::kInt: return JsNumberToString(v.num);
    case Type::kFloat: {
      if (v.num == 0 && std::signbit(v.num)) return "-0.0";
      if (std::isfinite(v.num) && std::fmod(v.num, 1.0) == 0) {
        if (std::fabs(v.num) >= 1e21) return JsNumberToString(v.num);
        char buf[64];
        std::snprintf(buf, sizeof(buf), "%.1f", v.num);
        return buf;
      }
      return JsNumberToString(v.num);
    }
    case Type::kString: return v.s;
    case Type::kArray:
    case Type::kTuple:
    case Type::kObject:
    case Type::kKwargs:
    case Type::kNamespace: return ToJson(v, JsonOptions{}, 0, false);
    case Type::kFunction: throw JinjaError("cannot render a function", std::string::npos);
  }
  return "";
}

std::string JsValueString(const Value& v) {
  switch (v.type) {
    case Type::kBool: return v.b ? "true" : "false";
    case Type::kInt:
    case Type::kFloat: return JsNumberToString(v.num);
    case Type::kString: return v.s;
    case Type::kArray:
    case Type::kTuple: {
      std::string out;
      for (size_t i = 0; i < v.arr->size(); ++i) {
        if (i) out += ',';
        out += RenderValue((*v.arr)[i]);
      }
      return out;
    }
    case Type::kObject:
    case Type::kKwargs:
    case Type::kNamespace: return "[object Map]";
    default: throw JinjaError(std::string("cannot convert ") + TypeName(v) + " to a string", std::string::npos);
  }
}

namespace {
// An approximation of String.prototype.localeCompare for sort_keys: case-insensitive first, lowercase first.
bool LocaleLess(const std::string& a, const std::string& b) {
  const std::string la = AsciiLower(a), lb = AsciiLower(b);
  if (la != lb) return la < lb;
  return a > b;
}
}  // namespace

std::string ToJson(const Value& v, const JsonOptions& opts, int depth, bool undefined_to_null) {
  if (depth > 512) throw JinjaError("value nested too deeply for tojson", std::string::npos);
  std::string item_sep = ", ", key_sep = ": ";
  if (opts.has_separators) {
    item_sep = opts.item_sep;
    key_sep = opts.key_sep;
  } else if (opts.indent) {
    item_sep = ",";
  }
  switch (v.type) {
    case Type::kNull: return "null";
    case Type::kUndefined: return undefined_to_null ? "null" : "undefined";
    case Type::kInt:
    case Type::kFloat: return std::isfinite(v.num) ? JsNumberToString(v.num) : "null";
    case Type::kBool: return v.b ? "true" : "false";
    case Type::kString: return JsonQuote(v.s, opts.ensure_ascii);
    case Type::kArray:
    case Type::kObject:
    case Type::kNamespace: {
      const std::string indent_value(static_cast<size_t>(std::max(opts.indent, 0)), ' ');
      std::string base = "\n";
      for (int i = 0; i < depth; ++i) base += indent_value;
      const std::string children = base + indent_value;
      std::vector<std::string> core;
      if (v.type == Type::kArray) {
        for (const Value& x : *v.arr) core.push_back(ToJson(x, opts, depth + 1, undefined_to_null));
        std::string out = "[";
        if (opts.indent && !core.empty()) {
          out += children;
          for (size_t i = 0; i < core.size(); ++i) {
            if (i) out += item_sep + children;
            out += core[i];
          }
          out += base;
        } else {
          for (size_t i = 0; i < core.size(); ++i) {
            if (i) out += item_sep;
            out += core[i];
          }
        }
        return out + "]";
      }
      std::vector<const std::pair<std::string, Value>*> entries;
      for (const auto& e : v.obj->items) entries.push_back(&e);
      if (opts.sort_keys)
        std::stable_sort(entries.begin(), entries.end(),
                         [](const auto* a, const auto* b) { return LocaleLess(a->first, b->first); });
      for (const auto* e : entries) {
        std::string item = JsonQuote(e->first, opts.ensure_ascii) + key_sep +
                           ToJson(e->second, opts, depth + 1, undefined_to_null);
        core.push_back(opts.indent ? children + item : item);
      }
      std::string out = "{";
      for (size_t i = 0; i < core.size(); ++i) {
        if (i) out += item_sep;
        out += core[i];
      }
      if (opts.indent && !core.empty()) out += base;
      return out + "}";
    }
    default:
      throw JinjaError(std::string("cannot convert ") + TypeName(v) + " to JSON", std::string::npos);
  }
}

Value FromJson(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return Value::Null();
    case nlohmann::json::value_t::boolean: return Value::Bool(j.get<bool>());
    case nlohmann::json::value_t::number_integer: return Value::Int(static_cast<double>(j.get<int64_t>()));
    case nlohmann::json::value_t::number_unsigned: return Value::Int(static_cast<double>(j.get<uint64_t>()));
    case nlohmann::json::value_t::number_float: {
      const double d = j.get<double>();
      return std::isfinite(d) && std::trunc(d) == d ? Value::Int(d) : Value::Float(d);
    }
    case nlohmann::json::value_t::string: {
      Value v;
      v.type = Type::kString;
      v.s = Str::Borrow(j.get_ref<const std::string&>());
      return v;
    }
    case nlohmann::json::value_t::array: {
      Array items;
      items.reserve(j.size());
      for (const auto& x : j) items.push_back(FromJson(x));
      return Value::MakeArray(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Object o;
      for (auto it = j.begin(); it != j.end(); ++it) o.items.emplace_back(it.key(), FromJson(it.value()));
      return Value::MakeObject(std::move(o));
    }
    default: return Value::Undefined();
  }
}

}  // namespace distill::tok::jinja
