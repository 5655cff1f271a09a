#include "data/collect/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"

namespace distill::data::collect {
namespace {

std::string Duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  int64_t t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600) return absl::StrFormat("%dh%02dm", t / 3600, (t % 3600) / 60);
  if (t >= 60) return absl::StrFormat("%dm%02ds", t / 60, t % 60);
  return absl::StrFormat("%ds", t);
}

}  // namespace

ProgressReporter::ProgressReporter(ProgressMode mode, double interval_s, std::FILE* out)
    : mode_(mode), interval_s_(interval_s), out_(out) {
  if (mode_ == ProgressMode::kAuto) mode_ = ::isatty(::fileno(out_)) ? ProgressMode::kBar : ProgressMode::kLines;
}

std::string ProgressReporter::Line(const CollectCounters& c, double elapsed_s) {
  int64_t done = c.skipped_done + c.succeeded + c.failed;
  int64_t this_run = c.succeeded + c.failed;
  double el = std::max(elapsed_s, 1e-6);
  double per_s = this_run / el;
  double eta = per_s > 0 ? (c.total - done) / per_s : NAN;
  return absl::StrFormat("%d/%d done (%d skipped), %.2f req/s, %.0f tok/s, %d failed, %d retries, ETA %s", done,
                         c.total, c.skipped_done, c.requests / el, (c.prompt_tokens + c.completion_tokens) / el,
                         c.failed, c.retries, done >= c.total ? "0s" : Duration(eta));
}

void ProgressReporter::Update(const CollectCounters& c, double now_s, bool force) {
  if (mode_ == ProgressMode::kOff) return;
  if (start_s_ < 0) {
    start_s_ = now_s - c.elapsed_s;
    last_s_ = now_s;  // the first line after one interval, when the rates mean something
  }
  double since = now_s - last_s_;
  if (mode_ == ProgressMode::kBar) {
    if (!force && since < 0.2) return;
    int64_t done = c.skipped_done + c.succeeded + c.failed;
    double frac = c.total > 0 ? static_cast<double>(done) / static_cast<double>(c.total) : 1.0;
    int width = 24;
    int fill = static_cast<int>(frac * width);
    std::string bar(static_cast<size_t>(fill), '#');
    bar.append(static_cast<size_t>(width - fill), '.');
    std::fprintf(out_, "\r[%s] %3.0f%% %s\x1b[K", bar.c_str(), frac * 100, Line(c, c.elapsed_s).c_str());
    drew_bar_ = true;
  } else {
    if (!force && since < interval_s_) return;
    std::fprintf(out_, "distill collect: %s\n", Line(c, c.elapsed_s).c_str());
  }
  std::fflush(out_);
  last_s_ = now_s;
}

void ProgressReporter::Finish() {
  if (drew_bar_) std::fprintf(out_, "\n");
  drew_bar_ = false;
}

std::string FormatSummary(const CollectCounters& c, bool priced) {
  std::string out = absl::StrFormat(
      "%s: %d traces written, %d failed, %d already done (of %d); %d malformed prompt lines\n"
      "requests %d (%d retries, %d rate-limited) in %s\n"
      "tokens: prompt %d, completion %d (reasoning %d), total %d\n",
      c.cancelled ? "interrupted" : "finished", c.succeeded, c.failed, c.skipped_done, c.total, c.malformed_prompts,
      c.requests, c.retries, c.rate_limited, Duration(c.elapsed_s), c.prompt_tokens, c.completion_tokens,
      c.reasoning_tokens, c.prompt_tokens + c.completion_tokens);
  if (priced) out += absl::StrFormat("estimated cost: %.4f\n", c.cost);
  if (c.verify_enabled) {
    out += "inline verify (verdicts in the trace lines; all traces kept):\n";
    out += data::FormatCountsTable(c.verify);
  }
  return out;
}

}  // namespace distill::data::collect
