// Whether a training step fits in memory, known before training starts: a batch as large as the
// dataset would otherwise be found by the kernel's OOM killer, with no message at all.
#pragma once
#include <cstdint>

#include "../data/dataset.h"
#include "../layers/module.h"

namespace wick::train {

// The tensor memory of one training step (forward, loss, backward) as a line in the batch size:
// fixed + per_image * batch.
struct StepMemory {
  double fixed = 0, per_image = 0;  // bytes
  double at(int64_t batch) const { return fixed + per_image * static_cast<double>(batch); }
};

// Measured with two small steps (16 and 32 images of `data`, or fewer when it has fewer) in eval
// mode with gradients recorded, so that nothing the run depends on changes: no running statistic,
// no random draw, and the parameters' gradients are put back as they were. Zeros when `data` has fewer
// than 2 images.
StepMemory measure_step_memory(nn::Module& model, const data::Dataset& data);

// Bytes this process may still take: /proc/meminfo's MemAvailable, capped by the cgroup's memory
// limit when there is one; 0 when unknown (not Linux).
uint64_t available_memory();

// Throws wick::Error when a step at `batch` images (at most all of `data`) would need more than 90%
// of `available` bytes, naming `what` ("--batch-size", "fit: batch_size"), both sizes and the
// largest batch that fits. Nothing is checked when `available` is 0 (unknown).
void check_step_fits(nn::Module& model, const data::Dataset& data, int64_t batch, const char* what,
                     uint64_t available = available_memory());

}  // namespace wick::train
