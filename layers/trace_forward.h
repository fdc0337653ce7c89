// A model's eval forward traced once on a sample batch (core/trace.h): what the ONNX exporter and
// trace_for_inference both read. Every op that records an autograd node is noted too, so a reader
// can name an op it has no translation for by the module it ran in.
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

#include "../core/shape.h"
#include "../core/trace.h"
#include "module.h"

namespace wick::nn {

// The traced batch's size: odd, so that a dim equal to the batch by chance is rarer.
inline constexpr int64_t kTraceBatch = 3;

struct TracedForward {
  struct Made {
    std::string name;
    Tensor out;  // held, so that no other tensor reuses the address
    std::string path;
  };
  Tensor input, output;                                  // (kTraceBatch, *sample_shape) and its result
  std::vector<trace::Op> ops;                            // every traced op, in call order
  std::unordered_map<const TensorImpl*, Made> made;      // every autograd node's result, by tensor
};

// Runs model's eval forward (its mode is restored after) on a deterministic batch of kTraceBatch
// samples of sample_shape, with grad mode on so every op records its node. Refuses, in errors
// that start with `who`: a sample shape that is empty, has a dim < 1 or more than 2^26 elements; a
// BatchNorm that normalizes with batch statistics (batch-stats mode, or no running statistics);
// an output without one row per input.
TracedForward trace_forward(Module& model, const Shape& sample_shape, const std::string& who);

// Which of t.ops the output depends on (ops traced inside other ops, or whose results the forward
// dropped, do not), by index.
std::vector<bool> needed_ops(const TracedForward& t);

// "the model" for the top level, else the module path: how errors name where an op ran.
std::string where(const std::string& path);

// The attribute `name` of a traced op (an internal error names `who` when it was not traced).
const trace::Attr& attr_of(const trace::Op& op, const std::string& name, const std::string& who);

}  // namespace wick::nn
