// Generation of the Synthetic dataset: per-sample seeded shapes over noise.
#include "data/synthetic.h"

#include <algorithm>
#include <cmath>

#include "core/parallel.h"

namespace wick::data {
namespace {

// Draws sample `index` of class `label` into out (C, H, W).
void draw_sample(const SyntheticOptions& o, int64_t index, int64_t label, uint8_t* out) {
  int64_t C = o.channels(), H = o.height(), W = o.width();
  Rng rng(derive_seed(o.seed(), static_cast<uint64_t>(index)));
  double side = static_cast<double>(std::min(H, W));
  double angle = 2.0 * M_PI * static_cast<double>(label) / static_cast<double>(o.classes());
  double radius = 0.25 * side;
  double jitter = 0.08 * side;
  double cy = 0.5 * (H - 1) + radius * std::sin(angle) + jitter * (2 * rng.uniform() - 1);
  double cx = 0.5 * (W - 1) + radius * std::cos(angle) + jitter * (2 * rng.uniform() - 1);
  double size = 0.16 * side * (0.85 + 0.3 * rng.uniform());
  double brightness = 180.0 + 75.0 * rng.uniform();
  bool disc = label % 2 == 0;
  double noise = 255.0 * o.noise();
  for (int64_t c = 0; c < C; ++c) {
    // each class its own tint when there are several channels
    double tint = C == 1 ? 1.0 : 0.55 + 0.45 * std::cos(angle + 2.0 * M_PI * static_cast<double>(c) / static_cast<double>(C));
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        double dy = static_cast<double>(y) - cy, dx = static_cast<double>(x) - cx;
        bool inside = disc ? dy * dy + dx * dx <= size * size : std::max(std::fabs(dy), std::fabs(dx)) <= size;
        double v = noise * rng.uniform() + (inside ? brightness * tint : 0.0);
        out[(c * H + y) * W + x] = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
      }
  }
}

ImageDataset generate(int64_t n, const SyntheticOptions& o) {
  const std::string who = "Synthetic";
  WICK_CHECK(n > 0, who, ": the number of samples must be positive, got ", n);
  WICK_CHECK(o.classes() >= 1 && o.classes() <= 1000, who, ": classes must be in [1, 1000], got ", o.classes());
  WICK_CHECK(o.channels() >= 1 && o.channels() <= 4, who, ": channels must be in [1, 4], got ", o.channels());
  WICK_CHECK(o.height() >= 4 && o.width() >= 4 && o.height() <= 1024 && o.width() <= 1024, who,
             ": height and width must be in [4, 1024], got ", o.height(), "x", o.width());
  WICK_CHECK(o.noise() >= 0 && o.noise() <= 1, who, ": noise must be in [0, 1], got ", o.noise());
  int64_t per = o.channels() * o.height() * o.width();
  WICK_CHECK(n <= (int64_t(1) << 32) / per, who, ": ", n, " samples of ", per, " bytes is too many");
  std::vector<uint8_t> pixels(static_cast<size_t>(n * per));
  std::vector<int64_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) labels[i] = i % o.classes();
  parallel_for(0, n, std::max<int64_t>(1, 16384 / per), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) draw_sample(o, i, labels[i], pixels.data() + i * per);
  });
  Normalization norm = ImageDataset::compute_normalization(pixels.data(), n, o.channels(), o.height() * o.width());
  std::vector<std::string> names;
  for (int64_t k = 0; k < o.classes(); ++k) names.push_back((k % 2 == 0 ? "disc-" : "square-") + std::to_string(k));
  return ImageDataset(std::move(pixels), std::move(labels), o.channels(), o.height(), o.width(), o.classes(), norm,
                      std::move(names), who);
}

}  // namespace

Synthetic::Synthetic(int64_t n, const SyntheticOptions& options) : ImageDataset(generate(n, options)) {}

}  // namespace wick::data
