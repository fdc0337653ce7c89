// The 2x2, stride-2 max pooling for CPUs with AVX-512 (pool.cpp runs it where wick's AVX-512
// kernels are in use): 16 windows a vector, each row pair's even and odd columns split apart by
// permutes, the four candidates compared in scan order with the portable kernel's rule.
#pragma once
#include <cstdint>

namespace wick::kernels {

// As max_pool2x2_serial (pool.h): in (planes, h, w) -> out, idx (planes, h/2, w/2), idx optional.
// Window (oy, ox) takes the first maximum of x[2oy][2ox], x[2oy][2ox+1], x[2oy+1][2ox],
// x[2oy+1][2ox+1] in that order (-0 equals +0), then the last NaN among them if any: the same
// values and positions, bit for bit.
void max_pool2x2_avx512(int64_t planes, int64_t h, int64_t w, const float* in, float* out, int32_t* idx);

}  // namespace wick::kernels
