// The reference renders written by tests/reference/jinja_render.js (ctest fixture jinja_renders), and a readable
// diff for byte-exact comparisons.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include "nlohmann/json.hpp"

namespace distill::testing {

// The fixture JSON, or null when it is missing (run the test through ctest so the fixture is written first).
inline nlohmann::json LoadJinjaFixture() {
  std::ifstream in(std::string(DISTILL_FIXTURES) + "/jinja_renders.json", std::ios::binary);
  if (!in) return nullptr;
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
}

// "first difference at byte N" with 120 bytes of context from both sides, JSON-quoted.
inline std::string FirstDifference(const std::string& want, const std::string& got) {
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  const size_t from = i > 40 ? i - 40 : 0;
  auto quote = [from](const std::string& s) {
    return nlohmann::json(s.substr(std::min(from, s.size()), 120))
        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  return "first difference at byte " + std::to_string(i) + "\n  want: " + quote(want) + "\n  got:  " + quote(got);
}

}  // namespace distill::testing
