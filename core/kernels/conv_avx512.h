// Convolutions with the output channels across the vector, for CPUs with AVX-512 (conv.cpp runs
// them where the kernel is in use and the channels fill whole tiles). A register tile is 6 output
// pixels x 64 channels (or 12 x 32): planes of any size waste no lanes (a 7x7 plane, 49 pixels, is 9 tiles,
// where a tile of 16 pixels per vector would compute 63 grid columns in 4 vectors), and since a
// pixel is a broadcast from wherever its window starts, any stride reads the input in place.
#pragma once
#include <cstdint>

namespace wick::kernels {

// A register tile holds 24 vectors: 64 channels x 6 pixels when o is a multiple of 64, else 32
// channels x 12 pixels (o a multiple of 32), else 16 x 24 (conv_by_channel only).
inline int64_t channel_tile(int64_t o) { return o % 64 == 0 ? 64 : o % 32 == 0 ? 32 : 16; }
inline int64_t pixel_tile(int64_t o) { return o % 64 == 0 ? 6 : o % 32 == 0 ? 12 : 24; }
// A tile that pools (conv_by_channel_pooled) holds whole 2x2 windows: 4 pixels x 64 channels, or
// 12 x 32.
inline int64_t pooled_pixel_tile(int64_t o) { return o % 64 == 0 ? 4 : 12; }

// wt (k, o) = w (o, k) transposed (o a multiple of 16): each depth step's o weights contiguous.
void pack_by_channel(int64_t o, int64_t k, const float* w, float* wt);

// Rows [j0, j1) of out_t (pixel-major: o floats per pixel), j1 - j0 a multiple of pixel_tile(o):
// out_t[j][i] = Σ_p wt[p][i] * rows[p][off[j]], summed over p = 0 .. k-1 in order. o is a
// multiple of 16 (of 32 but for Winograd's products, whose depth k, the input channels, is short);
// off has an entry for every j < j1.
void conv_by_channel(int64_t o, int64_t k, const float* wt, const float* const* rows, const int64_t* off, int64_t j0,
                     int64_t j1, float* out_t);

// Windows [q0, q1) of the same convolution followed by 2x2 max pooling, with off in window order
// (window q's four pixels, in scan order, at 4q .. 4q+3) and q1 - q0 a multiple of
// pooled_pixel_tile(o) / 4: out_t[q][i] = the maximum (as max_pool2d) of the four pixels' sums +
// bias[i], then max(., 0) when relu (NaN kept, as wick::relu); bias may be null (0). The pooling
// is done in the tile's registers; only the pooled windows are stored (pixel-major, o floats each).
void conv_by_channel_pooled(int64_t o, int64_t k, const float* wt, const float* const* rows, const int64_t* off,
                            int64_t q0, int64_t q1, const float* bias, bool relu, float* out_t);

// The weight gradient of conv_by_channel, for pixels 0 .. npix-1 of one image: dwt (k, o) =
// Σ_j rows[p][off[j]] * gout_t[j][i], summed over j in order, then added to dwt when accumulate
// (else assigned). gout_t is pixel-major (o floats per pixel, to_pixel_major); o a multiple of 32.
void conv_by_channel_weight_grad(int64_t o, int64_t k, int64_t npix, const float* const* rows, const int64_t* off,
                                 const float* gout_t, bool accumulate, float* dwt);

// The same for a 3x3 convolution (unit dilation, any stride) of 16k output channels, where a tile
// of one vector of channels would need 24 taps' row pointers: x is the c (padded) input planes,
// `plane` floats apart with rows of wp, and a tile is 2 input channels' 18 taps x 16 channels,
// each tap a fixed displacement from the pixel's window. dwt is (c*9, o).
void conv3x3_weight_grad(int64_t o, int64_t c, int64_t npix, const float* x, int64_t plane, int64_t wp,
                         const int64_t* off, const float* gout_t, bool accumulate, float* dwt);

// out_t (npix, o) = inᵀ for in (o, npix): the inverse of store_by_channel's transposition. o is a
// multiple of 16.
void to_pixel_major(int64_t o, int64_t npix, const float* in, float* out_t);

// Pixels [p0, p1) of out (o, npix) = out_tᵀ + (add + bias), then max(., 0) when relu (NaN kept,
// as wick::relu); out_t holds pixel j at j * o; bias (o) and add (o, npix) may be null (0). Blocks
// of 16 pixels x 16 channels are transposed in registers. o is a multiple of 16.
void store_by_channel(int64_t o, int64_t npix, int64_t p0, int64_t p1, const float* out_t, const float* bias,
                      const float* add, bool relu, float* out);

}  // namespace wick::kernels
