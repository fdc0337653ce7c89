// Raw 2-D convolution kernels: im2col / col2im and the GEMM-based forward and backward behind
// wick::conv2d (stride-1 shapes need no column matrix at all: conv.cpp's padded-width form).
// Plain pointers to contiguous float32 data; dims come in a Conv2dGeom.
#pragma once
#include <cstdint>
#include <vector>

namespace wick::kernels {

// Every size of one conv2d call. Input (n, c, h, w), weight (o, c/groups, kh, kw),
// output (n, o, oh, ow); stride s*, padding p*, dilation d*.
struct Conv2dGeom {
  int64_t n, c, h, w;
  int64_t o, kh, kw;
  int64_t sh, sw, ph, pw, dh, dw;
  int64_t groups;
  int64_t oh, ow;

  int64_t cg() const { return c / groups; }             // input channels per group
  int64_t og() const { return o / groups; }             // output channels per group
  int64_t col_rows() const { return c * kh * kw; }      // rows of an image's column matrix
  int64_t col_cols() const { return oh * ow; }          // its columns (output positions)
  // True when the column matrix is the image itself (1x1 kernel, stride 1, no padding).
  bool col_is_input() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
};

// One image: in (c, h, w) -> col (c*kh*kw, oh*ow), row (ci*kh + i)*kw + j holding
// in[ci, y*sh - ph + i*dh, x*sw - pw + j*dw] at column y*ow + x (0 where that is padding).
void im2col(const Conv2dGeom& g, const float* in, float* col);

// The adjoint of im2col for one image: adds col (c*kh*kw, oh*ow) into in (c, h, w).
void col2im_add(const Conv2dGeom& g, const float* col, float* in);

// True for the shapes conv2d_forward runs with the output channels across the vector
// (conv_avx512.h): one group, unit dilation, o a multiple of 32, and the AVX-512 GEMM kernel in
// use (core/blas.h); any stride and padding, no column matrix.
bool by_channel_fits(const Conv2dGeom& g);

// The weights as the channel-vector form reads them when that form fits g, empty otherwise: for a
// stride-1 3x3 convolution with padding 1, Winograd F(2x2, 3x3)'s transformed weights (16, c, o)
// (winograd_avx512.h), else (c*kh*kw, o) (conv_avx512.h). conv2d_forward packs the latter on every
// call unless given them; given the former (a layer whose weights stay the same between calls, at
// inference, packs them once), it runs the convolution as Winograd's. The packed size is
// packed_conv_weights_size(g) floats (0: not packed).
int64_t packed_conv_weights_size(const Conv2dGeom& g);
std::vector<float> pack_conv_weights(const Conv2dGeom& g, const float* w);

// x (n, c, h, w), w (o, c/groups, kh, kw), b (o) or null, add (n, o, oh, ow) or null -> out
// (n, o, oh, ow) = conv + b + add (assigned), then max(out, 0) when relu (NaN kept, as wick::relu).
// With pool, that is then max-pooled 2x2 with stride 2 (as max_pool2d_forward) image by image
// while in cache, and out is (n, o, oh/2, ow/2). packed, when not null, is pack_conv_weights(g, w).
// bands: one image (n = 1) runs in bands of rows on the threads, each band stored by the thread
// that computed it; for a caller whose next op is another such conv (a fused inference network),
// not one whose separate ops (a batch norm, a ReLU) would read every band from the other core.
void conv2d_forward(const Conv2dGeom& g, const float* x, const float* w, const float* b, bool relu, float* out,
                    const float* add = nullptr, bool pool = false, const float* packed = nullptr,
                    bool bands = false);

// gout (n, o, oh, ow) is dL/d out. Adds dL/dx into gx (n, c, h, w), dL/dw into gw (o, c/groups,
// kh, kw) and dL/db into gb (o); any of the three may be null (not wanted). With assign_gx, dL/dx
// is stored into gx instead (its old contents unread). gw needs x (each image's column matrix is
// rebuilt from it, in cache, rather than kept from the forward); gx needs w.
void conv2d_backward(const Conv2dGeom& g, const float* x, const float* w, const float* gout, float* gx, float* gw,
                     float* gb, bool assign_gx = false);

}  // namespace wick::kernels
