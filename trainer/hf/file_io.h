// Internal to trainer/hf: the small POSIX file helpers the safetensors writer and checkpoint saver share.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace distill::hf::internal {

std::string ErrnoText(int err);

// Writes `path` through "<path>.tmp.<pid>": `fill` writes the contents with the WriteAll it is given, then the
// temp file is fsync'd, renamed onto `path` and the folder fsync'd, so a crash leaves the old file or the new one,
// never a half-written file under the final name. On any error the temp file is removed.
using WriteAllFn = std::function<absl::Status(std::string_view bytes)>;
absl::Status WriteFileAtomic(const std::string& path, const std::function<absl::Status(const WriteAllFn&)>& fill);

// fsync of a folder, so renames and unlinks inside it are durable.
absl::Status FsyncDir(const std::string& dir);

// The folder part of `path` ("." when there is none).
std::string ParentDir(const std::string& path);

}  // namespace distill::hf::internal
