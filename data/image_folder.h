// ImageFolder: one subfolder per class of PNG/JPEG/BMP files, decoded with stb_image and resized
// to one fixed size; plus the resize it uses.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "core/options.h"

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

// Resizes an interleaved (H, W, C) uint8 image to (out_height, out_width, C), each axis on its
// own: area averaging when it shrinks (every source pixel counts by how much of it an output pixel
// covers), bilinear interpolation (PyTorch's align_corners=false) when it grows, a copy when equal.
std::vector<uint8_t> resize_image(const uint8_t* src, int64_t height, int64_t width, int64_t channels,
                                  int64_t out_height, int64_t out_width);

}  // namespace wick::data
