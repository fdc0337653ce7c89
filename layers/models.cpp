// small-cnn and mlp, the CLI's named models.
#include "layers/models.h"

#include "layers/nn.h"

namespace wick::nn {

Sequential small_cnn(int64_t channels, int64_t classes, int64_t height, int64_t width) {
  WICK_CHECK(height >= 4 && width >= 4, "small-cnn: images must be at least 4x4 (two 2x2 poolings), got ", height,
             "x", width);
  return Sequential(Conv2d(Conv2dOptions(channels, 32, 3).padding(1)), BatchNorm2d(32), ReLU(), MaxPool2d(2),
                    Conv2d(Conv2dOptions(32, 64, 3).padding(1)), BatchNorm2d(64), ReLU(), MaxPool2d(2), Flatten(),
                    Linear(64 * (height / 4) * (width / 4), 128), ReLU(), Linear(128, classes));
}

Sequential mlp(int64_t channels, int64_t classes, int64_t height, int64_t width) {
  return Sequential(Flatten(), Linear(channels * height * width, 256), BatchNorm1d(256), ReLU(), Linear(256, classes));
}

std::vector<std::string> model_names() { return {"small-cnn", "mlp"}; }

Sequential make_model(const std::string& name, int64_t channels, int64_t classes, int64_t height, int64_t width) {
  if (name == "small-cnn") return small_cnn(channels, classes, height, width);
  if (name == "mlp") return mlp(channels, classes, height, width);
  detail::fail("unknown model \"", name, "\" (known: small-cnn, mlp)");
}

}  // namespace wick::nn
