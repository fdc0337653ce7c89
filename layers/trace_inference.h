// Inference by trace: a model's eval forward traced once (layers/trace_forward.h) and replayed as a
// flat list of ops, with the fusions fuse_for_inference makes inside containers made here on the
// ops themselves, so they reach a user's own forward too (a Module subclass calling its members
// and functional relu and add), which fuse_for_inference cannot see into.
#pragma once
#include <cstdint>
#include <memory>

#include "../core/shape.h"
#include "module.h"

namespace wick::nn {

struct TraceInferenceReport {
  int64_t steps = 0;   // ops the forward replays
  int64_t folded = 0;  // BatchNorms folded into the convolution before them
  int64_t fused = 0;   // ReLUs, 2x2 max poolings, adds and Linear biases run in the pass before them
};

// A module that computes model's eval forward for inputs (N, *sample_shape), any N, by replaying
// the ops a traced batch ran, where
// - a BatchNorm on running statistics whose input is a conv2d's result, read by nothing else, is
//   folded into that conv's weights (fold_into);
// - a conv2d's ReLU, 2x2 max pooling (stride 2, no padding), or add of a tensor of its shape and
//   then ReLU, each the only reader of the result before it, run in the convolution's own pass
//   (conv2d_affine, with its weights packed once), as a FusedConv2d does;
// - x·Wᵀ + b of a Linear runs as one linear();
// - a batch of 16 or more runs the steps before the first Linear after the last of 3 or more
//   convolutions in chunks of 8 samples, in parallel, each chunk through all of them on one core
//   (unless one of them mixes samples, a softmax over the batch dim say), the rest on the joined
//   batch; each sample's result is the same as in a whole batch.
// Outputs equal the model's eval outputs to float rounding. The module holds its own copies of the
// tensors it reads (training the model later changes nothing here); its forward records no
// gradient. Like torch.jit.trace it replays the ops the trace ran: a forward whose ops depend on
// the input's values, or on its size beyond the batch, is not followed. Throws, naming the module
// that ran it, for an op it cannot replay (docs/modules.md lists those it can), a tensor made from
// neither the input nor the model's tensors (but one-element constants), a reshape or permute that
// moves the batch dim, and whatever trace_forward refuses.
std::shared_ptr<Module> trace_for_inference(Module& model, const Shape& sample_shape,
                                            TraceInferenceReport* report = nullptr);

// True when model has a module whose forward is its own and that has layers of its own (not a
// container: Sequential, ModuleList, Residual or their fused forms): what fuse_for_inference
// leaves as it is, and trace_for_inference reaches.
bool has_own_forward(Module& model);

}  // namespace wick::nn
