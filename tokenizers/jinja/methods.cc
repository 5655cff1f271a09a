// Built-in members (string methods, dict methods, `.length`) and global functions (namespace, range,
// raise_exception, strftime_now), as @huggingface/jinja defines them.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <memory>

#include "tokenizers/jinja/interpreter.h"
#include "tokenizers/jinja/js_text.h"

namespace distill::tok::jinja {
namespace {

constexpr size_t kNoPos = std::string::npos;
[[noreturn]] void Throw(const std::string& msg) { throw JinjaError(msg, kNoPos); }

bool AnyPrefix(const std::string& s, const Value& pattern, bool suffix, const char* name) {
  auto test = [&](const std::string& p) {
    if (p.size() > s.size()) return false;
    return suffix ? s.compare(s.size() - p.size(), p.size(), p) == 0 : s.compare(0, p.size(), p) == 0;
  };
  if (pattern.type == Type::kString) return test(pattern.s);
  if (pattern.IsArray()) {
    for (const Value& item : *pattern.arr) {
      if (item.type != Type::kString) Throw(std::string(name) + "() tuple elements must be strings");
      if (test(item.s)) return true;
    }
    return false;
  }
  Throw(std::string(name) + "() argument must be a string or tuple of strings");
}

// `s.split(sep, maxsplit)`; with a separator the parts are slices of s's bytes (a trace split at "</think>" is not
// copied).
Value Split(const Str& s, const std::vector<Value>& args, Interpreter& interp) {
  const Value sep = args.size() > 0 ? args[0] : Value::Null();
  if (sep.type != Type::kString && sep.type != Type::kNull) Throw("split() separator must be a string or none");
  const Value maxsplit = args.size() > 1 ? args[1] : Value::Int(-1);
  if (maxsplit.type != Type::kInt) Throw("split() maxsplit must be an integer");
  const double max = maxsplit.num;
  Array result;
  if (sep.type == Type::kNull) {
    const std::string text = JsTrimStart(s.get());
    size_t i = 0;
    while (i < text.size()) {
      while (size_t n = JsSpaceAt(text, i)) i += n;
      if (i >= text.size()) break;
      size_t j = i;
      while (j < text.size() && !JsSpaceAt(text, j)) {
        size_t len;
        DecodeUtf8(text, j, &len);
        j += len;
      }
      if (max != -1 && static_cast<double>(result.size()) >= max) {
        result.push_back(Value::String(text.substr(i)));
        break;
      }
      result.push_back(Value::String(text.substr(i, j - i)));
      i = j;
    }
  } else {
    const std::string_view text = s.view(), separator = sep.s.view();
    if (separator.empty()) Throw("split(): empty separator");
    std::vector<size_t> starts = {0};  // where each part begins
    for (size_t p = 0; (p = text.find(separator, p)) != std::string_view::npos; p += separator.size()) {
      starts.push_back(p + separator.size());
      interp.CheckArray(starts.size());
    }
    const size_t parts = starts.size();
    // maxsplit as the reference applies it, JS's `result.splice(maxsplit)` joined back with the separator (the rest
    // of the string) and pushed: the parts from `keep` on become one, and a negative maxsplit counts from the end.
    size_t keep = parts;
    if (max != -1 && static_cast<double>(parts) > max)
      keep = max >= 0 ? static_cast<size_t>(max) : static_cast<size_t>(std::max(static_cast<double>(parts) + max, 0.0));
    auto push = [&](size_t begin, size_t end) {
      Value part;
      part.type = Type::kString;
      part.s = Str::Slice(s, begin, end - begin);
      result.push_back(std::move(part));
    };
    for (size_t i = 0; i < keep; ++i) push(starts[i], i + 1 < parts ? starts[i + 1] - separator.size() : text.size());
    if (keep < parts) push(starts[keep], text.size());
  }
  return Value::MakeArray(std::move(result));
}

Value DictSort(const Value& object, std::vector<Value> args) {
  Object kwargs;
  std::vector<Value> positional;
  for (Value& a : args) {
    if (a.type == Type::kKwargs) kwargs = *a.obj;
    else positional.push_back(std::move(a));
  }
  auto pick = [&](size_t i, const char* name, Value fallback) {
    if (i < positional.size()) return positional[i];
    if (const Value* v = kwargs.Find(name)) return *v;
    return fallback;
  };
  const Value cs = pick(0, "case_sensitive", Value::Bool(false));
  if (cs.type != Type::kBool) Throw("dictsort: case_sensitive must be a boolean");
  const Value by = pick(1, "by", Value::String("key"));
  if (by.type != Type::kString || (by.s != "key" && by.s != "value")) Throw("dictsort: by must be 'key' or 'value'");
  const Value reverse = pick(2, "reverse", Value::Bool(false));
  if (reverse.type != Type::kBool) Throw("dictsort: reverse must be a boolean");
  Array items;
  for (const auto& [k, v] : object.obj->items) items.push_back(Value::MakeArray({Value::String(k), v}));
  const size_t index = by.s == "key" ? 0 : 1;
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    const int r = CompareValues((*a.arr)[index], (*b.arr)[index], cs.b);
    return (reverse.b ? -r : r) < 0;
  });
  return Value::MakeArray(std::move(items));
}

