// matmul: operands are brought to (batch, rows, cols) with a transpose flag instead of a copy
// where possible, then multiplied by core/blas.h. linear: matmul and add, or one product.
#include "core/ops/linalg.h"

#include "core/autograd.h"
#include "core/blas.h"
#include "core/parallel.h"
#include "core/ops/elementwise.h"
#include "core/ops/reduce.h"
#include "core/trace.h"

namespace wick {
namespace {

// A batch of matrices in memory: element (b, i, j) of op(M) is at p[b*bstride + (trans ? j*ld+i : i*ld+j)].
struct MatrixBatch {
  Tensor keep;  // owns the memory
  const float* p;
  int64_t bstride, ld;
  bool trans;
};

// x has shape (B, r, c) (already expanded to the broadcast batch).
MatrixBatch as_batch(const Tensor& x) {
  int64_t r = x.size(1), c = x.size(2);
  const auto& st = x.strides();
  bool batch_dense = x.size(0) == 1 || st[0] == r * c;
  if (batch_dense && (c == 1 || st[2] == 1) && (r == 1 || st[1] == c))
    return {x, x.data<float>(), r * c, c, false};
  if (batch_dense && (r == 1 || st[1] == 1) && (c == 1 || st[2] == r))
    return {x, x.data<float>(), r * c, r, true};
  Tensor cx = x.contiguous();
  return {cx, cx.data<float>(), r * c, c, false};
}

// (B, n, k) x (B, k, m) -> (B, n, m) with broadcast-expanded inputs.
Tensor bmm_raw(const Tensor& a, const Tensor& b) {
  int64_t batch = a.size(0), n = a.size(1), k = a.size(2), m = b.size(2);
  Tensor out = empty({batch, n, m});
  MatrixBatch A = as_batch(a), B = as_batch(b);
  float* o = out.data<float>();
  auto one = [&](int64_t i, bool serial) {
    auto f = serial ? gemm_serial : gemm;
    f(A.trans, B.trans, n, m, k, 1.f, A.p + i * A.bstride, A.ld, B.p + i * B.bstride, B.ld, 0.f,
      o + i * n * m, m);
  };
  if (batch == 1) one(0, false);
  else parallel_for(0, batch, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t i = b0; i < b1; ++i) one(i, true);
  });
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  WICK_CHECK(a.dtype() == Dtype::Float32 && b.dtype() == Dtype::Float32,
             "matmul: expects float32 tensors, got ", dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  WICK_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both arguments need at least 1 dimension, got ",
             shape_str(a.shape()), " and ", shape_str(b.shape()));
  if (a.dim() == 1 && b.dim() == 1) {
    WICK_CHECK(a.size(0) == b.size(0), "matmul: dot product of shapes ", shape_str(a.shape()), " and ",
               shape_str(b.shape()), " needs equal lengths");
    return matmul(a.unsqueeze(0), b.unsqueeze(1)).reshape({});
  }
  if (a.dim() == 1) return matmul(a.unsqueeze(0), b).squeeze(-2);
  if (b.dim() == 1) return matmul(a, b.unsqueeze(1)).squeeze(-1);

  int64_t n = a.size(-2), k = a.size(-1), m = b.size(-1);
  WICK_CHECK(b.size(-2) == k, "matmul: shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
             " cannot be multiplied (", n, "x", k, " and ", b.size(-2), "x", m, ")");
  Shape abatch(a.shape().begin(), a.shape().end() - 2), bbatch(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(abatch, bbatch, "matmul");
  int64_t nb = numel_of(batch);
  Shape ae = batch, be = batch, oshape = batch;
  ae.insert(ae.end(), {n, k});
  be.insert(be.end(), {k, m});
  oshape.insert(oshape.end(), {n, m});

  Tensor out;
  {
    NoGradGuard raw;  // the views below are plumbing; the graph records matmul as one node
    // 2-D operands stay views (a transposed one is read with BLAS's transpose flag).
    auto as3 = [&](const Tensor& x, const Shape& e, int64_t r, int64_t c) {
      return x.dim() == 2 && batch.empty() ? x.detach().unsqueeze(0)
                                           : x.detach().expand(e).reshape({nb, r, c});
    };
    Tensor a3 = as3(a, ae, n, k), b3 = as3(b, be, k, m);
    out = bmm_raw(a3, b3).view(oshape);
  }
  // dA = g · Bᵀ, dB = Aᵀ · g, each summed over the batch dims it was broadcast along.
  record(out, "matmul", {a, b}, [](BackwardCtx& ctx) {
    const Tensor& g = ctx.grad_out();
    if (ctx.needs_grad(0)) {
      Tensor& ga = ctx.grad_in(0);
      ga.add_(sum_to_shape(matmul(g, ctx.input(1).transpose(-1, -2)), ga.shape()));
    }
    if (ctx.needs_grad(1)) {
      Tensor& gb = ctx.grad_in(1);
      gb.add_(sum_to_shape(matmul(ctx.input(0).transpose(-1, -2), g), gb.shape()));
    }
  }, product_saves(a, b));
  if (trace::active()) trace::op("matmul", out, {a, b});
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  WICK_CHECK(weight.dim() == 2, "linear: expects a 2-D weight (out_features, in_features), got ",
             shape_str(weight.shape()));
  WICK_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "linear: input ", shape_str(x.shape()),
             " does not end in the weight's in_features (", weight.size(1), ")");
  WICK_CHECK(!bias.defined() || bias.shape() == Shape{weight.size(0)}, "linear: bias must have shape (",
             weight.size(0), "), got ", shape_str(bias.shape()));
  const bool plain = x.dim() == 2 && x.is_contiguous() && weight.is_contiguous() &&
                     (!bias.defined() || bias.is_contiguous()) && x.dtype() == Dtype::Float32 &&
                     weight.dtype() == Dtype::Float32 && (!bias.defined() || bias.dtype() == Dtype::Float32);
  if (!plain || should_record({&x, &weight, &bias}) || trace::active()) {  // the exporter reads matmul, add
    Tensor y = matmul(x, weight.t());
    return bias.defined() ? add(y, bias) : y;
  }
  // The product matmul would run (op(B) = weightᵀ read in place), then + bias as add does.
  const int64_t rows = x.size(0), in = weight.size(1), out_features = weight.size(0);
  Tensor y = empty({rows, out_features});
  float* py = y.data<float>();
  gemm(false, true, rows, out_features, in, 1.f, x.data<float>(), in, weight.data<float>(), in, 0.f, py,
       out_features);
  if (bias.defined()) {
    const float* pb = bias.data<float>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < out_features; ++o) py[r * out_features + o] += pb[o];
  }
  return y;
}

}  // namespace wick
