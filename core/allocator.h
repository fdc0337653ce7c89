// Tensor memory: the one place the buffers behind tensors come from. Small buffers come from
// malloc. Large ones are mapped pages, rounded up to a size class, and kept once freed for the
// next request of their class: a training or eval loop asks for the same sizes every step, so
// after its first step it maps nothing, faults in no page, and cannot fragment the malloc heap.
#pragma once
#include <cstddef>

namespace wick {

// A buffer of at least nbytes, 64-byte aligned. Throws wick::Error when memory runs out.
void* allocate_buffer(size_t nbytes);

// Gives back a buffer of allocate_buffer(nbytes), with the same nbytes.
void free_buffer(void* p, size_t nbytes);

// While one is alive, the tensors this thread allocates may take at most `bytes` in all; the one
// that would pass the limit throws wick::Error before anything is allocated. What builds a model
// from a file's description sets one, so a hostile size fails cheaply. Limits nest (the innermost
// applies, and what it lets through counts against the outer ones too).
class AllocationLimit {
 public:
  explicit AllocationLimit(size_t bytes);
  ~AllocationLimit();
  AllocationLimit(const AllocationLimit&) = delete;
  AllocationLimit& operator=(const AllocationLimit&) = delete;
  // Throws when nbytes more would pass this limit or an enclosing one; else counts them.
  static void charge(size_t nbytes);

 private:
  size_t left_;
  AllocationLimit* outer_;
};

struct BufferStats {
  size_t in_use = 0;  // bytes of large-buffer classes held by tensors
  size_t cached = 0;  // bytes of freed large buffers kept for reuse
  size_t peak_in_use = 0;  // the most in_use has been
  size_t mappings = 0;     // large buffers mapped so far (a loop in its steady state adds none)
};
BufferStats buffer_stats();
// Restarts peak_in_use from what is in use now (to measure the peak of one piece of work).
void reset_buffer_peak();

// Unmaps every cached buffer, returning its memory to the system (after training, say, before a
// long phase that needs other sizes). Returns the bytes released.
size_t release_cached_buffers();

}  // namespace wick
