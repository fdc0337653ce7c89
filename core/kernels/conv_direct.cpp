// Direct 2-D convolution for few taps (K = c*kh*kw, 9 for small-cnn's first conv). There the
// im2col + GEMM path spends much of its time building, storing and packing column matrices for
// products with K = 9, so these kernels read a zero-padded copy of each image in place instead.
//
// Loop structure. Each image is copied into a zero-padded buffer (c, hp, wp). With unit stride and
// dilation, output row y of channel oc is Σ over the taps t = (ci, i, j) of w[oc, t] times the
// buffer row (ci, y + i) shifted by j. Rows are cut into vectors of kLanes pixels, the last one
// shifted back to end at the row's end (it overlaps the one before; a row shorter than kLanes is
// one vector whose extra lanes are dropped). Accumulators stay in registers:
//   forward: for each row vector, kOutGroup channels at once, the taps in order:
//            acc[oc] += w[oc, t] * input vector (one input load for kOutGroup multiply-adds);
//   dL/dw:   for kGradOcs channels and kGradTaps taps at once, over every row vector:
//            acc[oc][t] += dL/dout[oc] vector * input vector of t (the lanes a row's last vector
//            shares with the one before, or has past the row's end, set to 0), the lanes of each
//            accumulator summed at the end.
// The vectors are GCC's vector extension (Clang has it too), not intrinsics: GCC 12's
// auto-vectorizer did not keep such accumulator blocks in registers (about 2x slower). Targets
// without 8-float registers get narrower vectors or scalars from the same code.
#include "core/kernels/conv_direct.h"

#include <algorithm>
#include <vector>

#include "core/kernels/pool.h"
#include "core/parallel.h"

// The helpers below return vectors by value, only within this file and inlined: GCC's warning
// that such returns have another ABI on targets without AVX (-Wpsabi, in builds without
// -march=native) does not concern them.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace wick::kernels {
namespace {

using vec8 = float __attribute__((vector_size(8 * sizeof(float))));
using mask8 = int32_t __attribute__((vector_size(8 * sizeof(int32_t))));  // a vec8 comparison's type
constexpr int64_t kLanes = 8;              // pixels of a row per vector
constexpr int64_t kOutGroup = 8;           // forward: output channels computed together
constexpr int64_t kChannelsPerChunk = 16;  // forward: output channels of one image per parallel chunk
constexpr int64_t kGradOcs = 4;            // dL/dw: output channels computed together
constexpr int64_t kGradTaps = 2;           // dL/dw: taps computed together
constexpr int64_t kMaxWeightParts = 32;    // dL/dw: fixed image ranges, summed separately

// Unaligned access to 8 floats.
using vec8u = float __attribute__((vector_size(8 * sizeof(float)), aligned(alignof(float)), may_alias));
vec8 load(const float* p) { return *reinterpret_cast<const vec8u*>(p); }
void store(float* p, const vec8& v) { *reinterpret_cast<vec8u*>(p) = v; }

// The n < kLanes floats at p, then zeros; and storing only the first n lanes (for rows shorter
// than a vector, not to read or write past them).
vec8 load_first(const float* p, int64_t n) {
  float lanes[kLanes] = {};
  std::copy_n(p, n, lanes);
  return load(lanes);
}

void store_first(float* p, const vec8& v, int64_t n) {
  float lanes[kLanes];
  store(lanes, v);
  std::copy_n(lanes, n, p);
}

// Scratch memory for one thread, reused across calls: the padded image.
float* scratch(int64_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < static_cast<size_t>(n)) buf.resize(static_cast<size_t>(n));
  return buf.data();
}

// The zero-padded copy of one image (c, hp, wp), then kLanes zeros that a row shorter than kLanes
// reads past its end, and the sizes the kernels loop over. (The kernels read these into locals
// first: their vector stores may alias memory, so the compiler would reload them after each.)
struct Padded {
  int64_t c, oh, ow, hp, wp;
  int64_t taps;                 // K = c*kh*kw
  int64_t off[kDirectMaxTaps];  // tap t = (ci, i, j)'s input for output pixel (y, x): buf[off[t] + y*wp + x]
  int64_t last_x;               // where the last vector of an output row starts
  float* buf;

  explicit Padded(const Conv2dGeom& g)
      : c(g.c), oh(g.oh), ow(g.ow), hp(g.h + 2 * g.ph), wp(g.w + 2 * g.pw), taps(g.c * g.kh * g.kw),
        last_x(std::max<int64_t>(ow - kLanes, 0)), buf(scratch(c * hp * wp + kLanes)) {
    for (int64_t ci = 0, t = 0; ci < c; ++ci)
      for (int64_t i = 0; i < g.kh; ++i)
        for (int64_t j = 0; j < g.kw; ++j) off[t++] = (ci * hp + i) * wp + j;
  }

