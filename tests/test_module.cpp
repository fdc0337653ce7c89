// nn::Module: registration and PyTorch's dotted names, recursive train/eval, holders, printout,
// default initialization bounds, zero_grad / requires_grad_, Functional and apply.
#include "helpers.h"

using namespace wick;

TEST_CASE("small-cnn has PyTorch's parameter and buffer names, shapes and count") {
  auto model = nn::small_cnn();
  std::vector<std::string> names;
  for (auto& [n, t] : model->named_parameters()) names.push_back(n + shape_str(t.shape()));
  CHECK(names == std::vector<std::string>{"0.weight[32, 1, 3, 3]", "0.bias[32]", "1.weight[32]", "1.bias[32]",
                                          "4.weight[64, 32, 3, 3]", "4.bias[64]", "5.weight[64]", "5.bias[64]",
                                          "9.weight[128, 3136]", "9.bias[128]", "11.weight[10, 128]",
                                          "11.bias[10]"});
  std::vector<std::string> bufs;
  for (auto& [n, t] : model->named_buffers()) bufs.push_back(n);
  CHECK(bufs == std::vector<std::string>{"1.running_mean", "1.running_var", "1.num_batches_tracked",
                                         "5.running_mean", "5.running_var", "5.num_batches_tracked"});
  CHECK(model->named_buffers()[2].second.dtype() == Dtype::Int64);
  CHECK(model->named_buffers()[2].second.dim() == 0);
  CHECK(model->parameter_count() == 421834);  // sum(p.numel()) in PyTorch
  CHECK(model->forward(randn({2, 1, 28, 28})).shape() == Shape{2, 10});
}

TEST_CASE("train() and eval() recurse through nested Sequentials") {
  nn::Sequential inner(nn::Linear(4, 4), nn::BatchNorm1d(4));
  nn::Sequential outer(nn::Linear(4, 4), inner, nn::Dropout(0.5));
  outer->eval();
  for (auto& [name, m] : outer->named_modules()) CHECK_MESSAGE(!m->is_training(), name);
  inner->train();
  CHECK(!outer->is_training());
  CHECK(outer->at<nn::SequentialImpl>(1)->at<nn::BatchNorm1dImpl>(1)->is_training());
  outer->train();
  for (auto& [name, m] : outer->named_modules()) CHECK_MESSAGE(m->is_training(), name);
  std::vector<std::string> names;
  for (auto& [name, m] : outer->named_modules()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"", "0", "1", "1.0", "1.1", "2"});
  CHECK_THROWS_WITH_AS(outer->at<nn::LinearImpl>(2), doctest::Contains("is a Dropout"), Error);
  CHECK_THROWS_WITH_AS((*outer)[3], doctest::Contains("out of range for 3 modules"), Error);
}

TEST_CASE("module handles share their module") {
  nn::Linear a(3, 2);
  nn::Linear b = a;
  CHECK(b.ptr() == a.ptr());
  nn::Sequential s(a);
  CHECK(s->parameters()[0].same_storage(a->weight));
}

namespace {
// A user module whose members are holders assigned from register_module, as in libtorch.
class HeldImpl : public nn::Module {
 public:
  explicit HeldImpl(bool with_extra) {
    fc = register_module("fc", nn::Linear(3, 2));
    if (with_extra) extra = register_module("extra", nn::Linear(2, 2));
  }
  Tensor forward(const Tensor& x) override { return extra ? extra(fc(x)) : fc(x); }
  nn::Linear fc{nullptr}, extra{nullptr};
};
}  // namespace

TEST_CASE("holders start empty with nullptr and take register_module's result") {
  nn::Linear empty{nullptr};
  CHECK_FALSE(empty);
  CHECK(empty.ptr() == nullptr);
  HeldImpl plain(false), both(true);
  CHECK(plain.fc);
  CHECK_FALSE(plain.extra);
  CHECK(plain.named_parameters().size() == 2);
  CHECK(both.named_parameters().size() == 4);
  CHECK(both.fc.ptr() == both.named_children()[0].second);  // the member is the registered child
  CHECK(both.forward(randn({5, 3})).shape() == Shape{5, 2});
}

