// Classifies one image file with a trained model, as an application deploying it would: load the
// model with its architecture (a file wick wrote), decode and normalize the image exactly as
// training saw its data, one forward pass in eval mode, softmax, the three likeliest classes.
// Usage: classify_image MODEL.safetensors IMAGE   (a Fashion-MNIST model: 28x28 grey images)
#include <wick/wick.h>

#include <algorithm>
#include <cstdio>

using namespace wick;

int main(int argc, char** argv) try {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s MODEL.safetensors IMAGE\n", argv[0]);
    return 2;
  }
  std::shared_ptr<nn::Module> model = nn::load_module(argv[1]);
  model->eval();

  // What the Fashion-MNIST loader does to every training image: grey, 28x28, (p/255 - mean) / std.
  Tensor image = data::load_image(argv[2], data::LoadImageOptions(28, 28).channels(1).normalization(
                                               data::FashionMNIST::standard_normalization()));
  Tensor probs;
  {
    NoGradGuard no_grad;
    probs = softmax(model->forward(image.unsqueeze(0)), 1);  // a batch of one
  }
  const std::vector<std::string> classes = data::FashionMNIST::classes();
  ValuesIndices top = probs.topk(3, 1);
  std::printf("%s:", argv[2]);
  for (int64_t k = 0; k < 3; ++k) {
    const int64_t c = top.indices.select(1, k).item<int64_t>();
    std::printf(" %s %.1f%%", c < static_cast<int64_t>(classes.size()) ? classes[c].c_str() : "?",
                100.0 * top.values.select(1, k).item<float>());
  }
  std::printf("\n");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "classify_image: %s\n", e.what());
  return 1;
}
