// Line charts as self-contained SVG files that any browser shows: generic panels of named series
// (write_svg_charts) and the training curves drawn with them (write_svg_plot).
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace wick::cli {

// One line of a chart: (x, y) points in drawing order; non-finite values leave a gap.
struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;
};

// One panel: its series share the axes; log axes skip points that are not positive.
struct Chart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  bool log_x = false;
  bool log_y = false;
};

// Panels side by side, one legend per panel; written atomically.
void write_svg_charts(const std::string& path, const std::vector<Chart>& panels);

struct CurvePoint {
  double epoch;  // fractional epochs
  double value;
};

struct Curves {
  std::vector<CurvePoint> train_loss, test_loss, train_acc, test_acc;  // accuracies as fractions
  std::string title;
};

// Two panels side by side (loss, accuracy), the title underneath; written atomically.
void write_svg_plot(const std::string& path, const Curves& curves);

}  // namespace wick::cli