namespace {
// A module of two inputs: gate(x, c) = x * sigmoid(fc(c)). It declares its own forward and is
// called by its parent's forward (or through its holder), never by a container.
struct GateOptions {
  int64_t features = 1;
  void fields(nn::Fields& f) { f.required("features", features, nn::Check::Positive); }
};
class GateImpl : public nn::Module {
 public:
  explicit GateImpl(const GateOptions& o) : options(o) { fc = register_module("fc", nn::Linear(o.features, o.features)); }
  Tensor forward(const Tensor& x, const Tensor& context) { return mul(x, sigmoid(fc(context))); }
  GateOptions options;
  nn::Linear fc{nullptr};
};
WICK_MODULE(Gate);

struct GatedNetOptions {
  void fields(nn::Fields&) {}
};
class GatedNetImpl : public nn::Module {
 public:
  explicit GatedNetImpl(const GatedNetOptions& o) : options(o) {
    body = register_module("body", nn::Linear(4, 3));
    gate = register_module("gate", Gate(GateOptions{3}));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = body(x);
    return gate(h, x.narrow(1, 0, 3));  // the holder passes both tensors to GateImpl::forward
  }
  GatedNetOptions options;
  nn::Linear body{nullptr};
  Gate gate{nullptr};
};
}  // namespace

TEST_CASE("a module of two inputs: called by its parent, its weights saved and loaded with it") {
  manual_seed(3);
  auto net = std::make_shared<GatedNetImpl>(GatedNetOptions{});
  Tensor x = randn({5, 4});
  Tensor y = net->forward(x);
  CHECK(y.shape() == Shape{5, 3});
  Tensor want = mul(net->body(x), sigmoid(net->gate->fc(x.narrow(1, 0, 3))));
  CHECK_CLOSE(y, want, 1e-6, 1e-7);
  // A container would call the one-tensor forward, which a two-input module does not have.
  CHECK_THROWS_WITH(net->gate->Module::forward(x), doctest::Contains("this module has no forward(Tensor)"));
  test::TempFile file;
  nn::save(*net, file.path);
  manual_seed(4);
  auto back = std::make_shared<GatedNetImpl>(GatedNetOptions{});
  nn::load(*back, file.path);
  CHECK_CLOSE(back->forward(x), y, 1e-6, 1e-7);
}

TEST_CASE("the printout matches PyTorch's module repr") {
  auto model = nn::small_cnn();
  CHECK(model->repr() ==
        "Sequential(\n"
        "  (0): Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
        "  (1): BatchNorm2d(32, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n"
        "  (2): ReLU()\n"
        "  (3): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n"
        "  (4): Conv2d(32, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
        "  (5): BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n"
        "  (6): ReLU()\n"
        "  (7): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n"
        "  (8): Flatten(start_dim=1, end_dim=-1)\n"
        "  (9): Linear(in_features=3136, out_features=128, bias=True)\n"
        "  (10): ReLU()\n"
        "  (11): Linear(in_features=128, out_features=10, bias=True)\n"
        ")");
  nn::Sequential nested(nn::Dropout(0.5), nn::LeakyReLU(), nn::AvgPool2d(2),
                        nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions({1, 1})), nn::Identity(),
                        nn::BatchNorm1d(nn::BatchNorm1dOptions(4).momentum(std::nullopt).affine(false)),
                        nn::Conv2d(nn::Conv2dOptions(2, 4, {3, 5}).stride(2).dilation(2).groups(2).bias(false)),
                        nn::Sequential(nn::Tanh(), nn::Sigmoid()));
  CHECK(nested->repr() ==
        "Sequential(\n"
        "  (0): Dropout(p=0.5, inplace=False)\n"
        "  (1): LeakyReLU(negative_slope=0.01)\n"
        "  (2): AvgPool2d(kernel_size=2, stride=2, padding=0)\n"
        "  (3): AdaptiveAvgPool2d(output_size=(1, 1))\n"
        "  (4): Identity()\n"
        "  (5): BatchNorm1d(4, eps=1e-05, momentum=None, affine=False, track_running_stats=True)\n"
        "  (6): Conv2d(2, 4, kernel_size=(3, 5), stride=(2, 2), dilation=(2, 2), groups=2, bias=False)\n"
        "  (7): Sequential(\n"
        "    (0): Tanh()\n"
        "    (1): Sigmoid()\n"
        "  )\n"
        ")");
}

