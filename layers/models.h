// The models the wick CLI knows by name, built from the layers with PyTorch's names, so their
// safetensors keys match the same nn.Sequential written in PyTorch.
#pragma once
#include <string>
#include <vector>

#include "layers/containers.h"

namespace wick::nn {

// small-cnn for (channels, height, width) images: Conv2d(c,32,3,p=1), BatchNorm2d(32), ReLU,
// MaxPool2d(2), Conv2d(32,64,3,p=1), BatchNorm2d(64), ReLU, MaxPool2d(2), Flatten,
// Linear(64*(h/4)*(w/4), 128), ReLU, Linear(128, classes). For 1x28x28 that is Linear(3136, 128).
Sequential small_cnn(int64_t channels = 1, int64_t classes = 10, int64_t height = 28, int64_t width = 28);

// mlp: Flatten, Linear(c*h*w, 256), BatchNorm1d(256), ReLU, Linear(256, classes).
Sequential mlp(int64_t channels = 1, int64_t classes = 10, int64_t height = 28, int64_t width = 28);

// By name ("small-cnn", "mlp"); an unknown name is an error listing the known ones.
Sequential make_model(const std::string& name, int64_t channels, int64_t classes, int64_t height, int64_t width);
std::vector<std::string> model_names();

}  // namespace wick::nn
