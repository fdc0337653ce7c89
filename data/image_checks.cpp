// The checks in front of stb_image (image_checks.h): the format by its signature, a PNG's chunks
// walked and its image data inflated (through zlib, into a small buffer) only to count the bytes,
// a JPEG's marker segments walked, a BMP's header read. stb_image 2.27 also decodes a truncated
// JPEG or BMP as if the missing bytes were there, so a few hundred bytes whose header declares 64
// megapixels cost 192 MB and a second of decoding and resizing: each format's smallest encoding
// of the declared image must fit in the file.
#include "data/image_checks.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>
#include <utility>

namespace wick::data::detail {
namespace {

uint32_t le32(const uint8_t* p) { return uint32_t{p[3]} << 24 | uint32_t{p[2]} << 16 | uint32_t{p[1]} << 8 | p[0]; }
uint32_t be32(const uint8_t* p) { return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3]; }

bool starts_with(const std::vector<uint8_t>& b, std::initializer_list<uint8_t> prefix) {
  return b.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), b.begin());
}

// Bytes a PNG's image data inflates to: per row a filter byte and ceil(width * bits per pixel / 8)
// bytes, over the seven Adam7 passes when interlaced; 0 for an unknown colour type (stb refuses it).
double png_scanline_bytes(double width, double height, int depth, int colour, bool interlaced) {
  static const int kChannels[7] = {1, 0, 3, 1, 2, 0, 4};
  const int channels = colour >= 0 && colour < 7 ? kChannels[colour] : 0;
  auto rows = [&](double w, double h) { return w > 0 && h > 0 ? h * (1 + std::ceil(w * channels * depth / 8)) : 0; };
  if (!interlaced) return rows(width, height);
  static const int kPass[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                  {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};  // x0, y0, dx, dy
  double total = 0;
  for (const auto& [x0, y0, dx, dy] : kPass)
    total += rows(std::ceil((width - x0) / dx), std::ceil((height - y0) / dy));
  return total;
}

// Counts the bytes a zlib stream fed in pieces inflates to, into a small buffer.
class InflatedSize {
 public:
  explicit InflatedSize(bool raw) { ok_ = inflateInit2(&z_, raw ? -15 : 15) == Z_OK; }
  ~InflatedSize() { inflateEnd(&z_); }
  InflatedSize(const InflatedSize&) = delete;
  InflatedSize& operator=(const InflatedSize&) = delete;

  // Feeds n bytes, stopping once more than `limit` bytes came out; "" or zlib's complaint.
  std::string feed(const uint8_t* data, uint32_t n, double limit) {
    if (!ok_) return "zlib cannot start";
    z_.next_in = const_cast<Bytef*>(data);
    z_.avail_in = n;
    while (!ended_ && (z_.avail_in > 0 || z_.avail_out == 0) && bytes_ <= limit) {
      unsigned char out[1 << 14];
      z_.next_out = out;
      z_.avail_out = sizeof out;
      const int r = inflate(&z_, Z_NO_FLUSH);
      bytes_ += static_cast<double>(sizeof out - z_.avail_out);
      if (r == Z_STREAM_END) ended_ = true;
      else if (r == Z_BUF_ERROR) break;  // wants the next chunk
      else if (r != Z_OK) return z_.msg ? z_.msg : "zlib error " + std::to_string(r);
    }
    return {};
  }
  double bytes() const { return bytes_; }

 private:
  z_stream z_{};
  bool ok_ = false, ended_ = false;
  double bytes_ = 0;
};

std::string chunk_name(const uint8_t* p) {
  const bool letters = std::all_of(p, p + 4, [](uint8_t c) { return std::isalpha(c) != 0; });
  return letters ? std::string(p, p + 4) + " chunk" : "chunk";
}

// stb_image 2.27 grows its buffer to the power of two above each IDAT chunk's declared length before
// reading it (a 1.2 GB claim in a 114-byte file was a 2 GiB allocation), and inflates the image data
// without a bound; so every chunk must fit the file, and the data may inflate to at most twice what
// the header's image needs plus 64 KiB (stb accepts trailing data: some encoders write zeros there).
// Data too short to fill the image even at deflate's largest ratio is refused before stb allocates
// the image's size. The inflated size is counted only when the data could exceed both that and kSmallInflate at
// deflate's largest ratio, 1032:1: small images and moderate files skip the second inflate.
std::string png_error(const std::vector<uint8_t>& b) {
  constexpr double kMaxRatio = 1032, kSmallInflate = double(1 << 28);
  bool iphone = false, have_header = false;  // CgBI: Apple's PNGs, raw deflate without a zlib header
  double needed = 0, compressed = 0;
  uint32_t width = 0, height = 0;
  std::vector<std::pair<size_t, uint32_t>> idat;  // (offset, length) of each image data chunk
  for (size_t i = 8; i + 8 <= b.size();) {
    const uint8_t* p = &b[i];
    const uint64_t length = be32(p), left = b.size() - i - 8;
    const std::string type(p + 4, p + 8);
    if (length > left)
      return "a PNG " + chunk_name(p + 4) + " at byte " + std::to_string(i) + " declares " + std::to_string(length) +
             " bytes, " + std::to_string(left) + " follow";
    if (type == "CgBI") {
      iphone = true;
    } else if (type == "IHDR" && !have_header) {
      if (length != 13) return "a PNG IHDR chunk of " + std::to_string(length) + " bytes, not 13";
      have_header = true;
      width = be32(p + 8);
      height = be32(p + 12);
      needed = png_scanline_bytes(width, height, p[16], p[17], p[20] != 0);
    } else if (type == "IDAT" && have_header) {
      idat.emplace_back(i + 8, static_cast<uint32_t>(length));
      compressed += static_cast<double>(length);
    } else if (type == "IEND") {
      break;
    }
    i += 12 + length;
  }
  const double limit = 2 * needed + 65536;
  if (have_header && needed > compressed * kMaxRatio + 65536)  // stb would allocate `needed` first
    return "PNG image data of " + std::to_string(static_cast<uint64_t>(compressed)) + " bytes cannot fill the " +
           std::to_string(width) + "x" + std::to_string(height) + " image its header declares";
  if (compressed * kMaxRatio <= std::max(limit, kSmallInflate)) return {};
  InflatedSize data(iphone);
  for (const auto& [offset, length] : idat) {
    if (std::string why = data.feed(&b[offset], length, limit); !why.empty())
      return "corrupt PNG image data (" + why + ")";
    if (data.bytes() > limit)
      return "PNG image data inflates to more than " + std::to_string(static_cast<uint64_t>(limit)) +
             " bytes, where its header's image needs " + std::to_string(static_cast<uint64_t>(needed));
  }
  return {};
}

// "<n> bytes cannot hold the WxH image its header declares (<why>)".
std::string cannot_hold(size_t bytes, double width, double height, const std::string& why) {
  return std::to_string(bytes) + " bytes cannot hold the " + std::to_string(static_cast<uint64_t>(width)) + "x" +
         std::to_string(static_cast<uint64_t>(height)) + " image its header declares (" + why + ")";
}

// Debian's stb_image 2.27 writes past a 257-entry table when a JPEG Huffman table (DHT segment)
// declares more than 256 codes (fixed upstream in 2.28). Returns "" when every table in the file's
// marker segments declares at most 256 codes and fits its segment, and the file is large enough
// for the frame's size (SOF segment), else what is wrong. Segments are walked from SOI;
// entropy-coded data after SOS is skipped up to the next marker. Every 8x8 block of the
// full-resolution component codes its DC coefficient with a Huffman code of at least one bit, in
// baseline and progressive files alike.
std::string jpeg_error(const std::vector<uint8_t>& b) {
  size_t i = 2;
  while (i + 1 < b.size()) {
    if (b[i] != 0xFF) {  // entropy-coded data: on to the next marker
      ++i;
      continue;
    }
    const uint8_t m = b[i + 1];
    if (m == 0xFF || m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {  // fill, stuffed byte, no length
      i += m == 0xFF ? 1 : 2;
      continue;
    }
    if (m == 0xD9 || i + 3 >= b.size()) return {};  // EOI, or truncated: stb reports that itself
    const size_t len = size_t{b[i + 2]} << 8 | b[i + 3], end = i + 2 + len;
    const bool frame = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (frame && i + 8 < b.size()) {
      const double height = b[i + 5] << 8 | b[i + 6], width = b[i + 7] << 8 | b[i + 8];
      if (std::floor(width / 8) * std::floor(height / 8) > 8.0 * static_cast<double>(b.size()))
        return cannot_hold(b.size(), width, height, "at least one bit per 8x8 block");
    }
    if (m == 0xC4) {
      for (size_t t = i + 4; t < std::min(end, b.size());) {
        size_t codes = 0;
        for (size_t k = 0; k < 16 && t + 1 + k < b.size(); ++k) codes += b[t + 1 + k];
        if (codes > 256) return "a Huffman table declares " + std::to_string(codes) + " codes, more than 256";
        t += 17 + codes;
      }
    }
    i = end;
  }
  return {};
}

// stb_image refuses RLE BMPs (compression 1, 2) and reads every other one as uncompressed (2.27
// does not check the compression field further): rows of ceil(width * bits per pixel / 32) 4-byte
// words, all of which must be in the file. An OS/2 header (12 bytes) has 16-bit sizes, the others
// 32-bit signed ones (a negative height: rows stored top-down).
std::string bmp_error(const std::vector<uint8_t>& b) {
  if (b.size() < 30) return {};  // stb reports a short header itself
  const uint32_t header = le32(&b[14]);
  double width, height, bits, compression = 0;
  if (header == 12) {
    width = b[18] | b[19] << 8;
    height = b[20] | b[21] << 8;
    bits = b[24] | b[25] << 8;
  } else {
    width = std::abs(static_cast<double>(static_cast<int32_t>(le32(&b[18]))));
    height = std::abs(static_cast<double>(static_cast<int32_t>(le32(&b[22]))));
    bits = b[28] | b[29] << 8;
    if (b.size() >= 34) compression = le32(&b[30]);
  }
  if (compression == 1 || compression == 2) return {};  // stb refuses RLE itself
  const double row = std::ceil(width * bits / 32) * 4;
  if (row * height > static_cast<double>(b.size()))
    return cannot_hold(b.size(), width, height, std::to_string(static_cast<int>(bits)) + " bits per pixel, uncompressed");
  return {};
}

}  // namespace

std::string image_file_error(const std::vector<uint8_t>& bytes) {
  if (starts_with(bytes, {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'})) return png_error(bytes);
  if (starts_with(bytes, {0xFF, 0xD8})) {
    std::string why = jpeg_error(bytes);
    return why.empty() ? why : "corrupt JPEG: " + why;
  }
  if (starts_with(bytes, {'B', 'M'})) {
    std::string why = bmp_error(bytes);
    return why.empty() ? why : "corrupt BMP: " + why;
  }
  return "not a PNG, JPEG or BMP file";
}

}  // namespace wick::data::detail
