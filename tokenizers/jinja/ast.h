// Syntax tree of a parsed template, shaped like @huggingface/jinja's AST, and the error type the lexer, parser
// and interpreter throw internally (converted to absl::Status at the ChatTemplate boundary).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace distill::tok::jinja {

// An error at a byte offset of the original template source (npos: not yet known; the innermost evaluating
// node fills it in).
struct JinjaError : std::runtime_error {
  JinjaError(std::string message, size_t offset) : std::runtime_error(std::move(message)), pos(offset) {}
  size_t pos;
};

enum class NodeKind {
  // Expressions.
  kString,    // str (also template text)
  kInteger,   // num
  kFloat,     // num
  kArray,     // list
  kTuple,     // list
  kObject,    // pairs
  kIdentifier,  // str
  kMember,    // a = object, b = property, flag = computed ([...])
  kCall,      // a = callee, list = arguments
  kUnary,     // str = operator, a
  kBinary,    // str = operator, a, b
  kFilter,    // a = operand, b = filter (identifier or call)
  kTest,      // a = operand, str = test name, flag = negated
  kSelect,    // a = value, b = condition (`x if c` without else)
  kTernary,   // a = condition, b = if true, c = if false
  kSlice,     // a, b, c = start, stop, step (each may be null)
  kKeywordArg,  // str = name, a = value
  kSpread,      // a (*x)
  kKeywordSpread,  // a (**x)
  // Statements.
  kIf,        // a = test, body, alt
  kFor,       // a = loop variable(s), b = iterable, body, alt (else block)
  kSet,       // a = target, b = value (null: body is the value)
  kMacro,     // str = name, list = parameters, body; flag = uses kwargs, flag2 = uses varargs
  kCallBlock,  // a = call expression, list = caller parameters, body; flag = uses kwargs, flag2 = uses varargs
  kFilterBlock,  // a = filter, body
  kBreak,
  kContinue,
  kComment,
};

// A binary operator, resolved once by the parser so evaluation does not compare operator strings.
enum class BinaryOp : uint8_t { kOther, kAnd, kOr, kEq, kNe, kIn, kNotIn, kConcat, kPow, kAdd, kSub, kMul, kDiv,
                                kFloorDiv, kMod, kLt, kGt, kGe, kLe };
BinaryOp BinaryOpOf(std::string_view text);

struct Node;
using NodePtr = std::unique_ptr<Node>;

struct Node {
  NodeKind kind;
  size_t pos = 0;  // byte offset in the original source
  std::string str;
  double num = 0;
  bool flag = false;
  bool flag2 = false;
  BinaryOp op = BinaryOp::kOther;  // kBinary: str resolved
  NodePtr a, b, c;
  std::vector<NodePtr> list, body, alt;
  std::vector<std::pair<NodePtr, NodePtr>> pairs;
};

struct Program {
  std::vector<NodePtr> body;
};

}  // namespace distill::tok::jinja
