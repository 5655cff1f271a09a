#include "tools/eval/report_svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "absl/strings/str_format.h"
#include "tools/eval/report.h"

namespace distill::eval::svg {
namespace {

// Geometry (viewBox units); the SVG scales to its container's width.
constexpr double kWidth = 640, kHeight = 320;
constexpr double kLeft = 70, kRight = 16, kTop = 34, kBottom = 48;
constexpr double kPlotW = kWidth - kLeft - kRight, kPlotH = kHeight - kTop - kBottom;

std::string Num(double v) { return absl::StrFormat("%.1f", v); }

struct Axis {
  std::vector<double> ticks;
  double lo = 0, hi = 1;
};

Axis MakeAxis(double lo, double hi, int target) {
  Axis a;
  a.ticks = NiceTicks(lo, hi, target);
  a.lo = a.ticks.front();
  a.hi = a.ticks.back();
  return a;
}

double MapX(const Axis& x, double v) { return kLeft + (v - x.lo) / (x.hi - x.lo) * kPlotW; }
double MapY(const Axis& y, double v) { return kTop + kPlotH - (v - y.lo) / (y.hi - y.lo) * kPlotH; }

// The frame, grid lines, tick labels, axis labels and title.
std::string Axes(const ChartText& text, const Axis& x, const Axis& y, bool x_ticks_at_values) {
  std::string out;
  out += absl::StrFormat("<text class=\"title\" x=\"%s\" y=\"20\" font-size=\"14\" font-weight=\"600\" "
                         "fill=\"#222\">%s</text>\n",
                         Num(kLeft), HtmlEscape(text.title));
  for (double t : y.ticks) {
    const double py = MapY(y, t);
    out += absl::StrFormat("<line class=\"grid\" x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#e3e3e3\"/>\n",
                           Num(kLeft), Num(py), Num(kLeft + kPlotW), Num(py));
    out += absl::StrFormat("<text class=\"tick y\" x=\"%s\" y=\"%s\" text-anchor=\"end\" font-size=\"11\" "
                           "fill=\"#444\">%s</text>\n",
                           Num(kLeft - 6), Num(py + 4), HtmlEscape(FormatTick(t)));
  }
  if (x_ticks_at_values) {
    for (double t : x.ticks) {
      const double px = MapX(x, t);
      out += absl::StrFormat("<line class=\"tickmark\" x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#888\"/>\n",
                             Num(px), Num(kTop + kPlotH), Num(px), Num(kTop + kPlotH + 5));
      out += absl::StrFormat("<text class=\"tick x\" x=\"%s\" y=\"%s\" text-anchor=\"middle\" font-size=\"11\" "
                             "fill=\"#444\">%s</text>\n",
                             Num(px), Num(kTop + kPlotH + 18), HtmlEscape(FormatTick(t)));
    }
  }
  out += absl::StrFormat("<rect class=\"frame\" x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"none\" "
                         "stroke=\"#888\"/>\n",
                         Num(kLeft), Num(kTop), Num(kPlotW), Num(kPlotH));
  out += absl::StrFormat("<text class=\"label x\" x=\"%s\" y=\"%s\" text-anchor=\"middle\" font-size=\"12\" "
                         "fill=\"#222\">%s</text>\n",
                         Num(kLeft + kPlotW / 2), Num(kHeight - 10), HtmlEscape(text.x_label));
  out += absl::StrFormat("<text class=\"label y\" x=\"16\" y=\"%s\" text-anchor=\"middle\" font-size=\"12\" "
                         "fill=\"#222\" transform=\"rotate(-90 16 %s)\">%s</text>\n",
                         Num(kTop + kPlotH / 2), Num(kTop + kPlotH / 2), HtmlEscape(text.y_label));
  return out;
}

// Legend entries in a row above the plot's top right corner (beside the title, never over the data).
std::string Legend(const std::vector<std::pair<std::string, std::string>>& entries) {
  if (entries.empty()) return "";
  auto width = [](const std::string& label) {
    return 20 + 6.2 * static_cast<double>(std::min<size_t>(label.size(), 40));
  };
  double total = 0;
  for (const auto& entry : entries) total += width(entry.first) + 10;
  double x = kLeft + kPlotW - total + 10;
  const double y = 20;
  std::string out = "<g class=\"legend\">\n";
  for (const auto& [label, color] : entries) {
    out += absl::StrFormat("<rect x=\"%s\" y=\"%s\" width=\"12\" height=\"4\" fill=\"%s\"/>"
                           "<text x=\"%s\" y=\"%s\" font-size=\"11\" fill=\"#222\">%s</text>\n",
                           Num(x), Num(y - 6), HtmlEscape(color), Num(x + 16), Num(y - 1), HtmlEscape(label));
    x += width(label) + 10;
  }
  return out + "</g>\n";
}

std::string Open(const ChartText& text, const std::string& kind) {
  return absl::StrFormat("<svg class=\"chart %s\" data-chart=\"%s\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
                         "role=\"img\" aria-label=\"%s\" font-family=\"system-ui, sans-serif\">\n",
                         kind, HtmlEscape(text.data_chart), static_cast<int>(kWidth), static_cast<int>(kHeight),
                         static_cast<int>(kWidth), static_cast<int>(kHeight), HtmlEscape(text.title));
}

std::string NoData() {
  return absl::StrFormat("<text class=\"nodata\" x=\"%s\" y=\"%s\" text-anchor=\"middle\" font-size=\"13\" "
                         "fill=\"#888\">no data</text>\n",
                         Num(kLeft + kPlotW / 2), Num(kTop + kPlotH / 2));
}

// Keeps, per pixel column, the first, lowest, highest and last point, in their order: the drawn line is the same.
std::vector<std::pair<double, double>> Thin(const std::vector<std::pair<double, double>>& pts, const Axis& x) {
  if (pts.size() <= static_cast<size_t>(4 * kPlotW)) return pts;
  std::vector<std::pair<double, double>> out;
  size_t i = 0;
  while (i < pts.size()) {
    const long column = std::lround(MapX(x, pts[i].first));
    size_t j = i;
    size_t lo = i, hi = i;
    while (j < pts.size() && std::lround(MapX(x, pts[j].first)) == column) {
      if (pts[j].second < pts[lo].second) lo = j;
      if (pts[j].second > pts[hi].second) hi = j;
      ++j;
    }
    std::vector<size_t> keep = {i, lo, hi, j - 1};
    std::sort(keep.begin(), keep.end());
    keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
    for (size_t k : keep) out.push_back(pts[k]);
    i = j;
  }
  return out;
}

}  // namespace

std::vector<double> NiceTicks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (lo > hi) std::swap(lo, hi);
  if (hi - lo <= std::max(std::abs(lo), std::abs(hi)) * 1e-12) {
    const double pad = lo == 0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  target = std::max(target, 2);
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  const double first = std::floor(lo / step + 1e-9);
  const double last = std::ceil(hi / step - 1e-9);
  std::vector<double> ticks;
  for (double k = first; k <= last + 0.5 && ticks.size() < 64; k += 1) {
    double t = k * step;
    if (std::abs(t) < step * 1e-9) t = 0;  // no "-0"
    ticks.push_back(t);
  }
  if (ticks.size() < 2) ticks = {lo, hi};
  return ticks;
}

std::string FormatTick(double v) {
  const double a = std::abs(v);
  if (a >= 1e9) return absl::StrFormat("%.4gG", v / 1e9);
  if (a >= 1e6) return absl::StrFormat("%.4gM", v / 1e6);
  if (a >= 1e4) return absl::StrFormat("%.4gk", v / 1e3);
  return absl::StrFormat("%.4g", v);
}

std::string LineChart(const ChartText& text, const std::vector<Series>& series) {
  std::vector<std::vector<std::pair<double, double>>> clean(series.size());
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (size_t s = 0; s < series.size(); ++s) {
    for (const auto& p : series[s].points) {
      if (!std::isfinite(p.first) || !std::isfinite(p.second)) continue;
      clean[s].push_back(p);
      x_lo = std::min(x_lo, p.first), x_hi = std::max(x_hi, p.first);
      y_lo = std::min(y_lo, p.second), y_hi = std::max(y_hi, p.second);
    }
  }
  const bool empty = !std::isfinite(x_lo);
  if (empty) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
  const Axis x = MakeAxis(x_lo, x_hi, 6);
  const Axis y = MakeAxis(y_lo, y_hi, 5);

  std::string out = Open(text, "line");
  out += Axes(text, x, y, true);
  if (empty) out += NoData();
  std::vector<std::pair<std::string, std::string>> legend;
  for (size_t s = 0; s < series.size(); ++s) {
    if (clean[s].empty()) continue;
    legend.emplace_back(series[s].label, series[s].color);
    const std::string color = HtmlEscape(series[s].color);
    out += absl::StrFormat("<g class=\"series\" data-series=\"%s\">\n", HtmlEscape(series[s].label));
    if (clean[s].size() >= 2) {
      std::string pts;
      for (const auto& [px, py] : Thin(clean[s], x)) {
        if (!pts.empty()) pts += ' ';
        pts += Num(MapX(x, px)) + "," + Num(MapY(y, py));
      }
      out += absl::StrFormat("<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" "
                             "stroke-linejoin=\"round\" points=\"%s\"/>\n",
                             color, pts);
    }
    if (series[s].markers || clean[s].size() == 1) {
      for (const auto& [px, py] : clean[s]) {
        out += absl::StrFormat("<circle class=\"marker\" cx=\"%s\" cy=\"%s\" r=\"3\" fill=\"%s\"/>\n",
                               Num(MapX(x, px)), Num(MapY(y, py)), color);
      }
    }
    out += "</g>\n";
  }
  out += Legend(legend);
  return out + "</svg>\n";
}

std::vector<Bin> HistogramBins(const std::vector<double>& values, const std::vector<int>& stack_of, int stacks,
                               int max_bins, bool integers) {
  std::vector<Bin> bins;
  double max = 0;
  bool any = false;
  for (double v : values) {
    if (std::isfinite(v) && v >= 0) max = std::max(max, v), any = true;
  }
  if (!any) return bins;
  max_bins = std::max(max_bins, 1);
  // The nice width: the smallest 1/2/5 × 10^k that covers [0, max] (max itself included) in max_bins bins.
  const double raw = std::max(max, 1e-12) / max_bins;
  double width = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    const double w = m * std::pow(10.0, std::floor(std::log10(raw)));
    width = w;
    if (std::floor(max / w) + 1 <= max_bins) break;
  }
  if (integers) width = std::max(1.0, std::ceil(width));
  const int count = static_cast<int>(std::floor(max / width)) + 1;
  bins.resize(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    bins[static_cast<size_t>(i)].lo = i * width;
    bins[static_cast<size_t>(i)].hi = (i + 1) * width;
    bins[static_cast<size_t>(i)].counts.assign(static_cast<size_t>(std::max(stacks, 1)), 0);
  }
  for (size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    if (!std::isfinite(v) || v < 0) continue;
    const size_t b = std::min(static_cast<size_t>(v / width), bins.size() - 1);
    const int s = i < stack_of.size() ? std::clamp(stack_of[i], 0, std::max(stacks, 1) - 1) : 0;
    ++bins[b].counts[static_cast<size_t>(s)];
  }
  return bins;
}

