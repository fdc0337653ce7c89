// wick train and wick finetune.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

#include "train_options.h"

namespace wick::cli {
namespace {

void report(const train::FitResult& r, const CommonArgs& common, const Data& data) {
  const train::EpochMetrics& last = r.epochs.back();
  std::printf("test accuracy: %s on %lld %s test images (loss %.4f)  |  training: %.0f img/s, %.1f s, %lld steps\n",
              format_percent(last.test_acc).c_str(), static_cast<long long>(data.test->size()), data.name.c_str(),
              last.test_loss, r.img_per_s, r.train_seconds, static_cast<long long>(r.steps));
  if (r.best_epoch > 0) {
    const train::EpochMetrics& best = r.epochs[static_cast<size_t>(r.best_epoch - 1)];
    std::printf("best validation accuracy: %s at epoch %lld\n", format_percent(best.val_acc).c_str(),
                static_cast<long long>(r.best_epoch));
  }
  if (!common.json) return;
  nlohmann::json j{{"train_loss", last.train_loss}, {"train_acc", last.train_acc},
                   {"test_loss", last.test_loss},   {"test_acc", last.test_acc},
                   {"img_per_s", r.img_per_s},      {"seconds", r.train_seconds},
                   {"steps", r.steps},              {"epochs", static_cast<int64_t>(r.epochs.size())},
                   {"lr", last.lr}};  // the lr of the last step
  if (data.validation) {
    j["val_loss"] = last.val_loss;
    j["val_acc"] = last.val_acc;
  }
  if (r.best_epoch > 0) j["best_epoch"] = r.best_epoch;
  if (dist::is_distributed()) {
    j["processes"] = dist::world_size();
    j["wait_seconds"] = r.wait_seconds;
  }
  std::cout << j.dump() << std::endl;
}

// "2 threads", or under mpirun "4 processes x 2 threads (--sync-bn)".
std::string workers(const TrainArgs& a) {
  std::string threads = std::to_string(get_num_threads()) + (get_num_threads() == 1 ? " thread" : " threads");
  if (!dist::is_distributed()) return threads;
  return std::to_string(dist::world_size()) + " processes x " + threads + (a.sync_bn ? " (--sync-bn)" : "");
}

std::vector<optim::ParamGroup> trainable(const std::vector<Tensor>& params) {
  std::vector<Tensor> out;
  for (const Tensor& p : params)
    if (p.requires_grad()) out.push_back(p);
  WICK_CHECK(!out.empty(), "nothing to train: every parameter is frozen");
  return {optim::ParamGroup(out)};
}

// The last Linear of a Sequential (the classifier head) and its child name.
std::pair<std::string, std::shared_ptr<nn::LinearImpl>> find_head(nn::Module& model) {
  std::pair<std::string, std::shared_ptr<nn::LinearImpl>> head;
  for (auto& [name, child] : model.named_children())
    if (auto lin = std::dynamic_pointer_cast<nn::LinearImpl>(child)) head = {name, lin};
  WICK_CHECK(head.second != nullptr, "finetune: the model has no Linear layer at its top level to use as the head");
  return head;
}

// The output files can be written (checked before hours of training, not after).
void check_outputs(const TrainArgs& a) {
  check_output_path("--save", a.save);
  check_output_path("--metrics", a.loop.metrics_csv);
  check_output_path("--plot", a.loop.plot_svg);
  check_output_path("--step-metrics", a.loop.steps_csv);
  check_output_path("--save-best", a.loop.save_best);
}

// The training loop on data.train, tested on data.test (and validated on data.validation) after
// every epoch, with each BatchNorm + ReLU fused into one layer (same values, one pass fewer); the
// model is then put back as it was built, so what is saved is the user's architecture (fit saves
// --save-best's weights unfused too). With --sync-bn every BatchNorm is a SyncBatchNorm.
train::FitResult train_fused(nn::Module& model, optim::Optimizer& optimizer, const Data& data,
                             const train::FitOptions& options, bool sync_bn) {
  const int processes = dist::world_size();
  WICK_CHECK(options.batch_size() % processes == 0, "--batch-size ", options.batch_size(), " does not divide among ",
             processes, " processes: it is the global batch, each process takes an equal share; use a multiple of ",
             processes);
  train::check_step_fits(model, *data.train, options.batch_size() / processes, "--batch-size");
  if (sync_bn) nn::convert_sync_batchnorm(model);
  nn::fuse_batchnorm_relu(model);
  train::FitResult r = train::fit(model, optimizer, *data.train, options);
  nn::unfuse_batchnorm_relu(model);
  return r;
}

// SIGINT and SIGTERM while checkpointing: the first finishes the step, writes a checkpoint and
// ends the run; a second one ends the process at once. Under mpirun every process gets the
// signal and rank 0 alone says so.
std::atomic<int> stop_signal{0};
bool announce_stop = true;

void on_stop_signal(int sig) {
  if (stop_signal.exchange(sig) != 0) {
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  const char note[] = "\nwick: finishing this step and writing a checkpoint (signal again to stop at once)\n";
  if (announce_stop) {
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, note, sizeof note - 1);
  }
}

void catch_stop_signals() {
  announce_stop = dist::rank() == 0;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGINT, SIGTERM}) ::sigaction(sig, &action, nullptr);
}

}  // namespace

