#include "tokenizers/training_view.h"

#include <atomic>
#include <cctype>
#include <cstring>
#include <initializer_list>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace distill::tok {
namespace {

using nlohmann::json;

constexpr std::string_view kProbeAnswer = "DISTILL_PROBE_ANSWER";

json WithAssistant(const json& prompt, const std::string& content) {
  json messages = prompt;
  messages.push_back({{"content", content}, {"role", "assistant"}});
  return messages;
}

// The special token (if any) that starts at `text[pos]`; longest match wins.
std::string SpecialTokenAt(const Tokenizer& tokenizer, std::string_view text, size_t pos) {
  std::string best;
  for (const AddedToken& token : tokenizer.AddedTokens()) {
    if (token.special && token.content.size() > best.size() && text.substr(pos).starts_with(token.content))
      best = token.content;
  }
  return best;
}

absl::Status RejectSpecialText(const TrainingTemplate& prepared, const std::string& field, const std::string& value) {
  // One pass over the trace text: only bytes that start some special token are checked against the tokens.
  if (prepared.special_texts.empty()) return absl::OkStatus();
  for (size_t pos = 0; pos < value.size(); ++pos) {
    if (prepared.special_first_byte_only >= 0) {  // usually '<': let memchr skip to the candidates
      const void* hit = std::memchr(value.data() + pos, prepared.special_first_byte_only, value.size() - pos);
      if (!hit) break;
      pos = static_cast<size_t>(static_cast<const char*>(hit) - value.data());
    } else if (!prepared.special_first_byte[static_cast<unsigned char>(value[pos])]) {
      continue;
    }
    for (const std::string& special : prepared.special_texts) {
      if (value.compare(pos, special.size(), special) == 0)
        return absl::InvalidArgumentError(absl::StrCat("trace ", field, " contains the special token \"", special,
                                                       "\", which would be read as a control token"));
    }
  }
  return absl::OkStatus();
}

// The added token that starts at text[pos] when the tokenizer cuts the text there whatever surrounds it (see
// Tokenizer::SplitsAtAddedTokens), else null.
const AddedToken* CleanCutAt(const Tokenizer& tokenizer, std::string_view text, size_t pos) {
  if (!tokenizer.SplitsAtAddedTokens()) return nullptr;
  const AddedToken* best = nullptr;  // longest match, as the tokenizer matches
  for (const AddedToken& token : tokenizer.AddedTokens()) {
    if (!token.content.empty() && text.substr(pos).starts_with(token.content) &&
        (!best || token.content.size() > best->content.size()))
      best = &token;
  }
  return best && !best->lstrip && !best->single_word && !best->normalized ? best : nullptr;
}

// view.ids and view.loss_mask from view.text encoded part by part between `cuts` (ascending byte offsets from 0 to
// the end); the part [cuts[1], cuts[2]) is the assistant span, trained on.
absl::StatusOr<TrainingView> EncodeInParts(const Tokenizer& tokenizer, std::initializer_list<size_t> cuts,
                                           TrainingView view) {
  const std::string_view text = view.text;
  const size_t* cut = cuts.begin();
  for (size_t part = 0; part + 1 < cuts.size(); ++part) {
    auto ids = tokenizer.Encode(text.substr(cut[part], cut[part + 1] - cut[part]));
    if (!ids.ok()) return ids.status();
    view.ids.insert(view.ids.end(), ids->begin(), ids->end());
    view.loss_mask.resize(view.ids.size(), part == 1);
  }
  return view;
}

// Splits `text` into the tokens' byte spans; fails when the tokens do not spell `text` byte for byte.
absl::StatusOr<std::vector<size_t>> TokenStarts(const TrainingTemplate& prepared, const std::vector<TokenId>& ids,
                                                const std::string& text) {
  std::vector<size_t> starts;
  starts.reserve(ids.size() + 1);
  size_t pos = 0;
  for (TokenId id : ids) {
    starts.push_back(pos);
    std::string_view bytes;
    if (id >= 0 && static_cast<size_t>(id) < prepared.token_bytes.size()) bytes = prepared.token_bytes[id];
    // SentencePiece adds a dummy-prefix space to each text segment that is not in the text itself.
    if (text.compare(pos, bytes.size(), bytes) != 0 && bytes.starts_with(' ') &&
        text.compare(pos, bytes.size() - 1, bytes.substr(1)) == 0)
      bytes.remove_prefix(1);
    if (text.compare(pos, bytes.size(), bytes) != 0)
      return absl::FailedPreconditionError(absl::StrCat(
          "the tokenizer's normalizer changes the text near byte ", pos,
          "; normalize the trace (e.g. to NFC) before building so the loss mask can be aligned"));
    pos += bytes.size();
  }
  if (pos != text.size())
    return absl::FailedPreconditionError(absl::StrCat("tokens cover ", pos, " of ", text.size(), " bytes"));
  starts.push_back(pos);
  return starts;
}

}  // namespace

