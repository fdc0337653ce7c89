// C++ twin of seed 001: a custom BNBlock module (conv -> bn -> relu) trained on one batch, then
// single-image inference in eval mode under NoGradGuard. Also checks the article's pitfall "BN ...
// does not speed up inference": folded into the conv, BN costs nothing at inference.
#include <wick/wick.h>

#include <cstdio>

using namespace wick;

// A simple CNN block with Batch Normalization.
class BNBlockImpl : public nn::Module {
 public:
  explicit BNBlockImpl(int64_t channels)
      : conv(register_module("conv", nn::Conv2d(nn::Conv2dOptions(channels, channels, 3).padding(1)).ptr())),
        bn(register_module("bn", nn::BatchNorm2d(channels).ptr())),
        relu(register_module("relu", nn::ReLU().ptr())) {}

  Tensor forward(const Tensor& input) override {
    Tensor x = conv(input);
    x = bn(x);  // during training, updates running_mean / running_var
    return relu(x);
  }
  std::string type_name() const override { return "BNBlock"; }

  nn::Conv2d conv;
  nn::BatchNorm2d bn;
  nn::ReLU relu;
};
WICK_MODULE(BNBlock);

int main() try {
  manual_seed(0);

  BNBlock model(16);
  model->train();  // training mode
  Tensor input_data = randn({8, 16, 32, 32});
  Tensor output = model(input_data);

  model->eval();  // inference mode (uses running stats)
  Tensor inference_output;
  {
    NoGradGuard no_grad;
    inference_output = model(input_data.slice(0, 0, 1));  // single image inference
  }
  std::printf("Output: %s\n", shape_str(inference_output.shape()).c_str());
  {
    NoGradGuard no_grad;
    Tensor again = model(input_data.slice(0, 0, 1));
    std::printf("Deterministic (same bits on a second call): %s\n",
                equal(inference_output, again) ? "yes" : "no");
  }

  // Folding: s = gamma / sqrt(running_var + eps); W' = W * s; b' = (b - running_mean) * s + beta.
  // fold_batchnorm works on a Sequential, so view the block as one (it shares the same layers).
  nn::Sequential as_seq(model->conv, model->bn, model->relu);
  int folded = 0;
  std::shared_ptr<nn::Module> deployed = nn::fold_batchnorm(as_seq, &folded);
  NoGradGuard no_grad;
  Tensor folded_output = deployed->forward(input_data.slice(0, 0, 1));
  float diff = max(abs(sub(folded_output, inference_output))).item<float>();
  std::printf("folded model: %s\n", deployed->repr().c_str());
  std::printf("NOTE: the article says BN \"does not speed up inference\" and adds an extra step; "
              "measured: fold_batchnorm removed %d BatchNorm layer(s) (%zu layers -> %zu), so the "
              "deployed model has no BN step left (BN costs nothing at inference), and its output "
              "matches the unfolded eval output within max abs diff %.3g.\n",
              folded, as_seq->size(), deployed->children().size(), static_cast<double>(diff));
  return diff < 1e-4f ? 0 : 1;
} catch (const wick::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
