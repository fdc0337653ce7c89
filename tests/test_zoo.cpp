// The model zoo against PyTorch (tests/data/zoo/, from tools/golden/zoo.py and zoo.py's
// definitions): for every model the state_dict keys in PyTorch's order, PyTorch-saved weights
// giving PyTorch's eval logits, and 3 SGD steps from that state reaching PyTorch's weights and
// running statistics (relative to PyTorch's own float32 noise where that is large). Also the zoo's
// errors and forward_cost.
#include "helpers.h"
#include "user_resnet.h"

using namespace wick;

namespace {

const std::string kZoo = std::string(WICK_TEST_DATA) + "/zoo/";

std::map<std::string, Tensor> by_name(const SafetensorsFile& f) {
  std::map<std::string, Tensor> m(f.tensors.begin(), f.tensors.end());
  return m;
}

// The 2-norm, in double.
double norm(const Tensor& t) {
  double s = 0;
  for (float v : t.to_vector<float>()) s += double(v) * v;
  return std::sqrt(s);
}

std::vector<std::string> split_keys(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string k; std::getline(in, k, ',');) out.push_back(k);
  return out;
}

nn::Sequential build(const nlohmann::json& c) {
  nn::ModelOptions o = nn::ModelOptions()
                           .channels(c.at("channels"))
                           .classes(c.at("classes"))
                           .height(c.at("height"))
                           .width(c.at("width"));
  if (!c.at("norm").get<std::string>().empty()) o.norm(nn::norm_from_name(c.at("norm")));
  return nn::make_model(c.at("model"), o);
}

}  // namespace

TEST_CASE("every zoo model matches PyTorch: keys, eval logits from its weights, and 3 SGD steps") {
  test::Golden golden("zoo.json");
  const nlohmann::json& g = golden.json();
  for (const auto& c : g.at("cases")) {
    const std::string name = c.at("case");
    CAPTURE(name);
    nn::Sequential model = build(c);
    CHECK(model->parameter_count() == c.at("parameters").get<int64_t>());
    auto io = by_name(read_safetensors(kZoo + name + "_io.safetensors"));
    std::vector<std::string> keys;
    for (auto& [k, t] : nn::state_dict(*model)) keys.push_back(k);
    CHECK(keys == split_keys(read_safetensors(kZoo + name + "_io.safetensors").metadata.at("keys")));

    nn::load(*model, kZoo + name + ".safetensors");
    auto init = by_name(read_safetensors(kZoo + name + ".safetensors"));
    model->eval();
    {
      NoGradGuard no_grad;
      CHECK_CLOSE(model->forward(io.at("probe")), io.at("logits_before"), 1e-5, 1e-5);
    }
    model->train();
    optim::SGD sgd(model->parameters(), optim::SGDOptions(g.at("lr"))
                                            .momentum(g.at("momentum"))
                                            .weight_decay(g.at("weight_decay")));
    for (int i = 0; i < g.at("steps").get<int>(); ++i) {
      Tensor loss = cross_entropy(model->forward(io.at("x" + std::to_string(i))), io.at("y" + std::to_string(i)));
      sgd.zero_grad();
      loss.backward();
      sgd.step();
    }
    // Each entry against the float64 reference, relative to how far the steps moved it (norms over
    // the samples): within 1e-3 of the move, or within 10x of PyTorch's own float32 run where that
    // strays further (deep BatchNorm ResNets; docs/decisions.md, "Zoo parity").
    const nlohmann::json& noise = c.at("float32_noise");
    for (auto& [key, t] : nn::state_dict(*model)) {
      CAPTURE(key);
      Tensor idx = io.at("after." + key + ".idx"), want = io.at("after." + key + ".val");
      Tensor got = index_select(t.reshape({t.numel()}), 0, idx);
      if (t.dtype() == Dtype::Int64) {
        CHECK(equal(got, want));
        continue;
      }
      Tensor start = index_select(init.at(key).reshape({t.numel()}), 0, idx);
      const double error = norm(sub(got, want)) / std::max(norm(sub(want, start)), 1e-30);
      CHECK(error <= std::max(1e-3, 10 * noise.at(key).get<double>()));
    }
    model->eval();
    NoGradGuard no_grad;
    Tensor after = model->forward(io.at("probe")), exact = io.at("logits_after");
    CHECK(norm(sub(after, exact)) / norm(exact) <= std::max(1e-5, 10 * noise.at("logits_after").get<double>()));
  }
}

