// ONNX export (layers/onnx/export.h): every zoo model and a user's own ResNet module export, pass
// ONNX's checker (inside export_onnx), keep their safetensors keys as initializer names, and give
// wick's eval logits in ONNX Runtime (tests/onnx/run_ort.js, npm onnxruntime-node) at batch 1 and
// 7, with and without BatchNorm folding. Refusals name the module and leave no file.
#include <onnx/onnx_pb.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "helpers.h"
#include "layers/onnx/export.h"
#include "user_resnet.h"

namespace wick {
namespace {

namespace fs = std::filesystem;

onnx::ModelProto read_onnx(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  onnx::ModelProto m;
  REQUIRE_MESSAGE(m.ParseFromIstream(&in), "cannot parse ", path);
  return m;
}

// Non-default running statistics and affine parameters, so that folding and the BatchNorm
// formula are really exercised.
void randomize_batchnorms(nn::Module& model) {
  for (auto& [name, t] : model.named_buffers()) {
    if (name.ends_with("running_mean")) t.copy_(uniform(t.shape(), -0.3, 0.3));
    if (name.ends_with("running_var")) t.copy_(uniform(t.shape(), 0.5, 1.5));
    if (name.ends_with("num_batches_tracked")) t.copy_(full(t.shape(), 10, Dtype::Int64));
  }
  for (auto& [name, t] : model.named_parameters())
    if (t.dim() == 1) {
      NoGradGuard g;
      t.copy_(uniform(t.shape(), name.ends_with("weight") ? 0.5 : -0.2, name.ends_with("weight") ? 1.5 : 0.2));
    }
}

// Where onnxruntime-node is installed (tools/install-deps.sh puts it in tools/onnxruntime), or "".
std::string ort_modules() {
  const char* env = std::getenv("WICK_ORT_NODE_MODULES");
  std::string dir = env ? env : WICK_ORT_NODE_MODULES;
  if (!fs::exists(fs::path(dir) / "onnxruntime-node") || std::system("node --version > /dev/null 2>&1") != 0) return "";
  return dir;
}

bool ort_required() { return std::getenv("WICK_REQUIRE_ORT") != nullptr; }

void write_floats(const std::string& path, const Tensor& t) {
  std::vector<float> v = t.to_vector<float>();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * 4));
}

Tensor read_floats(const std::string& path, const Shape& shape) {
  std::vector<float> v(static_cast<size_t>(numel_of(shape)));
  REQUIRE_MESSAGE(fs::file_size(path) == v.size() * 4, path, " does not hold the ", v.size(), " floats of ", shape_str(shape));
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * 4));
  REQUIRE_MESSAGE(in.gcount() == std::streamsize(v.size() * 4), path, " holds fewer than ", v.size(), " floats");
  return from_vector(v, shape);
}

// ONNX Runtime's outputs for each input, from one run of the node script.
std::vector<Tensor> run_ort(const std::string& modules, const std::string& model, const std::vector<Tensor>& inputs,
                            const std::vector<Shape>& out_shapes) {
  std::string cmd = "NODE_PATH='" + modules + "' node '" + std::string(WICK_TEST_DIR) + "/onnx/run_ort.js' '" + model + "'";
  std::vector<std::unique_ptr<test::TempFile>> files;
  for (const Tensor& x : inputs) {
    files.push_back(std::make_unique<test::TempFile>(".in"));
    write_floats(files.back()->path, x);
    std::string dims;
    for (int64_t d : x.shape()) dims += (dims.empty() ? "" : ",") + std::to_string(d);
    files.push_back(std::make_unique<test::TempFile>(".out"));
    cmd += " '" + files[files.size() - 2]->path + "' " + dims + " '" + files.back()->path + "'";
  }
  REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "ONNX Runtime failed: ", cmd);
  std::vector<Tensor> outs;
  for (size_t i = 0; i < inputs.size(); ++i) outs.push_back(read_floats(files[2 * i + 1]->path, out_shapes[i]));
  return outs;
}

// max |a - b| over max |b|: the error relative to the logits' scale.
double relative_error(const Tensor& a, const Tensor& b) {
  std::vector<float> va = a.to_vector<float>(), vb = b.to_vector<float>();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    diff = std::max(diff, std::fabs(double(va[i]) - double(vb[i])));
    scale = std::max(scale, std::fabs(double(vb[i])));
  }
  return diff / std::max(scale, 1e-30);
}

