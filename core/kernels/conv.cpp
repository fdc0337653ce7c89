// 2-D convolution as GEMMs over column matrices: stride-1 convs (one group) read them in place
// from a padded copy of each image (the padded-width form below), others build them with im2col;
// with AVX-512, convs of 32k output channels put the channels across the vector instead
// (conv_avx512.h), forward and dL/dw, and read any stride in place, and inference layers' stride-1
// 3x3 convs (weights packed once) run as Winograd F(2x2, 3x3) (winograd_avx512.h).
// Images run in parallel (each image's result is computed the same way whatever the thread
// count); the weight gradient sums fixed image ranges into per-range partials that are added in
// range order, so it is deterministic too. Shapes with few taps go to the direct kernels instead
// (conv_direct.h), forward and dL/dw.
#include "core/kernels/conv.h"

#include <algorithm>
#include <bit>
#include <memory>
#include <optional>
#include <vector>

#include "core/blas.h"
#include "core/kernels/conv_avx512.h"
#include "core/kernels/conv_direct.h"
#include "core/kernels/pool.h"
#include "core/kernels/winograd_avx512.h"
#include "core/parallel.h"

namespace wick::kernels {
namespace {

int64_t ceil_div(int64_t a, int64_t b) {  // b > 0
  return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

// The output columns x in [x0, x1) whose input column x*s - p + off lies in [0, len).
void valid_range(int64_t len, int64_t out_len, int64_t s, int64_t p, int64_t off, int64_t& x0, int64_t& x1) {
  x0 = std::clamp<int64_t>(ceil_div(p - off, s), 0, out_len);
  x1 = std::clamp<int64_t>(ceil_div(len + p - off, s), x0, out_len);
}

// One image's convolution is cut into bands of rows (in_bands) from this many multiply-adds on:
// every resnet20 3x3 convolution (1.8-3.6 M), not its 1x1 projections. Blocks that moved each
// layer's input and output between the cores lost below 2^24 (one image, 1 vs 2 threads: 7 M, 32
// channels at 28x28, 0.08 ms vs 0.12); bands, whose rows stay on one core, win from 1 M.
constexpr int64_t kBandWork = int64_t(1) << 20;

// Scratch memory for one thread, reused across calls (slot 0: col, or the padded-width form's
// output grid or padded gout, or the channel-vector and Winograd forms' pixel-major outputs; slot
// 1: d col, or Winograd's transformed tiles and products; slot 2: a padded plane inside im2col /
// col2im_add, or the padded image of the padded-width, channel-vector and Winograd forms; slot 3:
// one image's output before pooling). A call
// that takes a slot may grow it, so a pointer into it taken before is not used after. Held either
// inside chunks that run no nested parallel work, or (one image) around parallel GEMMs whose
// blocks use none, so a thread never holds one twice.
float* scratch(int slot, size_t n) {
  thread_local std::vector<float> bufs[4];
  if (bufs[slot].size() < n) bufs[slot].resize(n);
  return bufs[slot].data();
}

// Sum of r[0..len) in double, in a fixed order: eight interleaved partial sums (so the adds
// pipeline and vectorize), combined in lane order.
double sum_row(const float* r, int64_t len) {
  double acc[8] = {};
  int64_t p = 0;
  for (; p + 8 <= len; p += 8)
    for (int k = 0; k < 8; ++k) acc[k] += r[p + k];
  for (; p < len; ++p) acc[p % 8] += r[p];
  double s = 0;
  for (double a : acc) s += a;
  return s;
}

// rows x len block copy: dst row r (stride dst_ld) = src row r (stride src_ld). Rows here are
// short (an output row, 14 floats for small-cnn), where a memcpy call or a vectorized loop's
// remainder costs more than the copy: 8-float blocks, the last one overlapping the previous when
// len is not a multiple of 8.
void copy_rows(float* __restrict dst, int64_t dst_ld, const float* __restrict src, int64_t src_ld, int64_t rows,
               int64_t len) {
  for (int64_t r = 0; r < rows; ++r, dst += dst_ld, src += src_ld) {
    if (len < 8) {
      for (int64_t x = 0; x < len; ++x) dst[x] = src[x];
      continue;
    }
    int64_t x = 0;
    for (; x + 8 <= len; x += 8)
      for (int k = 0; k < 8; ++k) dst[x + k] = src[x + k];
    if (x < len)
      for (int k = 0; k < 8; ++k) dst[len - 8 + k] = src[len - 8 + k];
  }
}

// rows x len block: dst row r (stride dst_ld) += src row r (stride src_ld).
void add_rows(float* __restrict dst, int64_t dst_ld, const float* __restrict src, int64_t src_ld, int64_t rows,
              int64_t len) {
  for (int64_t r = 0; r < rows; ++r, dst += dst_ld, src += src_ld)
    for (int64_t x = 0; x < len; ++x) dst[x] += src[x];
}

// Unit stride and dilation, the common case: each column-matrix row is a shifted window of the
// zero-padded plane, so both loops below copy whole rows with no bounds checks.
bool unit_stride(const Conv2dGeom& g) { return g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1; }

void im2col_unit_stride(const Conv2dGeom& g, const float* in, float* col) {
  const int64_t hp = g.h + 2 * g.ph, wp = g.w + 2 * g.pw, P = g.oh * g.ow;
  float* padded = scratch(2, static_cast<size_t>(hp * wp));
  std::fill(padded, padded + hp * wp, 0.f);  // the border stays 0; each channel overwrites the inside
  for (int64_t ci = 0; ci < g.c; ++ci) {
    copy_rows(padded + g.ph * wp + g.pw, wp, in + ci * g.h * g.w, g.w, g.h, g.w);
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j)
        copy_rows(col + ((ci * g.kh + i) * g.kw + j) * P, g.ow, padded + i * wp + j, wp, g.oh, g.ow);
  }
}

// Sums each channel's kh*kw rows into a zeroed padded plane, then adds its inside into in.
void col2im_add_unit_stride(const Conv2dGeom& g, const float* col, float* in) {
  const int64_t hp = g.h + 2 * g.ph, wp = g.w + 2 * g.pw, P = g.oh * g.ow;
  float* padded = scratch(2, static_cast<size_t>(hp * wp));
  for (int64_t ci = 0; ci < g.c; ++ci) {
    std::fill(padded, padded + hp * wp, 0.f);
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j)
        add_rows(padded + i * wp + j, wp, col + ((ci * g.kh + i) * g.kw + j) * P, g.ow, g.oh, g.ow);
    add_rows(in + ci * g.h * g.w, g.w, padded + g.ph * wp + g.pw, wp, g.h, g.w);
  }
}

using GemmFn = void (*)(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                        int64_t, float, float*, int64_t);

// Number of image ranges whose weight-gradient partials are summed: fixed by the shape alone,
// capped so the partials stay under 32 MB.
int64_t weight_parts(const Conv2dGeom& g) {
  int64_t wnum = g.o * g.cg() * g.kh * g.kw;
  int64_t parts = std::min<int64_t>(g.n, 32);
  return std::max<int64_t>(1, std::min<int64_t>(parts, (int64_t(1) << 23) / std::max<int64_t>(wnum, 1)));
}

// Stride 1, dilation 1, one group, not a plain 1x1: the padded-width form. The image is copied
// once into zero-padded planes (hp x wp each, end to end, then kw floats of zero slack) and the
// output is computed on the oh x wp grid. There, column-matrix row (ci, i, j) is the padded planes
// read from offset ci*hp*wp + i*wp + j on, so the GEMM takes row pointers into them and no column
// matrix is built; the last wp - ow columns of each output row are computed and dropped.
bool padded_width_fits(const Conv2dGeom& g) { return g.groups == 1 && unit_stride(g) && !g.col_is_input(); }

// Copies one image (c, h, w) into zero-padded planes (hp x wp each, end to end, then wp floats
// of zero slack) in scratch slot 2: only padded rows [r0, r1) of each plane (and the slack when
// r1 is the last), which is all a band of output rows reads.
const float* pad_rows(const Conv2dGeom& g, const float* x_img, int64_t r0, int64_t r1) {
  const int64_t wp = g.w + 2 * g.pw, hp = g.h + 2 * g.ph, plane = hp * wp;
  float* padded = scratch(2, static_cast<size_t>(g.c * plane + wp));
  const int64_t y0 = std::clamp<int64_t>(r0 - g.ph, 0, g.h), y1 = std::clamp<int64_t>(r1 - g.ph, 0, g.h);
  for (int64_t ci = 0; ci < g.c; ++ci) {
    float* p = padded + ci * plane;
    std::fill(p + r0 * wp, p + r1 * wp, 0.f);
    if (y1 > y0) copy_rows(p + (y0 + g.ph) * wp + g.pw, wp, x_img + (ci * g.h + y0) * g.w, g.w, y1 - y0, g.w);
  }
  if (r1 == hp) std::fill(padded + g.c * plane, padded + g.c * plane + wp, 0.f);
  return padded;
}

const float* pad_image(const Conv2dGeom& g, const float* x_img) { return pad_rows(g, x_img, 0, g.h + 2 * g.ph); }

// The column matrix's rows from grid column j0 on: row (ci, i, j) starts at padded + ci*hp*wp +
// i*wp + j + j0. The vector is the calling thread's.
const float* const* window_rows(const Conv2dGeom& g, const float* padded, int64_t j0) {
  thread_local std::vector<const float*> rows;
  rows.resize(static_cast<size_t>(g.c * g.kh * g.kw));
  const int64_t wp = g.w + 2 * g.pw, plane = (g.h + 2 * g.ph) * wp;
  for (int64_t ci = 0; ci < g.c; ++ci)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) rows[(ci * g.kh + i) * g.kw + j] = padded + ci * plane + i * wp + j + j0;
  return rows.data();
}

