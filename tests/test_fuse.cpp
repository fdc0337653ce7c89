// The fusion passes (layers/fuse.h): fuse_batchnorm_relu computes exactly what the separate layers
// do in training (outputs, gradients, running statistics, the tensors an optimizer holds) and
// unfuse_batchnorm_relu puts them back; fuse_for_inference matches eval outputs, leaves the model
// alone, and reaches containers inside Residuals and inside a user's own module.
#include "core/blas.h"
#include "helpers.h"
#include "user_resnet.h"

using namespace wick;

namespace {

std::string printout(const nn::Module& m) { return m.repr(); }

// Training-mode forward and backward of two models on the same batch: the same loss, the same
// gradients and the same running statistics, bit for bit.
void check_trains_identically(nn::Module& fused, nn::Module& plain, const Tensor& x, const Tensor& target) {
  fused.train();
  plain.train();
  Tensor yf = fused.forward(x), yp = plain.forward(x);
  CHECK(equal(yf, yp));
  Tensor lf = cross_entropy(yf, target), lp = cross_entropy(yp, target);
  lf.backward();
  lp.backward();
  auto pf = fused.named_parameters(), pp = plain.named_parameters();
  REQUIRE(pf.size() == pp.size());
  for (size_t k = 0; k < pf.size(); ++k) {
    CAPTURE(pf[k].first);
    CHECK(pf[k].first == pp[k].first);
    REQUIRE(pf[k].second.grad().defined());
    CHECK(equal(pf[k].second.grad(), pp[k].second.grad()));
  }
  test::check_same_state(fused, plain);  // the running statistics moved the same way
}

// The model's eval outputs against its fused inference copy, at batch 1 and 7.
void check_inference_copy(nn::Module& model, const Shape& image) {
  auto before = nn::state_dict(model);
  std::vector<Tensor> saved;
  for (auto& [n, t] : before) saved.push_back(t.clone());
  const std::string repr = model.repr();
  model.train();
  int fused = 0;
  auto inference = nn::fuse_for_inference(model, &fused);
  CHECK(fused > 0);
  CHECK(!inference->is_training());
  // The original: same printout, same tensors, still in training mode.
  CHECK(model.repr() == repr);
  CHECK(model.is_training());
  for (size_t i = 0; i < before.size(); ++i) CHECK(equal(before[i].second, saved[i]));
  model.eval();
  for (int64_t batch : {1, 7}) {
    CAPTURE(batch);
    Shape shape{batch};
    shape.insert(shape.end(), image.begin(), image.end());
    Tensor x = randn(shape);
    NoGradGuard g;
    CHECK_CLOSE(inference->forward(x), model.forward(x), 1e-5, 1e-5);
  }
}

}  // namespace

TEST_CASE("fuse_batchnorm_relu on small-cnn trains bit for bit as the separate layers, and unfuses") {
  manual_seed(31);
  nn::Sequential model = nn::small_cnn();
  test::give_statistics(*model, {8, 1, 28, 28});
  auto plain = model->clone();
  const std::string original = printout(*model);
  optim::SGD opt(model->parameters(), optim::SGDOptions(0.1).momentum(0.9));  // built before fusing
  optim::SGD plain_opt(plain->parameters(), optim::SGDOptions(0.1).momentum(0.9));

  CHECK(nn::fuse_batchnorm_relu(*model) == 2);
  CHECK(model->at<nn::BatchNorm2dReLUImpl>(1));
  CHECK(model->at<nn::IdentityImpl>(2));
  CHECK(model->at<nn::BatchNorm2dReLUImpl>(5));
  CHECK(printout(*model) != original);
  CHECK(nn::fuse_batchnorm_relu(*model) == 0);  // nothing left to fuse

  Tensor x = randn({6, 1, 28, 28});
  Tensor target = from_vector(std::vector<int64_t>{0, 3, 9, 1, 1, 5});
  check_trains_identically(*model, *plain, x, target);
  // The optimizer built before fusing holds the fused layers' tensors: its step moves them.
  Tensor bn_weight_before = model->at<nn::BatchNorm2dReLUImpl>(1)->weight.clone();
  opt.step();
  plain_opt.step();
  CHECK(!equal(model->at<nn::BatchNorm2dReLUImpl>(1)->weight, bn_weight_before));
  test::check_same_state(*model, *plain);

  CHECK(nn::unfuse_batchnorm_relu(*model) == 2);
  CHECK(printout(*model) == original);
  // Unfused, the layers still hold the optimizer's tensors: training goes on in step with the plain model.
  opt.zero_grad();
  plain_opt.zero_grad();
  check_trains_identically(*model, *plain, x, target);
  opt.step();
  plain_opt.step();
  test::check_same_state(*model, *plain);
}

