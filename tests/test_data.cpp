// Data: IDX (plain and gzip), CIFAR-10 and ImageFolder readers on files written here at test time,
// every reader error, uint8 storage and normalization, augmentation, the Synthetic dataset, and
// the DataLoader's batching, shuffling, determinism and prefetch; plus the real Fashion-MNIST.
#include <stb/stb_image_write.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "helpers.h"

using namespace wick;
namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

namespace {

// A scratch directory unique to this process and test, removed at scope exit.
struct TempDir {
  fs::path path = fs::temp_directory_path() /
                  ("wick_data_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  static inline int counter = 0;
};

void write_file(const std::string& path, const Bytes& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_gz(const std::string& path, const Bytes& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  gzclose(f);
}

Bytes read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void put_be32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

// A deterministic pixel value for image i at (c, y, x).
uint8_t pix(int64_t i, int64_t c, int64_t y, int64_t x) { return static_cast<uint8_t>((i * 37 + c * 101 + y * 13 + x * 7) % 256); }

Bytes idx_images(int64_t n, int64_t h, int64_t w) {
  Bytes b;
  put_be32(b, 0x803);
  put_be32(b, n), put_be32(b, h), put_be32(b, w);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) b.push_back(pix(i, 0, y, x));
  return b;
}

Bytes idx_labels(const std::vector<int>& labels) {
  Bytes b;
  put_be32(b, 0x801);
  put_be32(b, static_cast<uint32_t>(labels.size()));
  for (int l : labels) b.push_back(static_cast<uint8_t>(l));
  return b;
}

// Writes a complete MNIST-style directory: train (plain files) and test (gzip).
void write_mnist(const std::string& dir, int64_t n_train = 6, int64_t n_test = 4, int64_t h = 5, int64_t w = 4) {
  std::vector<int> ltrain, ltest;
  for (int64_t i = 0; i < n_train; ++i) ltrain.push_back(static_cast<int>((i * 3) % 10));
  for (int64_t i = 0; i < n_test; ++i) ltest.push_back(static_cast<int>((i * 7 + 1) % 10));
  write_file(dir + "/train-images-idx3-ubyte", idx_images(n_train, h, w));
  write_file(dir + "/train-labels-idx1-ubyte", idx_labels(ltrain));
  write_gz(dir + "/t10k-images-idx3-ubyte.gz", idx_images(n_test, h, w));
  write_gz(dir + "/t10k-labels-idx1-ubyte.gz", idx_labels(ltest));
}

using test::error_of;

#define CHECK_ERROR(expr, ...)                                                          \
  do {                                                                                  \
    std::string msg_ = error_of([&] { (void)(expr); });                                 \
    for (const std::string& part_ : std::vector<std::string>{__VA_ARGS__})              \
      CHECK_MESSAGE(msg_.find(part_) != std::string::npos,                              \
                                                          "message \"", msg_, "\" lacks \"", part_, "\""); \
  } while (0)

float normalized(uint8_t p, float mean, float std) { return (static_cast<float>(p) / 255.0f - mean) / std; }

// The labels of every batch of one epoch, concatenated.
std::vector<int64_t> epoch_targets(data::DataLoader& loader) {
  std::vector<int64_t> all;
  for (auto& batch : loader) {
    std::vector<int64_t> t = batch.target.to_vector<int64_t>();
    all.insert(all.end(), t.begin(), t.end());
  }
  return all;
}

// A TensorDataset whose targets are the sample indices, data (N, 2) = (i, -i).
data::TensorDataset indexed(int64_t n) {
  std::vector<float> d;
  std::vector<int64_t> t;
  for (int64_t i = 0; i < n; ++i) d.push_back(float(i)), d.push_back(float(-i)), t.push_back(i);
  return data::TensorDataset(from_vector(d, {n, 2}), from_vector(t));
}

}  // namespace

TEST_CASE("data: IDX files, plain and gzip, load as uint8 MNIST / Fashion-MNIST images") {
  TempDir dir;
  write_mnist(dir.path.string());
  data::MNIST train(dir.path.string(), data::Split::Train);
  data::MNIST test(dir.path.string(), data::Split::Test);
  REQUIRE(train.size() == 6);
  REQUIRE(test.size() == 4);
  CHECK(train.example_shape() == Shape{1, 5, 4});
  CHECK(train.pixel_bytes() == 6 * 1 * 5 * 4);  // raw uint8: one byte per pixel, nothing else
  CHECK(test.pixel_bytes() == 4 * 1 * 5 * 4);
  for (int64_t i = 0; i < 6; ++i) {
    CHECK(train.labels()[i] == (i * 3) % 10);
    for (int64_t k = 0; k < 20; ++k) CHECK(train.pixels()[i * 20 + k] == pix(i, 0, k / 4, k % 4));
  }
  for (int64_t i = 0; i < 4; ++i) CHECK(test.labels()[i] == (i * 7 + 1) % 10);
  CHECK(test.pixels()[3 * 20 + 6] == pix(3, 0, 1, 2));
  CHECK(train.num_classes() == 10);
  CHECK(train.class_names()[3] == "3");

  // get(): scaled to [0,1], then normalized with MNIST's mean and std
  data::Example ex = train.get(2);
  CHECK(ex.target == 6);
  CHECK(ex.data.shape() == Shape{1, 5, 4});
  CHECK(ex.data.data<float>()[7] == normalized(pix(2, 0, 1, 3), 0.1307f, 0.3081f));

  // Fashion-MNIST reads the same files with its own normalization and class names
  data::FashionMNIST fashion(dir.path.string(), data::Split::Test);
  CHECK(fashion.normalization().mean == std::vector<float>{0.2860f});
  CHECK(fashion.normalization().std == std::vector<float>{0.3530f});
  CHECK(fashion.class_names()[9] == "Ankle boot");
  CHECK(fashion.get(1).data.data<float>()[0] == normalized(pix(1, 0, 0, 0), 0.2860f, 0.3530f));
  data::Batch b = fashion.get_batch({3, 1});
  CHECK(b.data.shape() == Shape{2, 1, 5, 4});
  CHECK(b.target.to_vector<int64_t>() == std::vector<int64_t>{(3 * 7 + 1) % 10, 8});
  CHECK(equal(b.data.select(0, 1), fashion.get(1).data));

  // A plain file wins over its .gz; the dotted names and torchvision's raw/ layout are found too.
  write_gz(dir / "train-labels-idx1-ubyte.gz", idx_labels({9, 9, 9, 9, 9, 9}));
  CHECK(data::MNIST(dir.path.string()).labels()[1] == 3);
  TempDir tv;
  write_file(tv / "FashionMNIST/raw/t10k-images.idx3-ubyte", idx_images(2, 3, 3));
  write_file(tv / "FashionMNIST/raw/t10k-labels.idx1-ubyte", idx_labels({4, 5}));
  CHECK(data::FashionMNIST(tv.path.string(), data::Split::Test).labels()[1] == 5);

  // read_idx itself, plain and gzip
  data::IdxArray a = data::read_idx(dir / "t10k-images-idx3-ubyte.gz", 3);
  CHECK(a.dims == std::vector<int64_t>{4, 5, 4});
  CHECK(a.data.size() == 80);
}

TEST_CASE("data: IDX reader errors name the file and the problem") {
  TempDir dir;
  std::string d = dir.path.string();
  auto load = [&] { return data::FashionMNIST(d, data::Split::Train); };
  CHECK_ERROR(load(), "FashionMNIST", "cannot find", "train-images-idx3-ubyte",
              "install dataset-fashion-mnist or give the folder that holds the files");
  CHECK_ERROR(data::MNIST(d), "MNIST", "train-", "give the folder that holds them");

  write_mnist(d);
  Bytes images = idx_images(6, 5, 4), labels = idx_labels({0, 1, 2, 3, 4, 5});
  std::string ipath = dir / "train-images-idx3-ubyte", lpath = dir / "train-labels-idx1-ubyte";

  Bytes bad = images;
  bad[3] = 0x02;
  write_file(ipath, bad);
  CHECK_ERROR(load(), ipath.c_str(), "bad magic number 0x00000802", "expected 0x00000803");

  write_file(ipath, Bytes(images.begin(), images.end() - 7));
  CHECK_ERROR(load(), ipath.c_str(), "truncated");
  write_file(ipath, Bytes(images.begin(), images.begin() + 10));
  CHECK_ERROR(load(), ipath.c_str(), "truncated", "header");
  write_file(ipath, Bytes());
  CHECK_ERROR(load(), ipath.c_str(), "truncated", "magic number");
  Bytes longer = images;
  longer.push_back(1);
  write_file(ipath, longer);
  CHECK_ERROR(load(), ipath.c_str(), "1 bytes after");

  // a header declaring an enormous array fails before allocating anything
  Bytes huge;
  put_be32(huge, 0x803), put_be32(huge, 0x7fffffff), put_be32(huge, 60000), put_be32(huge, 60000);
  write_file(ipath, huge);
  CHECK_ERROR(load(), ipath.c_str());
  huge.resize(4);
  put_be32(huge, 1000), put_be32(huge, 100000), put_be32(huge, 100000);
  write_file(ipath, huge);
  CHECK_ERROR(load(), ipath.c_str(), "truncated");
  std::remove(ipath.c_str());
  write_gz(ipath + ".gz", huge);
  CHECK_ERROR(load(), ipath.c_str(), "compressed bytes can hold");
  Bytes lying;  // a header declaring 10^6 bytes over 2000 incompressible ones: read, not allocated
  put_be32(lying, 0x803), put_be32(lying, 100), put_be32(lying, 100), put_be32(lying, 100);
  std::mt19937 gen(1);
  for (int k = 0; k < 2000; ++k) lying.push_back(static_cast<uint8_t>(gen()));
  write_gz(ipath + ".gz", lying);
  CHECK_ERROR(load(), ipath.c_str(), "truncated", "needs 1000000 bytes but only 2000");
  Bytes zero = images;
  zero[7] = 0;  // 0 images
  write_gz(ipath + ".gz", zero);
  CHECK_ERROR(load(), "dimension 0 of size 0");

  // truncated and corrupt gzip
  write_gz(ipath + ".gz", images);
  Bytes gz = read_all(ipath + ".gz");
  write_file(ipath + ".gz", Bytes(gz.begin(), gz.begin() + static_cast<long>(gz.size()) / 2));
  CHECK_ERROR(load(), ipath.c_str(), "truncated");
  Bytes corrupt = gz;
  for (size_t k = 12; k < corrupt.size() - 8; ++k) corrupt[k] ^= 0x5a;
  write_file(ipath + ".gz", corrupt);
  CHECK_ERROR(load(), ipath.c_str());
  std::string msg = error_of([&] { load(); });
  CHECK_MESSAGE((msg.find("corrupt gzip") != std::string::npos || msg.find("truncated") != std::string::npos), msg);
  write_gz(ipath + ".gz", images);
  CHECK(load().size() == 6);

  // count mismatch and labels out of range
  write_file(lpath, idx_labels({0, 1, 2, 3, 4}));
  CHECK_ERROR(load(), "has 6 images", "has 5 labels", lpath.c_str());
  write_file(lpath, idx_labels({0, 1, 2, 10, 4, 5}));
  CHECK_ERROR(load(), "label 10 of sample 3", lpath.c_str(), "outside [0, 10)");
  write_file(lpath, labels);
  CHECK(load().size() == 6);
}

namespace {
// CIFAR records: 1 label byte then (3, 32, 32) pixels.
Bytes cifar_file(int64_t first, int64_t n) {
  Bytes b;
  for (int64_t i = first; i < first + n; ++i) {
    b.push_back(static_cast<uint8_t>(i % 10));
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t k = 0; k < 1024; ++k) b.push_back(pix(i, c, k / 32, k % 32));
  }
  return b;
}
void write_cifar(const std::string& dir) {
  for (int f = 1; f <= 5; ++f) write_file(dir + "/data_batch_" + std::to_string(f) + ".bin", cifar_file((f - 1) * 3, 3));
  write_file(dir + "/test_batch.bin", cifar_file(100, 2));
}
}  // namespace

