#include "tokenizers/jinja/parser.h"

#include <algorithm>
#include <cstdlib>
#include <initializer_list>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tokenizers/jinja/lexer.h"

namespace distill::tok::jinja {
namespace {

constexpr int kMaxNesting = 200;  // bounds parser (and later evaluator) recursion on hostile input

NodePtr MakeNode(NodeKind kind, size_t pos) {
  auto n = std::make_unique<Node>();
  n->kind = kind;
  n->pos = pos;
  return n;
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, size_t source_size) : t_(std::move(tokens)), end_pos_(source_size) {}

  std::unique_ptr<Program> Run() {
    auto program = std::make_unique<Program>();
    while (cur_ < t_.size()) program->body.push_back(ParseAny());
    return program;
  }

 private:
  struct DepthGuard {
    explicit DepthGuard(Parser* p) : p(p) {
      if (++p->depth_ > kMaxNesting) p->Fail("template nested too deeply");
    }
    ~DepthGuard() { --p->depth_; }
    Parser* p;
  };

  // Left-associative loops build trees without recursing here; each link counts as one level of nesting
  // (released when the loop ends) so that evaluating and destroying the tree cannot overflow the stack.
  struct ChainGuard {
    explicit ChainGuard(Parser* p) : p(p) {}
    void Add() {
      ++links;
      if (++p->depth_ > kMaxNesting) p->Fail("template nested too deeply (too many chained operations)");
    }
    ~ChainGuard() { p->depth_ -= links; }
    Parser* p;
    int links = 0;
  };

  size_t Pos() const { return cur_ < t_.size() ? t_[cur_].pos : end_pos_; }
  [[noreturn]] void Fail(const std::string& msg) const { throw JinjaError(msg, Pos()); }
  [[noreturn]] void FailAt(const std::string& msg, size_t pos) const { throw JinjaError(msg, pos); }
  const Token& Peek() const {
    if (cur_ >= t_.size()) Fail("unexpected end of template");
    return t_[cur_];
  }
  bool Is(TokenType t) const { return cur_ < t_.size() && t_[cur_].type == t; }
  bool Is2(TokenType a, TokenType b) const { return cur_ + 1 < t_.size() && t_[cur_].type == a && t_[cur_ + 1].type == b; }
  bool IsIdent(std::string_view name, size_t ahead = 0) const {
    return cur_ + ahead < t_.size() && t_[cur_ + ahead].type == TokenType::kIdentifier && t_[cur_ + ahead].value == name;
  }
  bool IsStatement(std::initializer_list<std::string_view> names) const {
    if (!(cur_ + 1 < t_.size() && t_[cur_].type == TokenType::kOpenStatement &&
          t_[cur_ + 1].type == TokenType::kIdentifier))
      return false;
    return std::find(names.begin(), names.end(), t_[cur_ + 1].value) != names.end();
  }
  const Token& Expect(TokenType type, const char* what) {
    if (cur_ >= t_.size()) Fail(std::string("expected ") + what + ", got end of template");
    const Token& tok = t_[cur_];
    if (tok.type != type) Fail(std::string("expected ") + what + ", got " + TokenName(tok.type));
    ++cur_;
    return tok;
  }
  void ExpectIdent(std::string_view name) {
    if (!IsIdent(name)) Fail("expected '" + std::string(name) + "'");
    ++cur_;
  }
  // Body of a block until one of `enders` (as `{% ender`), which stays unconsumed.
  std::vector<NodePtr> Block(std::initializer_list<std::string_view> enders, const char* block, size_t open_pos) {
    std::vector<NodePtr> body;
    while (!IsStatement(enders)) {
      if (cur_ >= t_.size()) FailAt(std::string("unclosed '") + block + "' block (missing '{% end" + block + " %}')", open_pos);
      body.push_back(ParseAny());
    }
    return body;
  }
  void ExpectEnd(const char* block) {
    Expect(TokenType::kOpenStatement, "'{%'");
    ExpectIdent(std::string("end") + block);
    Expect(TokenType::kCloseStatement, "'%}'");
  }

