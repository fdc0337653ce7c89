// Data-parallel pieces under `mpirun -np 2` (tests/CMakeLists.txt): SyncBatchNorm against one
// BatchNorm over the concatenated batch, and DataParallel's averaged gradients against one
// process's gradients on the whole batch, and fit() on two processes. Each rank builds the whole batch from the same seed
// and takes its half, so the single-process reference is computed on every rank.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cmath>
#include <optional>
#include <vector>

#include "core/core.h"
#include "layers/nn.h"
#include "data/synthetic.h"
#include "optim/data_parallel.h"
#include "optim/evaluate.h"
#include "optim/fit.h"
#include "optim/sgd.h"

using namespace wick;

namespace {

int P() { return dist::world_size(); }
int R() { return dist::rank(); }

// Rows [rank·N/P, (rank+1)·N/P) of x.
Tensor my_rows(const Tensor& x) {
  const int64_t n = x.size(0) / P();
  return x.narrow(0, R() * n, n).contiguous();
}

void check_close(const Tensor& got, const Tensor& want, double tol, const char* what) {
  REQUIRE(got.numel() == want.numel());
  Tensor a = got.contiguous(), b = want.contiguous();
  double worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    double x = a.data<float>()[i], y = b.data<float>()[i];
    worst = std::max(worst, std::abs(x - y) / std::max(1.0, std::abs(y)));
  }
  INFO(what << ": worst relative difference " << worst);
  CHECK(worst <= tol);
}

// The sum over processes of a float tensor (a copy).
Tensor summed(const Tensor& t) {
  Tensor s = t.contiguous().clone();
  dist::all_reduce_sum(s.data<float>(), s.numel());
  return s;
}

}  // namespace

TEST_CASE("the test runs on two processes") { CHECK(P() == 2); }

TEST_CASE("SyncBatchNorm: forward, running statistics and every gradient equal one BatchNorm on the whole batch") {
  for (std::optional<double> momentum : {std::optional<double>(0.1), std::optional<double>()}) {
    for (int dims : {2, 4}) {
      CAPTURE(dims);
      manual_seed(7);
      Shape shape = dims == 2 ? Shape{8, 3} : Shape{6, 3, 4, 5};
      Tensor x_all = randn(shape) * 3.0 + 1.5, w_all = randn(shape);
      auto opts = nn::BatchNormOptions(3).momentum(momentum);
      nn::SyncBatchNorm sync(opts);
      std::shared_ptr<nn::BatchNormImplBase> plain;
      if (dims == 2) plain = nn::BatchNorm1d(opts).ptr();
      else plain = nn::BatchNorm2d(opts).ptr();
      {
        NoGradGuard g;
        Tensor gamma = randn({3}), beta = randn({3});
        sync->weight.copy_(gamma);
        plain->weight.copy_(gamma);
        sync->bias.copy_(beta);
        plain->bias.copy_(beta);
      }
      for (int step = 0; step < 3; ++step) {  // several updates of the running statistics
        Tensor x = my_rows(x_all).requires_grad_(), xa = x_all.clone().requires_grad_();
        Tensor y = sync(x), ya = plain->forward(xa);
        check_close(y, my_rows(ya), 1e-5, "output");
        (y * my_rows(w_all)).sum().backward();
        (ya * w_all).sum().backward();
        check_close(x.grad(), my_rows(xa.grad()), 1e-5, "dx");
        check_close(summed(sync->weight.grad()), plain->weight.grad(), 1e-5, "dgamma");
        check_close(summed(sync->bias.grad()), plain->bias.grad(), 1e-5, "dbeta");
        check_close(sync->running_mean, plain->running_mean, 1e-6, "running_mean");
        check_close(sync->running_var, plain->running_var, 1e-6, "running_var");
        sync->weight.set_grad(Tensor());
        sync->bias.set_grad(Tensor());
        plain->weight.set_grad(Tensor());
        plain->bias.set_grad(Tensor());
      }
      sync->eval();
      plain->eval();
      check_close(sync(my_rows(x_all)), my_rows(plain->forward(x_all)), 1e-5, "eval output");
    }
  }
}

