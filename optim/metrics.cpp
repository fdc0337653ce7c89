// The metrics CSV, and SVG line charts: per panel a frame with ticks on "nice" values (decades on
// log axes), axis labels, one polyline per series (dots when there are few points) and a legend.
#include "optim/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/atomic_file.h"

namespace wick::train {
namespace {

constexpr double kPanelW = 420, kPanelH = 300;
constexpr double kLeft = 58, kRight = 12, kTop = 36, kBottom = 46;  // plot area inside a panel
const char* const kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", std::abs(v) < 1e-12 ? 0.0 : v);
  return buf;
}

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '\'') out += "&apos;";
    else out += c;
  }
  return out;
}

// One axis: the drawn interval (in log10 units on a log axis) and the tick positions in it.
struct Axis {
  bool log = false;
  double lo = 0, hi = 1;
  std::vector<double> ticks;
  double frac(double v) const { return ((log ? std::log10(v) : v) - lo) / (hi - lo); }
  std::string label(double t) const { return log ? num(std::pow(10.0, t)) : num(t); }
};

bool usable(double v, bool log) { return std::isfinite(v) && (!log || v > 0); }

// Ticks every 1, 2 or 5 times a power of ten, about five of them, covering [lo, hi].
Axis linear_axis(double lo, double hi) {
  Axis a;
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (hi - lo < 1e-12 * std::max(1.0, std::abs(hi))) lo -= 0.5, hi += 0.5;
  double raw = (hi - lo) / 5, power = std::pow(10.0, std::floor(std::log10(raw)));
  double step = power * (raw <= power ? 1 : raw <= 2 * power ? 2 : raw <= 5 * power ? 5 : 10);
  a.lo = std::floor(lo / step + 1e-9) * step;
  a.hi = std::ceil(hi / step - 1e-9) * step;
  for (double t = a.lo; t <= a.hi + step / 2; t += step) a.ticks.push_back(t);
  return a;
}

// [lo, hi] (positive values) with a tick at every decade inside (every other one when many); widened
// to whole decades when fewer than two decades fall inside.
Axis log_axis(double lo, double hi) {
  Axis a;
  a.log = true;
  if (!std::isfinite(lo)) lo = 1, hi = 10;
  a.lo = std::log10(lo), a.hi = std::log10(hi);
  double first = std::ceil(a.lo - 1e-9), last = std::floor(a.hi + 1e-9);
  if (last - first < 1) {
    a.lo = first = std::floor(a.lo + 1e-9);
    a.hi = last = std::max(first + 1, std::ceil(a.hi - 1e-9));
  }
  int every = last - first > 8 ? 2 : 1;
  for (double t = first; t <= last + 0.5; t += every) a.ticks.push_back(t);
  return a;
}

Axis make_axis(const Chart& c, bool x) {
  bool log = x ? c.log_x : c.log_y;
  double lo = INFINITY, hi = -INFINITY;
  for (const Series& s : c.series)
    for (const auto& [px, py] : s.points)
      if (usable(px, c.log_x) && usable(py, c.log_y)) {
        double v = x ? px : py;
        lo = std::min(lo, v), hi = std::max(hi, v);
      }
  return log ? log_axis(lo, hi) : linear_axis(lo, hi);
}

