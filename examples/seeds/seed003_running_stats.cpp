// Seed 003 in C++: what BatchNorm2d's running_mean / running_var hold, how momentum moves them,
// and that eval mode leaves them alone. "NOTE:" lines correct the article with measured numbers.
#include <wick/wick.h>

#include <cstdio>
#include <iostream>
#include <optional>

using namespace wick;

int main() try {
  manual_seed(0);

  // Example 1: basic usage (the article uses 1x3x224x224; 1x3x32x32 keeps this fast).
  std::cout << "== Example 1: basic usage ==\n";
  nn::BatchNorm2d bn(nn::BatchNorm2dOptions(3));
  Tensor before_mean = bn->running_mean.clone(), before_var = bn->running_var.clone();
  Tensor output = bn(randn({1, 3, 32, 32}));
  // The article prints these after one forward pass and calls them "initial".
  std::cout << "Initial running_mean: " << bn->running_mean << "\n";
  std::cout << "Initial running_var: " << bn->running_var << "\n";
  std::cout << "NOTE: the article says both start at zero. Before any forward pass they are\n"
            << "      running_mean = " << before_mean << " (zeros) and running_var = " << before_var
            << " (ONES, not zeros);\n      the values above were printed after one training batch.\n";
  for (int i = 0; i < 10; ++i) output = bn(randn({1, 3, 32, 32}));
  std::cout << "\nRunning mean after 10 batches: " << bn->running_mean << "\n";
  std::cout << "Running variance after 10 batches: " << bn->running_var << "\n";

  // Example 2: momentum control, 100 passes over the same (10, 3, 32, 32) batch.
  std::cout << "\n== Example 2: momentum control ==\n";
  nn::BatchNorm2d bn_high(nn::BatchNorm2dOptions(3).momentum(0.9));
  nn::BatchNorm2d bn_low(nn::BatchNorm2dOptions(3).momentum(0.1));
  Tensor input = randn({10, 3, 32, 32});
  for (int i = 0; i < 100; ++i) {
    bn_high(input);
    bn_low(input);
  }
  std::cout << "\nHigh Momentum running mean: " << bn_high->running_mean << "\n";
  std::cout << "High Momentum running var: " << bn_high->running_var << "\n";
  std::cout << "\nLow Momentum running mean: " << bn_low->running_mean << "\n";
  std::cout << "Low Momentum running var: " << bn_low->running_var << "\n";
  std::cout << "(after 100 identical batches both have converged to that batch's statistics, so this\n"
            << " example cannot show a speed difference:\n"
            << " mean " << mean(input, {0, 2, 3}) << ", unbiased var " << var(input, {0, 2, 3}) << ")\n";

  // The article's formula has the roles swapped; one batch with mean 5 shows the real one.
  nn::BatchNorm2d one_high(nn::BatchNorm2dOptions(3).momentum(0.9));
  nn::BatchNorm2d one_low(nn::BatchNorm2dOptions(3).momentum(0.1));
  Tensor shifted = randn({10, 3, 32, 32}) + 5.0;
  one_high(shifted);
  one_low(shifted);
  std::cout << "\nNOTE: the article's update `running = momentum*running + (1-momentum)*batch` is reversed.\n"
            << "      PyTorch and wick use running = (1-momentum)*running + momentum*batch, so momentum is\n"
            << "      the weight of the NEW batch and HIGHER momentum means FASTER updates.\n"
            << "      One batch with channel means " << mean(shifted, {0, 2, 3}) << ":\n"
            << "      momentum 0.9 -> running_mean " << one_high->running_mean << " (about 0.9*5 = 4.5)\n"
            << "      momentum 0.1 -> running_mean " << one_low->running_mean << " (about 0.1*5 = 0.5)\n";

  // running_var is updated with the UNBIASED batch variance (n/(n-1) times the biased one).
  nn::BatchNorm2d tiny(nn::BatchNorm2dOptions(1).momentum(1.0));  // momentum 1: buffer = batch value
  Tensor two = from_vector(std::vector<float>{0.f, 2.f}, {2, 1, 1, 1});
  tiny(two);
  std::cout << "\nNOTE: running_var stores the unbiased batch variance. Batch {0, 2} (n = 2), momentum 1.0:\n"
            << "      biased variance (used to normalize) = " << var(two, {0, 2, 3}, false)
            << ", unbiased = biased * n/(n-1) = " << var(two, {0, 2, 3}, true) << "\n"
            << "      running_var after the batch = " << tiny->running_var << "\n";

  // A plain (cumulative) average is available too: momentum(std::nullopt).
  nn::BatchNorm2d cumulative(nn::BatchNorm2dOptions(3).momentum(std::nullopt));
  nn::BatchNorm2d ewma(nn::BatchNorm2dOptions(3));
  Tensor sum_of_means = zeros({3});
  for (int k = 1; k <= 4; ++k) {
    Tensor batch = randn({10, 3, 8, 8}) + static_cast<double>(k);
    cumulative(batch);
    ewma(batch);
    sum_of_means = sum_of_means + mean(batch, {0, 2, 3});
  }
  std::cout << "\nNOTE: the moving average is not \"more robust than a simple average\" by design; it just\n"
            << "      weights recent batches more. momentum(std::nullopt) gives the plain average instead.\n"
            << "      4 batches with means about 1, 2, 3, 4:\n"
            << "      average of the batch means     " << sum_of_means * 0.25 << "\n"
            << "      momentum(nullopt) running_mean " << cumulative->running_mean << "\n"
            << "      momentum(0.1) running_mean     " << ewma->running_mean << "\n";

  // Example 3: eval mode + NoGradGuard; the running statistics do not change.
  std::cout << "\n== Example 3: inference mode ==\n";
  nn::BatchNorm2d bn3(nn::BatchNorm2dOptions(3));
  Tensor train_input = randn({100, 3, 32, 32});  // the article uses 100x3x224x224
  for (int i = 0; i < 100; ++i) bn3(train_input);
  Tensor mean_before = bn3->running_mean.clone(), var_before = bn3->running_var.clone();
  bn3->eval();
  {
    NoGradGuard no_grad;
    Tensor inference_output = bn3(randn({1, 3, 32, 32}));
  }
  std::cout << "\nRunning mean after inference: " << bn3->running_mean << "\n";
  std::cout << "Running variance after inference: " << bn3->running_var << "\n";
  bool unchanged = max(abs(bn3->running_mean - mean_before)).item() == 0.f &&
                   max(abs(bn3->running_var - var_before)).item() == 0.f;
  std::cout << "unchanged by the eval-mode forward: " << (unchanged ? "yes" : "NO") << "\n";

  // It is eval mode that stops the update, not NoGradGuard.
  bn3->train();
  {
    NoGradGuard no_grad;
    bn3(randn({1, 3, 32, 32}) + 5.0);
  }
  std::cout << "\nNOTE: NoGradGuard alone does not freeze the statistics. A training-mode forward under\n"
            << "      NoGradGuard (input mean 5) moved running_mean from " << mean_before << "\n"
            << "      to " << bn3->running_mean << "; only eval() (or BatchNormMode::Frozen) stops it.\n";
  return unchanged ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
