// A user's own module, as a program against the library writes one: zoo.py's ResNet (conv1, bn1,
// layer1..3 of BasicBlocks, pool, fc) as a Module subclass with an options struct and its own
// forward, its blocks nn::Residual containers inside nn::Sequential stages. Registered in one line,
// so files, JSON, clone() and the passes know it. Shared by test_registry.cpp and test_fuse.cpp.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <wick/wick.h>

namespace wick::test {

struct TinyResNetOptions {
  int64_t n = 1;  // blocks per stage (zoo.py's resnet20 has 3)
  int64_t channels = 1, classes = 4;
  void fields(nn::Fields& f) {
    f.optional("n", n, nn::Check::Positive);
    f.optional("channels", channels, nn::Check::Positive);
    f.optional("classes", classes, nn::Check::Positive);
  }
};

// zoo.py's BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), the shortcut a 1x1
// conv + BN when the shape changes and else an empty Sequential (the identity).
inline std::shared_ptr<nn::Module> basic_block(int64_t cin, int64_t cout, int64_t stride) {
  nn::ResidualOptions o;
  o.layers = {{"conv1", nn::Conv2d(nn::Conv2dOptions(cin, cout, 3).stride(stride).padding(1).bias(false)).ptr()},
              {"bn1", nn::BatchNorm2d(cout).ptr()},
              {"relu", nn::ReLU().ptr()},
              {"conv2", nn::Conv2d(nn::Conv2dOptions(cout, cout, 3).padding(1).bias(false)).ptr()},
              {"bn2", nn::BatchNorm2d(cout).ptr()}};
  auto shortcut = std::make_shared<nn::SequentialImpl>();
  if (stride != 1 || cin != cout) {
    shortcut->push_back(nn::Conv2d(nn::Conv2dOptions(cin, cout, 1).stride(stride).bias(false)));
    shortcut->push_back(nn::BatchNorm2d(cout));
  }
  o.shortcut = shortcut;
  o.activation = nn::ReLU().ptr();
  return std::make_shared<nn::ResidualImpl>(o);
}

class TinyResNetImpl : public nn::Module {
 public:
  explicit TinyResNetImpl(const TinyResNetOptions& o) : options(o) {
    conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(o.channels, 16, 3).padding(1).bias(false)).ptr());
    bn1 = register_module("bn1", nn::BatchNorm2d(16).ptr());
    int64_t cin = 16;
    const int64_t widths[3] = {16, 32, 64};
    for (int i = 0; i < 3; ++i) {
      auto stage = std::make_shared<nn::SequentialImpl>();
      for (int64_t b = 0; b < o.n; ++b)
        stage->add(basic_block(b == 0 ? cin : widths[i], widths[i], b == 0 && i > 0 ? 2 : 1));
      stages.push_back(register_module("layer" + std::to_string(i + 1), stage));
      cin = widths[i];
    }
    pool = register_module("pool", nn::AdaptiveAvgPool2d(1).ptr());
    fc = register_module("fc", nn::Linear(64, o.classes).ptr());
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = relu(bn1->forward(conv1->forward(x)));
    for (auto& stage : stages) h = stage->forward(h);
    return fc->forward(flatten(pool->forward(h), 1));
  }

  TinyResNetOptions options;
  std::shared_ptr<nn::Conv2dImpl> conv1;
  std::shared_ptr<nn::BatchNorm2dImpl> bn1;
  std::vector<std::shared_ptr<nn::SequentialImpl>> stages;
  std::shared_ptr<nn::AdaptiveAvgPool2dImpl> pool;
  std::shared_ptr<nn::LinearImpl> fc;
};
WICK_REGISTER(TinyResNetImpl, "TinyResNet");

// zoo.py's ResNet(n) state_dict keys in PyTorch's order (a module's parameters, its buffers, then
// its children in assignment order): conv1, bn1; per stage and block conv1, bn1, conv2, bn2 and,
// in the first block of stages 2 and 3 (stride 2, more channels), shortcut.0 (conv), shortcut.1 (BN);
// fc.
inline std::vector<std::string> zoo_resnet_keys(int n) {
  std::vector<std::string> keys;
  auto bn = [&](const std::string& p) {
    for (const char* s : {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}) keys.push_back(p + "." + s);
  };
  keys.push_back("conv1.weight");
  bn("bn1");
  for (int stage = 1; stage <= 3; ++stage)
    for (int b = 0; b < n; ++b) {
      const std::string p = "layer" + std::to_string(stage) + "." + std::to_string(b) + ".";
      keys.push_back(p + "conv1.weight");
      bn(p + "bn1");
      keys.push_back(p + "conv2.weight");
      bn(p + "bn2");
      if (b == 0 && stage > 1) {
        keys.push_back(p + "shortcut.0.weight");
        bn(p + "shortcut.1");
      }
    }
  keys.push_back("fc.weight");
  keys.push_back("fc.bias");
  return keys;
}

}  // namespace wick::test
