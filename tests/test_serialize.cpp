// Weights as safetensors: round trips, a PyTorch-saved small-cnn reproducing PyTorch's logits and
// BN statistics, architecture rebuilding, strictness, and every corrupt-file case.
#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "helpers.h"

using namespace wick;
namespace fs = std::filesystem;

using test::TempFile;

namespace {

std::string pt_file() { return std::string(WICK_TEST_DATA) + "/small_cnn_pt.safetensors"; }

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// A file: 8-byte length + header text + data bytes.
std::string make_file(const std::string& header, const std::string& data) {
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xff));
  return s + header + data;
}

}  // namespace

TEST_CASE("a PyTorch-saved small-cnn loads and gives PyTorch's eval logits") {
  auto model = nn::small_cnn();
  nn::load(model, pt_file());
  model->eval();
  test::Golden g("nn_model.json");
  const auto& c = g.at("cases").at("eval_logits");
  Tensor logits = model->forward(test::Golden::tensor(c.at("x")));
  CHECK_CLOSE(logits, test::Golden::tensor(c.at("logits")), 1e-5, 1e-5);
}

TEST_CASE("after the same training batches the BN running statistics match PyTorch's") {
  auto model = nn::small_cnn();
  nn::load(model, pt_file());
  test::Golden g("nn_model.json");
  const auto& c = g.at("cases").at("train_stats");
  NoGradGuard no_grad;  // no-grad does not stop the running statistics from updating
  for (const auto& b : c.at("batches")) model->forward(test::Golden::tensor(b));
  for (auto& [name, t] : model->named_buffers()) {
    CAPTURE(name);
    if (t.dtype() == Dtype::Int64) CHECK(t.item<int64_t>() == test::Golden::tensor(c.at(name)).item<int64_t>());
    else CHECK_CLOSE(t, test::Golden::tensor(c.at(name)), 1e-5, 1e-6);
  }
}

TEST_CASE("save then load round-trips bit-exactly, and load_module rebuilds the architecture") {
  manual_seed(4);
  auto model = nn::small_cnn();
  nn::Sequential frozen_tail(nn::Linear(4, 3), nn::BatchNorm1d(nn::BatchNorm1dOptions(3).momentum(std::nullopt)));
  frozen_tail->at<nn::BatchNorm1dImpl>(1)->set_mode(nn::BatchNormMode::Frozen);
  model->forward(randn({4, 1, 28, 28}));  // non-trivial running stats
  TempFile f;
  nn::save(model, f.path);
  auto copy = nn::small_cnn();
  nn::load(copy, f.path);
  test::check_same_state(*model, *copy);
  auto rebuilt = nn::load_module(f.path);
  CHECK(rebuilt->repr() == model->repr());
  model->eval();
  rebuilt->eval();
  Tensor x = randn({2, 1, 28, 28});
  CHECK(equal(model->forward(x), rebuilt->forward(x)));

  TempFile g;
  nn::save(frozen_tail, g.path);
  auto tail = std::dynamic_pointer_cast<nn::SequentialImpl>(nn::load_module(g.path));
  REQUIRE(tail);
  CHECK(tail->at<nn::BatchNorm1dImpl>(1)->mode() == nn::BatchNormMode::Frozen);
  CHECK(!tail->at<nn::BatchNorm1dImpl>(1)->options.momentum().has_value());
}

TEST_CASE("load checks keys, dtypes and shapes and changes nothing on failure") {
  TempFile f;
  nn::Sequential m(nn::Linear(4, 3), nn::BatchNorm1d(3));
  nn::save(m, f.path);
  nn::Sequential wider(nn::Linear(5, 3), nn::BatchNorm1d(3));
  Tensor before = wider->at<nn::BatchNorm1dImpl>(1)->weight.clone();
  {
    NoGradGuard g;
    wider->at<nn::BatchNorm1dImpl>(1)->weight.fill_(7);
  }
  CHECK_THROWS_WITH_AS(nn::load(wider, f.path), doctest::Contains("\"0.weight\" has shape [3, 4] in the file but [3, 5]"),
                       Error);
  CHECK(wider->at<nn::BatchNorm1dImpl>(1)->weight.to_vector<float>() == std::vector<float>(3, 7.f));

  nn::Sequential longer(nn::Linear(4, 3), nn::BatchNorm1d(3), nn::Linear(3, 2));
  CHECK_THROWS_WITH_AS(nn::load(longer, f.path), doctest::Contains("the file has no \"2.weight\""), Error);
  nn::load(longer, f.path, /*strict=*/false);
  CHECK(equal(longer->at<nn::LinearImpl>(0)->weight, m->at<nn::LinearImpl>(0)->weight));

  nn::Sequential shorter(nn::Linear(4, 3));
  CHECK_THROWS_WITH_AS(nn::load(shorter, f.path), doctest::Contains("unexpected tensor \"1.bias\""), Error);
  nn::load(shorter, f.path, false);

  TempFile h;
  write_safetensors(h.path, {{"0.weight", zeros({3, 4}, Dtype::Int64)}, {"0.bias", zeros({3})}});
  nn::Sequential lin(nn::Linear(4, 3));
  CHECK_THROWS_WITH_AS(nn::load(lin, h.path), doctest::Contains("\"0.weight\" is I64 in the file but F32"), Error);
  CHECK_THROWS_WITH_AS(nn::load_module(pt_file()), doctest::Contains("does not describe its architecture"), Error);
}

