// The module registry (issue 11): every registered type round-trips description -> module -> file
// -> module and through clone(); a user-written ResNet trains, saves, reloads, clones, folds and
// fuses; the resnet20 and small-cnn architecture files have zoo.py's names; and hostile or broken
// descriptions are refused quickly, naming where.
#include <functional>
#include <map>

#include "helpers.h"
#include "user_resnet.h"

using namespace wick;
using test::TempFile;
using Json = nlohmann::json;

namespace {

// One sample per registered type: a description (non-default options where there are any), an
// input shape, how to run it (the default: forward; empty for ModuleList, which has none), and a
// module state to set after the training-mode forward that moves its BatchNorm statistics.
struct Sample {
  const char* json;
  Shape input;
  const char* state = "{}";
  std::function<Tensor(nn::Module&, const Tensor&)> run = [](nn::Module& m, const Tensor& x) { return m.forward(x); };
};

// A ModuleList has no forward: its owner runs its children, here one after the other.
Tensor run_children(nn::Module& m, const Tensor& x) {
  Tensor h = x;
  for (auto& child : m.children()) h = child->forward(h);
  return h;
}

const std::map<std::string, Sample>& samples() {
  static const std::map<std::string, Sample> s = {
      {"AdaptiveAvgPool2d", {R"({"type": "AdaptiveAvgPool2d", "output_size": [2, 3]})", {2, 3, 7, 9}}},
      {"AvgPool2d",
       {R"({"type": "AvgPool2d", "kernel_size": [3, 2], "stride": 2, "padding": 1, "ceil_mode": true,
            "count_include_pad": false})",
        {2, 3, 9, 8}}},
      {"BatchNorm1d",
       {R"({"type": "BatchNorm1d", "num_features": 5, "momentum": null, "eps": 0.001})", {6, 5, 3},
        R"({"": {"mode": "frozen"}})"}},
      {"BatchNorm1dReLU", {R"({"type": "BatchNorm1dReLU", "num_features": 4, "momentum": 0.3, "affine": false})", {8, 4}}},
      {"BatchNorm2d",
       {R"({"type": "BatchNorm2d", "num_features": 3, "eps": 0.0001, "momentum": 0.5})", {4, 3, 5, 5},
        R"({"": {"mode": "batch-stats"}})"}},
      {"BatchNorm2dReLU", {R"({"type": "BatchNorm2dReLU", "num_features": 3, "track_running_stats": false})", {4, 3, 5, 5}}},
      {"SyncBatchNorm", {R"({"type": "SyncBatchNorm", "num_features": 3, "momentum": null})", {4, 3, 5}}},
      // examples/resnet_module.h's types, registered here by test_trace_inference.cpp's include.
      {"Block", {R"({"type": "Block", "in": 2, "out": 4, "stride": 2})", {2, 2, 8, 8}}},
      {"Net", {R"({"type": "Net", "blocks": 1, "channels": 2, "classes": 3})", {2, 2, 8, 8}}},
      {"Conv2d",
       {R"({"type": "Conv2d", "in_channels": 4, "out_channels": 6, "kernel_size": [3, 2], "stride": [2, 1],
            "padding": [1, 0], "dilation": 2, "groups": 2, "bias": false})",
        {2, 4, 9, 8}}},
      {"Dropout", {R"({"type": "Dropout", "p": 0.25})", {3, 10}}},
      {"Flatten", {R"({"type": "Flatten", "start_dim": 2, "end_dim": 3})", {2, 3, 4, 5}}},
      {"FusedConv2d",
       {R"({"type": "FusedConv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 3, "stride": 2,
            "padding": 1, "relu": true})",
        {2, 3, 7, 7}}},
      {"FusedResidual",
       {R"({"type": "FusedResidual", "layers": [
            {"name": "conv1", "type": "FusedConv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 3,
             "stride": 2, "padding": 1, "bias": false, "relu": true},
            {"name": "bn1", "type": "BatchNorm2dReLU", "num_features": 4},
            {"name": "conv2", "type": "FusedConv2d", "in_channels": 4, "out_channels": 4, "kernel_size": 3,
             "padding": 1, "relu": true}],
            "shortcut": {"type": "Sequential", "layers": [
              {"type": "Conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 1, "stride": 2}]}})",
        {2, 3, 8, 8}, R"({"bn1": {"mode": "frozen"}})"}},
      {"GroupNorm", {R"({"type": "GroupNorm", "num_groups": 3, "num_channels": 6, "eps": 0.001})", {3, 6, 4, 4}}},
      {"Identity", {R"({"type": "Identity"})", {2, 3}}},
      {"LayerNorm", {R"({"type": "LayerNorm", "normalized_shape": [4, 5], "eps": 0.0001})", {2, 3, 4, 5}}},
      {"LeakyReLU", {R"({"type": "LeakyReLU", "negative_slope": 0.2})", {3, 4}}},
      {"Linear", {R"({"type": "Linear", "in_features": 5, "out_features": 3, "bias": false})", {4, 5}}},
      {"MaxPool2d",
       {R"({"type": "MaxPool2d", "kernel_size": 3, "stride": [2, 1], "padding": 1, "dilation": [1, 2],
            "ceil_mode": true})",
        {2, 2, 9, 9}}},
      {"ModuleList",
       {R"({"type": "ModuleList", "layers": [{"type": "Linear", "in_features": 4, "out_features": 3},
            {"name": "norm", "type": "BatchNorm1d", "num_features": 3}]})",
        {5, 4}, R"({"norm": {"mode": "frozen"}})", run_children}},
      {"ReLU", {R"({"type": "ReLU"})", {3, 4}}},
      {"Residual",
       {R"({"type": "Residual", "layers": [
            {"name": "conv1", "type": "Conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 3, "stride": 2,
             "padding": 1, "bias": false},
            {"name": "bn1", "type": "BatchNorm2d", "num_features": 4}, {"name": "relu", "type": "ReLU"},
            {"name": "conv2", "type": "Conv2d", "in_channels": 4, "out_channels": 4, "kernel_size": 3, "padding": 1,
             "bias": false},
            {"name": "bn2", "type": "BatchNorm2d", "num_features": 4}],
            "shortcut": {"type": "Sequential", "layers": [
              {"type": "Conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 1, "stride": 2, "bias": false},
              {"type": "BatchNorm2d", "num_features": 4}]},
            "activation": {"type": "ReLU"}})",
        {2, 3, 8, 8}, R"({"shortcut.1": {"mode": "frozen"}})"}},
      {"Sequential",
       {R"({"type": "Sequential", "layers": [
            {"name": "conv", "type": "Conv2d", "in_channels": 1, "out_channels": 2, "kernel_size": 3},
            {"type": "BatchNorm2d", "num_features": 2, "momentum": null}, {"type": "Tanh"},
            {"name": "flat", "type": "Flatten"}, {"type": "Linear", "in_features": 32, "out_features": 3}]})",
        {3, 1, 6, 6}, R"({"1": {"mode": "frozen"}})"}},
      {"Sigmoid", {R"({"type": "Sigmoid"})", {3, 4}}},
      {"Tanh", {R"({"type": "Tanh"})", {3, 4}}},
      {"TinyResNet",
       {R"({"type": "TinyResNet", "n": 1, "channels": 2, "classes": 3})", {2, 2, 8, 8},
        R"({"layer2.0.bn2": {"mode": "frozen"}})"}},
  };
  return s;
}

