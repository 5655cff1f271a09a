// Jinja sources of the built-in chat templates (for bases whose tokenizer_config.json ships none).
// tests/reference/jinja_render.js reads them from builtin_templates.cc, so each stays a raw string literal of the
// form {"name", R"JINJA(...)JINJA"}.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

namespace distill::tok::jinja {

const std::vector<std::pair<std::string_view, std::string_view>>& BuiltinTemplates();

}  // namespace distill::tok::jinja
