// The model zoo (docs/models.md). Layers are built one statement at a time, first layer first, so
// their initial weights are drawn in a fixed order (the order of a call's arguments is unspecified
// in C++; the elements of a braced list are evaluated in order).
#include "layers/models.h"

#include "layers/nn.h"

namespace wick::nn {
namespace {

using ModulePtr = std::shared_ptr<Module>;

Norm norm_or(const ModelOptions& o, Norm fallback) { return o.norm().value_or(fallback); }

void check_size(const char* model, const ModelOptions& o, int64_t min_side, const char* why) {
  WICK_CHECK(o.channels() > 0 && o.classes() > 0, model, ": channels and classes must be positive, got ",
             o.channels(), " and ", o.classes());
  WICK_CHECK(o.height() >= min_side && o.width() >= min_side, model, ": images must be at least ", min_side, "x",
             min_side, " (", why, "), got ", o.height(), "x", o.width());
}

Conv2d conv3x3(int64_t cin, int64_t cout, int64_t stride = 1) {
  return Conv2d(Conv2dOptions(cin, cout, 3).stride(stride).padding(1).bias(false));
}

// conv3x3-norm-relu-conv3x3-norm + shortcut, then relu (the shortcut a 1x1 conv + norm when the
// shape changes, else an empty Sequential: the identity).
ModulePtr basic_block(int64_t cin, int64_t cout, int64_t stride, Norm norm) {
  ResidualOptions o;
  o.layers = {{"conv1", conv3x3(cin, cout, stride).ptr()},
              {"bn1", norm2d(norm, cout)},
              {"relu", ReLU().ptr()},
              {"conv2", conv3x3(cout, cout).ptr()},
              {"bn2", norm2d(norm, cout)}};
  auto shortcut = std::make_shared<SequentialImpl>();
  if (stride != 1 || cin != cout) {
    shortcut->push_back(Conv2d(Conv2dOptions(cin, cout, 1).stride(stride).bias(false)));
    shortcut->push_back(norm2d(norm, cout));
  }
  o.shortcut = shortcut;
  o.activation = ReLU().ptr();
  return std::make_shared<ResidualImpl>(o);
}

}  // namespace

std::shared_ptr<Module> norm2d(Norm norm, int64_t channels) {
  switch (norm) {
    case Norm::Batch: return BatchNorm2d(channels).ptr();
    case Norm::Group: return GroupNorm(GroupNormOptions(8, channels)).ptr();
    case Norm::Layer: return GroupNorm(GroupNormOptions(1, channels)).ptr();
    case Norm::None: return Identity().ptr();
  }
  detail::fail("unknown Norm");
}

const char* norm_name(Norm norm) {
  switch (norm) {
    case Norm::Batch: return "batch";
    case Norm::Group: return "group";
    case Norm::Layer: return "layer";
    case Norm::None: return "none";
  }
  return "?";
}

Norm norm_from_name(const std::string& name) {
  for (Norm n : {Norm::Batch, Norm::Group, Norm::Layer, Norm::None})
    if (name == norm_name(n)) return n;
  detail::fail("unknown norm \"", name, "\" (batch, group, layer, none)");
}

Sequential mlp(const ModelOptions& o) {
  check_size("mlp", o, 1, "one pixel");
  Norm norm = norm_or(o, Norm::Batch);
  WICK_CHECK(norm != Norm::Group, "mlp: norm group is not defined for it (batch, layer or none)");
  Linear fc1(o.channels() * o.height() * o.width(), 256);
  ModulePtr n1 = Identity().ptr();
  if (norm == Norm::Batch) n1 = BatchNorm1d(256).ptr();
  if (norm == Norm::Layer) n1 = LayerNorm(LayerNormOptions({256})).ptr();
  Linear fc2(256, o.classes());
  return Sequential(Flatten(), fc1, n1, ReLU(), fc2);
}

Sequential lenet5(const ModelOptions& o) {
  check_size("lenet5", o, 12, "5x5 convolutions and two 2x2 poolings");
  WICK_CHECK(norm_or(o, Norm::None) == Norm::None, "lenet5: it has no normalization layers (norm none only), got ",
             norm_name(*o.norm()));
  const int64_t h = (o.height() / 2 - 4) / 2, w = (o.width() / 2 - 4) / 2;
  Conv2d conv1(Conv2dOptions(o.channels(), 6, 5).padding(2));
  Conv2d conv2(Conv2dOptions(6, 16, 5));
  Linear fc1(16 * h * w, 120);
  Linear fc2(120, 84);
  Linear fc3(84, o.classes());
  return Sequential(conv1, ReLU(), MaxPool2d(2), conv2, ReLU(), MaxPool2d(2), Flatten(), fc1, ReLU(), fc2, ReLU(),
                    fc3);
}

Sequential small_cnn(const ModelOptions& o) {
  check_size("small-cnn", o, 4, "two 2x2 poolings");
  Norm norm = norm_or(o, Norm::Batch);
  Conv2d conv1(Conv2dOptions(o.channels(), 32, 3).padding(1));
  Conv2d conv2(Conv2dOptions(32, 64, 3).padding(1));
  Linear fc1(64 * (o.height() / 4) * (o.width() / 4), 128);
  Linear fc2(128, o.classes());
  return Sequential(conv1, norm2d(norm, 32), ReLU(), MaxPool2d(2), conv2, norm2d(norm, 64), ReLU(), MaxPool2d(2),
                    Flatten(), fc1, ReLU(), fc2);
}

Sequential vgg8(const ModelOptions& o) {
  check_size("vgg8", o, 8, "three 2x2 poolings");
  Norm norm = norm_or(o, Norm::Batch);
  Sequential model;
  int64_t c = o.channels();
  for (int64_t out : {32, 64, 128}) {
    for (int k = 0; k < 2; ++k) {
      model->push_back(conv3x3(c, out));
      model->push_back(norm2d(norm, out));
      model->push_back(ReLU());
      c = out;
    }
    model->push_back(MaxPool2d(2));
  }
  model->push_back(AdaptiveAvgPool2d(1));
  model->push_back(Flatten());
  model->push_back(Linear(128, 128));
  model->push_back(ReLU());
  model->push_back(Linear(128, o.classes()));
  return model;
}

Sequential resnet(int64_t n, const ModelOptions& o) {
  WICK_CHECK(n > 0, "resnet: blocks per stage must be positive, got ", n);
  check_size("resnet", o, 1, "one pixel");
  Norm norm = norm_or(o, Norm::Batch);
  Sequential model;
  model->push_back("conv1", conv3x3(o.channels(), 16));
  model->push_back("bn1", norm2d(norm, 16));
  model->push_back("relu", ReLU());
  int64_t cin = 16;
  for (int stage = 0; stage < 3; ++stage) {
    const int64_t cout = int64_t{16} << stage;
    Sequential blocks;
    for (int64_t b = 0; b < n; ++b) blocks->add(basic_block(b == 0 ? cin : cout, cout, b == 0 && stage > 0 ? 2 : 1, norm));
    model->push_back("layer" + std::to_string(stage + 1), blocks);
    cin = cout;
  }
  model->push_back("pool", AdaptiveAvgPool2d(1));
  model->push_back("flatten", Flatten());
  model->push_back("fc", Linear(64, o.classes()));
  return model;
}

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names{"mlp", "lenet5", "small-cnn", "vgg8", "resnet20", "resnet32", "resnet56"};
  return names;
}

Sequential make_model(const std::string& name, const ModelOptions& o) {
  if (name == "mlp") return mlp(o);
  if (name == "lenet5") return lenet5(o);
  if (name == "small-cnn") return small_cnn(o);
  if (name == "vgg8") return vgg8(o);
  if (name == "resnet20") return resnet(3, o);
  if (name == "resnet32") return resnet(5, o);
  if (name == "resnet56") return resnet(9, o);
  std::string known;
  for (const std::string& n : model_names()) known += (known.empty() ? "" : ", ") + n;
  detail::fail("unknown model \"", name, "\" (known: ", known, ")");
}

}  // namespace wick::nn
