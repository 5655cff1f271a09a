// Compile and render errors: InvalidArgument, prefixed by the origin, naming the construct and its line:column.
#include <string>

#include "gtest/gtest.h"
#include "tokenizers/chat_template.h"

namespace distill::tok {
namespace {

std::string CompileError(const std::string& source) {
  auto t = ChatTemplate::Compile(source, "tokenizer_config.json:chat_template");
  if (t.ok()) return "compiled";
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(t.status().message());
}

std::string RenderError(const std::string& source, const nlohmann::json& ctx = nlohmann::json::object()) {
  auto t = ChatTemplate::Compile(source, "t");
  if (!t.ok()) return "compile: " + std::string(t.status().message());
  auto out = t->Render(ctx);
  if (out.ok()) return "rendered: " + *out;
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(out.status().message());
}

// Property: constructs outside the subset are rejected at compile time with origin, line:column and name.
TEST(JinjaErrorsTest, UnsupportedConstructs) {
  EXPECT_EQ(CompileError("line one\n{{ x | wordwrap(3) }}"),
            "tokenizer_config.json:chat_template:2:8: unsupported filter 'wordwrap'");
  EXPECT_EQ(CompileError("{% include 'other.jinja' %}"),
            "tokenizer_config.json:chat_template:1:4: unsupported statement 'include'");
  EXPECT_EQ(CompileError("a\n  {% if x is divisibleby %}{% endif %}"),
            "tokenizer_config.json:chat_template:2:14: unsupported test 'divisibleby'");
  EXPECT_EQ(CompileError("{% raw %}x{% endraw %}"), "tokenizer_config.json:chat_template:1:4: unsupported statement 'raw'");
}

// Property: unclosed blocks name the block and point at its opening tag.
TEST(JinjaErrorsTest, UnclosedBlocks) {
  EXPECT_EQ(CompileError("ok\n{% for m in messages %}{{ m }}"),
            "tokenizer_config.json:chat_template:2:1: unclosed 'for' block (missing '{% endfor %}')");
  EXPECT_EQ(CompileError("{% if a %}x{% else %}y"),
            "tokenizer_config.json:chat_template:1:1: unclosed 'if' block (missing '{% endif %}')");
  EXPECT_EQ(CompileError("{% macro m() %}x"),
            "tokenizer_config.json:chat_template:1:1: unclosed 'macro' block (missing '{% endmacro %}')");
  EXPECT_EQ(CompileError("x {% endif %}"),
            "tokenizer_config.json:chat_template:1:6: unexpected 'endif' (no open block to close)");
}

// Property: syntax errors point at the offending token.
TEST(JinjaErrorsTest, SyntaxErrors) {
  EXPECT_EQ(CompileError("{{ 'unterminated }}"), "tokenizer_config.json:chat_template:1:4: unterminated string literal");
  EXPECT_EQ(CompileError("a\nb {{ x + }}"), "tokenizer_config.json:chat_template:2:10: unexpected '}}'");
  EXPECT_EQ(CompileError("{{ x ; }}"), "tokenizer_config.json:chat_template:1:6: unexpected character ';'");
  EXPECT_EQ(CompileError("{{ (1, 2 }}"), "tokenizer_config.json:chat_template:1:10: expected ')', got '}}'");
  EXPECT_EQ(CompileError("{{ x"), "tokenizer_config.json:chat_template:1:5: unexpected end of template");
  EXPECT_EQ(CompileError("{# never closed"),
            "tokenizer_config.json:chat_template:1:1: missing end of comment tag '#}'");
  EXPECT_EQ(CompileError("{{ " + std::string(300, '(') + "1" + std::string(300, ')') + " }}").find("nested too deeply") !=
                std::string::npos,
            true);
  // Long left-associative chains (which the parser builds without recursion) are bounded as well.
  std::string chain = "{{ a";
  for (int i = 0; i < 100000; ++i) chain += " ~ a";
  EXPECT_NE(CompileError(chain + " }}").find("nested too deeply"), std::string::npos);
  std::string nested = "{{ ";
  for (int i = 0; i < 150; ++i) nested += "(a ~ a ~ a ~ a ~ ";
  EXPECT_NE(CompileError(nested + "a" + std::string(150, ')') + " }}").find("nested too deeply"), std::string::npos);
  std::string filters = "{{ a";
  for (int i = 0; i < 100000; ++i) filters += "|trim";
  EXPECT_NE(CompileError(filters + " }}").find("nested too deeply"), std::string::npos);
}

// Property: raise_exception's message is surfaced with the call's position.
TEST(JinjaErrorsTest, RaiseException) {
  EXPECT_EQ(RenderError("{%- if true %}\n  {{- raise_exception('Conversation roles must alternate') }}{% endif %}"),
            "t:2:7: raise_exception: Conversation roles must alternate");
}

// Property: type errors at run time name the operation and its line:column.
TEST(JinjaErrorsTest, RuntimeTypeErrors) {
  EXPECT_EQ(RenderError("{{ 1 }}\n{{ n.startswith('a') }}", {{"n", 3}}),
            "t:2:4: cannot call method 'startswith': it is undefined, not a function");
  EXPECT_EQ(RenderError("{{ x + 'a' }}"), "t:1:6: cannot apply '+' to an undefined value");
  EXPECT_EQ(RenderError("{{ 'a' < 'b' }}"), "t:1:8: operator '<' is not defined between string and string");
  EXPECT_EQ(RenderError("{% for c in 'abc' %}{% endfor %}"), "t:1:13: cannot iterate over string");
  EXPECT_EQ(RenderError("{{ 3|upper }}"), "t:1:5: filter 'upper' is not defined for integer");
  EXPECT_EQ(RenderError("{% set d = {} %}{% set d.x = 1 %}"),
            "t:1:24: cannot assign an attribute of dict (only of a namespace)");
  EXPECT_EQ(RenderError("{% break %}"), "t:1:1: 'break' outside a loop");
}

// Property: hostile templates end in errors, not crashes or hangs: unbounded recursion, exponential strings,
// huge ranges.
TEST(JinjaErrorsTest, ResourceBounds) {
  EXPECT_NE(RenderError("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").find("too deep"), std::string::npos);
  EXPECT_NE(RenderError("{% for i in range(1000000) %}{{ s }}{% endfor %}", {{"s", std::string(4096, 'x')}})
                .find("output too large"),
            std::string::npos);
  EXPECT_NE(RenderError("{{ range(100000000000)|length }}").find("too large"), std::string::npos);
  EXPECT_NE(RenderError("{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}").find("too deep"),
            std::string::npos);
  EXPECT_NE(RenderError("{% for a in range(5000) %}{% for b in range(5000) %}{% endfor %}{% endfor %}")
                .find("step limit"),
            std::string::npos);
}

}  // namespace
}  // namespace distill::tok