TEST_CASE("data: CIFAR-10 binary batches") {
  TempDir dir;
  write_cifar(dir / "cifar-10-batches-bin");  // found in the subfolder
  data::CIFAR10 train(dir.path.string(), data::Split::Train);
  data::CIFAR10 test((dir.path / "cifar-10-batches-bin").string(), data::Split::Test);  // or directly
  REQUIRE(train.size() == 15);
  REQUIRE(test.size() == 2);
  CHECK(train.example_shape() == Shape{3, 32, 32});
  CHECK(train.pixel_bytes() == 15u * 3072u);
  CHECK(train.labels()[13] == 3);
  CHECK(test.labels()[1] == 1);
  CHECK(train.pixels()[13 * 3072 + 2 * 1024 + 5 * 32 + 7] == pix(13, 2, 5, 7));
  CHECK(train.class_names()[0] == "airplane");
  CHECK(train.class_names()[9] == "truck");
  data::Example ex = test.get(1);
  const float* p = ex.data.data<float>();
  CHECK(p[0 * 1024 + 33] == normalized(pix(101, 0, 1, 1), 0.4914f, 0.2470f));
  CHECK(p[1 * 1024 + 33] == normalized(pix(101, 1, 1, 1), 0.4822f, 0.2435f));
  CHECK(p[2 * 1024 + 33] == normalized(pix(101, 2, 1, 1), 0.4465f, 0.2616f));
}

