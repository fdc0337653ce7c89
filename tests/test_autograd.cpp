// The autograd engine: accumulation, explicit gradients, retained and released graphs, no-grad,
// detach, in-place rules, and gradients through views.
#include "helpers.h"

using namespace wick;

TEST_CASE("gradients accumulate across backward calls and reach shared inputs once per use") {
  Tensor x = from_vector(std::vector<float>{1, 2, 3}).requires_grad_();
  sum(mul(x, x)).backward();  // d/dx Σx² = 2x
  CHECK(x.grad().to_vector<float>() == std::vector<float>{2, 4, 6});
  sum(mul(x, x)).backward();
  CHECK(x.grad().to_vector<float>() == std::vector<float>{4, 8, 12});
  x.set_grad(Tensor());
  CHECK(!x.grad().defined());
}

TEST_CASE("a post-accumulate grad hook runs once per backward, after the last add into the leaf") {
  Tensor w = from_vector({1.f, 2.f}).requires_grad_(), v = from_vector({3.f, 4.f}).requires_grad_();
  std::vector<std::vector<float>> at_hook;
  set_post_accumulate_grad_hook(w, [&] { at_hook.push_back(w.grad().to_vector<float>()); });
  Tensor y = (w * v).sum() + (w * w).sum() + v.sum();  // w is read by two ops, three times
  y.backward();
  REQUIRE(at_hook.size() == 1);
  CHECK(at_hook[0] == std::vector<float>{3.f + 2.f, 4.f + 4.f});  // v + 2w: the whole gradient
  (w * 2.0).sum().backward();
  CHECK(at_hook.size() == 2);
  set_post_accumulate_grad_hook(w, nullptr);
  (w * 2.0).sum().backward();
  CHECK(at_hook.size() == 2);
  CHECK_THROWS_AS(set_post_accumulate_grad_hook(w * 2.0, [] {}), Error);
}

TEST_CASE("non-scalar backward needs an explicit gradient") {
  Tensor x = ones({2, 2}).requires_grad_();
  Tensor y = mul(x, 3.0);
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("only for scalar outputs"), Error);
  CHECK_THROWS_WITH_AS(y.backward(ones({3})), doctest::Contains("gradient of shape [3]"), Error);
  y.backward(full({2, 2}, 2.0));
  CHECK(x.grad().to_vector<float>() == std::vector<float>(4, 6.f));
}

TEST_CASE("the graph is released after backward unless retained") {
  Tensor x = ones({2}).requires_grad_();
  Tensor y = sum(mul(x, x));
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  CHECK(x.grad().to_vector<float>() == std::vector<float>{4, 4});
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("second time"), Error);
}

TEST_CASE("backward on a tensor that needs no grad is an error") {
  Tensor x = ones({2});
  CHECK_THROWS_WITH_AS(sum(x).backward(), doctest::Contains("does not require grad"), Error);
}

