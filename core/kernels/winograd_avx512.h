// Winograd's F(2x2, 3x3) (Lavin & Gray 2016) for stride-1 3x3 convolutions with padding 1, in the
// channel-vector form of conv_avx512.h (conv.cpp runs it for inference layers, whose weights are
// transformed once). Each 2x2 output tile is Y = Aᵀ [U ⊙ V] A, summed over the input channels,
// with U = G g Gᵀ (g the 3x3 kernel) and V = Bᵀ d B (d the 4x4 input tile whose corner is the
// output tile's, in the padded image; tiles 2 apart):
//   Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1]
//   Aᵀ = [1 1 1 0; 0 1 -1 -1]
// so the 16 positions xi of the 4x4 are 16 GEMMs, M[xi] (tiles, o) = V[xi]ᵀ (tiles, c) x U[xi]
// (c, o), run by conv_by_channel with k = c: 16 c·o multiply-adds per four outputs, not 36.
#pragma once
#include <cstdint>

namespace wick::kernels {

// u (16, c, o): position xi = 4r + s of G g Gᵀ for the kernel g of each input and output channel
// of w (o, c, 3, 3) (computed in double, rounded once), each position (c, o) as pack_by_channel's
// (k, o). o is a multiple of 16.
void winograd_pack(int64_t o, int64_t c, const float* w, float* u);

// Rows [2·ty0 - 1, 2·ty1 + 1) of each plane of x (c, h, w), zero-padded (rows outside the image
// and a column before it are zeros, image columns past wp - 2 left out) to rows of wp = 2·tw + 2
// floats, into padded as winograd_input reads them: each channel's even rows, then (half =
// (ty1 - ty0 + 1)·wp floats on) its odd rows, the next channel 2·half floats on.
void winograd_pad(int64_t c, const float* x, int64_t h, int64_t w, int64_t ty0, int64_t ty1, int64_t tw,
                  float* padded);

// v = Bᵀ d B for tiles [0, tiles) of c zero-padded planes, `plane` floats apart, each stored as
// its even rows (0, 2, 4, ..) then, `half` floats on, its odd rows, all of wp floats: tile (ty,
// tx), the 4x4 whose corner is row 2ty, column 2tx, is tile t = ty·(tw + 1) + tx for wp = 2·tw + 2
// (one unused tile a row), its rows 2t floats into the even rows, the odd rows, and both again one
// row (wp floats) on. Sixteen tiles a vector: position xi of tile t, channel ci, is at v + xi·xstride
// + (t / 16)·16c + 16ci + t % 16, so one position's values for a block of 16 tiles are contiguous
// (16c floats); xstride is at least 16c times the blocks. Each plane is read to half + wp + 2·tiles
// + 34 floats from its start (past it for the unused tiles in the last vector).
void winograd_input(int64_t c, const float* x, int64_t plane, int64_t half, int64_t wp, int64_t tiles, float* v,
                    int64_t xstride);

// The inverse transform of tiles [0, tiles) of m (16 positions `mstride` floats apart, each
// pixel-major: tile t's o channels at t·o), tile t being (ty, tx) = (t / tw, t % tw). Plain: its
// Aᵀ M A goes to out_t's pixels (2ty + a)·ow + 2tx + b, those with 2ty + a < oh and 2tx + b < ow.
// With pool: out_t + t·o gets the 2x2 maximum (max_pool2d's rule) of the four + bias (may be null),
// then max(., 0) when relu (NaN kept, as wick::relu). o is a multiple of 16.
void winograd_output(int64_t o, int64_t tiles, int64_t tw, const float* m, int64_t mstride, int64_t oh, int64_t ow,
                     bool pool, const float* bias, bool relu, float* out_t);

}  // namespace wick::kernels
