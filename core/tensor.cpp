// Tensor basics: storage, metadata, factories, in-place writes and comparison helpers.
// Differentiable views live in core/ops/view.cpp, printing in core/print.cpp.
#include "core/tensor.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/allocator.h"
#include "core/autograd.h"
#include "core/kernels/strided.h"
#include "core/trace.h"

namespace wick {

size_t element_size(Dtype dtype) { return dtype == Dtype::Float32 ? 4 : 8; }
const char* dtype_name(Dtype dtype) { return dtype == Dtype::Float32 ? "float32" : "int64"; }

Storage::Storage(size_t nbytes) : data_(allocate_buffer(nbytes)), nbytes_(nbytes) {
  deleter_ = [nbytes](void* p) { free_buffer(p, nbytes); };
}

Storage::Storage(void* data, size_t nbytes, std::function<void(void*)> deleter)
    : data_(data), nbytes_(nbytes), deleter_(std::move(deleter)) {}

Storage::~Storage() {
  if (deleter_) deleter_(data_);
}

// ---------------------------------------------------------------- metadata

const TensorImpl& Tensor::checked() const {
  if (!impl_) throw Error("use of an undefined tensor (default-constructed or empty grad)");
  return *impl_;
}

int64_t Tensor::size(int64_t dim) const { return shape()[wrap_dim(dim, this->dim(), "size")]; }
int64_t Tensor::stride(int64_t dim) const { return strides()[wrap_dim(dim, this->dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  const TensorImpl& i = checked();
  int64_t expected = 1;
  for (size_t d = i.shape.size(); d-- > 0;) {
    if (i.shape[d] == 1) continue;
    if (i.strides[d] != expected) return false;
    expected *= i.shape[d];
  }
  return true;
}

bool Tensor::same_storage(const Tensor& other) const {
  return defined() && other.defined() && impl_->storage == other.impl_->storage;
}

void Tensor::bump_version() const { ++checked().storage->version; }

namespace {

// Element at row-major position `k` of a contiguous tensor, as double.
double element_at(const Tensor& c, int64_t k) {
  return c.dtype() == Dtype::Float32 ? static_cast<double>(c.data<float>()[k])
                                     : static_cast<double>(c.data<int64_t>()[k]);
}

// Element k as T: exact within a dtype; a float converted to int64 must be finite and in range
// (a cast of 1e30 or NaN would be undefined behaviour).
template <typename T>
T element_as(const Tensor& c, int64_t k, const char* op) {
  if constexpr (!std::is_same_v<T, double>)
    if (c.dtype() == dtype_of<T>()) return c.data<T>()[k];
  const double v = element_at(c, k);
  if constexpr (std::is_same_v<T, int64_t>)
    WICK_CHECK(std::isfinite(v) && v >= -9.2233720368547758e18 && v < 9.2233720368547758e18, op, ": ", v,
               " does not fit an int64");
  return static_cast<T>(v);
}

}  // namespace

template <typename T>
T Tensor::item() const {
  WICK_CHECK(numel() == 1, "item(): a tensor with ", numel(), " elements (shape ", shape_str(shape()),
             ") cannot be converted to a scalar");
  return element_as<T>(contiguous(), 0, "item()");
}
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template int64_t Tensor::item<int64_t>() const;

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor c = contiguous();
  std::vector<T> out(static_cast<size_t>(c.numel()));
  if (c.dtype() == dtype_of<T>()) {
    if (!out.empty()) std::memcpy(out.data(), c.data<T>(), out.size() * sizeof(T));
  } else {
    for (size_t k = 0; k < out.size(); ++k) out[k] = element_as<T>(c, static_cast<int64_t>(k), "to_vector()");
  }
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;

// ---------------------------------------------------------------- autograd accessors

Tensor& Tensor::requires_grad_(bool on) {
  TensorImpl& i = const_cast<TensorImpl&>(checked());
  WICK_CHECK(!on || i.dtype == Dtype::Float32,
             "requires_grad_: only float32 tensors can require gradients, got ", dtype_name(i.dtype));
  WICK_CHECK(i.grad_fn == nullptr || on,
             "requires_grad_(false): only leaf tensors can change requires_grad; use detach()");
  i.requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { return Tensor(checked().grad); }

void Tensor::set_grad(const Tensor& grad) {
  TensorImpl& i = const_cast<TensorImpl&>(checked());
  if (grad.defined()) {
    WICK_CHECK(grad.shape() == i.shape && grad.dtype() == Dtype::Float32,
               "set_grad: gradient of shape ", shape_str(grad.shape()), " for a tensor of shape ",
               shape_str(i.shape));
    i.grad = grad.contiguous().impl_ptr();
  } else {
    i.grad.reset();
  }
}

void Tensor::backward(const Tensor& grad, bool retain_graph) const {
  run_backward(*this, grad, retain_graph);
}

Tensor Tensor::detach() const {
  const TensorImpl& i = checked();
  auto d = std::make_shared<TensorImpl>();
  d->storage = i.storage;
  d->shape = i.shape;
  d->strides = i.strides;
  d->offset = i.offset;
  d->dtype = i.dtype;
  return Tensor(d);
}

// ---------------------------------------------------------------- copies

namespace {

template <typename Dst, typename Src>
void strided_copy(const Tensor& dst, const Tensor& src) {
  Dst* d = dst.data<Dst>();
  const Src* s = src.data<Src>();
  auto sstrides = broadcast_strides(src.shape(), src.strides(), dst.shape());
  kernels::for_each_row<2>(dst.shape(), {dst.strides(), sstrides},
                           [&](std::array<int64_t, 2> off, int64_t len, std::array<int64_t, 2> st) {
                             Dst* dp = d + off[0];
                             const Src* sp = s + off[1];
                             for (int64_t j = 0; j < len; ++j) dp[j * st[0]] = static_cast<Dst>(sp[j * st[1]]);
                           });
}

// dst = src (src broadcast to dst's shape), converting dtypes.
void copy_into(const Tensor& dst, const Tensor& src) {
  WICK_CHECK(numel_of(broadcast_shapes(dst.shape(), src.shape(), "copy_")) == dst.numel(),
             "copy_: source of shape ", shape_str(src.shape()), " does not broadcast to ",
             shape_str(dst.shape()));
  bool df = dst.dtype() == Dtype::Float32, sf = src.dtype() == Dtype::Float32;
  if (df && sf) strided_copy<float, float>(dst, src);
  else if (df) strided_copy<float, int64_t>(dst, src);
  else if (sf) {
    // float -> int64 truncates toward zero, as PyTorch; a value outside int64 (or NaN) is refused
    // before the cast, which would be undefined behaviour.
    Tensor c = src.contiguous();
    const float* p = c.data<float>();
    for (int64_t k = 0; k < c.numel(); ++k)
      WICK_CHECK(std::isfinite(p[k]) && p[k] >= -9.2233720368547758e18f && p[k] < 9.2233720368547758e18f,
                 "to(int64): ", p[k], " does not fit an int64");
    strided_copy<int64_t, float>(dst, src);
  }
  else strided_copy<int64_t, int64_t>(dst, src);
}

}  // namespace

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype());
  copy_into(out, *this);
  // d clone / d x = identity; the input's gradient buffer has the same shape.
  record(out, "clone", {*this}, [](BackwardCtx& ctx) { ctx.grad_in(0).add_(ctx.grad_out()); });
  if (trace::active()) trace::op("clone", out, {*this});
  return out;
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::to(Dtype dtype) const {
  if (dtype == this->dtype()) return detach();
  Tensor out = empty(shape(), dtype);
  copy_into(out, *this);
  return out;
}

// ---------------------------------------------------------------- in-place writes

Tensor& Tensor::zero_() { return fill_(0.0); }

Tensor& Tensor::fill_(double value) {
  check_inplace(*this, "fill_");
  return copy_(scalar_tensor(value, dtype()));
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace(*this, "copy_");
  copy_into(*this, src);
  bump_version();
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_inplace(*this, "add_");
  WICK_CHECK(dtype() == Dtype::Float32 && other.dtype() == Dtype::Float32,
             "add_: expects float32 tensors, got ", dtype_name(dtype()), " and ", dtype_name(other.dtype()));
  WICK_CHECK(broadcast_shapes(shape(), other.shape(), "add_") == shape(), "add_: other of shape ",
             shape_str(other.shape()), " does not broadcast to ", shape_str(shape()));
  float* d = data<float>();
  const float* s = other.data<float>();
  const float a = static_cast<float>(alpha);
  auto ostrides = broadcast_strides(other.shape(), other.strides(), shape());
  kernels::for_each_row<2>(shape(), {strides(), ostrides},
                           [&](std::array<int64_t, 2> off, int64_t len, std::array<int64_t, 2> st) {
                             float* dp = d + off[0];
                             const float* sp = s + off[1];
                             if (st[0] == 1 && st[1] == 1)
                               for (int64_t j = 0; j < len; ++j) dp[j] += a * sp[j];
                             else
                               for (int64_t j = 0; j < len; ++j) dp[j * st[0]] += a * sp[j * st[1]];
                           });
  bump_version();
  return *this;
}

Tensor& Tensor::mul_(double value) {
  check_inplace(*this, "mul_");
  WICK_CHECK(dtype() == Dtype::Float32, "mul_: expects a float32 tensor, got ", dtype_name(dtype()));
  float* d = data<float>();
  const float v = static_cast<float>(value);
  kernels::for_each_row<1>(shape(), {strides()},
                           [&](std::array<int64_t, 1> off, int64_t len, std::array<int64_t, 1> st) {
                             for (int64_t j = 0; j < len; ++j) d[off[0] + j * st[0]] *= v;
                           });
  bump_version();
  return *this;
}

// ---------------------------------------------------------------- factories

Tensor empty(const Shape& shape, Dtype dtype) {
  for (int64_t d : shape)
    WICK_CHECK(d >= 0, "empty: negative dimension in shape ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(numel_of(shape)) * element_size(dtype));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(impl);
}

Tensor full(const Shape& shape, double value, Dtype dtype) {
  Tensor t = empty(shape, dtype);
  int64_t n = t.numel();
  if (dtype == Dtype::Float32) {
    float* p = t.data<float>();
    float v = static_cast<float>(value);
    for (int64_t k = 0; k < n; ++k) p[k] = v;
  } else {
    int64_t* p = t.data<int64_t>();
    auto v = static_cast<int64_t>(value);
    for (int64_t k = 0; k < n; ++k) p[k] = v;
  }
  return t;
}

Tensor zeros(const Shape& shape, Dtype dtype) {
  Tensor t = empty(shape, dtype);
  if (t.numel()) std::memset(t.impl()->storage->data(), 0, t.impl()->storage->nbytes());
  return t;
}
Tensor ones(const Shape& shape, Dtype dtype) { return full(shape, 1.0, dtype); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype()); }
Tensor scalar_tensor(double value, Dtype dtype) { return full({}, value, dtype); }

Tensor arange(double end, Dtype dtype) { return arange(0.0, end, 1.0, dtype); }

Tensor arange(double start, double end, double step, Dtype dtype) {
  WICK_CHECK(step != 0.0 && std::isfinite(start) && std::isfinite(end) && std::isfinite(step),
             "arange: needs finite bounds and a non-zero step, got start=", start, " end=", end,
             " step=", step);
  WICK_CHECK((end - start) * step >= 0, "arange: the step ", step, " goes away from end (start=",
             start, ", end=", end, ")");
  auto n = static_cast<int64_t>(std::ceil((end - start) / step));
  Tensor t = empty({n}, dtype);
  for (int64_t k = 0; k < n; ++k) {
    double v = start + static_cast<double>(k) * step;
    if (dtype == Dtype::Float32) t.data<float>()[k] = static_cast<float>(v);
    else t.data<int64_t>()[k] = static_cast<int64_t>(v);
  }
  return t;
}

namespace {
template <typename T>
Tensor from_values(const std::vector<T>& values, const Shape& s) {
  WICK_CHECK(numel_of(s) == static_cast<int64_t>(values.size()), "from_vector: ", values.size(),
             " values do not fill shape ", shape_str(s));
  Tensor t = empty(s, dtype_of<T>());
  if (!values.empty()) std::memcpy(t.data<T>(), values.data(), values.size() * sizeof(T));
  return t;
}
}  // namespace

Tensor from_vector(const std::vector<float>& values, const Shape& shape) { return from_values(values, shape); }
Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape) { return from_values(values, shape); }
Tensor from_vector(const std::vector<float>& values) {
  return from_values(values, {static_cast<int64_t>(values.size())});
}
Tensor from_vector(const std::vector<int64_t>& values) {
  return from_values(values, {static_cast<int64_t>(values.size())});
}
Tensor from_vector(std::initializer_list<float> values) { return from_vector(std::vector<float>(values)); }

namespace {
// Row-major literal values into a tensor of `shape`; int64 ones must be whole numbers.
Tensor from_literals(const std::vector<double>& values, const Shape& shape, Dtype dtype) {
  if (dtype == Dtype::Float32) return from_vector(std::vector<float>(values.begin(), values.end()), shape);
  std::vector<int64_t> ints;
  for (double v : values) {
    WICK_CHECK(v == std::trunc(v) && std::fabs(v) < 9e18, "tensor: ", v, " is not a whole number, for an int64 tensor");
    ints.push_back(static_cast<int64_t>(v));
  }
  return from_vector(ints, shape);
}
}  // namespace

Tensor tensor(std::initializer_list<Literal> values, Dtype dtype) {
  std::vector<double> v;
  for (const Literal& l : values) v.push_back(l.value);
  return from_literals(v, {static_cast<int64_t>(v.size())}, dtype);
}

Tensor tensor(std::initializer_list<std::initializer_list<double>> rows, Dtype dtype) {
  std::vector<double> values;
  const size_t cols = rows.size() > 0 ? rows.begin()->size() : 0;
  size_t r = 0;
  for (const auto& row : rows) {
    WICK_CHECK(row.size() == cols, "tensor: row ", r, " has ", row.size(), " values but row 0 has ", cols);
    values.insert(values.end(), row.begin(), row.end());
    ++r;
  }
  return from_literals(values, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(cols)}, dtype);
}

Tensor from_blob(void* data, const Shape& shape, Dtype dtype, std::function<void(void*)> deleter) {
  WICK_CHECK(data != nullptr || numel_of(shape) == 0, "from_blob: null data for shape ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(data, static_cast<size_t>(numel_of(shape)) * element_size(dtype),
                                            std::move(deleter));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(impl);
}

// ---------------------------------------------------------------- comparison

bool equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  if (a.dtype() == Dtype::Int64) return a.to_vector<int64_t>() == b.to_vector<int64_t>();
  std::vector<float> va = a.to_vector<float>(), vb = b.to_vector<float>();
  return va.empty() || std::memcmp(va.data(), vb.data(), va.size() * sizeof(float)) == 0;
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (a.shape() != b.shape()) return false;
  std::vector<float> va = a.to_vector<float>(), vb = b.to_vector<float>();
  for (size_t k = 0; k < va.size(); ++k) {
    double x = va[k], y = vb[k];
    if (std::isnan(x) || std::isnan(y)) return false;
    if (x == y) continue;  // equal infinities
    if (!(std::fabs(x - y) <= atol + rtol * std::fabs(y))) return false;
  }
  return true;
}

}  // namespace wick
