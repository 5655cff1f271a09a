// The collector's progress line (done/total, req/s, tokens/s, failures, ETA): a redrawn bar on a TTY, plain
// periodic lines otherwise; and the final summary (token totals, estimated cost when prices are configured).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "data/verify.h"

namespace distill::data::collect {

struct CollectCounters {
  int64_t total = 0;           // (prompt, sample) pairs in this shard
  int64_t skipped_done = 0;    // already in the traces file at start
  int64_t succeeded = 0;       // traces written this run
  int64_t failed = 0;          // failure lines written this run
  int64_t malformed_prompts = 0;
  int64_t requests = 0;        // HTTP requests sent (attempts)
  int64_t retries = 0;
  int64_t rate_limited = 0;    // 429 responses
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t reasoning_tokens = 0;
  double cost = 0;             // estimated, from the configured prices
  double elapsed_s = 0;
  bool cancelled = false;
  // Inline verify (CollectOptions::verify): verdicts of the traces written this run; `verify.malformed` stays 0.
  bool verify_enabled = false;
  data::VerifyCounts verify;
};

enum class ProgressMode { kAuto, kBar, kLines, kOff };

class ProgressReporter {
 public:
  ProgressReporter(ProgressMode mode, double interval_s, std::FILE* out = stderr);
  // Redraws (bar: at most 5×/s) or prints a line every interval_s.
  void Update(const CollectCounters& c, double now_s, bool force = false);
  // Ends the bar line.
  void Finish();

  static std::string Line(const CollectCounters& c, double elapsed_s);

 private:
  ProgressMode mode_;
  double interval_s_;
  std::FILE* out_;
  double start_s_ = -1;
  double last_s_ = -1;
  bool drew_bar_ = false;
};

// Multi-line human summary of a finished run (with the inline-verify reject table when verify_enabled).
std::string FormatSummary(const CollectCounters& c, bool priced);

}  // namespace distill::data::collect