std::string ThinkBlock(const std::string& reasoning, const std::string& answer) {
  return absl::StrCat("<think>\n", reasoning, "\n</think>\n\n", answer);
}

void SplitThinkBlock(std::string_view content, std::string& reasoning, std::string& answer) {
  const size_t close = content.find("</think>");
  if (close == std::string_view::npos) {
    reasoning.clear();
    answer = std::string(content);
    return;
  }
  std::string_view head = content.substr(0, close);
  if (const size_t open = head.find("<think>"); open != std::string_view::npos) head.remove_prefix(open + 7);
  while (head.starts_with('\n')) head.remove_prefix(1);
  while (head.ends_with('\n')) head.remove_suffix(1);
  std::string_view tail = content.substr(close + 8);
  while (tail.starts_with('\n')) tail.remove_prefix(1);
  reasoning = std::string(head);
  answer = std::string(tail);
}

absl::StatusOr<TraceExample> TraceFromConversation(const json& messages) {
  if (!messages.is_array() || messages.empty())
    return absl::InvalidArgumentError("messages: expected a non-empty array of {role, content}");
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
        !(m["content"].is_string() || m["content"].is_null()))
      return absl::InvalidArgumentError(absl::StrCat("messages[", i, "]: expected {\"role\": string, \"content\": string}"));
  }
  const json& last = messages.back();
  if (last["role"] != "assistant")
    return absl::InvalidArgumentError(absl::StrCat("messages[", messages.size() - 1,
                                                   "]: the final message must be the assistant's trace"));
  TraceExample trace;
  trace.prompt = json(messages.begin(), messages.end() - 1);
  const std::string content = last["content"].is_string() ? last["content"].get<std::string>() : "";
  if (last.contains("reasoning_content") && last["reasoning_content"].is_string()) {
    trace.reasoning = last["reasoning_content"].get<std::string>();
    trace.answer = content;
  } else {
    SplitThinkBlock(content, trace.reasoning, trace.answer);
  }
  return trace;
}

absl::StatusOr<TrainingTemplate> PrepareTrainingTemplate(const ModelTokenization& model) {
  json probe = json::array({{{"content", "DISTILL_PROBE_QUESTION"}, {"role", "user"}}});
  auto rendered = RenderChat(model, WithAssistant(probe, std::string(kProbeAnswer)), false);
  if (!rendered.ok()) return rendered.status();
  const size_t at = rendered->rfind(kProbeAnswer);
  if (at == std::string::npos)
    return absl::FailedPreconditionError(absl::StrCat(model.template_name, ": the template drops assistant content"));
  std::string end = SpecialTokenAt(*model.tokenizer, *rendered, at + kProbeAnswer.size());
  if (end.empty())
    return absl::FailedPreconditionError(absl::StrCat(
        model.template_name, ": an assistant turn is not closed by a special token right after its content"));
  static std::atomic<uint64_t> next_id{1};
  TrainingTemplate prepared;
  prepared.id = next_id++;
  prepared.model = &model;
  prepared.end_of_turn = std::move(end);
  const Tokenizer& tokenizer = *model.tokenizer;
  prepared.token_bytes.resize(tokenizer.VocabSize());
  for (size_t id = 0; id < prepared.token_bytes.size(); ++id)
    prepared.token_bytes[id] = tokenizer.TokenBytes(static_cast<TokenId>(id));
  for (const AddedToken& token : tokenizer.AddedTokens()) {
    if (!token.special || token.content.empty()) continue;
    prepared.special_texts.push_back(token.content);
    prepared.special_first_byte[static_cast<unsigned char>(token.content[0])] = true;
  }
  for (int byte = 0; byte < 256; ++byte) {
    if (!prepared.special_first_byte[byte]) continue;
    prepared.special_first_byte_only = prepared.special_first_byte_only == -1 ? byte : -2;
  }
  return prepared;
}

const std::string* PromptRenderCache::Find(const TrainingTemplate& prepared, const nlohmann::json& prompt) const {
  for (const Entry& e : entries_)
    if (e.template_id == prepared.id && e.prompt == prompt) return &e.text;
  return nullptr;
}

void PromptRenderCache::Put(const TrainingTemplate& prepared, const nlohmann::json& prompt, const std::string& text) {
  Entry& e = entries_[next_];
  next_ = (next_ + 1) % entries_.size();
  e.template_id = prepared.id;
  e.prompt = prompt;
  e.text = text;
}

