// nn::Sequential: children named "0", "1", ... run in order, as torch.nn.Sequential.
#pragma once
#include "layers/module.h"

namespace wick::nn {

class SequentialImpl : public Module {
 public:
  SequentialImpl() = default;
  template <typename... Modules>
    requires(sizeof...(Modules) > 0)
  explicit SequentialImpl(Modules&&... modules) {
    (push_back(std::forward<Modules>(modules)), ...);
  }

  // Appends a module (a holder such as nn::Linear, or a shared_ptr to a Module), named by position.
  template <typename M>
  void push_back(const M& module) {
    if constexpr (requires { module.ptr(); }) add(module.ptr());
    else add(std::shared_ptr<Module>(module));
  }
  void add(std::shared_ptr<Module> module) { add_child(std::to_string(size()), std::move(module)); }

  size_t size() const { return named_children().size(); }
  std::shared_ptr<Module> operator[](size_t i) const;
  // The i-th module as its concrete type; throws if it is another type.
  template <typename Impl>
  std::shared_ptr<Impl> at(size_t i) const {
    auto m = std::dynamic_pointer_cast<Impl>((*this)[i]);
    WICK_CHECK(m != nullptr, "Sequential: module ", i, " is a ", (*this)[i]->type_name(),
               ", not the type asked for");
    return m;
  }

  std::string type_name() const override { return "Sequential"; }
  Tensor forward(const Tensor& x) override;
  // One step of forward(): runs children[i...] on h (replaced by the result), fusing what forward
  // fuses, and returns how many children that step ran (at least 1). forward() is this in a loop;
  // `wick bench --profile` times each step.
  size_t forward_step(size_t i, Tensor& h) const;

 private:
  size_t try_fused_conv(size_t i, Tensor& h) const;
};
WICK_MODULE(Sequential);

}  // namespace wick::nn
