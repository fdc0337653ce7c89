// A complete training program written against the wick library: train small-cnn on
// Fashion-MNIST, evaluate it, fine-tune it with frozen BatchNorm, save and reload it.
// Usage: train_small_cnn [epochs] [train_limit]   (defaults: 1 epoch, all 60000 images)
#include <wick/wick.h>

#include <cstdio>
#include <cstdlib>

using namespace wick;

// Test accuracy of `model` in eval mode.
double accuracy(nn::Module& model, data::DataLoader& loader) {
  model.eval();
  NoGradGuard no_grad;
  int64_t correct = 0, total = 0;
  for (auto& batch : loader) {
    std::vector<int64_t> pred = argmax(model.forward(batch.data), 1).to_vector<int64_t>();
    std::vector<int64_t> truth = batch.target.to_vector<int64_t>();
    for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == truth[i];
    total += batch.size();
  }
  return static_cast<double>(correct) / static_cast<double>(total);
}

void train_epoch(nn::Module& model, optim::Optimizer& opt, data::DataLoader& loader) {
  model.train();
  for (auto& batch : loader) {
    Tensor loss = cross_entropy(model.forward(batch.data), batch.target);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
}

int main(int argc, char** argv) try {
  int epochs = argc > 1 ? std::atoi(argv[1]) : 1;
  int64_t limit = argc > 2 ? std::atoll(argv[2]) : 0;
  manual_seed(0);

  auto train_set = std::make_shared<data::FashionMNIST>(data::Split::Train);
  std::shared_ptr<const data::Dataset> train_data = train_set;
  if (limit > 0) train_data = std::make_shared<data::Subset>(data::Subset::head(train_set, limit));
  data::DataLoader train(train_data, data::DataLoaderOptions(64).shuffle(true).seed(0));
  data::DataLoader test(data::FashionMNIST(data::Split::Test), data::DataLoaderOptions(1000));

  nn::Sequential model = nn::small_cnn();
  std::printf("%s\n", model->repr().c_str());
  optim::SGD opt(model->parameters(), optim::SGDOptions(0.05).momentum(0.9));
  for (int e = 1; e <= epochs; ++e) {
    train_epoch(*model, opt, train);
    std::printf("epoch %d: test accuracy %.2f%%\n", e, 100 * accuracy(*model, test));
  }

  // Fine-tune the head only, with BatchNorm frozen: model->train() no longer touches BN.
  nn::freeze_batchnorm(*model);
  auto head = model->at<nn::LinearImpl>(11);
  optim::SGD head_opt(head->parameters(), optim::SGDOptions(0.01).momentum(0.9));
  train_epoch(*model, head_opt, train);
  std::printf("after fine-tuning the head: test accuracy %.2f%%\n", 100 * accuracy(*model, test));

  nn::save(model, "small_cnn.safetensors");
  auto reloaded = nn::load_module("small_cnn.safetensors");  // the file carries its architecture
  std::printf("reloaded: test accuracy %.2f%%\n", 100 * accuracy(*reloaded, test));
  return 0;
} catch (const wick::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
