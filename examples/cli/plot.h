// Training curves as a self-contained SVG (loss and accuracy, train and test) that any browser shows.
#pragma once
#include <string>
#include <vector>

namespace wick::cli {

struct CurvePoint {
  double epoch;  // fractional epochs
  double value;
};

struct Curves {
  std::vector<CurvePoint> train_loss, test_loss, train_acc, test_acc;  // accuracies as fractions
  std::string title;
};

// Two panels side by side (loss, accuracy); written atomically.
void write_svg_plot(const std::string& path, const Curves& curves);

}  // namespace wick::cli
