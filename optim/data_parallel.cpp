// DataParallel: the buckets, the hooks that fill and send them during backward, and the mean
// written back into the gradients.
#include "optim/data_parallel.h"

#include <chrono>
#include <cstring>

#include "core/autograd.h"
#include "core/error.h"

namespace wick::train {

struct DataParallel::Bucket {
  std::vector<Tensor> params;
  std::vector<int64_t> offsets;  // of each parameter's gradient in `flat`
  std::vector<char> ready;       // per parameter, this step
  size_t num_ready = 0;
  Tensor flat;                   // the gradients, one after another
  std::unique_ptr<dist::PendingSum> sum;  // from its launch until after_backward
};

namespace {

void broadcast_tensor(const Tensor& t, const std::string& name) {
  WICK_CHECK(t.is_contiguous(), "DataParallel: ", name, " is not contiguous");
  if (t.dtype() == Dtype::Float32) dist::broadcast(t.data<float>(), t.numel());
  else if (t.dtype() == Dtype::Int64) dist::broadcast(t.data<int64_t>(), t.numel());
  else detail::fail("DataParallel: ", name, " has dtype ", dtype_name(t.dtype()), ", which cannot be sent");
  t.bump_version();
}

}  // namespace

DataParallel::DataParallel(nn::Module& model, DataParallelOptions options) : model_(model), options_(options) {
  WICK_CHECK(options_.bucket_bytes() > 0, "DataParallel: bucket_bytes must be positive, got ",
             options_.bucket_bytes());
  const auto params = model_.named_parameters();
  // Every process must hold the same tensors, or the broadcasts below would pair wrong ones.
  int64_t lo = 0, hi = 0;
  dist::min_max(static_cast<int64_t>(params.size()), lo, hi);
  WICK_CHECK(lo == hi, "DataParallel: the processes' models differ (", lo, " to ", hi, " parameter tensors)");
  {
    NoGradGuard no_grad;
    for (const auto& [name, p] : params) broadcast_tensor(p, name);
    for (const auto& [name, b] : model_.named_buffers()) broadcast_tensor(b, name);
  }
  // Buckets from the last parameter back: the order the backward finishes them.
  const int64_t per_bucket = std::max<int64_t>(1, options_.bucket_bytes() / static_cast<int64_t>(sizeof(float)));
  int64_t filled = 0;
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    const Tensor& p = it->second;
    if (!p.requires_grad()) continue;
    if (buckets_.empty() || filled + p.numel() > per_bucket) {
      buckets_.emplace_back();
      filled = 0;
    }
    Bucket& b = buckets_.back();
    b.offsets.push_back(filled);
    b.params.push_back(p);
    filled += p.numel();
  }
  for (size_t i = 0; i < buckets_.size(); ++i) {
    Bucket& b = buckets_[i];
    b.flat = zeros({b.offsets.back() + b.params.back().numel()});
    b.ready.assign(b.params.size(), 0);
    for (size_t j = 0; j < b.params.size(); ++j)
      set_post_accumulate_grad_hook(b.params[j], [this, i, j] { on_grad_ready(i, j); });
  }
}

DataParallel::~DataParallel() {
  for (Bucket& b : buckets_) {
    b.sum.reset();  // waits for a sum in flight
    for (const Tensor& p : b.params)
      if (p.requires_grad()) set_post_accumulate_grad_hook(p, nullptr);
  }
}

int64_t DataParallel::buckets() const { return static_cast<int64_t>(buckets_.size()); }

void DataParallel::before_forward() {
  if (options_.broadcast_buffers() && dist::is_distributed()) {
    NoGradGuard no_grad;
    for (const auto& [name, b] : model_.named_buffers()) broadcast_tensor(b, name);
  }
}

// The gradient of each parameter into the bucket; zeros where there is none.
void DataParallel::fill(Bucket& b) {
  float* flat = b.flat.data<float>();
  for (size_t j = 0; j < b.params.size(); ++j) {
    const int64_t n = b.params[j].numel();
    Tensor g = b.params[j].grad();
    if (g.defined()) std::memcpy(flat + b.offsets[j], g.contiguous().data<float>(), static_cast<size_t>(n) * sizeof(float));
    else std::memset(flat + b.offsets[j], 0, static_cast<size_t>(n) * sizeof(float));
  }
}

void DataParallel::on_grad_ready(size_t bucket, size_t slot) {
  Bucket& b = buckets_[bucket];
  if (b.sum || b.ready[slot]) return;
  b.ready[slot] = 1;
  ++b.num_ready;
  launch_ready();
  for (size_t i = 0; i < next_launch_; ++i)  // MPI moves the sums in flight only inside its calls
    if (buckets_[i].sum) buckets_[i].sum->test();
}

void DataParallel::launch_ready() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].num_ready == buckets_[next_launch_].params.size()) {
    Bucket& b = buckets_[next_launch_++];
    fill(b);
    b.sum = std::make_unique<dist::PendingSum>(b.flat.data<float>(), b.flat.numel());
  }
}

void DataParallel::after_backward() {
  auto start = std::chrono::steady_clock::now();
  for (Bucket& b : buckets_) {  // what the backward did not reach: zeros (every process alike)
    b.num_ready = b.params.size();
    std::fill(b.ready.begin(), b.ready.end(), 1);
  }
  launch_ready();
  const float scale = 1.0f / static_cast<float>(dist::world_size());
  NoGradGuard no_grad;
  for (Bucket& b : buckets_) {
    b.sum.reset();  // waits for the sum
    const float* flat = b.flat.data<float>();
    for (size_t j = 0; j < b.params.size(); ++j) {
      Tensor g = b.params[j].grad();
      if (!g.defined()) continue;
      if (!g.is_contiguous()) {
        g = g.contiguous();
        b.params[j].set_grad(g);
      }
      float* dst = g.data<float>();
      const float* src = flat + b.offsets[j];
      for (int64_t k = 0, n = g.numel(); k < n; ++k) dst[k] = src[k] * scale;
      g.bump_version();
    }
    b.num_ready = 0;  // ready for the next step
    std::fill(b.ready.begin(), b.ready.end(), 0);
  }
  next_launch_ = 0;
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace wick::train
