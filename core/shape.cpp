// Shape arithmetic: element counts, strides, dim wrapping and NumPy-style broadcasting.
#include "core/shape.h"

#include <algorithm>

#include "core/error.h"

namespace wick {

int64_t numel_of(const Shape& shape) {
  // At most 2^60 elements, so a byte count (8 bytes an element at most) cannot wrap either.
  constexpr int64_t kMax = int64_t(1) << 60;
  int64_t n = 1;
  for (int64_t d : shape) {
    WICK_CHECK(d >= 0, "shape ", shape_str(shape), " has a negative size");
    WICK_CHECK(!__builtin_mul_overflow(n, d, &n) && n <= kMax, "shape ", shape_str(shape),
               " has more than 2^60 elements");
  }
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    // numel_of does not bound this: a 0 anywhere makes the count 0 but not the strides.
    WICK_CHECK(i == 0 || !__builtin_mul_overflow(s, std::max<int64_t>(shape[i], 1), &s), "shape ", shape_str(shape),
               " needs strides past 2^63");
  }
  return strides;
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  WICK_CHECK(dim >= lo && dim <= hi, op, ": dimension out of range (expected to be in range of [", lo,
             ", ", hi, "], but got ", dim, ")");
  return dim < 0 ? dim + std::max<int64_t>(ndim, 1) : dim;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    WICK_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
               " cannot be broadcast together (dimension ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> broadcast_strides(const Shape& shape, const std::vector<int64_t>& strides,
                                       const Shape& target) {
  std::vector<int64_t> out(target.size(), 0);
  size_t lead = target.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i)
    out[lead + i] = (shape[i] == 1 && target[lead + i] != 1) ? 0 : strides[i];
  return out;
}

Shape reduced_shape(const Shape& shape, const std::vector<int64_t>& dims, bool keepdim) {
  Shape out;
  for (size_t i = 0; i < shape.size(); ++i) {
    bool reduced = std::find(dims.begin(), dims.end(), static_cast<int64_t>(i)) != dims.end();
    if (!reduced)
      out.push_back(shape[i]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}

}  // namespace wick