// A user's forward of the functional ops the zoo does not use: clamp, pow, abs, a plain matmul with
// a parameter, add with alpha, a non-global adaptive pool, softmax; and a bias-free Linear whose
// BatchNorm folds.
struct FunctionalOpsImpl : nn::Module {
  FunctionalOpsImpl() {
    conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(2, 4, 3).padding(1))).ptr();
    proj = register_parameter("proj", randn({16, 6}));
    fc = register_module("fc", nn::Linear(nn::LinearOptions(6, 5).bias(false))).ptr();
    bn = register_module("bn", nn::BatchNorm1d(5)).ptr();
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = clamp(conv->forward(x), -1.0, 1.5);
    h = adaptive_avg_pool2d(pow(abs(h) + 0.5, 1.5), {2, 2});           // (N, 4, 2, 2)
    h = add(matmul(h.flatten(1), proj), sigmoid(matmul(h.flatten(1), proj)), 0.5);  // (N, 6)
    return softmax(bn->forward(fc->forward(h)), 1);
  }
  std::shared_ptr<nn::Conv2dImpl> conv;
  Tensor proj;
  std::shared_ptr<nn::LinearImpl> fc;
  std::shared_ptr<nn::BatchNorm1dImpl> bn;
};

struct Case {
  std::string name;
  std::shared_ptr<nn::Module> model;
  Shape sample{1, 28, 28};
};

std::vector<Case> export_cases() {
  std::vector<Case> cases;
  for (const std::string& name : nn::model_names()) cases.push_back({name, nn::make_model(name).ptr()});
  cases.push_back({"resnet20 --norm group", nn::make_model("resnet20", nn::ModelOptions().norm(nn::Norm::Group)).ptr()});
  cases.push_back({"small-cnn --norm layer", nn::make_model("small-cnn", nn::ModelOptions().norm(nn::Norm::Layer)).ptr()});
  cases.push_back({"mlp --norm layer", nn::make_model("mlp", nn::ModelOptions().norm(nn::Norm::Layer)).ptr()});
  cases.push_back({"a user's TinyResNet module", std::make_shared<test::TinyResNetImpl>(test::TinyResNetOptions{2, 1, 10})});
  return cases;
}

// Exports c folded and not: the file's structure, then its logits in ONNX Runtime at batch 1
// and 7 against wick's eval forward.
void check_case(const Case& c, const std::string& modules) {
  CAPTURE(c.name);
  randomize_batchnorms(*c.model);
  Shape s1{1}, s7{7};
  s1.insert(s1.end(), c.sample.begin(), c.sample.end());
  s7.insert(s7.end(), c.sample.begin(), c.sample.end());
  const Tensor x1 = uniform(s1, -1, 2), x7 = uniform(s7, -1, 2);
  std::vector<Tensor> expected;
  {
    nn::ModeGuard eval(*c.model, false);
    NoGradGuard g;
    expected = {c.model->forward(x1), c.model->forward(x7)};
  }
  std::set<std::string> keys;
  for (const auto& [k, t] : c.model->named_parameters()) keys.insert(k);
  for (const auto& [k, t] : c.model->named_buffers()) keys.insert(k);
  const bool training = c.model->is_training();
  for (const bool fold : {false, true}) {
    CAPTURE(fold);
    test::TempFile file(".onnx");
    nn::OnnxExportReport r = nn::export_onnx(*c.model, file.path, c.sample, nn::OnnxExportOptions().fold_bn(fold));
    CHECK(c.model->is_training() == training);  // the model's own mode is left alone
    onnx::ModelProto m = read_onnx(file.path);
    CHECK(r.nodes == m.graph().node_size());
    CHECK(m.graph().input(0).type().tensor_type().shape().dim(0).dim_param() == "N");
    std::set<std::string> ops, inits;
    for (const auto& n : m.graph().node()) ops.insert(n.op_type());
    for (const auto& t : m.graph().initializer()) inits.insert(t.name());
    // Initializers are the safetensors keys: every tensor the forward reads, except what folding
    // removed (a folded BatchNorm's four tensors).
    int64_t batchnorms = 0;
    for (const std::string& k : keys) {
      if (k.ends_with("num_batches_tracked")) continue;
      const std::string module = k.substr(0, k.rfind('.'));
      const bool bn_tensor = keys.count(module + ".running_var") > 0;
      batchnorms += k.ends_with("running_var");
      CHECK_MESSAGE(inits.count(k) == (fold && bn_tensor ? 0u : 1u), k);
    }
    CHECK(ops.count("BatchNormalization") == (batchnorms > 0 && !fold ? 1u : 0u));
    CHECK(r.folded == (fold ? batchnorms : 0));
    if (modules.empty()) continue;
    std::vector<Tensor> got = run_ort(modules, file.path, {x1, x7}, {expected[0].shape(), expected[1].shape()});
    for (size_t i = 0; i < got.size(); ++i) CHECK(relative_error(got[i], expected[i]) <= 1e-5);
  }
}

