// Datasets: the Dataset interface (one example, or a whole batch at once), TensorDataset, Subset,
// and ImageDataset, the base of every image reader, which keeps raw uint8 pixels in memory and
// makes float32 only per batch (scale to [0,1], normalize per channel, optional augmentation).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../core/tensor.h"
#include "../core/options.h"

namespace wick::data {

enum class Split { Train, Test };
const char* split_name(Split split);  // "train", "test"

// One sample: data (C, H, W) float32 for images (any shape for other datasets), an int64 target.
struct Example {
  Tensor data;
  int64_t target = 0;
};

// Stacked samples: data (N, ...) float32, target (N) int64.
struct Batch {
  Tensor data;
  Tensor target;
  int64_t size() const { return target.defined() ? target.size(0) : 0; }
};

// Mixes two 64-bit values into a well-spread seed (SplitMix64 finalizer of a combination). The
// DataLoader derives every seed it uses from (its seed, epoch, sample index) with this.
uint64_t derive_seed(uint64_t a, uint64_t b);

// A small, fast, seedable generator (SplitMix64) with a fully specified output sequence, so
// shuffles and augmentations are the same on every platform. Not thread-safe: one per user.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next_u64();
  uint64_t below(uint64_t n);  // uniform in [0, n), unbiased; n > 0
  double uniform();            // [0, 1) with 53 random bits

 private:
  uint64_t state_;
};

// A source of examples. Implementations must be safe to read from several threads at once (the
// DataLoader assembles batches in the background and over samples in parallel).
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Example `index` (0 <= index < size()), as seen at evaluation: without random augmentation.
  virtual Example get(int64_t index) const = 0;
  // The examples `indices` stacked into one Batch. `seed` drives any random augmentation: sample
  // k's randomness comes from derive_seed(seed, indices[k]) only, so a batch never depends on the
  // thread that prepares it. The default calls get() for each sample (in parallel) and stacks;
  // image datasets override it to convert straight from their uint8 pixels.
  virtual Batch get_batch(const std::vector<int64_t>& indices, uint64_t seed = 0) const;
  // The shape of one example's data (default: get(0)'s).
  virtual Shape example_shape() const;
  // Number of classes, 0 when unknown; their names, empty when unknown.
  virtual int64_t num_classes() const { return 0; }
  virtual std::vector<std::string> class_names() const { return {}; }

 protected:
  // Throws a wick::Error naming `who` when index is out of range.
  void check_index(int64_t index, const char* who) const;
};

// Samples from a data tensor (N, ...) float32 and a target tensor (N) int64 (both copied).
class TensorDataset : public Dataset {
 public:
  TensorDataset(const Tensor& data, const Tensor& targets);
  int64_t size() const override { return n_; }
  Example get(int64_t index) const override;
  Batch get_batch(const std::vector<int64_t>& indices, uint64_t seed = 0) const override;
  Shape example_shape() const override;
  int64_t num_classes() const override { return num_classes_; }  // max target + 1

 private:
  Tensor data_, targets_;
  int64_t n_ = 0, row_ = 0, num_classes_ = 0;
};

// A view of another dataset restricted to `indices` (e.g. the first N samples: --train-limit).
class Subset : public Dataset {
 public:
  Subset(std::shared_ptr<const Dataset> dataset, std::vector<int64_t> indices);
  // The first min(n, dataset->size()) samples.
  static Subset head(std::shared_ptr<const Dataset> dataset, int64_t n);
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  Example get(int64_t index) const override;
  Batch get_batch(const std::vector<int64_t>& indices, uint64_t seed = 0) const override;
  Shape example_shape() const override { return dataset_->example_shape(); }
  int64_t num_classes() const override { return dataset_->num_classes(); }
  std::vector<std::string> class_names() const override { return dataset_->class_names(); }
  const Dataset& base() const { return *dataset_; }
  const std::shared_ptr<const Dataset>& base_ptr() const { return dataset_; }
  const std::vector<int64_t>& indices() const { return indices_; }

 private:
  std::shared_ptr<const Dataset> dataset_;
  std::vector<int64_t> indices_;
};