TEST_CASE("DataParallel: the averaged gradients of two halves are one process's gradients on the whole batch") {
  for (bool sync_bn : {true, false}) {
    CAPTURE(sync_bn);
    manual_seed(3);
    auto build = [] {
      return nn::Sequential(nn::Linear(6, 5), nn::BatchNorm1d(5), nn::ReLU(), nn::Linear(5, 3));
    };
    nn::Sequential whole = build();
    manual_seed(R() == 0 ? 3 : 99);  // rank 1 starts from other weights: DataParallel copies rank 0's
    nn::Sequential half = build();
    if (sync_bn) nn::convert_sync_batchnorm(*half);
    // 16-byte buckets: every parameter tensor in its own bucket, each sent from its hook.
    train::DataParallel dp(*half, train::DataParallelOptions().bucket_bytes(16));
    CHECK(dp.buckets() == 6);
    manual_seed(11);
    Tensor x_all = randn({8, 6}), target_all = from_vector(std::vector<int64_t>{0, 1, 2, 0, 1, 2, 2, 1});
    double first_diff = 0;
    for (int step = 0; step < 2; ++step) {
      dp.before_forward();
      cross_entropy(half->forward(my_rows(x_all)), my_rows(target_all)).backward();
      dp.after_backward();
      cross_entropy(whole->forward(x_all), target_all).backward();
      auto got = half->named_parameters(), want = whole->named_parameters();
      for (size_t i = 0; i < got.size(); ++i) {
        CAPTURE(got[i].first);
        Tensor a = got[i].second.grad(), b = want[i].second.grad();
        if (sync_bn) check_close(a, b, 1e-5, "gradient");
        else if (i == 0)
          for (int64_t k = 0; k < a.numel(); ++k)
            first_diff = std::max(first_diff, double(std::abs(a.data<float>()[k] - b.data<float>()[k])));
        // Every process holds the same gradient, to the bit.
        Tensor g = got[i].second.grad().contiguous(), total = summed(g);
        for (int64_t k = 0; k < g.numel(); ++k) CHECK(total.data<float>()[k] == 2.0f * g.data<float>()[k]);
        got[i].second.set_grad(Tensor());
        want[i].second.set_grad(Tensor());
      }
    }
    // Without SyncBatchNorm each half is normalized with its own statistics: the first layer's
    // gradient shows by how much that changes the step.
    if (!sync_bn) CHECK(first_diff > 1e-4);
    if (!sync_bn) MESSAGE("without SyncBatchNorm the first layer's gradient differs by up to " << first_diff);
  }
}

TEST_CASE("fit on two processes: global batch figures, shared evaluations, one stop for all") {
  manual_seed(1);
  nn::Sequential model(nn::Conv2d(nn::Conv2dOptions(1, 4, 3).padding(1)), nn::BatchNorm2d(4), nn::ReLU(),
                       nn::Flatten(), nn::Linear(4 * 28 * 28, 10));
  optim::SGD sgd(model->parameters(), optim::SGDOptions(0.05));
  data::Synthetic train_set(96);
  auto test_set = std::make_shared<data::Synthetic>(101, data::SyntheticOptions().seed(7));  // shares of 50 and 51
  // Rank 1 alone asks to stop after step 3: both stop there.
  train::FitHooks hooks;
  hooks.on_step = [](const train::StepInfo& s) { return !(R() == 1 && s.step == 3); };
  train::FitResult r = train::fit(*model, sgd, train_set,
                                  train::FitOptions().batch_size(16).progress(false).test_set(test_set), hooks);
  CHECK(r.steps == 3);
  CHECK(r.stopped_by_hook);
  REQUIRE(r.step_log.size() == 3);
  CHECK(r.step_log[0].images == 16);  // the global batch's figures
  // The evaluation shared between the processes is the whole test set's.
  train::EvalResult whole = train::evaluate(*model, *test_set);
  CHECK(whole.images == 101);
  CHECK(r.epochs.back().test_acc == whole.accuracy);
  CHECK(r.epochs.back().test_loss == doctest::Approx(whole.loss).epsilon(1e-6));
  // A global batch that does not divide among the processes is refused on every process alike.
  CHECK_THROWS_AS(train::fit(*model, sgd, train_set, train::FitOptions().batch_size(15).progress(false)), Error);
}

TEST_CASE("fit on two processes: a loss that is not finite on one process stops both at that step") {
  manual_seed(2);
  Tensor x = randn({32, 6}), y = zeros({32}, Dtype::Int64);
  if (R() == 1) x.data<float>()[17 * 6] = std::nanf("");  // sample 17: rank 1's 9th, in its third batch of 4
  data::TensorDataset set(x, y);
  nn::Sequential model(nn::Linear(6, 3));
  optim::SGD sgd(model->parameters(), optim::SGDOptions(0.1));
  int64_t steps = 0;
  train::FitHooks hooks;
  hooks.on_step = [&](const train::StepInfo&) { return ++steps, true; };
  CHECK_THROWS_WITH_AS(train::fit(*model, sgd, set, train::FitOptions().batch_size(8).shuffle(false).progress(false), hooks),
                       doctest::Contains("diverged at step 3"), Error);
  CHECK(steps == 2);
  // No update was made with the third step's gradients: the weights are finite on both.
  for (const Tensor& p : model->parameters())
    for (float v : p.to_vector<float>()) CHECK(std::isfinite(v));
}

int main(int argc, char** argv) {
  dist::init();
  set_num_threads(1);  // two processes share the machine
  doctest::Context context(argc, argv);
  int failed = context.run();
  // A failure on one rank must end both: the other may be waiting in a collective.
  int64_t lo = 0, hi = 0;
  dist::min_max(failed, lo, hi);
  dist::finalize();
  return hi != 0 ? 1 : 0;
}
