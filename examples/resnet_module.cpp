// A residual network written as your own Module subclass, the way a libtorch user writes one:
// layers registered as members, a hand-written forward with functional relu and add, an options
// struct so the registry can rebuild it. It trains on Fashion-MNIST, saves (the file carries the
// architecture), reloads with nn::load_module alone, and checks the reloaded model scores the same
// on the first 2000 test images.
// Usage: resnet_module [train_images] [epochs]   (defaults: 10000 images, 1 epoch)
#include <wick/wick.h>

#include <cstdio>
#include <cstdlib>

using namespace wick;

// relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); the shortcut is a strided 1x1 conv when the
// shape changes, else x itself.
struct BlockOptions {
  BlockOptions() = default;
  BlockOptions(int64_t in, int64_t out, int64_t stride) : in_(in), out_(out), stride_(stride) {}
  WICK_ARG(int64_t, in) = 1;
  WICK_ARG(int64_t, out) = 1;
  WICK_ARG(int64_t, stride) = 1;

 public:
  void fields(nn::Fields& f) {
    f.required("in", in_, nn::Check::Positive);
    f.required("out", out_, nn::Check::Positive);
    f.optional("stride", stride_, nn::Check::Positive);
  }
};

class BlockImpl : public nn::Module {
 public:
  explicit BlockImpl(const BlockOptions& o) : options(o) {
    conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(o.in(), o.out(), 3).stride(o.stride()).padding(1).bias(false)));
    bn1 = register_module("bn1", nn::BatchNorm2d(o.out()));
    conv2 = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(o.out(), o.out(), 3).padding(1).bias(false)));
    bn2 = register_module("bn2", nn::BatchNorm2d(o.out()));
    if (o.stride() != 1 || o.in() != o.out())
      shortcut = register_module("shortcut", nn::Conv2d(nn::Conv2dOptions(o.in(), o.out(), 1).stride(o.stride())));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = relu(bn1(conv1(x)));
    h = bn2(conv2(h));
    return relu(add(h, shortcut ? shortcut(x) : x));
  }

  BlockOptions options;
  nn::Conv2d conv1{nullptr}, conv2{nullptr}, shortcut{nullptr};  // shortcut stays empty for the identity
  nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
};
WICK_REGISTER(BlockImpl, "Block");

// Three stages of two blocks (16, 32, 64 channels), global average pooling, a linear head.
struct NetOptions {
  WICK_ARG(int64_t, classes) = 10;

 public:
  void fields(nn::Fields& f) { f.optional("classes", classes_, nn::Check::Positive); }
};

class NetImpl : public nn::Module {
 public:
  explicit NetImpl(const NetOptions& o) : options(o) {
    stem = register_module("stem", nn::Conv2d(nn::Conv2dOptions(1, 16, 3).padding(1).bias(false)));
    bn = register_module("bn", nn::BatchNorm2d(16));
    stages = register_module("stages", nn::Sequential());
    int64_t in = 16;
    for (int64_t width : {16, 32, 64}) {
      stages->push_back(std::make_shared<BlockImpl>(BlockOptions(in, width, width == in ? 1 : 2)));
      stages->push_back(std::make_shared<BlockImpl>(BlockOptions(width, width, 1)));
      in = width;
    }
    fc = register_module("fc", nn::Linear(64, o.classes()));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = stages(relu(bn(stem(x))));
    return fc(flatten(adaptive_avg_pool2d(h, {1, 1}), 1));
  }

  NetOptions options;
  nn::Conv2d stem{nullptr};
  nn::BatchNorm2d bn{nullptr};
  nn::Sequential stages{nullptr};
  nn::Linear fc{nullptr};
};
WICK_REGISTER(NetImpl, "Net");

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
  std::printf("%s: test accuracy %.2f%%, reloaded %.2f%%\n", reloaded->type_name().c_str(), 100 * accuracy,
              100 * again);
  return again == accuracy ? 0 : 1;
} catch (const wick::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
