// train::DataParallel: one model trained on the processes of core/distributed.h, each on its share
// of the batch, as PyTorch's DistributedDataParallel: the same starting weights everywhere, and
// after each backward every gradient is the mean of the processes' gradients.
//
// With each process's loss the mean over its own b images, the mean of the P processes'
// gradients is the gradient of the mean loss over all P·b images: one step on the global batch.
// The sums go in buckets of about bucket_bytes, last parameters first (the order backward
// finishes them), each sent as soon as its gradients are final (post-accumulate hooks) while the
// backward goes on, and always in the same order on every process.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "../core/distributed.h"
#include "../core/options.h"
#include "../layers/module.h"

namespace wick::train {

// Read at construction.
struct DataParallelOptions {
  // The size of a bucket of gradients summed in one call (a parameter larger than this is a
  // bucket of its own). Smaller buckets start sooner; each call has a fixed latency.
  WICK_ARG(int64_t, bucket_bytes) = int64_t{1} << 20;
  // Before every forward, copy rank 0's buffers (BatchNorm running statistics) to every process,
  // as DistributedDataParallel's broadcast_buffers: the running statistics are then those of
  // rank 0's share of each batch. Not needed with SyncBatchNorm, whose statistics are global.
  WICK_ARG(bool, broadcast_buffers) = true;
};

class DataParallel {
 public:
  // Copies rank 0's parameters and buffers to every process and hooks the parameters that
  // require grad. `model` must outlive this object and have the same parameters on every process.
  explicit DataParallel(nn::Module& model, DataParallelOptions options = DataParallelOptions());
  ~DataParallel();  // unhooks
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  // Call before each forward (copies the buffers, when broadcast_buffers) ...
  void before_forward();
  // ... and after each backward, before the optimizer's step: sends the buckets not yet sent,
  // waits for all, and sets every gradient to the mean over the processes. A parameter no
  // process computed a gradient for keeps none. One backward per step: a bucket goes out after
  // its gradients' first backward, so a second backward before this call would not be summed.
  void after_backward();

  // Seconds after_backward has spent waiting for sums so far: the communication the backward
  // did not hide.
  double wait_seconds() const { return wait_seconds_; }
  int64_t buckets() const;

 private:
  struct Bucket;
  void on_grad_ready(size_t bucket, size_t slot);
  void launch_ready();
  void fill(Bucket& b);

  nn::Module& model_;
  DataParallelOptions options_;
  std::vector<Bucket> buckets_;
  size_t next_launch_ = 0;  // buckets go out in index order
  double wait_seconds_ = 0;
};

}  // namespace wick::train
