// Synthetic: a small generated image dataset that a small CNN or MLP learns in seconds, for tests,
// examples and `wick train --data synthetic` on machines without real data.
#pragma once
#include <cstdint>

#include "dataset.h"
#include "../core/options.h"

namespace wick::data {

// All options are read once, when the images are generated.
struct SyntheticOptions {
  WICK_ARG(int64_t, classes) = 10;
  WICK_ARG(int64_t, channels) = 1;
  WICK_ARG(int64_t, height) = 28;
  WICK_ARG(int64_t, width) = 28;
  // Different seeds give different samples of the same classes (e.g. a training and a test set).
  WICK_ARG(uint64_t, seed) = 0;
  // Amplitude of the uniform background noise, as a fraction of full brightness.
  WICK_ARG(double, noise) = 0.25;
};

// n images; sample i has label i % classes. Class k is a bright shape (a disc for even k, a square
// for odd k) placed around the image centre at angle 2*pi*k/classes, its position, size and
// brightness jittered per sample, over uniform noise; with several channels each class also has
// its own tint. Each sample comes from its own generator seeded from (seed, i), so the dataset is
// the same at any thread count. Normalized with its own per-channel mean and std.
class Synthetic : public ImageDataset {
 public:
  explicit Synthetic(int64_t n, const SyntheticOptions& options = SyntheticOptions());
};

}  // namespace wick::data
