// Guards an output path given on the command line (-o): a mistyped one must not replace an input, such as a
// checkpoint's model.safetensors or a run's metrics.jsonl. Header-only, so libraries that do not link the data
// library (the GGUF exporter) use it too.
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace distill::data {

// OK when `path` does not exist, is an empty file, or is a file whose first 64 bytes satisfy `is_kind` (an earlier
// output of the same kind, which is replaced as usual). A folder is InvalidArgument ("-o names the <file_kind> to
// write"); any other file is FailedPrecondition ("exists and is not <not_kind>"), and is left untouched.
inline absl::Status CheckReplaceableOutput(const std::string& path, const std::string& file_kind,
                                           const std::string& not_kind,
                                           const std::function<bool(std::string_view head)>& is_kind) {
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) return absl::OkStatus();
  if (std::filesystem::is_directory(status)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": is a folder; -o names the ", file_kind, " to write"));
  }
  std::ifstream in(path, std::ios::binary);
  std::string head(64, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  if (head.empty() || is_kind(head)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(path, ": exists and is not ", not_kind,
                                                    "; refusing to replace it (choose another -o, or delete it first)"));
}

}  // namespace distill::data
