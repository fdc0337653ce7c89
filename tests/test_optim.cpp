// optim/: SGD, Adam and AdamW trajectories, parameter groups, LR schedules and clip_grad_norm_
// against PyTorch (tests/data/optim.json from tools/golden/optim.py), bit-exact resume from state
// files, thread-count determinism, and errors for bad hyperparameters and mismatched state.
#include <cmath>

#include "helpers.h"

using namespace wick;
using nlohmann::json;

namespace {

const json& cases(const std::string& kind) {
  static test::Golden g("optim.json");
  return g.at("cases").at(kind);
}

// Options from PyTorch's keyword arguments, applied over `o`.
optim::SGDOptions sgd_options(const json& j, optim::SGDOptions o) {
  if (j.contains("lr")) o.lr(j["lr"]);
  if (j.contains("momentum")) o.momentum(j["momentum"]);
  if (j.contains("dampening")) o.dampening(j["dampening"]);
  if (j.contains("weight_decay")) o.weight_decay(j["weight_decay"]);
  if (j.contains("nesterov")) o.nesterov(j["nesterov"]);
  return o;
}

template <typename O>
O adam_options(const json& j, O o) {
  if (j.contains("lr")) o.lr(j["lr"]);
  if (j.contains("betas")) o.betas({j["betas"][0], j["betas"][1]});
  if (j.contains("eps")) o.eps(j["eps"]);
  if (j.contains("weight_decay")) o.weight_decay(j["weight_decay"]);
  if (j.contains("amsgrad")) o.amsgrad(j["amsgrad"]);
  return o;
}

// The optimizer a golden case describes, over `params`, with its groups.
std::unique_ptr<optim::Optimizer> make_optimizer(const json& c, const std::vector<Tensor>& params) {
  const std::string kind = c["optimizer"];
  const json& d = c["defaults"];
  std::vector<optim::ParamGroup> groups;
  for (const json& g : c["groups"]) {
    std::vector<Tensor> ps;
    for (int i : g["params"]) ps.push_back(params[size_t(i)]);
    if (g["options"].is_null()) {
      groups.emplace_back(ps);
    } else if (kind == "sgd") {
      groups.emplace_back(ps, sgd_options(g["options"], sgd_options(d, optim::SGDOptions(0))));
    } else if (kind == "adam") {
      groups.emplace_back(ps, adam_options(g["options"], adam_options(d, optim::AdamOptions())));
    } else {
      groups.emplace_back(ps, adam_options(g["options"], adam_options(d, optim::AdamWOptions())));
    }
  }
  if (kind == "sgd") return std::make_unique<optim::SGD>(groups, sgd_options(d, optim::SGDOptions(0)));
  if (kind == "adam") return std::make_unique<optim::Adam>(groups, adam_options(d, optim::AdamOptions()));
  return std::make_unique<optim::AdamW>(groups, adam_options(d, optim::AdamWOptions()));
}

// Runs every golden case of one optimizer ("sgd", "adam", "adamw"), comparing the parameters after
// each step.
void check_trajectories(const std::string& kind) {
  int n = 0;
  for (const json& c : cases("optimizers")) {
    const std::string name = c["name"];
    if (c["optimizer"] != kind) continue;
    ++n;
    std::vector<Tensor> params;
    for (const json& p : c["params"]) params.push_back(test::Golden::tensor(p).requires_grad_());
    auto opt = make_optimizer(c, params);
    for (size_t k = 0; k < c["grads"].size(); ++k) {
      for (size_t i = 0; i < params.size(); ++i) {
        const json& g = c["grads"][k][i];
        params[i].set_grad(g.is_null() ? Tensor() : test::Golden::tensor(g));
      }
      opt->step();
      for (size_t i = 0; i < params.size(); ++i) {
        INFO(name, ": step ", k + 1, ", parameter ", i);
        CHECK_CLOSE(params[i], test::Golden::tensor(c["after"][k][i]), 1e-5, 1e-6);
      }
    }
  }
  REQUIRE(n > 0);
}

using test::TempFile;

std::vector<Tensor> clone_all(const std::vector<Tensor>& ts) {
  std::vector<Tensor> out;
  for (const Tensor& t : ts) out.push_back(t.detach().clone().requires_grad_());
  return out;
}

}  // namespace

TEST_CASE("SGD matches PyTorch: plain, momentum, dampening, nesterov, weight decay") {
  check_trajectories("sgd");
}