// Output rows [y0, y1) of out_img (o, oh, ow) = conv(x_img) + b + add_img (b, add_img may be null;
// add_img may be out_img), then max(., 0) when relu (NaN kept), in the padded-width form: the
// input rows they read are padded, grid columns [y0*wp, y1*wp) computed into scratch slot 0, and
// each output plane's rows taken from there without their last wp - ow columns, then bias, add,
// relu, each one loop over the rows (in cache) that vectorizes.
void padded_width_band(const Conv2dGeom& g, const float* x_img, const float* w, const float* b, bool relu,
                       float* out_img, const float* add_img, int64_t y0, int64_t y1) {
  const int64_t wp = g.w + 2 * g.pw, K = g.c * g.kh * g.kw;
  const int64_t grid = g.oh * wp, P = g.oh * g.ow;
  const float* padded = pad_rows(g, x_img, y0, y1 == g.oh ? g.h + 2 * g.ph : y1 - 1 + g.kh);
  float* grid_out = scratch(0, static_cast<size_t>(g.o * grid));
  gemm_rows_serial(false, false, g.o, (y1 - y0) * wp, K, 1.f, w, K, window_rows(g, padded, y0 * wp), 0.f,
                   grid_out + y0 * wp, grid);
  const int64_t n = (y1 - y0) * g.ow;  // output values per plane in the band
  for (int64_t oc = 0; oc < g.o; ++oc) {
    float* __restrict dst = out_img + oc * P + y0 * g.ow;
    const float* src = grid_out + oc * grid + y0 * wp;
    if (add_img == out_img) {
      add_rows(dst, g.ow, src, wp, y1 - y0, g.ow);
    } else {
      copy_rows(dst, g.ow, src, wp, y1 - y0, g.ow);
      if (add_img)
        for (int64_t i = 0; i < n; ++i) dst[i] += add_img[oc * P + y0 * g.ow + i];
    }
    if (b)
      for (int64_t i = 0; i < n; ++i) dst[i] += b[oc];
    if (relu)
      for (int64_t i = 0; i < n; ++i) dst[i] = dst[i] > 0.f || dst[i] != dst[i] ? dst[i] : 0.f;
  }
}

