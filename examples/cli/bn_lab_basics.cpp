// bn-lab experiments on BatchNorm's two modes and its running statistics: modes, running-stats,
// momentum-convention, batch-size, no-grad-trap and myths (tools/golden/bn_lab_basics.py checks them).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <tuple>

#include "bn_lab_util.h"

namespace wick::cli {
namespace {

// Per-channel mean and biased variance of a BatchNorm input (N, C) or (N, C, H, W).
std::pair<Tensor, Tensor> channel_stats(const Tensor& x) {
  std::vector<int64_t> dims = x.dim() == 4 ? std::vector<int64_t>{0, 2, 3} : std::vector<int64_t>{0};
  return {mean(x, dims), var(x, dims, false)};
}

double average(const Tensor& t) { return mean(t).item<double>(); }

// Rows of logits a and b with the same predicted class.
int64_t agreeing(const Tensor& a, const Tensor& b) { return train::count_correct(a, argmax(b, 1)); }

// Mean and (biased) variance of every pixel of a dataset, as p / 255, from exact integer sums.
std::pair<double, double> pixel_population(const data::ImageDataset& images) {
  const uint8_t* p = images.pixels();
  uint64_t s = 0, s2 = 0;
  for (size_t k = 0; k < images.pixel_bytes(); ++k) s += p[k], s2 += static_cast<uint64_t>(p[k]) * p[k];
  double n = static_cast<double>(images.pixel_bytes());
  double m = static_cast<double>(s) / n / 255.0;
  return {m, static_cast<double>(s2) / n / (255.0 * 255.0) - m * m};
}

// Every BN buffer of the model, cloned, to see later whether anything changed.
std::vector<Tensor> bn_buffers(nn::Module& model) {
  std::vector<Tensor> out;
  for (auto& [name, bn] : nn::batchnorm_layers(model)) {
    out.push_back(bn->running_mean.clone());
    out.push_back(bn->running_var.clone());
  }
  return out;
}

double largest_change(const std::vector<Tensor>& before, const std::vector<Tensor>& after) {
  double d = 0;
  for (size_t i = 0; i < before.size(); ++i) d = std::max(d, max_abs_diff(before[i], after[i]));
  return d;
}

}  // namespace

void lab_modes(Lab& lab) {
  lab.explain(
      "BatchNorm computes y = γ·(x − μ)/sqrt(σ² + eps) + β for each channel. In training mode μ and σ² "
      "are the statistics of the batch in front of it: its mean and its biased variance (divided by "
      "n, the number of values per channel). In eval mode they are running_mean and running_var, "
      "the averages stored during training. So the same images give different outputs in the two "
      "modes, by as much as the batch differs from the stored averages.");
  Data data = load_data(lab.args().data, true);
  nn::Sequential model = lab_model(lab, *data.train);
  lab.explain("Model: " + lab_model_text(lab) + ".");
  // Three batches: a typical one, a small one, and one with a single class (unlike the average).
  std::vector<int64_t> trousers;
  for (int64_t i = 0; static_cast<int64_t>(trousers.size()) < 64; ++i)
    if (data.test->get(i).target == 1) trousers.push_back(i);
  struct Case {
    const char* label;
    const char* key;
    Tensor x;
  };
  std::vector<Case> cases = {{"the first 64 test images", "b64", file_order_batch(*data.test, 0, 64).data},
                             {"the first 8 test images", "b8", file_order_batch(*data.test, 0, 8).data},
                             {"the first 64 trousers (one class)", "trousers", data.test->get_batch(trousers).data}};
  NoGradGuard no_grad;
  model->eval();  // every eval pass first: training passes move the running statistics
  std::vector<Tensor> eval_out;
  for (const Case& c : cases) eval_out.push_back(model(c.x));
  std::vector<Tensor> stored = bn_buffers(*model);  // running_mean, running_var of each layer
  model->train();
  std::vector<Trace> train;
  for (const Case& c : cases) train.push_back(trace_forward(*model, c.x));

  lab.say("How far the first 64 test images are from the stored statistics, averaged over channels:");
  lab.say("BN layer          values per   |batch mean − running_mean|   batch var /   n/(n−1)");
  lab.say("                  channel n    / sqrt(running_var)           running_var");
  std::vector<int64_t> per_channel;
  for (size_t l = 0; l < train[0].bn_inputs.size(); ++l) {
    auto [index, input] = train[0].bn_inputs[l];
    auto [mu, sigma2] = channel_stats(input);
    int64_t n = input.numel() / input.size(1);
    per_channel.push_back(n);
    double shift = average(div(abs(sub(mu, stored[2 * l])), sqrt(stored[2 * l + 1])));
    double var_ratio = average(div(sigma2, stored[2 * l + 1]));
    lab.say("%-2zu BatchNorm2d(%-2lld) %10lld  %27.4f  %12.4f   %.6f", index, static_cast<long long>(input.size(1)),
            static_cast<long long>(n), shift, var_ratio, static_cast<double>(n) / static_cast<double>(n - 1));
    std::string key = "modes_layer" + std::to_string(index);
    lab.record(key + "_shift", shift);
    lab.record(key + "_var_ratio", var_ratio);
  }
  lab.say("\nTrain vs eval logits of the same images (eval logits span %.3f .. %.3f here):",
          -max(neg(eval_out[0])).item<double>(), max(eval_out[0]).item<double>());
  lab.say("batch                               max |difference|   mean |difference|   same class");
  std::vector<double> gaps;
  for (size_t i = 0; i < cases.size(); ++i) {
    double gap = max_abs_diff(train[i].output, eval_out[i]);
    double mean_gap = average(abs(sub(train[i].output, eval_out[i])));
    int64_t agree = agreeing(train[i].output, eval_out[i]);
    std::string same = std::to_string(agree) + " of " + std::to_string(cases[i].x.size(0));
    lab.say("%-34s  %16.4f  %18.4f  %11s", cases[i].label, gap, mean_gap, same.c_str());
    std::string key = std::string("modes_") + cases[i].key;
    lab.record(key + "_max_diff", gap);
    lab.record(key + "_mean_diff", mean_gap);
    lab.record(key + "_agree", agree);
    gaps.push_back(gap);
  }

  // Store the first batch's own statistics (momentum 1: the buffers become the batch's values),
  // then divide running_var by n/(n−1) to turn the stored unbiased variance into the biased one.
  lab.say("%s", "");
  lab.explain(
      "Where the gap comes from: store the first batch's own statistics in the buffers (one training "
      "forward with momentum 1), then run eval mode on it again. A training forward stores the "
      "unbiased variance σ²·n/(n−1) while train mode divides by the biased σ²: with thousands of "
      "values per channel that factor is tiny; for BatchNorm1d on a batch of 8 it is 8/7.");
  auto bns = nn::batchnorm_layers(*model);
  for (auto& [name, bn] : bns) bn->options.momentum(1.0);
  model(cases[0].x);
  for (auto& [name, bn] : bns) bn->options.momentum(0.1);
  model->eval();
  double unbiased_gap = max_abs_diff(model(cases[0].x), train[0].output);
  for (size_t l = 0; l < bns.size(); ++l)
    bns[l].second->running_var.mul_(static_cast<double>(per_channel[l] - 1) / static_cast<double>(per_channel[l]));
  double biased_gap = max_abs_diff(model(cases[0].x), train[0].output);
  lab.say("eval, running_var = unbiased batch variance: max |logit difference| %.2g", unbiased_gap);
  lab.say("eval, running_var = biased batch variance:   max |logit difference| %.2g (float rounding)", biased_gap);
  lab.record("modes_copy_unbiased_diff", unbiased_gap);
  lab.record("modes_copy_biased_diff", biased_gap);
  bool holds = gaps[0] > 1e-3 && biased_gap < gaps[0] / 100 && gaps[2] > gaps[0];
  lab.verdict(holds, "the gap is all statistics: with the batch's own statistics stored, eval = train (%.1g)",
              biased_gap);
}

void lab_running_stats(Lab& lab) {
  lab.explain(
      "Each training forward updates running_mean ← (1 − m)·running_mean + m·batch_mean and "
      "running_var ← (1 − m)·running_var + m·batch_var·n/(n − 1), starting from 0 and 1. The "
      "momentum m is the weight of the NEW batch. momentum=None averages every batch seen so far "
      "equally (factor 1/num_batches_tracked). Here BatchNorm2d(1) layers see Fashion-MNIST training "
      "pixels (p/255, not normalized) in batches of 64, in file order.");
  Data data = load_data(lab.args().data, true);
  auto pixels = raw_pixels(*data.train_images);
  auto [pop_mean, pop_var] = pixel_population(*pixels);
  lab.say("population (all %lld training pixels): mean %.5f, variance %.5f\n",
          static_cast<long long>(pixels->pixel_bytes()), pop_mean, pop_var);
  lab.record("rs_pop_mean", pop_mean);
  lab.record("rs_pop_var", pop_var);

  struct Run {
    const char* label;
    const char* key;
    nn::BatchNorm2d bn;
    train::Series means, vars;  // the buffers after every step, for --plot
    std::vector<double> mean_rows, var_rows, last_means;
  };
  std::vector<Run> runs;
  for (auto [label, key, m] : {std::tuple{"m=0.01", "m001", std::optional<double>(0.01)},
                               std::tuple{"m=0.1", "m01", std::optional<double>(0.1)},
                               std::tuple{"m=0.5", "m05", std::optional<double>(0.5)},
                               std::tuple{"None", "none", std::optional<double>()}})
    runs.push_back({label, key, nn::BatchNorm2d(nn::BatchNorm2dOptions(1).momentum(m)), {label, {}}, {label, {}}, {},
                    {}, {}});
  const int64_t steps = 500;
  const std::vector<int64_t> rows = {1, 2, 5, 10, 20, 50, 100, 200, 500};
  double sum_means = 0, sum_vars = 0;
  NoGradGuard no_grad;
  for (int64_t step = 1; step <= steps; ++step) {
    Tensor batch = file_order_batch(*pixels, 64 * (step - 1), 64).data;
    sum_means += mean(batch).item<double>();
    sum_vars += var(batch, {0, 1, 2, 3}).item<double>();
    for (Run& r : runs) {
      r.bn(batch);
      double rm = r.bn->running_mean.item<double>(), rv = r.bn->running_var.item<double>();
      r.means.points.emplace_back(step, rm);
      r.vars.points.emplace_back(step, rv);
      if (std::find(rows.begin(), rows.end(), step) != rows.end()) {
        r.mean_rows.push_back(std::abs(rm - pop_mean));
        r.var_rows.push_back(std::abs(rv - pop_var));
        lab.record(std::string("rs_") + r.key + "_mean_" + std::to_string(step), rm);
        lab.record(std::string("rs_") + r.key + "_var_" + std::to_string(step), rv);
      }
      if (step > steps - 100) r.last_means.push_back(rm);
    }
  }
  lab.say("       |running_mean − population mean|       |running_var − population var|");
  lab.say("step   m=0.01   m=0.1    m=0.5    None        m=0.01   m=0.1    m=0.5    None");
  auto row = [&](const std::string& name, auto mean_of, auto var_of) {  // NaN: an empty cell
    std::string line = name;
    line.resize(5, ' ');
    char cell[32];
    for (const Run& r : runs) std::snprintf(cell, sizeof cell, "  %7.5f", mean_of(r)), line += cell;
    line += "   ";
    for (const Run& r : runs)
      if (!std::isnan(var_of(r))) std::snprintf(cell, sizeof cell, "  %7.5f", var_of(r)), line += cell;
    line.erase(line.find_last_not_of(' ') + 1);
    lab.say("%s", line.c_str());
  };
  row("0", [&](const Run&) { return pop_mean; }, [&](const Run&) { return std::abs(1.0 - pop_var); });
  for (size_t i = 0; i < rows.size(); ++i)
    row(std::to_string(rows[i]), [&](const Run& r) { return r.mean_rows[i]; },
        [&](const Run& r) { return r.var_rows[i]; });
  // Jitter: how much running_mean still wanders over the last 100 steps (standard deviation).
  auto jitter = [](const Run& r) {
    double m = 0, s = 0;
    for (double v : r.last_means) m += v / static_cast<double>(r.last_means.size());
    for (double v : r.last_means) s += (v - m) * (v - m) / static_cast<double>(r.last_means.size());
    return std::sqrt(s);
  };
  lab.say("\njitter: standard deviation of running_mean over the last 100 steps");
  row("", jitter, [](const Run&) { return NAN; });
  for (const Run& r : runs) lab.record(std::string("rs_") + r.key + "_jitter", jitter(r));
  lab.say("%s", "");
  const Run& none = runs.back();
  double avg_gap = std::max(std::abs(none.bn->running_mean.item<double>() - sum_means / steps),
                            std::abs(none.bn->running_var.item<double>() - sum_vars / steps));
  lab.say("momentum=None after %lld batches vs the plain average of the %lld batch means and unbiased",
          static_cast<long long>(steps), static_cast<long long>(steps));
  lab.say("variances: largest difference %.2g (float rounding)", avg_gap);
  lab.record("rs_none_vs_average", avg_gap);
  // The population line first, so that the curves are drawn over it.
  train::Chart means{"running_mean and the population mean", "step (batches of 64)", "running_mean",
              {{"population", {{1, pop_mean}, {steps, pop_mean}}}}, true};
  train::Chart vars{"running_var and the population variance", "step (batches of 64)", "running_var",
             {{"population", {{1, pop_var}, {steps, pop_var}}}}, true};
  for (const Run& r : runs) means.series.push_back(r.means), vars.series.push_back(r.vars);
  lab.chart({means, vars});
  bool converged = true;
  for (const Run& r : runs) converged = converged && r.mean_rows.back() < 0.05 * pop_mean && r.var_rows.back() < 0.05;
  const size_t at10 = 3;  // rows[3] is step 10
  bool faster = runs[0].mean_rows[at10] > runs[1].mean_rows[at10] && runs[1].mean_rows[at10] > runs[2].mean_rows[at10];
  bool noisier = jitter(runs[2]) > jitter(runs[1]) && jitter(runs[1]) > jitter(runs[0]);
  lab.verdict(converged && faster && noisier && avg_gap < 1e-5,
              "all converge; a larger momentum is faster but noisier; None is the exact average");
}

void lab_momentum_convention(Lab& lab) {
  lab.explain(
      "PyTorch (and wick): running ← (1 − m)·running + m·batch with m = 0.1 by default, so momentum is "
      "the weight of the NEW batch. Keras/TensorFlow: moving ← m·moving + (1 − m)·batch with m = 0.99, "
      "the weight of the OLD value. Seed 003 prints the Keras form for PyTorch's BatchNorm2d: "
      "\"running_mean = momentum * running_mean + (1 - momentum) * batch_mean\". Five batches of "
      "training pixels (p/255) go through BatchNorm2d(1, momentum=0.1); both readings are computed by "
      "hand and compared with what the layer stores.");
  Data data = load_data(lab.args().data, true);
  auto pixels = raw_pixels(*data.train_images);
  nn::BatchNorm2d pytorch_style(nn::BatchNorm2dOptions(1).momentum(0.1));
  nn::BatchNorm2d keras_port(nn::BatchNorm2dOptions(1).momentum(0.01));
  double by_pytorch = 0, by_seed = 0, by_keras = 0, worst_pytorch = 0, worst_keras = 0, least_seed = INFINITY;
  NoGradGuard no_grad;
  lab.say("step  batch mean  BatchNorm2d stores  PyTorch rule m=0.1  seed-003 rule m=0.1");
  for (int64_t step = 1; step <= 5; ++step) {
    Tensor batch = file_order_batch(*pixels, 64 * (step - 1), 64).data;
    double mu = mean(batch).item<double>();
    pytorch_style(batch);
    keras_port(batch);
    by_pytorch = 0.9 * by_pytorch + 0.1 * mu;
    by_seed = 0.1 * by_seed + 0.9 * mu;
    by_keras = 0.99 * by_keras + 0.01 * mu;
    double stored = pytorch_style->running_mean.item<double>();
    lab.say("%-4lld  %10.5f  %18.5f  %18.5f  %19.5f", static_cast<long long>(step), mu, stored, by_pytorch, by_seed);
    worst_pytorch = std::max(worst_pytorch, std::abs(stored - by_pytorch));
    least_seed = std::min(least_seed, std::abs(stored - by_seed));
    worst_keras = std::max(worst_keras, std::abs(keras_port->running_mean.item<double>() - by_keras));
    std::string key = "mc_step" + std::to_string(step);
    lab.record(key + "_batch_mean", mu);
    lab.record(key + "_mean", stored);
    lab.record(key + "_var", pytorch_style->running_var.item<double>());
  }
  lab.record("mc_keras_port_mean", keras_port->running_mean.item<double>());
  lab.record("mc_keras_port_var", keras_port->running_var.item<double>());
  lab.say("\nKeras momentum=0.99 by hand after 5 batches: %.6f; BatchNorm2d(momentum=0.01) stores %.6f",
          by_keras, keras_port->running_mean.item<double>());
  lab.say("so Keras's momentum=0.99 is PyTorch's momentum=0.01 (= 1 − 0.99).\n");
  // eps: Keras defaults to 1e-3, PyTorch to 1e-5. Same batch, train mode, both eps.
  Tensor batch = file_order_batch(*pixels, 0, 64).data;
  nn::BatchNorm2d eps_pytorch(nn::BatchNorm2dOptions(1)), eps_keras(nn::BatchNorm2dOptions(1).eps(1e-3));
  Tensor y5 = eps_pytorch(batch), y3 = eps_keras(batch);
  double eps_gap = max_abs_diff(y5, y3), eps_rel = eps_gap / max(abs(y5)).item<double>();
  lab.say("The eps defaults differ too (Keras 1e-3, PyTorch 1e-5): the same batch normalized with each");
  lab.say("differs by up to %.4f (%.2f%% of the largest output). Port eps along with momentum.", eps_gap,
          100 * eps_rel);
  lab.record("mc_eps_gap", eps_gap);
  bool holds = worst_pytorch < 1e-6 && least_seed > 1e-2 && worst_keras < 1e-6;
  lab.verdict(holds, "BatchNorm stores (1 − m)·running + m·batch: momentum weighs the NEW batch");
}

void lab_batch_size(Lab& lab) {
  lab.explain(
      "In eval mode BatchNorm normalizes with fixed numbers (running_mean, running_var), so an image's "
      "output depends on that image alone. In training mode it uses the statistics of the batch, so "
      "the same image gives different outputs depending on which images share its batch.");
  Data data = load_data(lab.args().data, true);
  nn::Sequential model = lab_model(lab, *data.train);
  lab.explain("Model: " + lab_model_text(lab) + ". Image: test image 0, its 10 logits computed inside "
              "different batches.");
  struct Case {
    const char* label;
    const char* key;
    int64_t start, count;
  };
  const std::vector<Case> cases = {{"alone (batch of 1)", "b1", 0, 1},
                                   {"test images 0..7", "b8", 0, 8},
                                   {"test images 0..63", "b64", 0, 64},
                                   {"test images 0..255", "b256", 0, 256},
                                   {"image 0 + images 1000..1062", "b64other", 1000, 63}};
  auto batch_of = [&](const Case& c) {
    Tensor x = file_order_batch(*data.test, c.start, c.count).data;
    if (c.start == 0) return x;
    return cat({file_order_batch(*data.test, 0, 1).data, x}, 0);
  };
  NoGradGuard no_grad;
  std::vector<Tensor> eval_logits, train_logits;
  model->eval();  // all eval passes first: the training passes below move the running statistics
  for (const Case& c : cases) eval_logits.push_back(model(batch_of(c)).slice(0, 0, 1));
  model->train();
  for (const Case& c : cases) train_logits.push_back(model(batch_of(c)).slice(0, 0, 1));
  lab.say("Image 0's eval logits span %.3f .. %.3f. Change of its logits against the image alone",
          -max(neg(eval_logits[0])).item<double>(), max(eval_logits[0]).item<double>());
  lab.say("(below 1e-6: float rounding, the sums are just grouped differently):");
  lab.say("batch                          eval mode: max |Δ|   train mode: max |Δ|");
  double eval_worst = 0, train_least = INFINITY;
  for (size_t i = 0; i < cases.size(); ++i) {
    double de = max_abs_diff(eval_logits[i], eval_logits[0]), dt = max_abs_diff(train_logits[i], train_logits[0]);
    lab.say("%-29s  %18.2g  %20.4f", cases[i].label, de, dt);
    lab.record(std::string("bs_eval_") + cases[i].key, de);
    lab.record(std::string("bs_train_") + cases[i].key, dt);
    eval_worst = std::max(eval_worst, de);
    if (i > 0) train_least = std::min(train_least, dt);
  }
  lab.say("%s", "");
  lab.explain(
      "A batch of one in training mode: small-cnn accepts it (each BatchNorm2d channel still has 28x28 "
      "= 784 values, and train mode normalizes the image by its own statistics), but BatchNorm1d on "
      "(1, C) has a single value per channel, whose variance is meaningless. The mlp model "
      "(Linear, BatchNorm1d(256), ...) on test image 0:");
  manual_seed(lab.args().seed);
  nn::Sequential mlp = nn::mlp();
  mlp(file_order_batch(*data.train, 0, 64).data);  // a batch of 64 trains fine
  std::string message;
  try {
    mlp(file_order_batch(*data.test, 0, 1).data);
  } catch (const Error& e) {
    message = e.what();
  }
  lab.say("  train: %s", message.empty() ? "no error (unexpected)" : message.c_str());
  mlp->eval();
  Tensor one = mlp(file_order_batch(*data.test, 0, 1).data);
  lab.say("  eval:  fine, logits of shape %s (no batch statistics needed)", shape_str(one.shape()).c_str());
  lab.record("bs_n1_error", message.empty() ? 0 : 1);
  bool holds = eval_worst < 1e-5 && train_least > 1e-3 && !message.empty();
  lab.verdict(holds, "eval output ignores the batch (max |Δ| %.1g); train output depends on it (>= %.3f)",
              eval_worst, train_least);
}

void lab_no_grad_trap(Lab& lab) {
  lab.explain(
      "No-grad mode (NoGradGuard, PyTorch's torch.no_grad()) only stops recording the graph for "
      "gradients. It does not change BatchNorm's mode: in training mode every forward still updates "
      "running_mean, running_var and num_batches_tracked. A common trap: evaluating or extracting "
      "features under no-grad but forgetting eval(). Only eval mode or freezing stops the updates.");
  Data data = load_data(lab.args().data, true);
  nn::Sequential model = lab_model(lab, *data.train);
  auto bn1 = model->at<nn::BatchNorm2dImpl>(1);
  Tensor x = file_order_batch(*data.test, 0, 64).data;
  lab.explain("Model: " + lab_model_text(lab) + ". Each step below runs one forward of the first 64 test "
              "images and then looks at the BN buffers (layer 1 shown).");
  lab.say("%-42s%s", "step", "training  num_batches_tracked  running_mean[0]  changed");
  auto show = [&](const char* what, const char* key, std::optional<double> change) {
    lab.say("%-40s  %-8s  %19lld  %15.6f  %s", what, model->is_training() ? "yes" : "no",
            static_cast<long long>(bn1->num_batches_tracked.item<int64_t>()),
            bn1->running_mean.to_vector<float>()[0],
            !change ? "-" : *change > 0 ? "YES" : "no");
    lab.record(std::string("ng_") + key + "_tracked", bn1->num_batches_tracked.item<int64_t>());
    lab.record(std::string("ng_") + key + "_layer1_mean0", bn1->running_mean.to_vector<float>()[0]);
    lab.record(std::string("ng_") + key + "_layer5_var0",
               model->at<nn::BatchNorm2dImpl>(5)->running_var.to_vector<float>()[0]);
    if (change) lab.record(std::string("ng_") + key + "_change", *change);
  };
  auto step = [&](const char* what, const char* key, bool no_grad) {
    std::vector<Tensor> before = bn_buffers(*model);
    if (no_grad) {
      NoGradGuard guard;
      model(x);
    } else {
      model(x);
    }
    double change = largest_change(before, bn_buffers(*model));
    show(what, key, change);
    return change;
  };
  show("start (after calibration)", "start", std::nullopt);
  model->train();
  double a = step("A. train(), forward under NoGradGuard", "a", true);
  model->requires_grad_(false);
  double b = step("B. requires_grad_(false) everywhere", "b", false);
  model->requires_grad_(true);
  model->eval();
  double c = step("C. eval(), forward under NoGradGuard", "c", true);
  for (auto& [name, bn] : nn::batchnorm_layers(*model)) bn->eval();
  model->train();
  double d = step("D. eval() on each BN, then train()", "d", true);
  nn::freeze_batchnorm(*model);
  model->train();
  double e = step("E. nn::freeze_batchnorm(), then train()", "e", true);
  lab.say("\nD is the usual PyTorch way to \"freeze\" BN, and model.train() switches the layers back on.");
  lab.say("E stays frozen (BatchNormMode::Frozen) whatever train()/eval() say, until unfreeze_batchnorm.");
  bool holds = a > 0 && b > 0 && c == 0 && d > 0 && e == 0;
  lab.verdict(holds, "no-grad does not stop BN's updates; eval() does, and freezing does even in train()");
}

void lab_myths(Lab& lab) {
  lab.explain(
      "The seed articles make claims that running code contradicts. Each row quotes one (with the "
      "seed's number), says what wick measured, and rates the claim. wick's BatchNorm behaves as "
      "PyTorch 1.13's; the numbers are checked against PyTorch in wick's tests.");
  struct Row {
    const char* seed;
    const char* claim;
    const char* rating;
    std::string measured;
    bool confirmed;
  };
  std::vector<Row> rows;
  auto measured = [](const char* format, auto... values) {
    char buf[256];
    std::snprintf(buf, sizeof buf, format, values...);
    return std::string(buf);
  };
  Data data = load_data(lab.args().data, true);
  auto pixels = raw_pixels(*data.train_images);
  Tensor batch = file_order_batch(*pixels, 0, 64).data;
  double mu = mean(batch).item<double>();
  {
    NoGradGuard no_grad;
    nn::BatchNorm2d slow(nn::BatchNorm2dOptions(1).momentum(0.1)), fast(nn::BatchNorm2dOptions(1).momentum(0.9));
    double rm0 = slow->running_mean.item<double>(), rv0 = slow->running_var.item<double>();
    slow(batch);
    fast(batch);
    double r01 = slow->running_mean.item<double>(), r09 = fast->running_mean.item<double>();
    lab.record("myth_m01_mean", r01);
    lab.record("myth_m09_mean", r09);
    rows.push_back({"003", "\"running_mean = momentum * running_mean + (1 - momentum) * batch_mean\"", "FALSE",
                    measured("momentum 0.1, one batch of mean %.4f: stores %.5f = 0.1 x batch, not %.5f",
                             mu, r01, 0.9 * mu),
                    std::abs(r01 - 0.1 * mu) < 1e-6});
    rows.push_back({"003", "\"A higher momentum implies a slower update\"", "FALSE",
                    measured("after one batch momentum 0.9 is %.0f%% of the way to the batch mean, 0.1 is %.0f%%",
                             100 * r09 / mu, 100 * r01 / mu),
                    r09 > r01});
    rows.push_back({"003", "running_mean and running_var \"will be initialized to zero\"", "FALSE",
                    measured("a new BatchNorm2d holds running_mean %g and running_var %g (not 0)", rm0, rv0),
                    rm0 == 0 && rv0 == 1});
    nn::BatchNorm1d one_step(nn::BatchNorm1dOptions(1).momentum(1.0));
    Tensor two = from_vector(std::vector<float>{0.f, 2.f}, {2, 1});
    one_step(two);
    double biased = var(two, {0}, false).item<double>(), stored = one_step->running_var.item<double>();
    lab.record("myth_unbiased_var", stored);
    rows.push_back({"003", "running_var is a moving average of the batch variance (batch_var)", "MISLEADING",
                    measured("batch {0, 2}, momentum 1: normalizes with variance %g (biased), stores %g "
                             "(unbiased)",
                             biased, stored),
                    biased == 1 && stored == 2});
    // On data whose statistics do not drift, a plain average beats the moving one.
    auto [pop_mean, pop_var] = pixel_population(*pixels);
    nn::BatchNorm2d ema(nn::BatchNorm2dOptions(1)), plain(nn::BatchNorm2dOptions(1).momentum(std::nullopt));
    for (int64_t step = 0; step < 100; ++step) {
      Tensor b = file_order_batch(*pixels, 64 * step, 64).data;
      ema(b);
      plain(b);
    }
    double ema_err = std::abs(ema->running_mean.item<double>() - pop_mean);
    double plain_err = std::abs(plain->running_mean.item<double>() - pop_mean);
    lab.record("myth_ema_error", ema_err);
    lab.record("myth_plain_error", plain_err);
    rows.push_back({"003", "the moving average \"provides a more robust estimate\" than a simple average",
                    "MISLEADING",
                    measured("100 batches: running_mean error %.5f (momentum 0.1), %.5f (None: plain average)",
                             ema_err, plain_err),
                    plain_err < ema_err});
  }
  {
    nn::BatchNorm2d bn(nn::BatchNorm2dOptions(1));
    sum(mul(bn(batch), batch)).backward();
    std::string names;
    for (auto& [name, p] : bn->named_parameters()) names += (names.empty() ? "" : ", ") + name;
    bool learned = names == "weight, bias" && bn->weight.grad().defined() && !bn->running_mean.requires_grad();
    rows.push_back({"004", "BN \"will learn two additional parameters ... mean and standard deviation\"", "FALSE",
                    "it learns " + names + " (γ: scale, β: shift); mean and variance come from the batch",
                    learned});
  }
  {
    nn::Sequential model = lab_model(lab, *data.train);
    auto bn1 = model->at<nn::BatchNorm2dImpl>(1);
    optim::SGD sgd(model->parameters(), optim::SGDOptions(0.01));
    auto fine_tune = [&](int64_t first) {
      for (int64_t step = 0; step < 3; ++step) {
        data::Batch b = file_order_batch(*data.train, 64 * (first + step), 64);
        sgd.zero_grad();
        cross_entropy(model(b.data), b.target).backward();
        sgd.step();
      }
      return bn1->num_batches_tracked.item<int64_t>();
    };
    int64_t start = bn1->num_batches_tracked.item<int64_t>();
    model->eval();
    int64_t after_eval = fine_tune(kCalibrationBatches);
    model->train();
    int64_t after_train = fine_tune(kCalibrationBatches + 3);
    lab.record("myth_finetune_eval_tracked", after_eval);
    lab.record("myth_finetune_train_tracked", after_train);
    rows.push_back({"002", "BN in eval mode during fine-tuning \"update[s] its running mean and variance\"", "FALSE",
                    measured("3 SGD steps: in eval mode num_batches_tracked %lld -> %lld (no update), in "
                             "train mode -> %lld",
                             static_cast<long long>(start), static_cast<long long>(after_eval),
                             static_cast<long long>(after_train)),
                    after_eval == start && after_train == start + 3});
  }
  {
    // Seed 004's model: Conv2d(1, 3, 3, padding 1), BatchNorm2d(3), ReLU, on 32 test images.
    NoGradGuard no_grad;
    manual_seed(lab.args().seed);
    nn::Sequential m(nn::Conv2d(nn::Conv2dOptions(1, 3, 3).padding(1)), nn::BatchNorm2d(3), nn::ReLU());
    Tensor x = file_order_batch(*data.test, 0, 32).data;
    Tensor y_train = m(x);
    m->eval();
    auto norm = [](const Tensor& d) { return std::sqrt(sum(mul(d, d)).item<double>()); };
    double stored_gap = norm(sub(m(x), y_train));
    m->at<nn::BatchNorm2dImpl>(1)->set_mode(nn::BatchNormMode::BatchStats);
    double batch_stats_gap = norm(sub(m(x), y_train));
    lab.record("myth_flip_gap", stored_gap);
    lab.record("myth_batch_stats_gap", batch_stats_gap);
    rows.push_back({"004", "m[1].track_running_stats = False makes eval use batch statistics", "MISLEADING",
                    measured("PyTorch 0.4 only: 1.13 keeps stored stats (train-eval gap %.2f, as wick); "
                             "BatchStats %g",
                             stored_gap, batch_stats_gap),
                    stored_gap > 1 && batch_stats_gap == 0});
  }
  {
    NoGradGuard no_grad;
    nn::BatchNorm2d bn(nn::BatchNorm2dOptions(1));
    Tensor y = bn(batch);
    double m = mean(y).item<double>(), v = var(y, {0, 1, 2, 3}, false).item<double>();
    std::vector<float> values = y.to_vector<float>();
    double skew = 0, lowest = *std::min_element(values.begin(), values.end());
    int64_t at_lowest = 0;
    for (float value : values) {
      skew += std::pow((value - m) / std::sqrt(v), 3) / static_cast<double>(values.size());
      at_lowest += value == lowest;
    }
    double share = static_cast<double>(at_lowest) / static_cast<double>(values.size());
    lab.record("myth_gauss_skew", skew);
    lab.record("myth_gauss_share", share);
    rows.push_back({"001", "BN forces activations to \"a standard Gaussian distribution\"", "MISLEADING",
                    measured("pixels after BN: mean %.4f, variance %.4f, but skewness %.2f, %.0f%% of them one "
                             "value",
                             std::abs(m), v, skew, 100 * share),
                    std::abs(m) < 1e-4 && std::abs(v - 1) < 1e-3 && skew > 0.5 && share > 0.3});
  }
  int confirmed = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    lab.say("%zu. seed %s: %-76s %s", i + 1, r.seed, r.claim, r.rating);
    lab.say("   measured: %s%s", r.measured.c_str(), r.confirmed ? "" : "  <- NOT what this row says");
    confirmed += r.confirmed;
  }
  lab.verdict(confirmed == static_cast<int>(rows.size()),
              "%d of %zu claims measured as rated: wrong or misleading as written", confirmed, rows.size());
}

}  // namespace wick::cli