TEST_CASE("Adam matches PyTorch: plain, amsgrad, weight decay") { check_trajectories("adam"); }

TEST_CASE("AdamW matches PyTorch: plain, amsgrad, decoupled weight decay") { check_trajectories("adamw"); }

TEST_CASE("parameter groups take their own options or the defaults") {
  manual_seed(1);
  Tensor a = randn({3}).requires_grad_(), b = randn({2, 2}).requires_grad_(), c = randn({4}).requires_grad_();
  optim::SGD opt({optim::ParamGroup({a, b}, optim::SGDOptions(0.01)), optim::ParamGroup({c})},
                 optim::SGDOptions(0.1).momentum(0.9));
  REQUIRE(opt.param_groups().size() == 2);
  CHECK(opt.lr(0) == 0.01);
  CHECK(opt.lr(1) == 0.1);
  CHECK(opt.param_groups()[0].options_as<optim::SGDOptions>().momentum() == 0.0);  // own options, not merged
  CHECK(opt.param_groups()[1].options_as<optim::SGDOptions>().momentum() == 0.9);
  opt.set_lr(1, 0.5);
  CHECK(opt.param_groups()[1].lr() == 0.5);
  CHECK(opt.defaults().get_lr() == 0.1);  // the defaults are a separate copy
  opt.set_lr(0.2);
  CHECK((opt.lr(0) == 0.2 && opt.lr(1) == 0.2));
  Tensor d = randn({2}).requires_grad_();
  opt.add_param_group(optim::ParamGroup({d}, optim::SGDOptions(0.03).nesterov(true).momentum(0.5)));
  CHECK(opt.param_groups().size() == 3);
  CHECK(opt.parameters().size() == 4);
  CHECK(opt.parameters()[3].same_storage(d));
  CHECK_THROWS_WITH_AS(opt.lr(5), doctest::Contains("SGD: no parameter group 5"), Error);
  CHECK_THROWS_WITH_AS(opt.add_param_group(optim::ParamGroup({a})), doctest::Contains("more than one parameter group"),
                       Error);
  CHECK_THROWS_WITH_AS(opt.add_param_group(optim::ParamGroup({randn({2})}, optim::AdamOptions())),
                       doctest::Contains("another optimizer"), Error);
  CHECK_THROWS_WITH_AS(opt.add_param_group(optim::ParamGroup({randn({2})}, optim::SGDOptions(-1))),
                       doctest::Contains("invalid learning rate -1"), Error);
  CHECK_THROWS_AS(opt.param_groups()[0].options_as<optim::AdamOptions>(), Error);

  // Steps use each group's lr: a plain SGD step moves a by -0.2 * g.
  Tensor a0 = a.detach().clone();
  a.set_grad(ones({3}));
  opt.step();
  CHECK_CLOSE(a, add(a0, full({3}, -0.2)), 0, 1e-7);
}

TEST_CASE("zero_grad drops or zeroes gradients, parameters without a grad are skipped") {
  Tensor a = ones({2}).requires_grad_(), b = ones({3}).requires_grad_();
  optim::Adam opt({a, b}, optim::AdamOptions(0.1));
  a.set_grad(ones({2}));
  opt.step();
  CHECK(opt.has_state(a));
  CHECK_FALSE(opt.has_state(b));  // no grad: no step, no state
  CHECK(b.to_vector<float>() == std::vector<float>{1, 1, 1});
  CHECK(opt.state(a).step == 1);
  CHECK(a.is_leaf());
  CHECK(a.requires_grad());
  opt.zero_grad(false);
  REQUIRE(a.grad().defined());
  CHECK(a.grad().to_vector<float>() == std::vector<float>{0, 0});
  opt.zero_grad();
  CHECK_FALSE(a.grad().defined());
  CHECK_FALSE(b.grad().defined());
}

TEST_CASE("an optimizer trains a small model through autograd") {
  manual_seed(3);
  nn::Linear model(4, 1);
  Tensor x = randn({64, 4});
  Tensor y = matmul(x, from_vector(std::vector<float>{1, -2, 0.5f, 3}, {4, 1})) + 0.25;
  optim::SGD opt(model->parameters(), optim::SGDOptions(0.1).momentum(0.9));
  float first = 0, last = 0;
  for (int it = 0; it < 150; ++it) {
    opt.zero_grad();
    Tensor loss = mse_loss(model(x), y);
    loss.backward();
    opt.step();
    (it == 0 ? first : last) = loss.item();
  }
  CHECK(last < first * 1e-4f);
}

