// Small generic templates (each statement, filter, test and operator of the subset) render as the reference.
#include <string>


#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/jinja_fixture.h"
#include "tokenizers/chat_template.h"

namespace distill::tok {
namespace {

using testing::FirstDifference;
using testing::LoadJinjaFixture;

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
