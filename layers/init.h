// nn::init: in-place initializers with PyTorch's formulas and names. All draw from the global
// generator (manual_seed) and run outside the graph.
#pragma once
#include <string>
#include <utility>

#include "../core/tensor.h"

namespace wick::nn::init {

// (fan_in, fan_out) of a weight: (in_features, out_features) for 2-D, times the receptive field
// (product of dims past the second) for conv weights.
std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& w);
// Recommended gain: "linear"/"conv2d"/"sigmoid" 1, "tanh" 5/3, "relu" sqrt(2),
// "leaky_relu" sqrt(2 / (1 + param^2)).
double calculate_gain(const std::string& nonlinearity, double param = 0.01);

// While one is alive, uniform_ and normal_ (and the initializers built on them) leave tensors as
// they are and draw nothing, on this thread: for clone() and loading, which overwrite every tensor
// right after building the modules, so copying a model does not move the random stream.
class SkipInit {
 public:
  SkipInit();
  ~SkipInit();
  SkipInit(const SkipInit&) = delete;
  SkipInit& operator=(const SkipInit&) = delete;
};

Tensor& uniform_(Tensor& t, double lo = 0.0, double hi = 1.0);
Tensor& normal_(Tensor& t, double mean = 0.0, double std = 1.0);
Tensor& constant_(Tensor& t, double value);
Tensor& zeros_(Tensor& t);
Tensor& ones_(Tensor& t);
// mode "fan_in" or "fan_out"; bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a).
Tensor& kaiming_uniform_(Tensor& t, double a = 0.0, const std::string& mode = "fan_in",
                         const std::string& nonlinearity = "leaky_relu");
Tensor& kaiming_normal_(Tensor& t, double a = 0.0, const std::string& mode = "fan_in",
                        const std::string& nonlinearity = "leaky_relu");
Tensor& xavier_uniform_(Tensor& t, double gain = 1.0);
Tensor& xavier_normal_(Tensor& t, double gain = 1.0);

}  // namespace wick::nn::init