TEST_CASE("default initialization uses PyTorch's bounds") {
  manual_seed(0);
  nn::Linear fc(400, 300);
  double bound = 1.0 / std::sqrt(400.0);
  std::vector<float> w = fc->weight.to_vector<float>();
  float lo = *std::min_element(w.begin(), w.end()), hi = *std::max_element(w.begin(), w.end());
  CHECK(lo >= -bound);
  CHECK(hi <= bound);
  CHECK(lo < -0.95 * bound);  // the whole range is used
  CHECK(hi > 0.95 * bound);
  nn::Conv2d conv(nn::Conv2dOptions(8, 16, 3).groups(2));
  double cbound = 1.0 / std::sqrt(4.0 * 9.0);
  std::vector<float> b = conv->bias.to_vector<float>();
  for (float v : b) CHECK(std::fabs(v) <= cbound);
  CHECK(conv->weight.shape() == Shape{16, 4, 3, 3});
}

TEST_CASE("zero_grad drops gradients and requires_grad_ covers the subtree") {
  nn::Sequential m(nn::Linear(3, 2), nn::Linear(2, 1));
  sum(m->forward(ones({4, 3}))).backward();
  for (auto& p : m->parameters()) CHECK(p.grad().defined());
  m->zero_grad();
  for (auto& p : m->parameters()) CHECK(!p.grad().defined());
  m->at<nn::LinearImpl>(0)->requires_grad_(false);
  sum(m->forward(ones({4, 3}))).backward();
  CHECK(!m->at<nn::LinearImpl>(0)->weight.grad().defined());
  CHECK(m->at<nn::LinearImpl>(1)->weight.grad().defined());
}

TEST_CASE("layer construction and input errors name what was wrong") {
  CHECK_THROWS_WITH_AS(nn::Conv2d(nn::Conv2dOptions(3, 4, 3).groups(2)), doctest::Contains("groups=2 must divide"), Error);
  CHECK_THROWS_WITH_AS(nn::Linear(0, 3), doctest::Contains("must be positive"), Error);
  CHECK_THROWS_WITH_AS(nn::Dropout(1.5), doctest::Contains("p must be in [0, 1]"), Error);
  nn::Linear fc(3, 2);
  CHECK_THROWS_WITH_AS(fc(ones({4, 5})), doctest::Contains("expected input with last dim 3"), Error);
  nn::BatchNorm2d bn(3);
  CHECK_THROWS_WITH_AS(bn(ones({4, 3})), doctest::Contains("expected 4D input (got 2D input"), Error);
}

TEST_CASE("an error inside a container names the child's dotted path, once per level") {
  nn::Sequential inner(nn::Linear(4, 3), nn::ReLU(), nn::Linear(5, 2));  // 3 outputs feed 5 inputs
  nn::Sequential model;
  model->push_back(nn::Flatten());
  model->push_back("layer2", inner);
  std::string message;
  try {
    model->forward(ones({2, 4}));
  } catch (const Error& e) {
    message = e.what();
  }
  nn::Linear bad(5, 2);
  std::string original;
  try {
    bad(ones({2, 3}));
  } catch (const Error& e) {
    original = e.what();
  }
  CHECK(message == "layer2.2: " + original);
  // A Residual names its body layers, its shortcut and its activation the same way.
  nn::ResidualOptions o;
  o.layers = {{"fc1", nn::Linear(4, 4).ptr()}, {"fc2", nn::Linear(3, 4).ptr()}};
  nn::Sequential net;
  net->push_back(std::make_shared<nn::ResidualImpl>(o));
  CHECK_THROWS_WITH_AS(net->forward(ones({1, 4})), doctest::Contains("0.fc2: Linear: expected input with last dim 3"), Error);
  try {
    net->forward(ones({1, 4}));
  } catch (const nn::ChildError& e) {
    CHECK(e.path() == "0.fc2");
    CHECK(std::string(e.what()) == "0.fc2: " + e.message());
  }
}