  NodePtr ParseAny() {
    DepthGuard guard(this);
    const Token& tok = Peek();
    switch (tok.type) {
      case TokenType::kComment: {
        auto n = MakeNode(NodeKind::kComment, tok.pos);
        ++cur_;
        return n;
      }
      case TokenType::kText: {
        auto n = MakeNode(NodeKind::kString, tok.pos);
        n->str = tok.value;
        ++cur_;
        return n;
      }
      case TokenType::kOpenStatement:
        return ParseStatement();
      case TokenType::kOpenExpression: {
        ++cur_;
        auto n = ParseExpression();
        Expect(TokenType::kCloseExpression, "'}}'");
        return n;
      }
      default:
        Fail(std::string("unexpected ") + TokenName(tok.type));
    }
  }

  NodePtr ParseStatement() {
    const size_t open = Peek().pos;
    ++cur_;
    const Token& name_tok = Peek();
    if (name_tok.type != TokenType::kIdentifier) Fail("expected a statement name after '{%'");
    const std::string name = name_tok.value;
    const size_t pos = name_tok.pos;
    ++cur_;
    if (name == "set") return ParseSet(pos);
    if (name == "if") {
      auto n = ParseIf(pos, open);
      ExpectEnd("if");
      return n;
    }
    if (name == "for") {
      auto n = ParseFor(pos, open);
      ExpectEnd("for");
      return n;
    }
    if (name == "macro") {
      auto n = MakeNode(NodeKind::kMacro, pos);
      auto id = ParsePrimary();
      if (id->kind != NodeKind::kIdentifier) FailAt("expected a macro name", id->pos);
      n->str = id->str;
      n->list = ParseArgs(true);
      Expect(TokenType::kCloseStatement, "'%}'");
      n->body = Block({"endmacro"}, "macro", open);
      ExpectEnd("macro");
      for (const auto& s : n->body) ScanSpecialArgs(s.get(), &n->flag, &n->flag2);
      return n;
    }
    if (name == "call") {
      auto n = MakeNode(NodeKind::kCallBlock, pos);
      if (Is(TokenType::kOpenParen)) n->list = ParseArgs(true);
      auto callee = ParsePrimary();
      if (callee->kind != NodeKind::kIdentifier) FailAt("expected a macro name after 'call'", callee->pos);
      auto call = MakeNode(NodeKind::kCall, callee->pos);
      call->a = std::move(callee);
      call->list = ParseArgs(false);
      n->a = std::move(call);
      Expect(TokenType::kCloseStatement, "'%}'");
      n->body = Block({"endcall"}, "call", open);
      ExpectEnd("call");
      for (const auto& s : n->body) ScanSpecialArgs(s.get(), &n->flag, &n->flag2);
      return n;
    }
    if (name == "break" || name == "continue") {
      Expect(TokenType::kCloseStatement, "'%}'");
      return MakeNode(name == "break" ? NodeKind::kBreak : NodeKind::kContinue, pos);
    }
    if (name == "filter") {
      auto n = MakeNode(NodeKind::kFilterBlock, pos);
      n->a = ParseFilterRef();
      Expect(TokenType::kCloseStatement, "'%}'");
      n->body = Block({"endfilter"}, "filter", open);
      ExpectEnd("filter");
      return n;
    }
    static const std::set<std::string, std::less<>> kEnders = {"endif", "endfor", "endset", "endmacro", "endcall",
                                                               "endfilter", "elif", "else"};
    if (kEnders.count(name)) FailAt("unexpected '" + name + "' (no open block to close)", pos);
    FailAt("unsupported statement '" + name + "'", pos);
  }