void draw_panel(std::ostringstream& svg, double x0, double y0, const Chart& c) {
  const double left = x0 + kLeft, top = y0 + kTop, w = kPanelW - kLeft - kRight, h = kPanelH - kTop - kBottom;
  const Axis ax = make_axis(c, true), ay = make_axis(c, false);
  auto px = [&](double v) { return left + w * ax.frac(v); };
  auto py = [&](double v) { return top + h * (1 - ay.frac(v)); };
  svg << "<text x='" << left + w / 2 << "' y='" << y0 + 22 << "' text-anchor='middle' font-weight='bold'>" << escape(c.title)
      << "</text>\n";
  for (double t : ay.ticks) {
    double y = top + h * (1 - (t - ay.lo) / (ay.hi - ay.lo));
    svg << "<line x1='" << left << "' x2='" << left + w << "' y1='" << y << "' y2='" << y << "' stroke='#ddd'/>"
        << "<text x='" << left - 5 << "' y='" << y + 4 << "' text-anchor='end' font-size='11'>" << ay.label(t)
        << "</text>\n";
  }
  for (double t : ax.ticks) {
    double x = left + w * (t - ax.lo) / (ax.hi - ax.lo);
    svg << "<line x1='" << x << "' x2='" << x << "' y1='" << top + h << "' y2='" << top + h + 4
        << "' stroke='#444'/><text x='" << x << "' y='" << top + h + 16 << "' text-anchor='middle' font-size='11'>"
        << ax.label(t) << "</text>\n";
  }
  svg << "<rect x='" << left << "' y='" << top << "' width='" << w << "' height='" << h
      << "' fill='none' stroke='#444'/>\n";
  svg << "<text x='" << left + w / 2 << "' y='" << top + h + 34 << "' text-anchor='middle' font-size='12'>"
      << escape(c.x_label) << "</text>\n";
  svg << "<text transform='translate(" << x0 + 13 << "," << top + h / 2
      << ") rotate(-90)' text-anchor='middle' font-size='12'>" << escape(c.y_label) << "</text>\n";
  for (size_t i = 0; i < c.series.size(); ++i) {
    const Series& s = c.series[i];
    const char* colour = kColours[i % std::size(kColours)];
    std::ostringstream run;  // the current unbroken stretch of points
    auto flush = [&] {
      if (!run.str().empty()) svg << "<polyline fill='none' stroke='" << colour << "' stroke-width='1.6' points='"
                                  << run.str() << "'/>\n";
      run.str("");
    };
    for (const auto& [x, y] : s.points) {
      if (!usable(x, c.log_x) || !usable(y, c.log_y)) {
        flush();
        continue;
      }
      run << px(x) << "," << py(y) << " ";
      if (s.points.size() <= 30)
        svg << "<circle cx='" << px(x) << "' cy='" << py(y) << "' r='2.5' fill='" << colour << "'/>\n";
    }
    flush();
  }
  if (c.series.empty()) return;
  // The legend goes in the corner where it hides the fewest stretches of line.
  size_t longest = 0;
  for (const Series& s : c.series) longest = std::max(longest, s.name.size());
  const double box_w = 28 + 6.5 * static_cast<double>(longest), box_h = 16.0 * static_cast<double>(c.series.size()) + 6;
  double box_x = 0, box_y = 0;
  int fewest = -1;
  for (auto [cx, cy] : {std::pair{1, 0}, {0, 0}, {1, 1}, {0, 1}}) {  // top right first
    double bx = cx ? left + w - box_w - 6 : left + 6, by = cy ? top + h - box_h - 6 : top + 6;
    int hidden = 0;
    for (const Series& s : c.series)
      for (size_t k = 1; k < s.points.size(); ++k) {
        auto [x0p, y0p] = s.points[k - 1];
        auto [x1p, y1p] = s.points[k];
        if (!usable(x0p, c.log_x) || !usable(y0p, c.log_y) || !usable(x1p, c.log_x) || !usable(y1p, c.log_y)) continue;
        for (int j = 0; j <= 8; ++j) {  // points along the segment, as drawn
          double x = px(x0p) + (px(x1p) - px(x0p)) * j / 8, y = py(y0p) + (py(y1p) - py(y0p)) * j / 8;
          hidden += x >= bx && x <= bx + box_w && y >= by && y <= by + box_h;
        }
      }
    if (fewest < 0 || hidden < fewest) fewest = hidden, box_x = bx, box_y = by;
  }
  svg << "<rect x='" << box_x << "' y='" << box_y << "' width='" << box_w << "' height='" << box_h
      << "' fill='white' fill-opacity='0.85' stroke='#ccc'/>\n";
  for (size_t i = 0; i < c.series.size(); ++i) {
    double y = box_y + 14 + 16 * static_cast<double>(i);
    const char* colour = kColours[i % std::size(kColours)];
    svg << "<line x1='" << box_x + 5 << "' x2='" << box_x + 21 << "' y1='" << y - 4 << "' y2='" << y - 4
        << "' stroke='" << colour << "' stroke-width='2'/><text x='" << box_x + 25 << "' y='" << y
        << "' font-size='12'>" << escape(c.series[i].name) << "</text>\n";
  }
}

