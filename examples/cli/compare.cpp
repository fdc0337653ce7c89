// wick compare: tensor-by-tensor differences between two safetensors files (for example wick's
// weights against PyTorch's after the same steps), with an allclose-style pass/fail, element by
// element or against each tensor's scale.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "commands.h"

namespace wick::cli {
namespace {

struct Diff {
  double max_abs = 0, max_rel = 0;  // rel: |a - b| / |b| over elements with b != 0
  double excess = 0;                // max of |a - b| / (atol + rtol |b|): within tolerance when <= 1
  int64_t bad = 0;                  // elements outside the tolerance
};

std::vector<double> values(const Tensor& t) {
  if (t.dtype() == Dtype::Int64) {
    std::vector<int64_t> v = t.to_vector<int64_t>();
    return {v.begin(), v.end()};
  }
  std::vector<float> v = t.to_vector<float>();
  return {v.begin(), v.end()};
}

// With per_tensor, rtol is relative to the largest finite |b| of the tensor instead of each |b|.
Diff diff(const Tensor& a, const Tensor& b, double rtol, double atol, bool per_tensor) {
  std::vector<double> x = values(a), y = values(b);
  Diff d;
  const double inf = std::numeric_limits<double>::infinity();
  double scale = 0;
  for (double v : y)
    if (std::isfinite(v)) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < x.size(); ++i) {
    double abs_diff;
    if (std::isnan(x[i]) || std::isnan(y[i])) abs_diff = std::isnan(x[i]) && std::isnan(y[i]) ? 0 : inf;
    else if (x[i] == y[i]) abs_diff = 0;  // also equal infinities
    else abs_diff = std::abs(x[i] - y[i]);
    double bound = atol + rtol * (per_tensor ? scale : std::isfinite(y[i]) ? std::abs(y[i]) : 0.0);
    double excess = abs_diff == 0 ? 0 : bound > 0 ? abs_diff / bound : inf;
    d.max_abs = std::max(d.max_abs, abs_diff);
    if (y[i] != 0 && abs_diff > 0) d.max_rel = std::max(d.max_rel, std::isfinite(y[i]) ? abs_diff / std::abs(y[i]) : inf);
    d.excess = std::max(d.excess, excess);
    d.bad += excess > 1;
  }
  return d;
}

}  // namespace

int run_compare(const std::string& path_a, const std::string& path_b, double rtol, double atol, bool per_tensor,
                bool json) {
  WICK_CHECK(rtol >= 0 && atol >= 0, "compare: --rtol and --atol must be non-negative, got ", rtol, " and ", atol);
  SafetensorsFile fa = read_safetensors(path_a), fb = read_safetensors(path_b);
  std::map<std::string, Tensor> tb(fb.tensors.begin(), fb.tensors.end());
  std::set<std::string> only_a, only_b;
  for (auto& [name, t] : fa.tensors)
    if (!tb.count(name)) only_a.insert(name);
  std::set<std::string> in_a;
  for (auto& [name, t] : fa.tensors) in_a.insert(name);
  for (auto& [name, t] : fb.tensors)
    if (!in_a.count(name)) only_b.insert(name);
  auto list = [](const std::set<std::string>& names) {
    std::string s;
    int shown = 0;
    for (const std::string& n : names) {
      if (shown++ == 5) return s + ", ... (" + std::to_string(names.size()) + " in all)";
      s += (s.empty() ? "\"" : ", \"") + n + "\"";
    }
    return s;
  };
  WICK_CHECK(only_a.empty() && only_b.empty(), "compare: the files hold different tensors: ",
             only_a.empty() ? "" : "only in " + path_a + ": " + list(only_a), only_a.empty() || only_b.empty() ? "" : "; ",
             only_b.empty() ? "" : "only in " + path_b + ": " + list(only_b));

  std::printf("comparing %s with %s (%zu tensors; within tolerance when |a - b| <= %g + %g %s)\n", path_a.c_str(),
              path_b.c_str(), fa.tensors.size(), atol, rtol, per_tensor ? "max |b| of the tensor" : "|b|");
  std::printf("  %-28s %-14s %12s %12s\n", "tensor", "shape", "max abs", "max rel");
  std::string worst;
  Diff worst_diff;
  int failing = 0;
  nlohmann::json j{{"a", path_a},   {"b", path_b},
                   {"rtol", rtol},   {"atol", atol},
                   {"per_tensor", per_tensor}, {"tensors", nlohmann::json::array()}};
  for (auto& [name, a] : fa.tensors) {
    const Tensor& b = tb.at(name);
    WICK_CHECK(a.dtype() == b.dtype(), "compare: tensor \"", name, "\" is ", dtype_name(a.dtype()), " in ", path_a,
               " but ", dtype_name(b.dtype()), " in ", path_b);
    WICK_CHECK(a.shape() == b.shape(), "compare: tensor \"", name, "\" has shape ", shape_str(a.shape()), " in ",
               path_a, " but ", shape_str(b.shape()), " in ", path_b);
    Diff d = diff(a, b, rtol, atol, per_tensor);
    failing += d.bad > 0;
    if (worst.empty() || d.excess > worst_diff.excess) worst = name, worst_diff = d;
    std::printf("  %-28s %-14s %12.3e %12.3e%s\n", name.c_str(), shape_str(a.shape()).c_str(), d.max_abs, d.max_rel,
                d.bad ? "  outside tolerance" : "");
    j["tensors"].push_back({{"name", name}, {"max_abs", d.max_abs}, {"max_rel", d.max_rel}, {"outside", d.bad}});
  }
  if (!worst.empty())
    std::printf("worst: %s (max abs %.3e, max rel %.3e, %.3g of the tolerance)\n", worst.c_str(), worst_diff.max_abs,
                worst_diff.max_rel, worst_diff.excess);
  if (json) {
    j["worst"] = worst;
    j["ok"] = failing == 0;
    std::cout << j.dump() << std::endl;
  }
  std::fflush(stdout);
  WICK_CHECK(failing == 0, "compare: ", failing, " of ", fa.tensors.size(), " tensors differ beyond --rtol ", rtol,
             " --atol ", atol, per_tensor ? " --per-tensor" : "", "; worst \"", worst, "\": max abs ", worst_diff.max_abs, ", max rel ", worst_diff.max_rel,
             " (", worst_diff.bad, " elements outside)");
  std::printf("all %zu tensors within tolerance\n", fa.tensors.size());
  return 0;
}

}  // namespace wick::cli
