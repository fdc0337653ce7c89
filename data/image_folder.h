// ImageFolder: one subfolder per class of PNG/JPEG/BMP files, decoded with stb_image and resized
// to one fixed size; load_image, the same for one file (single-image inference); and the resize.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dataset.h"
#include "../core/options.h"

namespace wick::data {

// All options are read once, when the images are loaded.
struct ImageFolderOptions {
  ImageFolderOptions(int64_t height, int64_t width) : height_(height), width_(width) {}
  WICK_ARG(int64_t, height);
  WICK_ARG(int64_t, width);
  // 1 (grey: stb_image's luminance of colour files) or 3 (RGB; grey files are replicated).
  WICK_ARG(int64_t, channels) = 3;
  // Fixed per-channel normalization; unset: the mean and std of the folder's own pixels. Give the
  // training folder's values (its normalization()) to a validation folder.
  WICK_ARG(std::optional<Normalization>, normalization);
};

// `dir`/<class>/<image>: class indices follow the sorted subfolder names (hidden entries are
// skipped), images the sorted file names within each; files ending in .png, .jpg, .jpeg or .bmp
// (any case) are read, other files ignored. Every image is decoded (in parallel), resized to
// height x width with resize_image and stored as uint8. An undecodable image is an error naming
// the file, as is a class folder without images.
class ImageFolder : public ImageDataset {
 public:
  ImageFolder(const std::string& dir, const ImageFolderOptions& options);
};

// How load_image reads one file. All options are read at the call.
struct LoadImageOptions {
  LoadImageOptions(int64_t height, int64_t width) : height_(height), width_(width) {}
  WICK_ARG(int64_t, height);
  WICK_ARG(int64_t, width);
  WICK_ARG(int64_t, channels) = 3;  // 1 or 3, as ImageFolderOptions
  // (p / 255 - mean) / std per channel, as a dataset's items; unset: p / 255 in [0, 1].
  WICK_ARG(std::optional<Normalization>, normalization);
};

// One PNG/JPEG/BMP file decoded, converted to the channels, resized (resize_image) and normalized
// exactly as ImageFolder's items are: a float32 (C, H, W) tensor. Unreadable, corrupt or oversized
// files are errors naming the file.
Tensor load_image(const std::string& path, const LoadImageOptions& options);

// Resizes an interleaved (H, W, C) uint8 image to (out_height, out_width, C), each axis on its
// own: area averaging when it shrinks (every source pixel counts by how much of it an output pixel
// covers), bilinear interpolation (PyTorch's align_corners=false) when it grows, a copy when equal.
std::vector<uint8_t> resize_image(const uint8_t* src, int64_t height, int64_t width, int64_t channels,
                                  int64_t out_height, int64_t out_width);

}  // namespace wick::data
