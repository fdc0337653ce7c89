// Dataset choice, model construction/loading and optimizer construction for the CLI.
#include "common.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

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

// Labels are positions in the sorted class list, so both splits must list the same classes (a
// test folder with "zebra" where training had "dog" would score zebras as dogs).
void check_same_classes(const std::string& data, const std::vector<std::string>& train,
                        const std::vector<std::string>& test) {
  if (train == test) return;
  auto missing = [](const std::vector<std::string>& from, const std::vector<std::string>& in) {
    std::string out;
    for (const std::string& c : from)
      if (std::find(in.begin(), in.end(), c) == in.end()) out += (out.empty() ? "" : ", ") + c;
    return out.empty() ? std::string("none") : out;
  };
  detail::fail("--data ", data, ": the training and test splits have different classes (only in training: ",
               missing(train, test), "; only in test: ", missing(test, train), ")");
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
    check_same_classes(args.data, d.train_images->class_names(), test->class_names());
  }
  d.channels = test->channels();
  d.height = test->height();
  d.width = test->width();
  d.classes = test->num_classes();
  return d;
}

nn::ModelOptions model_options(const Data& data, const std::string& norm) {
  nn::ModelOptions o = nn::ModelOptions().channels(data.channels).classes(data.classes).height(data.height).width(data.width);
  if (!norm.empty()) o.norm(nn::norm_from_name(norm));
  return o;
}

std::shared_ptr<nn::Module> inference_model(nn::Module& model, const Data& data) {
  const bool own_forward = nn::has_own_forward(model);
  try {
    return nn::trace_for_inference(model, {data.channels, data.height, data.width});
  } catch (const Error& e) {  // a container model loses only the chunked batches, so says nothing
    if (own_forward) warn(std::string(e.what()) + "; running the model with fuse_for_inference instead");
    return nn::fuse_for_inference(model);
  }
}

std::shared_ptr<nn::Module> make_or_load_model(const std::string& weights, const std::string& model_name,
                                               const std::string& norm, const Data& data) {
  const bool from_file = model_name.size() > 5 && model_name.compare(model_name.size() - 5, 5, ".json") == 0;
  const bool stored = !weights.empty() && !from_file && nn::has_architecture(read_safetensors(weights));
  WICK_CHECK(norm.empty() || !(from_file || stored), "--norm ", norm, ": ", from_file ? model_name : weights,
             " already describes the architecture (--norm applies to named models)");
  if (stored) return nn::load_module(weights);
  std::shared_ptr<nn::Module> model =
      from_file ? nn::load_architecture(model_name) : nn::make_model(model_name, model_options(data, norm)).ptr();
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
    return build.template operator()<optim::SGD>(
        optim::SGDOptions(a.lr).momentum(a.momentum).weight_decay(a.weight_decay).nesterov(a.nesterov));
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
  // The folder takes a new file (the atomic writers put a temporary file beside the target): a
  // read-only folder or file system is found now, not after the training it would lose.
  fs::path probe = parent / (".wick-write-check-" + std::to_string(::getpid()));
  std::FILE* f = std::fopen(probe.c_str(), "wb");
  WICK_CHECK(f != nullptr, flag, " ", path, ": cannot create files in the folder ", parent.string(), " (",
             std::strerror(errno), ")");
  std::fclose(f);
  fs::remove(probe, ec);
}

}  // namespace wick::cli