TEST_CASE("optimizer steps are bit-identical at any thread count") {
  manual_seed(5);
  Tensor p0 = randn({70000}), g = randn({70000});
  auto run = [&](int threads) {
    set_num_threads(threads);
    Tensor p = p0.clone().requires_grad_();
    optim::AdamW opt({p}, optim::AdamWOptions(0.01).amsgrad(true));
    optim::SGD sgd({optim::ParamGroup({p}, optim::SGDOptions(0.1))}, optim::SGDOptions(0.1).momentum(0.9));
    for (int k = 0; k < 3; ++k) {
      p.set_grad(mul(g, double(k + 1)));
      opt.step();
      sgd.step();
      optim::clip_grad_norm_({p}, 1.0);
    }
    return p;
  };
  Tensor one = run(1), many = run(4);
  set_num_threads(0);
  CHECK(equal(one, many));
}

TEST_CASE("save_state/load_state resume training bit-exactly") {
  manual_seed(11);
  const std::vector<Shape> shapes = {{3, 4}, {5}, {2, 2, 3}};
  std::vector<std::vector<Tensor>> grads(5);
  for (auto& step : grads)
    for (auto& s : shapes) step.push_back(randn(s));
  using Make = std::function<std::unique_ptr<optim::Optimizer>(const std::vector<Tensor>&)>;
  std::vector<std::pair<std::string, Make>> makers = {
      {"SGD", [](const std::vector<Tensor>& p) {
         return std::make_unique<optim::SGD>(
             std::vector<optim::ParamGroup>{
                 optim::ParamGroup({p[0], p[1]}, optim::SGDOptions(0.05).momentum(0.9).nesterov(true)),
                 optim::ParamGroup({p[2]})},
             optim::SGDOptions(0.1).momentum(0.5).dampening(0.1).weight_decay(1e-3));
       }},
      {"Adam", [](const std::vector<Tensor>& p) {
         return std::make_unique<optim::Adam>(p, optim::AdamOptions(0.01).amsgrad(true).weight_decay(0.01));
       }},
      {"AdamW", [](const std::vector<Tensor>& p) {
         return std::make_unique<optim::AdamW>(
             std::vector<optim::ParamGroup>{optim::ParamGroup({p[0]}),
                                            optim::ParamGroup({p[1], p[2]}, optim::AdamWOptions(0.003))},
             optim::AdamWOptions(0.02).betas({0.8, 0.95}));
       }},
  };
  for (auto& [name, make] : makers) {
    INFO(name);
    std::vector<Tensor> params;
    for (auto& s : shapes) params.push_back(randn(s).requires_grad_());
    auto opt = make(params);
    optim::StepLR sched(*opt, 2, 0.5);  // changes the lrs, which the state file must carry
    auto step = [&](optim::Optimizer& o, std::vector<Tensor>& ps, size_t k) {
      for (size_t i = 0; i < ps.size(); ++i)
        ps[i].set_grad(k < 2 && i == 1 ? Tensor() : grads[k][i]);  // parameter 1 starts late
      o.step();
    };
    for (size_t k = 0; k < 3; ++k) {
      step(*opt, params, k);
      sched.step();
    }
    TempFile f;
    opt->save_state(f.path);
    std::vector<Tensor> resumed = clone_all(params);
    for (size_t k = 3; k < 5; ++k) step(*opt, params, k);

    auto fresh = make(resumed);
    fresh->load_state(f.path);
    CHECK(fresh->lr(0) == opt->lr(0));
    for (size_t k = 3; k < 5; ++k) step(*fresh, resumed, k);
    for (size_t i = 0; i < params.size(); ++i) CHECK(equal(params[i], resumed[i]));
  }
}