// Cuts one image into bands of output rows when split and its work is at least kBandWork, and
// runs band(y0, y1) on each in parallel: each band padded, computed and stored by one thread, so
// with as many bands as threads each core reads the rows it wrote in the layer before (but a
// band's border), where finer chunks would move most of every layer's input and output between
// the cores. The bands depend on the shape alone (a power of two from 2 to 16, one per kBandWork
// multiply-adds, rounded down): the padded-width form's GEMM may round a column differently where
// a band cuts its column tile, so the same bits at any thread count need the same bands. `rows`
// count the image's output in the caller's units (rows, pixels, or pooling windows); bands are
// whole multiples of `unit` of them (but the last).
template <typename Band>
void in_bands(int64_t rows, int64_t unit, int64_t work, bool split, const Band& band) {
  const int64_t units = (rows + unit - 1) / unit;
  const int64_t per_work = static_cast<int64_t>(std::bit_floor(static_cast<uint64_t>(work / kBandWork)));
  const int64_t bands = split && work >= kBandWork ? std::min(units, std::clamp<int64_t>(per_work, 2, 16)) : 1;
  if (bands <= 1) return band(0, rows);
  parallel_for(0, bands, 1, [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) band(q * units / bands * unit, std::min(rows, (q + 1) * units / bands * unit));
  });
}

void forward_padded_width(const Conv2dGeom& g, const float* x_img, const float* w, const float* b, bool relu,
                          float* out_img, const float* add_img, bool split) {
  const int64_t work = g.o * g.oh * (g.w + 2 * g.pw) * g.c * g.kh * g.kw;
  in_bands(g.oh, 1, work, split, [&](int64_t y0, int64_t y1) {
    padded_width_band(g, x_img, w, b, relu, out_img, add_img, y0, y1);
  });
}

// Each output pixel's offset in an image's (padded) planes, row by row, or, with windows, in the
// order 2x2 max pooling reads them: each window's four pixels in scan order, windows row by row
// (an odd last row or column, which the pooling drops, left out). `slots` is at least the number
// of pixels; the slots past the last repeat its offset.
std::vector<int64_t> pixel_offsets(const Conv2dGeom& g, int64_t slots, bool windows = false) {
  std::vector<int64_t> off(static_cast<size_t>(slots));
  const int64_t wp = g.w + 2 * g.pw;
  const auto at = [&](int64_t y, int64_t x) { return y * g.sh * wp + x * g.sw; };
  int64_t n = 0;
  if (windows) {
    for (int64_t y = 0; y + 1 < g.oh; y += 2)
      for (int64_t x = 0; x + 1 < g.ow; x += 2)
        for (int64_t cell = 0; cell < 4; ++cell) off[n++] = at(y + cell / 2, x + cell % 2);
  } else {
    for (int64_t y = 0; y < g.oh; ++y)
      for (int64_t x = 0; x < g.ow; ++x) off[n++] = at(y, x);
  }
  std::fill(off.begin() + n, off.end(), off[n - 1]);
  return off;
}

// What the channel-vector form shares across the images of one call: the weights packed (k, o)
// (the caller's, or packed here), and the pixels' offsets (pixel_offsets: row by row, or by
// pooling window when the tiles pool) to a whole number of pixel tiles plus one (a band that
// starts inside a tile ends past the last whole one; the tile slots past the last pixel are never
// stored).
struct ByChannel {
  std::unique_ptr<float[]> own;
  const float* wt;
  std::vector<int64_t> off;
  bool pool;
  int64_t k, pixels, tile, tiles;
  ByChannel(const Conv2dGeom& g, const float* w, const float* packed, bool pool)
      : wt(packed), pool(pool), k(g.c * g.kh * g.kw), pixels(pool ? g.oh / 2 * (g.ow / 2) * 4 : g.oh * g.ow) {
    if (!wt) {
      own = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(g.o * k));
      pack_by_channel(g.o, k, w, own.get());
      wt = own.get();
    }
    tile = pool ? pooled_pixel_tile(g.o) : pixel_tile(g.o);
    tiles = (pixels + tile - 1) / tile;
    off = pixel_offsets(g, (tiles + 1) * tile, pool);
  }
};

