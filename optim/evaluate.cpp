// evaluate: batches of the dataset through the model under ModeGuard and NoGradGuard.
#include "optim/evaluate.h"

#include <algorithm>
#include <chrono>

#include "core/autograd.h"
#include "core/ops/reduce.h"
#include "core/ops/loss.h"
#include "data/dataloader.h"
#include "layers/mode_guard.h"
#include "optim/progress.h"

namespace wick::train {

int64_t count_correct(const Tensor& logits, const Tensor& target, ConfusionMatrix* confusion) {
  WICK_CHECK(logits.dim() == 2 && target.dim() == 1 && target.size(0) == logits.size(0),
             "count_correct: expected logits (N, classes) and target (N), got ", shape_str(logits.shape()), " and ",
             shape_str(target.shape()));
  WICK_CHECK(target.dtype() == Dtype::Int64, "count_correct: target must be int64, got ", dtype_name(target.dtype()));
  const int64_t classes = logits.size(1);
  WICK_CHECK(!confusion || (static_cast<int64_t>(confusion->size()) == classes &&
                            std::all_of(confusion->begin(), confusion->end(),
                                        [&](const auto& row) { return static_cast<int64_t>(row.size()) == classes; })),
             "count_correct: the confusion matrix must be ", classes, " x ", classes);
  std::vector<int64_t> pred = argmax(logits, 1).to_vector<int64_t>(), truth = target.to_vector<int64_t>();
  int64_t correct = 0;
  for (size_t i = 0; i < pred.size(); ++i) {
    correct += pred[i] == truth[i];
    if (!confusion) continue;
    WICK_CHECK(truth[i] >= 0 && truth[i] < classes, "count_correct: target ", truth[i], " at row ", i,
               " is outside [0, ", classes, ")");
    ++(*confusion)[truth[i]][pred[i]];
  }
  return correct;
}

EvalResult evaluate(nn::Module& model, const data::Dataset& dataset, const EvalOptions& options) {
  WICK_CHECK(options.batch_size() > 0, "evaluate: batch_size must be positive, got ", options.batch_size());
  WICK_CHECK(dataset.size() > 0, "evaluate: the dataset is empty");
  nn::ModeGuard eval_mode(model, /*training=*/false);
  NoGradGuard no_grad;
  // The loader borrows the dataset (a non-owning shared_ptr): it lives only inside this call.
  data::DataLoader loader(std::shared_ptr<const data::Dataset>(std::shared_ptr<const data::Dataset>(), &dataset),
                          data::DataLoaderOptions(options.batch_size()));
  EvalResult r;
  const int64_t classes = dataset.num_classes();
  if (options.confusion()) r.confusion.assign(classes, std::vector<int64_t>(classes, 0));
  double loss_sum = 0;
  const std::string& label = options.progress_label();
  Progress progress(label, loader.size(), label.empty());
  auto start = std::chrono::steady_clock::now();
  int64_t step = 0;
  for (auto& batch : loader) {
    Tensor logits = model.forward(batch.data);
    loss_sum += cross_entropy(logits, batch.target, Reduction::Sum).item<double>();
    r.correct += count_correct(logits, batch.target, options.confusion() ? &r.confusion : nullptr);
    r.images += batch.size();
    progress.update(++step, "acc " + format_percent(static_cast<double>(r.correct) / static_cast<double>(r.images)));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.loss = loss_sum / static_cast<double>(r.images);
  r.accuracy = static_cast<double>(r.correct) / static_cast<double>(r.images);
  r.img_per_s = static_cast<double>(r.images) / std::max(r.seconds, 1e-9);
  return r;
}

}  // namespace wick::train
