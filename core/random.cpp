// Global generator (mt19937, seeded by manual_seed) and the random tensor factories.
#include "core/random.h"

#include <cmath>
#include <mutex>
#include <random>
#include <sstream>

namespace wick {
namespace {

std::mutex gen_mutex;
std::mt19937& generator() {
  static std::mt19937 gen(0);
  return gen;
}

uint32_t draw_locked() { return static_cast<uint32_t>(generator()()); }

double uniform_locked() {
  uint64_t hi = draw_locked() >> 5, lo = draw_locked() >> 6;  // 27 + 26 bits
  return (static_cast<double>(hi) * 67108864.0 + static_cast<double>(lo)) / 9007199254740992.0;
}

}  // namespace

void manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(gen_mutex);
  generator().seed(static_cast<std::mt19937::result_type>(seed ^ (seed >> 32)));
}

std::string random_state() {
  std::lock_guard<std::mutex> lock(gen_mutex);
  std::ostringstream os;
  os << generator();
  return os.str();
}

void set_random_state(const std::string& state) {
  std::istringstream is(state);
  std::mt19937 restored;
  is >> restored;
  bool ok = !is.fail();
  if (ok && !is.eof()) ok = (is >> std::ws).eof();  // nothing after the state
  WICK_CHECK(ok, "set_random_state: not a generator state (", std::mt19937::state_size,
             " numbers expected, then an index)");
  std::lock_guard<std::mutex> lock(gen_mutex);
  generator() = restored;
}

uint32_t random_u32() {
  std::lock_guard<std::mutex> lock(gen_mutex);
  return draw_locked();
}

double random_uniform() {
  std::lock_guard<std::mutex> lock(gen_mutex);
  return uniform_locked();
}

double random_normal() {
  std::lock_guard<std::mutex> lock(gen_mutex);
  double u1 = uniform_locked(), u2 = uniform_locked();
  return std::sqrt(-2.0 * std::log1p(-u1)) * std::cos(2.0 * M_PI * u2);
}

Tensor uniform(const Shape& shape, double lo, double hi) {
  WICK_CHECK(lo <= hi, "uniform: lower bound ", lo, " is above upper bound ", hi);
  Tensor t = empty(shape);
  float* p = t.data<float>();
  std::lock_guard<std::mutex> lock(gen_mutex);
  for (int64_t k = 0; k < t.numel(); ++k) p[k] = static_cast<float>(lo + (hi - lo) * uniform_locked());
  return t;
}

Tensor rand(const Shape& shape) { return uniform(shape, 0.0, 1.0); }

Tensor randn(const Shape& shape) {
  Tensor t = empty(shape);
  float* p = t.data<float>();
  for (int64_t k = 0; k < t.numel(); ++k) p[k] = static_cast<float>(random_normal());
  return t;
}

Tensor randint(int64_t low, int64_t high, const Shape& shape) {
  WICK_CHECK(low < high, "randint: empty range [", low, ", ", high, ")");
  Tensor t = empty(shape, Dtype::Int64);
  int64_t* p = t.data<int64_t>();
  auto span = static_cast<double>(high - low);
  std::lock_guard<std::mutex> lock(gen_mutex);
  for (int64_t k = 0; k < t.numel(); ++k) p[k] = low + static_cast<int64_t>(uniform_locked() * span);
  return t;
}

Tensor randperm(int64_t n) {
  WICK_CHECK(n >= 0, "randperm: n must be non-negative, got ", n);
  Tensor t = arange(static_cast<double>(n), Dtype::Int64);
  int64_t* p = t.data<int64_t>();
  std::lock_guard<std::mutex> lock(gen_mutex);
  for (int64_t i = n - 1; i > 0; --i) {
    auto j = static_cast<int64_t>(uniform_locked() * static_cast<double>(i + 1));
    std::swap(p[i], p[j]);
  }
  return t;
}

}  // namespace wick
