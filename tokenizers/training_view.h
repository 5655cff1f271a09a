// The training view: what the student sees of one trace — the conversation rendered with the base model's chat
// template, its token ids, and a loss mask that is 1 on exactly the assistant's tokens (think block, answer,
// end-of-turn token) and 0 on the prompt and template scaffolding.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tokenizers/model_folder.h"

namespace distill::tok {

// One trace: prompt messages (role/content objects, system turns allowed) and the teacher's tag-free output.
struct TraceExample {
  nlohmann::json prompt = nlohmann::json::array();
  std::string reasoning;
  std::string answer;
};

// A model's template prepared for rendering traces. Built once per model; cheap to use from many threads.
struct TrainingTemplate {
  const ModelTokenization* model = nullptr;  // not owned; must outlive this
  std::string end_of_turn;                   // the special token that closes an assistant turn, e.g. <|im_end|>
  std::vector<std::string> token_bytes;      // Tokenizer::TokenBytes of every id, for aligning the mask
  std::vector<std::string> special_texts;    // contents of the special added tokens, refused inside traces
  std::array<bool, 256> special_first_byte{};  // first bytes of special_texts, for a one-pass scan
  int special_first_byte_only = -1;            // that byte when all share one, -1 when none, -2 when several
  uint64_t id = 0;                             // unique per PrepareTrainingTemplate call (keys render caches)
};

// The last few prompt renders (the generation-prompt render of a trace's messages) of one thread, for a builder
// that sees several samples of each prompt (distill data has 2-8 per prompt, usually on neighbouring lines).
// Rendering is a pure function of the template and the messages, so a hit gives exactly the text a render would.
// Not thread-safe: one per thread.
class PromptRenderCache {
 public:
  // The cached render of `prompt` with `prepared`'s template, or null.
  const std::string* Find(const TrainingTemplate& prepared, const nlohmann::json& prompt) const;
  void Put(const TrainingTemplate& prepared, const nlohmann::json& prompt, const std::string& text);

 private:
  struct Entry {
    uint64_t template_id = 0;  // 0: empty
    nlohmann::json prompt;
    std::string text;
  };
  std::array<Entry, 8> entries_;
  size_t next_ = 0;  // the slot Put overwrites next (oldest first)
};

struct TrainingView {
  std::string text;               // the full rendered conversation
  size_t assistant_begin = 0;     // byte span of the assistant's part of `text`, end-of-turn token included
  size_t assistant_end = 0;
  std::vector<TokenId> ids;
  std::vector<uint8_t> loss_mask;  // one per id: 1 = trained on
  // The template renders no reasoning for the final assistant turn (R1-style history stripping), so the think
  // block was appended after the generation prompt as R1-Distill does; then ids = Encode(prompt) + Encode(reply),
  // as at inference. Otherwise ids = Encode(text), as apply_chat_template gives them (encoded in parts cut at the
  // assistant span's added tokens where that gives the same ids, so the mask needs no alignment).
  bool think_block_appended = false;
};

// The canonical R1 assistant text: "<think>\n{reasoning}\n</think>\n\n{answer}".
std::string ThinkBlock(const std::string& reasoning, const std::string& answer);

// Splits assistant content that carries its reasoning inline ("<think>\n…\n</think>\n\nanswer", the opening tag
// optional) into a tag-free trace part. Content without "</think>" is all answer.
void SplitThinkBlock(std::string_view content, std::string& reasoning, std::string& answer);

// Reads a trace from a conversation: the final message must be the assistant's, with `reasoning_content` beside
// `content` or the think block inline. `messages` is a JSON array of {role, content}. Errors name the message.
absl::StatusOr<TraceExample> TraceFromConversation(const nlohmann::json& messages);

// Finds the model template's end-of-turn token by rendering a probe conversation. FailedPrecondition when the
// model has no template or an assistant turn is not closed by a special token.
absl::StatusOr<TrainingTemplate> PrepareTrainingTemplate(const ModelTokenization& model);

// Renders one trace. Errors: the trace contains special-token text (it would be tokenized as control tokens), the
// template drops the answer, or the tokenizer's normalizer changes the text so the mask cannot be aligned.
// With `cache`, the prompt render is looked up there first and stored there after.
absl::StatusOr<TrainingView> RenderTrainingView(const TrainingTemplate& prepared, const TraceExample& trace,
                                                PromptRenderCache* cache = nullptr);

}  // namespace distill::tok
