#include "tokenizers/jinja/interpreter.h"

#include <algorithm>
#include <cmath>

#include "tokenizers/jinja/js_text.h"

namespace distill::tok::jinja {
namespace {

constexpr size_t kNoPos = std::string::npos;

struct BreakSignal {};
struct ContinueSignal {};

[[noreturn]] void Throw(const std::string& msg) { throw JinjaError(msg, kNoPos); }

// Appends with doubling room: a long message appended to a short buffer would otherwise leave it exactly full, so
// the next few bytes (an end-of-turn marker) copied the whole message again.
void AppendGrowing(std::string& out, std::string_view piece) {
  if (out.size() + piece.size() > out.capacity()) out.reserve(2 * (out.size() + piece.size()));
  out.append(piece);
}

}  // namespace

size_t Env::OwnIndex(std::string_view name) const {
  if (!index_.empty()) {
    auto it = index_.find(name);
    return it == index_.end() ? std::string_view::npos : it->second;
  }
  for (size_t i = 0; i < vars_.size(); ++i)
    if (vars_[i].first == name) return i;
  return std::string_view::npos;
}

const Value* Env::Find(std::string_view name) const {
  for (const Env* e = this; e; e = e->parent.get()) {
    if (const size_t i = e->OwnIndex(name); i != std::string_view::npos) return &e->vars_[i].second;
  }
  return nullptr;
}

void Env::Set(const std::string& name, Value v) {
  if (const size_t i = OwnIndex(name); i != std::string_view::npos) {
    vars_[i].second = std::move(v);
    return;
  }
  vars_.emplace_back(name, std::move(v));
  if (vars_.size() == kIndexFrom) {
    for (size_t i = 0; i < vars_.size(); ++i) index_.emplace(vars_[i].first, i);
  } else if (vars_.size() > kIndexFrom) {
    index_.emplace(name, vars_.size() - 1);
  }
}

void Interpreter::CheckSize(size_t bytes) const {
  if (bytes > limits_.max_string_bytes)
    Throw("output too large (over " + std::to_string(limits_.max_string_bytes) + " bytes)");
}

void Interpreter::CheckArray(size_t n) const {
  if (n > limits_.max_array) Throw("list too large (over " + std::to_string(limits_.max_array) + " items)");
}

void Interpreter::Charge(size_t n) {
  steps_ += n;
  if (steps_ > limits_.max_steps) Throw("evaluation step limit exceeded");
}

std::string Interpreter::Run(const Program& program, const nlohmann::json& context) {
  std::vector<std::pair<std::string, const nlohmann::json*>> vars;
  if (context.is_object()) {
    for (auto it = context.begin(); it != context.end(); ++it) vars.emplace_back(it.key(), &it.value());
  } else if (!context.is_null()) {
    throw JinjaError("the render context must be a JSON object", 0);
  }
  return Run(program, vars);
}

std::string Interpreter::Run(const Program& program,
                             const std::vector<std::pair<std::string, const nlohmann::json*>>& vars) {
  auto global = std::make_shared<Env>(nullptr);
  for (const auto& [name, value] : vars) {
    if (IsBuiltinName(name)) throw JinjaError("context variable '" + name + "' shadows a built-in", 0);
    global->Set(name, FromJson(*value));
  }
  try {
    return EvalBlock(program.body, global);
  } catch (const BreakSignal&) {
    throw JinjaError("'break' outside a loop", 0);
  } catch (const ContinueSignal&) {
    throw JinjaError("'continue' outside a loop", 0);
  }
}

std::string Interpreter::EvalBlock(const std::vector<NodePtr>& body, const EnvPtr& env) {
  std::string out;
  ExecBlock(body, env, out);
  return out;
}

// Step and depth accounting and error positions for node `n`, around `f`.
template <class F>
auto Interpreter::Guarded(const Node& n, F&& f) {
  if (++steps_ > limits_.max_steps) throw JinjaError("evaluation step limit exceeded", n.pos);
  if (depth_ >= limits_.max_depth) throw JinjaError("evaluation nested too deeply", n.pos);
  ++depth_;
  struct Leave {
    int* d;
    ~Leave() { --*d; }
  } leave{&depth_};
  try {
    return f();
  } catch (JinjaError& e) {
    if (e.pos == kNoPos) e.pos = n.pos;
    throw;
  }
}

void Interpreter::ExecBlock(const std::vector<NodePtr>& body, const EnvPtr& env, std::string& out) {
  for (const auto& stmt : body) {
    // `if` and `for` write into the enclosing output: returning each block's text copied a long message once per
    // level of nesting.
    if (stmt->kind == NodeKind::kIf) {
      Guarded(*stmt, [&] { ExecBlock(Truthy(Eval(stmt->a.get(), env)) ? stmt->body : stmt->alt, env, out); });
      continue;
    }
    if (stmt->kind == NodeKind::kFor) {
      Guarded(*stmt, [&] { ExecFor(*stmt, env, out); });
      continue;
    }
    Value v = Eval(stmt.get(), env);
    if (v.IsNullish()) continue;
    if (v.type == Type::kString) {
      CheckSize(out.size() + v.s.size());
      if (out.empty()) {
        out = v.s.Take();
      } else {
        AppendGrowing(out, v.s.view());
      }
    } else {
      std::string s = RenderValue(v);
      CheckSize(out.size() + s.size());
      AppendGrowing(out, s);
    }
  }
}

Value Interpreter::Eval(const Node* n, const EnvPtr& env) {
  if (!n) return Value::Undefined();
  return Guarded(*n, [&] { return EvalNode(*n, env); });
}

Value Interpreter::EvalNode(const Node& n, const EnvPtr& env) {
  switch (n.kind) {
    case NodeKind::kString: return Value::String(n.str);
    case NodeKind::kInteger: return Value::Int(n.num);
    case NodeKind::kFloat: return Value::Float(n.num);
    case NodeKind::kArray:
    case NodeKind::kTuple: {
      Array items;
      for (const auto& x : n.list) items.push_back(Eval(x.get(), env));
      return Value::MakeArray(std::move(items), n.kind == NodeKind::kArray ? Type::kArray : Type::kTuple);
    }
    case NodeKind::kObject: {
      Object o;
      for (const auto& [k, v] : n.pairs) {
        Value key = Eval(k.get(), env);
        if (key.type != Type::kString) throw JinjaError(std::string("dict keys must be strings, got ") + TypeName(key), k->pos);
        o.Set(key.s, Eval(v.get(), env));
      }
      return Value::MakeObject(std::move(o));
    }
    case NodeKind::kIdentifier: {
      const Value* v = env->Find(n.str);
      return v ? *v : Builtin(n.str);
    }
    case NodeKind::kMember: return EvalMember(n, env);
    case NodeKind::kCall: return EvalCall(n, env);
    case NodeKind::kUnary: return EvalUnary(n, env);
    case NodeKind::kBinary: return EvalBinary(n, env);
    case NodeKind::kFilter: return ApplyFilter(Eval(n.a.get(), env), *n.b, env);
    case NodeKind::kTest: {
      Value operand = Eval(n.a.get(), env);
      const bool r = ApplyTest(n.str, operand, nullptr);
      return Value::Bool(n.flag ? !r : r);
    }
    case NodeKind::kSelect:
      return Truthy(Eval(n.b.get(), env)) ? Eval(n.a.get(), env) : Value::Undefined();
    case NodeKind::kTernary:
      return Truthy(Eval(n.a.get(), env)) ? Eval(n.b.get(), env) : Eval(n.c.get(), env);
    case NodeKind::kSlice:
    case NodeKind::kKeywordArg:
    case NodeKind::kSpread:
    case NodeKind::kKeywordSpread: Throw("unexpected argument syntax here");
    case NodeKind::kIf:
      return Value::String(EvalBlock(Truthy(Eval(n.a.get(), env)) ? n.body : n.alt, env));
    case NodeKind::kFor: return EvalFor(n, env);
    case NodeKind::kSet: return EvalSet(n, env);
    case NodeKind::kMacro: return DefineMacro(n, env);
    case NodeKind::kCallBlock: return EvalCallBlock(n, env);
    case NodeKind::kFilterBlock: return ApplyFilter(Value::String(EvalBlock(n.body, env)), *n.a, env);
    case NodeKind::kBreak: throw BreakSignal{};
    case NodeKind::kContinue: throw ContinueSignal{};
    case NodeKind::kComment: return Value::Null();
  }
  return Value::Undefined();
}

Value Interpreter::EvalUnary(const Node& n, const EnvPtr& env) {
  Value arg = Eval(n.a.get(), env);
  if (n.str == "not") return Value::Bool(!Truthy(arg));
  const double sign = n.str == "-" ? -1 : 1;
  if (arg.IsNumber() || arg.type == Type::kBool) {
    const double v = arg.type == Type::kBool ? (arg.b ? 1 : 0) : arg.num;
    return arg.type == Type::kFloat ? Value::Float(sign * v) : Value::Int(sign * v);
  }
  Throw("unary '" + n.str + "' is not defined for " + TypeName(arg));
}

Value Interpreter::EvalBinary(const Node& n, const EnvPtr& env) {
  const std::string& op = n.str;  // for messages; n.op decides
  const BinaryOp o = n.op;
  Value left = Eval(n.a.get(), env);
  if (o == BinaryOp::kAnd) return Truthy(left) ? Eval(n.b.get(), env) : left;
  if (o == BinaryOp::kOr) return Truthy(left) ? left : Eval(n.b.get(), env);
  Value right = Eval(n.b.get(), env);
  if (o == BinaryOp::kEq) return Value::Bool(LooseEquals(left, right));
  if (o == BinaryOp::kNe) return Value::Bool(!LooseEquals(left, right));
  const bool membership = o == BinaryOp::kIn || o == BinaryOp::kNotIn;
  const bool negated = o == BinaryOp::kNotIn;
  if (left.type == Type::kUndefined || right.type == Type::kUndefined) {
    if (right.type == Type::kUndefined && membership) return Value::Bool(negated);
    Throw("cannot apply '" + op + "' to an undefined value");
  }
  if (left.type == Type::kNull || right.type == Type::kNull) Throw("cannot apply '" + op + "' to none");
  auto concat = [&]() {
    if (left.type == Type::kString && right.type == Type::kString) {
      CheckSize(left.s.size() + right.s.size());
      std::string out = left.s.Take();  // a chain `a + b + c` keeps appending to one buffer
      AppendGrowing(out, right.s.view());
      return Value::String(std::move(out));
    }
    std::string a = JsValueString(left), b = JsValueString(right);
    CheckSize(a.size() + b.size());
    return Value::String(std::move(a.append(b)));
  };
  const auto numeric_like = [](const Value& v) { return v.IsNumber() || v.type == Type::kBool; };
  const auto num_of = [](const Value& v) { return v.type == Type::kBool ? (v.b ? 1.0 : 0.0) : v.num; };
  if (o == BinaryOp::kConcat) return concat();
  if (o == BinaryOp::kPow && numeric_like(left) && numeric_like(right)) {
    const double a = num_of(left), b = num_of(right);
    if (a == 0 && b < 0) Throw("0.0 cannot be raised to a negative power");
    // JS semantics where C's pow differs: x ** NaN and (±1) ** ±Infinity are NaN.
    const double r = (std::isnan(b) || (std::isinf(b) && std::fabs(a) == 1)) ? NAN : std::pow(a, b);
    if (!std::isfinite(r)) Throw("exponentiation result is not a finite number");
    const bool is_float = left.type == Type::kFloat || right.type == Type::kFloat || b < 0;
    return is_float ? Value::Float(r) : Value::Int(r);
  }
  if (left.IsNumber() && right.IsNumber()) {
    const double a = left.num, b = right.num;
    const bool is_float = left.type == Type::kFloat || right.type == Type::kFloat;
    auto make = [&](double r) { return is_float ? Value::Float(r) : Value::Int(r); };
    switch (o) {
      case BinaryOp::kAdd: return make(a + b);
      case BinaryOp::kSub: return make(a - b);
      case BinaryOp::kMul: return make(a * b);
      case BinaryOp::kDiv: return Value::Float(a / b);
      case BinaryOp::kFloorDiv: return make(std::floor(a / b));
      case BinaryOp::kMod: return make(std::fmod(a, b));
      case BinaryOp::kLt: return Value::Bool(a < b);
      case BinaryOp::kGt: return Value::Bool(a > b);
      case BinaryOp::kGe: return Value::Bool(a >= b);
      case BinaryOp::kLe: return Value::Bool(a <= b);
      default: break;
    }
  } else if (left.IsArray() && right.IsArray()) {
    if (o == BinaryOp::kAdd) {
      CheckArray(left.arr->size() + right.arr->size());
      Charge(left.arr->size() + right.arr->size());
      Array items = *left.arr;
      items.insert(items.end(), right.arr->begin(), right.arr->end());
      return Value::MakeArray(std::move(items));
    }
  } else if (right.IsArray()) {
    if (membership) {
      bool found = false;
      for (const Value& x : *right.arr) found = found || StrictEquals(x, left);
      return Value::Bool(found != negated);
    }
  }
  if ((left.type == Type::kString || right.type == Type::kString) && o == BinaryOp::kAdd) return concat();
  if (left.type == Type::kString && right.type == Type::kString && membership) {
    const bool found = right.s.find(left.s) != std::string::npos;
    return Value::Bool(found != negated);
  }
  if (left.type == Type::kString && right.IsObject() && membership) {
    const bool found = right.obj->Find(left.s) != nullptr;
    return Value::Bool(found != negated);
  }
  Throw("operator '" + op + "' is not defined between " + TypeName(left) + " and " + TypeName(right));
}

std::pair<std::vector<Value>, Object> Interpreter::EvalArgs(const std::vector<NodePtr>& args, const EnvPtr& env) {
  std::vector<Value> positional;
  Object kwargs;
  for (const auto& a : args) {
    if (a->kind == NodeKind::kSpread) {
      Value v = Eval(a->a.get(), env);
      if (!v.IsArray()) throw JinjaError(std::string("cannot unpack ") + TypeName(v) + " with '*'", a->pos);
      positional.insert(positional.end(), v.arr->begin(), v.arr->end());
    } else if (a->kind != NodeKind::kKeywordArg && a->kind != NodeKind::kKeywordSpread) {
      positional.push_back(Eval(a.get(), env));
    }
  }
  auto add = [&](const std::string& key, Value v, size_t pos) {
    if (kwargs.Find(key)) throw JinjaError("got multiple values for keyword argument '" + key + "'", pos);
    kwargs.items.emplace_back(key, std::move(v));
  };
  for (const auto& a : args) {
    if (a->kind == NodeKind::kKeywordArg) {
      add(a->str, Eval(a->a.get(), env), a->pos);
    } else if (a->kind == NodeKind::kKeywordSpread) {
      Value v = Eval(a->a.get(), env);
      if (!v.IsObject()) throw JinjaError(std::string("argument after '**' must be a mapping, not ") + TypeName(v), a->pos);
      for (const auto& [k, x] : v.obj->items) add(k, x, a->pos);
    }
  }
  return {std::move(positional), std::move(kwargs)};
}

Value Interpreter::Invoke(const Value& fn, std::vector<Value>& args, const EnvPtr& env) {
  if (fn.type != Type::kFunction) Throw(std::string("cannot call ") + TypeName(fn) + " (not a function)");
  return (*fn.fn)(args, env);
}

Value Interpreter::EvalCall(const Node& n, const EnvPtr& env) {
  auto [args, kwargs] = EvalArgs(n.list, env);
  if (!kwargs.items.empty()) args.push_back(Value::MakeObject(std::move(kwargs), Type::kKwargs));
  Value fn = Eval(n.a.get(), env);
  if (fn.type != Type::kFunction) {
    std::string what = n.a->kind == NodeKind::kIdentifier ? "'" + n.a->str + "'"
                       : n.a->kind == NodeKind::kMember && !n.a->flag && n.a->b->kind == NodeKind::kIdentifier
                           ? "method '" + n.a->b->str + "'"
                           : "expression";
    Throw("cannot call " + what + ": it is " + TypeName(fn) + ", not a function");
  }
  return Invoke(fn, args, env);
}

Value Interpreter::EvalMember(const Node& n, const EnvPtr& env) {
  Value object = Eval(n.a.get(), env);
  Value property;
  if (n.flag) {
    if (n.b->kind == NodeKind::kSlice) return EvalSlice(object, *n.b, env);
    property = Eval(n.b.get(), env);
  } else if (n.b->kind == NodeKind::kInteger) {
    property = Value::Int(n.b->num);
  } else {
    property = Value::String(n.b->str);
  }
  if (object.IsAttributeContainer()) {
    if (property.type != Type::kString)
      Throw(std::string("cannot index a ") + TypeName(object) + " with " + TypeName(property));
    if (const Value* v = object.obj->Find(property.s)) return *v;
    return object.IsObject() ? GetBuiltin(object, property.s, *this) : Value::Undefined();
  }
  if (object.IsArray() || object.type == Type::kString) {
    if (property.type == Type::kInt) {
      if (object.type == Type::kString) {
        std::string ch;
        return Utf16At(object.s, property.num, &ch) ? Value::String(ch) : Value::Undefined();
      }
      double k = std::trunc(property.num);
      if (std::isnan(k)) k = 0;
      const double size = static_cast<double>(object.arr->size());
      if (k < 0) k += size;
      if (k < 0 || k >= size) return Value::Undefined();
      return (*object.arr)[static_cast<size_t>(k)];
    }
    if (property.type == Type::kString) return GetBuiltin(object, property.s, *this);
    Throw(std::string("cannot index a ") + TypeName(object) + " with " + TypeName(property));
  }
  if (property.type != Type::kString)
    Throw(std::string("cannot index ") + TypeName(object) + " with " + TypeName(property));
  return GetBuiltin(object, property.s, *this);
}

Value Interpreter::EvalSlice(const Value& object, const Node& slice, const EnvPtr& env) {
  if (!(object.IsArray() || object.type == Type::kString))
    Throw(std::string("cannot slice ") + TypeName(object));
  Value parts[3] = {Eval(slice.a.get(), env), Eval(slice.b.get(), env), Eval(slice.c.get(), env)};
  for (const Value& p : parts)
    if (!(p.type == Type::kInt || p.type == Type::kUndefined)) Throw("slice indices must be integers");
  std::vector<char32_t> cps;
  const bool is_string = object.type == Type::kString;
  if (is_string) cps = ToCodePoints(object.s);
  const double len = is_string ? static_cast<double>(cps.size()) : static_cast<double>(object.arr->size());
  const bool has_start = parts[0].type == Type::kInt, has_stop = parts[1].type == Type::kInt;
  const double step = parts[2].type == Type::kInt ? parts[2].num : 1;
  const double direction = step > 0 ? 1 : step < 0 ? -1 : 0;
  double start, stop;
  if (direction >= 0) {
    start = has_start ? parts[0].num : 0;
    start = start < 0 ? std::max(len + start, 0.0) : std::min(start, len);
    stop = has_stop ? parts[1].num : len;
    stop = stop < 0 ? std::max(len + stop, 0.0) : std::min(stop, len);
  } else {
    start = has_start ? parts[0].num : len - 1;
    start = start < 0 ? std::max(len + start, -1.0) : std::min(start, len - 1);
    stop = has_stop ? parts[1].num : -1;
    stop = stop < -1 ? std::max(len + stop, -1.0) : std::min(stop, len - 1);
  }
  Array items;
  std::string out;
  for (double i = start; direction * i < direction * stop; i += step) {
    const bool valid = i >= 0 && i < len && std::trunc(i) == i;
    if (is_string) {
      if (valid) AppendUtf8(out, cps[static_cast<size_t>(i)]);
    } else {
      items.push_back(valid ? (*object.arr)[static_cast<size_t>(i)] : Value::Undefined());
    }
    if (step == 0 || std::isnan(step)) break;
  }
  if (is_string) return Value::String(std::move(out));
  return Value::MakeArray(std::move(items));
}

Value Interpreter::EvalSet(const Node& n, const EnvPtr& env) {
  Value rhs = n.b ? Eval(n.b.get(), env) : Value::String(EvalBlock(n.body, env));
  const Node& target = *n.a;
  if (target.kind == NodeKind::kIdentifier) {
    env->Set(target.str, std::move(rhs));
  } else if (target.kind == NodeKind::kTuple) {
    if (!rhs.IsArray()) Throw(std::string("cannot unpack ") + TypeName(rhs) + " in set");
    if (rhs.arr->size() != target.list.size())
      Throw(std::string("too ") + (target.list.size() > rhs.arr->size() ? "few" : "many") + " items to unpack in set");
    for (size_t i = 0; i < target.list.size(); ++i) {
      if (target.list[i]->kind != NodeKind::kIdentifier) throw JinjaError("cannot assign to this", target.list[i]->pos);
      env->Set(target.list[i]->str, (*rhs.arr)[i]);
    }
  } else if (target.kind == NodeKind::kMember) {
    Value object = Eval(target.a.get(), env);
    if (object.type != Type::kNamespace)
      throw JinjaError(std::string("cannot assign an attribute of ") + TypeName(object) + " (only of a namespace)",
                       target.pos);
    if (target.flag || target.b->kind != NodeKind::kIdentifier)
      throw JinjaError("namespace attributes are assigned with '.name'", target.pos);
    object.obj->Set(target.b->str, std::move(rhs));
  } else {
    throw JinjaError("invalid assignment target", target.pos);
  }
  return Value::Null();
}

Value Interpreter::EvalFor(const Node& n, const EnvPtr& env) {
  std::string out;
  ExecFor(n, env, out);
  return Value::String(std::move(out));
}

void Interpreter::ExecFor(const Node& n, const EnvPtr& env, std::string& out) {
  auto scope = std::make_shared<Env>(env);
  const Node* test = nullptr;
  Value iterable;
  if (n.b->kind == NodeKind::kSelect) {
    iterable = Eval(n.b->a.get(), scope);
    test = n.b->b.get();
  } else {
    iterable = Eval(n.b.get(), scope);
  }
  if (!(iterable.IsArray() || iterable.IsObject()))
    throw JinjaError(std::string("cannot iterate over ") + TypeName(iterable), n.b->pos);
  Array source;
  if (iterable.IsObject()) {
    for (const auto& [k, v] : iterable.obj->items) source.push_back(Value::String(k));
  } else {
    source = *iterable.arr;
  }
  const Node& var = *n.a;
  // Unpacking errors surface while the items are collected, before any iteration runs (as in the reference).
  auto check_unpack = [&](const Value& current) {
    if (var.kind == NodeKind::kIdentifier) return;
    if (current.type != Type::kArray) Throw(std::string("cannot unpack ") + TypeName(current) + " in a for loop");
    if (current.arr->size() != var.list.size())
      Throw(std::string("too ") + (var.list.size() > current.arr->size() ? "few" : "many") + " items to unpack");
  };
  auto bind = [&](const EnvPtr& s, const Value& current) {
    if (var.kind == NodeKind::kIdentifier) {
      s->Set(var.str, current);
      return;
    }
    for (size_t j = 0; j < var.list.size(); ++j) {
      if (var.list[j]->kind != NodeKind::kIdentifier) Throw("cannot unpack into a non-identifier");
      s->Set(var.list[j]->str, (*current.arr)[j]);
    }
  };
  Charge(source.size());
  Array items;
  for (const Value& current : source) {
    check_unpack(current);
    if (test) {
      auto loop_scope = std::make_shared<Env>(scope);
      bind(loop_scope, current);
      if (!Truthy(Eval(test, loop_scope))) continue;
    }
    items.push_back(current);
  }
  bool no_iteration = true;
  const double count = static_cast<double>(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    Charge(1);
    Object loop;
    const double di = static_cast<double>(i);
    loop.items = {{"index", Value::Int(di + 1)},
                  {"index0", Value::Int(di)},
                  {"revindex", Value::Int(count - di)},
                  {"revindex0", Value::Int(count - di - 1)},
                  {"first", Value::Bool(i == 0)},
                  {"last", Value::Bool(i + 1 == items.size())},
                  {"length", Value::Int(count)},
                  {"previtem", i > 0 ? items[i - 1] : Value::Undefined()},
                  {"nextitem", i + 1 < items.size() ? items[i + 1] : Value::Undefined()}};
    scope->Set("loop", Value::MakeObject(std::move(loop)));
    bind(scope, items[i]);
    // As in the reference, an iteration left by `continue` or `break` contributes no output.
    const size_t iteration_start = out.size();
    try {
      ExecBlock(n.body, scope, out);
    } catch (const ContinueSignal&) {
      out.resize(iteration_start);
      continue;
    } catch (const BreakSignal&) {
      out.resize(iteration_start);
      break;
    }
    no_iteration = false;
  }
  if (no_iteration) ExecBlock(n.alt, scope, out);
}

void Interpreter::BindMacroArgs(const std::string& name, const std::vector<NodePtr>& params, bool uses_kwargs,
                                bool uses_varargs, std::vector<Value> args, const EnvPtr& scope) {
  Object kwargs;
  if (!args.empty() && args.back().type == Type::kKwargs) {
    kwargs = *args.back().obj;
    args.pop_back();
  }
  std::vector<std::pair<std::string, const Node*>> pending;
  for (size_t i = 0; i < params.size(); ++i) {
    const Node& p = *params[i];
    const Node* default_value = p.kind == NodeKind::kKeywordArg ? p.a.get() : nullptr;
    bool have = i < args.size();
    Value v = have ? args[i] : Value::Undefined();
    if (!have) {
      if (const Value* kw = kwargs.Find(p.str)) {
        v = *kw;
        have = true;
        kwargs.Erase(p.str);
      }
    }
    if (!have && default_value) pending.emplace_back(p.str, default_value);
    scope->Set(p.str, v);
  }
  if (uses_kwargs) {
    scope->Set("kwargs", Value::MakeObject(kwargs));
  } else if (!kwargs.items.empty()) {
    Throw("macro " + name + " takes no keyword argument '" + kwargs.items.front().first + "'");
  }
  if (uses_varargs) {
    Array rest;
    for (size_t i = params.size(); i < args.size(); ++i) rest.push_back(args[i]);
    scope->Set("varargs", Value::MakeArray(std::move(rest)));
  } else if (args.size() > params.size()) {
    Throw("macro " + name + " takes not more than " + std::to_string(params.size()) + " argument(s)");
  }
  for (const auto& [pname, def] : pending) scope->Set(pname, Eval(def, scope));
}

Value Interpreter::DefineMacro(const Node& n, const EnvPtr& env) {
  const Node* node = &n;
  env->Set(n.str, Value::MakeFunction([this, node](std::vector<Value>& args, const EnvPtr& scope) {
    if (macro_depth_ >= limits_.max_macro_depth) Throw("macro recursion too deep in '" + node->str + "'");
    ++macro_depth_;
    struct Leave {
      int* d;
      ~Leave() { --*d; }
    } leave{&macro_depth_};
    auto macro_scope = std::make_shared<Env>(scope);
    BindMacroArgs("'" + node->str + "'", node->list, node->flag, node->flag2, args, macro_scope);
    return Value::String(EvalBlock(node->body, macro_scope));
  }));
  return Value::Null();
}

Value Interpreter::EvalCallBlock(const Node& n, const EnvPtr& env) {
  const Node* node = &n;
  EnvPtr defining = env;
  Value caller = Value::MakeFunction([this, node, defining](std::vector<Value>& args, const EnvPtr&) {
    if (macro_depth_ >= limits_.max_macro_depth) Throw("caller recursion too deep");
    ++macro_depth_;
    struct Leave {
      int* d;
      ~Leave() { --*d; }
    } leave{&macro_depth_};
    auto block_env = std::make_shared<Env>(defining);
    BindMacroArgs("None", node->list, node->flag, node->flag2, args, block_env);
    return Value::String(EvalBlock(node->body, block_env));
  });
  const Node& call = *n.a;
  auto [args, kwargs] = EvalArgs(call.list, env);
  args.push_back(Value::MakeObject(std::move(kwargs), Type::kKwargs));
  Value fn = Eval(call.a.get(), env);
  if (fn.type != Type::kFunction) throw JinjaError("cannot call '" + call.a->str + "': not a macro", call.pos);
  auto call_env = std::make_shared<Env>(env);
  call_env->Set("caller", caller);
  return Invoke(fn, args, call_env);
}

}  // namespace distill::tok::jinja
