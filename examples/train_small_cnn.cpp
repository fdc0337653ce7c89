// A complete training program written against the wick library: train small-cnn on
// Fashion-MNIST, evaluate it, fine-tune it with frozen BatchNorm, save and reload it.
// Usage: train_small_cnn [epochs] [train_limit]   (defaults: 1 epoch, all 60000 images)
#include <wick/wick.h>

#include <cstdio>
#include <cstdlib>

using namespace wick;

int main(int argc, char** argv) try {
  int epochs = argc > 1 ? std::atoi(argv[1]) : 1;
  int64_t limit = argc > 2 ? std::atoll(argv[2]) : 0;
  manual_seed(0);

  auto train_set = std::make_shared<data::FashionMNIST>(data::Split::Train);
  std::shared_ptr<const data::Dataset> train_data = train_set;
  if (limit > 0) train_data = std::make_shared<data::Subset>(data::Subset::head(train_set, limit));
  auto test_data = std::make_shared<data::FashionMNIST>(data::Split::Test);

  nn::Sequential model = nn::small_cnn();
  std::printf("%s\n", model->repr().c_str());
  optim::SGD opt(model->parameters(), optim::SGDOptions(0.05).momentum(0.9));
  // Shuffled batches of 64; prints a progress line per epoch ending with the test accuracy.
  train::fit(*model, opt, *train_data, train::FitOptions().epochs(epochs).batch_size(64).test_set(test_data));

  // Fine-tune the head only, with BatchNorm frozen: model->train() no longer touches BN.
  nn::freeze_batchnorm(*model);
  auto head = model->at<nn::LinearImpl>(11);
  optim::SGD head_opt(head->parameters(), optim::SGDOptions(0.01).momentum(0.9));
  train::fit(*model, head_opt, *train_data, train::FitOptions().batch_size(64).progress(false));
  // evaluate runs in eval mode without gradients and restores the model's modes afterwards.
  train::EvalResult tuned = train::evaluate(*model, *test_data, 1000);
  std::printf("after fine-tuning the head: test accuracy %.2f%%\n", 100 * tuned.accuracy);

  nn::save(model, "small_cnn.safetensors");
  auto reloaded = nn::load_module("small_cnn.safetensors");  // the file carries its architecture
  std::printf("reloaded: test accuracy %.2f%%\n", 100 * train::evaluate(*reloaded, *test_data, 1000).accuracy);
  return 0;
} catch (const wick::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
