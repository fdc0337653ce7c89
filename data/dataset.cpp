// Dataset's default batching, TensorDataset, Subset, and ImageDataset's uint8 -> float32 batch
// conversion with normalization and deterministic per-sample augmentation.
#include "data/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/parallel.h"

namespace wick::data {
namespace {

// Samples per parallel chunk so that each chunk handles roughly `target` floats (fixed by the
// sizes alone, never by the thread count).
int64_t sample_grain(int64_t per_sample, int64_t target = 1 << 15) {
  return std::max<int64_t>(1, target / std::max<int64_t>(1, per_sample));
}

}  // namespace

const char* split_name(Split split) { return split == Split::Train ? "train" : "test"; }

uint64_t derive_seed(uint64_t a, uint64_t b) {
  uint64_t z = a * 0x9e3779b97f4a7c15ull + (b ^ 0xd1b54a32d192ed03ull) + (b << 17) + (b >> 13);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  // a second round so that nearby (a, b) pairs land far apart
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t Rng::next_u64() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t Rng::below(uint64_t n) {
  WICK_CHECK(n > 0, "Rng::below: n must be positive");
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;  // reject the incomplete last block: no bias
  for (;;) {
    uint64_t v = next_u64();
    if (v < limit) return v % n;
  }
}

double Rng::uniform() { return static_cast<double>(next_u64() >> 11) / 9007199254740992.0; }

// ---- Dataset ----

void Dataset::check_index(int64_t index, const char* who) const {
  WICK_CHECK(index >= 0 && index < size(), who, ": index ", index, " is out of range for a dataset of ", size(),
             " samples");
}

Shape Dataset::example_shape() const {
  WICK_CHECK(size() > 0, "Dataset::example_shape: the dataset is empty");
  return get(0).data.shape();
}

Batch Dataset::get_batch(const std::vector<int64_t>& indices, uint64_t /*seed*/) const {
  auto n = static_cast<int64_t>(indices.size());
  WICK_CHECK(n > 0, "Dataset::get_batch: no indices");
  std::vector<Example> examples(indices.size());
  parallel_for(0, n, 4, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) examples[k] = get(indices[k]);
  });
  const Shape& shape = examples[0].data.shape();
  for (int64_t k = 0; k < n; ++k) {
    const Tensor& d = examples[k].data;
    WICK_CHECK(d.defined() && d.dtype() == Dtype::Float32, "Dataset::get_batch: sample ", indices[k],
               " has no float32 data");
    WICK_CHECK(d.shape() == shape, "Dataset::get_batch: cannot stack sample ", indices[k], " of shape ",
               shape_str(d.shape()), " with sample ", indices[0], " of shape ", shape_str(shape));
  }
  Shape out_shape = shape;
  out_shape.insert(out_shape.begin(), n);
  Batch batch{empty(out_shape), empty({n}, Dtype::Int64)};
  int64_t row = numel_of(shape);
  float* dst = batch.data.data<float>();
  int64_t* tgt = batch.target.data<int64_t>();
  for (int64_t k = 0; k < n; ++k) {
    Tensor c = examples[k].data.contiguous();
    if (row > 0) std::memcpy(dst + k * row, c.data<float>(), sizeof(float) * static_cast<size_t>(row));
    tgt[k] = examples[k].target;
  }
  return batch;
}

// ---- TensorDataset ----

TensorDataset::TensorDataset(const Tensor& data, const Tensor& targets) {
  WICK_CHECK(data.defined() && targets.defined(), "TensorDataset: data and targets must be defined");
  WICK_CHECK(data.dtype() == Dtype::Float32 && data.dim() >= 1, "TensorDataset: data must be float32 (N, ...), got ",
             dtype_name(data.dtype()), " of shape ", shape_str(data.shape()));
  WICK_CHECK(targets.dtype() == Dtype::Int64 && targets.dim() == 1, "TensorDataset: targets must be int64 (N), got ",
             dtype_name(targets.dtype()), " of shape ", shape_str(targets.shape()));
  WICK_CHECK(data.size(0) == targets.size(0), "TensorDataset: data has ", data.size(0), " samples ",
             shape_str(data.shape()), " but targets has ", targets.size(0));
  data_ = data.detach().contiguous().clone();
  targets_ = targets.detach().contiguous().clone();
  n_ = data.size(0);
  row_ = n_ > 0 ? data_.numel() / n_ : 0;
  const int64_t* t = targets_.data<int64_t>();
  for (int64_t i = 0; i < n_; ++i) num_classes_ = std::max(num_classes_, t[i] + 1);
}

