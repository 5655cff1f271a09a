// Small file helpers shared by the tokenizers library: whole-file reads and JSON parsing with errors that name
// the file and the byte offset.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace distill::tok {

// Reads a whole file. NotFound / PermissionDenied / Internal name the path.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Parses a JSON file; a syntax error is InvalidArgument "<path>: byte <offset>: <what was expected>".
absl::StatusOr<nlohmann::json> ParseJsonFile(const std::string& path);

}  // namespace distill::tok
