// group_norm / layer_norm and nn::GroupNorm / nn::LayerNorm: PyTorch golden values
// (tests/data/norm_layers.json, from tools/golden/norm_layers.py), gradient checks, errors,
// determinism across thread counts, and the layers' JSON descriptions and files.
#include "helpers.h"

using namespace wick;
using test::Golden;
using V = std::vector<Tensor>;
using Json = nlohmann::json;

namespace {

Tensor maybe(const V& v, size_t i) { return v.size() > i ? v[i] : Tensor(); }

// The layer a golden case describes, built from its JSON description, with the case's weight and bias.
std::shared_ptr<nn::Module> golden_layer(const Json& c) {
  Json d = {{"type", c.at("type")}, {"eps", c.at("eps")}};
  const bool affine = c.contains("weight");
  if (c.at("type") == "GroupNorm") {
    d.update({{"num_groups", c.at("num_groups")}, {"num_channels", c.at("num_channels")}, {"affine", affine}});
  } else {
    d.update({{"normalized_shape", c.at("normalized_shape")}, {"elementwise_affine", affine}});
  }
  auto m = nn::module_from_json(d.dump());
  if (affine) {
    NoGradGuard g;
    auto params = m->named_parameters();
    REQUIRE(params.size() == 2);
    params[0].second.copy_(Golden::tensor(c.at("weight")));
    params[1].second.copy_(Golden::tensor(c.at("bias")));
  }
  return m;
}

}  // namespace

TEST_CASE("GroupNorm and LayerNorm match PyTorch: outputs, gradients and printouts") {
  Golden golden("norm_layers.json");
  int n = 0;
  for (const auto& c : golden.at("cases")) {
    INFO("case: ", c.at("name").get<std::string>());
    auto m = golden_layer(c);
    CHECK(m->repr() == c.at("repr").get<std::string>());
    Tensor x = Golden::tensor(c.at("x")).requires_grad_();
    Tensor y = m->forward(x);
    CHECK_CLOSE(y, Golden::tensor(c.at("out")), 1e-5, 1e-6);
    y.backward(Golden::tensor(c.at("grad_out")));
    CHECK_CLOSE(x.grad(), Golden::tensor(c.at("grad_x")), 1e-5, 1e-6);
    auto params = m->named_parameters();
    if (c.contains("weight")) {
      CHECK_CLOSE(params.at(0).second.grad(), Golden::tensor(c.at("grad_weight")), 1e-5, 1e-6);
      CHECK_CLOSE(params.at(1).second.grad(), Golden::tensor(c.at("grad_bias")), 1e-5, 1e-6);
    } else {
      CHECK(params.empty());
    }
    ++n;
  }
  CHECK(n >= 11);
}

TEST_CASE("gradient checks: group_norm with and without affine, (N,C) to (N,C,H,W), G = 1 and G = C") {
  manual_seed(51);
  auto gn = [](int64_t groups) {
    return [groups](const V& v) { return group_norm(v[0], groups, maybe(v, 1), maybe(v, 2)); };
  };
  test::gradcheck(gn(2), {test::leaf({3, 4, 2, 3}), test::leaf({4}, 1.0), test::leaf({4})});
  test::gradcheck(gn(3), {test::leaf({5, 6}), test::leaf({6}, 1.0), test::leaf({6})});  // spatial size 1
  test::gradcheck(gn(1), {test::leaf({2, 4, 3}), test::leaf({4}, 1.0), test::leaf({4})});
  test::gradcheck(gn(4), {test::leaf({2, 4, 5}), test::leaf({4}, 1.0), test::leaf({4})});  // G = C
  test::gradcheck(gn(2), {test::leaf({3, 4, 2, 2})});                                      // no affine
  test::gradcheck([](const V& v) { return group_norm(v[0], 2, v[1], Tensor()); },
                  {test::leaf({2, 6, 3}), test::leaf({6}, 1.0)});  // weight only
}

TEST_CASE("gradient checks: layer_norm over one and two trailing dims, with and without affine") {
  manual_seed(52);
  auto ln = [](std::vector<int64_t> shape) {
    return [shape](const V& v) { return layer_norm(v[0], shape, maybe(v, 1), maybe(v, 2)); };
  };
  test::gradcheck(ln({6}), {test::leaf({4, 6}), test::leaf({6}, 1.0), test::leaf({6})});
  test::gradcheck(ln({3, 4}), {test::leaf({2, 3, 4}), test::leaf({3, 4}, 1.0), test::leaf({3, 4})});
  test::gradcheck(ln({3, 4}), {test::leaf({3, 4}), test::leaf({3, 4}, 1.0), test::leaf({3, 4})});  // one sample
  test::gradcheck(ln({5}), {test::leaf({2, 3, 5})});  // no affine
  test::gradcheck([](const V& v) { return layer_norm(v[0], {5}, Tensor(), v[1]); },
                  {test::leaf({3, 5}), test::leaf({5})});  // bias only
}

