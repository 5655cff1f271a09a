#include "data/collect/merge.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "data/collect/jsonl_log.h"
#include "data/trace_record.h"

namespace distill::data::collect {

absl::StatusOr<MergeStats> MergeTraceFiles(const std::vector<std::string>& inputs, const std::string& out_path) {
  MergeStats stats;
  std::string tmp = absl::StrCat(out_path, ".tmp.", ::getpid());
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  absl::flat_hash_set<std::string> seen;
  for (const std::string& path : inputs) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::remove(tmp.c_str());
      return absl::NotFoundError(absl::StrCat("cannot read ", path));
    }
    std::string line;
    int64_t line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (IsBlankLine(line)) continue;
      ++stats.lines_in;
      std::string where = absl::StrCat(path, ":", line_no);
      auto j = ParseJsonObjectLine(line, where);
      const nlohmann::json* id = j.ok() && j->contains("prompt_id") ? &(*j)["prompt_id"] : nullptr;
      if (id == nullptr || !id->is_string() || !j->contains("sample_index") ||
          !(*j)["sample_index"].is_number_integer()) {
        ++stats.bad_lines;
        std::fprintf(stderr, "distill merge: %s: not a trace line; skipped\n", where.c_str());
        continue;
      }
      if (!seen.insert(TraceKey(id->template get<std::string>(), (*j)["sample_index"].get<int32_t>())).second) {
        ++stats.duplicates;
        continue;
      }
      out << line << '\n';
      ++stats.written;
    }
  }
  out.flush();
  if (!out) {
    std::remove(tmp.c_str());
    return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  out.close();
  int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  if (std::rename(tmp.c_str(), out_path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return absl::InternalError(absl::StrCat("cannot rename ", tmp, " to ", out_path, ": ", std::strerror(errno)));
  }
  return stats;
}

}  // namespace distill::data::collect
