// The model zoo: the networks the wick CLI knows by name, exactly as the PyTorch definitions in
// docs/models.md (zoo.py) lay them out, so their safetensors keys are PyTorch's state_dict keys and
// weights move both ways. Each is built for any channel count, class count and image size.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "../core/options.h"
#include "containers.h"

namespace wick::nn {

// The normalization layer after each convolution (and mlp's hidden Linear):
//   Batch: BatchNorm2d (mlp: BatchNorm1d)       Group: GroupNorm with 8 groups
//   Layer: GroupNorm with 1 group (mlp: LayerNorm)  None: Identity, so the other layers keep their names
enum class Norm { Batch, Group, Layer, None };
const char* norm_name(Norm norm);
// The layer `norm` puts after a convolution with `channels` outputs (as listed above).
std::shared_ptr<Module> norm2d(Norm norm, int64_t channels);                 // "batch", "group", "layer", "none"
Norm norm_from_name(const std::string& name);     // the inverse; throws on another name

struct ModelOptions {
  WICK_ARG(int64_t, channels) = 1;
  WICK_ARG(int64_t, classes) = 10;
  WICK_ARG(int64_t, height) = 28;
  WICK_ARG(int64_t, width) = 28;
  // std::nullopt: the model's default (None for lenet5, Batch for the others).
  WICK_ARG(std::optional<Norm>, norm);
};

// Flatten, Linear(c*h*w, 256), norm(256), ReLU, Linear(256, classes). Norm Group is refused.
Sequential mlp(const ModelOptions& options = {});
// LeNet-5 with ReLU and max pooling, no normalization: Conv2d(c,6,5,p=2), ReLU, MaxPool2d(2),
// Conv2d(6,16,5), ReLU, MaxPool2d(2), Flatten, Linear(16*h'*w', 120), ReLU, Linear(120, 84), ReLU,
// Linear(84, classes), with h' = (h/2 - 4)/2. Only Norm None.
Sequential lenet5(const ModelOptions& options = {});
// Conv2d(c,32,3,p=1), norm, ReLU, MaxPool2d(2), Conv2d(32,64,3,p=1), norm, ReLU, MaxPool2d(2),
// Flatten, Linear(64*(h/4)*(w/4), 128), ReLU, Linear(128, classes).
Sequential small_cnn(const ModelOptions& options = {});
// Three stages of two [Conv2d(3x3, p=1, no bias), norm, ReLU] and a MaxPool2d(2), with 32, 64 and
// 128 channels; AdaptiveAvgPool2d(1), Flatten, Linear(128, 128), ReLU, Linear(128, classes).
Sequential vgg8(const ModelOptions& options = {});
// The CIFAR ResNets of He et al. 2016, depth 6n+2 (n = 3: resnet20, 5: resnet32, 9: resnet56):
// conv1 (3x3, 16), bn1, relu, layer1..layer3 (n BasicBlocks each, 16/32/64 channels, the first
// block of layer2 and layer3 with stride 2 and a 1x1 conv + norm projection shortcut), pool
// (AdaptiveAvgPool2d(1)), flatten, fc. A block is a Residual: conv1, bn1, relu, conv2, bn2, plus
// the shortcut, then ReLU.
Sequential resnet(int64_t n, const ModelOptions& options = {});

// By name: mlp, lenet5, small-cnn, vgg8, resnet20, resnet32, resnet56. An unknown name, a norm
// the model does not take, or images too small for it are errors naming what was wrong.
Sequential make_model(const std::string& name, const ModelOptions& options = {});
const std::vector<std::string>& model_names();

}  // namespace wick::nn