TEST_CASE("data: CIFAR-10 errors") {
  TempDir dir;
  std::string d = dir.path.string();
  CHECK_ERROR(data::CIFAR10(d), "CIFAR10", "cannot find", "data_batch_1.bin", "give the folder of CIFAR-10's");
  write_cifar(d);
  fs::remove(dir / "data_batch_4.bin");
  CHECK_ERROR(data::CIFAR10(d), "data_batch_4.bin");
  CHECK(data::CIFAR10(d, data::Split::Test).size() == 2);
  Bytes f = cifar_file(0, 3);
  write_file(dir / "data_batch_4.bin", Bytes(f.begin(), f.end() - 100));
  CHECK_ERROR(data::CIFAR10(d), (dir / "data_batch_4.bin").c_str(), "not a whole number of 3073-byte records",
              "truncated");
  write_file(dir / "data_batch_4.bin", Bytes());
  CHECK_ERROR(data::CIFAR10(d), "data_batch_4.bin", "has 0 bytes");
  f[3073] = 10;
  write_file(dir / "data_batch_4.bin", f);
  CHECK_ERROR(data::CIFAR10(d), "label 10 of record 1", "data_batch_4.bin");
}

namespace {
// Writes (H, W, C) pixels as PNG, BMP or JPEG.
void write_image(const std::string& path, int w, int h, int c, const Bytes& px) {
  fs::create_directories(fs::path(path).parent_path());
  std::string ext = fs::path(path).extension().string();
  int ok = ext == ".png"   ? stbi_write_png(path.c_str(), w, h, c, px.data(), w * c)
           : ext == ".bmp" ? stbi_write_bmp(path.c_str(), w, h, c, px.data())
                           : stbi_write_jpg(path.c_str(), w, h, c, px.data(), 100);
  REQUIRE(ok != 0);
}
Bytes constant(int w, int h, int c, std::vector<uint8_t> value) {
  Bytes b;
  for (int k = 0; k < w * h; ++k)
    for (int j = 0; j < c; ++j) b.push_back(value[j]);
  return b;
}
}  // namespace

TEST_CASE("data: ImageFolder decodes, converts and resizes PNG / BMP / JPEG") {
  TempDir dir;
  // class "b_cats" (index 1) and "a_dogs" (index 0): indices follow the sorted names
  Bytes grad;  // 4x4 grey gradient
  for (int k = 0; k < 16; ++k) grad.push_back(static_cast<uint8_t>(k * 16));
  write_image(dir / "a_dogs/2.png", 4, 4, 1, grad);
  write_image(dir / "a_dogs/1.bmp", 8, 6, 3, constant(8, 6, 3, {200, 100, 50}));
  write_image(dir / "b_cats/x.JPG", 16, 16, 3, constant(16, 16, 3, {90, 90, 90}));
  write_file(dir / "b_cats/notes.txt", Bytes{'h', 'i'});  // ignored
  write_file(dir / ".hidden/y.png", Bytes{1, 2});         // ignored

  data::ImageFolder rgb(dir.path.string(), data::ImageFolderOptions(4, 4).channels(3));
  REQUIRE(rgb.size() == 3);
  CHECK(rgb.class_names() == std::vector<std::string>{"a_dogs", "b_cats"});
  CHECK(rgb.labels() == std::vector<int64_t>{0, 0, 1});
  CHECK(rgb.example_shape() == Shape{3, 4, 4});
  CHECK(rgb.pixel_bytes() == 3u * 3 * 4 * 4);
  const uint8_t* p = rgb.pixels();
  // sample 0: 1.bmp, a constant colour stays exactly that colour when resized (C, H, W)
  CHECK(p[0] == 200);
  CHECK(p[16 + 5] == 100);
  CHECK(p[32 + 15] == 50);
  // sample 1: 2.png, grey replicated to 3 channels, same size: exact
  for (int k = 0; k < 16; ++k) CHECK(p[48 + 32 + k] == grad[k]);
  // sample 2: the JPEG, near its grey value
  CHECK(std::abs(int(p[96 + 7]) - 90) <= 2);

  data::ImageFolder grey(dir.path.string(), data::ImageFolderOptions(2, 2).channels(1));
  CHECK(grey.example_shape() == Shape{1, 2, 2});
  const uint8_t* g = grey.pixels();
  // 4x4 -> 2x2 by area: each output is the mean of a 2x2 block
  CHECK(g[4 + 0] == static_cast<uint8_t>(std::lround((0 + 16 + 64 + 80) / 4.0)));
  CHECK(g[4 + 3] == static_cast<uint8_t>(std::lround((160 + 176 + 224 + 240) / 4.0)));
  // (200, 100, 50) to grey with stb's luminance weights (77, 150, 29) / 256
  CHECK(std::abs(int(g[0]) - (200 * 77 + 100 * 150 + 50 * 29) / 256) <= 1);

  // without fixed values the normalization is the folder's own mean and std
  data::Normalization own = data::ImageDataset::compute_normalization(grey.pixels(), 3, 1, 4);
  CHECK(grey.normalization().mean == own.mean);
  data::ImageFolder fixed(dir.path.string(),
                          data::ImageFolderOptions(2, 2).channels(1).normalization(data::Normalization{{0.5f}, {0.25f}}));
  CHECK(fixed.get(0).data.data<float>()[0] == normalized(fixed.pixels()[0], 0.5f, 0.25f));
}