std::string BarChart(const ChartText& text, const std::vector<Bin>& bins, const std::vector<std::string>& stack_labels,
                     const std::vector<std::string>& stack_colors) {
  int64_t tallest = 0;
  for (const Bin& b : bins) {
    int64_t total = 0;
    for (int64_t c : b.counts) total += c;
    tallest = std::max(tallest, total);
  }
  const bool empty = bins.empty();
  const Axis x = empty ? MakeAxis(0, 1, 6) : MakeAxis(bins.front().lo, bins.back().hi, 6);
  Axis y = MakeAxis(0, static_cast<double>(std::max<int64_t>(tallest, 1)), 5);
  if (tallest < 5) {  // whole counts only
    y.ticks.clear();
    for (int64_t i = 0; i <= std::max<int64_t>(tallest, 1); ++i) y.ticks.push_back(static_cast<double>(i));
    y.lo = 0, y.hi = y.ticks.back();
  }

  std::string out = Open(text, "histogram");
  out += Axes(text, x, y, true);
  if (empty) out += NoData();
  for (const Bin& b : bins) {
    const double x0 = MapX(x, b.lo), x1 = MapX(x, b.hi);
    double base = 0;
    for (size_t s = 0; s < b.counts.size(); ++s) {
      if (b.counts[s] == 0) continue;
      const double top = base + static_cast<double>(b.counts[s]);
      const double y0 = MapY(y, top), y1 = MapY(y, base);
      const std::string color = s < stack_colors.size() ? stack_colors[s] : "#888";
      const std::string label = s < stack_labels.size() ? stack_labels[s] : "";
      out += absl::StrFormat("<rect class=\"bar\" data-stack=\"%s\" x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" "
                             "fill=\"%s\" stroke=\"#fff\" stroke-width=\"0.5\"><title>%s–%s: %d %s</title></rect>\n",
                             HtmlEscape(label), Num(x0), Num(y0), Num(std::max(x1 - x0, 0.5)),
                             Num(std::max(y1 - y0, 0.5)), HtmlEscape(color), HtmlEscape(FormatTick(b.lo)),
                             HtmlEscape(FormatTick(b.hi)), b.counts[s], HtmlEscape(label));
      base = top;
    }
  }
  std::vector<std::pair<std::string, std::string>> legend;
  for (size_t s = 0; s < stack_labels.size() && s < stack_colors.size(); ++s) {
    legend.emplace_back(stack_labels[s], stack_colors[s]);
  }
  if (!empty) out += Legend(legend);
  return out + "</svg>\n";
}

}  // namespace distill::eval::svg