// Slots [p0, p1) of bc.off (pixels) of one image's convolution in the channel-vector form,
// pixel-major in scratch slot 0, which it returns: slot j at j * o, or, when bc pools, pooled
// window j / 4 (with b and relu) at j / 4 * o. Tiles run from p0 on, and the input rows they read
// are padded when the conv pads (window_rows then reads them, or the image itself).
const float* by_channel_tiles(const Conv2dGeom& g, const ByChannel& bc, const float* x_img, int64_t p0, int64_t p1,
                              const float* b = nullptr, bool relu = false) {
  const int64_t j1 = p0 + (p1 - p0 + bc.tile - 1) / bc.tile * bc.tile;
  const float* src = x_img;
  if (g.ph || g.pw) {  // the padded rows every slot's window reads, to j1
    const auto [lo, hi] = std::minmax_element(bc.off.begin() + p0, bc.off.begin() + j1);
    const int64_t wp = g.w + 2 * g.pw;
    src = pad_rows(g, x_img, *lo / wp, std::min(g.h + 2 * g.ph, *hi / wp + g.kh));
  }
  float* out_t = scratch(0, static_cast<size_t>((bc.tiles + 1) * bc.tile * g.o));
  const float* const* rows = window_rows(g, src, 0);
  if (bc.pool) conv_by_channel_pooled(g.o, bc.k, bc.wt, rows, bc.off.data(), p0 / 4, j1 / 4, b, relu, out_t);
  else conv_by_channel(g.o, bc.k, bc.wt, rows, bc.off.data(), p0, j1, out_t);
  return out_t;
}

// One image's out_img (o, oh, ow) = conv(x_img) + b + add_img, then the ReLU, in the channel-vector
// form: bands of whole pixel tiles (in_bands), each transposed into out_img by store_by_channel.
void forward_by_channel(const Conv2dGeom& g, const ByChannel& bc, const float* x_img, const float* b, bool relu,
                        float* out_img, const float* add_img, bool split) {
  in_bands(bc.tiles * bc.tile, bc.tile, g.o * bc.pixels * bc.k, split, [&](int64_t p0, int64_t p1) {
    p1 = std::min(p1, bc.pixels);
    store_by_channel(g.o, bc.pixels, p0, p1, by_channel_tiles(g, bc, x_img, p0, p1), b, add_img, relu, out_img);
  });
}

// The same without add_img, then 2x2 max pooling (stride 2) into out_img (o, oh/2, ow/2), done in
// the tiles (bc pools): bands of whole windows (each pixel's sum is the same whichever tile holds
// it), each band's pooled windows transposed into out_img.
void forward_by_channel_pooled(const Conv2dGeom& g, const ByChannel& bc, const float* x_img, const float* b,
                               bool relu, float* out_img, bool split) {
  const int64_t windows = bc.pixels / 4;
  in_bands(windows, 1, g.o * bc.pixels * bc.k, split, [&](int64_t q0, int64_t q1) {
    const float* pooled = by_channel_tiles(g, bc, x_img, 4 * q0, 4 * q1, b, relu);
    store_by_channel(g.o, windows, q0, q1, pooled, nullptr, nullptr, false, out_img);
  });
}

// Stride-1 3x3 convolutions with padding 1, 16k output channels and at least 16 input channels,
// given their weights transformed (pack_conv_weights: an inference layer's), run as Winograd
// F(2x2, 3x3) (winograd_avx512.h), with AVX-512. Below 16 input channels each of its 16 products
// is a GEMM too shallow to pay for its tiles' stores (1 -> 32 channels at 28x28 with pooling, batch
// 256: 2.8 ms against 1.2 in the channel-vector form).
bool winograd_fits(const Conv2dGeom& g) {
  return g.groups == 1 && g.o % 16 == 0 && g.c >= 16 && gemm_kernel() == GemmKernel::Avx512 && g.kh == 3 &&
         g.kw == 3 && g.sh == 1 && g.sw == 1 && g.ph == 1 && g.pw == 1 && g.dh == 1 && g.dw == 1;
}

// Tile rows [ty0, ty1) of one image's Winograd convolution, u its transformed weights: out_img
// (o, oh, ow) = conv + b + add_img, then the ReLU; with pool, out_img (o, oh/2, ow/2) gets that
// max-pooled 2x2 instead (each tile one window; add_img null). The rows the tiles read are copied
// into zero-padded planes (scratch slot 2), even rows then odd rows as winograd_input reads them,
// and transformed (slot 1, the 16 products after them); the tiles' outputs go pixel-major to slot
// 0, and from there through store_by_channel. Each tile's sums are the same whichever band holds it.
void winograd_band(const Conv2dGeom& g, const float* u, const float* x_img, const float* b, bool relu,
                   const float* add_img, bool pool, int64_t ty0, int64_t ty1, float* out_img) {
  const int64_t tw = pool ? g.ow / 2 : (g.ow + 1) / 2, wp = 2 * tw + 2, half = (ty1 - ty0 + 1) * wp;
  const int64_t tiles = (ty1 - ty0) * tw, vtiles = (ty1 - ty0) * (tw + 1), vstride = (vtiles + 15) / 16 * 16;
  const int64_t pt = pixel_tile(g.o), slots = (tiles + pt - 1) / pt * pt;
  float* padded = scratch(2, static_cast<size_t>(2 * g.c * half + wp + 2 * vstride + 16));
  winograd_pad(g.c, x_img, g.h, g.w, ty0, ty1, tw, padded);
  // One position's transformed tiles are 16 floats more than a multiple of 4 KiB apart, so the 16
  // stores of a block of tiles do not all fall in one L1 set.
  const int64_t xstride = g.c * vstride + 16;
  float* v = scratch(1, static_cast<size_t>(16 * (xstride + slots * g.o)));
  float* m = v + 16 * xstride;
  winograd_input(g.c, padded, 2 * half, half, wp, vtiles, v, xstride);
  thread_local std::vector<int64_t> off;
  thread_local std::vector<const float*> rows;
  off.resize(static_cast<size_t>(slots));
  for (int64_t j = 0; j < slots; ++j) {
    const int64_t t = std::min(j, tiles - 1), vt = t / tw * (tw + 1) + t % tw;
    off[j] = vt / 16 * 16 * g.c + vt % 16;
  }
  rows.resize(static_cast<size_t>(g.c));
  for (int64_t xi = 0; xi < 16; ++xi) {
    for (int64_t ci = 0; ci < g.c; ++ci) rows[ci] = v + xi * xstride + 16 * ci;
    conv_by_channel(g.o, g.c, u + xi * g.c * g.o, rows.data(), off.data(), 0, slots, m + xi * slots * g.o);
  }
  if (pool) {
    float* out_t = scratch(0, static_cast<size_t>(g.oh / 2 * tw * g.o));
    winograd_output(g.o, tiles, tw, m, slots * g.o, 0, 0, true, b, relu, out_t + ty0 * tw * g.o);
    return store_by_channel(g.o, g.oh / 2 * tw, ty0 * tw, ty1 * tw, out_t, nullptr, nullptr, false, out_img);
  }
  const int64_t p0 = 2 * ty0 * g.ow, p1 = std::min(2 * ty1, g.oh) * g.ow;
  float* out_t = scratch(0, static_cast<size_t>(g.oh * g.ow * g.o));
  winograd_output(g.o, tiles, tw, m, slots * g.o, std::min(2 * ty1, g.oh) - 2 * ty0, g.ow, false, nullptr, false,
                  out_t + p0 * g.o);
  store_by_channel(g.o, g.oh * g.ow, p0, p1, out_t, b, add_img, relu, out_img);
}