TEST_CASE("NoGradGuard and detach stop the graph") {
  Tensor x = ones({2}).requires_grad_();
  {
    NoGradGuard g;
    Tensor y = mul(x, 2.0);
    CHECK(!y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
  }
  CHECK(is_grad_enabled());
  Tensor d = x.detach();
  CHECK(!d.requires_grad());
  CHECK(d.same_storage(x));
  Tensor z = add(mul(x, 2.0), d);
  sum(z).backward();
  CHECK(x.grad().to_vector<float>() == std::vector<float>{2, 2});
}

TEST_CASE("in-place rules: leaves update outside the graph, saved tensors are guarded") {
  Tensor w = ones({3}).requires_grad_();
  CHECK_THROWS_WITH_AS(w.add_(ones({3})), doctest::Contains("leaf tensor that requires grad"), Error);
  {
    NoGradGuard g;
    w.add_(ones({3}), -0.5);  // what an optimizer step does
  }
  CHECK(w.to_vector<float>() == std::vector<float>{0.5f, 0.5f, 0.5f});
  Tensor a = ones({3});
  Tensor y = mul(w, a);  // saves a for dy/dw
  a.fill_(2);
  CHECK_THROWS_WITH_AS(sum(y).backward(), doctest::Contains("modified by an in-place operation"), Error);
}

TEST_CASE("gradients flow through views into the right elements") {
  Tensor x = arange(12).view({3, 4}).clone().detach().requires_grad_();
  Tensor y = x.t().slice(0, 1, 4, 2).narrow(1, 0, 2);  // rows 1,3 of xᵀ, first two columns
  sum(mul(y, y)).backward();
  std::vector<float> g = x.grad().to_vector<float>();
  std::vector<float> expect{0, 2, 0, 6, 0, 10, 0, 14, 0, 0, 0, 0};
  CHECK(g == expect);
}

TEST_CASE("gradient checks of the view ops") {
  manual_seed(3);
  using V = std::vector<Tensor>;
  test::gradcheck([](const V& v) { return v[0].permute({2, 0, 1}); }, {test::leaf({2, 3, 4})});
  test::gradcheck([](const V& v) { return v[0].transpose(0, 1).reshape({6, 2}); }, {test::leaf({2, 3, 2})});
  test::gradcheck([](const V& v) { return v[0].slice(1, 0, 5, 2).select(0, 1); }, {test::leaf({3, 5})});
  test::gradcheck([](const V& v) { return v[0].unsqueeze(1).expand({3, 4, 2}); }, {test::leaf({3, 2})});
  test::gradcheck([](const V& v) { return v[0].squeeze(1).flatten(); }, {test::leaf({3, 1, 2})});
  test::gradcheck([](const V& v) { return v[0].t().contiguous().view({-1}); }, {test::leaf({3, 2})});
}

TEST_CASE("the graph keeps only what a backward reads, and frees it once that backward ran") {
  Tensor x = from_vector(std::vector<float>{-1, 0.5f, 2}).requires_grad_();
  Tensor h = mul(x, 2.0);
  std::weak_ptr<Storage> h_mem = h.impl()->storage;
  Tensor y = relu(h);  // relu's backward reads its result, not its input
  std::weak_ptr<Storage> y_mem = y.impl()->storage;
  h = Tensor();
  CHECK(h_mem.expired());
  Tensor loss = sum(log(add(y, 1.0)));
  y = Tensor();
  CHECK(!y_mem.expired());  // saved by relu
  loss.backward();
  CHECK(y_mem.expired());  // released with the graph, though loss is still held
  // d/dx log(relu(2x) + 1) = 2 [x > 0] / (relu(2x) + 1)
  CHECK_CLOSE(x.grad(), from_vector(std::vector<float>{0, 1, 0.4f}), 1e-6, 1e-6);
}

TEST_CASE("conv2d, batch_norm_relu and max_pool2d keep no activation the backward can do without") {
  manual_seed(5);
  Tensor x = randn({8, 8, 28, 28});
  Tensor w = randn({16, 8, 3, 3}).requires_grad_();
  Tensor gamma = ones({16}).requires_grad_(), beta = zeros({16}).requires_grad_();
  const size_t before = buffer_stats().in_use;
  Tensor c = conv2d(x, w, Tensor(), {1, 1}, {1, 1});
  // Only the output (392 KiB) is new: the im2col columns (1.8 MiB; 226 KiB per image) are rebuilt
  // in the backward.
  const size_t out_bytes = static_cast<size_t>(c.numel()) * sizeof(float);
  CHECK(buffer_stats().in_use - before < out_bytes + out_bytes / 4);
  Tensor r = batch_norm_relu(c, Tensor(), Tensor(), gamma, beta, true, 0.1, 1e-5);
  std::weak_ptr<Storage> r_mem = r.impl()->storage;
  Tensor p = max_pool2d(r, {2, 2});
  r = Tensor();
  CHECK(r_mem.expired());  // the ReLU's mask is recomputed from c; the pool keeps argmax positions
  std::weak_ptr<Storage> c_mem = c.impl()->storage;
  c = Tensor();
  CHECK(!c_mem.expired());  // batch_norm_relu reads its input
  sum(mul(p, p)).backward();
  CHECK(c_mem.expired());
  CHECK(w.grad().defined());
}

TEST_CASE("retain_graph runs the saved state of conv2d, batch_norm_relu and max_pool2d twice") {
  manual_seed(6);
  Tensor x = randn({4, 3, 8, 8}).requires_grad_();
  Tensor w = randn({8, 3, 3, 3}).requires_grad_();
  Tensor gamma = ones({8}).requires_grad_(), beta = full({8}, 0.1).requires_grad_();
  Tensor loss =
      sum(max_pool2d(batch_norm_relu(conv2d(x, w, Tensor(), {1, 1}, {1, 1}), Tensor(), Tensor(), gamma, beta, true,
                                     0.1, 1e-5),
                     {2, 2}));
  loss.backward(Tensor(), /*retain_graph=*/true);
  std::vector<Tensor> once;
  for (const Tensor* t : {&x, &w, &gamma, &beta}) once.push_back(t->grad().clone());
  loss.backward();
  const Tensor* leaves[] = {&x, &w, &gamma, &beta};
  for (size_t k = 0; k < once.size(); ++k) CHECK_CLOSE(leaves[k]->grad(), mul(once[k], 2.0), 1e-6, 1e-6);
  CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("second time"), Error);
}

