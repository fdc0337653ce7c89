// Tensor: a shared, strided view of typed storage (float32, or int64 for labels and counters),
// carrying what reverse-mode autograd needs (requires_grad, grad, the node that produced it).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "error.h"
#include "shape.h"

namespace wick {

enum class Dtype : uint8_t { Float32, Int64 };
size_t element_size(Dtype dtype);
const char* dtype_name(Dtype dtype);  // "float32", "int64"

template <typename T> constexpr Dtype dtype_of();
template <> constexpr Dtype dtype_of<float>() { return Dtype::Float32; }
template <> constexpr Dtype dtype_of<int64_t>() { return Dtype::Int64; }

// A block of memory, 64-byte aligned when wick owns it. `version` counts in-place writes so
// autograd can refuse to use a saved tensor that was modified after it was saved.
class Storage {
 public:
  explicit Storage(size_t nbytes);
  Storage(void* data, size_t nbytes, std::function<void(void*)> deleter);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  uint64_t version = 0;

 private:
  void* data_;
  size_t nbytes_;
  std::function<void(void*)> deleter_;
};

struct Node;
struct ValuesIndices;
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  std::vector<int64_t> strides;
  int64_t offset = 0;  // in elements
  Dtype dtype = Dtype::Float32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // a leaf's .grad() (a non-leaf's accumulates in its Node)
  std::shared_ptr<Node> grad_fn;     // null for leaves
  // A leaf's: called by backward() once nothing more will add into its grad in that backward
  // (core/autograd.h, set_post_accumulate_grad_hook).
  std::shared_ptr<const std::function<void()>> post_accumulate_grad_hook;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  const Shape& shape() const { return checked().shape; }
  int64_t size(int64_t dim) const;
  const std::vector<int64_t>& strides() const { return checked().strides; }
  int64_t stride(int64_t dim) const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t numel() const { return numel_of(shape()); }
  int64_t offset() const { return checked().offset; }
  Dtype dtype() const { return checked().dtype; }
  bool is_contiguous() const;
  bool same_storage(const Tensor& other) const;

  // Pointer to the first element (storage + offset); throws if T is not the tensor's dtype.
  template <typename T> T* data() const;
  // The single value of a one-element tensor.
  template <typename T = float> T item() const;
  // Copies the elements out in row-major order.
  template <typename T = float> std::vector<T> to_vector() const;

  // ---- autograd ----
  bool requires_grad() const { return checked().requires_grad; }
  Tensor& requires_grad_(bool on = true);
  Tensor grad() const;                 // undefined until a backward reaches this leaf
  void set_grad(const Tensor& grad);   // undefined clears it (what zero_grad does)
  bool is_leaf() const { return checked().grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return checked().grad_fn; }
  // d(this)/d(leaves). A non-scalar needs `grad` (dL/d this). The graph is released afterwards
  // unless retain_graph.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;
  Tensor detach() const;  // same storage, outside the graph

  // ---- views (no copy; differentiable) ----
  Tensor view(const Shape& shape) const;
  Tensor reshape(const Shape& shape) const;  // a view when possible, else a copy
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;  // 2-D transpose
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;  // drops `dim`
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor expand(const Shape& shape) const;  // -1 keeps a dim
  Tensor contiguous() const;                // itself when already contiguous
  Tensor clone() const;                     // a contiguous copy, differentiable
  Tensor to(Dtype dtype) const;             // a converted copy (not differentiable)

  // ---- in-place writes: outside the graph (NoGradGuard, or tensors that need no grad) ----
  Tensor& zero_();
  Tensor& fill_(double value);
  Tensor& copy_(const Tensor& src);  // src broadcasts to this shape
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& mul_(double value);
  // Marks an in-place write by other code (e.g. a kernel writing through data<float>()).
  void bump_version() const;

