// An out-of-tree program linking the installed wick::onnx: exports a small network and exits
// non-zero unless the ONNX file was written.
#include <wick/wick.h>

#include <cstdio>
#include <filesystem>

#include <wick/layers/onnx/export.h>

using namespace wick;

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  nn::Sequential model(nn::Conv2d(nn::Conv2dOptions(1, 4, 3).padding(1)), nn::BatchNorm2d(4), nn::ReLU(),
                       nn::AdaptiveAvgPool2d(1), nn::Flatten(), nn::Linear(4, 3));
  nn::OnnxExportReport r = nn::export_onnx(*model, argv[1], {1, 8, 8}, nn::OnnxExportOptions().fold_bn(true));
  std::printf("exported %lld nodes, %lld BatchNorm folded\n", static_cast<long long>(r.nodes),
              static_cast<long long>(r.folded));
  return std::filesystem::file_size(argv[1]) == static_cast<uintmax_t>(r.bytes) && r.folded == 1 ? 0 : 1;
}
