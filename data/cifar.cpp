// CIFAR-10 binary batches: every file's size is checked to hold whole records before reading.
#include "data/cifar.h"

#include <cstring>
#include <filesystem>

#include "data/file_io.h"

namespace wick::data {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kSide = 32, kChannels = 3, kPixels = kChannels * kSide * kSide, kRecord = 1 + kPixels;
constexpr uint64_t kMaxFile = uint64_t(1) << 32;  // a real batch is 30,730,000 bytes

}  // namespace

Normalization CIFAR10::standard_normalization() {
  return {{0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}};
}

std::vector<std::string> CIFAR10::classes() {
  return {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
}

std::vector<std::string> CIFAR10::files(Split split) {
  if (split == Split::Test) return {"test_batch.bin"};
  return {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"};
}

namespace {

ImageDataset load_cifar10(const std::string& dir, Split split) {
  const std::string who = "CIFAR10";
  std::vector<std::string> names = CIFAR10::files(split);
  // The folder that has the first file: dir itself or dir/cifar-10-batches-bin.
  fs::path root = dir;
  if (!detail::is_file((root / names[0]).string()) && detail::is_file((root / "cifar-10-batches-bin" / names[0]).string()))
    root /= "cifar-10-batches-bin";
  std::vector<std::string> paths;
  uint64_t total = 0;
  for (const std::string& name : names) {
    std::string path = (root / name).string();
    WICK_CHECK(detail::is_file(path), who, ": cannot find ", path, " for the ", split_name(split),
               " split; give the folder of CIFAR-10's binary version (data_batch_1.bin .. "
               "data_batch_5.bin, test_batch.bin, or their cifar-10-batches-bin folder)");
    uint64_t size = detail::file_size(path, who);
    WICK_CHECK(size > 0 && size % kRecord == 0, who, ": ", path, " has ", size, " bytes, not a whole number of ",
               kRecord, "-byte records (1 label + 3072 pixels)", size > 0 ? ": truncated or not a CIFAR-10 batch" : "");
    WICK_CHECK(size <= kMaxFile, who, ": ", path, " has ", size, " bytes, far more than a CIFAR-10 batch");
    paths.push_back(path);
    total += size / kRecord;
  }
  std::vector<uint8_t> pixels(total * kPixels);
  std::vector<int64_t> labels(total);
  uint64_t at = 0;
  for (const std::string& path : paths) {
    std::vector<uint8_t> bytes = detail::read_file(path, kMaxFile, who);
    uint64_t records = bytes.size() / kRecord;
    for (uint64_t r = 0; r < records; ++r, ++at) {
      const uint8_t* rec = bytes.data() + r * kRecord;
      WICK_CHECK(rec[0] < 10, who, ": label ", int(rec[0]), " of record ", r, " in ", path,
                 " is outside [0, 10): not a CIFAR-10 batch (CIFAR-100's records have 2 label bytes)");
      labels[at] = rec[0];
      std::memcpy(pixels.data() + at * kPixels, rec + 1, kPixels);
    }
  }
  return ImageDataset(std::move(pixels), std::move(labels), kChannels, kSide, kSide, 10,
                      CIFAR10::standard_normalization(), CIFAR10::classes(), who);
}

}  // namespace

CIFAR10::CIFAR10(const std::string& dir, Split split) : ImageDataset(load_cifar10(dir, split)) {}

}  // namespace wick::data
