// Printing tensors the way PyTorch does: tensor([[1., 2.], [3., 4.]]) with aligned columns,
// "1." for whole numbers, 4 decimals otherwise, scientific for wide ranges, "..." past 1000 elements.
// Unlike PyTorch, long rows are not wrapped at 80 columns.
#include <cmath>
#include <cstdio>
#include <ostream>

#include "core/autograd.h"

namespace wick {
namespace {

constexpr int64_t kSummarizeOver = 1000;
constexpr int64_t kEdgeItems = 3;

struct Format {
  enum Kind { Int, WholeFloat, Fixed, Sci } kind;
  int width = 1;
};

std::string format_value(double v, const Format& f) {
  char buf[64];
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  switch (f.kind) {
    case Format::Int: std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v)); break;
    case Format::WholeFloat: std::snprintf(buf, sizeof buf, "%.0f.", v); break;
    case Format::Fixed: std::snprintf(buf, sizeof buf, "%.4f", v); break;
    case Format::Sci: std::snprintf(buf, sizeof buf, "%.4e", v); break;
  }
  return buf;
}

Format choose_format(const std::vector<double>& vals, bool is_int) {
  Format f{is_int ? Format::Int : Format::WholeFloat};
  double max_abs = 0, min_abs = INFINITY;
  for (double v : vals) {
    if (!std::isfinite(v)) continue;
    if (!is_int && v != std::floor(v)) f.kind = Format::Fixed;
    max_abs = std::max(max_abs, std::fabs(v));
    if (v != 0) min_abs = std::min(min_abs, std::fabs(v));
  }
  // PyTorch's rule: a range wider than 1000x, or extreme magnitudes, prints in scientific form.
  bool wide = min_abs < INFINITY && (max_abs / min_abs > 1e3 || max_abs > 1e8);
  if (!is_int && (wide || (f.kind == Format::Fixed && min_abs < 1e-4))) f.kind = Format::Sci;
  for (double v : vals) f.width = std::max<int>(f.width, static_cast<int>(format_value(v, f).size()));
  return f;
}

// Indices shown along a dim of size n: all of them, or the first and last kEdgeItems (-1 marks "...").
std::vector<int64_t> shown(int64_t n, bool summarize) {
  std::vector<int64_t> idx;
  if (!summarize || n <= 2 * kEdgeItems) {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
  } else {
    for (int64_t i = 0; i < kEdgeItems; ++i) idx.push_back(i);
    idx.push_back(-1);
    for (int64_t i = n - kEdgeItems; i < n; ++i) idx.push_back(i);
  }
  return idx;
}

void collect(const Tensor& t, bool summarize, std::vector<double>& out) {
  if (t.dim() == 0) {
    out.push_back(t.item<double>());
    return;
  }
  for (int64_t i : shown(t.size(0), summarize))
    if (i >= 0) collect(t.select(0, i), summarize, out);
}

void emit(std::ostream& os, const Tensor& t, bool summarize, const Format& f, int indent) {
  if (t.dim() == 0) {
    std::string s = format_value(t.item<double>(), f);
    os << std::string(f.width - s.size(), ' ') << s;
    return;
  }
  os << '[';
  std::vector<int64_t> idx = shown(t.size(0), summarize);
  for (size_t k = 0; k < idx.size(); ++k) {
    if (k) {
      os << ',';
      if (t.dim() == 1) os << ' ';
      else os << std::string(static_cast<size_t>(t.dim() - 1), '\n') << std::string(indent + 1, ' ');
    }
    if (idx[k] < 0) os << (t.dim() == 1 ? " ..." : "...");
    else emit(os, t.select(0, idx[k]), summarize, f, indent + 1);
  }
  os << ']';
}

}  // namespace

std::string Tensor::str() const {
  std::ostringstream os;
  os << *this;
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "[ undefined tensor ]";
  NoGradGuard no_grad;
  Tensor v = t.detach();
  bool summarize = v.numel() > kSummarizeOver;
  os << "tensor(";
  if (v.numel() == 0) {
    os << "[]";
  } else {
    std::vector<double> vals;
    collect(v, summarize, vals);
    emit(os, v, summarize, choose_format(vals, v.dtype() == Dtype::Int64), 7);
  }
  if (v.numel() == 0 && v.dim() != 1) os << ", size=" << shape_str(v.shape());
  if (t.grad_fn()) os << ", grad_fn=<" << t.grad_fn()->name << ">";
  else if (t.requires_grad()) os << ", requires_grad=True";
  return os << ')';
}

}  // namespace wick