std::string Strftime(const std::string& format) {
  static const char* kShort[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  static const char* kLong[] = {"January", "February", "March",     "April",   "May",      "June",
                                "July",    "August",   "September", "October", "November", "December"};
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  auto pad2 = [](int n) { return (n < 10 ? "0" : "") + std::to_string(n); };
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] == '%' && i + 1 < format.size()) {
      const char c = format[i + 1];
      std::string rep;
      switch (c) {
        case 'Y': rep = std::to_string(tm.tm_year + 1900); break;
        case 'm': rep = pad2(tm.tm_mon + 1); break;
        case 'd': rep = pad2(tm.tm_mday); break;
        case 'b': rep = kShort[tm.tm_mon]; break;
        case 'B': rep = kLong[tm.tm_mon]; break;
        case 'H': rep = pad2(tm.tm_hour); break;
        case 'M': rep = pad2(tm.tm_min); break;
        case '%': rep = "%"; break;
        default: break;
      }
      if (!rep.empty()) {
        out += rep;
        ++i;
        continue;
      }
    }
    out += format[i];
  }
  return out;
}

}  // namespace

std::string ReplaceString(const std::string& s, const std::string& old_value, const std::string& new_value,
                          double count, bool has_count) {
  if (has_count && count == 0) return s;
  double remaining = (!has_count || count < 0) ? INFINITY : count;
  std::string out;
  if (old_value.empty()) {
    // (?=) with the u flag: matches at every code point boundary, including both ends.
    for (size_t i = 0;;) {
      if (remaining > 0) {
        out += new_value;
        --remaining;
      }
      if (i >= s.size()) break;
      size_t len;
      DecodeUtf8(s, i, &len);
      out.append(s, i, len);
      i += len;
    }
    return out;
  }
  size_t start = 0;
  while (remaining > 0) {
    const size_t p = s.find(old_value, start);
    if (p == std::string::npos) break;
    out.append(s, start, p - start);
    out += new_value;
    start = p + old_value.size();
    --remaining;
  }
  out.append(s, start, std::string::npos);
  return out;
}