TEST_CASE("load_state checks the optimizer, groups and shapes, and changes nothing on failure") {
  Tensor a = zeros({2, 3}).requires_grad_(), b = zeros({4}).requires_grad_();
  optim::SGD opt({a, b}, optim::SGDOptions(0.1).momentum(0.9));
  a.set_grad(ones({2, 3}));
  b.set_grad(ones({4}));
  opt.step();
  TempFile f;
  opt.save_state(f.path);

  Tensor c = zeros({3, 2}).requires_grad_(), d = zeros({4}).requires_grad_();
  optim::SGD wrong_shape({c, d}, optim::SGDOptions(0.7));
  CHECK_THROWS_WITH_AS(wrong_shape.load_state(f.path),
                       doctest::Contains("parameter 0 of group 0 (index 0) has shape [2, 3] in the file but [3, 2]"),
                       Error);
  CHECK(wrong_shape.lr() == 0.7);  // unchanged
  CHECK_FALSE(wrong_shape.has_state(c));

  optim::SGD wrong_count({zeros({2, 3}).requires_grad_()}, optim::SGDOptions(0.1));
  CHECK_THROWS_WITH_AS(wrong_count.load_state(f.path), doctest::Contains("group 0 has 2 parameters in the file but 1"),
                       Error);
  optim::SGD wrong_groups(
      {optim::ParamGroup({zeros({2, 3}).requires_grad_()}), optim::ParamGroup({zeros({4}).requires_grad_()})},
      optim::SGDOptions(0.1));
  CHECK_THROWS_WITH_AS(wrong_groups.load_state(f.path), doctest::Contains("the file has 1 parameter groups"), Error);
  optim::Adam adam({zeros({2, 3}).requires_grad_(), zeros({4}).requires_grad_()});
  CHECK_THROWS_WITH_AS(adam.load_state(f.path), doctest::Contains("holds the state of SGD, not Adam"), Error);
  CHECK_THROWS_AS(adam.load_state(f.path + ".missing"), Error);

  // Step counts and buffers that would poison the next step (a hostile or corrupt file).
  auto edited = [&](const std::string& step, float buffer_value) {
    SafetensorsFile file = read_safetensors(f.path);
    nlohmann::json meta = nlohmann::json::parse(file.metadata.at("wick.optimizer_state"));
    for (auto& p : meta.at("params")) p["step"] = nlohmann::json::parse(step);
    for (auto& [name, t] : file.tensors) t = t.clone().fill_(buffer_value);
    file.metadata["wick.optimizer_state"] = meta.dump();
    TempFile out;
    write_safetensors(out.path, file.tensors, file.metadata);
    optim::SGD target({zeros({2, 3}).requires_grad_(), zeros({4}).requires_grad_()}, optim::SGDOptions(0.1));
    std::string message;
    try {
      target.load_state(out.path);
    } catch (const Error& err) {
      message = err.what();
    }
    return message;
  };
  CHECK(edited("-5", 1.f).find("has step count -5; expected an integer from 1 to 2^53") != std::string::npos);
  CHECK(edited("1e30", 1.f).find("has step count 1e+30") != std::string::npos);
  CHECK(edited("1", NAN).find("holds nan (a state buffer must be finite)") != std::string::npos);
  CHECK(edited("1", 1.f).empty());

  Tensor e = zeros({2, 3}).requires_grad_(), g = zeros({4}).requires_grad_();
  optim::SGD ok({e, g}, optim::SGDOptions(0.5));
  ok.load_state(f.path);
  CHECK(ok.lr() == 0.1);
  CHECK(ok.param_groups()[0].options_as<optim::SGDOptions>().momentum() == 0.9);
  CHECK(ok.state(e).step == 1);
  CHECK(equal(ok.state(e).at("momentum_buffer"), ones({2, 3})));
}