Shape TensorDataset::example_shape() const { return Shape(data_.shape().begin() + 1, data_.shape().end()); }

Example TensorDataset::get(int64_t index) const {
  check_index(index, "TensorDataset::get");
  return {data_.select(0, index).clone(), targets_.data<int64_t>()[index]};
}

Batch TensorDataset::get_batch(const std::vector<int64_t>& indices, uint64_t /*seed*/) const {
  auto n = static_cast<int64_t>(indices.size());
  for (int64_t i : indices) check_index(i, "TensorDataset::get_batch");
  Shape shape = example_shape();
  shape.insert(shape.begin(), n);
  Batch batch{empty(shape), empty({n}, Dtype::Int64)};
  const float* src = data_.data<float>();
  float* dst = batch.data.data<float>();
  const int64_t* t = targets_.data<int64_t>();
  int64_t* tgt = batch.target.data<int64_t>();
  parallel_for(0, n, sample_grain(row_), [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      if (row_ > 0) std::memcpy(dst + k * row_, src + indices[k] * row_, sizeof(float) * static_cast<size_t>(row_));
      tgt[k] = t[indices[k]];
    }
  });
  return batch;
}

// ---- Subset ----

Subset::Subset(std::shared_ptr<const Dataset> dataset, std::vector<int64_t> indices)
    : dataset_(std::move(dataset)), indices_(std::move(indices)) {
  WICK_CHECK(dataset_ != nullptr, "Subset: no dataset");
  for (int64_t i : indices_)
    WICK_CHECK(i >= 0 && i < dataset_->size(), "Subset: index ", i, " is out of range for a dataset of ",
               dataset_->size(), " samples");
}

Subset Subset::head(std::shared_ptr<const Dataset> dataset, int64_t n) {
  WICK_CHECK(dataset != nullptr, "Subset::head: no dataset");
  WICK_CHECK(n >= 0, "Subset::head: n must be non-negative, got ", n);
  std::vector<int64_t> idx(static_cast<size_t>(std::min(n, dataset->size())));
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>(i);
  return Subset(std::move(dataset), std::move(idx));
}

Example Subset::get(int64_t index) const {
  check_index(index, "Subset::get");
  return dataset_->get(indices_[index]);
}

Batch Subset::get_batch(const std::vector<int64_t>& indices, uint64_t seed) const {
  std::vector<int64_t> mapped(indices.size());
  for (size_t k = 0; k < indices.size(); ++k) {
    check_index(indices[k], "Subset::get_batch");
    mapped[k] = indices_[indices[k]];
  }
  return dataset_->get_batch(mapped, seed);
}

HoldOut hold_out(std::shared_ptr<const Dataset> dataset, double fraction, uint64_t seed) {
  WICK_CHECK(dataset != nullptr, "hold_out: no dataset");
  WICK_CHECK(fraction > 0 && fraction < 1, "hold_out: fraction must be in (0, 1), got ", fraction);
  const int64_t n = dataset->size();
  WICK_CHECK(n >= 2, "hold_out: needs at least 2 samples, the dataset has ", n);
  const auto held = std::clamp<int64_t>(std::llround(fraction * static_cast<double>(n)), 1, n - 1);
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  Rng rng(derive_seed(seed, 0x686f6c646f7574ull));  // "holdout": apart from the loader's seeds
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.below(static_cast<uint64_t>(i) + 1)]);
  std::vector<int64_t> kept(order.begin() + held, order.end()), out(order.begin(), order.begin() + held);
  std::sort(kept.begin(), kept.end());
  std::sort(out.begin(), out.end());
  return {Subset(dataset, std::move(kept)), Subset(dataset, std::move(out))};
}

// ---- ImageDataset ----

