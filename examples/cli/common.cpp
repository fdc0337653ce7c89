// Dataset choice, model construction/loading, evaluation and optimizer construction for the CLI.
#include "common.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "progress.h"

namespace wick::cli {
namespace {

std::shared_ptr<data::ImageDataset> load_split(const DataArgs& a, data::Split split) {
  auto need_dir = [&](const char* what) {
    WICK_CHECK(!a.data_dir.empty(), "--data ", a.data, " needs --data-dir DIR holding ", what);
    return a.data_dir;
  };
  if (a.data == "fashion-mnist")
    return std::make_shared<data::FashionMNIST>(a.data_dir.empty() ? data::FashionMNIST::kDefaultDir : a.data_dir,
                                                split);
  if (a.data == "mnist")
    return std::make_shared<data::MNIST>(need_dir("train-images-idx3-ubyte[.gz] and the other MNIST files"), split);
  if (a.data == "cifar10")
    return std::make_shared<data::CIFAR10>(need_dir("data_batch_1.bin ... test_batch.bin"), split);
  if (a.data == "synthetic") {
    // A fixed, learnable toy set: 4000 training and 1000 test images from different seeds.
    int64_t n = split == data::Split::Train ? 4000 : 1000;
    return std::make_shared<data::Synthetic>(n, data::SyntheticOptions().seed(split == data::Split::Train ? 1 : 2));
  }
  if (a.data.rfind("folder:", 0) == 0) {
    std::string dir = a.data.substr(7) + "/" + data::split_name(split);
    WICK_CHECK(std::filesystem::is_directory(dir), "--data ", a.data, ": expected a folder ", dir,
               " with one subfolder per class");
    return std::make_shared<data::ImageFolder>(
        dir, data::ImageFolderOptions(a.image_size, a.image_size).channels(a.channels));
  }
  detail::fail("unknown --data \"", a.data, "\" (fashion-mnist, mnist, cifar10, folder:DIR, synthetic)");
}

std::shared_ptr<data::Dataset> limited(std::shared_ptr<data::ImageDataset> ds, int64_t limit) {
  if (limit <= 0 || limit >= ds->size()) return ds;
  return std::make_shared<data::Subset>(data::Subset::head(ds, limit));
}

}  // namespace

Data load_data(const DataArgs& args, bool with_train) {
  Data d;
  d.name = args.data;
  auto test = load_split(args, data::Split::Test);
  d.test = limited(test, args.test_limit);
  if (with_train) {
    d.train_images = load_split(args, data::Split::Train);
    d.train = limited(d.train_images, args.train_limit);
    // Image folders and synthetic sets normalize with their own pixel statistics: the test split
    // must use the training split's.
    test->set_normalization(d.train_images->normalization());
  }
  d.channels = test->channels();
  d.height = test->height();
  d.width = test->width();
  d.classes = test->num_classes();
  return d;
}

std::shared_ptr<nn::Module> make_or_load_model(const std::string& weights, const std::string& model_name,
                                               const Data& data) {
  const bool from_file = model_name.size() > 5 && model_name.compare(model_name.size() - 5, 5, ".json") == 0;
  if (!weights.empty() && !from_file && nn::has_architecture(nn::read_safetensors(weights)))
    return nn::load_module(weights);
  std::shared_ptr<nn::Module> model =
      from_file ? nn::load_architecture(model_name)
                : nn::make_model(model_name, data.channels, data.classes, data.height, data.width).ptr();
  if (!weights.empty()) {
    try {
      nn::load(*model, weights);
    } catch (const Error& e) {
      if (from_file) throw;
      detail::fail(e.what(), " (the file carries no architecture; is --model ", model_name, " right?)");
    }
  }
  return model;
}

EvalResult evaluate(nn::Module& model, const data::Dataset& dataset, int64_t batch_size, bool confusion,
                    const std::string& progress_label) {
  std::vector<std::pair<std::shared_ptr<nn::Module>, bool>> modes;
  for (auto& [name, m] : model.named_modules()) modes.emplace_back(m, m->is_training());
  model.eval();
  NoGradGuard no_grad;
  data::DataLoader loader(std::shared_ptr<const data::Dataset>(std::shared_ptr<const data::Dataset>(), &dataset),
                          data::DataLoaderOptions(batch_size));
  EvalResult r;
  int64_t classes = dataset.num_classes();
  if (confusion) r.confusion.assign(classes, std::vector<int64_t>(classes, 0));
  double loss_sum = 0;
  int64_t correct = 0;
  Progress progress(progress_label, loader.size(), progress_label.empty());
  auto start = std::chrono::steady_clock::now();
  int64_t step = 0;
  for (auto& batch : loader) {
    Tensor logits = model.forward(batch.data);
    loss_sum += cross_entropy(logits, batch.target, Reduction::Sum).item<double>();
    std::vector<int64_t> pred = argmax(logits, 1).to_vector<int64_t>();
    std::vector<int64_t> truth = batch.target.to_vector<int64_t>();
    for (size_t i = 0; i < pred.size(); ++i) {
      correct += pred[i] == truth[i];
      if (confusion) ++r.confusion[truth[i]][pred[i]];
    }
    r.images += batch.size();
    progress.update(++step, "acc " + percent(static_cast<double>(correct) / static_cast<double>(r.images)));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WICK_CHECK(r.images > 0, "evaluate: the dataset is empty");
  r.loss = loss_sum / static_cast<double>(r.images);
  r.accuracy = static_cast<double>(correct) / static_cast<double>(r.images);
  r.img_per_s = static_cast<double>(r.images) / std::max(r.seconds, 1e-9);
  for (auto& [m, on] : modes) m->train(on);  // parents first: each module ends with its own flag
  return r;
}

std::unique_ptr<optim::Optimizer> make_optimizer(const OptimArgs& a, std::vector<optim::ParamGroup> groups,
                                                 const std::vector<double>& group_lrs) {
  // Each group gets the optimizer's options with its own learning rate.
  auto build = [&]<typename Opt, typename Options>(Options defaults) -> std::unique_ptr<optim::Optimizer> {
    std::vector<optim::ParamGroup> with_lr;
    for (size_t g = 0; g < groups.size(); ++g) {
      Options o = defaults;
      o.lr(g < group_lrs.size() ? group_lrs[g] : a.lr);
      with_lr.emplace_back(groups[g].params(), o);
    }
    return std::make_unique<Opt>(with_lr, defaults);
  };
  if (a.name == "sgd")
    return build.template operator()<optim::SGD>(optim::SGDOptions(a.lr).momentum(a.momentum).weight_decay(a.weight_decay));
  if (a.name == "adam")
    return build.template operator()<optim::Adam>(optim::AdamOptions(a.lr).weight_decay(a.weight_decay));
  if (a.name == "adamw")
    return build.template operator()<optim::AdamW>(optim::AdamWOptions(a.lr).weight_decay(a.weight_decay));
  detail::fail("unknown --optimizer \"", a.name, "\" (sgd, adam, adamw)");
}

void check_output_path(const std::string& flag, const std::string& path) {
  if (path.empty()) return;
  namespace fs = std::filesystem;
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) parent = ".";
  std::error_code ec;
  WICK_CHECK(fs::is_directory(parent, ec), flag, " ", path, ": the folder ", parent.string(), " does not exist");
  WICK_CHECK(!fs::is_directory(path, ec), flag, " ", path, ": is a folder, expected a file name");
}

std::string percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * fraction);
  return buf;
}

}  // namespace wick::cli
