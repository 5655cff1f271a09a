// distill tokenize: text or a file → ids (and pieces), or ids → text, with any model folder or tokenizer file.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "tokenizers/file_util.h"
#include "tokenizers/model_folder.h"
#include "tools/cli/verbs.h"

namespace distill::cli {
namespace {

struct TokenizeFlags {
  std::string model;
  std::string text;
  std::string file;
  std::string ids;
  bool pieces = false;
  bool add_special = false;
  bool skip_special = false;
  bool json = false;
};

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "distill tokenize: %s\n", std::string(status.message()).c_str());
  return 1;
}

int RunTokenize(const TokenizeFlags& flags) {
  auto model = tok::LoadModelTokenization(flags.model);
  if (!model.ok()) return Fail(model.status());
  const tok::Tokenizer& tokenizer = *model->tokenizer;

  if (!flags.ids.empty()) {
    std::vector<tok::TokenId> ids;
    for (absl::string_view field : absl::StrSplit(flags.ids, absl::ByAnyChar(", \n\t"), absl::SkipEmpty())) {
      int32_t id = 0;
      if (!absl::SimpleAtoi(field, &id))
        return Fail(absl::InvalidArgumentError("--ids: expected integers separated by commas or spaces, got '" +
                                               std::string(field) + "'"));
      ids.push_back(id);
    }
    auto text = tokenizer.Decode(ids, flags.skip_special);
    if (!text.ok()) return Fail(text.status());
    std::cout << *text << (flags.json ? "" : "\n");
    return 0;
  }

  std::string text = flags.text;
  if (!flags.file.empty()) {
    auto content = flags.file == "-" ? absl::StatusOr<std::string>(std::string(std::istreambuf_iterator<char>(std::cin), {}))
                                     : tok::ReadFileToString(flags.file);
    if (!content.ok()) return Fail(content.status());
    text = std::move(*content);
  }
  auto ids = tok::EncodePlain(*model, text, flags.add_special);
  if (!ids.ok()) return Fail(ids.status());
  if (flags.json) {
    nlohmann::json out = {{"ids", *ids}};
    if (flags.pieces) {
      nlohmann::json pieces = nlohmann::json::array();
      for (tok::TokenId id : *ids) pieces.push_back(tokenizer.IdToPiece(id).value_or(""));
      out["pieces"] = std::move(pieces);
    }
    std::cout << out.dump() << "\n";
  } else if (flags.pieces) {
    for (tok::TokenId id : *ids) std::cout << id << "\t" << tokenizer.IdToPiece(id).value_or("") << "\n";
  } else {
    std::cout << absl::StrJoin(*ids, " ") << "\n";
  }
  return 0;
}

VerbRun Setup(CLI::App& cmd) {
  auto flags = std::make_shared<TokenizeFlags>();
  cmd.add_option("-m,--model", flags->model, "model folder, tokenizer.json or tokenizer.model")->required();
  auto* text = cmd.add_option("-t,--text", flags->text, "text to encode");
  auto* file = cmd.add_option("-f,--file", flags->file, "file to encode ('-' = stdin)");
  auto* ids = cmd.add_option("--ids", flags->ids, "ids to decode, comma or space separated");
  text->excludes(file)->excludes(ids);
  file->excludes(ids);
  cmd.add_flag("-p,--pieces", flags->pieces, "print one 'id<TAB>piece' line per token");
  cmd.add_flag("--add-special", flags->add_special, "prepend BOS where the model's tokenizer does");
  cmd.add_flag("--skip-special", flags->skip_special, "when decoding, drop special tokens");
  cmd.add_flag("--json", flags->json, "print JSON");
  cmd.callback([text, file, ids] {
    if (!*text && !*file && !*ids) throw CLI::ValidationError("one of --text, --file or --ids is required");
  });
  return [flags] { return RunTokenize(*flags); };
}

}  // namespace
}  // namespace distill::cli

DISTILL_REGISTER_VERB(tokenize, "tokenize", "Encode text to token ids (and pieces) or decode ids, for a model", 10,
                      distill::cli::Setup);