TEST_CASE("data: ImageFolder errors") {
  TempDir dir;
  auto opts = data::ImageFolderOptions(8, 8);
  CHECK_ERROR(data::ImageFolder(dir / "missing", opts), "ImageFolder", "missing", "not a directory");
  CHECK_ERROR(data::ImageFolder(dir.path.string(), opts), "no class subfolders");
  fs::create_directories(dir / "cat");
  CHECK_ERROR(data::ImageFolder(dir.path.string(), opts), "class folder", "cat", "has no images");
  write_image(dir / "cat/ok.png", 3, 3, 1, Bytes(9, 7));
  CHECK(data::ImageFolder(dir.path.string(), opts).size() == 1);
  write_file(dir / "cat/broken.png", Bytes{0x89, 'P', 'N', 'G', 1, 2, 3, 4, 5});
  CHECK_ERROR(data::ImageFolder(dir.path.string(), opts), "cannot decode", (dir / "cat/broken.png").c_str());
  fs::remove(dir / "cat/broken.png");
  write_file(dir / "cat/empty.jpg", Bytes());
  CHECK_ERROR(data::ImageFolder(dir.path.string(), opts), "cannot decode", "empty.jpg");
  fs::remove(dir / "cat/empty.jpg");
  // A JPEG whose Huffman table declares 16 x 255 codes (stb_image 2.27 writes past its table):
  // SOI, then a DHT segment of length 19 with class/id 0 and sixteen counts of 255.
  Bytes dht = {0xFF, 0xD8, 0xFF, 0xC4, 0x00, 0x13, 0x00};
  dht.insert(dht.end(), 16, 0xFF);
  write_file(dir / "cat/huffman.jpg", dht);
  CHECK_ERROR(data::ImageFolder(dir.path.string(), opts), "cannot decode", "huffman.jpg", "4080 codes, more than 256");
  fs::remove(dir / "cat/huffman.jpg");
  CHECK_ERROR(data::ImageFolder(dir.path.string(), opts.channels(2)), "channels must be 1 or 3");
  CHECK_ERROR(data::ImageFolder(dir.path.string(), data::ImageFolderOptions(0, 8)), "image size");
}