// Whether every field of `sample` is in `written` with the same value (a description lists the
// fields it sets; wick writes every field).
bool describes(const Json& sample, const Json& written) {
  if (sample.is_object()) {
    if (!written.is_object()) return false;
    for (const auto& [key, v] : sample.items())
      if (!written.contains(key) || !describes(v, written.at(key))) return false;
    return true;
  }
  if (sample.is_array()) {
    if (!written.is_array() || written.size() != sample.size()) return false;
    for (size_t i = 0; i < sample.size(); ++i)
      if (!describes(sample[i], written[i])) return false;
    return true;
  }
  return sample == written;
}

// Random non-zero parameters (BatchNorm's start at 1 and 0) and a training-mode forward that
// moves the running statistics; then the sample's module state.
void give_state(nn::Module& m, const Sample& s) {
  NoGradGuard g;
  for (Tensor& p : m.parameters()) p.add_(rand(p.shape()));
  m.train();
  s.run(m, randn(s.input));
  nn::apply_module_state(m, s.state);
}

// The same printout, description, state_dict (names and bits), module state and eval outputs.
void check_same_module(nn::Module& a, nn::Module& b, const Sample& s) {
  CHECK(a.repr() == b.repr());
  CHECK(nn::architecture_json(a) == nn::architecture_json(b));
  test::check_same_state(a, b);
  CHECK(nn::module_state_json(a) == nn::module_state_json(b));
  manual_seed(99);
  Tensor x = randn(s.input);
  a.eval();
  b.eval();
  NoGradGuard g;
  CHECK(equal(s.run(a, x), s.run(b, x)));
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read ", path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') out.push_back(line);
  return out;
}

