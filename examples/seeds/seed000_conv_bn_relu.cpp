// C++ twin of seed 000: a Conv -> BN -> ReLU block run once in training mode (BN normalizes with
// the batch statistics and updates running_mean / running_var), then in eval mode on one image
// (BN normalizes with the stored running statistics, so the output is deterministic).
#include <wick/wick.h>

#include <cstdio>

using namespace wick;

int main() try {
  manual_seed(0);

  // Example: a simple block with Conv -> BN -> ReLU.
  nn::Sequential conv_block(nn::Conv2d(nn::Conv2dOptions(3, 64, 3).padding(1)),
                            nn::BatchNorm2d(64),  // tracks running_mean and running_var
                            nn::ReLU());
  auto bn = conv_block->at<nn::BatchNorm2dImpl>(1);

  // --- During training ---
  conv_block->train();
  Tensor input_data_train = randn({4, 3, 32, 32});  // batch 4, 3 channels, 32x32
  // Forward pass during training: BN uses mini-batch stats and updates the running stats.
  Tensor output_train = conv_block(input_data_train);

  // --- During inference ---
  conv_block->eval();
  Tensor input_data_test = randn({1, 3, 32, 32});  // batch of 1
  // Forward pass during inference: BN uses the stored running_mean and running_var.
  Tensor output_test = conv_block(input_data_test);

  // What the article prints.
  std::printf("Running Mean Shape: %s\n", shape_str(bn->running_mean.shape()).c_str());
  std::printf("Running Variance Shape: %s\n", shape_str(bn->running_var.shape()).c_str());

  // The values the training pass put there: 0.1 * (batch mean of each channel), since the
  // buffers start at mean 0 / var 1 and momentum 0.1 weighs the new batch.
  std::vector<float> rm = bn->running_mean.to_vector<float>();
  std::vector<float> rv = bn->running_var.to_vector<float>();
  std::printf("running_mean after 1 training pass (first 8 of 64):");
  for (int c = 0; c < 8; ++c) std::printf(" %.6f", rm[c]);
  std::printf("\nrunning_var after 1 training pass (first 8 of 64): ");
  for (int c = 0; c < 8; ++c) std::printf(" %.6f", rv[c]);
  std::printf("\nnum_batches_tracked: %lld\n",
              static_cast<long long>(bn->num_batches_tracked.item<int64_t>()));

  // Eval mode is deterministic: the same single image gives the same bits twice, and running
  // the eval pass did not move the statistics.
  Tensor again = conv_block(input_data_test);
  std::printf("eval output shape: %s; same output twice for a batch of 1: %s\n",
              shape_str(output_test.shape()).c_str(), equal(output_test, again) ? "yes" : "no");
  std::printf("running_mean unchanged by the eval passes: %s\n",
              rm == bn->running_mean.to_vector<float>() ? "yes" : "no");
  return equal(output_test, again) ? 0 : 1;
} catch (const wick::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