TEST_CASE("data: load_image gives one file exactly as ImageFolder's item, and names bad files") {
  TempDir dir;
  Bytes px;
  for (int k = 0; k < 6 * 5 * 3; ++k) px.push_back(static_cast<uint8_t>(k * 7 % 251));
  write_image(dir / "one/a.png", 6, 5, 3, px);
  for (int64_t channels : {1, 3}) {
    const data::Normalization norm{std::vector<float>(channels, 0.4f), std::vector<float>(channels, 0.2f)};
    data::ImageFolder folder(dir.path.string(), data::ImageFolderOptions(4, 3).channels(channels).normalization(norm));
    Tensor image = data::load_image((dir / "one/a.png"),
                                    data::LoadImageOptions(4, 3).channels(channels).normalization(norm));
    CHECK(image.shape() == Shape{channels, 4, 3});
    CHECK(equal(image, folder.get(0).data));
  }
  // Without a normalization: p / 255.
  Tensor plain = data::load_image((dir / "one/a.png"), data::LoadImageOptions(5, 6));
  CHECK(plain.data<float>()[1] == static_cast<float>(px[3]) / 255.0f);
  CHECK_ERROR(data::load_image((dir / "none.png"), data::LoadImageOptions(4, 4)), "load_image", "none.png");
  write_file(dir / "bad.png", Bytes{0x89, 'P', 'N', 'G', 1, 2});
  CHECK_ERROR(data::load_image((dir / "bad.png"), data::LoadImageOptions(4, 4)), "load_image: cannot decode",
              "bad.png");
  write_file(dir / "icon.png", Bytes{0, 0, 1, 0, 3, 0, 48, 48});  // an ICO file named .png
  CHECK_ERROR(data::load_image((dir / "icon.png"), data::LoadImageOptions(4, 4)), "icon.png",
              "not a PNG, JPEG or BMP file");

  // Hostile PNGs stb_image 2.27 would allocate for: a chunk claiming more bytes than the file has
  // (stb grows its buffer to the claim first), and a header of 4x4 pixels over a 600x600 noise
  // image's data (stb inflates all of it; 360 KB of data could inflate past 256 MiB, so it is counted).
  auto read_back = [&](const std::string& name) {
    std::ifstream in(dir / name, std::ios::binary);
    return Bytes{std::istreambuf_iterator<char>(in), {}};
  };
  Bytes png = read_back("one/a.png");
  const size_t idat = std::search(png.begin(), png.end(), std::begin("IDAT"), std::end("IDAT") - 1) - png.begin();
  REQUIRE(idat < png.size());
  png[idat - 4] = 0x7F;
  write_file(dir / "claim.png", png);
  CHECK_ERROR(data::load_image((dir / "claim.png"), data::LoadImageOptions(4, 4)), "claim.png",
              "PNG IDAT chunk at byte " + std::to_string(idat - 4) + " declares 2130706");
  Bytes noise(600 * 600);
  std::mt19937 rng(7);
  for (auto& v : noise) v = static_cast<uint8_t>(rng());
  write_image(dir / "big.png", 600, 600, 1, noise);
  png = read_back("big.png");
  for (size_t k : {16, 20}) std::copy_n(Bytes{0, 0, 0, 4}.begin(), 4, png.begin() + k);  // IHDR width, height
  write_file(dir / "bomb.png", png);
  png = read_back("one/a.png");  // a 6x5 image's few bytes of data under a header of 8000x8000
  for (size_t k : {16, 20}) std::copy_n(Bytes{0, 0, 0x1F, 0x40}.begin(), 4, png.begin() + k);
  write_file(dir / "huge.png", png);
  CHECK_ERROR(data::load_image((dir / "huge.png"), data::LoadImageOptions(4, 4)), "huge.png",
              "cannot fill the 8000x8000 image its header declares");
  // stb decodes a truncated JPEG or BMP as if the rest were there: small files declaring big images.
  write_image(dir / "small.jpg", 16, 16, 3, constant(16, 16, 3, {90, 90, 90}));
  Bytes jpg = read_back("small.jpg");
  const Bytes sof0{0xFF, 0xC0};
  const size_t sof = std::search(jpg.begin(), jpg.end(), sof0.begin(), sof0.end()) - jpg.begin();
  REQUIRE(sof + 8 < jpg.size());
  for (size_t k : {sof + 5, sof + 7}) std::copy_n(Bytes{0x0F, 0xA0}.begin(), 2, jpg.begin() + k);  // 4000
  write_file(dir / "tall.jpg", jpg);
  CHECK_ERROR(data::load_image((dir / "tall.jpg"), data::LoadImageOptions(4, 4)), "tall.jpg",
              "cannot hold the 4000x4000 image its header declares (at least one bit per 8x8 block)");
  write_image(dir / "small.bmp", 8, 6, 3, constant(8, 6, 3, {200, 100, 50}));
  Bytes bmp = read_back("small.bmp");
  for (size_t k : {18, 22}) std::copy_n(Bytes{0x88, 0x13, 0, 0}.begin(), 4, bmp.begin() + k);  // 5000
  write_file(dir / "wide.bmp", bmp);
  CHECK_ERROR(data::load_image((dir / "wide.bmp"), data::LoadImageOptions(4, 4)), "wide.bmp",
              "cannot hold the 5000x5000 image its header declares (24 bits per pixel, uncompressed)");
  // An unknown compression code is read as uncompressed by stb, so it is held to the same rule.
  std::copy_n(Bytes{0xB4, 0x96, 0x80, 0xB4}.begin(), 4, bmp.begin() + 30);
  write_file(dir / "odd.bmp", bmp);
  CHECK_ERROR(data::load_image((dir / "odd.bmp"), data::LoadImageOptions(4, 4)), "odd.bmp",
              "cannot hold the 5000x5000 image its header declares (24 bits per pixel, uncompressed)");
  CHECK_ERROR(data::load_image((dir / "bomb.png"), data::LoadImageOptions(4, 4)), "bomb.png",
              "PNG image data inflates to more than 65576 bytes, where its header's image needs 20");

  CHECK_ERROR(data::load_image((dir / "one/a.png"), data::LoadImageOptions(4, 4).channels(2)),
              "load_image: channels must be 1 or 3");
  CHECK_ERROR(data::load_image((dir / "one/a.png"), data::LoadImageOptions(0, 4)), "load_image: image size");
}

TEST_CASE("data: resize_image, area when shrinking and bilinear when growing") {
  Bytes row = {0, 100};
  CHECK(data::resize_image(row.data(), 1, 2, 1, 1, 4) == Bytes{0, 25, 75, 100});  // PyTorch's bilinear
  Bytes three = {0, 30, 90};
  CHECK(data::resize_image(three.data(), 1, 3, 1, 1, 2) == Bytes{10, 70});  // (0+0.5*30), (0.5*30+90) over 1.5
  CHECK(data::resize_image(three.data(), 3, 1, 1, 3, 1) == three);
  Bytes rgb = {10, 20, 30, 50, 60, 70};  // 1x2 RGB -> 1x1
  CHECK(data::resize_image(rgb.data(), 1, 2, 3, 1, 1) == Bytes{30, 40, 50});
  CHECK_ERROR(data::resize_image(rgb.data(), 1, 2, 3, 0, 1), "resize_image");
}