std::vector<std::string> names_of(const nn::Module& m) {
  std::vector<std::string> out;
  for (auto& [name, t] : nn::state_dict(m)) out.push_back(name);
  return out;
}

// Largest |a - b| over the largest |b|.
double relative_error(const Tensor& a, const Tensor& b) {
  std::vector<float> va = a.to_vector<float>(), vb = b.to_vector<float>();
  REQUIRE(va.size() == vb.size());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    diff = std::max(diff, std::fabs(double(va[i]) - vb[i]));
    scale = std::max(scale, std::fabs(double(vb[i])));
  }
  return diff / scale;
}

}  // namespace

TEST_CASE("every registered type has a sample whose root is that type") {
  for (const auto& name : nn::registered_names()) {
    CAPTURE(name);
    CHECK_MESSAGE(samples().count(name), "add a sample for the registered type ", name, " to test_registry.cpp");
  }
  for (const auto& [name, s] : samples()) {
    CAPTURE(name);
    CHECK(Json::parse(s.json).at("type") == name);
    CHECK(nn::find_type(name) != nullptr);
  }
}

TEST_CASE("every registered type round-trips description -> module -> file -> module, and clones") {
  for (const auto& [name, s] : samples()) {
    CAPTURE(name);
    manual_seed(7);
    auto m = nn::module_from_json(s.json);
    CHECK(m->type_name() == name);
    give_state(*m, s);

    // The description: wick writes the sample's fields (and the defaults), and rebuilding from what it
    // wrote writes the same again.
    const std::string written = nn::architecture_json(*m);
    CHECK_MESSAGE(describes(Json::parse(s.json), Json::parse(written)), written);
    CHECK(nn::architecture_json(*nn::module_from_json(written)) == written);
    CHECK(Json::parse(nn::architecture_json(*m, 2)) == Json::parse(written));

    TempFile f;
    nn::save(*m, f.path);
    CHECK(read_safetensors(f.path).metadata.count("wick.architecture"));
    auto loaded = nn::load_module(f.path);
    CHECK(loaded->type_name() == name);
    check_same_module(*m, *loaded, s);

    // clone(): the same, the same training flags, independent tensors, and no random draws.
    m->train();
    if (name == "Sequential") m->named_children()[1].second->eval();  // mixed flags survive
    manual_seed(5);
    Tensor draw = randn({8});
    manual_seed(5);
    auto copy = m->clone();
    CHECK(equal(randn({8}), draw));
    auto from = m->named_modules(), to = copy->named_modules();
    REQUIRE(from.size() == to.size());
    for (size_t i = 0; i < from.size(); ++i) CHECK(from[i].second->is_training() == to[i].second->is_training());
    auto pa = m->named_parameters(), pb = copy->named_parameters();
    REQUIRE(pa.size() == pb.size());
    for (size_t i = 0; i < pa.size(); ++i) CHECK(pa[i].second.requires_grad() == pb[i].second.requires_grad());
    check_same_module(*m, *copy, s);
    auto before = nn::state_dict(*m);
    std::vector<Tensor> saved;
    for (auto& [n, t] : before) saved.push_back(t.clone());
    {
      NoGradGuard g;
      for (auto& [n, t] : nn::state_dict(*copy)) t.fill_(3);
    }
    for (size_t i = 0; i < before.size(); ++i) {
      CAPTURE(before[i].first);
      CHECK(equal(before[i].second, saved[i]));
    }
  }
}

