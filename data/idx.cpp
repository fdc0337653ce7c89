// IDX reading (plain or gzip through zlib) with every size checked before allocating, and the
// MNIST / Fashion-MNIST datasets.
#include "data/idx.h"

#include <filesystem>

#include "data/file_io.h"

namespace wick::data {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMaxDim = int64_t(1) << 31;

std::string hex32(uint32_t v) {
  const char* digits = "0123456789abcdef";
  std::string s = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) s.push_back(digits[(v >> shift) & 0xf]);
  return s;
}

// `base` (e.g. "train-images-idx3-ubyte") in dir, or one of its usual variants; "" when absent.
std::string find_idx_file(const std::string& dir, const std::string& base, const std::string& dataset_dir_name) {
  std::string dotted = base;  // train-images-idx3-ubyte -> train-images.idx3-ubyte
  auto dash = dotted.rfind("-idx");
  if (dash != std::string::npos) dotted[dash] = '.';
  for (const std::string& sub : {std::string(), dataset_dir_name + "/raw"})
    for (const std::string& name : {base, dotted})
      for (const char* ext : {"", ".gz"}) {
        fs::path p = sub.empty() ? fs::path(dir) / (name + ext) : fs::path(dir) / sub / (name + ext);
        if (detail::is_file(p.string())) return p.string();
      }
  return {};
}

}  // namespace

IdxArray read_idx(const std::string& path, int64_t ndim, const std::string& who) {
  detail::GzReader in(path, who);
  unsigned char magic[4];
  in.read(magic, 4, "magic number");
  uint32_t m = (uint32_t(magic[0]) << 24) | (uint32_t(magic[1]) << 16) | (uint32_t(magic[2]) << 8) | magic[3];
  uint32_t expected = 0x800u | static_cast<uint32_t>(ndim);
  WICK_CHECK(m == expected, who, ": ", path, " has a bad magic number ", hex32(m), " (expected ", hex32(expected),
             ": an IDX file of unsigned bytes with ", ndim, " dimension", ndim == 1 ? "" : "s",
             "); is it the right file?");
  IdxArray arr;
  std::vector<unsigned char> head(static_cast<size_t>(4 * ndim));
  in.read(head.data(), head.size(), "header");
  uint64_t total = 1;
  for (int64_t d = 0; d < ndim; ++d) {
    const unsigned char* p = head.data() + 4 * d;
    int64_t v = (int64_t(p[0]) << 24) | (int64_t(p[1]) << 16) | (int64_t(p[2]) << 8) | p[3];
    WICK_CHECK(v > 0 && v < kMaxDim, who, ": ", path, " declares dimension ", d, " of size ", v,
               ", expected a positive size");
    arr.dims.push_back(v);
    // sizes below 2^31 each: stop before the product could overflow
    WICK_CHECK(total <= (uint64_t(1) << 62) / static_cast<uint64_t>(v), who, ": ", path,
               " declares an impossibly large array");
    total *= static_cast<uint64_t>(v);
  }
  uint64_t header = 4 + 4 * static_cast<uint64_t>(ndim);
  if (!in.compressed()) {
    WICK_CHECK(in.stored_size() >= header + total, who, ": ", path, " is truncated: its header declares ", total,
               " data bytes but the file has only ", in.stored_size() - header);
    WICK_CHECK(in.stored_size() == header + total, who, ": ", path, " has ", in.stored_size() - header - total,
               " bytes after the ", total, " data bytes its header declares");
  } else {
    WICK_CHECK(total <= in.max_content_bytes(), who, ": ", path, " declares ", total,
               " data bytes, more than its ", in.stored_size(), " compressed bytes can hold: truncated or corrupt");
  }
  in.read_into(arr.data, total, "data");
  WICK_CHECK(in.at_end(), who, ": ", path, " has more data than the ", total, " bytes its header declares");
  return arr;
}

ImageDataset load_idx_dataset(const std::string& dir, Split split, const std::string& who, int64_t num_classes,
                              const Normalization& normalization, std::vector<std::string> class_names,
                              const std::string& install_hint) {
  std::string prefix = split == Split::Train ? "train" : "t10k";
  std::string images_name = prefix + "-images-idx3-ubyte", labels_name = prefix + "-labels-idx1-ubyte";
  std::string images_path = find_idx_file(dir, images_name, who), labels_path = find_idx_file(dir, labels_name, who);
  for (const auto& [path, name] : {std::pair{images_path, images_name}, std::pair{labels_path, labels_name}})
    WICK_CHECK(!path.empty(), who, ": cannot find ", (fs::path(dir) / name).string(), " (or ", name,
               ".gz) for the ", split_name(split), " split; ", install_hint);
  IdxArray labels = read_idx(labels_path, 1, who);
  IdxArray images = read_idx(images_path, 3, who);
  WICK_CHECK(images.dims[0] == labels.dims[0], who, ": ", images_path, " has ", images.dims[0], " images but ",
             labels_path, " has ", labels.dims[0], " labels");
  std::vector<int64_t> targets(labels.data.size());
  for (size_t i = 0; i < targets.size(); ++i) {
    targets[i] = labels.data[i];
    WICK_CHECK(targets[i] < num_classes, who, ": label ", targets[i], " of sample ", i, " in ", labels_path,
               " is outside [0, ", num_classes, ")");
  }
  return ImageDataset(std::move(images.data), std::move(targets), 1, images.dims[1], images.dims[2], num_classes,
                      normalization, std::move(class_names), who);
}

Normalization MNIST::standard_normalization() { return {{0.1307f}, {0.3081f}}; }

std::vector<std::string> MNIST::classes() { return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}; }

MNIST::MNIST(const std::string& dir, Split split)
    : ImageDataset(load_idx_dataset(dir, split, "MNIST", 10, standard_normalization(), classes(),
                                    "put MNIST's IDX files there or give the folder that holds them")) {}

Normalization FashionMNIST::standard_normalization() { return {{0.2860f}, {0.3530f}}; }

std::vector<std::string> FashionMNIST::classes() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
}

FashionMNIST::FashionMNIST(const std::string& dir, Split split)
    : ImageDataset(load_idx_dataset(dir.empty() ? kDefaultDir : dir, split, "FashionMNIST", 10,
                                    standard_normalization(), classes(),
                                    "install dataset-fashion-mnist or give the folder that holds the files")) {}

}  // namespace wick::data
