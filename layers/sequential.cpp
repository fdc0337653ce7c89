// nn::Sequential: indexing and the forward chain.
#include "layers/sequential.h"

namespace wick::nn {

std::shared_ptr<Module> SequentialImpl::operator[](size_t i) const {
  WICK_CHECK(i < size(), "Sequential: index ", i, " is out of range for ", size(), " modules");
  return named_children()[i].second;
}

Tensor SequentialImpl::forward(const Tensor& x) {
  Tensor h = x;
  for (const auto& [name, m] : named_children()) h = m->forward(h);
  return h;
}

}  // namespace wick::nn