Value GetBuiltin(const Value& object, const std::string& name, Interpreter& interp) {
  if (object.IsArray()) {
    if (name == "length") return Value::Int(static_cast<double>(object.arr->size()));
    return Value::Undefined();
  }
  if (object.type == Type::kString) {
    if (name == "length") return Value::Int(static_cast<double>(Utf16Length(object.s)));
    // The method holds the receiver's shared bytes: templates call methods on multi-kilobyte trace strings.
    const Str s = object.s;
    auto method = [&](auto body) {
      return Value::MakeFunction([s, body, &interp](std::vector<Value>& args, const EnvPtr&) {
        return body(s.get(), args, interp);
      });
    };
    using Args = std::vector<Value>;
    if (name == "upper") return method([](const std::string& x, Args&, Interpreter&) { return Value::String(JsToUpper(x)); });
    if (name == "lower") return method([](const std::string& x, Args&, Interpreter&) { return Value::String(JsToLower(x)); });
    // Stripping gives a slice of the receiver's bytes rather than a copy of a whole trace.
    auto trim = [&](bool start, bool end) {
      return Value::MakeFunction([s, start, end](Args&, const EnvPtr&) {
        const std::string_view whole = s.view(), kept = JsTrimView(whole, start, end);
        Value out;
        out.type = Type::kString;
        out.s = Str::Slice(s, static_cast<size_t>(kept.data() - whole.data()), kept.size());
        return out;
      });
    };
    if (name == "strip") return trim(true, true);
    if (name == "lstrip") return trim(true, false);
    if (name == "rstrip") return trim(false, true);
    if (name == "title" || name == "capitalize") {
      const bool title = name == "title";
      return method([title](const std::string& x, Args&, Interpreter&) {
        if (title) {
          std::string out = x;
          auto word = [](char c) {
            return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
          };
          for (size_t i = 0; i < out.size(); ++i)
            if (word(x[i]) && (i == 0 || !word(x[i - 1]))) out[i] = JsToUpper(std::string(1, x[i]))[0];
          return Value::String(out);
        }
        return Value::String(JsCapitalize(x));
      });
    }
    if (name == "startswith" || name == "endswith") {
      const bool suffix = name == "endswith";
      return method([suffix](const std::string& x, Args& args, Interpreter&) {
        const char* fname = suffix ? "endswith" : "startswith";
        if (args.empty()) Throw(std::string(fname) + "() requires an argument");
        return Value::Bool(AnyPrefix(x, args[0], suffix, fname));
      });
    }
    if (name == "split") {
      return Value::MakeFunction([s, &interp](Args& args, const EnvPtr&) { return Split(s, args, interp); });
    }
    if (name == "replace") {
      return method([](const std::string& x, Args& args, Interpreter& in) {
        if (args.size() < 2) Throw("replace() requires two arguments");
        if (args[0].type != Type::kString || args[1].type != Type::kString) Throw("replace() arguments must be strings");
        Value count = Value::Null();
        if (args.size() > 2) {
          if (args[2].type == Type::kKwargs) {
            const Value* c = args[2].obj->Find("count");
            if (c) count = *c;
          } else {
            count = args[2];
          }
        }
        if (count.type != Type::kInt && count.type != Type::kNull) Throw("replace() count must be an integer or none");
        // Bound the result before building it.
        const size_t occurrences = args[0].s.empty() ? x.size() + 1 : x.size() / args[0].s.size() + 1;
        if (args[1].s.size() > args[0].s.size()) in.CheckSize(x.size() + occurrences * args[1].s.size());
        return Value::String(ReplaceString(x, args[0].s, args[1].s, count.num, count.type == Type::kInt));
      });
    }
    return Value::Undefined();
  }
  if (object.IsObject()) {
    const Value self = object;
    auto method = [&](auto body) {
      return Value::MakeFunction([self, body](std::vector<Value>& args, const EnvPtr&) { return body(self, args); });
    };
    using Args = std::vector<Value>;
    if (name == "get") {
      return method([](const Value& o, Args& args) {
        if (args.empty() || args[0].type != Type::kString) Throw("get() key must be a string");
        if (const Value* v = o.obj->Find(args[0].s)) return *v;
        return args.size() > 1 ? args[1] : Value::Null();
      });
    }
    if (name == "items") {
      return method([](const Value& o, Args&) {
        Array out;
        for (const auto& [k, v] : o.obj->items) out.push_back(Value::MakeArray({Value::String(k), v}));
        return Value::MakeArray(std::move(out));
      });
    }
    if (name == "keys") {
      return method([](const Value& o, Args&) {
        Array out;
        for (const auto& [k, v] : o.obj->items) out.push_back(Value::String(k));
        return Value::MakeArray(std::move(out));
      });
    }
    if (name == "values") {
      return method([](const Value& o, Args&) {
        Array out;
        for (const auto& [k, v] : o.obj->items) out.push_back(v);
        return Value::MakeArray(std::move(out));
      });
    }
    if (name == "dictsort") return method([](const Value& o, Args& args) { return DictSort(o, args); });
  }
  return Value::Undefined();
}

