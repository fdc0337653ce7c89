// Softmax family and losses. cross_entropy fuses log_softmax with the negative log likelihood.
#pragma once
#include "../tensor.h"

namespace wick {

enum class Reduction { None, Mean, Sum };

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// logits (N, C) or (C); target int64 class indices (N) or (). Targets equal to ignore_index add
// nothing and are not counted by Mean. label_smoothing in [0, 1] mixes in the uniform distribution.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction = Reduction::Mean,
                     double label_smoothing = 0.0, int64_t ignore_index = -100);
// log_probs (N, C) or (C); target as above.
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction = Reduction::Mean,
                int64_t ignore_index = -100);
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);

}  // namespace wick
