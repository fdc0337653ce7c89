// ImageFolder: directory scan, stb_image decoding in parallel (errors reported for the first bad
// file in order, whatever the thread count), separable area / bilinear resize.
#include "data/image_folder.h"

#include <stb/stb_image.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <system_error>

#include "core/parallel.h"
#include "data/file_io.h"
#include "data/image_checks.h"

namespace wick::data {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMaxImageFile = uint64_t(1) << 28;  // 256 MiB
constexpr int64_t kMaxImagePixels = int64_t(1) << 26;   // 64 megapixels
constexpr int64_t kMaxSide = 1 << 15;

// Output index o of one axis reads taps [offsets[o], offsets[o+1]) of (index, weight).
struct AxisTaps {
  std::vector<int64_t> offsets, index;
  std::vector<float> weight;
};

AxisTaps axis_taps(int64_t in, int64_t out) {
  AxisTaps t;
  t.offsets.push_back(0);
  auto add = [&](int64_t i, double w) {
    t.index.push_back(std::clamp<int64_t>(i, 0, in - 1));
    t.weight.push_back(static_cast<float>(w));
  };
  for (int64_t o = 0; o < out; ++o) {
    if (in == out) {
      add(o, 1.0);
    } else if (out < in) {  // area: the source interval [o*scale, (o+1)*scale)
      double scale = static_cast<double>(in) / static_cast<double>(out);
      double start = static_cast<double>(o) * scale, end = static_cast<double>(o + 1) * scale;
      for (auto s = static_cast<int64_t>(std::floor(start)); static_cast<double>(s) < end && s < in; ++s) {
        double cover = std::min(end, static_cast<double>(s + 1)) - std::max(start, static_cast<double>(s));
        if (cover > 0) add(s, cover / scale);
      }
    } else {  // bilinear, align_corners=false
      double x = (static_cast<double>(o) + 0.5) * static_cast<double>(in) / static_cast<double>(out) - 0.5;
      x = std::max(x, 0.0);
      auto x0 = static_cast<int64_t>(std::floor(x));
      double frac = x - static_cast<double>(x0);
      add(x0, 1.0 - frac);
      add(std::min(x0 + 1, in - 1), frac);
    }
    t.offsets.push_back(static_cast<int64_t>(t.index.size()));
  }
  return t;
}

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

bool hidden(const fs::path& p) {
  std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

// Decodes and resizes one image into out (C, H, W); returns an error message starting with `who`,
// or "" on success.
std::string load_one(const std::string& path, int64_t channels, int64_t height, int64_t width, uint8_t* out,
                     const std::string& who) {
  std::vector<uint8_t> bytes;
  try {
    bytes = detail::read_file(path, kMaxImageFile, who.c_str());
  } catch (const Error& e) {
    return e.what();
  }
  if (std::string why = detail::image_file_error(bytes); !why.empty())
    return who + ": cannot decode " + path + " (" + why + ")";
  int w = 0, h = 0, comp = 0;
  auto len = static_cast<int>(bytes.size());
  if (!stbi_info_from_memory(bytes.data(), len, &w, &h, &comp))
    return who + ": cannot decode " + path + " (" + stbi_failure_reason() + ")";
  if (w <= 0 || h <= 0 || static_cast<int64_t>(w) * h > kMaxImagePixels)
    return who + ": " + path + " is " + std::to_string(w) + "x" + std::to_string(h) + " pixels, more than the " +
           std::to_string(kMaxImagePixels) + " allowed";
  uint8_t* decoded = stbi_load_from_memory(bytes.data(), len, &w, &h, &comp, static_cast<int>(channels));
  if (!decoded) return who + ": cannot decode " + path + " (" + stbi_failure_reason() + ")";
  std::vector<uint8_t> resized;
  try {
    resized = resize_image(decoded, h, w, channels, height, width);
  } catch (...) {
    stbi_image_free(decoded);
    throw;
  }
  stbi_image_free(decoded);
  // (H, W, C) -> (C, H, W)
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t k = 0; k < height * width; ++k) out[c * height * width + k] = resized[k * channels + c];
  return {};
}

// The checks both loaders make of the shape they are asked for.
void check_shape(const std::string& who, int64_t channels, int64_t height, int64_t width) {
  WICK_CHECK(channels == 1 || channels == 3, who, ": channels must be 1 or 3, got ", channels);
  WICK_CHECK(height > 0 && width > 0 && height <= kMaxSide && width <= kMaxSide, who,
             ": image size must be between 1 and ", kMaxSide, ", got ", height, "x", width);
}

ImageDataset load_folder(const std::string& dir, const ImageFolderOptions& options) {
  const std::string who = "ImageFolder";
  int64_t channels = options.channels(), height = options.height(), width = options.width();
  check_shape(who, channels, height, width);
  std::error_code ec;
  WICK_CHECK(fs::is_directory(dir, ec), who, ": ", dir, " is not a directory (expected one subfolder per class)");

  std::vector<std::string> class_names;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_directory() && !hidden(entry.path())) class_names.push_back(entry.path().filename().string());
  WICK_CHECK(!ec, who, ": cannot list ", dir, ": ", ec.message());
  std::sort(class_names.begin(), class_names.end());
  WICK_CHECK(!class_names.empty(), who, ": ", dir, " has no class subfolders (expected ", dir, "/<class>/<image>)");

