// Raw 2-D pooling kernels (max, average, adaptive average) over contiguous (planes, H, W) float32
// data, where planes = N*C. Forward kernels assign the output; backward kernels add (+=).
#pragma once
#include <cstdint>

namespace wick::kernels {

// PyTorch's pooling output length along one dim: floor (or ceil) of
// (in + 2*pad - dilation*(kernel-1) - 1) / stride + 1, where in ceil mode the last window must
// start inside the input or the left padding. May be < 1 (the caller reports that).
int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation, bool ceil_mode);

// Every size of one pooling call: input (planes, h, w), output (planes, oh, ow), window
// kh x kw with stride s*, padding p* and dilation d* (1 for average pooling).
struct Pool2dGeom {
  int64_t planes, h, w, oh, ow;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
};

// in (planes, h, w) -> out (planes, oh, ow), idx (planes, oh, ow): the argmax's flat position
// y*w + x within its plane (the caller checks h*w fits in int32) (the first maximum in row-major scan order; a NaN wins, as PyTorch).
// idx may be null (inference: no positions wanted).
void max_pool2d_forward(const Pool2dGeom& g, const float* in, float* out, int32_t* idx);
// Its 2x2, stride-2 case in the calling thread: in (planes, h, w) -> out and idx (planes, h/2,
// w/2), idx optional. max_pool2d_forward runs it per chunk of planes; a convolution with pooling
// fused runs it per image, on planes still in cache.
void max_pool2x2_serial(int64_t planes, int64_t h, int64_t w, const float* in, float* out,
                        int32_t* idx = nullptr);
// gout (planes, oh, ow), idx from the forward -> adds into gin (planes, h, w) (assigns when
// assign, gin then being uninitialized).
void max_pool2d_backward(const Pool2dGeom& g, const float* gout, const int32_t* idx, bool assign, float* gin);

// Mean over each window clipped to the padded input; the divisor counts padding cells when
// count_include_pad, else only the cells inside the input. in (planes, h, w) -> out (planes, oh, ow).
void avg_pool2d_forward(const Pool2dGeom& g, bool count_include_pad, const float* in, float* out);
void avg_pool2d_backward(const Pool2dGeom& g, bool count_include_pad, const float* gout, float* gin);

// Output cell (i, j) averages rows [floor(i*h/oh), ceil((i+1)*h/oh)) and the like columns.
// in (planes, h, w) -> out (planes, oh, ow).
void adaptive_avg_pool2d_forward(int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow, const float* in,
                                 float* out);
void adaptive_avg_pool2d_backward(int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow, const float* gout,
                                  float* gin);

}  // namespace wick::kernels