  // ---- method forms of free functions (libtorch's spelling; core/tensor_methods.cpp) ----
  Tensor sum() const;
  Tensor sum(int64_t dim, bool keepdim = false) const;
  Tensor sum(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(int64_t dim, bool keepdim = false) const;
  Tensor mean(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor max() const;
  ValuesIndices max(int64_t dim, bool keepdim = false) const;  // values and int64 indices, first max
  Tensor argmax(int64_t dim, bool keepdim = false) const;
  Tensor eq(const Tensor& other) const;  // comparisons: float32 masks of 0/1 (core/ops/compare.h)
  Tensor ne(const Tensor& other) const;
  Tensor lt(const Tensor& other) const;
  Tensor le(const Tensor& other) const;
  Tensor gt(const Tensor& other) const;
  Tensor ge(const Tensor& other) const;
  Tensor eq(double other) const;
  Tensor ne(double other) const;
  Tensor lt(double other) const;
  Tensor le(double other) const;
  Tensor gt(double other) const;
  Tensor ge(double other) const;
  Tensor masked_fill(const Tensor& mask, double value) const;
  ValuesIndices topk(int64_t k, int64_t dim = -1, bool largest = true) const;
  ValuesIndices sort(int64_t dim = -1, bool descending = false) const;
  Tensor argsort(int64_t dim = -1, bool descending = false) const;

  std::string str() const;  // PyTorch-style printout

 private:
  const TensorImpl& checked() const;
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// What x.max(dim), topk and sort return: auto [values, indices] = x.max(1);
struct ValuesIndices {
  Tensor values;
  Tensor indices;  // int64
};

// ---- factories ----
Tensor empty(const Shape& shape, Dtype dtype = Dtype::Float32);
Tensor zeros(const Shape& shape, Dtype dtype = Dtype::Float32);
Tensor ones(const Shape& shape, Dtype dtype = Dtype::Float32);
Tensor full(const Shape& shape, double value, Dtype dtype = Dtype::Float32);
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor scalar_tensor(double value, Dtype dtype = Dtype::Float32);  // 0-d
// [start, end) in steps of `step`; arange(n) is 0..n-1.
Tensor arange(double end, Dtype dtype = Dtype::Float32);
Tensor arange(double start, double end, double step = 1.0, Dtype dtype = Dtype::Float32);
// Copies `values` into a new 1-D tensor, or one of `shape` ({} with one value: 0-d).
Tensor from_vector(const std::vector<float>& values);
Tensor from_vector(std::initializer_list<float> values);  // from_vector({1.f, 2.f}): float32
Tensor from_vector(const std::vector<int64_t>& values);
Tensor from_vector(const std::vector<float>& values, const Shape& shape);
Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape);
// Literal values, as torch::tensor: tensor({1, 2.5}) is float32 of shape [2], tensor({{1, 2}, {3, 4}})
// of shape [2, 2]; tensor({1, 2}, Dtype::Int64) holds int64 (the values must be whole numbers, and
// pass through double: exact up to 2^53). tensor({}) is ambiguous: write empty({0}).
struct Literal {  // one value of a 1-D literal, of any arithmetic type (so {i, 2.5} needs no cast)
  template <typename T>
    requires std::is_arithmetic_v<T>
  Literal(T v) : value(static_cast<double>(v)) {}  // NOLINT: implicit on purpose
  double value;
};
Tensor tensor(std::initializer_list<Literal> values, Dtype dtype = Dtype::Float32);
Tensor tensor(std::initializer_list<std::initializer_list<double>> rows, Dtype dtype = Dtype::Float32);
// Wraps memory wick does not own. `deleter` (may be empty) runs when the last view dies.
Tensor from_blob(void* data, const Shape& shape, Dtype dtype = Dtype::Float32,
                 std::function<void(void*)> deleter = {});

// ---- comparison helpers (for tests and users) ----
bool equal(const Tensor& a, const Tensor& b);  // same shape, dtype and bitwise-equal values
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);

// ---- template definitions ----
template <typename T>
T* Tensor::data() const {
  const TensorImpl& i = checked();
  WICK_CHECK(i.dtype == dtype_of<T>(), "data<", dtype_name(dtype_of<T>()), ">(): tensor has dtype ",
             dtype_name(i.dtype));
  return static_cast<T*>(i.storage->data()) + i.offset;
}

}  // namespace wick