TEST_CASE("zoo errors name the model and what was wrong") {
  auto fails_with = [](const std::string& name, const nn::ModelOptions& o, const std::string& part) {
    CAPTURE(name);
    try {
      nn::make_model(name, o);
      FAIL("no error");
    } catch (const Error& e) {
      CHECK_MESSAGE(std::string(e.what()).find(part) != std::string::npos, e.what());
    }
  };
  fails_with("resnet18", {}, "unknown model \"resnet18\" (known: mlp, lenet5, small-cnn, vgg8, resnet20");
  fails_with("lenet5", nn::ModelOptions().norm(nn::Norm::Batch), "lenet5: it has no normalization layers");
  fails_with("mlp", nn::ModelOptions().norm(nn::Norm::Group), "mlp: norm group is not defined");
  fails_with("lenet5", nn::ModelOptions().height(8), "lenet5: images must be at least 12x12");
  fails_with("vgg8", nn::ModelOptions().width(4), "vgg8: images must be at least 8x8");
  fails_with("small-cnn", nn::ModelOptions().channels(0), "channels and classes must be positive");
  CHECK_THROWS_WITH(nn::norm_from_name("batchnorm"), doctest::Contains("unknown norm \"batchnorm\""));
}

TEST_CASE("the zoo builds for other image shapes and norms, and every model saves and reloads") {
  manual_seed(5);
  for (const std::string& name : nn::model_names()) {
    for (nn::Norm norm : {nn::Norm::Batch, nn::Norm::Group, nn::Norm::Layer, nn::Norm::None}) {
      if (name == "lenet5" && norm != nn::Norm::None) continue;
      if (name == "mlp" && norm == nn::Norm::Group) continue;
      CAPTURE(name);
      CAPTURE(nn::norm_name(norm));
      nn::Sequential model = nn::make_model(name, nn::ModelOptions().channels(3).classes(4).height(20).width(18).norm(norm));
      model->train();
      Tensor y = model->forward(randn({2, 3, 20, 18}));
      CHECK(y.shape() == Shape{2, 4});
      test::TempFile file;
      nn::save(*model, file.path);
      auto back = nn::load_module(file.path);
      test::check_same_state(*back, *model);
    }
  }
}

TEST_CASE("forward_cost counts the multiply-adds of Conv2d and Linear layers, twice") {
  // small-cnn on 1x28x28: conv1 28*28*32*9, conv2 14*14*64*32*9, fc1 3136*128, fc2 128*10.
  nn::Sequential cnn = nn::small_cnn();
  nn::ForwardCost c = nn::forward_cost(*cnn, {1, 28, 28});
  const double macs = 28.0 * 28 * 32 * 9 + 14.0 * 14 * 64 * 32 * 9 + 3136.0 * 128 + 128.0 * 10;
  CHECK(c.flops == doctest::Approx(2 * macs));
  CHECK(c.parameters == cnn->parameter_count());
  CHECK(c.output == Shape{10});
  // resnet20's shortcut projections count too: a 1x1 conv of stride 2 from 16 to 32 channels on
  // 28x28 -> 14x14 is 14*14*32*16 multiply-adds.
  nn::Sequential r = nn::make_model("resnet20");
  auto block = std::dynamic_pointer_cast<nn::SequentialImpl>((*r)[4]);
  REQUIRE(block);
  nn::ForwardCost first = nn::forward_cost(*(*block)[0], {16, 28, 28});
  const double convs = 14.0 * 14 * 32 * 16 * 9 + 14.0 * 14 * 32 * 32 * 9 + 14.0 * 14 * 32 * 16;
  CHECK(first.flops == doctest::Approx(2 * convs));
  // A module of its own with children runs its own forward: it cannot be looked into.
  CHECK_THROWS_WITH(nn::forward_cost(test::TinyResNetImpl(test::TinyResNetOptions{}), {1, 8, 8}),
                    doctest::Contains("cannot look inside TinyResNet"));
}