TEST_CASE("data: ImageDataset keeps uint8 pixels and normalizes per channel per batch") {
  Bytes px(2 * 2 * 3 * 3);
  for (size_t k = 0; k < px.size(); ++k) px[k] = static_cast<uint8_t>(k * 7);
  data::Normalization norm{{0.5f, 0.25f}, {0.2f, 0.4f}};
  data::ImageDataset ds(px, {1, 0}, 2, 3, 3, 2, norm, {"x", "y"});
  CHECK(ds.pixel_bytes() == px.size());
  data::ImageDataset copy = ds;  // copies share the pixels
  CHECK(copy.pixels() == ds.pixels());
  data::Batch b = ds.get_batch({1, 0, 1});
  CHECK(b.data.shape() == Shape{3, 2, 3, 3});
  CHECK(b.target.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 0});
  const float* v = b.data.data<float>();
  for (int64_t k = 0; k < 18; ++k) {
    int c = k < 9 ? 0 : 1;
    CHECK(v[k] == normalized(px[18 + k], norm.mean[c], norm.std[c]));
    CHECK(v[18 + k] == normalized(px[k], norm.mean[c], norm.std[c]));
  }
  // scaled to [0,1] only
  ds.set_normalization(data::Normalization::none(2));
  CHECK(ds.get(0).data.data<float>()[4] == static_cast<float>(px[4]) / 255.0f);

  CHECK_ERROR(ds.set_normalization(data::Normalization{{0.5f}, {0.2f}}), "one mean and one std per channel (2)");
  CHECK_ERROR(ds.set_normalization(data::Normalization{{0.5f, 0.5f}, {0.2f, 0.0f}}), "std must be positive");
  CHECK_ERROR(data::ImageDataset(px, {1, 2}, 2, 3, 3, 2, norm), "label 2 of sample 1", "outside [0, 2)");
  CHECK_ERROR(data::ImageDataset(px, {1}, 2, 3, 3, 2, norm), "pixel bytes for 1 labels");
  CHECK_ERROR(ds.get(2), "index 2 is out of range");
  CHECK_ERROR(ds.get_batch({0, -1}), "index -1 is out of range");

  data::Normalization stats = data::ImageDataset::compute_normalization(px.data(), 2, 2, 9);
  double s = 0, s2 = 0;
  for (int i = 0; i < 2; ++i)
    for (int k = 0; k < 9; ++k) s += px[i * 18 + 9 + k] / 255.0, s2 += std::pow(px[i * 18 + 9 + k] / 255.0, 2);
  CHECK(stats.mean[1] == doctest::Approx(s / 18).epsilon(1e-6));
  CHECK(stats.std[1] == doctest::Approx(std::sqrt(s2 / 18 - std::pow(s / 18, 2))).epsilon(1e-5));
}

TEST_CASE("data: augmentation is a zero-padded random crop and flip, deterministic per (seed, index)") {
  const int64_t n = 40, H = 6, W = 5;
  Bytes px(n * H * W);
  for (size_t k = 0; k < px.size(); ++k) px[k] = static_cast<uint8_t>(1 + k % 250);  // never 0
  std::vector<int64_t> labels(n, 0);
  data::ImageDataset ds(px, labels, 1, H, W, 1, data::Normalization::none(1));
  ds.set_augmentation(data::Augmentation().crop_padding(2).horizontal_flip(true));
  std::vector<int64_t> idx(n);
  for (int64_t i = 0; i < n; ++i) idx[i] = i;
  data::Batch a = ds.get_batch(idx, 123), again = ds.get_batch(idx, 123), other = ds.get_batch(idx, 124);
  CHECK(equal(a.data, again.data));
  CHECK(!equal(a.data, other.data));
  // a sample's augmentation depends on (seed, index) only, not on its batch or position
  CHECK(equal(ds.get_batch({17, 3}, 123).data.select(0, 0), a.data.select(0, 17)));
  // get() is not augmented
  CHECK(ds.get(5).data.data<float>()[0] == px[5 * H * W] / 255.0f);

  // every augmented sample is some (dy, dx, flip) of the original, zero outside, and all occur
  std::set<std::tuple<int, int, bool>> seen;
  for (int64_t i = 0; i < n; ++i) {
    const float* o = a.data.data<float>() + i * H * W;
    bool found = false;
    for (int dy = 0; dy <= 4 && !found; ++dy)
      for (int dx = 0; dx <= 4 && !found; ++dx)
        for (bool flip : {false, true}) {
          bool match = true;
          for (int64_t y = 0; y < H && match; ++y)
            for (int64_t x = 0; x < W && match; ++x) {
              int64_t sy = y + dy - 2, sx = (flip ? W - 1 - x : x) + dx - 2;
              float want = (sy < 0 || sy >= H || sx < 0 || sx >= W) ? 0.0f : px[i * H * W + sy * W + sx] / 255.0f;
              match = o[y * W + x] == want;
            }
          if (match) {
            found = true;
            seen.insert({dy, dx, flip});
            break;
          }
        }
    CHECK_MESSAGE(found, "sample ", i, " is not a crop/flip of its image");
  }
  CHECK(seen.size() > 10);
  CHECK_ERROR(ds.set_augmentation(data::Augmentation().crop_padding(-1)), "crop_padding must be non-negative");
}

TEST_CASE("data: TensorDataset, Subset and a custom Dataset") {
  data::TensorDataset ds = indexed(5);
  CHECK(ds.size() == 5);
  CHECK(ds.example_shape() == Shape{2});
  CHECK(ds.num_classes() == 5);
  CHECK(ds.get(3).data.to_vector<float>() == std::vector<float>{3, -3});
  data::Batch b = ds.get_batch({4, 1});
  CHECK(b.data.to_vector<float>() == std::vector<float>{4, -4, 1, -1});
  CHECK(b.target.to_vector<int64_t>() == std::vector<int64_t>{4, 1});
  CHECK_ERROR(data::TensorDataset(zeros({3, 2}), zeros({3}, Dtype::Int64).narrow(0, 0, 2)), "targets has 2");
  CHECK_ERROR(data::TensorDataset(zeros({3, 2}), zeros({3})), "targets must be int64");

  auto shared = std::make_shared<data::TensorDataset>(ds);
  data::Subset sub(shared, {4, 0});
  CHECK(sub.size() == 2);
  CHECK(sub.get_batch({1, 0}).target.to_vector<int64_t>() == std::vector<int64_t>{0, 4});
  CHECK(data::Subset::head(shared, 3).get(2).target == 2);
  CHECK(data::Subset::head(shared, 99).size() == 5);
  CHECK_ERROR(data::Subset(shared, {5}), "index 5 is out of range");

  // A user's Dataset: only size() and get(); batches come from the default stacking.
  struct Squares : data::Dataset {
    int64_t size() const override { return 7; }
    data::Example get(int64_t i) const override {
      check_index(i, "Squares");
      if (i == 6) return {zeros({3}), 0};  // a shape that does not stack
      return {full({2}, double(i * i)), i % 2};
    }
  };
  data::DataLoader loader(Squares{}, data::DataLoaderOptions(3).drop_last(true));
  std::vector<float> seen;
  for (auto& batch : loader) {
    CHECK(batch.data.shape() == Shape{3, 2});
    for (float v : batch.data.to_vector<float>()) seen.push_back(v);
  }
  CHECK(seen == std::vector<float>{0, 0, 1, 1, 4, 4, 9, 9, 16, 16, 25, 25});
  CHECK_ERROR(Squares().get_batch({5, 6}), "cannot stack sample 6 of shape [3]");
}

