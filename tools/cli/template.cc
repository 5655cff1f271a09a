// distill template: messages JSON → the text the model's chat template renders, its ids, and the loss-mask view.
#include <cstdio>
#include <iostream>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "tokenizers/file_util.h"
#include "tokenizers/model_folder.h"
#include "tokenizers/training_view.h"
#include "tools/cli/token_view.h"
#include "tools/cli/verbs.h"

namespace distill::cli {
namespace {

struct TemplateFlags {
  std::string model;
  std::string messages;
  std::string template_override;
  bool generation_prompt = false;
  bool train = false;
  bool ids = false;
  bool json = false;
};

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "distill template: %s\n", std::string(status.message()).c_str());
  return 1;
}

// Accepts a messages array, or an object with "messages" (and optionally "reasoning"/"answer" for the reply, which
// is appended as the final assistant message when `include_reply`).
absl::StatusOr<nlohmann::json> ReadConversation(const std::string& path, bool include_reply) {
  auto parsed = tok::ParseJsonFile(path);
  if (!parsed.ok()) return parsed.status();
  if (parsed->is_array()) return *parsed;
  if (!parsed->is_object() || !parsed->contains("messages"))
    return absl::InvalidArgumentError(path + ": expected a messages array or an object with \"messages\"");
  nlohmann::json messages = (*parsed)["messages"];
  if (include_reply && parsed->contains("answer") && messages.is_array()) {
    nlohmann::json reply = {{"role", "assistant"}, {"content", (*parsed)["answer"]}};
    if (parsed->contains("reasoning")) reply["reasoning_content"] = (*parsed)["reasoning"];
    messages.push_back(std::move(reply));
  }
  return messages;
}

int RunTrainingView(const tok::ModelTokenization& model, const nlohmann::json& messages, const TemplateFlags& flags) {
  auto trace = tok::TraceFromConversation(messages);
  if (!trace.ok()) return Fail(absl::InvalidArgumentError(flags.messages + ": " + std::string(trace.status().message())));
  auto prepared = tok::PrepareTrainingTemplate(model);
  if (!prepared.ok()) return Fail(prepared.status());
  auto view = tok::RenderTrainingView(*prepared, *trace);
  if (!view.ok()) return Fail(view.status());
  size_t trained = 0;
  for (uint8_t m : view->loss_mask) trained += m;
  if (flags.json) {
    nlohmann::json out = {{"text", view->text},
                          {"ids", view->ids},
                          {"loss_mask", view->loss_mask},
                          {"assistant_span", {view->assistant_begin, view->assistant_end}},
                          {"end_of_turn", prepared->end_of_turn},
                          {"think_block_appended", view->think_block_appended}};
    std::cout << out.dump() << "\n";
    return 0;
  }
  if (flags.ids) {
    std::cout << absl::StrJoin(view->ids, " ") << "\n" << absl::StrJoin(view->loss_mask, " ") << "\n";
    return 0;
  }
  const bool color = UseColor();
  std::cout << RenderTokens(*model.tokenizer, view->ids, view->loss_mask, color) << "\n\n";
  std::cout << absl::StrFormat("%d tokens, %d trained (%s), template %s, end of turn %s%s\n", view->ids.size(), trained,
                               color ? "green" : "inside ⟦ ⟧", model.template_name, prepared->end_of_turn,
                               view->think_block_appended ? ", think block appended after the generation prompt" : "");
  return 0;
}

int RunTemplate(const TemplateFlags& flags) {
  auto model = tok::LoadModelTokenization(flags.model, {.template_override = flags.template_override});
  if (!model.ok()) return Fail(model.status());
  // With a generation prompt the model's turn comes next, so a reply given beside the messages is left out.
  auto messages = ReadConversation(flags.messages, flags.train || !flags.generation_prompt);
  if (!messages.ok()) return Fail(messages.status());
  if (flags.train) return RunTrainingView(*model, *messages, flags);

  auto text = tok::RenderChat(*model, *messages, flags.generation_prompt);
  if (!text.ok()) return Fail(text.status());
  if (!flags.ids && !flags.json) {
    std::cout << *text;
    return 0;
  }
  auto ids = model->tokenizer->Encode(*text);
  if (!ids.ok()) return Fail(ids.status());
  if (flags.json) std::cout << nlohmann::json{{"text", *text}, {"ids", *ids}}.dump() << "\n";
  else std::cout << absl::StrJoin(*ids, " ") << "\n";
  return 0;
}

VerbRun Setup(CLI::App& cmd) {
  auto flags = std::make_shared<TemplateFlags>();
  cmd.add_option("-m,--model", flags->model, "model folder, tokenizer.json or tokenizer.model")->required();
  cmd.add_option("messages", flags->messages,
                 "JSON file: a messages array, or {\"messages\": […], \"reasoning\": …, \"answer\": …}")
      ->required();
  cmd.add_option("--template", flags->template_override,
                 "built-in template (chatml, llama3, deepseek-r1) or a template / tokenizer_config.json file");
  cmd.add_flag("-g,--generation-prompt", flags->generation_prompt, "end with the assistant's generation prompt");
  cmd.add_flag("--train", flags->train,
               "training view: the final assistant message is the trace; show tokens coloured by loss mask");
  cmd.add_flag("--ids", flags->ids, "print ids (and with --train a second line with the loss mask)");
  cmd.add_flag("--json", flags->json, "print JSON");
  return [flags] { return RunTemplate(*flags); };
}

}  // namespace
}  // namespace distill::cli

DISTILL_REGISTER_VERB(template_verb, "template",
                      "Render messages with a model's chat template; --train shows ids and the loss mask", 11,
                      distill::cli::Setup);
