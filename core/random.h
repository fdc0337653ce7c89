// The seeded global random generator and the random factories. Sequences are fixed by the seed
// (std::mt19937's output is specified by the standard; the float conversions are wick's own).
#pragma once
#include <cstdint>
#include <string>

#include "tensor.h"

namespace wick {

void manual_seed(uint64_t seed);

// The global generator's whole state as text (std::mt19937's standard stream form), and restoring
// it, so a resumed run draws what the uninterrupted run would have. Throws wick::Error for text
// that is not such a state.
std::string random_state();
void set_random_state(const std::string& state);

// Raw draws from the global generator (for data shuffling, dropout masks, init).
uint32_t random_u32();
double random_uniform();  // [0, 1) with 53 random bits
double random_normal();   // standard normal, Box–Muller

Tensor rand(const Shape& shape);   // U[0, 1)
Tensor randn(const Shape& shape);  // N(0, 1)
Tensor uniform(const Shape& shape, double lo, double hi);
Tensor randint(int64_t low, int64_t high, const Shape& shape);  // int64 in [low, high)
Tensor randperm(int64_t n);  // int64 permutation of 0..n-1 (Fisher–Yates)

}  // namespace wick