TEST_CASE("bad hyperparameters are rejected with clear errors") {
  std::vector<Tensor> p = {zeros({2}).requires_grad_()};
  using optim::SGDOptions, optim::AdamOptions, optim::AdamWOptions;
  CHECK_THROWS_WITH_AS(optim::SGD(p, SGDOptions(-0.1)), doctest::Contains("SGD: invalid learning rate -0.1"), Error);
  CHECK_THROWS_WITH_AS(optim::SGD(p, SGDOptions(NAN)), doctest::Contains("invalid learning rate"), Error);
  CHECK_THROWS_WITH_AS(optim::SGD(p, SGDOptions(0.1).momentum(-0.5)), doctest::Contains("invalid momentum -0.5"),
                       Error);
  CHECK_THROWS_WITH_AS(optim::SGD(p, SGDOptions(0.1).weight_decay(-1)), doctest::Contains("invalid weight_decay"),
                       Error);
  CHECK_THROWS_WITH_AS(optim::SGD(p, SGDOptions(0.1).nesterov(true)),
                       doctest::Contains("Nesterov momentum requires a momentum > 0 and zero dampening"), Error);
  CHECK_THROWS_WITH_AS(optim::SGD(p, SGDOptions(0.1).nesterov(true).momentum(0.9).dampening(0.1)),
                       doctest::Contains("zero dampening"), Error);
  CHECK_THROWS_WITH_AS(optim::Adam(p, AdamOptions(-1e-3)), doctest::Contains("Adam: invalid learning rate"), Error);
  CHECK_THROWS_WITH_AS(optim::Adam(p, AdamOptions().betas({1.0, 0.999})),
                       doctest::Contains("invalid beta parameter at index 0 1"), Error);
  CHECK_THROWS_WITH_AS(optim::Adam(p, AdamOptions().betas({0.9, -0.1})),
                       doctest::Contains("invalid beta parameter at index 1 -0.1"), Error);
  CHECK_THROWS_WITH_AS(optim::Adam(p, AdamOptions().eps(-1e-8)), doctest::Contains("invalid epsilon"), Error);
  CHECK_THROWS_WITH_AS(optim::Adam(p, AdamOptions().weight_decay(-0.1)), doctest::Contains("invalid weight_decay"),
                       Error);
  CHECK_THROWS_WITH_AS(optim::AdamW(p, AdamWOptions().betas({0.9, 1.0})),
                       doctest::Contains("AdamW: invalid beta parameter at index 1 1 (expected a finite value in"),
                       Error);
  CHECK_THROWS_WITH_AS(optim::AdamW(p, AdamWOptions(0.1).weight_decay(-1)), doctest::Contains("invalid weight_decay"),
                       Error);
  // parameters
  CHECK_THROWS_WITH_AS(optim::SGD(std::vector<Tensor>{}, SGDOptions(0.1)), doctest::Contains("empty parameter list"),
                       Error);
  Tensor leaf = ones({2}).requires_grad_();
  CHECK_THROWS_WITH_AS(optim::SGD({mul(leaf, 2.0)}, SGDOptions(0.1)), doctest::Contains("not a leaf"), Error);
  CHECK_THROWS_WITH_AS(optim::SGD({arange(3, Dtype::Int64)}, SGDOptions(0.1)), doctest::Contains("int64"), Error);
  CHECK_THROWS_WITH_AS(optim::SGD({leaf, leaf}, SGDOptions(0.1)), doctest::Contains("more than one parameter group"),
                       Error);
  optim::SGD ok(p, SGDOptions(0.1));
  CHECK_THROWS_WITH_AS(ok.set_lr(-1.0), doctest::Contains("invalid learning rate -1"), Error);
  // schedulers
  CHECK_THROWS_WITH_AS(optim::StepLR(ok, 0), doctest::Contains("step_size must be >= 1"), Error);
  CHECK_THROWS_WITH_AS(optim::CosineAnnealingLR(ok, 0), doctest::Contains("T_max must be >= 1"), Error);
  CHECK_THROWS_WITH_AS(optim::OneCycleLR(ok, optim::OneCycleLROptions(0.1, 10).pct_start(1.5)),
                       doctest::Contains("pct_start must be in [0, 1]"), Error);
  CHECK_THROWS_WITH_AS(optim::OneCycleLR(ok, optim::OneCycleLROptions(0.1, 0)), doctest::Contains("total_steps"),
                       Error);
  CHECK_THROWS_WITH_AS(optim::OneCycleLR(ok, optim::OneCycleLROptions(std::vector<double>{0.1, 0.2}, 10)),
                       doctest::Contains("expected 1 or 1 values for max_lr"), Error);
}

