// wick models: every zoo model with its parameter count and forward cost for the chosen data's
// image shape and class count.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "flags.h"

namespace wick::cli {
namespace {

struct ModelsArgs {
  DataArgs data;
  std::string norm;
  bool json = false;
};

// "1,234,567"
std::string grouped(int64_t n) {
  std::string s = std::to_string(n);
  for (int64_t i = static_cast<int64_t>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

int run_models(const ModelsArgs& a) {
  Data data = load_data(a.data, false);
  std::printf("zoo models for %s: %lldx%lldx%lld images, %lld classes%s\n", data.name.c_str(),
              static_cast<long long>(data.channels), static_cast<long long>(data.height),
              static_cast<long long>(data.width), static_cast<long long>(data.classes),
              a.norm.empty() ? " (each with its default norm)" : (", --norm " + a.norm).c_str());
  std::printf("%-10s %-6s %12s %14s\n", "model", "norm", "parameters", "MFLOPs/image");
  nlohmann::json rows = nlohmann::json::array();
  for (const std::string& name : nn::model_names()) {
    nn::ModelOptions o = model_options(data, a.norm);
    try {
      nn::ForwardCost c = nn::forward_cost(*nn::make_model(name, o), {data.channels, data.height, data.width});
      const char* norm = nn::norm_name(o.norm().value_or(name == "lenet5" ? nn::Norm::None : nn::Norm::Batch));
      std::printf("%-10s %-6s %12s %14.2f\n", name.c_str(), norm, grouped(c.parameters).c_str(), c.flops / 1e6);
      rows.push_back({{"model", name}, {"norm", norm}, {"parameters", c.parameters}, {"mflops", c.flops / 1e6}});
    } catch (const Error& e) {  // a norm the model does not take, or images too small for it
      std::printf("%-10s %-6s  not available: %s\n", name.c_str(), a.norm.c_str(), e.what());
      rows.push_back({{"model", name}, {"norm", a.norm}, {"error", e.what()}});
    }
  }
  std::printf("MFLOPs: 2 x the multiply-adds of the Conv2d and Linear layers in one forward pass.\n");
  if (a.json)
    std::cout << nlohmann::json{{"data", data.name},
                                {"image", {data.channels, data.height, data.width}},
                                {"classes", data.classes},
                                {"models", rows}}
                     .dump()
              << std::endl;
  return 0;
}

}  // namespace

Subcommand add_models(CLI::App& app) {
  auto args = std::make_shared<ModelsArgs>();
  Subcommand s;
  s.cmd = app.add_subcommand("models", "the zoo models: parameters and forward MFLOPs for the data's images");
  add_data_shape_flags(s.cmd, args->data);
  s.cmd->add_option("--norm", args->norm, "batch | group | layer | none (default: each model's own)")
      ->check(CLI::IsMember({"batch", "group", "layer", "none"}));
  s.cmd->add_flag("--json", args->json, "also print one JSON line");
  s.run = [args] { return run_models(*args); };
  return s;
}

}  // namespace wick::cli