template <typename Holder>
constexpr bool indexable = requires(Holder h) { h[0]; };

TEST_CASE("seq[i] indexes through the holder") {
  nn::Sequential s(nn::Linear(2, 3), nn::ReLU());
  CHECK(s[0]->type_name() == "Linear");
  CHECK(s[1] == s->children()[1]);
  CHECK_THROWS_WITH_AS(s[2], doctest::Contains("index 2 is out of range for 2 modules"), Error);
  nn::ModuleList list;
  list->push_back(nn::ReLU());
  CHECK(list[0]->type_name() == "ReLU");
  static_assert(indexable<nn::Sequential> && !indexable<nn::Linear>);  // only where the impl indexes
}

TEST_CASE("replace_module swaps a child for a holder or a pointer, and the forward uses it") {
  manual_seed(0);
  nn::Sequential model(nn::Linear(3, 4), nn::ReLU(), nn::Linear(4, 2));
  nn::Linear head(4, 5);
  nn::Linear returned = model->replace_module("2", head);  // a holder, as in libtorch
  CHECK(returned.ptr() == head.ptr());
  CHECK(model[2] == std::static_pointer_cast<nn::Module>(head.ptr()));
  Tensor x = randn({6, 3});
  CHECK(equal(model->forward(x), head(relu(model->at<nn::LinearImpl>(0)->forward(x)))));
  CHECK(model->named_parameters().back().first == "2.bias");
  model->replace_module("1", std::make_shared<nn::TanhImpl>());  // a shared_ptr
  CHECK(model[1]->type_name() == "Tanh");
  CHECK_THROWS_WITH_AS(model->replace_module("3", head), doctest::Contains("no child module named \"3\""), Error);
}

TEST_CASE("Functional puts a function in a Sequential, and apply visits every module, parents first") {
  manual_seed(0);
  nn::Sequential model(nn::Linear(3, 4), nn::Functional([](const Tensor& x) { return relu(x) * 2.0; }),
                       nn::Sequential(nn::Linear(4, 2), nn::Functional(wick::tanh)));
  Tensor x = randn({5, 3}).requires_grad_();
  auto l1 = model->at<nn::LinearImpl>(0);
  auto inner = model->at<nn::SequentialImpl>(2);
  Tensor y = model->forward(x);
  CHECK(equal(y, wick::tanh(inner->at<nn::LinearImpl>(0)->forward(relu(l1->forward(x)) * 2.0))));
  y.sum().backward();
  CHECK(l1->weight.grad().defined());
  CHECK(model->repr().find("(1): Functional()") != std::string::npos);
  // A function has no file form: clone() and the architecture refuse it by name; weights still save.
  CHECK_THROWS_WITH_AS(model->clone(), doctest::Contains("Functional"), Error);
  test::TempFile weights;
  nn::save(*model, weights.path);
  nn::load(*model, weights.path);

  std::vector<std::string> seen;
  model->apply([&](nn::Module& m) { seen.push_back(m.type_name()); });
  CHECK(seen == std::vector<std::string>{"Sequential", "Linear", "Functional", "Sequential", "Linear", "Functional"});
  // The libtorch idiom: initialize every Linear of the tree.
  model->apply([](nn::Module& m) {
    if (auto* linear = dynamic_cast<nn::LinearImpl*>(&m)) {
      NoGradGuard g;
      linear->weight.fill_(0.5);
    }
  });
  CHECK(equal(inner->at<nn::LinearImpl>(0)->weight, full({2, 4}, 0.5)));
  CHECK(equal(l1->weight, full({4, 3}, 0.5)));
}
