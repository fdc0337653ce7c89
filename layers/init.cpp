// nn::init formulas (PyTorch's torch.nn.init), writing through NoGradGuard.
#include "layers/init.h"

#include <cmath>

#include "core/autograd.h"
#include "core/random.h"

namespace wick::nn::init {

std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& w) {
  WICK_CHECK(w.dim() >= 2, "init: fan in and fan out need a tensor with at least 2 dims, got shape ",
             shape_str(w.shape()));
  int64_t receptive = 1;
  for (int64_t d = 2; d < w.dim(); ++d) receptive *= w.size(d);
  return {w.size(1) * receptive, w.size(0) * receptive};
}

double calculate_gain(const std::string& nonlinearity, double param) {
  if (nonlinearity == "linear" || nonlinearity == "conv2d" || nonlinearity == "sigmoid") return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  detail::fail("init: unsupported nonlinearity \"", nonlinearity,
               "\" (linear, conv2d, sigmoid, tanh, relu, leaky_relu)");
}

namespace {
thread_local int skipping = 0;
}  // namespace

SkipInit::SkipInit() { ++skipping; }
SkipInit::~SkipInit() { --skipping; }

Tensor& uniform_(Tensor& t, double lo, double hi) {
  if (skipping) return t;
  NoGradGuard g;
  t.copy_(uniform(t.shape(), lo, hi));
  return t;
}

Tensor& normal_(Tensor& t, double mean, double std) {
  if (skipping) return t;
  NoGradGuard g;
  t.copy_(randn(t.shape()));
  t.mul_(std);
  t.add_(full({}, mean));
  return t;
}

Tensor& constant_(Tensor& t, double value) {
  NoGradGuard g;
  t.fill_(value);
  return t;
}
Tensor& zeros_(Tensor& t) { return constant_(t, 0.0); }
Tensor& ones_(Tensor& t) { return constant_(t, 1.0); }

namespace {
double kaiming_std(const Tensor& t, double a, const std::string& mode, const std::string& nonlinearity) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  WICK_CHECK(mode == "fan_in" || mode == "fan_out", "init: mode must be fan_in or fan_out, got \"", mode, "\"");
  int64_t fan = mode == "fan_in" ? fan_in : fan_out;
  WICK_CHECK(fan > 0, "init: cannot initialize a tensor of shape ", shape_str(t.shape()), " with zero fan");
  return calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan));
}
}  // namespace

Tensor& kaiming_uniform_(Tensor& t, double a, const std::string& mode, const std::string& nonlinearity) {
  double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, nonlinearity);
  return uniform_(t, -bound, bound);
}

Tensor& kaiming_normal_(Tensor& t, double a, const std::string& mode, const std::string& nonlinearity) {
  return normal_(t, 0.0, kaiming_std(t, a, mode, nonlinearity));
}

Tensor& xavier_uniform_(Tensor& t, double gain) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  double bound = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return uniform_(t, -bound, bound);
}

Tensor& xavier_normal_(Tensor& t, double gain) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  return normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)));
}

}  // namespace wick::nn::init