TEST_CASE("data: DataLoader num_replicas and rank shard an epoch as PyTorch's DistributedSampler") {
  // 10 samples over 3 replicas: the order padded with its own first sample to 12, replica r
  // taking positions r, r + 3, ...; with drop_last cut to 9.
  auto opts = [](int64_t rank) { return data::DataLoaderOptions(2).shuffle(true).seed(4).num_replicas(3).rank(rank); };
  data::DataLoader whole(indexed(10), data::DataLoaderOptions(2).shuffle(true).seed(4));
  const std::vector<int64_t> all = whole.order(1);
  std::vector<int64_t> seen;
  for (int64_t r = 0; r < 3; ++r) {
    data::DataLoader shard(indexed(10), opts(r));
    CHECK(shard.size() == 2);  // 4 samples, batches of 2
    std::vector<int64_t> mine = shard.order(1);
    REQUIRE(mine.size() == 4);
    for (int64_t k = 0; k < 4; ++k) CHECK(mine[k] == all[(r + 3 * k) % 10]);
    shard.set_epoch(1);
    std::vector<int64_t> batched = epoch_targets(shard);
    CHECK(batched == mine);
    seen.insert(seen.end(), mine.begin(), mine.end());
  }
  std::sort(seen.begin(), seen.end());
  std::vector<int64_t> expected{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, all[0], all[1]};
  std::sort(expected.begin(), expected.end());
  CHECK(seen == expected);  // every sample once, plus the two pads
  data::DataLoader cut(indexed(10), opts(2).drop_last(true));
  CHECK(cut.order(1) == std::vector<int64_t>{all[2], all[5], all[8]});
  CHECK(cut.size() == 1);
  CHECK_ERROR(data::DataLoader(indexed(10), opts(3)), "rank 3 of 3 replicas");
}

TEST_CASE("data: DataLoader batch shapes, size() and drop_last") {
  data::DataLoader loader(indexed(10), data::DataLoaderOptions(4));
  CHECK(loader.size() == 3);
  std::vector<int64_t> sizes;
  for (auto& batch : loader) {
    sizes.push_back(batch.size());
    CHECK(batch.data.shape() == Shape{batch.size(), 2});
    CHECK(batch.target.dtype() == Dtype::Int64);
  }
  CHECK(sizes == std::vector<int64_t>{4, 4, 2});
  CHECK(epoch_targets(loader) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});  // file order

  data::DataLoader dropping(indexed(10), data::DataLoaderOptions(4).drop_last(true).shuffle(true));
  CHECK(dropping.size() == 2);
  CHECK(epoch_targets(dropping).size() == 8);
  data::DataLoader exact(indexed(8), data::DataLoaderOptions(4).drop_last(true));
  CHECK(exact.size() == 2);
  data::DataLoader small(indexed(3), data::DataLoaderOptions(4).drop_last(true));
  CHECK(small.size() == 0);
  CHECK(small.begin() == small.end());

  // image batches are (N, C, H, W) float32
  data::DataLoader images(data::Synthetic(10, data::SyntheticOptions().channels(3).height(8).width(6)),
                          data::DataLoaderOptions(4));
  auto it = images.begin();
  CHECK(it->data.shape() == Shape{4, 3, 8, 6});
  CHECK(it->data.dtype() == Dtype::Float32);
  CHECK(it.index() == 0);
  ++it;
  CHECK(it.index() == 1);

  CHECK_ERROR(data::DataLoader(indexed(3), data::DataLoaderOptions(0)), "batch_size must be positive");
  auto end = loader.end();
  CHECK_ERROR(*end, "end of the epoch");
}

TEST_CASE("data: DataLoader shuffling is reproducible, differs per epoch, and loses nothing") {
  manual_seed(7);
  uint32_t expected_global = random_u32();
  manual_seed(7);

  auto opts = data::DataLoaderOptions(16).shuffle(true).seed(42);
  data::DataLoader a(indexed(100), opts), b(indexed(100), opts), c(indexed(100), opts.seed(43));
  std::vector<int64_t> a0 = epoch_targets(a), a1 = epoch_targets(a), b0 = epoch_targets(b), c0 = epoch_targets(c);
  CHECK(a0 == b0);  // same seed, same order
  CHECK(a0 != a1);  // the next epoch reshuffles
  CHECK(a0 != c0);  // another seed, another order
  for (const auto& order : {a0, a1, c0}) {
    std::vector<int64_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> all(100);
    for (int64_t i = 0; i < 100; ++i) all[i] = i;
    CHECK(sorted == all);  // each sample exactly once
  }
  CHECK(a0 != std::vector<int64_t>(a.order(99)));
  CHECK(a0 == a.order(0));
  CHECK(a.epoch() == 2);
  b.set_epoch(1);
  CHECK(epoch_targets(b) == a1);  // resuming at epoch 1 gives epoch 1's order

  CHECK(random_u32() == expected_global);  // the loader never touched the global generator

  // A range-for that stops early leaves no trouble behind.
  int64_t count = 0;
  for (auto& batch : a) {
    (void)batch;
    if (++count == 2) break;
  }
  CHECK(count == 2);
}

