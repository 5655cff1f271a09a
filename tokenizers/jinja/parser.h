// Recursive-descent parser with @huggingface/jinja's grammar and precedence. Rejects, at compile time, every
// statement, filter and test outside the supported subset (JinjaError naming the construct and its offset).
#pragma once

#include <memory>
#include <string_view>

#include "tokenizers/jinja/ast.h"
#include "tokenizers/jinja/lexer.h"

namespace distill::tok::jinja {

std::unique_ptr<Program> Parse(std::string_view source);

bool IsKnownFilter(std::string_view name);
bool IsKnownTest(std::string_view name);

// parser_support.cc
const char* TokenName(TokenType t);
// Sets *kwargs / *varargs when the subtree reads the variable of that name.
void ScanSpecialArgs(const Node* n, bool* kwargs, bool* varargs);

}  // namespace distill::tok::jinja