TEST_CASE("a ModuleList holds modules but has no forward of its own") {
  auto list = nn::module_from_json(samples().at("ModuleList").json);
  CHECK(list->named_children().size() == 2);
  CHECK_THROWS_WITH_AS(list->forward(randn({5, 4})), "ModuleList: this module has no forward(Tensor)", Error);
}

TEST_CASE("a user-written ResNet has zoo.py's names, trains, saves, reloads, clones, folds and fuses") {
  manual_seed(21);
  auto model = std::make_shared<test::TinyResNetImpl>(test::TinyResNetOptions{});
  CHECK(model->type_name() == "TinyResNet");
  const auto expected = test::zoo_resnet_keys(1);
  CHECK(names_of(*model) == expected);
  for (const char* key : {"conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight", "layer2.0.shortcut.0.weight",
                          "layer2.0.shortcut.1.running_var", "fc.bias"})
    CHECK(std::find(expected.begin(), expected.end(), key) != expected.end());
  CHECK(expected.size() == 1 + 5 + 3 * 12 + 2 * 6 + 2);

  // A few SGD steps on a tiny fixed batch lower its loss.
  Tensor x = randn({8, 1, 8, 8});
  Tensor y = from_vector(std::vector<int64_t>{0, 1, 2, 3, 0, 1, 2, 3});
  optim::SGD opt(model->parameters(), optim::SGDOptions(0.05).momentum(0.9));
  std::vector<float> losses;
  for (int step = 0; step < 6; ++step) {
    Tensor loss = cross_entropy(model->forward(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    losses.push_back(loss.item<float>());
  }
  CAPTURE(losses);
  CHECK(losses.back() < losses.front());

  model->eval();
  Tensor probe = randn({3, 1, 8, 8});
  Tensor expected_out;
  {
    NoGradGuard g;
    expected_out = model->forward(probe);
  }
  auto eval_out = [&](nn::Module& m) {
    NoGradGuard g;
    m.eval();
    return m.forward(probe);
  };

  TempFile f;
  nn::save(*model, f.path);
  auto loaded = nn::load_module(f.path);
  REQUIRE(std::dynamic_pointer_cast<test::TinyResNetImpl>(loaded));
  test::check_same_state(*model, *loaded);
  CHECK(loaded->repr() == model->repr());
  CHECK(equal(eval_out(*loaded), expected_out));

  auto copy = model->clone();
  REQUIRE(std::dynamic_pointer_cast<test::TinyResNetImpl>(copy));
  test::check_same_state(*model, *copy);
  CHECK(equal(eval_out(*copy), expected_out));

  // fold_batchnorm reaches the BatchNorms inside the stages' Residual blocks (two per block and the
  // shortcuts' of stages 2 and 3); conv1/bn1 are the user's own children, run by its own forward.
  int folded = 0;
  auto folded_model = nn::fold_batchnorm(*model, &folded);
  CHECK(folded == 3 * 2 + 2);
  CHECK(relative_error(eval_out(*folded_model), expected_out) <= 1e-5);
  CHECK(folded_model->repr().find("(bn1): BatchNorm2d") != std::string::npos);  // the top-level one stays

  int fused = 0;
  auto inference = nn::fuse_for_inference(*model, &fused);
  CHECK(fused > 0);
  const std::string printout = inference->repr();
  CHECK_MESSAGE(printout.find("FusedResidual") != std::string::npos, printout);
  CHECK_MESSAGE(printout.find("FusedConv2d") != std::string::npos, printout);
  CHECK(relative_error(eval_out(*inference), expected_out) <= 1e-5);
  CHECK(equal(eval_out(*model), expected_out));  // the passes left the model alone
  CHECK(model->repr().find("Fused") == std::string::npos);
}

namespace {

class UnregisteredNetImpl : public nn::Module {
 public:
  UnregisteredNetImpl() { fc = register_module("fc", nn::Linear(3, 2).ptr()); }
  Tensor forward(const Tensor& x) override { return fc->forward(x); }
  std::shared_ptr<nn::LinearImpl> fc;
};

}  // namespace

TEST_CASE("an unregistered module: clone and load_module say it is not registered") {
  auto net = std::make_shared<UnregisteredNetImpl>();
  CHECK_THROWS_WITH_AS(net->clone(), doctest::Contains("UnregisteredNetImpl, which is not registered"), Error);
  nn::Sequential wrapped(nn::ReLU(), net);
  CHECK_THROWS_WITH_AS(wrapped->clone(), doctest::Contains("layers[1] is a"), Error);

  TempFile f;
  nn::save(*net, f.path);  // the weights are saved; the file says why there is no architecture
  auto file = read_safetensors(f.path);
  CHECK(!nn::has_architecture(file));
  CHECK(file.metadata.at("wick.no_architecture").find("not registered") != std::string::npos);
  CHECK_THROWS_WITH_AS(nn::load_module(f.path),
                       doctest::Contains("does not describe its architecture (architecture: the model is a"), Error);
  CHECK_THROWS_WITH_AS(nn::load_module(f.path), doctest::Contains("build the model yourself and use nn::load"), Error);
  auto again = std::make_shared<UnregisteredNetImpl>();
  nn::load(*again, f.path);
  test::check_same_state(*net, *again);
}

TEST_CASE("examples/models/resnet20.json is zoo.py's resnet20: its keys, in order, and its parameter count") {
  const auto golden = lines_of(std::string(WICK_TEST_DATA) + "/resnet20_keys.txt");
  CHECK(golden == test::zoo_resnet_keys(3));
  auto model = nn::load_architecture(std::string(WICK_MODELS_DIR) + "/resnet20.json");
  CHECK(names_of(*model) == golden);
  // conv1 144 + bn1 32; stage 1: 3 x (2 x 2304 + 2 x 32); stage 2: 4608 + 9216 + 64 + 512 + 64 + 64,
  // then 2 x (2 x 9216 + 2 x 64); stage 3: 18432 + 36864 + 128 + 2048 + 128 + 128, then
  // 2 x (2 x 36864 + 2 x 128); fc 650.
  CHECK(model->parameter_count() == 272186);
  NoGradGuard g;
  CHECK(model->forward(randn({2, 1, 28, 28})).shape() == Shape{2, 10});
  // With 3 input channels (zoo.py's 3x32x32 line) it is the 272,474 of the CIFAR ResNet-20 papers.
  Json j = Json::parse(nn::architecture_json(*model));
  j["layers"][0]["in_channels"] = 3;
  CHECK(nn::module_from_json(j.dump())->parameter_count() == 272474);
  // The top level is a Sequential with zoo.py's attribute names; every block a Residual.
  std::vector<std::string> top;
  for (auto& [name, m] : model->named_children()) top.push_back(name);
  CHECK(top == std::vector<std::string>{"conv1", "bn1", "relu", "layer1", "layer2", "layer3", "pool", "flatten", "fc"});
  for (auto& [name, m] : model->named_modules())
    if (name.size() == 8 && name.rfind("layer", 0) == 0) CHECK(m->type_name() == "Residual");
}

TEST_CASE("examples/models/small-cnn.json builds nn::small_cnn()") {
  auto model = nn::load_architecture(std::string(WICK_MODELS_DIR) + "/small-cnn.json");
  auto named = nn::small_cnn();
  CHECK(model->repr() == named->repr());
  CHECK(nn::architecture_json(*model) == nn::architecture_json(*named));
  auto a = nn::state_dict(*model), b = nn::state_dict(*named);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK((a[i].first == b[i].first && a[i].second.shape() == b[i].second.shape()));
}

TEST_CASE("a config the reader would refuse is not written: eps=inf set after construction") {
  nn::Sequential model(nn::Linear(2, 2), nn::BatchNorm1d(2));
  model->at<nn::BatchNorm1dImpl>(1)->options.eps(INFINITY);
  CHECK_THROWS_WITH_AS(nn::architecture_json(*model), doctest::Contains("architecture: layers[1].eps = inf cannot be described"),
                       Error);
  // Saved anyway (the weights are fine), with the reason instead of an architecture.
  test::TempFile file;
  nn::save(*model, file.path);
  CHECK_THROWS_WITH_AS(nn::load_module(file.path), doctest::Contains("eps = inf"), Error);
  CHECK_THROWS_WITH_AS(nn::BatchNorm2d(nn::BatchNormOptions(3).eps(NAN)), doctest::Contains("positive finite number"), Error);
}

TEST_CASE("description errors name the path, and an unknown type lists the registered ones") {
  auto refused = [](const std::string& json, const std::string& what) {
    CHECK_THROWS_WITH_AS(nn::module_from_json(json), doctest::Contains(what.c_str()), Error);
  };
  refused(R"({"type": "Sequential", "layers": [{"type": "ReLU"}, {"type": "ReLU"}, {"type": "ReLU"},
          {"type": "Conv2d", "in_channels": 1, "out_channels": -2, "kernel_size": 3}]})",
          "architecture: layers[3].out_channels: expected a positive integer, got -2");
  refused(R"({"type": "Sequential", "layers": [{"type": "Residual", "layers": [{"type": "ReLU"},
          {"type": "MaxPool2d", "kernel_size": 0}]}]})",
          "architecture: layers[0].layers[1].kernel_size: expected a positive integer, got 0");
  refused(R"({"type": "Residual", "layers": [{"type": "ReLU"}], "shortcut": {"type": "Sequential", "layers": [
          {"type": "BatchNorm2d", "num_features": 4, "momentum": 2}]}})",
          "architecture: shortcut.layers[0].momentum: expected a finite number in [0, 1], got 2");
  refused(R"({"type": "Sequential", "layers": [{"name": "a.b", "type": "ReLU"}]})", "layers[0].name: expected a non-empty name");
  refused(R"({"type": "TinyResNet", "n": 0})", "architecture: n: expected a positive integer, got 0");
  refused(R"({"type": "Linear", "in_features": 3, "out_features": 2.5})", "out_features: expected a positive integer, got 2.5");
  refused(R"({"type": "Dropout", "p": "half"})", "p: expected a finite number in [0, 1], got \"half\"");
  refused(R"({"type": "Residual", "layers": []})", "Residual: the body needs at least one layer");

  try {
    nn::module_from_json(R"({"type": "Sequential", "layers": [{"type": "Transformer"}]})");
    FAIL("an unknown type was accepted");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("layers[0].type: unknown module type \"Transformer\" (registered: ") != std::string::npos);
    for (const auto& name : nn::registered_names()) CHECK_MESSAGE(msg.find(name) != std::string::npos, name);
    CHECK(msg.find('\n') == std::string::npos);
  }
  // A file's errors start with its name; a missing file says so.
  TempFile bad(".json");
  std::ofstream(bad.path) << R"({"type": "Linear", "in_features": 0, "out_features": 2})";
  CHECK_THROWS_WITH_AS(nn::load_architecture(bad.path),
                       doctest::Contains((bad.path + ": architecture: in_features: expected a positive integer").c_str()),
                       Error);
  CHECK_THROWS_WITH_AS(nn::load_architecture("/nonexistent/model.json"),
                       "/nonexistent/model.json: cannot open the file", Error);
}