TEST_CASE("a backward that throws leaves no partial gradient behind for a retry") {
  Tensor x = from_vector(std::vector<float>{1, 2}).requires_grad_();
  Tensor loss = sum(mul(exp(mul(x, 2.0)), 3.0));
  bool thrown = false;
  set_backward_observer([&](const Node&, double) {
    if (!thrown) {
      thrown = true;
      throw Error("interrupted");
    }
  });
  CHECK_THROWS_AS(loss.backward(Tensor(), /*retain_graph=*/true), Error);
  set_backward_observer(nullptr);
  x.set_grad(Tensor());
  loss.backward();
  // d/dx 3 e^(2x) = 6 e^(2x)
  CHECK_CLOSE(x.grad(), from_vector(std::vector<float>{6 * std::exp(2.f), 6 * std::exp(4.f)}), 1e-6, 1e-6);
}

TEST_CASE("an op's backward may read only what its record() saved") {
  Tensor x = from_vector(std::vector<float>{1, 2}).requires_grad_();
  Tensor y = empty({2});
  record(y, "forgetful", {x}, [](BackwardCtx& ctx) { ctx.grad_in(0).add_(ctx.input(0)); });
  CHECK_THROWS_WITH_AS(sum(y).backward(), doctest::Contains("was not saved by its forward"), Error);
  Tensor z = empty({2});
  CHECK_THROWS_WITH_AS(record(z, "bad", {x}, [](BackwardCtx&) {}, {.inputs = {1}}),
                       doctest::Contains("Saves lists input 1"), Error);
}

TEST_CASE("a batch norm's result, and a ReLU of it, are made again in the backward instead of kept") {
  manual_seed(7);
  Tensor x = randn({4, 3, 8, 8}).requires_grad_();
  Tensor w1 = randn({6, 3, 3, 3}).requires_grad_(), w2 = randn({5, 6, 3, 3}).requires_grad_();
  Tensor gamma = full({6}, 0.7).requires_grad_(), beta = full({6}, 0.1).requires_grad_();
  Tensor rm = zeros({6}), rv = ones({6});
  Tensor* leaves[] = {&x, &w1, &w2, &gamma, &beta};
  // keep: mul by 1 before the ReLU (exact) makes nothing recomputable, so the graph keeps the values.
  auto run = [&](bool fused, bool keep, bool training) {
    for (Tensor* t : leaves) t->set_grad(Tensor());
    Tensor c = conv2d(x, w1, Tensor(), {1, 1}, {1, 1});
    Tensor y = fused ? batch_norm_relu(c, rm, rv, gamma, beta, training, 0.1, 1e-5)
                     : relu(keep ? mul(batch_norm(c, rm, rv, gamma, beta, training, 0.1, 1e-5), 1.0)
                                 : batch_norm(c, rm, rv, gamma, beta, training, 0.1, 1e-5));
    std::weak_ptr<Storage> y_mem = y.impl()->storage;
    Tensor loss = sum(mul(conv2d(y, w2, Tensor(), {1, 1}, {1, 1}), 0.5));
    y = Tensor();
    CHECK(y_mem.expired() == !keep);  // kept by conv2d (and relu) only when not recomputable
    loss.backward();
    std::vector<Tensor> grads;
    for (const Tensor* t : leaves) grads.push_back(t->grad().clone());
    return grads;
  };
  for (bool training : {true, false}) {
    const std::vector<Tensor> kept = run(false, true, training);
    for (bool fused : {false, true}) {
      const std::vector<Tensor> remade = run(fused, false, training);
      for (size_t k = 0; k < kept.size(); ++k)
        CHECK(remade[k].to_vector<float>() == kept[k].to_vector<float>());  // the same bits
    }
  }
}

