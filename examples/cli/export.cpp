// wick export: a weights file (or a zoo model with PyTorch weights) as an ONNX file, checked by
// ONNX's own checker, with a free batch dimension (layers/onnx/export.h; docs/onnx.md).
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "flags.h"
#include "layers/onnx/export.h"

namespace wick::cli {
namespace {

struct ExportArgs {
  DataArgs data;
  std::string weights, onnx, model = "small-cnn", norm;
  bool fold_bn = false, json = false;
  int64_t opset = nn::OnnxExportOptions().opset();
};

int run_export(const ExportArgs& a) {
  check_output_path("--onnx", a.onnx);
  Data data = load_data(a.data, false);
  auto model = make_or_load_model(a.weights, a.model, a.norm, data);
  const Shape sample{data.channels, data.height, data.width};
  nn::OnnxExportReport r =
      nn::export_onnx(*model, a.onnx, sample, nn::OnnxExportOptions().fold_bn(a.fold_bn).opset(a.opset));
  std::printf("wrote %s: %lld nodes, %lld initializers, %.2f MB, opset %lld, input (N, %lld, %lld, %lld)",
              a.onnx.c_str(), static_cast<long long>(r.nodes), static_cast<long long>(r.initializers),
              static_cast<double>(r.bytes) / 1e6, static_cast<long long>(a.opset), static_cast<long long>(sample[0]),
              static_cast<long long>(sample[1]), static_cast<long long>(sample[2]));
  if (a.fold_bn) std::printf(", %lld BatchNorms folded", static_cast<long long>(r.folded));
  std::printf("; ONNX's checker passed\n");
  if (a.json)
    std::cout << nlohmann::json{{"onnx", a.onnx}, {"nodes", r.nodes}, {"initializers", r.initializers},
                                {"bytes", r.bytes}, {"opset", a.opset}, {"folded", r.folded}, {"input", sample}}
                     .dump()
              << std::endl;
  return 0;
}

}  // namespace

Subcommand add_export(CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  Subcommand s;
  s.cmd = app.add_subcommand("export", "write a model as an ONNX file (eval mode, any batch size)");
  s.cmd->add_option("--weights", args->weights, "weights (wick or PyTorch safetensors)")
      ->required()
      ->check(CLI::ExistingFile);
  s.cmd->add_option("--onnx", args->onnx, "the ONNX file to write")->required();
  s.cmd->add_flag("--fold-bn", args->fold_bn, "fold each BatchNorm into the Conv2d/Linear before it");
  s.cmd->add_option("--opset", args->opset, "ONNX opset (13 to " + std::to_string(nn::onnx_max_opset()) + ")")
      ->check(CLI::Range(int64_t(13), nn::onnx_max_opset()))
      ->capture_default_str();
  s.cmd->add_option("--model", args->model,
                    "zoo model or FILE.json, for weights without an architecture (PyTorch's)")
      ->capture_default_str();
  s.cmd->add_option("--norm", args->norm, "batch | group | layer | none: the zoo model's norm (default: its own)")
      ->check(CLI::IsMember({"batch", "group", "layer", "none"}));
  add_data_shape_flags(s.cmd, args->data);
  s.cmd->add_flag("--json", args->json, "also print one JSON line");
  s.run = [args] { return run_export(*args); };
  return s;
}

}  // namespace wick::cli
