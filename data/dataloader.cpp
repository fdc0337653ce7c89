// DataLoader: per-epoch order and augmentation seeds from the loader's own generator, and the
// epoch state that prefetches the next batch with a BackgroundTask.
#include "data/dataloader.h"

#include <numeric>

#include "core/parallel.h"

namespace wick::data {
namespace {

// Separate streams for the two uses of the seed.
constexpr uint64_t kShuffleStream = 0x53485546464c45ull;  // "SHUFFLE"
constexpr uint64_t kAugmentStream = 0x4155474d454e54ull;  // "AUGMENT"

void check_options(const DataLoaderOptions& o) {
  WICK_CHECK(o.batch_size() > 0, "DataLoader: batch_size must be positive, got ", o.batch_size());
  WICK_CHECK(o.num_replicas() >= 1 && o.rank() >= 0 && o.rank() < o.num_replicas(), "DataLoader: rank ", o.rank(),
             " of ", o.num_replicas(), " replicas is not one of them (0 <= rank < num_replicas)");
}

}  // namespace

// One epoch in progress: its order, the current batch and (with prefetch) the next one being built.
struct DataLoader::Epoch {
  std::shared_ptr<const Dataset> dataset;
  std::vector<int64_t> order;
  int64_t batch_size = 1, num_batches = 0, k = 0;
  uint64_t seed = 0;
  bool prefetch = true;
  Batch current, next;
  std::unique_ptr<BackgroundTask> task;  // declared last: destroyed (and waited for) first

  Batch make(int64_t b) const {
    auto first = order.begin() + b * batch_size;
    auto last = order.begin() + std::min<int64_t>((b + 1) * batch_size, static_cast<int64_t>(order.size()));
    return dataset->get_batch(std::vector<int64_t>(first, last), seed);
  }

  void start(int64_t b) {
    if (prefetch && b < num_batches) task = std::make_unique<BackgroundTask>([this, b] { next = make(b); });
  }

  void first(int64_t b) {
    k = b;
    if (k >= num_batches) return;
    current = make(k);
    start(k + 1);
  }

  void advance() {
    WICK_CHECK(k < num_batches, "DataLoader: iterator advanced past the end of the epoch");
    ++k;
    if (k >= num_batches) {
      current = Batch();
      return;
    }
    if (task) {
      try {
        task->wait();  // rethrows what the background assembly threw
      } catch (...) {
        task.reset();
        k = num_batches;  // the epoch ends with the error
        current = Batch();
        throw;
      }
      task.reset();
      current = std::move(next);
      next = Batch();
      start(k + 1);
    } else {
      current = make(k);
    }
  }
};

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  WICK_CHECK(dataset_ != nullptr, "DataLoader: no dataset");
  check_options(options_);
}

namespace {

// The samples of an epoch one of `replicas` takes (DataLoaderOptions::num_replicas).
int64_t share_size(int64_t n, int64_t replicas, bool drop_last) {
  return drop_last ? n / replicas : (n + replicas - 1) / replicas;
}

}  // namespace

int64_t DataLoader::size() const {
  check_options(options_);
  int64_t n = share_size(dataset_->size(), options_.num_replicas(), options_.drop_last()), b = options_.batch_size();
  return options_.drop_last() ? n / b : (n + b - 1) / b;
}

void DataLoader::set_epoch(int64_t epoch) {
  WICK_CHECK(epoch >= 0, "DataLoader::set_epoch: epoch must be non-negative, got ", epoch);
  epoch_ = epoch;
}

std::vector<int64_t> DataLoader::order(int64_t epoch) const {
  std::vector<int64_t> idx(static_cast<size_t>(dataset_->size()));
  std::iota(idx.begin(), idx.end(), int64_t(0));
  if (options_.shuffle()) {
    // Fisher–Yates with the loader's own generator, seeded from (seed, epoch).
    Rng rng(derive_seed(derive_seed(options_.seed(), kShuffleStream), static_cast<uint64_t>(epoch)));
    for (size_t i = idx.size(); i > 1; --i) std::swap(idx[i - 1], idx[rng.below(i)]);
  }
  const int64_t replicas = options_.num_replicas();
  if (replicas == 1) return idx;
  const int64_t n = static_cast<int64_t>(idx.size()), share = share_size(n, replicas, options_.drop_last());
  std::vector<int64_t> mine(static_cast<size_t>(share));
  for (int64_t k = 0; k < share; ++k) mine[k] = idx[static_cast<size_t>((options_.rank() + k * replicas) % n)];
  return mine;
}

uint64_t DataLoader::augmentation_seed(int64_t epoch) const {
  return derive_seed(derive_seed(options_.seed(), kAugmentStream), static_cast<uint64_t>(epoch));
}

DataLoader::Iterator DataLoader::begin() { return begin_at(0); }

DataLoader::Iterator DataLoader::begin_at(int64_t first) {
  WICK_CHECK(first >= 0 && first <= size(), "DataLoader::begin_at: batch ", first, " is outside the epoch's ", size(),
             " batches");
  auto e = std::make_shared<Epoch>();
  e->dataset = dataset_;
  e->order = order(epoch_);
  e->batch_size = options_.batch_size();
  e->num_batches = size();
  e->seed = augmentation_seed(epoch_);
  e->prefetch = options_.prefetch();
  ++epoch_;
  e->first(first);
  return Iterator(std::move(e));
}

bool DataLoader::Iterator::at_end() const { return !epoch_ || epoch_->k >= epoch_->num_batches; }

Batch& DataLoader::Iterator::operator*() const {
  WICK_CHECK(!at_end(), "DataLoader: dereferencing an iterator at the end of the epoch");
  return epoch_->current;
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  WICK_CHECK(epoch_ != nullptr, "DataLoader: advancing an end iterator");
  epoch_->advance();
  return *this;
}

bool DataLoader::Iterator::operator==(const Iterator& other) const {
  if (at_end() || other.at_end()) return at_end() && other.at_end();
  return epoch_ == other.epoch_;
}

int64_t DataLoader::Iterator::index() const { return epoch_ ? epoch_->k : 0; }

}  // namespace wick::data