  NodePtr ParseSet(size_t pos) {
    auto n = MakeNode(NodeKind::kSet, pos);
    n->a = ParseExpressionSequence(false);
    if (Is(TokenType::kEquals)) {
      ++cur_;
      n->b = ParseExpressionSequence(false);
    } else {
      Expect(TokenType::kCloseStatement, "'%}' or '='");
      n->body = Block({"endset"}, "set", pos);
      Expect(TokenType::kOpenStatement, "'{%'");
      ExpectIdent("endset");
    }
    Expect(TokenType::kCloseStatement, "'%}'");
    return n;
  }

  NodePtr ParseIf(size_t pos, size_t open) {
    DepthGuard guard(this);
    auto n = MakeNode(NodeKind::kIf, pos);
    n->a = ParseExpression();
    Expect(TokenType::kCloseStatement, "'%}'");
    n->body = Block({"elif", "else", "endif"}, "if", open);
    if (IsStatement({"elif"})) {
      const size_t elif_open = t_[cur_].pos;
      const size_t elif_pos = t_[cur_ + 1].pos;
      cur_ += 2;
      n->alt.push_back(ParseIf(elif_pos, elif_open));
    } else if (IsStatement({"else"})) {
      cur_ += 2;
      Expect(TokenType::kCloseStatement, "'%}'");
      n->alt = Block({"endif"}, "if", open);
    }
    return n;
  }

  NodePtr ParseFor(size_t pos, size_t open) {
    auto n = MakeNode(NodeKind::kFor, pos);
    n->a = ParseExpressionSequence(true);
    if (n->a->kind != NodeKind::kIdentifier && n->a->kind != NodeKind::kTuple)
      FailAt("expected a loop variable or tuple", n->a->pos);
    if (!IsIdent("in")) Fail("expected 'in' after the loop variable");
    ++cur_;
    n->b = ParseExpression();
    Expect(TokenType::kCloseStatement, "'%}'");
    n->body = Block({"endfor", "else"}, "for", open);
    if (IsStatement({"else"})) {
      cur_ += 2;
      Expect(TokenType::kCloseStatement, "'%}'");
      n->alt = Block({"endfor"}, "for", open);
    }
    return n;
  }

  NodePtr ParseExpressionSequence(bool primary) {
    const size_t pos = Pos();
    NodePtr first = primary ? ParsePrimary() : ParseExpression();
    if (!Is(TokenType::kComma)) return first;
    auto tuple = MakeNode(NodeKind::kTuple, pos);
    tuple->list.push_back(std::move(first));
    while (true) {
      ++cur_;
      tuple->list.push_back(primary ? ParsePrimary() : ParseExpression());
      if (!Is(TokenType::kComma)) break;
    }
    return tuple;
  }

  NodePtr ParseExpression() {
    DepthGuard guard(this);
    auto a = ParseOr();
    if (IsIdent("if")) {
      const size_t pos = Pos();
      ++cur_;
      auto test = ParseOr();
      if (IsIdent("else")) {
        ++cur_;
        auto n = MakeNode(NodeKind::kTernary, pos);
        n->a = std::move(test);
        n->b = std::move(a);
        n->c = ParseExpression();
        return n;
      }
      auto n = MakeNode(NodeKind::kSelect, pos);
      n->a = std::move(a);
      n->b = std::move(test);
      return n;
    }
    return a;
  }

  NodePtr Binary(std::string op, size_t pos, NodePtr l, NodePtr r) {
    auto n = MakeNode(NodeKind::kBinary, pos);
    n->op = BinaryOpOf(op);
    n->str = std::move(op);
    n->a = std::move(l);
    n->b = std::move(r);
    return n;
  }

