// The tensor buffer cache. Large requests are rounded up to one of eight classes per power of two
// (at most 12.5% more than asked; a fresh buffer's pages past the request are never touched, so
// never resident) and mapped with mmap. A freed buffer goes to its class's free list; a request takes the smallest
// cached buffer of its class or of a class up to twice as large (so a step that frees a big
// activation and then asks for a smaller one does not map more), and maps a new one only when
// there is none. Nothing is unmapped except by release_cached_buffers() or when a mapping fails
// (then the cache is released and the mapping retried once). A mutex guards the lists: buffers are
// made on the data loader's thread too. Under AddressSanitizer, which cannot see inside mappings,
// each buffer gets a poisoned tail past its request and a cached buffer is poisoned whole, so
// overflows and uses after free are still caught.
#include "core/allocator.h"

#include <sanitizer/asan_interface.h>  // no-op macros unless built with -fsanitize=address
#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace wick {
namespace {

constexpr size_t kLarge = size_t(128) << 10;  // smaller buffers come from malloc
constexpr size_t kAlign = 64;
#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kRedzone = 64;  // at least this much poisoned past every large buffer
#else
constexpr size_t kRedzone = 0;
#endif

// The class of a large request: nbytes rounded up to a multiple of 1/8 of the power of two at or
// below it (and to whole pages).
size_t class_size(size_t nbytes) {
  const size_t step = std::max<size_t>(std::bit_floor(nbytes) / 8, 4096);
  return (nbytes + step - 1) / step * step;
}

struct Cache {
  std::mutex mutex;
  std::map<size_t, std::vector<void*>> free;  // class size -> freed buffers of that class
  std::unordered_map<void*, size_t> sizes;     // buffer in use -> its class size
  BufferStats stats;

  size_t release_locked() {
    size_t released = 0;
    for (auto& [size, blocks] : free) {
      for (void* p : blocks) {
      ASAN_UNPOISON_MEMORY_REGION(p, size);  // the pages may be mapped again for anything
      munmap(p, size);
    }
      released += size * blocks.size();
    }
    free.clear();
    stats.cached = 0;
    return released;
  }
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: tensors may outlive static destruction order
  return *c;
}

void* map_pages(size_t size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

[[noreturn]] void out_of_memory(size_t nbytes) {
  throw Error("out of memory allocating " + std::to_string(nbytes) + " bytes for a tensor");
}

thread_local AllocationLimit* innermost_limit = nullptr;

std::string mib(size_t bytes) {
  return std::to_string((bytes + (size_t(1) << 20) - 1) >> 20) + " MiB";
}

}  // namespace

AllocationLimit::AllocationLimit(size_t bytes) : left_(bytes), outer_(innermost_limit) { innermost_limit = this; }
AllocationLimit::~AllocationLimit() { innermost_limit = outer_; }

void AllocationLimit::charge(size_t nbytes) {
  for (AllocationLimit* l = innermost_limit; l; l = l->outer_)
    if (nbytes > l->left_)
      throw Error("a tensor of " + mib(nbytes) + " would pass the memory limit (" + mib(l->left_) + " left of it)");
  for (AllocationLimit* l = innermost_limit; l; l = l->outer_) l->left_ -= nbytes;
}

void* allocate_buffer(size_t nbytes) {
  AllocationLimit::charge(nbytes);
  if (nbytes < kLarge) {
    void* p = std::aligned_alloc(kAlign, std::max(kAlign, (nbytes + kAlign - 1) / kAlign * kAlign));
    if (!p) out_of_memory(nbytes);
    return p;
  }
  size_t size = class_size(nbytes + kRedzone);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  void* p = nullptr;
  auto it = c.free.lower_bound(size);
  if (it != c.free.end() && it->first <= 2 * size) {
    p = it->second.back();
    it->second.pop_back();
    size = it->first;
    if (it->second.empty()) c.free.erase(it);
    c.stats.cached -= size;
  } else {
    p = map_pages(size);
    if (!p && c.release_locked() > 0) p = map_pages(size);
    if (!p) out_of_memory(nbytes);
    ++c.stats.mappings;
  }
  ASAN_UNPOISON_MEMORY_REGION(p, nbytes);
  ASAN_POISON_MEMORY_REGION(static_cast<char*>(p) + nbytes, size - nbytes);
  c.sizes[p] = size;
  c.stats.in_use += size;
  c.stats.peak_in_use = std::max(c.stats.peak_in_use, c.stats.in_use);
  return p;
}

void free_buffer(void* p, size_t nbytes) {
  if (!p) return;
  if (nbytes < kLarge) {
    std::free(p);
    return;
  }
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  auto it = c.sizes.find(p);
  WICK_CHECK(it != c.sizes.end(), "free_buffer: ", p, " is not a buffer in use (freed twice?)");
  const size_t size = it->second;
  c.sizes.erase(it);
  ASAN_POISON_MEMORY_REGION(p, size);
  c.free[size].push_back(p);
  c.stats.in_use -= size;
  c.stats.cached += size;
}

BufferStats buffer_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.stats;
}

void reset_buffer_peak() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.stats.peak_in_use = c.stats.in_use;
}

size_t release_cached_buffers() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.release_locked();
}

}  // namespace wick
