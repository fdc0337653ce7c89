// ONNX export: a model's eval-mode forward, traced (core/trace.h) on a sample batch, written as an
// ONNX file that ONNX's own checker and shape inference accept, with a dynamic batch dimension
// and the model's safetensors keys as initializer names. docs/onnx.md lists what each op becomes.
// Built as its own library (wick::onnx), the one part of wick that needs libonnx.
#pragma once
#include <cstdint>
#include <string>

#include "../../core/options.h"
#include "../../core/shape.h"
#include "../module.h"

namespace wick::nn {

struct OnnxExportOptions {
  // Folds each BatchNormalization that directly follows a Conv or Gemm (and is its only user)
  // into that layer's weight and bias (computed in double, as nn::fold_batchnorm).
  WICK_ARG(bool, fold_bn) = false;
  // The ai.onnx opset, from 13 to the newest the linked ONNX library knows (17 for ONNX 1.12).
  // LayerNorm becomes LayerNormalization from opset 17, InstanceNormalization + Mul/Add below.
  WICK_ARG(int64_t, opset) = 17;
};

struct OnnxExportReport {
  int64_t nodes = 0, initializers = 0;
  int64_t folded = 0;  // BatchNorms folded into the layer before them
  int64_t bytes = 0;   // of the file
};

// The newest opset export_onnx can write (the linked ONNX library's).
int64_t onnx_max_opset();

// Writes `model`, as its eval mode computes it, to `path` for inputs of shape (N, *sample_shape)
// with N free. The model's own mode is left as it was. Anything that cannot be exported (an op
// with no ONNX form here, a BatchNorm normalizing with batch statistics, a reshape that moves the
// batch dimension) throws wick::Error naming the module path, and no file is written; the file
// is written atomically.
OnnxExportReport export_onnx(Module& model, const std::string& path, const Shape& sample_shape,
                             const OnnxExportOptions& options = {});

}  // namespace wick::nn
