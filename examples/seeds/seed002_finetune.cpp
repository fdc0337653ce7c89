// C++ twin of seed 002: MyModel (conv1 -> bn1 -> relu -> fc) trained a few Adam steps, then eval
// + NoGradGuard predictions, and the Keras-style `training` flag twin. It also measures the
// article's claim that eval mode makes BN update its running statistics during fine-tuning (it
// does not: only training mode updates them).
#include <wick/wick.h>

#include <cmath>
#include <cstdio>

using namespace wick;

class MyModelImpl : public nn::Module {
 public:
  MyModelImpl()
      : conv1(register_module("conv1", nn::Conv2d(nn::Conv2dOptions(3, 64, 3).padding(1)).ptr())),
        bn1(register_module("bn1", nn::BatchNorm2d(64).ptr())),
        relu(register_module("relu", nn::ReLU().ptr())),
        fc(register_module("fc", nn::Linear(64 * 28 * 28, 10).ptr())) {}

  // PyTorch's forward: BN follows the module's train()/eval() mode.
  Tensor forward(const Tensor& input) override {
    Tensor x = relu(bn1(conv1(input)));
    x = x.flatten(1);  // x.view(x.size(0), -1)
    return fc(x);
  }

  // Keras's call(inputs, training): BN runs in training mode for this call only if `training`.
  Tensor forward(const Tensor& input, bool training) {
    bool was_training = bn1->is_training();
    bn1->train(training);
    Tensor out;
    try {
      out = forward(input);
    } catch (...) {
      bn1->train(was_training);
      throw;
    }
    bn1->train(was_training);
    return out;
  }
  std::string type_name() const override { return "MyModel"; }

  nn::Conv2d conv1;
  nn::BatchNorm2d bn1;
  nn::ReLU relu;
  nn::Linear fc;
};
WICK_MODULE(MyModel);

int64_t batches_tracked(const MyModel& m) { return m->bn1->num_batches_tracked.item<int64_t>(); }

// Largest |change| of bn1's running_mean since `before`.
double mean_moved(const MyModel& m, const Tensor& before) {
  return max(abs(sub(m->bn1->running_mean, before))).item<float>();
}

// `steps` Adam steps on random batches from N(shift, 1) with random labels.
void fit(MyModel& model, optim::Adam& optimizer, int steps, double shift) {
  for (int step = 0; step < steps; ++step) {
    Tensor inputs = add(randn({4, 3, 28, 28}), shift);
    Tensor labels = randint(0, 10, {4});
    optimizer.zero_grad();
    Tensor loss = cross_entropy(model(inputs), labels);
    loss.backward();
    optimizer.step();
  }
}

int main() try {
  manual_seed(0);
  MyModel model;
  optim::Adam optimizer(model->parameters(), optim::AdamOptions(0.001));

  // During training, the model is in training mode. (Random labels and a 50176-input fc: the loss
  // jumps after the first Adam step; this only shows the mechanics.)
  model->train();
  for (int epoch = 0; epoch < 5; ++epoch) {
    Tensor inputs = randn({4, 3, 28, 28});
    Tensor labels = randint(0, 10, {4});
    optimizer.zero_grad();
    Tensor outputs = model(inputs);
    Tensor loss = cross_entropy(outputs, labels);
    loss.backward();
    optimizer.step();
    std::printf("epoch %d: loss %.4f\n", epoch, loss.item<float>());
  }

  // Before inference, put the model in evaluation mode: BN uses its running statistics.
  model->eval();
  Tensor test_inputs = randn({2, 3, 28, 28});
  {
    NoGradGuard no_grad;
    Tensor predictions = model(test_inputs);
    std::vector<int64_t> cls = argmax(predictions, 1).to_vector<int64_t>();
    std::printf("predictions: %s, classes [%lld, %lld]\n", shape_str(predictions.shape()).c_str(),
                static_cast<long long>(cls[0]), static_cast<long long>(cls[1]));
  }

  // Fine-tuning on shifted data (mean 2). First as the article's prose advises: BN in eval mode.
  Tensor before = model->bn1->running_mean.clone();
  int64_t nbt_before = batches_tracked(model);
  model->eval();
  fit(model, optimizer, 3, 2.0);
  double eval_moved = mean_moved(model, before);
  int64_t nbt_eval = batches_tracked(model);
  std::printf("fine-tune 3 steps in eval mode:  num_batches_tracked %lld -> %lld, running_mean max |change| %.6f\n",
              static_cast<long long>(nbt_before), static_cast<long long>(nbt_eval), eval_moved);

  // Then as the article's code does: model.train().
  model->train();
  fit(model, optimizer, 3, 2.0);
  double train_moved = mean_moved(model, before);
  int64_t nbt_train = batches_tracked(model);
  std::printf("fine-tune 3 steps in train mode: num_batches_tracked %lld -> %lld, running_mean max |change| %.6f\n",
              static_cast<long long>(nbt_eval), static_cast<long long>(nbt_train), train_moved);
  std::printf("NOTE: the article says setting BN to eval mode during fine-tuning \"forces the BatchNorm "
              "layer to update its running mean and variance\"; measured: in eval mode "
              "num_batches_tracked stayed %lld and running_mean moved by %.6f (no update at all); only "
              "train mode updated them (%lld -> %lld, running_mean moved by %.6f).\n",
              static_cast<long long>(nbt_eval), eval_moved, static_cast<long long>(nbt_eval),
              static_cast<long long>(nbt_train), train_moved);

  // The Keras twin: the training flag picks BN's behaviour per call, whatever model->train() said.
  model->eval();
  Tensor x = randn({4, 3, 28, 28});
  int64_t n0 = batches_tracked(model);
  Tensor logits_infer = model->forward(x, /*training=*/false);
  int64_t n1 = batches_tracked(model);
  Tensor logits_train = model->forward(x, /*training=*/true);
  int64_t n2 = batches_tracked(model);
  std::printf("training=false: num_batches_tracked %lld -> %lld; training=true: %lld -> %lld; "
              "bn1 back in %s mode afterwards\n",
              static_cast<long long>(n0), static_cast<long long>(n1), static_cast<long long>(n1),
              static_cast<long long>(n2), model->bn1->is_training() ? "train" : "eval");

  bool ok = nbt_eval == nbt_before && eval_moved == 0.0 && nbt_train == nbt_eval + 3 && train_moved > 0.0 &&
            n1 == n0 && n2 == n0 + 1 && std::isfinite(sum(logits_infer).item<float>() + sum(logits_train).item<float>());
  return ok ? 0 : 1;
} catch (const wick::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
