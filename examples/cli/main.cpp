// wick: train, fine-tune, evaluate, inspect, compare and export small CNNs from the command line.
// Errors print one line on stderr: exit status 1 for failures, 2 for bad usage. Under mpirun,
// train and finetune are data-parallel: only rank 0 prints (the others' stdout is dropped), and
// a process that fails ends the whole job.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "commands.h"
#include "flags.h"
#include "train_options.h"

using namespace wick;
using namespace wick::cli;

namespace {

const CLI::Validator& kPositive = positive_number();
const CLI::Validator& kNonNegative = nonnegative_number();

void add_common(CLI::App* cmd, CommonArgs& c, bool with_limits) {
  cmd->add_option("--data", c.data.data, "fashion-mnist | mnist | cifar10 | folder:DIR | synthetic")
      ->capture_default_str();
  cmd->add_option("--data-dir", c.data.data_dir,
                  "dataset folder (fashion-mnist defaults to /usr/share/datasets/fashion-mnist)");
  cmd->add_option("--model", c.model,
                  "a zoo model (mlp, lenet5, small-cnn, vgg8, resnet20, resnet32, resnet56; see wick models) or "
                  "FILE.json (an architecture file); a named model is only needed for weights without an architecture")
      ->capture_default_str();
  cmd->add_option("--norm", c.norm,
                  "normalization of a zoo model: batch | group (GroupNorm, 8 groups) | layer | none "
                  "(default: the model's own, none for lenet5, batch for the others)")
      ->check(CLI::IsMember({"batch", "group", "layer", "none"}));
  cmd->add_option("--threads", c.threads, "worker threads (0: all cores)")->check(kNonNegative);
  cmd->add_option("--image-size", c.data.image_size, "folder:DIR images are resized to this square")
      ->check(kPositive)
      ->capture_default_str();
  cmd->add_option("--channels", c.data.channels, "folder:DIR images are converted to 1 or 3 channels")
      ->check(CLI::IsMember({1, 3}))
      ->capture_default_str();
  cmd->add_option("--test-limit", c.data.test_limit, "evaluate on the first N test images only")
      ->check(kNonNegative);
  if (with_limits)
    cmd->add_option("--train-limit", c.data.train_limit, "train on the first N training images only")
        ->check(kNonNegative);
  cmd->add_flag("--json", c.json, "end with one JSON line of the final figures");
}

void add_training(CLI::App* cmd, TrainArgs& t) {
  add_common(cmd, t.common, true);
  cmd->add_option("--epochs", t.loop.epochs, "passes over the training set")->check(kPositive)->capture_default_str();
  cmd->add_option("--batch-size", t.loop.batch_size, "images per step")->check(kPositive)->capture_default_str();
  cmd->add_option("--lr", t.optim.lr, "learning rate")->check(kPositive)->capture_default_str();
  cmd->add_option("--momentum", t.optim.momentum, "SGD momentum")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  cmd->add_option("--optimizer", t.optim.name, "sgd | adam | adamw")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}))
      ->capture_default_str();
  cmd->add_option("--weight-decay", t.optim.weight_decay, "L2 penalty (decoupled for adamw)")
      ->check(kNonNegative)
      ->capture_default_str();
  cmd->add_option("--seed", t.loop.seed, "seeds initialization and shuffling")->capture_default_str();
  cmd->add_flag("--flush-denormal", t.loop.flush_denormal,
                "treat denormal floats (below 1.2e-38) as zero, as torch.set_flush_denormal does: several times "
                "faster when tiny batches send gradients near 1e-40 back through BatchNorm; results can differ "
                "where such values would have counted");
  cmd->add_flag("--no-shuffle{false}", t.loop.shuffle, "take batches in file order");
  cmd->add_option("--max-steps", t.loop.max_steps, "stop after this many optimizer steps")->check(kPositive);
  cmd->add_option("--save", t.save, "write the trained weights (safetensors) here");
  cmd->add_option("--metrics", t.loop.metrics_csv, "write per-epoch metrics to this CSV file");
  cmd->add_option("--plot", t.loop.plot_svg, "write loss and accuracy curves to this SVG file");
  cmd->add_flag("--quiet", t.loop.quiet, "no progress output");
  cmd->add_flag("--nesterov", t.optim.nesterov, "Nesterov momentum (sgd only)");
  cmd->add_option("--scheduler", t.loop.scheduler,
                  "learning-rate schedule, stepped after every step: none | step | multistep | cosine (to 0) | "
                  "onecycle (max lr --lr, PyTorch's defaults)")
      ->check(CLI::IsMember({"none", "step", "multistep", "cosine", "onecycle"}))
      ->capture_default_str();
  cmd->add_option("--step-size", t.loop.step_size, "--scheduler step: multiply the lr by --gamma every N epochs")
      ->check(kPositive);
  cmd->add_option("--milestones", t.loop.milestones, "--scheduler multistep: multiply the lr by --gamma at these epochs (3,6)")
      ->delimiter(',')
      ->check(kPositive);
  cmd->add_option("--gamma", t.loop.gamma, "--scheduler step | multistep: the lr factor (default 0.1)")->check(kPositive);
  cmd->add_option("--warmup-epochs", t.loop.warmup_epochs,
                  "first raise the lr linearly from lr/100 to --lr over N epochs (per step), then the schedule")
      ->check(kNonNegative);
  cmd->add_option("--augment", t.loop.augment, "training batches only: crop (random, zero-padded), flip (horizontal), or none")
      ->delimiter(',')
      ->default_str("none");
  cmd->add_option("--crop-padding", t.loop.crop_padding, "--augment crop: pixels of padding on each side (default 4)")
      ->check(kPositive);
  cmd->add_option("--label-smoothing", t.loop.label_smoothing, "cross-entropy label smoothing EPS in [0, 1)")
      ->check(kNonNegative);
  cmd->add_option("--grad-clip", t.loop.grad_clip, "clip the total gradient norm to MAXNORM before each step")
      ->check(kPositive);
  cmd->add_option("--val-split", t.loop.val_split, "hold out this fraction of the training set (seeded) for validation")
      ->check(kPositive);
  cmd->add_option("--save-best", t.loop.save_best, "write the weights of the epoch with the best validation accuracy here");
  cmd->add_option("--step-metrics", t.loop.steps_csv, "write per-step lr, loss and accuracy to this CSV file");
  cmd->add_flag("--sync-bn", t.sync_bn,
                "under mpirun: every BatchNorm normalizes with the statistics of the whole batch over all processes "
                "(SyncBatchNorm)");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"wick: train, fine-tune and evaluate small CNNs on the CPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "wick 0.1.0");

  TrainArgs train;
  auto* train_cmd = app.add_subcommand("train", "train a model (default: small-cnn on Fashion-MNIST)");
  add_training(train_cmd, train);
  add_checkpoint_flags(train_cmd, train.checkpoint);
  train_cmd->add_option("--init", train.init, "start from these weights (wick or PyTorch safetensors)")
      ->check(CLI::ExistingFile);

  FinetuneArgs ft;
  ft.train.optim.lr = 0.01;
  ft.train.loop.epochs = 1;
  auto* ft_cmd = app.add_subcommand("finetune", "fine-tune pretrained weights, optionally on new classes");
  add_training(ft_cmd, ft.train);
  ft_cmd->add_option("--weights", ft.weights, "pretrained weights (wick or PyTorch safetensors)")
      ->required()
      ->check(CLI::ExistingFile);
  ft_cmd->add_option("--bn", ft.bn, "BatchNorm during fine-tuning: train | frozen | recalibrate (AdaBN, then frozen)")
      ->check(CLI::IsMember({"train", "frozen", "recalibrate"}))
      ->capture_default_str();
  ft_cmd->add_flag("--freeze-backbone", ft.freeze_backbone, "train the head only");
  ft_cmd->add_option("--backbone-lr", ft.backbone_lr, "learning rate of the backbone (default: --lr / 10)")
      ->check(kNonNegative);

  EvalArgs ev;
  auto* eval_cmd = app.add_subcommand("eval", "test accuracy and loss of a weights file");
  add_common(eval_cmd, ev.common, false);
  eval_cmd->add_option("--weights", ev.weights, "weights (wick or PyTorch safetensors)")->required()->check(CLI::ExistingFile);
  eval_cmd->add_option("--batch-size", ev.batch_size, "images per forward pass")
      ->check(kPositive)
      ->capture_default_str();
  eval_cmd->add_flag("--confusion", ev.confusion, "print the confusion matrix");

  std::string inspect_file;
  bool inspect_json = false;
  auto* inspect_cmd = app.add_subcommand("inspect", "tensors, shapes and BatchNorm statistics of a weights file");
  inspect_cmd->add_option("file", inspect_file, "safetensors file")->required()->check(CLI::ExistingFile);
  inspect_cmd->add_flag("--json", inspect_json, "also print one JSON line");

  std::string fold_in, fold_out, fold_model = "small-cnn";
  bool fold_json = false;
  auto* fold_cmd = app.add_subcommand("fold-bn", "fold BatchNorm into the preceding Conv2d/Linear layers");
  fold_cmd->add_option("--weights", fold_in, "input weights")->required()->check(CLI::ExistingFile);
  fold_cmd->add_option("--out", fold_out, "folded weights to write")->required();
  fold_cmd->add_option("--model", fold_model, "small-cnn | mlp | FILE.json: the architecture of files without one")->capture_default_str();
  fold_cmd->add_flag("--json", fold_json, "also print one JSON line");

  std::string cmp_a, cmp_b;
  double cmp_rtol = 1e-5, cmp_atol = 1e-8;
  bool cmp_json = false, cmp_per_tensor = false;
  auto* cmp_cmd = app.add_subcommand("compare", "max differences, tensor by tensor, of two weights files (e.g. vs PyTorch)");
  cmp_cmd->footer("Prints each tensor's max abs and max rel difference. Exit status 0 when every element has\n"
                  "|a - b| <= atol + rtol * |b| (as torch.allclose; with --per-tensor, rtol * the tensor's max |b|),\n"
                  "1 when not or when names, dtypes or shapes differ.");
  cmp_cmd->add_option("a", cmp_a, "safetensors file")->required()->check(CLI::ExistingFile);
  cmp_cmd->add_option("b", cmp_b, "reference safetensors file (rel is relative to it)")->required()->check(CLI::ExistingFile);
  cmp_cmd->add_option("--rtol", cmp_rtol, "relative tolerance")->check(kNonNegative)->capture_default_str();
  cmp_cmd->add_option("--atol", cmp_atol, "absolute tolerance")->check(kNonNegative)->capture_default_str();
  cmp_cmd->add_flag("--per-tensor", cmp_per_tensor,
                    "rtol relative to each tensor's largest |b| instead of each element's (for runs whose rounding "
                    "differs: a weight near 0 then needs no tighter match than the tensor's scale)");
  cmp_cmd->add_flag("--json", cmp_json, "also print one JSON line");

  Subcommand bench = add_bench(app);
  Subcommand bn_lab = add_bn_lab(app);
  Subcommand models = add_models(app);
  Subcommand export_onnx = add_export(app);

  // A first word that is no subcommand (CLI11 would only say that one is required).
  if (argc > 1 && argv[1][0] != '-') {
    std::string names;
    bool known = false;
    for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      known = known || sub->get_name() == argv[1];
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      std::fprintf(stderr, "wick: unknown subcommand \"%s\" (%s; see wick --help)\n", argv[1], names.c_str());
      return 2;
    }
  }
  auto bad_usage = [&](const char* what) {
    std::fprintf(stderr, "wick: %s (see wick %s--help)\n", what,
                 app.get_subcommands().empty() ? "" : (app.get_subcommands()[0]->get_name() + " ").c_str());
    return 2;
  };
  try {
    app.parse(argc, argv);
    if (*train_cmd) {
      resolve_run_settings(train_cmd, train);
      check_training_args(train);
    }
    if (*ft_cmd) check_training_args(ft.train);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return bad_usage(e.what());
  } catch (const UsageError& e) {
    return bad_usage(e.what());
  } catch (const std::exception& e) {  // reading --resume's checkpoint
    std::fprintf(stderr, "wick: error: %s\n", e.what());
    return 1;
  }
  try {
    dist::init();  // a world of one unless started by mpirun
    if (dist::rank() != 0) WICK_CHECK(std::freopen("/dev/null", "w", stdout) != nullptr, "cannot silence stdout");
    if (dist::is_distributed() && !*train_cmd && !*ft_cmd)
      throw UsageError("only train and finetune run on several processes (mpirun -np 1, or no mpirun, for " +
                       app.get_subcommands()[0]->get_name() + ")");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wick: %s\n", e.what());
    dist::abort_job(dynamic_cast<const UsageError*>(&e) ? 2 : 1);
  }
  try {
    const int code = [&] {
      if (*train_cmd) return run_train(train);
      if (*ft_cmd) return run_finetune(ft);
      if (*eval_cmd) return run_eval(ev);
      if (*inspect_cmd) return run_inspect(inspect_file, inspect_json);
      if (*fold_cmd) return run_fold_bn(fold_in, fold_out, fold_model, fold_json);
      if (*cmp_cmd) return run_compare(cmp_a, cmp_b, cmp_rtol, cmp_atol, cmp_per_tensor, cmp_json);
      for (Subcommand* s : {&bench, &bn_lab, &models, &export_onnx})
        if (*s->cmd) return s->run();
      return 2;
    }();
    dist::finalize();
    return code;
  } catch (const std::exception& e) {  // wick::Error and anything else: one line, status 1
    wick::train::end_progress_line();
    std::fflush(stdout);
    if (!dist::is_distributed()) {
      std::fprintf(stderr, "wick: error: %s\n", e.what());
      return 1;
    }
    // The other processes would wait for this one in their next collective: end them all.
    std::fprintf(stderr, "wick: error (process %d of %d): %s\n", dist::rank(), dist::world_size(), e.what());
    std::fflush(stderr);
    dist::abort_job(1);
  }
}
