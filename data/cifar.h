// CIFAR-10 in its binary version (data_batch_1.bin .. data_batch_5.bin, test_batch.bin).
#pragma once
#include <string>
#include <vector>

#include "dataset.h"

namespace wick::data {

// CIFAR-10: 32x32 RGB images, 10 classes. `dir` holds the .bin batches, directly or in a
// cifar-10-batches-bin subfolder. Each record is 1 label byte then 3072 pixel bytes (1024 red,
// 1024 green, 1024 blue, rows top to bottom), which is exactly (C, H, W). The train split reads
// all five data batches in order; the test split reads test_batch.bin. Normalized with mean
// (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616).
class CIFAR10 : public ImageDataset {
 public:
  explicit CIFAR10(const std::string& dir, Split split = Split::Train);
  static Normalization standard_normalization();
  static std::vector<std::string> classes();  // "airplane", "automobile", ... "truck"
  // The batch files a split reads, in order.
  static std::vector<std::string> files(Split split);
};

}  // namespace wick::data