  NodePtr ParseOr() {
    auto left = ParseAnd();
    ChainGuard links(this);
    while (IsIdent("or")) {
      links.Add();
      const size_t pos = Pos();
      ++cur_;
      left = Binary("or", pos, std::move(left), ParseAnd());
    }
    return left;
  }
  NodePtr ParseAnd() {
    auto left = ParseNot();
    ChainGuard links(this);
    while (IsIdent("and")) {
      links.Add();
      const size_t pos = Pos();
      ++cur_;
      left = Binary("and", pos, std::move(left), ParseNot());
    }
    return left;
  }
  NodePtr ParseNot() {
    DepthGuard guard(this);
    NodePtr right;
    while (IsIdent("not")) {
      auto n = MakeNode(NodeKind::kUnary, Pos());
      n->str = "not";
      ++cur_;
      n->a = ParseNot();
      right = std::move(n);
    }
    return right ? std::move(right) : ParseComparison();
  }
  NodePtr ParseComparison() {
    auto left = ParseAdditive();
    ChainGuard links(this);
    while (true) {
      links.Add();
      const size_t pos = Pos();
      std::string op;
      if (IsIdent("not") && IsIdent("in", 1)) {
        op = "not in";
        cur_ += 2;
      } else if (IsIdent("in")) {
        op = "in";
        ++cur_;
      } else if (Is(TokenType::kComparison)) {
        op = t_[cur_++].value;
      } else {
        break;
      }
      left = Binary(op, pos, std::move(left), ParseAdditive());
    }
    return left;
  }
  NodePtr ParseAdditive() {
    auto left = ParseMultiplicative();
    ChainGuard links(this);
    while (Is(TokenType::kAdditive)) {
      links.Add();
      const Token& op = t_[cur_++];
      left = Binary(op.value, op.pos, std::move(left), ParseMultiplicative());
    }
    return left;
  }
  NodePtr ParseMultiplicative() {
    auto left = ParsePower();
    ChainGuard links(this);
    while (Is(TokenType::kMultiplicative)) {
      links.Add();
      const Token& op = t_[cur_++];
      left = Binary(op.value, op.pos, std::move(left), ParsePower());
    }
    return left;
  }
  NodePtr ParsePower() {
    auto left = ParseTest();
    ChainGuard links(this);
    while (Is(TokenType::kPower)) {
      links.Add();
      const Token& op = t_[cur_++];
      left = Binary(op.value, op.pos, std::move(left), ParseTest());
    }
    return left;
  }
  NodePtr ParseTest() {
    auto operand = ParseFilter();
    ChainGuard links(this);
    while (IsIdent("is")) {
      links.Add();
      auto n = MakeNode(NodeKind::kTest, Pos());
      ++cur_;
      if (IsIdent("not")) {
        n->flag = true;
        ++cur_;
      }
      auto test = ParsePrimary();
      if (test->kind != NodeKind::kIdentifier) FailAt("expected a test name after 'is'", test->pos);
      if (!IsKnownTest(test->str)) FailAt("unsupported test '" + test->str + "'", test->pos);
      n->str = test->str;
      n->a = std::move(operand);
      operand = std::move(n);
    }
    return operand;
  }
  // A filter reference: a name, optionally called with arguments.
  NodePtr ParseFilterRef() {
    auto filter = ParsePrimary();
    if (filter->kind != NodeKind::kIdentifier) FailAt("expected a filter name", filter->pos);
    if (!IsKnownFilter(filter->str)) FailAt("unsupported filter '" + filter->str + "'", filter->pos);
    if (Is(TokenType::kOpenParen)) filter = ParseCall(std::move(filter));
    return filter;
  }
  NodePtr ParseFilter() {
    auto operand = ParseUnarySign();
    ChainGuard links(this);
    while (Is(TokenType::kPipe)) {
      links.Add();
      auto n = MakeNode(NodeKind::kFilter, Pos());
      ++cur_;
      n->b = ParseFilterRef();
      n->a = std::move(operand);
      operand = std::move(n);
    }
    return operand;
  }
  NodePtr ParseUnarySign() {
    DepthGuard guard(this);
    if (cur_ < t_.size() && (t_[cur_].type == TokenType::kUnary || t_[cur_].type == TokenType::kAdditive) &&
        (t_[cur_].value == "-" || t_[cur_].value == "+")) {
      auto n = MakeNode(NodeKind::kUnary, t_[cur_].pos);
      n->str = t_[cur_++].value;
      n->a = ParseUnarySign();
      return n;
    }
    auto member = ParseMember(ParsePrimary());
    if (Is(TokenType::kOpenParen)) return ParseCall(std::move(member));
    return member;
  }
  NodePtr ParseCall(NodePtr callee) {
    DepthGuard guard(this);
    auto n = MakeNode(NodeKind::kCall, callee->pos);
    n->a = std::move(callee);
    n->list = ParseArgs(false);
    NodePtr e = ParseMember(std::move(n));
    if (Is(TokenType::kOpenParen)) e = ParseCall(std::move(e));
    return e;
  }
  std::vector<NodePtr> ParseArgs(bool parameters) {
    Expect(TokenType::kOpenParen, "'('");
    std::vector<NodePtr> args;
    std::set<std::string> names;
    bool saw_keyword = false, saw_spread = false;
    while (!Is(TokenType::kCloseParen)) {
      if (cur_ >= t_.size()) Fail("unclosed '(' (expected ')')");
      const size_t pos = Pos();
      const bool kw_spread = Is(TokenType::kPower);
      const bool spread = Is(TokenType::kMultiplicative) && t_[cur_].value == "*";
      if (parameters && (kw_spread || spread)) Fail("argument unpacking is not allowed in parameters");
      if (kw_spread) {
        ++cur_;
        auto n = MakeNode(NodeKind::kKeywordSpread, pos);
        n->a = ParseExpression();
        args.push_back(std::move(n));
        if (Is(TokenType::kComma)) ++cur_;
        if (!Is(TokenType::kCloseParen)) Fail("'**' must be applied to the final argument");
        break;
      }
      NodePtr arg;
      if (spread) {
        if (saw_spread) Fail("only one '*' unpacking is allowed");
        saw_spread = true;
        ++cur_;
        arg = MakeNode(NodeKind::kSpread, pos);
        arg->a = ParseExpression();
      } else {
        arg = ParseExpression();
        if (Is(TokenType::kEquals)) {
          ++cur_;
          if (arg->kind != NodeKind::kIdentifier) FailAt("expected an identifier before '='", arg->pos);
          auto kw = MakeNode(NodeKind::kKeywordArg, arg->pos);
          kw->str = arg->str;
          kw->a = ParseExpression();
          arg = std::move(kw);
        }
        if (parameters) {
          if (arg->kind != NodeKind::kIdentifier && arg->kind != NodeKind::kKeywordArg)
            FailAt("expected a parameter name", arg->pos);
          if (!names.insert(arg->str).second) FailAt("duplicate parameter '" + arg->str + "'", arg->pos);
        }
        if (arg->kind == NodeKind::kKeywordArg) {
          saw_keyword = true;
        } else if (saw_keyword) {
          FailAt(parameters ? "non-default parameter follows default parameter"
                            : "positional argument follows keyword argument",
                 arg->pos);
        } else if (saw_spread) {
          FailAt("positional argument follows '*' unpacking", arg->pos);
        }
      }
      args.push_back(std::move(arg));
      if (Is(TokenType::kComma)) ++cur_;
    }
    Expect(TokenType::kCloseParen, "')'");
    return args;
  }
  NodePtr ParseSubscript(size_t pos) {
    std::vector<NodePtr> parts;
    bool slice = false;
    while (!Is(TokenType::kCloseBracket)) {
      if (cur_ >= t_.size()) Fail("unclosed '[' (expected ']')");
      if (Is(TokenType::kColon)) {
        parts.push_back(nullptr);
        ++cur_;
        slice = true;
      } else {
        parts.push_back(ParseExpression());
        if (Is(TokenType::kColon)) {
          ++cur_;
          slice = true;
        }
      }
    }
    if (parts.empty()) FailAt("empty subscript '[]'", pos);
    if (!slice) return std::move(parts[0]);
    if (parts.size() > 3) FailAt("a slice takes at most 3 parts", pos);
    auto n = MakeNode(NodeKind::kSlice, pos);
    parts.resize(3);
    n->a = std::move(parts[0]);
    n->b = std::move(parts[1]);
    n->c = std::move(parts[2]);
    return n;
  }
  NodePtr ParseMember(NodePtr object) {
    ChainGuard links(this);
    while (Is(TokenType::kDot) || Is(TokenType::kOpenBracket)) {
      links.Add();
      DepthGuard guard(this);
      const Token& op = t_[cur_++];
      auto n = MakeNode(NodeKind::kMember, object->pos);
      n->flag = op.type == TokenType::kOpenBracket;
      if (n->flag) {
        n->b = ParseSubscript(op.pos);
        Expect(TokenType::kCloseBracket, "']'");
      } else {
        n->b = ParsePrimary();
        if (n->b->kind != NodeKind::kIdentifier && n->b->kind != NodeKind::kInteger)
          FailAt("expected an attribute name or integer after '.'", n->b->pos);
      }
      n->a = std::move(object);
      object = std::move(n);
    }
    return object;
  }
  NodePtr ParsePrimary() {
    DepthGuard guard(this);
    if (cur_ >= t_.size()) Fail("unexpected end of template (expected an expression)");
    const Token& tok = t_[cur_++];
    switch (tok.type) {
      case TokenType::kNumber: {
        const bool is_float = tok.value.find('.') != std::string::npos;
        auto n = MakeNode(is_float ? NodeKind::kFloat : NodeKind::kInteger, tok.pos);
        n->num = std::strtod(tok.value.c_str(), nullptr);
        return n;
      }
      case TokenType::kString: {
        auto n = MakeNode(NodeKind::kString, tok.pos);
        n->str = tok.value;
        while (Is(TokenType::kString)) n->str += t_[cur_++].value;
        return n;
      }
      case TokenType::kIdentifier: {
        auto n = MakeNode(NodeKind::kIdentifier, tok.pos);
        n->str = tok.value;
        return n;
      }
      case TokenType::kOpenParen: {
        auto e = ParseExpressionSequence(false);
        Expect(TokenType::kCloseParen, "')'");
        return e;
      }
      case TokenType::kOpenBracket: {
        auto n = MakeNode(NodeKind::kArray, tok.pos);
        while (!Is(TokenType::kCloseBracket)) {
          if (cur_ >= t_.size()) FailAt("unclosed '['", tok.pos);
          n->list.push_back(ParseExpression());
          if (Is(TokenType::kComma)) ++cur_;
        }
        ++cur_;
        return n;
      }
      case TokenType::kOpenBrace: {
        auto n = MakeNode(NodeKind::kObject, tok.pos);
        while (!Is(TokenType::kCloseBrace)) {
          if (cur_ >= t_.size()) FailAt("unclosed '{'", tok.pos);
          auto key = ParseExpression();
          Expect(TokenType::kColon, "':' in a dict literal");
          auto value = ParseExpression();
          n->pairs.emplace_back(std::move(key), std::move(value));
          if (Is(TokenType::kComma)) ++cur_;
        }
        ++cur_;
        return n;
      }
      default:
        FailAt(std::string("unexpected ") + TokenName(tok.type), tok.pos);
    }
  }

  std::vector<Token> t_;
  size_t end_pos_;
  size_t cur_ = 0;
  int depth_ = 0;
};

}  // namespace

std::unique_ptr<Program> Parse(std::string_view source) {
  return Parser(Tokenize(source), source.size()).Run();
}

}  // namespace distill::tok::jinja