bool IsBuiltinName(std::string_view name) {
  static constexpr std::string_view kNames[] = {"false", "true", "none", "False", "True", "None",
                                                "raise_exception", "range", "strftime_now", "namespace"};
  for (std::string_view n : kNames)
    if (n == name) return true;
  return false;
}

Value Interpreter::Builtin(std::string_view name) {
  if (name == "false" || name == "False") return Value::Bool(false);
  if (name == "true" || name == "True") return Value::Bool(true);
  if (name == "none" || name == "None") return Value::Null();
  if (name == "raise_exception") return Value::MakeFunction([](std::vector<Value>& args, const EnvPtr&) -> Value {
    std::string msg;
    for (size_t i = 0; i < args.size(); ++i) {
      if (i) msg += ',';
      msg += args[i].IsNullish() ? RenderValue(args[i]) : JsValueString(args[i]);
    }
    Throw("raise_exception: " + msg);
  });
  if (name == "range") return Value::MakeFunction([this](std::vector<Value>& args, const EnvPtr&) {
    if (args.empty() || args.size() > 3) Throw("range() takes 1 to 3 integer arguments");
    for (const Value& a : args)
      if (!a.IsNumber()) Throw(std::string("range() arguments must be numbers, got ") + TypeName(a));
    double start = 0, stop, step = 1;
    if (args.size() == 1) {
      stop = args[0].num;
    } else {
      start = args[0].num;
      stop = args[1].num;
      if (args.size() == 3) step = args[2].num;
    }
    if (step == 0) Throw("range() step must not be zero");
    const double n = std::ceil((stop - start) / step);
    if (n > static_cast<double>(limits_.max_array)) CheckArray(static_cast<size_t>(limits_.max_array) + 1);
    if (n > 0) Charge(static_cast<size_t>(n));
    Array out;
    if (step > 0) {
      for (double i = start; i < stop; i += step) out.push_back(std::trunc(i) == i ? Value::Int(i) : Value::Float(i));
    } else {
      for (double i = start; i > stop; i += step) out.push_back(std::trunc(i) == i ? Value::Int(i) : Value::Float(i));
    }
    return Value::MakeArray(std::move(out));
  });
  if (name == "strftime_now") return Value::MakeFunction([](std::vector<Value>& args, const EnvPtr&) {
    if (args.empty() || args[0].type != Type::kString) Throw("strftime_now() needs a format string");
    return Value::String(Strftime(args[0].s));
  });
  if (name == "namespace") return Value::MakeFunction([](std::vector<Value>& args, const EnvPtr&) {
    std::vector<Value> positional = args;
    Object kwargs;
    if (!positional.empty() && positional.back().type == Type::kKwargs) {
      kwargs = *positional.back().obj;
      positional.pop_back();
    }
    if (positional.size() > 1) Throw("namespace() takes at most 1 positional argument");
    Object entries;
    if (positional.size() == 1) {
      const Value& src = positional[0];
      if (src.IsObject()) {
        for (const auto& [k, v] : src.obj->items) entries.Set(k, v);
      } else if (src.IsArray()) {
        for (const Value& pair : *src.arr) {
          Array kv;
          if (pair.IsArray()) {
            kv = *pair.arr;
          } else if (pair.type == Type::kString) {
            for (char32_t c : ToCodePoints(pair.s)) {
              std::string ch;
              AppendUtf8(ch, c);
              kv.push_back(Value::String(ch));
            }
          }
          if (kv.size() != 2) Throw("namespace() expects a dict or a list of (key, value) pairs");
          if (kv[0].type != Type::kString) Throw("namespace() keys must be strings");
          entries.Set(kv[0].s, kv[1]);
        }
      } else {
        Throw(std::string("namespace(): ") + TypeName(src) + " is not iterable");
      }
    }
    for (const auto& [k, v] : kwargs.items) entries.Set(k, v);
    return Value::MakeObject(std::move(entries), Type::kNamespace);
  });
  return Value::Undefined();
}

}  // namespace distill::tok::jinja
