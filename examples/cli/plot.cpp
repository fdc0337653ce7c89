// SVG drawing of the training curves: axes with ticks, one polyline per series, a legend.
#include "plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/atomic_file.h"

namespace wick::cli {
namespace {

constexpr double kPanelW = 420, kPanelH = 300, kMargin = 50;
const char* kTrainColour = "#1f77b4";
const char* kTestColour = "#d62728";

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

struct Range {
  double lo, hi;
};

Range value_range(const std::vector<const std::vector<CurvePoint>*>& series, bool unit) {
  double lo = INFINITY, hi = -INFINITY;
  for (const auto* s : series)
    for (const auto& p : *s)
      if (std::isfinite(p.value)) lo = std::min(lo, p.value), hi = std::max(hi, p.value);
  if (unit) return {std::max(0.0, std::floor(lo * 10) / 10), 1.0};
  if (!std::isfinite(lo)) return {0, 1};
  if (hi - lo < 1e-9) hi = lo + 1;
  return {std::min(0.0, lo), hi * 1.05};
}

struct Series {
  const std::vector<CurvePoint>* points;
  const char* colour;
  const char* label;
};

void panel(std::ostringstream& svg, double x0, const std::string& title, const std::vector<Series>& series,
           double max_epoch, bool unit) {
  std::vector<const std::vector<CurvePoint>*> all;
  for (auto& s : series) all.push_back(s.points);
  Range r = value_range(all, unit);
  double left = x0 + kMargin, top = 40, w = kPanelW - kMargin - 10, h = kPanelH - 80;
  auto px = [&](double e) { return left + w * e / max_epoch; };
  auto py = [&](double v) { return top + h * (1 - (v - r.lo) / (r.hi - r.lo)); };
  svg << "<text x='" << left + w / 2 << "' y='24' text-anchor='middle' font-weight='bold'>" << title << "</text>\n";
  svg << "<rect x='" << left << "' y='" << top << "' width='" << w << "' height='" << h
      << "' fill='none' stroke='#444'/>\n";
  for (int i = 0; i <= 4; ++i) {
    double v = r.lo + (r.hi - r.lo) * i / 4, y = py(v);
    svg << "<line x1='" << left << "' x2='" << left + w << "' y1='" << y << "' y2='" << y << "' stroke='#ddd'/>"
        << "<text x='" << left - 6 << "' y='" << y + 4 << "' text-anchor='end' font-size='11'>"
        << (unit ? num(100 * v) + "%" : num(v)) << "</text>\n";
  }
  int ticks = std::max(1, static_cast<int>(std::ceil(max_epoch)));
  for (int e = 0; e <= ticks; e += std::max(1, ticks / 10)) {
    svg << "<text x='" << px(e) << "' y='" << top + h + 16 << "' text-anchor='middle' font-size='11'>" << e
        << "</text>\n";
  }
  svg << "<text x='" << left + w / 2 << "' y='" << top + h + 34 << "' text-anchor='middle' font-size='12'>epoch</text>\n";
  int row = 0;
  for (auto& [points, colour, label] : series) {
    if (points->empty()) continue;
    svg << "<polyline fill='none' stroke='" << colour << "' stroke-width='1.6' points='";
    for (auto& p : *points)
      if (std::isfinite(p.value)) svg << px(p.epoch) << "," << py(p.value) << " ";
    svg << "'/>\n";
    for (auto& p : *points)
      if (points->size() <= 30 && std::isfinite(p.value))
        svg << "<circle cx='" << px(p.epoch) << "' cy='" << py(p.value) << "' r='2.5' fill='" << colour << "'/>\n";
    svg << "<text x='" << left + w - 8 << "' y='" << top + 16 + 16 * row++ << "' text-anchor='end' font-size='12' fill='"
        << colour << "'>" << label << "</text>\n";
  }
}

}  // namespace

void write_svg_plot(const std::string& path, const Curves& c) {
  double max_epoch = 1e-9;
  for (const auto* s : {&c.train_loss, &c.test_loss, &c.train_acc, &c.test_acc})
    for (auto& p : *s) max_epoch = std::max(max_epoch, p.epoch);
  max_epoch = std::ceil(max_epoch - 1e-9);
  if (max_epoch < 1) max_epoch = 1;
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << 2 * kPanelW << "' height='" << kPanelH + 20
      << "' font-family='sans-serif'>\n<rect width='100%' height='100%' fill='white'/>\n";
  if (!c.title.empty())
    svg << "<text x='" << kPanelW << "' y='" << kPanelH + 12 << "' text-anchor='middle' font-size='12' fill='#555'>"
        << c.title << "</text>\n";
  panel(svg, 0, "loss", {{&c.train_loss, kTrainColour, "train"}, {&c.test_loss, kTestColour, "test"}}, max_epoch,
        false);
  panel(svg, kPanelW, "accuracy", {{&c.train_acc, kTrainColour, "train"}, {&c.test_acc, kTestColour, "test"}},
        max_epoch, true);
  svg << "</svg>\n";
  std::string text = svg.str();
  write_file_atomic(path, [&](std::ostream& out) { out << text; });
}

}  // namespace wick::cli