  void fill(const Conv2dGeom& g, const float* in) {
    std::fill(buf, buf + c * hp * wp + kLanes, 0.f);
    for (int64_t ci = 0; ci < c; ++ci)
      for (int64_t y = 0; y < g.h; ++y)
        std::copy_n(in + (ci * g.h + y) * g.w, g.w, buf + (ci * hp + y + g.ph) * wp + g.pw);
  }

  int64_t vecs_per_row() const { return (ow + kLanes - 1) / kLanes; }
  // The lanes of a row's last vector that are neither in the vector before nor past the row's end.
  mask8 last_vec_lanes() const {
    const int64_t before = (vecs_per_row() - 1) * kLanes;  // pixels the vectors before cover
    mask8 m;
    for (int64_t q = 0; q < kLanes; ++q) m[q] = last_x + q >= before && last_x + q < ow ? -1 : 0;
    return m;
  }
};

// Output row y of kOutGroup channels: out[oc, y, :] = Σ_t w[oc, t] * shifted input row + b[oc],
// then max(., 0) when relu (NaN kept). w: the group's weights tap by tap (K x kOutGroup, one tap's
// adjacent), b: the group's biases, out: the group's first plane. The bias is added after the
// taps, as the GEMM path (and PyTorch) do: small-cnn's training is sensitive to that rounding (the
// BatchNorm after its first conv amplifies it; tests/cli/reference_steps.sh checks against PyTorch).
void forward_row(const Padded& pad, const float* __restrict w, const float* __restrict b, bool relu, int64_t y,
                 float* out) {
  const int64_t K = pad.taps, ow = pad.ow, P = pad.oh * ow, nv = pad.vecs_per_row(), last_x = pad.last_x;
  const float* buf = pad.buf + y * pad.wp;
  for (int64_t v = 0; v < nv; ++v) {
    const int64_t x = std::min(v * kLanes, last_x);
    vec8 acc[kOutGroup];
    for (int64_t o = 0; o < kOutGroup; ++o) acc[o] = vec8{};
    for (int64_t t = 0; t < K; ++t) {
      const vec8 in = load(buf + pad.off[t] + x);
      for (int64_t o = 0; o < kOutGroup; ++o) acc[o] += w[t * kOutGroup + o] * in;
    }
    for (int64_t o = 0; o < kOutGroup; ++o) {
      vec8 r = acc[o] + b[o];
      if (relu) r = ((r > 0.f) | (r != r)) ? r : vec8{};
      float* dst = out + o * P + y * ow + x;
      if (ow >= kLanes)
        store(dst, r);
      else
        store_first(dst, r, ow);
    }
  }
}

// Adds one image's dL/dw for kGradOcs channels and the taps t0 .. t0 + kGradTaps - 1 (those < K)
// into gw (the group's first row of K): Σ over output pixels of dL/dout[oc] (gout: the group's
// first plane) times the input shifted by the tap. Taps past K compute a copy of the last one,
// which is not added. kShortRows: ow < kLanes (a separate instance keeps that case's partial
// loads out of the common one's loop).
template <bool kShortRows>
void weight_grad_block(const Padded& pad, const float* __restrict gout, int64_t t0, float* gw) {
  const int64_t oh = pad.oh, ow = pad.ow, P = oh * ow, wp = pad.wp, nv = pad.vecs_per_row(), K = pad.taps;
  const int64_t last_x = pad.last_x;
  const mask8 keep_last = pad.last_vec_lanes();
  const float* src[kGradTaps];
  for (int64_t u = 0; u < kGradTaps; ++u) src[u] = pad.buf + pad.off[std::min(t0 + u, K - 1)];
  vec8 acc[kGradOcs][kGradTaps];
  for (int64_t o = 0; o < kGradOcs; ++o)
    for (int64_t u = 0; u < kGradTaps; ++u) acc[o][u] = vec8{};
  for (int64_t y = 0; y < oh; ++y)
    for (int64_t v = 0; v < nv; ++v) {
      const int64_t x = std::min(v * kLanes, last_x);
      vec8 in[kGradTaps];
      for (int64_t u = 0; u < kGradTaps; ++u) {
        in[u] = load(src[u] + y * wp + x);
        if (v == nv - 1) in[u] = keep_last ? in[u] : vec8{};
      }
      for (int64_t o = 0; o < kGradOcs; ++o) {
        const float* row = gout + o * P + y * ow + x;
        const vec8 go = kShortRows ? load_first(row, ow) : load(row);
        for (int64_t u = 0; u < kGradTaps; ++u) acc[o][u] += go * in[u];
      }
    }
  for (int64_t o = 0; o < kGradOcs; ++o)
    for (int64_t u = 0; u < kGradTaps && t0 + u < K; ++u) {
      float s = 0.f;
      for (int64_t q = 0; q < kLanes; ++q) s += acc[o][u][q];
      gw[o * K + t0 + u] += s;
    }
}

}  // namespace

