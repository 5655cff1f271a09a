// Inline SVG charts for the HTML report (tools/eval/report.h): line charts and stacked histograms with axes, "nice"
// ticks, axis labels and a legend. Output is an <svg> element for HTML5 (no xmlns, no scripts, no external
// references); every text argument is HTML-escaped here.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace distill::eval::svg {

// The texts around a chart; `data_chart` becomes the data-chart attribute (the test hook).
struct ChartText {
  std::string data_chart;
  std::string title;
  std::string x_label;
  std::string y_label;
};

// One line. Non-finite points are dropped; `markers` draws a dot per point (for sparse series such as val loss).
struct Series {
  std::string label;
  std::string color;  // CSS colour, e.g. "#1f77b4"
  std::vector<std::pair<double, double>> points;
  bool markers = false;
};

// A line chart: one <polyline class="series" data-series=LABEL> per series with two or more points (long series
// are thinned to the min/max per pixel column, so spikes survive), dots when asked or when a series has one point.
// With no points at all the axes are drawn around a "no data" note.
std::string LineChart(const ChartText& text, const std::vector<Series>& series);

// Histogram bin [lo, hi) with one count per stack.
struct Bin {
  double lo = 0, hi = 0;
  std::vector<int64_t> counts;
};

// Bins non-negative values from 0 into at most `max_bins` bins of a "nice" width (1, 2 or 5 × 10^k, at least 1
// when `integers`). `stack_of[i]` says which of `stacks` value i counts in.
std::vector<Bin> HistogramBins(const std::vector<double>& values, const std::vector<int>& stack_of, int stacks,
                               int max_bins, bool integers);

// Stacked bars (<rect class="bar">), one colour and legend entry per stack.
std::string BarChart(const ChartText& text, const std::vector<Bin>& bins, const std::vector<std::string>& stack_labels,
                     const std::vector<std::string>& stack_colors);

// About `target` evenly spaced round tick values covering [lo, hi] (first ≤ lo, last ≥ hi); a degenerate range is
// widened first. Exposed for tests.
std::vector<double> NiceTicks(double lo, double hi, int target);

// A tick label: short and free of float noise ("0.3", "2e-05", "12k", "1.5M").
std::string FormatTick(double value);

}  // namespace distill::eval::svg
