// small-cnn and mlp, the CLI's named models.
#include "layers/models.h"

#include "layers/nn.h"

namespace wick::nn {

Sequential small_cnn(int64_t channels, int64_t classes, int64_t height, int64_t width) {
  WICK_CHECK(height >= 4 && width >= 4, "small-cnn: images must be at least 4x4 (two 2x2 poolings), got ", height,
             "x", width);
  // Layers are built one statement at a time so their initial weights are drawn first layer
  // first (the order of a call's arguments is unspecified in C++).
  Conv2d conv1(Conv2dOptions(channels, 32, 3).padding(1));
  Conv2d conv2(Conv2dOptions(32, 64, 3).padding(1));
  Linear fc1(64 * (height / 4) * (width / 4), 128);
  Linear fc2(128, classes);
  return Sequential(conv1, BatchNorm2d(32), ReLU(), MaxPool2d(2), conv2, BatchNorm2d(64), ReLU(), MaxPool2d(2),
                    Flatten(), fc1, ReLU(), fc2);
}

Sequential mlp(int64_t channels, int64_t classes, int64_t height, int64_t width) {
  Linear fc1(channels * height * width, 256);
  Linear fc2(256, classes);
  return Sequential(Flatten(), fc1, BatchNorm1d(256), ReLU(), fc2);
}

std::vector<std::string> model_names() { return {"small-cnn", "mlp"}; }

Sequential make_model(const std::string& name, int64_t channels, int64_t classes, int64_t height, int64_t width) {
  if (name == "small-cnn") return small_cnn(channels, classes, height, width);
  if (name == "mlp") return mlp(channels, classes, height, width);
  detail::fail("unknown model \"", name, "\" (known: small-cnn, mlp)");
}

}  // namespace wick::nn