absl::StatusOr<TrainingView> RenderTrainingView(const TrainingTemplate& prepared, const TraceExample& trace,
                                                PromptRenderCache* cache) {
  const ModelTokenization& model = *prepared.model;
  const Tokenizer& tokenizer = *model.tokenizer;
  for (const auto& [field, value] : {std::pair{"reasoning", &trace.reasoning}, std::pair{"answer", &trace.answer}})
    if (auto status = RejectSpecialText(prepared, field, *value); !status.ok()) return status;

  const std::string* cached = cache ? cache->Find(prepared, trace.prompt) : nullptr;
  absl::StatusOr<std::string> prompt_text =
      cached ? absl::StatusOr<std::string>(*cached) : RenderChat(model, trace.prompt, /*add_generation_prompt=*/true);
  if (!prompt_text.ok()) return prompt_text.status();
  if (cache && !cached) cache->Put(prepared, trace.prompt, *prompt_text);
  const std::string content = ThinkBlock(trace.reasoning, trace.answer);
  auto full_text = RenderChat(model, WithAssistant(trace.prompt, content), /*add_generation_prompt=*/false);
  if (!full_text.ok()) return full_text.status();

  TrainingView view;
  std::string_view answer = trace.answer;
  while (!answer.empty() && std::isspace(static_cast<unsigned char>(answer.back()))) answer.remove_suffix(1);
  const bool template_keeps_turn = full_text->starts_with(*prompt_text);
  const std::string_view rest = std::string_view(*full_text).substr(template_keeps_turn ? prompt_text->size() : 0);
  if (template_keeps_turn && rest.find(trace.reasoning) != rest.npos && rest.find("</think>") != rest.npos) {
    if (rest.find(answer) == rest.npos)
      return absl::FailedPreconditionError(absl::StrCat(model.template_name, ": the template drops the answer"));
    const size_t end = rest.find(prepared.end_of_turn);
    if (end == std::string_view::npos)
      return absl::FailedPreconditionError(absl::StrCat(model.template_name, ": the assistant turn has no \"",
                                                        prepared.end_of_turn, "\""));
    view.text = std::move(*full_text);
    view.assistant_begin = prompt_text->size();
    view.assistant_end = view.assistant_begin + end + prepared.end_of_turn.size();
  } else {
    // The template strips the think block from the final turn: append it after the generation prompt, minus any
    // opening the generation prompt already forces (e.g. "<think>\n").
    std::string_view completion = content;
    // Only a forced opening counts as overlap, never a stray character such as a trailing "<".
    constexpr size_t kMinOverlap = std::string_view("<think>").size();
    for (size_t overlap = std::min(completion.size(), prompt_text->size()); overlap >= kMinOverlap; --overlap) {
      if (std::string_view(*prompt_text).ends_with(completion.substr(0, overlap))) {
        completion.remove_prefix(overlap);
        break;
      }
    }
    view.text = *prompt_text;
    view.text.append(completion).append(prepared.end_of_turn);
    view.assistant_begin = prompt_text->size();
    view.assistant_end = view.text.size();
    view.think_block_appended = true;
  }

  // Encoded in parts cut at the assistant span, each token lies on one side of every cut, so the mask needs no
  // alignment of token bytes. Two cases (byte-level BPE; SentencePiece adds a dummy prefix to each part):
  //  - an appended think block: prompt and reply are tokenized apart anyway, as at inference (the engine tokenizes
  //    the generation prompt, the model continues), so no token straddles the boundary;
  //  - a kept turn (chatml, Llama 3) whose span starts with an added token ("<think>", "<|start_header_id|>"…) and
  //    ends with the end-of-turn token: the parts give exactly the ids of the whole string.
  const size_t size = view.text.size();
  if (tokenizer.SplitsAtAddedTokens() && view.think_block_appended)
    return EncodeInParts(tokenizer, {0, view.assistant_begin, size}, std::move(view));
  if (CleanCutAt(tokenizer, view.text, view.assistant_begin)) {
    const AddedToken* end = CleanCutAt(tokenizer, view.text, view.assistant_end - prepared.end_of_turn.size());
    if (end && end->content == prepared.end_of_turn && !end->rstrip)
      return EncodeInParts(tokenizer, {0, view.assistant_begin, view.assistant_end, size}, std::move(view));
  }
  if (view.think_block_appended) {
    auto prompt_ids = tokenizer.Encode(std::string_view(view.text).substr(0, view.assistant_begin));
    if (!prompt_ids.ok()) return prompt_ids.status();
    auto reply_ids = tokenizer.Encode(std::string_view(view.text).substr(view.assistant_begin));
    if (!reply_ids.ok()) return reply_ids.status();
    view.ids = std::move(*prompt_ids);
    view.ids.insert(view.ids.end(), reply_ids->begin(), reply_ids->end());
  } else {
    // One string, exactly the ids transformers' apply_chat_template(tokenize=True) gives.
    auto ids = tokenizer.Encode(view.text);
    if (!ids.ok()) return ids.status();
    view.ids = std::move(*ids);
  }
  auto starts = TokenStarts(prepared, view.ids, view.text);
  if (!starts.ok()) return starts.status();
  view.loss_mask.resize(view.ids.size());
  for (size_t i = 0; i < view.ids.size(); ++i) {
    // A token is trained on when any of its bytes lies in the assistant span (as transformers' assistant masks).
    view.loss_mask[i] = (*starts)[i] < view.assistant_end && (*starts)[i + 1] > view.assistant_begin;
  }
  return view;
}

}  // namespace distill::tok