// A seeded hold-out (e.g. a validation set): round(fraction * size) samples, at least one and
// leaving at least one, drawn by a shuffle from `seed` alone (the same samples on every platform),
// become `held_out`; the others `kept`. Both list their samples in the dataset's order.
struct HoldOut {
  Subset kept, held_out;
};
HoldOut hold_out(std::shared_ptr<const Dataset> dataset, double fraction, uint64_t seed);

// Per-channel normalization applied after scaling pixels to [0,1]: x = (p/255 - mean[c]) / std[c].
struct Normalization {
  std::vector<float> mean, std;
  static Normalization none(int64_t channels);  // mean 0, std 1: plain [0,1] values
};

// Random augmentation of image batches, applied after normalization (so the zero padding of a
// random crop is the per-channel mean colour). Both take effect at the next batch.
struct Augmentation {
  // Pads every side with `crop_padding` zeros and crops back to H x W at a random offset
  // (torchvision's RandomCrop(size, padding)); 0 turns it off.
  WICK_ARG(int64_t, crop_padding) = 0;
  // Mirrors left-right with probability 1/2 (RandomHorizontalFlip).
  WICK_ARG(bool, horizontal_flip) = false;

 public:
  bool enabled() const { return crop_padding_ > 0 || horizontal_flip_; }
};

// Images held as raw uint8 pixels (N, C, H, W) plus int64 labels, shared between copies (copying
// an ImageDataset, e.g. into a DataLoader, never copies pixels). The readers (MNIST, FashionMNIST,
// CIFAR10, ImageFolder, Synthetic) are ImageDatasets that only add a constructor, so the
// setters below returning ImageDataset& may be chained on them freely.
class ImageDataset : public Dataset {
 public:
  // pixels: N*C*H*W bytes, row-major (N, C, H, W); labels in [0, num_classes). `name` (e.g.
  // "CIFAR10") prefixes error messages.
  ImageDataset(std::vector<uint8_t> pixels, std::vector<int64_t> labels, int64_t channels, int64_t height,
               int64_t width, int64_t num_classes, Normalization normalization,
               std::vector<std::string> class_names = {}, std::string name = "ImageDataset");

  int64_t size() const override { return n_; }
  Example get(int64_t index) const override;
  Batch get_batch(const std::vector<int64_t>& indices, uint64_t seed = 0) const override;
  Shape example_shape() const override { return {c_, h_, w_}; }
  int64_t num_classes() const override { return num_classes_; }
  std::vector<std::string> class_names() const override { return class_names_; }

  const std::string& name() const { return who_; }
  int64_t channels() const { return c_; }
  int64_t height() const { return h_; }
  int64_t width() const { return w_; }
  const uint8_t* pixels() const { return pixels_->data(); }  // (N, C, H, W)
  size_t pixel_bytes() const { return pixels_->size(); }      // N*C*H*W: nothing else is stored
  const std::vector<int64_t>& labels() const { return *labels_; }

  const Normalization& normalization() const { return normalization_; }
  ImageDataset& set_normalization(const Normalization& normalization);
  const Augmentation& augmentation() const { return augmentation_; }
  ImageDataset& set_augmentation(const Augmentation& augmentation);

  // Per-channel mean and standard deviation of p/255 over all the pixels (exact integer sums).
  static Normalization compute_normalization(const uint8_t* pixels, int64_t n, int64_t channels,
                                             int64_t plane);

 private:
  // Writes sample `index` as float32 (C, H, W) into out, augmented with generator seed `key`
  // unless `augment` is false.
  void convert(int64_t index, bool augment, uint64_t key, float* out) const;

  std::shared_ptr<const std::vector<uint8_t>> pixels_;
  std::shared_ptr<const std::vector<int64_t>> labels_;
  int64_t n_ = 0, c_ = 0, h_ = 0, w_ = 0, num_classes_ = 0;
  std::string who_ = "ImageDataset";
  std::vector<std::string> class_names_;
  Normalization normalization_;
  Augmentation augmentation_;
  std::vector<float> lut_;  // (C, 256): the normalized value of every pixel byte
};

// `dataset` seen through `augmentation`: an ImageDataset copy (sharing the pixels) with that
// augmentation, or a Subset of one over such a copy (Subsets nest). Other datasets are an error.
std::shared_ptr<const Dataset> with_augmentation(std::shared_ptr<const Dataset> dataset,
                                                 const Augmentation& augmentation);

}  // namespace wick::data