int run_train(const TrainArgs& a) {
  check_outputs(a);
  set_num_threads(a.common.threads);
  set_flush_denormal(a.loop.flush_denormal);
  manual_seed(a.loop.seed);
  Data data = load_data(a.common.data, true);
  hold_out_validation(data, a.loop);
  auto model = make_or_load_model(a.init, a.common.model, a.common.norm, data);
  if (!a.loop.quiet)
    std::printf("training %s on %s: %lld images, %lld classes, %lld parameters, %s\n",
                a.init.empty() ? a.common.model.c_str() : a.init.c_str(), data.name.c_str(),
                static_cast<long long>(data.train->size()), static_cast<long long>(data.classes),
                static_cast<long long>(model->parameter_count()), workers(a).c_str());
  auto opt = make_optimizer(a.optim, trainable(model->parameters()), {});
  const CheckpointArgs& c = a.checkpoint;
  train::FitOptions options = fit_options(a.loop, data);
  if (!c.dir.empty()) {
    options.checkpoint_dir(c.dir).checkpoint_every(c.every).checkpoint_settings(c.settings).resume(!c.resume.empty());
    options.stop_signal(&stop_signal);
    catch_stop_signals();
    if (!c.resume.empty() && !a.loop.quiet) std::printf("resuming from %s\n", train::latest_checkpoint(c.dir).c_str());
  }
  train::FitResult r = train_fused(*model, *opt, data, options, a.sync_bn);
  if (r.interrupted && dist::rank() != 0) return 128 + r.interrupted;
  if (r.interrupted) {
    std::fflush(stdout);
    std::fprintf(stderr, "wick: stopped by %s after step %lld; checkpoint %s; continue with: wick train --resume %s\n",
                 r.interrupted == SIGINT ? "SIGINT" : "SIGTERM", static_cast<long long>(r.steps),
                 r.last_checkpoint.c_str(), c.dir.c_str());
    return 128 + r.interrupted;
  }
  if (!a.save.empty() && dist::rank() == 0) {
    nn::save(*model, a.save);
    if (!a.loop.quiet) std::printf("saved %s\n", a.save.c_str());
  }
  report(r, a.common, data);
  return 0;
}

int run_finetune(const FinetuneArgs& f) {
  const TrainArgs& a = f.train;
  WICK_CHECK(f.bn == "train" || f.bn == "frozen" || f.bn == "recalibrate", "--bn must be train, frozen or recalibrate, got \"",
             f.bn, "\"");
  check_outputs(a);
  set_num_threads(a.common.threads);
  set_flush_denormal(a.loop.flush_denormal);
  manual_seed(a.loop.seed);
  Data data = load_data(a.common.data, true);
  hold_out_validation(data, a.loop);
  auto model = make_or_load_model(f.weights, a.common.model, a.common.norm, data);
  auto [head_name, head] = find_head(*model);
  if (head->options.out_features() != data.classes) {
    std::printf("replacing the head %s (%lld classes) with a new Linear(%lld, %lld)\n", head_name.c_str(),
                static_cast<long long>(head->options.out_features()), static_cast<long long>(head->options.in_features()),
                static_cast<long long>(data.classes));
    head = std::make_shared<nn::LinearImpl>(head->options.in_features(), data.classes);
    model->replace_module(head_name, head);
  }
  train::EvalResult before = train::evaluate(*model, *data.test, 1000);
  std::printf("before fine-tuning: test accuracy %s (loss %.4f)\n", format_percent(before.accuracy).c_str(),
              before.loss);
  int batchnorms = 0;
  for (auto& [name, m] : model->named_modules()) batchnorms += std::dynamic_pointer_cast<nn::BatchNormImplBase>(m) != nullptr;
  if (f.bn != "train" && batchnorms == 0)
    std::printf("note: --bn %s: the model has no BatchNorm layers, so nothing is %s (GroupNorm, LayerNorm and "
                "no normalization keep no running statistics; they normalize each image by itself)\n",
                f.bn.c_str(), f.bn == "frozen" ? "frozen" : "recalibrated");
  if (f.bn == "recalibrate" && batchnorms > 0) {
    data::DataLoader loader(data.train, data::DataLoaderOptions(a.loop.batch_size).shuffle(true).seed(a.loop.seed));
    int64_t used = nn::recalibrate_batchnorm(*model, loader, f.recalibrate_batches);
    train::EvalResult recal = train::evaluate(*model, *data.test, 1000);
    std::printf("after recalibrating BatchNorm on %lld batches (no labels, no gradient steps): test accuracy %s\n",
                static_cast<long long>(used), format_percent(recal.accuracy).c_str());
  }
  if (f.bn != "train" && batchnorms > 0) {
    int n = nn::freeze_batchnorm(*model);
    std::printf("froze %d BatchNorm layers\n", n);
  }
  std::vector<Tensor> backbone, head_params = head->parameters();
  for (auto& [name, p] : model->named_parameters())
    if (name.rfind(head_name + ".", 0) != 0 && p.requires_grad()) backbone.push_back(p);
  if (f.freeze_backbone) {
    for (Tensor& p : backbone) p.requires_grad_(false);
    backbone.clear();
  }
  std::vector<optim::ParamGroup> groups{optim::ParamGroup(head_params)};
  std::vector<double> lrs{a.optim.lr};
  if (!backbone.empty()) {
    groups.emplace_back(backbone);
    lrs.push_back(f.backbone_lr >= 0 ? f.backbone_lr : a.optim.lr / 10);
  }
  auto opt = make_optimizer(a.optim, groups, lrs);
  train::FitResult r = train_fused(*model, *opt, data, fit_options(a.loop, data), a.sync_bn);
  std::printf("after fine-tuning: test accuracy %s (before: %s)\n", format_percent(r.epochs.back().test_acc).c_str(),
              format_percent(before.accuracy).c_str());
  if (!a.save.empty() && dist::rank() == 0) nn::save(*model, a.save);
  report(r, a.common, data);
  return 0;
}

}  // namespace wick::cli
