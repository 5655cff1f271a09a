// Combines shard outputs (traces JSONL from `distill collect --shard i/N`, or runs resumed on other machines)
// into one file, keeping the first line of each TraceKey and dropping later duplicates. Lines that are not trace
// lines (a torn tail, garbage) are reported with file:line and skipped. The output is written to a temp file and
// renamed, so it is never half-written.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace distill::data::collect {

struct MergeStats {
  int64_t lines_in = 0;
  int64_t written = 0;
  int64_t duplicates = 0;
  int64_t bad_lines = 0;
};

absl::StatusOr<MergeStats> MergeTraceFiles(const std::vector<std::string>& inputs, const std::string& out_path);

}  // namespace distill::data::collect
