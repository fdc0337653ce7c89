// IDX files (the MNIST format, plain or .gz) and the MNIST and Fashion-MNIST datasets built on them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "dataset.h"

namespace wick::data {

// An IDX array of unsigned bytes: its dimensions and its row-major data.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

// Reads an IDX file of unsigned bytes (type 0x08) with `ndim` dimensions, plain or gzip-compressed
// (decided by the content, not the name). Checks the magic number, that the sizes the header
// declares fit in the file before allocating anything, that the file holds exactly that much data,
// and the gzip stream. `who` prefixes every error message.
IdxArray read_idx(const std::string& path, int64_t ndim, const std::string& who = "read_idx");

// The (N, C=1, H, W) images and labels of an IDX pair such as train-images-idx3-ubyte and
// train-labels-idx1-ubyte found in `dir` (see MNIST for where it looks), as an ImageDataset.
// `install_hint` ends the missing-file message, e.g. "install dataset-fashion-mnist or pass --data-dir".
ImageDataset load_idx_dataset(const std::string& dir, Split split, const std::string& who, int64_t num_classes,
                              const Normalization& normalization, std::vector<std::string> class_names,
                              const std::string& install_hint);

// MNIST handwritten digits, 28x28 grey, classes "0".."9". `dir` holds train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each plain or with
// .gz (the plain file wins when both exist); the dotted spelling (train-images.idx3-ubyte) and
// torchvision's layout (dir/MNIST/raw/...) are found too. Normalized with mean 0.1307, std 0.3081.
class MNIST : public ImageDataset {
 public:
  explicit MNIST(const std::string& dir, Split split = Split::Train);
  static Normalization standard_normalization();
  static std::vector<std::string> classes();
};

// Fashion-MNIST (Zalando), the same file layout as MNIST; by default from Debian's
// dataset-fashion-mnist package. An empty `dir` means the default. Normalized with mean 0.2860,
// std 0.3530.
class FashionMNIST : public ImageDataset {
 public:
  static constexpr const char* kDefaultDir = "/usr/share/datasets/fashion-mnist";
  explicit FashionMNIST(const std::string& dir = kDefaultDir, Split split = Split::Train);
  explicit FashionMNIST(Split split) : FashionMNIST(kDefaultDir, split) {}
  static Normalization standard_normalization();
  static std::vector<std::string> classes();  // "T-shirt/top", "Trouser", ... "Ankle boot"
};

}  // namespace wick::data