TEST_CASE("corrupt, truncated and hostile files are clear errors") {
  TempFile good;
  write_safetensors(good.path, {{"w", arange(6).view({2, 3})}});
  std::string bytes = read_bytes(good.path);
  auto expect_error = [](const std::string& content, const std::string& what) {
    TempFile f;
    write_bytes(f.path, content);
    CHECK_THROWS_WITH_AS(read_safetensors(f.path), doctest::Contains(what.c_str()), Error);
  };
  CHECK(read_safetensors(good.path).tensors.at(0).second.to_vector<float>() == arange(6).to_vector<float>());
  expect_error("", "shorter than the 8-byte header length");
  expect_error(bytes.substr(0, bytes.size() - 4), "run past");
  expect_error(bytes.substr(0, 20), "runs past the end of the file");
  expect_error(std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}", "runs past the end of the file");
  expect_error(make_file("{not json", ""), "not valid JSON");
  expect_error(make_file("[1, 2]", ""), "not a JSON object");
  expect_error(make_file(R"({"w":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})", "ab"), "unsupported dtype F16");
  expect_error(make_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", "abcd"), "needs 8 bytes");
  expect_error(make_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", "abcd"), "run past");
  expect_error(make_file(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "abcd"), "non-integer or negative");
  expect_error(make_file(R"({"w":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}})", "abcd"),
               "absurdly large");
  expect_error(make_file(R"({"w":{"dtype":"F32","shape":[1]}})", "abcd"), "needs dtype, shape and data_offsets");
  expect_error(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                         "abcdefgh"),
               "overlap");
  expect_error(make_file(R"({"__metadata__":{"k":1}})", ""), "is not a string");
  CHECK_THROWS_WITH_AS(read_safetensors("/nonexistent/x.safetensors"), doctest::Contains("cannot read the file"), Error);
}

TEST_CASE("writes are atomic: a failed save leaves no file behind and keeps the old one") {
  TempFile f;
  nn::Sequential m(nn::Linear(2, 2));
  nn::save(m, f.path);
  std::string before = read_bytes(f.path);
  CHECK_THROWS_AS(nn::save(m, "/nonexistent-dir/model.safetensors"), Error);
  CHECK(read_bytes(f.path) == before);
  for (auto& entry : fs::directory_iterator(fs::path(f.path).parent_path()))
    CHECK(entry.path().string().find(fs::path(f.path).filename().string() + ".tmp") == std::string::npos);
}

TEST_CASE("a save removes temporaries a killed writer left beside the file, not a live writer's") {
  TempFile f;
  pid_t child = fork();
  if (child == 0) _exit(0);
  REQUIRE(child > 0);
  waitpid(child, nullptr, 0);  // a process that no longer exists, as a writer killed by SIGKILL
  const std::string stale = f.path + ".tmp." + std::to_string(child), live = f.path + ".tmp.1";  // pid 1 runs
  for (const std::string& p : {stale, live}) std::ofstream(p) << "partial";
  nn::save(nn::Sequential(nn::Linear(2, 2)), f.path);
  CHECK_FALSE(fs::exists(stale));
  CHECK(fs::exists(live));
  fs::remove(live);
}

TEST_CASE("architecture descriptions reject what they do not know, naming where") {
  auto refused = [](const char* json, const char* what) {
    CHECK_THROWS_WITH_AS(nn::module_from_json(json), doctest::Contains(what), Error);
  };
  refused(R"({"type": "Transformer"})", "type: unknown module type \"Transformer\"");
  refused(R"({"type": "Linear", "in_features": 3, "out_features": 2, "colour": true})",
          "Linear has no field \"colour\" (its fields: in_features, out_features, bias)");
  refused(R"({"type": "Sequential", "layers": [{"type": "ReLU"}, {"type": "ReLU"}, {"type": "ReLU"},
          {"type": "Conv2d", "in_channels": 1, "out_channels": -2, "kernel_size": 3}]})",
          "layers[3].out_channels: expected a positive integer, got -2");
  refused(R"({"type": "Linear", "in_features": 3})", "missing the required field \"out_features\"");
  refused(R"({"type": "ReLU")", "not valid JSON");
  refused(R"({"type": "Conv2d", "in_channels": 4, "out_channels": 6, "kernel_size": 3, "groups": 3})",
          "Conv2d: groups=3 must divide in_channels=4");
  CHECK(nn::module_from_json(R"({"type": "Sequential"})")->repr() == "Sequential()");
}
