// Name tables and small AST helpers for the parser: the supported filters and tests, token names for
// messages, and the scan for `kwargs`/`varargs` use in macro bodies.
#include <algorithm>
#include <iterator>

#include "tokenizers/jinja/parser.h"

namespace distill::tok::jinja {
namespace {

constexpr std::string_view kFilters[] = {
    "safe", "tojson", "list", "first", "last", "length", "reverse", "sort", "join", "string", "unique", "upper",
    "lower", "title", "capitalize", "trim", "indent", "int", "float", "abs", "items", "bool", "default",
    "selectattr", "rejectattr", "map", "replace", "get", "keys", "values", "dictsort"};
constexpr std::string_view kTests[] = {"boolean", "callable", "odd", "even", "false", "true", "none", "string",
                                       "number", "integer", "iterable", "mapping", "sequence", "lower", "upper",
                                       "defined", "undefined", "equalto", "eq"};

}  // namespace

BinaryOp BinaryOpOf(std::string_view text) {
  static constexpr std::pair<std::string_view, BinaryOp> kOps[] = {
      {"and", BinaryOp::kAnd},  {"or", BinaryOp::kOr},   {"==", BinaryOp::kEq},      {"!=", BinaryOp::kNe},
      {"in", BinaryOp::kIn},    {"not in", BinaryOp::kNotIn}, {"~", BinaryOp::kConcat}, {"**", BinaryOp::kPow},
      {"+", BinaryOp::kAdd},    {"-", BinaryOp::kSub},   {"*", BinaryOp::kMul},      {"/", BinaryOp::kDiv},
      {"//", BinaryOp::kFloorDiv}, {"%", BinaryOp::kMod}, {"<", BinaryOp::kLt},      {">", BinaryOp::kGt},
      {">=", BinaryOp::kGe},    {"<=", BinaryOp::kLe}};
  for (const auto& [name, op] : kOps)
    if (name == text) return op;
  return BinaryOp::kOther;
}

const char* TokenName(TokenType t) {
  switch (t) {
    case TokenType::kText: return "text";
    case TokenType::kNumber: return "number";
    case TokenType::kString: return "string";
    case TokenType::kIdentifier: return "identifier";
    case TokenType::kEquals: return "'='";
    case TokenType::kOpenParen: return "'('";
    case TokenType::kCloseParen: return "')'";
    case TokenType::kOpenStatement: return "'{%'";
    case TokenType::kCloseStatement: return "'%}'";
    case TokenType::kOpenExpression: return "'{{'";
    case TokenType::kCloseExpression: return "'}}'";
    case TokenType::kOpenBracket: return "'['";
    case TokenType::kCloseBracket: return "']'";
    case TokenType::kOpenBrace: return "'{'";
    case TokenType::kCloseBrace: return "'}'";
    case TokenType::kComma: return "','";
    case TokenType::kDot: return "'.'";
    case TokenType::kColon: return "':'";
    case TokenType::kPipe: return "'|'";
    case TokenType::kAdditive:
    case TokenType::kMultiplicative:
    case TokenType::kPower:
    case TokenType::kComparison:
    case TokenType::kUnary: return "operator";
    case TokenType::kComment: return "comment";
  }
  return "token";
}

void ScanSpecialArgs(const Node* n, bool* kwargs, bool* varargs) {
  if (!n) return;
  if (n->kind == NodeKind::kIdentifier) {
    if (n->str == "kwargs") *kwargs = true;
    if (n->str == "varargs") *varargs = true;
  }
  ScanSpecialArgs(n->a.get(), kwargs, varargs);
  ScanSpecialArgs(n->b.get(), kwargs, varargs);
  ScanSpecialArgs(n->c.get(), kwargs, varargs);
  for (const auto* v : {&n->list, &n->body, &n->alt})
    for (const auto& x : *v) ScanSpecialArgs(x.get(), kwargs, varargs);
  for (const auto& [k, v] : n->pairs) {
    ScanSpecialArgs(k.get(), kwargs, varargs);
    ScanSpecialArgs(v.get(), kwargs, varargs);
  }
}

bool IsKnownFilter(std::string_view name) {
  return std::find(std::begin(kFilters), std::end(kFilters), name) != std::end(kFilters);
}
bool IsKnownTest(std::string_view name) {
  return std::find(std::begin(kTests), std::end(kTests), name) != std::end(kTests);
}

}  // namespace distill::tok::jinja
