// A progress display for long verbs: a redrawn bar with rate and ETA on a terminal, a plain line every few
// seconds otherwise (logs, CI). Not thread-safe; call from one thread.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace distill::cli {

class ProgressLine {
 public:
  // `label` prefixes every line ("distill build"); `total` is in `unit`s (e.g. MB); 0 = unknown.
  ProgressLine(std::string label, double total, std::string unit, std::FILE* out = stderr);
  // Reports `done` units so far, with `extra` appended ("1234 samples"). Redraws at most 5×/s on a terminal and
  // prints every 10 s otherwise.
  void Update(double done, const std::string& extra);
  // Sets the total once it is known (rates and ETA still count from construction).
  void set_total(double total) { total_ = total; }
  // Draws the final state and ends the bar's line.
  void Finish(double done, const std::string& extra);

 private:
  std::string Format(double done, const std::string& extra, double elapsed_s) const;

  std::string label_;
  double total_;
  std::string unit_;
  std::FILE* out_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  double last_draw_s_ = -1;
};

}  // namespace distill::cli