bool direct_conv_fits(const Conv2dGeom& g) {
  const bool unit_steps = g.groups == 1 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1;
  return unit_steps && !g.col_is_input() && g.c * g.kh * g.kw <= kDirectMaxTaps && g.o % kOutGroup == 0 &&
         g.ow >= kDirectMinWidth;
}

// Parallel over fixed chunks (image, kChannelsPerChunk output channels); every output value is
// computed the same way whatever the chunk, so the result does not depend on the thread count.
// With pool, a chunk's planes go to a buffer of its own and are pooled from there.
void conv2d_direct_forward(const Conv2dGeom& g, const float* x, const float* w, const float* b, bool relu,
                           float* out, bool pool) {
  const int64_t K = g.c * g.kh * g.kw, P = g.oh * g.ow;
  const int64_t blocks = (g.o + kChannelsPerChunk - 1) / kChannelsPerChunk;
  std::vector<float> wg(static_cast<size_t>(g.o * K));  // w (o, K) as (o / kOutGroup, K, kOutGroup)
  for (int64_t oc = 0; oc < g.o; ++oc)
    for (int64_t t = 0; t < K; ++t) wg[((oc / kOutGroup) * K + t) * kOutGroup + oc % kOutGroup] = w[oc * K + t];
  std::vector<float> bias(static_cast<size_t>(g.o), 0.f);  // adding 0 leaves a sum as it is
  if (b) std::copy_n(b, g.o, bias.begin());
  const int64_t pooled = (g.oh / 2) * (g.ow / 2);
  parallel_for(0, g.n * blocks, 1, [&](int64_t c0, int64_t c1) {
    Padded pad(g);
    std::vector<float> planes(pool ? static_cast<size_t>(kChannelsPerChunk * P) : 0);
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t n = c / blocks, oc0 = c % blocks * kChannelsPerChunk;
      const int64_t oc1 = std::min(g.o, oc0 + kChannelsPerChunk);
      pad.fill(g, x + n * g.c * g.h * g.w);
      for (int64_t oc = oc0; oc < oc1; oc += kOutGroup) {
        float* dst = pool ? planes.data() + (oc - oc0) * P : out + (n * g.o + oc) * P;
        for (int64_t y = 0; y < g.oh; ++y) forward_row(pad, wg.data() + oc * K, bias.data() + oc, relu, y, dst);
      }
      if (pool) max_pool2x2_serial(oc1 - oc0, g.oh, g.ow, planes.data(), out + (n * g.o + oc0) * pooled);
    }
  });
}

// The sum over images runs over fixed image ranges, each accumulating its images in order into
// its own partial; the partials are then added in range order (deterministic at any thread count).
void conv2d_direct_weight_grad(const Conv2dGeom& g, const float* x, const float* gout, float* gw) {
  const int64_t K = g.c * g.kh * g.kw, P = g.oh * g.ow, wnum = g.o * K;
  const int64_t parts = std::clamp<int64_t>(g.n, 1, kMaxWeightParts);
  std::vector<float> partial(static_cast<size_t>(parts * wnum), 0.f);
  parallel_for(0, parts, 1, [&](int64_t q0, int64_t q1) {
    Padded pad(g);
    for (int64_t q = q0; q < q1; ++q)
      for (int64_t n = q * g.n / parts; n < (q + 1) * g.n / parts; ++n) {
        pad.fill(g, x + n * g.c * g.h * g.w);
        for (int64_t oc = 0; oc < g.o; oc += kGradOcs)
          for (int64_t t = 0; t < K; t += kGradTaps)
            (g.ow < kLanes ? weight_grad_block<true> : weight_grad_block<false>)(
                pad, gout + (n * g.o + oc) * P, t, partial.data() + q * wnum + oc * K);
      }
  });
  for (int64_t i = 0; i < wnum; ++i) {
    float s = partial[i];
    for (int64_t q = 1; q < parts; ++q) s += partial[q * wnum + i];
    gw[i] += s;
  }
}

}  // namespace wick::kernels
