// wick eval, wick inspect and wick fold-bn.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"

namespace wick::cli {

int run_eval(const EvalArgs& a) {
  WICK_CHECK(a.batch_size > 0, "--batch-size must be positive, got ", a.batch_size);
  set_num_threads(a.common.threads);
  Data data = load_data(a.common.data, false);
  auto model = inference_model(*make_or_load_model(a.weights, a.common.model, a.common.norm, data), data);
  train::EvalResult r = train::evaluate(
      *model, *data.test,
      train::EvalOptions(a.batch_size).confusion(a.confusion).progress_label(a.common.json ? "" : "evaluating"));
  std::printf("test accuracy: %s on %lld images (loss %.4f)  |  %.0f img/s at batch %lld\n",
              format_percent(r.accuracy).c_str(), static_cast<long long>(r.images), r.loss, r.img_per_s,
              static_cast<long long>(a.batch_size));
  if (a.confusion) {
    std::printf("confusion matrix (rows: true class, columns: predicted):\n");
    for (const auto& row : r.confusion) {
      for (int64_t v : row) std::printf(" %5lld", static_cast<long long>(v));
      std::printf("\n");
    }
  }
  if (a.common.json) {
    nlohmann::json j{{"test_loss", r.loss}, {"test_acc", r.accuracy}, {"img_per_s", r.img_per_s},
                     {"seconds", r.seconds}, {"images", r.images}};
    if (a.confusion) j["confusion"] = r.confusion;
    std::cout << j.dump() << std::endl;
  }
  return 0;
}

int run_inspect(const std::string& path, bool json) {
  SafetensorsFile file = read_safetensors(path);
  int64_t params = 0;
  nlohmann::json j{{"file", path}, {"tensors", nlohmann::json::array()}};
  std::printf("%s: %zu tensors\n", path.c_str(), file.tensors.size());
  for (auto& [name, t] : file.tensors) {
    std::printf("  %-28s %-8s %s\n", name.c_str(), dtype_name(t.dtype()), shape_str(t.shape()).c_str());
    bool is_buffer = name.find("running_") != std::string::npos || name.find("num_batches_tracked") != std::string::npos;
    if (!is_buffer) params += t.numel();
    j["tensors"].push_back({{"name", name}, {"dtype", dtype_name(t.dtype())}, {"shape", t.shape()}});
  }
  std::printf("parameters: %lld\n", static_cast<long long>(params));
  j["parameters"] = params;
  // BatchNorm layers: every prefix with running_mean / running_var / num_batches_tracked.
  std::map<std::string, std::map<std::string, Tensor>> bns;
  for (auto& [name, t] : file.tensors)
    for (const char* key : {"running_mean", "running_var", "num_batches_tracked"}) {
      std::string suffix = std::string(".") + key;
      if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
        bns[name.substr(0, name.size() - suffix.size())][key] = t;
    }
  j["batchnorm"] = nlohmann::json::array();
  for (auto& [prefix, stats] : bns) {
    auto summary = [&](const char* key) -> std::vector<double> {
      if (!stats.count(key) || stats[key].numel() == 0) return {};
      std::vector<float> v = stats[key].to_vector<float>();
      double lo = v[0], hi = v[0], sum = 0;
      for (float x : v) lo = std::min<double>(lo, x), hi = std::max<double>(hi, x), sum += x;
      return {sum / static_cast<double>(v.size()), lo, hi};
    };
    auto m = summary("running_mean"), v = summary("running_var");
    int64_t seen = stats.count("num_batches_tracked") ? stats["num_batches_tracked"].item<int64_t>() : -1;
    std::printf("BatchNorm %s: running_mean mean %.4f [%.4f, %.4f], running_var mean %.4f [%.4f, %.4f], "
                "num_batches_tracked %lld%s\n",
                prefix.c_str(), m.empty() ? 0 : m[0], m.empty() ? 0 : m[1], m.empty() ? 0 : m[2], v.empty() ? 0 : v[0],
                v.empty() ? 0 : v[1], v.empty() ? 0 : v[2], static_cast<long long>(seen),
                seen == 0 ? "  (never saw a training batch)" : "");
    j["batchnorm"].push_back({{"name", prefix}, {"running_mean", m}, {"running_var", v}, {"num_batches_tracked", seen}});
  }
  if (nn::has_architecture(file)) {
    // Rebuilt, not just printed: a description that does not fit the tensors is reported here.
    try {
      auto model = nn::load_module(path);
      std::printf("architecture:\n%s\n", model->repr().c_str());
      j["architecture"] = nlohmann::json::parse(nn::architecture_json(*model));
    } catch (const Error& e) {
      std::printf("architecture: not usable: %s\n", e.what());
    }
  } else if (file.metadata.count("wick.architecture")) {
    std::printf("architecture: stored as a printout (wick 0.1), not read by this version\n");
  }
  if (json) std::cout << j.dump() << std::endl;
  return 0;
}

int run_fold_bn(const std::string& in, const std::string& out, const std::string& model_name, bool json) {
  check_output_path("--out", out);
  // Files without an architecture are --model's (a FILE.json, or a named model for 1x28x28, 10 classes).
  Data shape;
  shape.channels = 1, shape.classes = 10, shape.height = 28, shape.width = 28;
  std::shared_ptr<nn::Module> model = make_or_load_model(in, model_name, "", shape);
  int folded = 0;
  auto fused = nn::fold_batchnorm(*model, &folded);
  nn::save(*fused, out);
  std::printf("folded %d BatchNorm layers; wrote %s (%lld parameters, was %lld)\n", folded, out.c_str(),
              static_cast<long long>(fused->parameter_count()), static_cast<long long>(model->parameter_count()));
  if (json) std::cout << nlohmann::json{{"folded", folded}, {"out", out}}.dump() << std::endl;
  return 0;
}

}  // namespace wick::cli