TEST_CASE("LR schedulers match PyTorch's lr (and momentum) sequences") {
  for (const json& c : cases("schedulers")) {
    const std::string name = c["name"], kind = c["scheduler"];
    INFO(name);
    const json& a = c["args"];
    Tensor p0 = zeros({1}).requires_grad_(), p1 = zeros({1}).requires_grad_();
    std::unique_ptr<optim::Optimizer> opt;
    if (c["optimizer"] == "sgd")
      opt = std::make_unique<optim::SGD>(
          std::vector<optim::ParamGroup>{optim::ParamGroup({p0}),
                                         optim::ParamGroup({p1}, optim::SGDOptions(0.01).momentum(0.9))},
          optim::SGDOptions(0.1).momentum(0.9));
    else
      opt = std::make_unique<optim::Adam>(
          std::vector<optim::ParamGroup>{optim::ParamGroup({p0}), optim::ParamGroup({p1}, optim::AdamOptions(0.01))},
          optim::AdamOptions(0.1));
    std::unique_ptr<optim::LRScheduler> s;
    if (kind == "step") {
      s = std::make_unique<optim::StepLR>(*opt, a["step_size"], a["gamma"]);
    } else if (kind == "multistep") {
      s = std::make_unique<optim::MultiStepLR>(*opt, a["milestones"].get<std::vector<int64_t>>(), a["gamma"]);
    } else if (kind == "linear") {
      s = std::make_unique<optim::LinearLR>(*opt, a["start_factor"], a["end_factor"], a["total_iters"]);
    } else if (kind == "cosine") {
      s = std::make_unique<optim::CosineAnnealingLR>(*opt, a["T_max"], a["eta_min"]);
    } else {
      optim::OneCycleLROptions o(a["max_lr"].get<std::vector<double>>(), a["total_steps"]);
      if (a.contains("pct_start")) o.pct_start(a["pct_start"]);
      if (a.contains("anneal_strategy"))
        o.anneal_strategy(a["anneal_strategy"] == "linear" ? optim::AnnealStrategy::Linear
                                                            : optim::AnnealStrategy::Cos);
      if (a.contains("three_phase")) o.three_phase(a["three_phase"]);
      if (a.contains("div_factor")) o.div_factor(a["div_factor"]);
      if (a.contains("final_div_factor")) o.final_div_factor(a["final_div_factor"]);
      if (a.contains("cycle_momentum")) o.cycle_momentum(a["cycle_momentum"]);
      s = std::make_unique<optim::OneCycleLR>(*opt, o);
    }
    const json& lrs = c["lrs"];
    const json& moms = c["momentum"];
    for (size_t k = 0; k < lrs.size(); ++k) {
      if (k > 0) s->step();
      for (size_t g = 0; g < 2; ++g) {
        INFO("step ", k, " group ", g);
        const double want = lrs[k][g], mom = moms[k][g];
        CHECK(s->get_last_lr()[g] == doctest::Approx(want).epsilon(1e-12));
        CHECK(opt->lr(g) == doctest::Approx(want).epsilon(1e-12));
        CHECK(opt->param_groups()[g].options().get_momentum() == doctest::Approx(mom).epsilon(1e-12));
      }
    }
    CHECK(s->last_epoch() == int64_t(lrs.size()) - 1);
    if (c.contains("raises_after") && c["raises_after"].get<bool>()) {
      const std::vector<double> before = s->get_last_lr();
      CHECK_THROWS_WITH_AS(s->step(), doctest::Contains("OneCycleLR: tried to step"), Error);
      CHECK(s->get_last_lr() == before);
      CHECK(s->last_epoch() == int64_t(lrs.size()) - 1);
    }
  }
}

TEST_CASE("clip_grad_norm_ matches PyTorch (2-norm, inf-norm, 1- and 3-norms)") {
  for (const json& c : cases("clip")) {
    const std::string name = c["name"];
    INFO(name);
    std::vector<Tensor> params;
    for (const json& g : c["grads"]) {
      Tensor grad = test::Golden::tensor(g);
      Tensor p = zeros(grad.shape()).requires_grad_();
      p.set_grad(grad);
      params.push_back(p);
    }
    params.push_back(zeros({3}).requires_grad_());  // no grad: ignored
    const double norm_type = c["norm_type"].is_string() ? optim::kInfNorm : c["norm_type"].get<double>();
    const double total = optim::clip_grad_norm_(params, c["max_norm"], norm_type);
    CHECK(total == doctest::Approx(c["total_norm"].get<double>()).epsilon(1e-6));
    for (size_t i = 0; i < c["clipped"].size(); ++i)
      CHECK_CLOSE(params[i].grad(), test::Golden::tensor(c["clipped"][i]), 1e-5, 1e-7);
    CHECK_FALSE(params.back().grad().defined());
  }
  Tensor p = zeros({2}).requires_grad_();
  CHECK(optim::clip_grad_norm_(p, 1.0) == 0.0);  // no grad at all
  p.set_grad(from_vector(std::vector<float>{INFINITY, 1}));
  CHECK_THROWS_WITH_AS(optim::clip_grad_norm_(p, 1.0, 2.0, true), doctest::Contains("error_if_nonfinite"), Error);
  CHECK_THROWS_WITH_AS(optim::clip_grad_norm_(p, 1.0, -1.0), doctest::Contains("norm_type must be > 0"), Error);
}
