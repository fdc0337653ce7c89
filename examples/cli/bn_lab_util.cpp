// bn-lab helpers: file-order batches, raw pixels, the seeded small-cnn and the traced forward.
#include "bn_lab_util.h"

#include <numeric>

namespace wick::cli {

data::Batch file_order_batch(const data::Dataset& set, int64_t start, int64_t count) {
  WICK_CHECK(start >= 0 && count > 0 && start + count <= set.size(), "bn-lab: images ", start, "..",
             start + count - 1, " do not exist (the set holds ", set.size(), ")");
  std::vector<int64_t> indices(static_cast<size_t>(count));
  std::iota(indices.begin(), indices.end(), start);
  return set.get_batch(indices);
}

std::shared_ptr<data::ImageDataset> raw_pixels(const data::ImageDataset& images) {
  auto raw = std::make_shared<data::ImageDataset>(images);
  raw->set_normalization(data::Normalization::none(images.channels()));
  return raw;
}

nn::Sequential seeded_small_cnn(uint64_t seed) {
  manual_seed(seed);
  return nn::small_cnn();
}

nn::Sequential lab_model(const Lab& lab, const data::Dataset& train, int64_t batches) {
  nn::Sequential model = seeded_small_cnn(lab.args().seed);
  int64_t next = 0;
  nn::recalibrate_batchnorm(
      *model,
      [&](Tensor& out) {
        out = file_order_batch(train, 64 * next++, 64).data;
        return true;
      },
      batches);
  return model;
}

std::string lab_model_text(const Lab& lab) {
  return "small-cnn, freshly initialized from --seed " + std::to_string(lab.args().seed) +
         " (not trained); its BN running statistics are the average over the first " +
         std::to_string(kCalibrationBatches) + " training batches of 64 (nn::recalibrate_batchnorm)";
}

Trace trace_forward(const nn::SequentialImpl& model, const Tensor& x) {
  Trace t;
  t.output = x;
  const auto& children = model.named_children();
  for (size_t i = 0; i < children.size(); ++i) {
    if (std::dynamic_pointer_cast<nn::BatchNormImplBase>(children[i].second)) t.bn_inputs.emplace_back(i, t.output);
    t.output = children[i].second->forward(t.output);
  }
  return t;
}

double max_abs_diff(const Tensor& a, const Tensor& b) { return max(abs(sub(a, b))).item<double>(); }

}  // namespace wick::cli