std::string svg_text(const std::vector<Chart>& panels, const std::string& caption, size_t columns = 0) {
  const size_t n = std::max<size_t>(panels.size(), 1), cols = columns ? std::min(columns, n) : n;
  const size_t rows = (n + cols - 1) / cols;
  const double width = kPanelW * static_cast<double>(cols);
  const double height = kPanelH * static_cast<double>(rows) + (caption.empty() ? 0 : 20);
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << height << "' viewBox='0 0 "
      << width << " " << height << "' font-family='sans-serif'>\n<rect width='100%' height='100%' fill='white'/>\n";
  for (size_t i = 0; i < panels.size(); ++i)
    draw_panel(svg, kPanelW * static_cast<double>(i % cols), kPanelH * static_cast<double>(i / cols), panels[i]);
  if (!caption.empty())
    svg << "<text x='" << width / 2 << "' y='" << height - 8 << "' text-anchor='middle' font-size='12' fill='#555'>"
        << escape(caption) << "</text>\n";
  svg << "</svg>\n";
  return svg.str();
}

void write_svg(const std::string& path, const std::vector<Chart>& panels, const std::string& caption,
               size_t columns = 0) {
  std::string text = svg_text(panels, caption, columns);
  write_file_atomic(path, [&](std::ostream& out) { out << text; });
}

Series curve(const std::string& name, const std::vector<CurvePoint>& points, double scale) {
  Series s{name, {}};
  for (const CurvePoint& p : points) s.points.emplace_back(p.epoch, scale * p.value);
  return s;
}

}  // namespace

void write_metrics_csv(const std::string& path, const std::vector<EpochMetrics>& epochs, bool validation, bool lr) {
  write_file_atomic(path, [&](std::ostream& out) {
    out << "epoch,steps,train_loss,train_acc,test_loss,test_acc,img_per_s,seconds"
        << (validation ? ",val_loss,val_acc" : "") << (lr ? ",lr" : "") << "\n";
    for (const EpochMetrics& r : epochs) {
      char line[320];
      int n = std::snprintf(line, sizeof line, "%lld,%lld,%.6f,%.6f,%.6f,%.6f,%.1f,%.2f",
                            static_cast<long long>(r.epoch), static_cast<long long>(r.steps), r.train_loss,
                            r.train_acc, r.test_loss, r.test_acc, r.img_per_s, r.seconds);
      if (validation) n += std::snprintf(line + n, sizeof line - n, ",%.6f,%.6f", r.val_loss, r.val_acc);
      if (lr) std::snprintf(line + n, sizeof line - n, ",%.9g", r.lr);
      out << line << "\n";
    }
  });
}

void write_steps_csv(const std::string& path, const std::vector<StepInfo>& steps) {
  write_file_atomic(path, [&](std::ostream& out) {
    out << "step,epoch,lr,loss,acc\n";
    for (const StepInfo& s : steps) {
      char line[160];
      std::snprintf(line, sizeof line, "%lld,%lld,%.9g,%.6f,%.6f\n", static_cast<long long>(s.step),
                    static_cast<long long>(s.epoch), s.lr, s.loss,
                    static_cast<double>(s.correct) / static_cast<double>(std::max<int64_t>(s.images, 1)));
      out << line;
    }
  });
}

void write_svg_charts(const std::string& path, const std::vector<Chart>& panels, size_t columns) {
  write_svg(path, panels, "", columns);
}

std::string svg_charts(const std::vector<Chart>& panels, size_t columns) { return svg_text(panels, "", columns); }

void write_svg_plot(const std::string& path, const Curves& c) {
  Chart loss{"loss", "epoch", "cross-entropy", {curve("train", c.train_loss, 1), curve("test", c.test_loss, 1)}};
  Chart acc{"accuracy", "epoch", "%", {curve("train", c.train_acc, 100), curve("test", c.test_acc, 100)}};
  if (!c.val_loss.empty()) {
    loss.series.push_back(curve("validation", c.val_loss, 1));
    acc.series.push_back(curve("validation", c.val_acc, 100));
  }
  std::vector<Chart> panels{loss, acc};
  if (!c.lr.empty()) panels.push_back({"learning rate", "epoch", "lr", {curve("lr", c.lr, 1)}});
  write_svg(path, panels, c.title);
}

}  // namespace wick::train
