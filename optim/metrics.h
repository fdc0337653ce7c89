// What a training run leaves on disk: per-epoch and per-step metrics as CSV (write_metrics_csv,
// write_steps_csv), and line charts as self-contained SVG files that any browser shows: generic
// panels of named series (write_svg_charts) and the training curves drawn with them (write_svg_plot).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace wick::train {

// One epoch of a run (train::fit fills them). Accuracies are fractions; the test (validation)
// figures are NaN when no test (validation) set was given; img_per_s and seconds cover the
// training steps only; lr is the first parameter group's at the epoch's last step.
struct EpochMetrics {
  int64_t epoch = 0, steps = 0;  // steps: optimizer steps since the start, this epoch's included
  double train_loss = 0, train_acc = 0, test_loss = 0, test_acc = 0, img_per_s = 0, seconds = 0;
  double val_loss = 0, val_acc = 0, lr = 0;
};

// The header "epoch,steps,train_loss,train_acc,test_loss,test_acc,img_per_s,seconds", then
// ",val_loss,val_acc" when `validation` and ",lr" when `lr`, and one line per epoch; written
// atomically.
void write_metrics_csv(const std::string& path, const std::vector<EpochMetrics>& epochs, bool validation = false,
                       bool lr = false);

// What train::fit's on_step sees after each optimizer step.
struct StepInfo {
  int64_t step = 0;           // steps so far, this one included
  int64_t epoch = 0;          // from 1
  int64_t step_in_epoch = 0;  // from 1
  int64_t images = 0;         // in this batch
  double loss = 0;            // this batch's mean loss, before the step
  int64_t correct = 0;        // this batch's correct predictions, before the step
  double lr = 0;              // the first parameter group's lr, as this step used it
};

// The header "step,epoch,lr,loss,acc" and one line per step (acc: the batch's); written atomically.
void write_steps_csv(const std::string& path, const std::vector<StepInfo>& steps);

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

// Panels side by side, `columns` to a row (0: all in one row), one legend per panel; written
// atomically.
void write_svg_charts(const std::string& path, const std::vector<Chart>& panels, size_t columns = 0);
// The same SVG document as text (to put inline in HTML, say).
std::string svg_charts(const std::vector<Chart>& panels, size_t columns = 0);

struct CurvePoint {
  double epoch;  // fractional epochs
  double value;
};

struct Curves {
  std::vector<CurvePoint> train_loss, test_loss, train_acc, test_acc;  // accuracies as fractions
  std::vector<CurvePoint> val_loss, val_acc, lr;  // empty when not measured
  std::string title;
};

// Panels side by side (loss, accuracy, and the learning rate when `lr` has points), validation
// curves when they have points, the title underneath; written atomically.
void write_svg_plot(const std::string& path, const Curves& curves);

}  // namespace wick::train
