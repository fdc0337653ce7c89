// A residual network written as your own Module subclasses (resnet_module.h: resnet20, with a
// hand-written forward of functional relu and add) trains on Fashion-MNIST, saves (the file carries
// the architecture), reloads with nn::load_module alone, and checks the reloaded model scores the
// same on the first 2000 test images, and so does its fast form for inference
// (nn::trace_for_inference: the BatchNorms folded, the ReLUs and adds inside the convolutions).
// Usage: resnet_module [train_images] [epochs]   (defaults: 10000 images, 1 epoch)
#include <cstdio>
#include <cstdlib>

#include "resnet_module.h"

using namespace wick;
using resnet_module::NetImpl, resnet_module::NetOptions;

int main(int argc, char** argv) try {
  const int64_t images = argc > 1 ? std::atoll(argv[1]) : 10000;
  const int epochs = argc > 2 ? std::atoi(argv[2]) : 1;
  manual_seed(0);
  auto train_all = std::make_shared<data::FashionMNIST>(data::Split::Train);
  auto train_set = std::make_shared<data::Subset>(data::Subset::head(train_all, images));
  auto test_all = std::make_shared<data::FashionMNIST>(data::Split::Test);
  auto test_set = std::make_shared<data::Subset>(data::Subset::head(test_all, 2000));

  auto model = std::make_shared<NetImpl>(NetOptions());
  optim::SGD opt(model->parameters(), optim::SGDOptions(0.05).momentum(0.9).weight_decay(5e-4));
  train::fit(*model, opt, *train_set, train::FitOptions().epochs(epochs).batch_size(64).test_set(test_set));

  const double accuracy = train::evaluate(*model, *test_set, 1000).accuracy;
  nn::save(*model, "resnet_module.safetensors");
  auto reloaded = nn::load_module("resnet_module.safetensors");  // no C++ type named: the file says "Net"
  const double again = train::evaluate(*reloaded, *test_set, 1000).accuracy;
  auto fast = nn::trace_for_inference(*reloaded, {1, 28, 28});
  const double traced = train::evaluate(*fast, *test_set, 1000).accuracy;
  std::printf("%s: test accuracy %.2f%%, reloaded %.2f%%, traced for inference %.2f%%\n",
              reloaded->type_name().c_str(), 100 * accuracy, 100 * again, 100 * traced);
  return again == accuracy && traced == accuracy ? 0 : 1;
} catch (const wick::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