// One image's Winograd convolution (winograd_band), in bands of tile rows when split.
void forward_winograd(const Conv2dGeom& g, const float* u, const float* x_img, const float* b, bool relu,
                      float* out_img, const float* add_img, bool pool, bool split) {
  const int64_t th = pool ? g.oh / 2 : (g.oh + 1) / 2;
  in_bands(th, 1, g.o * g.oh * g.ow * g.c * 9, split,
           [&](int64_t t0, int64_t t1) { winograd_band(g, u, x_img, b, relu, add_img, pool, t0, t1, out_img); });
}

// dL/dw of one image in the padded-width form: wacc (o, K) = beta * wacc + gout' (o, oh*wp) x
// rowsᵀ, where gout' is gout_img with wp - ow zero columns after each row (so the grid columns the
// forward drops add nothing; a non-finite input value there still makes its taps' sums NaN).
void weight_grad_padded_width(const Conv2dGeom& g, const float* x_img, const float* gout_img, float* wacc,
                              float beta) {
  const int64_t wp = g.w + 2 * g.pw, grid = g.oh * wp, P = g.oh * g.ow, K = g.c * g.kh * g.kw;
  const float* padded = pad_image(g, x_img);
  float* gpad = scratch(0, static_cast<size_t>(g.o * grid));
  for (int64_t oc = 0; oc < g.o; ++oc)
    for (int64_t y = 0; y < g.oh; ++y) {
      float* dst = gpad + oc * grid + y * wp;
      std::copy(gout_img + oc * P + y * g.ow, gout_img + oc * P + (y + 1) * g.ow, dst);
      std::fill(dst + g.ow, dst + wp, 0.f);
    }
  gemm_rows_serial(false, true, g.o, K, grid, 1.f, gpad, grid, window_rows(g, padded, 0), beta, wacc, K);
}

// dL/dw of one image in the channel-vector form, any stride: wacc_t (K, o) = Σ over the output
// pixels of each tap's input times gout_img's channels at that pixel (gout_img made pixel-major in
// scratch slot 0), added to wacc_t when accumulate. The tap reads are the forward's (off).
void weight_grad_by_channel(const Conv2dGeom& g, const int64_t* off, const float* x_img, const float* gout_img,
                            float* wacc_t, bool accumulate) {
  const int64_t P = g.oh * g.ow;
  const float* src = g.ph || g.pw ? pad_image(g, x_img) : x_img;
  float* gout_t = scratch(0, static_cast<size_t>(P * g.o));
  to_pixel_major(g.o, P, gout_img, gout_t);
  if (by_channel_fits(g)) {
    conv_by_channel_weight_grad(g.o, g.c * g.kh * g.kw, P, window_rows(g, src, 0), off, gout_t, accumulate, wacc_t);
  } else {
    const int64_t wp = g.w + 2 * g.pw;
    conv3x3_weight_grad(g.o, g.c, P, src, (g.h + 2 * g.ph) * wp, wp, off, gout_t, accumulate, wacc_t);
  }
}

// Where weight_grad_by_channel runs: by_channel_fits, or a 3x3 convolution of 16k channels.
bool weight_grad_by_channel_fits(const Conv2dGeom& g) {
  return by_channel_fits(g) || (g.groups == 1 && g.dh == 1 && g.dw == 1 && g.kh == 3 && g.kw == 3 &&
                                g.o % 16 == 0 && gemm_kernel() == GemmKernel::Avx512);
}