TEST_CASE("data: prefetch, thread count and augmentation give the same batches") {
  data::Synthetic base(70, data::SyntheticOptions().channels(3).height(12).width(12).seed(5));
  base.set_augmentation(data::Augmentation().crop_padding(3).horizontal_flip(true));
  auto run = [&](bool prefetch, int threads) {
    set_num_threads(threads);
    data::DataLoader loader(base, data::DataLoaderOptions(16).shuffle(true).seed(9).prefetch(prefetch));
    std::vector<data::Batch> out;
    for (int e = 0; e < 2; ++e)
      for (auto& batch : loader) out.push_back(batch);
    set_num_threads(0);
    return out;
  };
  auto ref = run(false, 1);
  REQUIRE(ref.size() == 10);
  for (auto [prefetch, threads] : {std::pair{true, 1}, std::pair{true, 2}, std::pair{false, 2}}) {
    auto got = run(prefetch, threads);
    REQUIRE(got.size() == ref.size());
    for (size_t k = 0; k < ref.size(); ++k) {
      CHECK(equal(got[k].data, ref[k].data));
      CHECK(equal(got[k].target, ref[k].target));
    }
  }
  bool second_epoch_differs = !equal(ref[0].data, ref[5].data) || !equal(ref[0].target, ref[5].target);
  CHECK(second_epoch_differs);

  // An error while the next batch is prepared in the background reaches the caller.
  struct Failing : data::Dataset {
    int64_t size() const override { return 8; }
    data::Example get(int64_t i) const override {
      WICK_CHECK(i != 5, "Failing: sample ", i, " is unreadable");
      return {zeros({1}), 0};
    }
  };
  data::DataLoader failing(Failing{}, data::DataLoaderOptions(2));
  CHECK_ERROR(
      [&] {
        for (auto& batch : failing) (void)batch;
      }(),
      "Failing: sample 5 is unreadable");
}

TEST_CASE("data: Synthetic is deterministic, balanced and learnable") {
  auto opts = data::SyntheticOptions().classes(4).height(16).width(16).seed(3);
  data::Synthetic a(200, opts), b(200, opts), c(200, opts.seed(4));
  CHECK(a.pixel_bytes() == 200u * 16 * 16);
  CHECK(std::equal(a.pixels(), a.pixels() + a.pixel_bytes(), b.pixels()));
  CHECK(!std::equal(a.pixels(), a.pixels() + a.pixel_bytes(), c.pixels()));
  set_num_threads(1);
  data::Synthetic serial(200, opts.seed(3));
  set_num_threads(0);
  CHECK(std::equal(a.pixels(), a.pixels() + a.pixel_bytes(), serial.pixels()));
  for (int64_t i = 0; i < 200; ++i) CHECK(a.labels()[i] == i % 4);
  CHECK(a.num_classes() == 4);
  CHECK(a.class_names().size() == 4);

  // normalized batches have mean ~0 and std ~1
  std::vector<int64_t> all(200);
  for (int64_t i = 0; i < 200; ++i) all[i] = i;
  std::vector<float> v = a.get_batch(all).data.to_vector<float>();
  double s = 0, s2 = 0;
  for (float x : v) s += x, s2 += double(x) * x;
  CHECK(std::fabs(s / v.size()) < 1e-3);
  CHECK(std::fabs(s2 / v.size() - 1) < 1e-2);

  // nearest class mean on the training set classifies another seed's samples well
  std::vector<std::vector<double>> centroid(4, std::vector<double>(256, 0.0));
  for (int64_t i = 0; i < 200; ++i)
    for (int k = 0; k < 256; ++k) centroid[i % 4][k] += a.pixels()[i * 256 + k] / 50.0;
  int correct = 0;
  for (int64_t i = 0; i < 200; ++i) {
    int best = 0;
    double best_d = INFINITY;
    for (int cl = 0; cl < 4; ++cl) {
      double d = 0;
      for (int k = 0; k < 256; ++k) d += std::pow(c.pixels()[i * 256 + k] - centroid[cl][k], 2);
      if (d < best_d) best_d = d, best = cl;
    }
    correct += best == c.labels()[i];
  }
  CHECK(correct >= 180);
  CHECK_ERROR(data::Synthetic(0), "must be positive");
  CHECK_ERROR(data::Synthetic(5, data::SyntheticOptions().height(2)), "height and width");
}

TEST_CASE("data: the real Fashion-MNIST test split") {
  std::string dir = data::FashionMNIST::kDefaultDir;
  if (!fs::exists(fs::path(dir) / "t10k-images-idx3-ubyte.gz") && !fs::exists(fs::path(dir) / "t10k-images-idx3-ubyte")) {
    MESSAGE("skipped: no Fashion-MNIST in ", dir, " (apt-get install dataset-fashion-mnist)");
    return;
  }
  data::FashionMNIST test(data::Split::Test);
  REQUIRE(test.size() == 10000);
  CHECK(test.example_shape() == Shape{1, 28, 28});
  CHECK(test.pixel_bytes() == 10000u * 28 * 28);
  CHECK(test.labels()[0] == 9);  // the first test image is an ankle boot
  CHECK(test.labels()[1] == 2);
  std::vector<int64_t> counts(10, 0);
  for (int64_t l : test.labels()) {
    REQUIRE((l >= 0 && l < 10));
    ++counts[l];
  }
  CHECK(counts == std::vector<int64_t>(10, 1000));
  uint64_t sum = 0;
  for (size_t k = 0; k < test.pixel_bytes(); ++k) sum += test.pixels()[k];
  double mean = double(sum) / double(test.pixel_bytes()) / 255.0;
  CHECK(mean == doctest::Approx(0.2860).epsilon(0.01));  // 0.2868 for the test split

  data::DataLoader loader(test, data::DataLoaderOptions(1000));
  CHECK(loader.size() == 10);
  data::Batch first = *loader.begin();
  CHECK(first.data.shape() == Shape{1000, 1, 28, 28});
  CHECK(first.target.to_vector<int64_t>()[0] == 9);
}