TEST_CASE("GroupNorm with one group is LayerNorm over (C, H, W) without affine") {
  manual_seed(53);
  Tensor x = randn({3, 4, 5, 6});
  CHECK_CLOSE(group_norm(x, 1, Tensor(), Tensor()), layer_norm(x, {4, 5, 6}, Tensor(), Tensor()), 1e-6, 1e-6);
}

TEST_CASE("group_norm and layer_norm errors name the shapes") {
  auto throws = [](const std::function<void()>& f, const char* what) {
    CHECK_THROWS_WITH_AS(f(), doctest::Contains(what), Error);
  };
  throws([] { group_norm(ones({2, 30, 4}), 8, Tensor(), Tensor()); },
         "group_norm: the input's 30 channels (shape [2, 30, 4]) are not divisible by 8 groups");
  throws([] { group_norm(ones({6}), 2, Tensor(), Tensor()); }, "expects input of shape (N, C, *), got [6]");
  throws([] { group_norm(ones({2, 6}), 0, Tensor(), Tensor()); }, "num_groups must be positive, got 0");
  throws([] { group_norm(ones({2, 6, 3}), 2, ones({4}), Tensor()); },
         "group_norm: weight has shape [4] but expected [6] (one value per channel of the input of shape [2, 6, 3])");
  throws([] { group_norm(ones({2, 6, 3}), 2, Tensor(), ones({6, 1})); }, "bias has shape [6, 1]");
  throws([] { group_norm(ones({2, 6}), 2, Tensor(), Tensor(), -1.0); }, "eps must be non-negative");
  throws([] { layer_norm(ones({6, 255}), {256}, Tensor(), Tensor()); },
         "layer_norm: normalized_shape [256] expects input of shape [*, 256], got [6, 255]");
  throws([] { layer_norm(ones({5}), {2, 5}, Tensor(), Tensor()); }, "expects input of shape [*, 2, 5], got [5]");
  throws([] { layer_norm(ones({2, 4}), {}, Tensor(), Tensor()); }, "normalized_shape must have at least one dim");
  throws([] { layer_norm(ones({2, 4}), {4}, ones({2, 4}), Tensor()); },
         "layer_norm: weight has shape [2, 4] but expected [4] (normalized_shape [4])");
  throws([] { layer_norm(ones({2, 4}), {4}, Tensor(), ones({3})); }, "bias has shape [3]");
  throws([] { nn::GroupNorm(8, 30); }, "GroupNorm: num_channels (30) must be divisible by num_groups (8)");
  throws([] { nn::GroupNorm(0, 4); }, "GroupNorm: num_groups must be positive, got 0");
  throws([] { nn::GroupNorm(nn::GroupNormOptions(2, 4).eps(0)); }, "GroupNorm: eps must be a positive finite number");
  throws([] { nn::GroupNorm(2, 4)(ones({2, 6, 3})); }, "GroupNorm: expected input of shape (N, 4, *)");
  throws([] { nn::LayerNorm(std::vector<int64_t>{}); }, "LayerNorm: normalized_shape must have at least one dim");
  throws([] { nn::LayerNorm(std::vector<int64_t>{4, 0}); }, "LayerNorm: normalized_shape must hold positive sizes");
  throws([] { nn::LayerNorm(std::vector<int64_t>{4})(ones({2, 5})); }, "expects input of shape [*, 4], got [2, 5]");
}

TEST_CASE("NaN and Inf propagate to their own sample only") {
  Tensor x = randn({2, 4, 3});
  x.data<float>()[5] = NAN;  // sample 0, group 0
  Tensor y = group_norm(x, 2, Tensor(), Tensor());
  std::vector<float> v = y.to_vector<float>();
  for (int i = 0; i < 6; ++i) CHECK(std::isnan(v[i]));
  for (size_t i = 6; i < v.size(); ++i) CHECK(std::isfinite(v[i]));
  x.data<float>()[5] = INFINITY;
  std::vector<float> l = layer_norm(x, {4, 3}, Tensor(), Tensor()).to_vector<float>();
  CHECK(std::isnan(l[0]));
  CHECK(std::isfinite(l[12]));
}

TEST_CASE("group_norm and layer_norm are bit-identical at 1 and 2 threads, gradients included") {
  manual_seed(54);
  Tensor xg = add(mul(randn({16, 32, 24, 24}), 2.0), 1.0), xl = randn({512, 256});
  Tensor wg = test::leaf({32}, 1.0), bg = test::leaf({32}), wl = test::leaf({256}, 1.0), bl = test::leaf({256});
  Tensor gg = randn(xg.shape()), gl = randn(xl.shape());
  auto run = [&] {
    Tensor a = xg.clone().requires_grad_(), c = xl.clone().requires_grad_();
    for (Tensor* p : {&wg, &bg, &wl, &bl}) p->set_grad(Tensor());
    Tensor yg = group_norm(a, 8, wg, bg), yl = layer_norm(c, {256}, wl, bl);
    yg.backward(gg);
    yl.backward(gl);
    return V{yg.detach(), yl.detach(), a.grad(), c.grad(), wg.grad(), bg.grad(), wl.grad(), bl.grad()};
  };
  set_num_threads(1);
  V one = run();
  set_num_threads(2);
  V two = run();
  set_num_threads(0);
  for (size_t i = 0; i < one.size(); ++i) {
    INFO("result ", i);
    CHECK(equal(one[i], two[i]));
  }
}