// dL/dx of a stride-1 convolution is itself one: dx[ci, y, x] = Σ_o Σ_ij gout[o, y + ph - i,
// x + pw - j] w[o, ci, i, j], that is gout padded by (kh-1-ph, kw-1-pw) convolved with the
// weights swapped and flipped, w'[ci, o, i, j] = w[o, ci, kh-1-i, kw-1-j]. So it runs through
// the forward's stride-1 forms, adding into gx, or storing when assign (needs ph < kh and pw < kw):
// the channel-vector one when gx's channels fill its tiles, else forward_padded_width.
void input_grad_stride1(const Conv2dGeom& g, const float* w, const float* gout, float* gx, bool assign) {
  Conv2dGeom t = g;
  t.c = g.o, t.h = g.oh, t.w = g.ow, t.o = g.c, t.ph = g.kh - 1 - g.ph, t.pw = g.kw - 1 - g.pw, t.oh = g.h, t.ow = g.w;
  std::vector<float> flipped(static_cast<size_t>(g.o * g.c * g.kh * g.kw));
  for (int64_t oc = 0; oc < g.o; ++oc)
    for (int64_t ci = 0; ci < g.c; ++ci)
      for (int64_t i = 0; i < g.kh; ++i)
        for (int64_t j = 0; j < g.kw; ++j)
          flipped[((ci * g.o + oc) * g.kh + i) * g.kw + j] =
              w[((oc * g.c + ci) * g.kh + (g.kh - 1 - i)) * g.kw + (g.kw - 1 - j)];
  const int64_t in_img = g.c * g.h * g.w, out_img = g.o * g.oh * g.ow;
  std::optional<ByChannel> bc;
  if (by_channel_fits(t)) bc.emplace(t, flipped.data(), nullptr, false);
  auto image = [&](int64_t n, bool split) {
    float* dx = gx + n * in_img;
    const float* add = assign ? nullptr : dx;
    if (bc) forward_by_channel(t, *bc, gout + n * out_img, nullptr, false, dx, add, split);
    else forward_padded_width(t, gout + n * out_img, flipped.data(), nullptr, false, dx, add, split);
  };
  // One image on one thread: the backward ops around it run on the calling thread (conv2d_forward).
  parallel_for(0, g.n, 1, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) image(n, false);
  });
}

}  // namespace

// Measured on Zen 5, one thread, a 64-channel 3x3 conv: 7x7 planes 18-19 us against 26-30 in the
// padded-width form, 14x14 70 against 95, 28x28 the same (304 and 299); 32 channels, 256 images
// on 2 threads: stride 1 at 14x14 the same, stride 2 1.75x faster, a 1x1 with stride 2 1.25x. 16
// channels (one vector) would be load-bound: 87 us against 19 at 28x28.
bool by_channel_fits(const Conv2dGeom& g) {
  return g.groups == 1 && g.dh == 1 && g.dw == 1 && g.o % 32 == 0 && gemm_kernel() == GemmKernel::Avx512;
}

void im2col(const Conv2dGeom& g, const float* in, float* col) {
  if (unit_stride(g)) return im2col_unit_stride(g, in, col);
  const int64_t P = g.oh * g.ow;
  for (int64_t ci = 0; ci < g.c; ++ci) {
    const float* plane = in + ci * g.h * g.w;
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        float* row = col + ((ci * g.kh + i) * g.kw + j) * P;
        int64_t x0, x1;
        valid_range(g.w, g.ow, g.sw, g.pw, j * g.dw, x0, x1);
        for (int64_t y = 0; y < g.oh; ++y) {
          float* r = row + y * g.ow;
          int64_t iy = y * g.sh - g.ph + i * g.dh;
          if (iy < 0 || iy >= g.h) {
            std::fill(r, r + g.ow, 0.f);
            continue;
          }
          std::fill(r, r + x0, 0.f);
          std::fill(r + x1, r + g.ow, 0.f);
          const float* src = plane + iy * g.w + (x0 * g.sw - g.pw + j * g.dw);
          for (int64_t x = x0; x < x1; ++x) r[x] = src[(x - x0) * g.sw];
        }
      }
  }
}

void col2im_add(const Conv2dGeom& g, const float* col, float* in) {
  if (unit_stride(g)) return col2im_add_unit_stride(g, col, in);
  const int64_t P = g.oh * g.ow;
  for (int64_t ci = 0; ci < g.c; ++ci) {
    float* plane = in + ci * g.h * g.w;
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const float* row = col + ((ci * g.kh + i) * g.kw + j) * P;
        int64_t x0, x1;
        valid_range(g.w, g.ow, g.sw, g.pw, j * g.dw, x0, x1);
        for (int64_t y = 0; y < g.oh; ++y) {
          int64_t iy = y * g.sh - g.ph + i * g.dh;
          if (iy < 0 || iy >= g.h) continue;
          const float* r = row + y * g.ow;
          float* dst = plane + iy * g.w + (x0 * g.sw - g.pw + j * g.dw);
          for (int64_t x = x0; x < x1; ++x) dst[(x - x0) * g.sw] += r[x];
        }
      }
  }
}

int64_t packed_conv_weights_size(const Conv2dGeom& g) {
  return winograd_fits(g) ? 16 * g.c * g.o : by_channel_fits(g) ? g.o * g.c * g.kh * g.kw : 0;
}

std::vector<float> pack_conv_weights(const Conv2dGeom& g, const float* w) {
  std::vector<float> wt(static_cast<size_t>(packed_conv_weights_size(g)));
  if (winograd_fits(g)) winograd_pack(g.o, g.c, w, wt.data());
  else if (by_channel_fits(g)) pack_by_channel(g.o, g.c * g.kh * g.kw, w, wt.data());
  return wt;
}