// ONNX Runtime's directory, or "" after saying the runtime half is skipped (an error when CI
// requires it).
std::string runtime_or_skip() {
  const std::string modules = ort_modules();
  if (modules.empty()) {
    REQUIRE_MESSAGE(!ort_required(), "WICK_REQUIRE_ORT is set but node or onnxruntime-node is missing");
    MESSAGE("skipped the ONNX Runtime half: no node with onnxruntime-node (tools/install-deps.sh installs it)");
  }
  return modules;
}

}  // namespace

TEST_CASE("every zoo model and a user's ResNet export, keep their keys, and match wick in ONNX Runtime") {
  const std::string modules = runtime_or_skip();
  manual_seed(11);
  for (const Case& c : export_cases()) check_case(c, modules);
}

TEST_CASE("every registered layer with a forward, and the fused layers, export and match in ONNX Runtime") {
  const std::string modules = runtime_or_skip();
  manual_seed(12);
  auto layers = [] {
    return nn::Sequential(
        nn::Conv2d(nn::Conv2dOptions(3, 8, 3).padding(1)), nn::BatchNorm2d(8), nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.1)),
        nn::AvgPool2d(nn::AvgPool2dOptions(3).stride(2).padding(1)),
        nn::Conv2d(nn::Conv2dOptions(8, 8, 3).padding(2).dilation(2).groups(2)), nn::GroupNorm(2, 8), nn::Sigmoid(),
        nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)), nn::Dropout(0.5), nn::Identity(), nn::Flatten(),
        nn::Linear(128, 16), nn::BatchNorm1d(16), nn::ReLU(), nn::LayerNorm(std::vector<int64_t>{16}), nn::Tanh(),
        nn::Linear(16, 5));
  };
  check_case({"one of each layer", layers().ptr(), {3, 16, 16}}, modules);
  nn::Sequential fused = layers();
  CHECK(nn::fuse_batchnorm_relu(*fused) == 1);
  check_case({"with BatchNorm1dReLU", fused.ptr(), {3, 16, 16}}, modules);
  auto resnet = nn::make_model("resnet20");
  randomize_batchnorms(*resnet);
  int rewrites = 0;
  auto inference = nn::fuse_for_inference(*resnet, &rewrites);
  CHECK(rewrites > 0);
  check_case({"resnet20 after fuse_for_inference (FusedConv2d, FusedResidual)", inference}, modules);
  check_case({"a forward of functional ops", std::make_shared<FunctionalOpsImpl>(), {2, 8, 8}}, modules);
}

namespace {

// Forwards the exporter must refuse: an op it has no form for, and a reshape that folds the batch
// into the features.
struct CatTwiceImpl : nn::Module {
  Tensor forward(const Tensor& x) override { return cat({x, x}, 1); }
};
struct FoldBatchImpl : nn::Module {
  Tensor forward(const Tensor& x) override { return x.reshape({-1}).reshape({x.size(0), -1}); }
};

// export_onnx's error for this model, checking that no file was made and an old one survived.
std::string export_error(nn::Module& model, nn::OnnxExportOptions options = {}, Shape sample = {1, 8, 8}) {
  test::TempFile file(".onnx");
  std::ofstream(file.path) << "old";
  std::string message;
  try {
    nn::export_onnx(model, file.path, sample, options);
  } catch (const Error& e) {
    message = e.what();
  }
  CHECK(test::lines_of(file.path) == std::vector<std::string>{"old"});
  for (const auto& entry : fs::directory_iterator(fs::path(file.path).parent_path()))
    CHECK_MESSAGE(!entry.path().string().starts_with(file.path + ".tmp"), "left behind: ", entry.path());
  return message;
}

}  // namespace

