#include "tools/demo/fact_probe.h"

#include <cctype>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tokenizers/model_folder.h"
#include "tools/teacher/column_arithmetic.h"
#include "trainer/checkpoint_io.h"
#include "trainer/cpu_threads.h"
#include "trainer/decode.h"

namespace distill::demo {
namespace {

constexpr size_t kWrongListed = 4;

// The kind of a fact by its shape: two operators (the column sums with their carry or borrow), or one.
size_t KindOf(const std::string& fact) {
  if (fact.find(" × ") != std::string::npos) return 2;
  if (fact.find(" - ") != std::string::npos) return 1;
  int plus = 0;
  for (size_t at = fact.find(" + "); at != std::string::npos; at = fact.find(" + ", at + 1)) ++plus;
  return plus == 2 ? 0 : 3;
}

}  // namespace

absl::StatusOr<std::vector<FactAccuracy>> ProbeFacts(const std::string& model_dir, int threads) {
  auto tokenization = tok::LoadModelTokenization(model_dir);
  if (!tokenization.ok()) return tokenization.status();
  auto model = trainer::LoadModel(model_dir, torch::kCPU, torch::kFloat);
  if (!model.ok()) return model.status();
  trainer::ConfigureCpuThreads(threads, (*model)->config.hidden_size);
  std::vector<FactAccuracy> kinds(4);
  kinds[0].kind = "a + b + c";
  kinds[1].kind = "a - b - c";
  kinds[2].kind = "x × d";
  kinds[3].kind = "p + c";
  trainer::GenerateOptions greedy;
  greedy.max_new_tokens = 4;  // " 81," at most, whatever the merges
  for (const std::string& fact : teacher::OneColumnFacts()) {
    const size_t equals = fact.rfind(" = ");
    const std::string prompt = fact.substr(0, equals + 2), answer = fact.substr(equals + 3);
    auto ids = tokenization->tokenizer->Encode(prompt);
    if (!ids.ok()) return ids.status();
    const std::vector<int64_t> prompt_ids(ids->begin(), ids->end());
    auto generation = trainer::Generate(**model, prompt_ids, greedy);
    if (!generation.ok()) return generation.status();
    const std::vector<tok::TokenId> new_ids(generation->tokens[0].begin(), generation->tokens[0].end());
    auto text = tokenization->tokenizer->Decode(new_ids);
    if (!text.ok()) return text.status();
    // Right when the completion is " <answer>" and the number ends there.
    const std::string expected = " " + answer;
    const bool right =
        text->starts_with(expected) &&
        (text->size() == expected.size() || !std::isdigit(static_cast<unsigned char>((*text)[expected.size()])));
    FactAccuracy& kind = kinds[KindOf(fact)];
    ++kind.facts;
    if (right) {
      ++kind.correct;
    } else if (kind.wrong.size() < kWrongListed) {
      std::string got = *text;
      while (!got.empty() && !std::isdigit(static_cast<unsigned char>(got.back()))) got.pop_back();
      kind.wrong.push_back(prompt + got);
    }
  }
  return kinds;
}

std::string FormatFactAccuracy(const std::vector<FactAccuracy>& kinds) {
  int facts = 0, correct = 0;
  std::vector<std::string> parts;
  for (const FactAccuracy& k : kinds) {
    facts += k.facts;
    correct += k.correct;
    parts.push_back(absl::StrCat(k.kind, " ", k.correct, "/", k.facts));
  }
  return absl::StrFormat("%.1f%% of %d facts (%s)", facts > 0 ? 100.0 * correct / facts : 0.0, facts,
                         absl::StrJoin(parts, ", "));
}

}  // namespace distill::demo
