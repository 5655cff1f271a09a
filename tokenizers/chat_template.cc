#include "tokenizers/chat_template.h"

#include <exception>
#include <new>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tokenizers/jinja/ast.h"
#include "tokenizers/jinja/builtin_templates.h"
#include "tokenizers/jinja/interpreter.h"
#include "tokenizers/jinja/lexer.h"
#include "tokenizers/jinja/parser.h"

namespace distill::tok {

absl::StatusOr<ChatTemplate> ChatTemplate::Compile(std::string_view source, std::string origin) {
  ChatTemplate t;
  t.source_ = std::string(source);
  t.origin_ = std::move(origin);
  try {
    t.program_ = jinja::Parse(t.source_);
  } catch (const jinja::JinjaError& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(t.origin_, ":", jinja::LineColumn(t.source_, e.pos), ": ", e.what()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(t.origin_, ": out of memory while parsing the template"));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(t.origin_, ": ", e.what()));
  }
  return t;
}

absl::StatusOr<std::string> ChatTemplate::Render(const nlohmann::json& context) const {
  return RenderWith([&](jinja::Interpreter& interpreter) { return interpreter.Run(*program_, context); });
}

absl::StatusOr<std::string> ChatTemplate::Render(const TemplateVariables& variables) const {
  return RenderWith([&](jinja::Interpreter& interpreter) { return interpreter.Run(*program_, variables); });
}

template <typename Run>
absl::StatusOr<std::string> ChatTemplate::RenderWith(Run&& run) const {
  if (!program_) return absl::FailedPreconditionError("ChatTemplate::Render on an empty template");
  try {
    jinja::Interpreter interpreter;
    return run(interpreter);
  } catch (const jinja::JinjaError& e) {
    return absl::InvalidArgumentError(absl::StrCat(origin_, ":", jinja::LineColumn(source_, e.pos), ": ", e.what()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(origin_, ": out of memory while rendering"));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(origin_, ": ", e.what()));
  }
}

absl::StatusOr<std::string> BuiltinTemplateSource(std::string_view name) {
  std::string names;
  for (const auto& [n, src] : jinja::BuiltinTemplates()) {
    if (n == name) return std::string(src);
    if (!names.empty()) names += ", ";
    names += std::string(n);
  }
  return absl::NotFoundError(
      absl::StrCat("unknown built-in chat template '", std::string(name), "' (known: ", names, ")"));
}

}  // namespace distill::tok