void conv2d_forward(const Conv2dGeom& g, const float* x, const float* w, const float* b, bool relu, float* out,
                    const float* add, bool pool, const float* packed, bool bands) {
  // Winograd's or the channel-vector form first: where the latter and the direct kernel both fit
  // (small-cnn's first conv) it is the faster one.
  const bool winograd = packed && winograd_fits(g);
  if (direct_conv_fits(g) && !(add && pool) && !by_channel_fits(g) && !winograd) {
    conv2d_direct_forward(g, x, w, b, relu && !add, out, pool);
    if (add)
      for (int64_t i = 0, n = g.n * g.o * g.oh * g.ow; i < n; ++i) {
        const float v = out[i] + add[i];
        out[i] = !relu || v > 0.f || v != v ? v : 0.f;
      }
    return;
  }
  const int64_t K = g.cg() * g.kh * g.kw, P = g.oh * g.ow, og = g.og();
  const int64_t in_img = g.c * g.h * g.w, out_img = g.o * P, col_img = g.col_rows() * P;
  // With pool, image n's convolution goes to the calling thread's scratch slot 3 (target) and is
  // pooled from there, in cache, into out (finish).
  const int64_t pooled_img = g.o * (g.oh / 2) * (g.ow / 2);
  auto target = [&](int64_t n) { return pool ? scratch(3, static_cast<size_t>(out_img)) : out + n * out_img; };
  auto finish = [&](int64_t n, const float* full) {
    if (pool) max_pool2x2_serial(g.o, g.oh, g.ow, full, out + n * pooled_img);
  };
  if (winograd || by_channel_fits(g)) {
    const bool pool_tiles = pool && !add;  // pooled from the pixel-major tiles, in window order
    std::optional<ByChannel> bc;
    if (!winograd) bc.emplace(g, w, packed, pool_tiles);
    auto image = [&](int64_t n, bool split) {
      const float* xn = x + n * in_img;
      const float* an = add ? add + n * out_img : nullptr;
      if (pool_tiles && winograd) return forward_winograd(g, packed, xn, b, relu, out + n * pooled_img, an, true, split);
      if (pool_tiles) return forward_by_channel_pooled(g, *bc, xn, b, relu, out + n * pooled_img, split);
      float* o = target(n);
      if (winograd) forward_winograd(g, packed, xn, b, relu, o, an, false, split);
      else forward_by_channel(g, *bc, xn, b, relu, o, an, split);
      finish(n, o);
    };
    if (g.n == 1) return image(0, bands);
    parallel_for(0, g.n, 1, [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) image(n, false);
    });
    return;
  }
  if (padded_width_fits(g)) {
    auto image = [&](int64_t n, bool split) {
      float* o = target(n);
      forward_padded_width(g, x + n * in_img, w, b, relu, o, add ? add + n * out_img : nullptr, split);
      finish(n, o);
    };
    if (g.n == 1) return image(0, bands);
    parallel_for(0, g.n, 1, [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) image(n, false);
    });
    return;
  }
  const size_t col_size = g.col_is_input() ? 0 : static_cast<size_t>(col_img);
  // out[n, group] (og, P) = bias + w[group] (og, K) x col[group] (K, P).
  auto one = [&](int64_t n, float* colbuf, GemmFn mm) {
    const float* col = x + n * in_img;
    if (!g.col_is_input()) {
      im2col(g, x + n * in_img, colbuf);
      col = colbuf;
    }
    float* o = target(n);
    // The bias (and the added input) first, then the GEMM adds onto it (beta 1): one pass over
    // out fewer.
    if (add) std::copy(add + n * out_img, add + (n + 1) * out_img, o);
    if (b)
      for (int64_t oc = 0; oc < g.o; ++oc) {
        if (add) {
          for (int64_t p = 0; p < P; ++p) o[oc * P + p] += b[oc];
        } else {
          std::fill(o + oc * P, o + (oc + 1) * P, b[oc]);
        }
      }
    const float beta = b || add ? 1.f : 0.f;
    for (int64_t grp = 0; grp < g.groups; ++grp)
      mm(false, false, og, P, K, 1.f, w + grp * og * K, K, col + grp * K * P, P, beta, o + grp * og * P, P);
    if (relu)  // while the image's output is still in cache
      for (int64_t i = 0; i < out_img; ++i) o[i] = o[i] > 0.f || o[i] != o[i] ? o[i] : 0.f;
    finish(n, o);
  };
  if (g.n == 1) {  // one image: the GEMMs themselves run in parallel blocks
    one(0, scratch(0, col_size), gemm);
    return;
  }
  parallel_for(0, g.n, 1, [&](int64_t n0, int64_t n1) {
    float* colbuf = scratch(0, col_size);
    for (int64_t n = n0; n < n1; ++n) one(n, colbuf, gemm_serial);
  });
}

