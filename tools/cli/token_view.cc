#include "tools/cli/token_view.h"

#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_format.h"

namespace distill::cli {
namespace {

// Shows newlines and tabs as visible escapes (the newline is kept so the layout survives).
std::string Visible(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c == '\n') out += "\\n\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7f) out += absl::StrFormat("\\x%02x", c);
    else out += static_cast<char>(c);
  }
  return out;
}

}  // namespace

bool UseColor() { return isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr; }

std::string RenderTokens(const tok::Tokenizer& tokenizer, std::span<const tok::TokenId> ids,
                         std::span<const uint8_t> loss_mask, bool color) {
  std::string out;
  bool in_trained_run = false;
  for (size_t i = 0; i < ids.size(); ++i) {
    const bool trained = !loss_mask.empty() && loss_mask[i];
    const std::string piece = Visible(tokenizer.TokenBytes(ids[i]));
    if (color) {
      const char* fg = loss_mask.empty() ? "39" : trained ? "32" : "90";
      out += absl::StrFormat("\x1b[%s%sm%s\x1b[0m", fg, i % 2 ? ";4" : "", piece);
    } else {
      if (trained && !in_trained_run) out += "⟦";
      if (!trained && in_trained_run) out += "⟧";
      out += piece;
    }
    in_trained_run = trained;
  }
  if (!color && in_trained_run) out += "⟧";
  return out;
}

}  // namespace distill::cli
