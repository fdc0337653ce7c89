// forward_cost: one eval forward of a zero sample, layer by layer, through a copy of the model.
#include "layers/summary.h"

#include "core/core.h"
#include "layers/nn.h"

namespace wick::nn {
namespace {

double macs_per_output(const Module& m) {
  if (auto* conv = dynamic_cast<const Conv2dImpl*>(&m)) {
    const Conv2dOptions& o = conv->options;
    return static_cast<double>(o.in_channels() / o.groups() * o.kernel_size()[0] * o.kernel_size()[1]);
  }
  if (auto* lin = dynamic_cast<const LinearImpl*>(&m)) return static_cast<double>(lin->options.in_features());
  return 0;
}

Tensor run(Module& m, const Tensor& x, double& flops) {
  if (auto* seq = dynamic_cast<SequentialImpl*>(&m)) {
    Tensor h = x;
    for (auto& [name, child] : seq->named_children()) h = run(*child, h, flops);
    return h;
  }
  if (auto* res = dynamic_cast<ResidualImpl*>(&m)) {
    Tensor h = x;
    for (size_t i = 0; i < res->size(); ++i) h = run(*(*res)[i], h, flops);
    Tensor sum = add(h, res->shortcut() ? run(*res->shortcut(), x, flops) : x);
    return res->activation() ? run(*res->activation(), sum, flops) : sum;
  }
  WICK_CHECK(m.named_children().empty(), "forward_cost: cannot look inside ", m.type_name(),
             " (only Sequential and Residual containers are walked)");
  Tensor y = m.forward(x);
  flops += 2 * macs_per_output(m) * static_cast<double>(y.numel());
  return y;
}

}  // namespace

ForwardCost forward_cost(const Module& model, const Shape& sample) {
  std::shared_ptr<Module> copy = model.clone();
  copy->eval();
  // Fresh BatchNorm statistics would warn that they never saw a batch; they are only a shape here.
  struct Muted {
    std::function<void(const std::string&)> previous = set_warning_handler([](const std::string&) {});
    ~Muted() { set_warning_handler(previous); }
  } muted;
  NoGradGuard no_grad;
  Shape batch{1};
  batch.insert(batch.end(), sample.begin(), sample.end());
  ForwardCost cost;
  Tensor y = run(*copy, zeros(batch), cost.flops);
  cost.output.assign(y.shape().begin() + 1, y.shape().end());
  cost.parameters = model.parameter_count();
  return cost;
}

}  // namespace wick::nn