Normalization Normalization::none(int64_t channels) {
  return {std::vector<float>(channels, 0.0f), std::vector<float>(channels, 1.0f)};
}

ImageDataset::ImageDataset(std::vector<uint8_t> pixels, std::vector<int64_t> labels, int64_t channels,
                           int64_t height, int64_t width, int64_t num_classes, Normalization normalization,
                           std::vector<std::string> class_names, std::string name)
    : who_(std::move(name)) {
  const std::string& who = who_;
  WICK_CHECK(channels > 0 && height > 0 && width > 0, who, ": image size must be positive, got C=", channels,
             " H=", height, " W=", width);
  auto n = static_cast<int64_t>(labels.size());
  uint64_t per = static_cast<uint64_t>(channels) * static_cast<uint64_t>(height) * static_cast<uint64_t>(width);
  WICK_CHECK(pixels.size() == per * static_cast<uint64_t>(n), who, ": ", pixels.size(), " pixel bytes for ", n,
             " labels of (", channels, ", ", height, ", ", width, ") images; expected ", per * n);
  WICK_CHECK(num_classes > 0, who, ": num_classes must be positive, got ", num_classes);
  WICK_CHECK(class_names.empty() || static_cast<int64_t>(class_names.size()) == num_classes, who, ": ",
             class_names.size(), " class names for ", num_classes, " classes");
  for (int64_t i = 0; i < n; ++i)
    WICK_CHECK(labels[i] >= 0 && labels[i] < num_classes, who, ": label ", labels[i], " of sample ", i,
               " is outside [0, ", num_classes, ")");
  n_ = n;
  c_ = channels;
  h_ = height;
  w_ = width;
  num_classes_ = num_classes;
  class_names_ = std::move(class_names);
  pixels_ = std::make_shared<const std::vector<uint8_t>>(std::move(pixels));
  labels_ = std::make_shared<const std::vector<int64_t>>(std::move(labels));
  set_normalization(normalization);
}

ImageDataset& ImageDataset::set_normalization(const Normalization& normalization) {
  WICK_CHECK(static_cast<int64_t>(normalization.mean.size()) == c_ &&
                 static_cast<int64_t>(normalization.std.size()) == c_,
             who_, ": normalization needs one mean and one std per channel (", c_, "), got ",
             normalization.mean.size(), " and ", normalization.std.size());
  for (int64_t c = 0; c < c_; ++c)
    WICK_CHECK(normalization.std[c] > 0 && std::isfinite(normalization.std[c]) && std::isfinite(normalization.mean[c]),
               who_, ": normalization std must be positive and finite, got ", normalization.std[c],
               " for channel ", c);
  normalization_ = normalization;
  // The same float arithmetic as torchvision's ToTensor() then Normalize(): (p / 255 - mean) / std.
  lut_.resize(static_cast<size_t>(c_) * 256);
  for (int64_t c = 0; c < c_; ++c)
    for (int p = 0; p < 256; ++p)
      lut_[c * 256 + p] = (static_cast<float>(p) / 255.0f - normalization.mean[c]) / normalization.std[c];
  return *this;
}

ImageDataset& ImageDataset::set_augmentation(const Augmentation& augmentation) {
  WICK_CHECK(augmentation.crop_padding() >= 0, who_, ": crop_padding must be non-negative, got ",
             augmentation.crop_padding());
  augmentation_ = augmentation;
  return *this;
}

Normalization ImageDataset::compute_normalization(const uint8_t* pixels, int64_t n, int64_t channels,
                                                  int64_t plane) {
  Normalization norm{std::vector<float>(channels, 0.0f), std::vector<float>(channels, 1.0f)};
  if (n == 0 || plane == 0) return norm;
  for (int64_t c = 0; c < channels; ++c) {
    // Integer sums are exact, so the result does not depend on any summation order.
    uint64_t s = 0, s2 = 0;
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* p = pixels + (i * channels + c) * plane;
      for (int64_t k = 0; k < plane; ++k) {
        s += p[k];
        s2 += static_cast<uint64_t>(p[k]) * p[k];
      }
    }
    double count = static_cast<double>(n) * static_cast<double>(plane);
    double mean = static_cast<double>(s) / count;
    double var = std::max(0.0, static_cast<double>(s2) / count - mean * mean);
    norm.mean[c] = static_cast<float>(mean / 255.0);
    double sd = std::sqrt(var) / 255.0;
    norm.std[c] = static_cast<float>(sd > 1e-6 ? sd : 1.0);  // a constant image: leave the scale alone
  }
  return norm;
}

