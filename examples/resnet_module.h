// A residual network written as your own Module subclasses, the way a libtorch user writes one:
// layers registered as members, a hand-written forward with functional relu and add, options
// structs so the registry can rebuild it from a file. With the default 3 blocks per stage it is the
// zoo's resnet20 (He et al. 2016, projection shortcuts), layer for layer; `blocks` 5 and 9 give
// resnet32 and resnet56. WICK_REGISTER_MODULE registers the types for any program that includes it:
// examples/resnet_module.cpp trains it; bench/user_resnet.cpp links it into a copy of the CLI.
#pragma once
#include <wick/wick.h>

namespace resnet_module {

using namespace wick;

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

// relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), the shortcut a strided 1x1 conv and a
// BatchNorm when the shape changes, else x.
class BlockImpl : public nn::Module {
 public:
  explicit BlockImpl(const BlockOptions& o) : options(o) {
    auto conv = [](int64_t in, int64_t out, int64_t k, int64_t stride) {
      return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2).bias(false));
    };
    conv1 = register_module("conv1", conv(o.in(), o.out(), 3, o.stride()));
    bn1 = register_module("bn1", nn::BatchNorm2d(o.out()));
    conv2 = register_module("conv2", conv(o.out(), o.out(), 3, 1));
    bn2 = register_module("bn2", nn::BatchNorm2d(o.out()));
    if (o.stride() != 1 || o.in() != o.out()) {
      shortcut_conv = register_module("shortcut_conv", conv(o.in(), o.out(), 1, o.stride()));
      shortcut_bn = register_module("shortcut_bn", nn::BatchNorm2d(o.out()));
    }
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = relu(bn1(conv1(x)));
    h = bn2(conv2(h));
    return relu(add(h, shortcut_conv ? shortcut_bn(shortcut_conv(x)) : x));
  }

  BlockOptions options;
  nn::Conv2d conv1{nullptr}, conv2{nullptr}, shortcut_conv{nullptr};
  nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, shortcut_bn{nullptr};
};
WICK_REGISTER_MODULE(Block);

// A 3x3 stem (16 channels), three stages of `blocks` blocks (16, 32, 64 channels; the second and
// third start with stride 2), global average pooling, a linear head: 6 * blocks + 2 layers.
struct NetOptions {
  WICK_ARG(int64_t, blocks) = 3;
  WICK_ARG(int64_t, channels) = 1;
  WICK_ARG(int64_t, classes) = 10;

 public:
  void fields(nn::Fields& f) {
    f.optional("blocks", blocks_, nn::Check::Positive);
    f.optional("channels", channels_, nn::Check::Positive);
    f.optional("classes", classes_, nn::Check::Positive);
  }
};

class NetImpl : public nn::Module {
 public:
  explicit NetImpl(const NetOptions& o) : options(o) {
    stem = register_module("stem", nn::Conv2d(nn::Conv2dOptions(o.channels(), 16, 3).padding(1).bias(false)));
    bn = register_module("bn", nn::BatchNorm2d(16));
    stages = register_module("stages", nn::Sequential());
    int64_t in = 16;
    for (int64_t width : {16, 32, 64})
      for (int64_t b = 0; b < o.blocks(); ++b) {
        stages->push_back(std::make_shared<BlockImpl>(BlockOptions(in, width, b == 0 && width != 16 ? 2 : 1)));
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
WICK_REGISTER_MODULE(Net);

}  // namespace resnet_module
