// What options structs are made of, for layers, optimizers and data loaders alike: WICK_ARG, one
// option stored with its default and read/set through a chainable accessor (as libtorch's
// TORCH_ARG: Conv2dOptions(1, 32, 3).padding(1).bias(false)), and Size2, wick's one (height,
// width) type.
#pragma once

#define WICK_ARG(T, name)                 \
 public:                                  \
  auto& name(const T& value) {            \
    name##_ = value;                      \
    return *this;                         \
  }                                       \
  const T& name() const { return name##_; } \
                                          \
 private:                                 \
  T name##_

#include <array>
#include <cstdint>
#include <string>

namespace wick {

// A (height, width) pair that a single number also fills, as libtorch's ExpandingArray<2>:
// kernel_size(3) means (3, 3), kernel_size({3, 5}) means (3, 5).
struct Size2 {
  Size2(int64_t v) : hw{v, v} {}  // NOLINT: implicit on purpose
  Size2(int64_t h, int64_t w) : hw{h, w} {}
  operator std::array<int64_t, 2>() const { return hw; }  // NOLINT
  int64_t operator[](size_t i) const { return hw[i]; }
  bool operator==(const Size2&) const = default;
  // "(3, 3)", or "3" when `compact` and both are equal (PyTorch prints what it was given).
  std::string str(bool compact = false) const {
    if (compact && hw[0] == hw[1]) return std::to_string(hw[0]);
    std::string s = "(";  // appended piece by piece: GCC 12 warns falsely (-Wrestrict) on "(" + ...
    s.append(std::to_string(hw[0])).append(", ").append(std::to_string(hw[1])).append(")");
    return s;
  }
  std::array<int64_t, 2> hw;
};

}  // namespace wick