void ImageDataset::convert(int64_t index, bool augment, uint64_t key, float* out) const {
  // out (C, H, W) <- pixels[index] (C, H, W)
  const uint8_t* src = pixels_->data() + index * c_ * h_ * w_;
  int64_t pad = 0, dy = 0, dx = 0;
  bool flip = false;
  if (augment && augmentation_.enabled()) {
    Rng rng(key);  // draws in a fixed order: crop offset y, x, then the flip
    pad = augmentation_.crop_padding();
    if (pad > 0) {
      dy = static_cast<int64_t>(rng.below(static_cast<uint64_t>(2 * pad + 1)));
      dx = static_cast<int64_t>(rng.below(static_cast<uint64_t>(2 * pad + 1)));
    }
    if (augmentation_.horizontal_flip()) flip = rng.below(2) == 1;
  }
  for (int64_t c = 0; c < c_; ++c) {
    const float* lut = lut_.data() + c * 256;
    const uint8_t* plane = src + c * h_ * w_;
    float* o = out + c * h_ * w_;
    if (pad == 0 && !flip) {
      for (int64_t k = 0; k < h_ * w_; ++k) o[k] = lut[plane[k]];
      continue;
    }
    // Cropped then flipped: out(y, x) = padded(y + dy, x' + dx) with x' = flip ? W-1-x : x,
    // and padded(y, x) = src(y - pad, x - pad), zero outside the image.
    for (int64_t y = 0; y < h_; ++y) {
      int64_t sy = y + dy - pad;
      float* orow = o + y * w_;
      if (sy < 0 || sy >= h_) {
        std::fill(orow, orow + w_, 0.0f);
        continue;
      }
      const uint8_t* srow = plane + sy * w_;
      for (int64_t x = 0; x < w_; ++x) {
        int64_t sx = (flip ? w_ - 1 - x : x) + dx - pad;
        orow[x] = (sx >= 0 && sx < w_) ? lut[srow[sx]] : 0.0f;
      }
    }
  }
}

Example ImageDataset::get(int64_t index) const {
  check_index(index, "ImageDataset::get");
  Tensor data = empty({c_, h_, w_});
  convert(index, false, 0, data.data<float>());
  return {data, (*labels_)[index]};
}

Batch ImageDataset::get_batch(const std::vector<int64_t>& indices, uint64_t seed) const {
  auto n = static_cast<int64_t>(indices.size());
  for (int64_t i : indices) check_index(i, "ImageDataset::get_batch");
  Batch batch{empty({n, c_, h_, w_}), empty({n}, Dtype::Int64)};
  float* dst = batch.data.data<float>();
  int64_t* tgt = batch.target.data<int64_t>();
  int64_t per = c_ * h_ * w_;
  parallel_for(0, n, sample_grain(per), [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      convert(indices[k], true, derive_seed(seed, static_cast<uint64_t>(indices[k])), dst + k * per);
      tgt[k] = (*labels_)[indices[k]];
    }
  });
  return batch;
}

std::shared_ptr<const Dataset> with_augmentation(std::shared_ptr<const Dataset> dataset,
                                                 const Augmentation& augmentation) {
  if (auto images = std::dynamic_pointer_cast<const ImageDataset>(dataset)) {
    auto copy = std::make_shared<ImageDataset>(*images);
    copy->set_augmentation(augmentation);
    return copy;
  }
  if (auto subset = std::dynamic_pointer_cast<const Subset>(dataset))
    return std::make_shared<Subset>(with_augmentation(subset->base_ptr(), augmentation), subset->indices());
  detail::fail("with_augmentation: random crops and flips need an image dataset (ImageDataset or a Subset of one)");
}

}  // namespace wick::data