TEST_CASE("export refuses what it cannot express, naming the module, and leaves the target alone") {
  nn::Sequential batch_stats(nn::Conv2d(1, 4, 3), nn::BatchNorm2d(4), nn::ReLU());
  batch_stats->at<nn::BatchNorm2dImpl>(1)->set_mode(nn::BatchNormMode::BatchStats);
  CHECK(export_error(*batch_stats).find("export_onnx: 1: this BatchNorm is in batch-stats mode") == 0);

  nn::Sequential cat_net(nn::Conv2d(1, 2, 3), nn::ReLU());
  cat_net->push_back("twice", std::make_shared<CatTwiceImpl>());
  CHECK(export_error(*cat_net) ==
        "export_onnx: twice: the forward uses 'cat', which has no ONNX form in wick's exporter "
        "(docs/onnx.md lists the ops it knows)");

  nn::Sequential fold_batch(nn::Conv2d(1, 2, 3));
  fold_batch->push_back(std::make_shared<FoldBatchImpl>());
  CHECK(export_error(*fold_batch) == "export_onnx: 1: a reshape from [3, 2, 6, 6] to [216] changes the batch "
                                     "dimension, which the exported graph leaves free");

  nn::Sequential ceil_pool(nn::MaxPool2d(nn::MaxPool2dOptions(2).ceil_mode(true)), nn::Flatten());
  CHECK(export_error(*ceil_pool, {}, {1, 5, 5}).find("export_onnx: 0: max_pool2d with ceil_mode") == 0);
  nn::Sequential planes(nn::MaxPool2d(2), nn::Flatten());
  CHECK(export_error(*planes, {}, {8, 8}).find("export_onnx: 0: max_pool2d of a 3-D input [3, 8, 8]") == 0);
  CHECK(export_error(*planes, {}, {int64_t(1) << 20, int64_t(1) << 20}).find("at most 67108864 elements") !=
        std::string::npos);

  nn::Sequential fine(nn::Conv2d(1, 2, 3));
  CHECK(export_error(*fine, nn::OnnxExportOptions().opset(12)) == "export_onnx: opset must be from 13 to 17, got 12");
  CHECK(export_error(*fine, nn::OnnxExportOptions().opset(18)) == "export_onnx: opset must be from 13 to 17, got 18");
  CHECK(export_error(*fine, {}, {1, 2, 2}).find("conv2d") != std::string::npos);  // smaller than the kernel
  CHECK(export_error(*fine, {}, {}).find("the sample shape") != std::string::npos);
}

TEST_CASE("LayerNorm is LayerNormalization from opset 17 and InstanceNormalization below, same values") {
  const std::string modules = ort_modules();
  manual_seed(3);
  auto model = nn::make_model("mlp", nn::ModelOptions().norm(nn::Norm::Layer));
  randomize_batchnorms(*model);
  const Tensor x = uniform({5, 1, 28, 28}, -1, 2);
  Tensor expected;
  {
    nn::ModeGuard eval(*model, false);
    expected = model->forward(x).detach();
  }
  for (int64_t opset : {13, 17}) {
    CAPTURE(opset);
    test::TempFile file(".onnx");
    nn::export_onnx(*model, file.path, {1, 28, 28}, nn::OnnxExportOptions().opset(opset));
    onnx::ModelProto m = read_onnx(file.path);
    CHECK(m.opset_import(0).version() == opset);
    std::set<std::string> ops;
    for (const auto& n : m.graph().node()) ops.insert(n.op_type());
    CHECK(ops.count("LayerNormalization") == (opset >= 17 ? 1u : 0u));
    CHECK(ops.count("InstanceNormalization") == (opset >= 17 ? 0u : 1u));
    if (!modules.empty()) CHECK(relative_error(run_ort(modules, file.path, {x}, {expected.shape()})[0], expected) <= 1e-5);
  }
}

}  // namespace wick
