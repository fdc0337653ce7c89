// Your own dataset: a Dataset subclass that makes its examples on the fly (8x8 images of one bar,
// horizontal or vertical, at a random row or column, with noise), fed through the DataLoader to a
// small network trained by a plain loop: forward, loss, backward, step. It exits 1 unless the
// network learns to tell the bars apart (at least 95% on held-out examples).
// Usage: custom_dataset [steps]   (default 150)
#include <wick/wick.h>

#include <cstdio>
#include <cstdlib>

using namespace wick;

class BarsImpl : public data::Dataset {
 public:
  BarsImpl(int64_t size, uint64_t seed) : size_(size), seed_(seed) {}
  int64_t size() const override { return size_; }
  int64_t num_classes() const override { return 2; }
  std::vector<std::string> class_names() const override { return {"horizontal", "vertical"}; }

  // Example i is a function of (seed, i) alone, so reading it from any thread gives the same image.
  data::Example get(int64_t index) const override {
    check_index(index, "Bars");
    data::Rng rng(data::derive_seed(seed_, static_cast<uint64_t>(index)));
    const int64_t label = static_cast<int64_t>(rng.below(2)), at = static_cast<int64_t>(rng.below(8));
    std::vector<float> pixels(64);
    for (int64_t y = 0; y < 8; ++y)
      for (int64_t x = 0; x < 8; ++x)
        pixels[y * 8 + x] = ((label == 0 ? y : x) == at ? 1.f : 0.f) + 0.3f * static_cast<float>(rng.uniform() - 0.5);
    return {from_vector(pixels, {1, 8, 8}), label};
  }

 private:
  int64_t size_;
  uint64_t seed_;
};

int main(int argc, char** argv) try {
  const int64_t steps = argc > 1 ? std::atoll(argv[1]) : 150;
  manual_seed(0);
  data::DataLoader train(BarsImpl(4096, 1), data::DataLoaderOptions(32).shuffle(true).seed(0));
  data::DataLoader test(BarsImpl(1000, 2), data::DataLoaderOptions(250));

  nn::Sequential model(nn::Conv2d(nn::Conv2dOptions(1, 8, 3).padding(1)), nn::BatchNorm2d(8), nn::ReLU(),
                       nn::AdaptiveAvgPool2d(4), nn::Flatten(), nn::Linear(8 * 4 * 4, 2));
  optim::Adam opt(model->parameters(), optim::AdamOptions(0.01));
  model->train();
  int64_t step = 0;
  while (step < steps)
    for (auto& batch : train) {
      Tensor loss = cross_entropy(model->forward(batch.data), batch.target);
      opt.zero_grad();
      loss.backward();
      opt.step();
      if (++step % 50 == 0) std::printf("step %lld: loss %.4f\n", static_cast<long long>(step), loss.item<float>());
      if (step == steps) break;
    }

  model->eval();
  NoGradGuard no_grad;
  int64_t correct = 0, total = 0;
  for (auto& batch : test) {
    correct += static_cast<int64_t>(model->forward(batch.data).argmax(1).eq(batch.target).sum().item<float>());
    total += batch.target.numel();
  }
  const double accuracy = static_cast<double>(correct) / static_cast<double>(total);
  std::printf("held-out accuracy %.2f%% (%lld of %lld)\n", 100 * accuracy, static_cast<long long>(correct),
              static_cast<long long>(total));
  return accuracy >= 0.95 ? 0 : 1;
} catch (const wick::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