TEST_CASE("fuse_batchnorm_relu reaches a Residual's body and the Sequentials inside a user's module") {
  manual_seed(32);
  auto model = std::make_shared<test::TinyResNetImpl>(test::TinyResNetOptions{});
  test::give_statistics(*model, {4, 1, 8, 8});
  auto plain = model->clone();
  // One BatchNorm + ReLU per block (bn1, relu); the user's own bn1 and relu() are its forward's.
  CHECK(nn::fuse_batchnorm_relu(*model) == 3);
  auto block = std::dynamic_pointer_cast<nn::ResidualImpl>((*model->stages[1])[0]);
  REQUIRE(block);
  CHECK((*block)[1]->type_name() == "BatchNorm2dReLU");
  CHECK((*block)[2]->type_name() == "Identity");
  CHECK(model->bn1->type_name() == "BatchNorm2d");
  check_trains_identically(*model, *plain, randn({5, 1, 8, 8}), from_vector(std::vector<int64_t>{0, 1, 2, 3, 0}));
  CHECK(nn::unfuse_batchnorm_relu(*model) == 3);
  CHECK(model->repr() == plain->repr());
}

TEST_CASE("fuse_for_inference on small-cnn and mlp matches eval outputs at batch 1 and 7, original untouched") {
  manual_seed(33);
  nn::Sequential cnn = nn::small_cnn();
  test::give_statistics(*cnn, {8, 1, 28, 28});
  check_inference_copy(*cnn, {1, 28, 28});
  // Both MaxPool2d(2) joined the conv before them; a pooling of another shape stays a layer.
  const std::string fused_cnn = nn::fuse_for_inference(*cnn)->repr();
  CHECK(fused_cnn.find("MaxPool2d") == std::string::npos);
  int pools = 0;
  for (size_t p = fused_cnn.find("pool=True"); p != std::string::npos; p = fused_cnn.find("pool=True", p + 1)) ++pools;
  CHECK(pools == 2);
  nn::Sequential overlapping(nn::Conv2d(nn::Conv2dOptions(1, 8, 3)), nn::ReLU(),
                             nn::MaxPool2d(nn::MaxPool2dOptions(2).stride(1)));
  CHECK(nn::fuse_for_inference(*overlapping)->repr().find("MaxPool2d") != std::string::npos);
  nn::Sequential mlp = nn::mlp();
  test::give_statistics(*mlp, {8, 1, 28, 28});
  check_inference_copy(*mlp, {1, 28, 28});
  int fused = 0;
  auto inference = nn::fuse_for_inference(*mlp, &fused);
  CHECK(fused == 1);  // Linear + BatchNorm1d folded; the ReLU after it stays a ReLU
  CHECK(inference->repr().find("BatchNorm1d") == std::string::npos);
}

TEST_CASE("fuse_for_inference turns Residual blocks into FusedResidual, also inside a user's module") {
  manual_seed(34);
  auto block = test::basic_block(3, 4, 2);
  test::give_statistics(*block, {4, 3, 8, 8});
  check_inference_copy(*block, {3, 8, 8});
  nn::Sequential wrapped(block);
  auto inference = nn::fuse_for_inference(*wrapped);
  CHECK(inference->named_children()[0].second->type_name() == "FusedResidual");

  auto model = std::make_shared<test::TinyResNetImpl>(test::TinyResNetOptions{2, 1, 4});
  test::give_statistics(*model, {4, 1, 8, 8});
  check_inference_copy(*model, {1, 8, 8});
  auto fused = std::dynamic_pointer_cast<test::TinyResNetImpl>(nn::fuse_for_inference(*model));
  REQUIRE(fused);
  for (auto& stage : fused->stages)
    for (size_t b = 0; b < stage->size(); ++b) CHECK((*stage)[b]->type_name() == "FusedResidual");
}

TEST_CASE("a FusedConv2d packs its weights once, and again after they are written or replaced") {
  // 64 output channels: Winograd's transformed weights with AVX-512; the same checks hold (with
  // nothing packed) on other CPUs.
  manual_seed(21);
  auto conv =
      std::make_shared<nn::FusedConv2dImpl>(nn::FusedConv2dOptions(nn::Conv2dOptions(16, 64, 3).padding(1), true));
  NoGradGuard g;
  const Tensor x = randn({2, 16, 9, 9}), r = randn({2, 64, 9, 9});
  auto unpacked = [&](const Tensor& add) {  // the same op, with the weights packed for this call
    return conv2d_affine(x, conv->weight, conv->bias, {}, {}, true, 1, 1, 1, 1, add, false,
                         pack_conv2d_weight(conv->weight, 1, 1));
  };
  CHECK(pack_conv2d_weight(conv->weight).defined() == (gemm_kernel() == GemmKernel::Avx512));
  const Tensor first = conv->forward(x);
  CHECK(equal(first, unpacked(Tensor())));
  CHECK(equal(conv->forward(x), first));  // packed once, reused
  CHECK(equal(conv->forward_add(x, r), unpacked(r)));

  conv->weight.mul_(-0.5);  // an in-place write: repacked
  const Tensor after_write = conv->forward(x);
  CHECK_FALSE(equal(after_write, first));
  CHECK(equal(after_write, unpacked(Tensor())));

  conv->weight.data<float>()[3] += 1.f;  // a raw write, declared as the API asks
  conv->weight.bump_version();
  CHECK(equal(conv->forward(x), unpacked(Tensor())));

  conv->weight = randn(conv->weight.shape());  // another tensor in the same slot
  CHECK(equal(conv->forward_add(x, r), unpacked(r)));
}
