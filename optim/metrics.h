// What a training run leaves on disk: per-epoch metrics as CSV (write_metrics_csv), and line charts
// as self-contained SVG files that any browser shows: generic panels of named series
// (write_svg_charts) and the training curves drawn with them (write_svg_plot).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace wick::train {

// One epoch of a run (train::fit fills them). Accuracies are fractions; the test figures are NaN
// when no test set was given; img_per_s and seconds cover the training steps only.
struct EpochMetrics {
  int64_t epoch = 0, steps = 0;  // steps: optimizer steps since the start, this epoch's included
  double train_loss = 0, train_acc = 0, test_loss = 0, test_acc = 0, img_per_s = 0, seconds = 0;
};

// The header "epoch,steps,train_loss,train_acc,test_loss,test_acc,img_per_s,seconds" and one line
// per epoch; written atomically.
void write_metrics_csv(const std::string& path, const std::vector<EpochMetrics>& epochs);

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

}  // namespace wick::train