  std::vector<std::string> files;
  std::vector<int64_t> labels;
  for (size_t k = 0; k < class_names.size(); ++k) {
    fs::path class_dir = fs::path(dir) / class_names[k];
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(class_dir, ec))
      if (!hidden(entry.path()) && is_image_name(entry.path()) && entry.is_regular_file())
        names.push_back(entry.path().string());
    WICK_CHECK(!ec, who, ": cannot list ", class_dir.string(), ": ", ec.message());
    WICK_CHECK(!names.empty(), who, ": class folder ", class_dir.string(),
               " has no images (.png, .jpg, .jpeg or .bmp)");
    std::sort(names.begin(), names.end());
    for (auto& name : names) {
      files.push_back(std::move(name));
      labels.push_back(static_cast<int64_t>(k));
    }
  }

  auto n = static_cast<int64_t>(files.size());
  int64_t per = channels * height * width;
  std::vector<uint8_t> pixels(static_cast<size_t>(n * per));
  std::vector<std::string> errors(files.size());
  parallel_for(0, n, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      errors[i] = load_one(files[i], channels, height, width, pixels.data() + i * per, who);
  });
  for (const std::string& err : errors)
    if (!err.empty()) throw Error(err);

  Normalization norm = options.normalization().has_value()
                           ? *options.normalization()
                           : ImageDataset::compute_normalization(pixels.data(), n, channels, height * width);
  auto num_classes = static_cast<int64_t>(class_names.size());
  return ImageDataset(std::move(pixels), std::move(labels), channels, height, width, num_classes, norm,
                      std::move(class_names), who);
}

}  // namespace

Tensor load_image(const std::string& path, const LoadImageOptions& options) {
  const std::string who = "load_image";
  const int64_t channels = options.channels(), height = options.height(), width = options.width();
  check_shape(who, channels, height, width);
  std::vector<uint8_t> pixels(static_cast<size_t>(channels * height * width));
  if (std::string err = load_one(path, channels, height, width, pixels.data(), who); !err.empty()) throw Error(err);
  // The dataset's own arithmetic (ImageDataset::set_normalization), on one image.
  ImageDataset one(std::move(pixels), {0}, channels, height, width, 1,
                   options.normalization().value_or(Normalization::none(channels)), {"image"}, who);
  return one.get(0).data;
}

std::vector<uint8_t> resize_image(const uint8_t* src, int64_t height, int64_t width, int64_t channels,
                                  int64_t out_height, int64_t out_width) {
  // src (H, W, C) -> out (OH, OW, C)
  WICK_CHECK(height > 0 && width > 0 && channels > 0 && out_height > 0 && out_width > 0,
             "resize_image: sizes must be positive, got ", height, "x", width, "x", channels, " -> ", out_height,
             "x", out_width);
  AxisTaps xs = axis_taps(width, out_width), ys = axis_taps(height, out_height);
  std::vector<float> rows(static_cast<size_t>(height * out_width * channels));  // (H, OW, C)
  for (int64_t y = 0; y < height; ++y)
    for (int64_t ox = 0; ox < out_width; ++ox)
      for (int64_t c = 0; c < channels; ++c) {
        float acc = 0.0f;
        for (int64_t t = xs.offsets[ox]; t < xs.offsets[ox + 1]; ++t)
          acc += xs.weight[t] * static_cast<float>(src[(y * width + xs.index[t]) * channels + c]);
        rows[(y * out_width + ox) * channels + c] = acc;
      }
  std::vector<uint8_t> out(static_cast<size_t>(out_height * out_width * channels));
  for (int64_t oy = 0; oy < out_height; ++oy)
    for (int64_t ox = 0; ox < out_width; ++ox)
      for (int64_t c = 0; c < channels; ++c) {
        float acc = 0.0f;
        for (int64_t t = ys.offsets[oy]; t < ys.offsets[oy + 1]; ++t)
          acc += ys.weight[t] * rows[(ys.index[t] * out_width + ox) * channels + c];
        out[(oy * out_width + ox) * channels + c] = static_cast<uint8_t>(std::clamp(std::lround(acc), 0L, 255L));
      }
  return out;
}

ImageFolder::ImageFolder(const std::string& dir, const ImageFolderOptions& options)
    : ImageDataset(load_folder(dir, options)) {}

}  // namespace wick::data