TEST_CASE("hostile descriptions are refused before anything large is allocated: huge sizes, deep nesting") {
  auto quickly_refused = [](const std::string& json, const char* what) {
    const BufferStats before = buffer_stats();
    CHECK_THROWS_WITH_AS(nn::module_from_json(json), doctest::Contains(what), Error);
    // No large tensor buffer was mapped for the refused description (each test runs alone).
    CHECK(buffer_stats().mappings == before.mappings);
    CHECK(buffer_stats().peak_in_use == before.peak_in_use);
  };
  quickly_refused(R"({"type": "Linear", "in_features": 1000000000, "out_features": 10})", "would pass the memory limit");
  quickly_refused(R"({"type": "Sequential", "layers": [{"type": "Conv2d", "in_channels": 1,
                  "out_channels": 1000000000, "kernel_size": 3}]})",
                  "architecture: layers[0]: Conv2d: a tensor of");
  quickly_refused(R"({"type": "Conv2d", "in_channels": 1000000000, "out_channels": 1000000000, "kernel_size": 3})",
                  "architecture");
  quickly_refused(R"({"type": "BatchNorm1d", "num_features": 2147483647})", "would pass the memory limit");
  quickly_refused(R"({"type": "Linear", "in_features": 4294967296, "out_features": 1})", "at most 2^31 - 1");

  std::string deep;
  for (int i = 0; i < 10000; ++i) deep += R"({"type": "Sequential", "layers": [)";
  deep += R"({"type": "ReLU"})";
  for (int i = 0; i < 10000; ++i) deep += "]}";
  quickly_refused(deep, "nests arrays and objects more than 1000 deep");
  // The limits are the caller's: a 64-deep tree builds by default, a 3-deep one is refused on request.
  std::string nested = R"({"type": "ReLU"})";
  for (int i = 0; i < 64; ++i) nested = R"({"type": "Sequential", "layers": [)" + nested + "]}";
  CHECK(nn::module_from_json(nested)->named_modules().size() == 65);
  CHECK_THROWS_WITH_AS(nn::module_from_json(nested, nn::ArchitectureLimits().max_depth(3)),
                       doctest::Contains("layers[0].layers[0].layers[0].layers[0]: modules nested more than 3 deep"),
                       Error);
}