// Backward of out[n] = W · col(x[n]) + b (per group; W is (og, K), col is (K, P)):
//   dL/dW      = Σ_n dL/dout[n] · col(x[n])ᵀ          (og, P) x (P, K)
//   dL/dcol[n] = Wᵀ · dL/dout[n], and dL/dx[n] = col2im(dL/dcol[n])  (im2col's adjoint: every
//                column entry that copied x[c, iy, ix] sends its gradient back there)
//   dL/db[o]   = Σ_n Σ_p dL/dout[n, o, p]
// The sum over n for dW runs over fixed image ranges (weight_parts), each range accumulating its
// images in order into its own partial; the partials are then added in range order. In the
// channel-vector form (weight_grad_by_channel) the partials are dWᵀ (K, o), transposed as added.
void conv2d_backward(const Conv2dGeom& g, const float* x, const float* w, const float* gout, float* gx, float* gw,
                     float* gb, bool assign_gx) {
  const int64_t K = g.cg() * g.kh * g.kw, P = g.oh * g.ow, og = g.og();
  const int64_t in_img = g.c * g.h * g.w, out_img = g.o * P, col_img = g.col_rows() * P;
  const int64_t wnum = g.o * K;
  const size_t col_size = g.col_is_input() ? 0 : static_cast<size_t>(col_img);

  if (gb) {
    parallel_for(0, g.o, 1, [&](int64_t o0, int64_t o1) {
      for (int64_t oc = o0; oc < o1; ++oc) {
        double s = 0;
        for (int64_t n = 0; n < g.n; ++n) s += sum_row(gout + n * out_img + oc * P, P);
        gb[oc] += static_cast<float>(s);
      }
    });
  }
  if (gw && direct_conv_fits(g)) {
    conv2d_direct_weight_grad(g, x, gout, gw);
    gw = nullptr;
  }
  if (gx && padded_width_fits(g) && g.ph < g.kh && g.pw < g.kw) {
    input_grad_stride1(g, w, gout, gx, assign_gx);
    gx = nullptr;
  }
  if (!gx && !gw) return;
  const bool dw_by_channel = gw && weight_grad_by_channel_fits(g);
  const std::vector<int64_t> off = dw_by_channel ? pixel_offsets(g, P) : std::vector<int64_t>();

  // Image n: adds its weight gradient into wacc (beta 0 for the first image of a range, so the
  // range's partial is assigned, then accumulated) and its input gradient into gx.
  auto one = [&](int64_t n, float* wacc, float wbeta, float* colbuf, float* dcolbuf, GemmFn mm) {
    const float* go = gout + n * out_img;
    if (wacc && dw_by_channel) {
      weight_grad_by_channel(g, off.data(), x + n * in_img, go, wacc, wbeta != 0.f);
    } else if (wacc && padded_width_fits(g)) {
      weight_grad_padded_width(g, x + n * in_img, go, wacc, wbeta);
    } else if (wacc) {
      const float* col = x + n * in_img;
      if (!g.col_is_input()) {
        im2col(g, col, colbuf);
        col = colbuf;
      }
      for (int64_t grp = 0; grp < g.groups; ++grp)
        mm(false, true, og, K, P, 1.f, go + grp * og * P, P, col + grp * K * P, P, wbeta, wacc + grp * og * K, K);
    }
    if (gx) {
      float* dx = gx + n * in_img;
      if (g.col_is_input()) {  // d col is d x itself: accumulate (or store) straight into it
        for (int64_t grp = 0; grp < g.groups; ++grp)
          mm(true, false, K, P, og, 1.f, w + grp * og * K, K, go + grp * og * P, P, assign_gx ? 0.f : 1.f,
             dx + grp * K * P, P);
      } else {
        for (int64_t grp = 0; grp < g.groups; ++grp)
          mm(true, false, K, P, og, 1.f, w + grp * og * K, K, go + grp * og * P, P, 0.f, dcolbuf + grp * K * P, P);
        if (assign_gx) std::fill(dx, dx + in_img, 0.f);
        col2im_add(g, dcolbuf, dx);
      }
    }
  };

  if (g.n == 1 && !dw_by_channel) {  // one image: parallel GEMMs, the weight gradient added straight to gw
    one(0, gw, 1.f, gw ? scratch(0, col_size) : nullptr, gx ? scratch(1, col_size) : nullptr, gemm);
    return;
  }
  if (!gw) {
    parallel_for(0, g.n, 1, [&](int64_t n0, int64_t n1) {
      float* dcolbuf = scratch(1, col_size);
      for (int64_t n = n0; n < n1; ++n) one(n, nullptr, 0.f, nullptr, dcolbuf, gemm_serial);
    });
    return;
  }
  if (g.n == 0) return;  // no image adds to gw (and no range would assign its partial)
  const int64_t parts = weight_parts(g);
  // The partials live in the calling thread's buffer, kept across calls: each range assigns its
  // first image's gradient, so nothing needs zeroing, and no pages are mapped again every step.
  // (The workers reach it through this pointer: a thread_local named inside them is their own.)
  thread_local std::vector<float> partial_buffer;
  if (partial_buffer.size() < static_cast<size_t>(parts * wnum))
    partial_buffer.resize(static_cast<size_t>(parts * wnum));
  float* partial = partial_buffer.data();
  parallel_for(0, parts, 1, [&](int64_t q0, int64_t q1) {
    float* colbuf = scratch(0, col_size);
    float* dcolbuf = gx ? scratch(1, col_size) : nullptr;
    for (int64_t q = q0; q < q1; ++q) {
      const int64_t n0 = q * g.n / parts, n1 = (q + 1) * g.n / parts;
      for (int64_t n = n0; n < n1; ++n)
        one(n, partial + q * wnum, n == n0 ? 0.f : 1.f, colbuf, dcolbuf, gemm_serial);
    }
  });
  // gw += Σ_q partial[q], each element summed in q order; vectorized across elements.
  parallel_for(0, wnum, 4096, [&](int64_t i0, int64_t i1) {
    float sum[4096];
    const int64_t len = i1 - i0;
    for (int64_t i = 0; i < len; ++i) sum[i] = partial[i0 + i];
    for (int64_t q = 1; q < parts; ++q) {
      const float* __restrict p = partial + q * wnum + i0;
      for (int64_t i = 0; i < len; ++i) sum[i] += p[i];
    }
    if (dw_by_channel) {
      for (int64_t i = 0; i < len; ++i) gw[(i0 + i) % g.o * K + (i0 + i) / g.o] += sum[i];
    } else {
      for (int64_t i = 0; i < len; ++i) gw[i0 + i] += sum[i];
    }
  });
}

}  // namespace wick::kernels
