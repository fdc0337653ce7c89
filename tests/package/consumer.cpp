// An out-of-tree program built against the installed wick: fits y = 2x - 1 by gradient descent
// and exits non-zero unless it learned it. One header on its own comes first: each installed
// header finds the ones it needs by itself, under include/wick/ only.
#include <wick/layers/conv.h>
#include <wick/wick.h>

#include <cstdio>

using namespace wick;

int main() {
  manual_seed(0);
  Tensor x = randn({64, 1});
  Tensor y = x * 2.0 - 1.0;
  Tensor w = zeros({1, 1}).requires_grad_();
  Tensor b = zeros({1}).requires_grad_();
  for (int step = 0; step < 200; ++step) {
    Tensor err = matmul(x, w) + b - y;
    Tensor loss = mean(err * err);
    w.set_grad(Tensor());
    b.set_grad(Tensor());
    loss.backward();
    NoGradGuard no_grad;
    w.add_(w.grad(), -0.1);
    b.add_(b.grad(), -0.1);
  }
  float wv = w.item(), bv = b.item();
  std::printf("learned w = %.4f, b = %.4f\n", wv, bv);
  return (std::abs(wv - 2.f) < 1e-3f && std::abs(bv + 1.f) < 1e-3f) ? 0 : 1;
}