TEST_CASE("GroupNorm and LayerNorm defaults, the same in training and eval mode") {
  nn::GroupNorm gn(2, 4);
  CHECK(equal(gn->weight, ones({4})));
  CHECK(equal(gn->bias, zeros({4})));
  CHECK(gn->repr() == "GroupNorm(2, 4, eps=1e-05, affine=True)");
  nn::LayerNorm ln(nn::LayerNormOptions({4, 5}).eps(1e-3).elementwise_affine(false));
  CHECK(ln->parameters().empty());
  CHECK(ln->repr() == "LayerNorm((4, 5), eps=0.001, elementwise_affine=False)");
  CHECK(nn::state_dict(*gn).size() == 2);
  CHECK(nn::state_dict(*gn)[0].first == "weight");
  Tensor x = randn({3, 4, 5});
  Tensor train = gn(x);
  gn->eval();
  CHECK(equal(train, gn(x)));
  {
    NoGradGuard g;
    gn->weight.fill_(2.0);
  }
  gn->reset_parameters();
  CHECK(equal(gn->weight, ones({4})));
}

TEST_CASE("GroupNorm and LayerNorm descriptions: PyTorch's field names, a single integer shape, refusals") {
  auto ln = nn::module_from_json(R"({"type": "LayerNorm", "normalized_shape": 256})");
  CHECK(nn::architecture_json(*ln) ==
        R"({"type":"LayerNorm","normalized_shape":[256],"eps":1e-05,"elementwise_affine":true})");
  auto gn = nn::module_from_json(R"({"type": "GroupNorm", "num_groups": 8, "num_channels": 32})");
  CHECK(nn::architecture_json(*gn) == R"({"type":"GroupNorm","num_groups":8,"num_channels":32,"eps":1e-05,"affine":true})");
  auto refuses = [](const char* json, const char* what) {
    CHECK_THROWS_WITH_AS(nn::module_from_json(json), doctest::Contains(what), Error);
  };
  refuses(R"({"type": "GroupNorm", "num_groups": 8, "num_channels": 30})",
          "architecture: GroupNorm: num_channels (30) must be divisible by num_groups (8)");
  refuses(R"({"type": "GroupNorm", "num_groups": 0, "num_channels": 30})", "num_groups: expected a positive integer");
  refuses(R"({"type": "GroupNorm", "num_groups": 2})", "missing the required field \"num_channels\"");
  refuses(R"({"type": "LayerNorm", "normalized_shape": []})", "normalized_shape: expected a number or a non-empty list");
  refuses(R"({"type": "LayerNorm", "normalized_shape": [4, -1]})", "normalized_shape: expected a positive integer, got -1");
  refuses(R"({"type": "LayerNorm", "normalized_shape": "256"})", "expected a positive integer, got \"256\"");
  refuses(R"({"type": "Sequential", "layers": [{"type": "LayerNorm", "normalized_shape": [2], "affine": true}]})",
          "layers[0]: LayerNorm has no field \"affine\"");
}

TEST_CASE("a model with GroupNorm and LayerNorm saves, loads from the file alone, and clones") {
  manual_seed(55);
  auto model = nn::module_from_json(R"({"type": "Sequential", "layers": [
      {"type": "Conv2d", "in_channels": 2, "out_channels": 8, "kernel_size": 3, "padding": 1},
      {"type": "GroupNorm", "num_groups": 4, "num_channels": 8, "eps": 0.001}, {"type": "ReLU"},
      {"type": "Flatten"}, {"type": "Linear", "in_features": 128, "out_features": 16},
      {"type": "LayerNorm", "normalized_shape": [16], "elementwise_affine": true}]})");
  {
    NoGradGuard g;
    for (Tensor& p : model->parameters()) p.add_(rand(p.shape()));
  }
  test::TempFile f;
  nn::save(*model, f.path);
  auto loaded = nn::load_module(f.path);
  auto copy = model->clone();
  CHECK(nn::architecture_json(*loaded) == nn::architecture_json(*model));
  test::check_same_state(*model, *loaded);
  test::check_same_state(*model, *copy);
  CHECK(nn::state_dict(*model)[2].first == "1.weight");
  Tensor x = randn({3, 2, 4, 4});
  NoGradGuard g;
  CHECK(equal(model->forward(x), loaded->forward(x)));
  CHECK(equal(model->forward(x), copy->forward(x)));
}
