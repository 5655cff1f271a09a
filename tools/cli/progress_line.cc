#include "tools/cli/progress_line.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_format.h"

namespace distill::cli {

ProgressLine::ProgressLine(std::string label, double total, std::string unit, std::FILE* out)
    : label_(std::move(label)), total_(total), unit_(std::move(unit)), out_(out), terminal_(isatty(fileno(out))) {}

std::string ProgressLine::Format(double done, const std::string& extra, double elapsed_s) const {
  const double rate = elapsed_s > 0 ? done / elapsed_s : 0;
  std::string line = label_;
  line += ": ";
  if (total_ > 0) {
    const double share = std::clamp(done / total_, 0.0, 1.0);
    if (terminal_) {
      constexpr int kWidth = 24;
      const int filled = static_cast<int>(share * kWidth);
      line.append("[").append(filled, '#').append(kWidth - filled, '.').append("] ");
    }
    line += absl::StrFormat("%3.0f%% %.1f/%.1f %s", share * 100, done, total_, unit_);
  } else {
    line += absl::StrFormat("%.1f %s", done, unit_);
  }
  line += absl::StrFormat(", %.1f %s/s", rate, unit_);
  if (!extra.empty()) line.append(", ").append(extra);
  if (total_ > 0 && rate > 0 && done < total_) line += absl::StrFormat(", ETA %.0fs", (total_ - done) / rate);
  return line;
}

void ProgressLine::Update(double done, const std::string& extra) {
  const double now = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double interval = terminal_ ? 0.2 : 10.0;
  // Plain lines start after one interval, so a short run prints only its final line.
  if (now - std::max(last_draw_s_, terminal_ ? -interval : 0.0) < interval) return;
  last_draw_s_ = now;
  if (terminal_) {
    std::fprintf(out_, "\r\x1b[2K%s", Format(done, extra, now).c_str());
  } else {
    std::fprintf(out_, "%s\n", Format(done, extra, now).c_str());
  }
  std::fflush(out_);
}

void ProgressLine::Finish(double done, const std::string& extra) {
  const double now = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(out_, terminal_ ? "\r\x1b[2K%s\n" : "%s\n", Format(done, extra, now).c_str());
  std::fflush(out_);
}

}  // namespace distill::cli
