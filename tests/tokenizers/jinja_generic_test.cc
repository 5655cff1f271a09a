// Small generic templates (each statement, filter, test and operator of the subset) render as the reference.
#include <string>

#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tokenizers/chat_template.h"

namespace distill::tok {
namespace {

// The reference renders written by tests/reference/jinja_render.js (ctest fixture jinja_renders).
nlohmann::json LoadJinjaFixture() {
  std::ifstream in(std::string(DISTILL_FIXTURES) + "/jinja_renders.json", std::ios::binary);
  if (!in) return nullptr;
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
}

std::string FirstDifference(const std::string& want, const std::string& got) {
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  const size_t from = i > 40 ? i - 40 : 0;
  return "first difference at byte " + std::to_string(i) + "\n  want: " +
         nlohmann::json(want.substr(from, 120)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n  got:  " +
         nlohmann::json(got.substr(from, 120)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}


// Property: for every generic template in tests/reference/jinja_render.js the C++ render equals the reference
// render byte for byte, and where the reference raises (raise_exception, undefined/none operands, unknown
// methods) the C++ render fails too.
TEST(JinjaGenericTest, MatchesReference) {
  const nlohmann::json fixture = LoadJinjaFixture();
  ASSERT_TRUE(fixture.is_object()) << "missing fixture; run through ctest (fixture/jinja_renders)";
  ASSERT_GE(fixture["generic"].size(), 25u);
  for (const auto& g : fixture["generic"]) {
    const std::string name = g["name"];
    auto t = ChatTemplate::Compile(g["source"].get<std::string>(), name);
    ASSERT_TRUE(t.ok()) << t.status();
    auto out = t->Render(g["context"]);
    if (g.contains("error")) {
      EXPECT_FALSE(out.ok()) << name << ": reference fails with " << g["error"] << ", we rendered "
                             << (out.ok() ? *out : "");
      continue;
    }
    ASSERT_TRUE(out.ok()) << name << ": " << out.status();
    const std::string want = g["output"];
    EXPECT_EQ(*out, want) << name << "\n" << FirstDifference(want, *out);
  }
}

}  // namespace
}  // namespace distill::tok