TEST_CASE("100,000 ReLUs in one Sequential build, describe, clone and run") {
  auto flat = [](int n) {
    std::string s = R"({"type": "Sequential", "layers": [)";
    for (int i = 0; i < n; ++i) s += std::string(i ? ", " : "") + R"({"type": "ReLU"})";
    return s + "]}";
  };
  const std::string json = flat(100000);
  auto model = nn::module_from_json(json, nn::ArchitectureLimits().max_modules(100001));
  CHECK(model->named_children().size() == 100000);
  const std::string written = nn::architecture_json(*model);
  auto copy = model->clone();
  Tensor y = copy->forward(full({4}, -1.0));
  CHECK(y.to_vector<float>() == std::vector<float>(4, 0.f));
  CHECK(nn::module_from_json(written, nn::ArchitectureLimits().max_modules(100001))->named_children().size() == 100000);
  // The default limit counts every module, the Sequential too.
  CHECK(nn::module_from_json(flat(99999))->named_children().size() == 99999);
  CHECK_THROWS_WITH_AS(nn::module_from_json(json), doctest::Contains("more than 100000 modules in all"), Error);
}

TEST_CASE("a file whose architecture is an old printout gives one line saying what to do") {
  TempFile f;
  write_safetensors(f.path, {{"0.weight", zeros({2, 3})}},
                        {{"format", "pt"}, {"wick.architecture", "Sequential(\n  (0): ReLU()\n)"}});
  try {
    nn::load_module(f.path);
    FAIL("an old-format file loaded");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find('\n') == std::string::npos);
    CHECK(msg.find("stores its architecture as a printout (wick 0.1), which is no longer read") != std::string::npos);
    CHECK(msg.find("nn::load these weights and nn::save it again") != std::string::npos);
  }
}
