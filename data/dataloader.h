// DataLoader: batches of any Dataset in a reproducible (optionally shuffled) order, the next batch
// assembled in the background while the caller works on the current one.
#pragma once
#include <concepts>
#include <cstdint>
#include <iterator>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "dataset.h"
#include "../core/options.h"

namespace wick::data {

// Every option takes effect at the next epoch (the next begin()).
struct DataLoaderOptions {
  DataLoaderOptions(int64_t batch_size = 1) : batch_size_(batch_size) {}  // NOLINT: implicit on purpose
  WICK_ARG(int64_t, batch_size);
  // A new random order every epoch (else the dataset's order).
  WICK_ARG(bool, shuffle) = false;
  // Seeds the loader's own generators (never the global one): epoch e's order and augmentation
  // come from (seed, e), so runs with the same seed see the same batches.
  WICK_ARG(uint64_t, seed) = 0;
  // Drops the last batch when it would be smaller than batch_size.
  WICK_ARG(bool, drop_last) = false;
  // Distributed sampling, PyTorch's DistributedSampler: of each epoch's order (the same on every
  // process with the same seed), this loader takes the samples at positions rank, rank +
  // num_replicas, rank + 2·num_replicas, ..., so the replicas' shares are disjoint and of equal
  // size: the order is first padded with its own first samples up to a multiple of num_replicas,
  // or, with drop_last, cut down to one.
  WICK_ARG(int64_t, num_replicas) = 1;
  WICK_ARG(int64_t, rank) = 0;
  // Assembles batch k+1 in the background (core/parallel.h's BackgroundTask) while the caller
  // works on batch k. The batches are the same either way.
  WICK_ARG(bool, prefetch) = true;
};

class DataLoader {
  struct Epoch;

 public:
  // Takes any Dataset by value (kept in a shared_ptr: an ImageDataset copy shares its pixels) or
  // an existing shared_ptr.
  template <typename D>
    requires std::derived_from<std::remove_cvref_t<D>, Dataset>
  DataLoader(D&& dataset, DataLoaderOptions options = DataLoaderOptions())  // NOLINT
      : DataLoader(std::shared_ptr<const Dataset>(std::make_shared<std::remove_cvref_t<D>>(std::forward<D>(dataset))),
                   std::move(options)) {}
  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = DataLoaderOptions());

  // An input iterator over one epoch's batches. Copies share the same position.
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using pointer = Batch*;
    using reference = Batch&;

    Iterator() = default;
    Batch& operator*() const;
    Batch* operator->() const { return &**this; }
    Iterator& operator++();
    void operator++(int) { ++*this; }
    // Iterators are equal when both are at the end, or share an epoch and position.
    bool operator==(const Iterator& other) const;
    int64_t index() const;  // the current batch's number within the epoch

   private:
    friend class DataLoader;
    explicit Iterator(std::shared_ptr<Epoch> epoch) : epoch_(std::move(epoch)) {}
    bool at_end() const;
    std::shared_ptr<Epoch> epoch_;
  };

  // Starts the next epoch: epoch() numbers from 0, each begin() uses the current number and then
  // advances it. A range-for over the loader is one epoch.
  Iterator begin();
  // begin() starting at batch `first` of the epoch (0 <= first <= size()); the batches before it
  // are not built. Resuming a run mid-epoch.
  Iterator begin_at(int64_t first);
  Iterator end() { return Iterator(); }

  int64_t size() const;  // batches per epoch
  int64_t epoch() const { return epoch_; }  // the number the next begin() will use
  void set_epoch(int64_t epoch);           // e.g. to resume a run
  // The sample indices of epoch `epoch` in the order they are batched (all of this replica's
  // share, drop_last or not).
  std::vector<int64_t> order(int64_t epoch) const;
  // The seed of epoch `epoch`'s augmentation (what Dataset::get_batch receives).
  uint64_t augmentation_seed(int64_t epoch) const;

  const Dataset& dataset() const { return *dataset_; }
  const std::shared_ptr<const Dataset>& dataset_ptr() const { return dataset_; }
  const DataLoaderOptions& options() const { return options_; }
  DataLoaderOptions& options() { return options_; }

 private:
  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
  int64_t epoch_ = 0;
};

}  // namespace wick::data