TEST_CASE("a recomputed activation still may not be modified in place after the forward") {
  Tensor c = from_vector(std::vector<float>{-1, 0.5f, 2, 3}).view({2, 2}).requires_grad_();
  Tensor y = relu(batch_norm(c, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5));
  Tensor loss = sum(mul(y, from_vector(std::vector<float>{1, 2, 3, 4}).view({2, 2})));
  {
    NoGradGuard g;
    y.fill_(0);
  }
  CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("modified by an in-place operation"), Error);
}

TEST_CASE("an add hands its gradient to one input as it is, and a copy to the other") {
  Tensor a = zeros({256, 256}).requires_grad_(), b = zeros({256, 256}).requires_grad_();
  Tensor y = add(a, b, 3.0);
  Tensor g = randn({256, 256});
  size_t one = 0;  // what one such buffer takes (a sanitizer build adds a red zone)
  {
    const size_t start = buffer_stats().in_use;
    Tensor t = empty({256, 256});
    one = buffer_stats().in_use - start;
  }
  const size_t before = buffer_stats().in_use;
  reset_buffer_peak();
  y.backward(g);
  CHECK(buffer_stats().peak_in_use - before <= 2 * one);  // the seed, now a's gradient, and b's
  CHECK(!a.grad().same_storage(b.grad()));
  CHECK(a.grad().to_vector<float>() == g.to_vector<float>());
  CHECK(b.grad().to_vector<float>() == mul(g, 3.0).to_vector<float>());
}

TEST_CASE("a gradient an add handed on keeps accumulating for its own input only") {
  Tensor x = from_vector(std::vector<float>{1, -2, 3}).requires_grad_();
  Tensor c = from_vector(std::vector<float>{0.5f, 2, -1}), d = from_vector(std::vector<float>{4, -3, 0.25f});
  for (bool h_first : {true, false}) {
    x.set_grad(Tensor());
    Tensor h = mul(x, 2.0), k = mul(x, 3.0), x2 = mul(x, 1.0);
    Tensor s = h_first ? add(h, k) : add(k, h);
    // dL/dh = c + d (from s and from h itself), dL/dk = c, dL/dx2 = 2 (add(x2, x2))
    Tensor loss = add(add(sum(mul(s, c)), sum(mul(h, d))), sum(add(x2, x2)));
    loss.backward();
    // dL/dx = 2 (c + d) + 3 c + 2
    CHECK(x.grad().to_vector<float>() == std::vector<float>{2 * 4.5f + 1.5f + 2, 2 * -1.f + 6 + 2, 2 * -0.75f - 3 + 2});
  }
}

TEST_CASE("a retained graph makes a recomputed activation again in every backward") {
  manual_seed(8);
  Tensor c = randn({4, 3, 5, 5}).requires_grad_();
  Tensor w = randn({2, 3, 3, 3}).requires_grad_();
  Tensor y = relu(batch_norm(c, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5));
  Tensor loss = sum(conv2d(y, w, Tensor(), {1, 1}, {0, 0}));
  y = Tensor();
  loss.backward(Tensor(), /*retain_graph=*/true);
  const Tensor once_c = c.grad().clone(), once_w = w.grad().clone();
  loss.backward();
  CHECK(c.grad().to_vector<float>() == add(once_c, once_c).to_vector<float>());
  CHECK(w.grad().to_vector<float>() == add(once_w, once_w).to_vector<float>());
  CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("second time"), Error);
}
