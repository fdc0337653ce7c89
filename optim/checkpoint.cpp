// Checkpoint folders: writing them atomically and keeping the newest, finding the newest, and
// reading run.json back with every field checked.
#include "optim/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/safetensors.h"
#include "data/file_io.h"
#include "layers/architecture.h"
#include "layers/batchnorm.h"
#include "layers/fuse.h"
#include "layers/serialize.h"

namespace wick::train {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr const char* kFormat = "wick.checkpoint";
constexpr int kVersion = 1;
constexpr const char* kPrefix = "step-";

// The step count of a checkpoint folder's name "step-<digits>", or -1.
int64_t step_of(const std::string& name) {
  if (name.rfind(kPrefix, 0) != 0) return -1;
  const std::string digits = name.substr(5);
  if (digits.empty() || digits.size() > 15 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(digits);
}

// The checkpoint folders of `dir`, oldest first.
std::vector<std::pair<int64_t, fs::path>> checkpoints(const std::string& dir) {
  std::vector<std::pair<int64_t, fs::path>> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const int64_t step = step_of(entry.path().filename().string());
    if (step >= 0 && entry.is_directory(ec)) out.emplace_back(step, entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// JSON has no NaN: non-finite numbers (a metric not measured) are written as null.
Json number(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }

// Fields read from a hostile file: the wrong type or a value out of range is a wick::Error
// naming the field.
struct Fields {
  const Json& j;
  std::string file, field;  // field: the dotted path inside the file ("" at its top)

  // "<file> (state.total)": where a message points.
  std::string where(const std::string& key = "") const {
    const std::string f = key.empty() ? field : field.empty() ? key : field + "." + key;
    return f.empty() ? file : file + " (" + f + ")";
  }
  Fields inner(const Json& v, const std::string& key) const { return {v, file, field.empty() ? key : field + "." + key}; }

  const Json& at(const char* key) const {
    auto it = j.find(key);
    WICK_CHECK(it != j.end(), where(), ": \"", key, "\" is missing");
    return *it;
  }
  double real(const char* key) const {
    const Json& v = at(key);
    if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
    WICK_CHECK(v.is_number(), where(), ": \"", key, "\" must be a number, got ", v.dump());
    return v.get<double>();
  }
  int64_t integer(const char* key, int64_t lo = 0, int64_t hi = int64_t{1} << 53) const {
    const Json& v = at(key);
    WICK_CHECK(v.is_number_integer() && v.get<int64_t>() >= lo && v.get<int64_t>() <= hi, where(), ": \"", key,
               "\" must be an integer from ", lo, " to ", hi, ", got ", v.dump());
    return v.get<int64_t>();
  }
  bool boolean(const char* key) const {
    const Json& v = at(key);
    WICK_CHECK(v.is_boolean(), where(), ": \"", key, "\" must be true or false, got ", v.dump());
    return v.get<bool>();
  }
  std::string text(const char* key) const {
    const Json& v = at(key);
    WICK_CHECK(v.is_string(), where(), ": \"", key, "\" must be a string");
    return v.get<std::string>();
  }
  Fields object(const char* key) const {
    const Json& v = at(key);
    WICK_CHECK(v.is_object(), where(), ": \"", key, "\" must be an object");
    return inner(v, key);
  }
  // Calls read(Fields of element i) for every element of the array `key`.
  template <typename F>
  void each(const char* key, F read) const {
    const Json& v = at(key);
    WICK_CHECK(v.is_array(), where(), ": \"", key, "\" must be an array");
    for (size_t i = 0; i < v.size(); ++i) {
      const std::string item = std::string(key) + "[" + std::to_string(i) + "]";
      WICK_CHECK(v[i].is_object(), where(item), " must be an object");
      read(inner(v[i], item));
    }
  }
};

Json tally_json(const Tally& t) { return {{"loss", number(t.loss)}, {"correct", t.correct}, {"images", t.images}}; }
Tally read_tally(const Fields& f) {
  Tally t;
  t.loss = f.real("loss");
  t.correct = f.integer("correct");
  t.images = f.integer("images");
  WICK_CHECK(std::isfinite(t.loss) && t.correct <= t.images, f.where(), ": not a tally of finite losses");
  return t;
}

Json epoch_json(const EpochMetrics& e) {
  return {{"epoch", e.epoch},           {"steps", e.steps},
          {"train_loss", number(e.train_loss)}, {"train_acc", number(e.train_acc)},
          {"test_loss", number(e.test_loss)},   {"test_acc", number(e.test_acc)},
          {"val_loss", number(e.val_loss)},     {"val_acc", number(e.val_acc)},
          {"img_per_s", number(e.img_per_s)},   {"seconds", number(e.seconds)},
          {"lr", number(e.lr)}};
}
EpochMetrics read_epoch(const Fields& f) {
  EpochMetrics e;
  e.epoch = f.integer("epoch", 1);
  e.steps = f.integer("steps");
  e.train_loss = f.real("train_loss");
  e.train_acc = f.real("train_acc");
  e.test_loss = f.real("test_loss");
  e.test_acc = f.real("test_acc");
  e.val_loss = f.real("val_loss");
  e.val_acc = f.real("val_acc");
  e.img_per_s = f.real("img_per_s");
  e.seconds = f.real("seconds");
  e.lr = f.real("lr");
  return e;
}

// Steps as rows [step, epoch, step_in_epoch, images, loss, correct, lr]: a long run has many.
Json step_json(const StepInfo& s) {
  return Json::array({s.step, s.epoch, s.step_in_epoch, s.images, number(s.loss), s.correct, number(s.lr)});
}
StepInfo read_step(const Json& row, const std::string& where) {
  WICK_CHECK(row.is_array() && row.size() == 7, where, " must be [step, epoch, step_in_epoch, images, loss, correct, lr]");
  for (size_t k = 0; k < 7; ++k)
    WICK_CHECK(k == 4 || k == 6 ? row[k].is_number() : row[k].is_number_integer() && row[k].get<int64_t>() >= 0,
               where, "[", k, "] is ", row[k].dump());
  return {row[0].get<int64_t>(), row[1].get<int64_t>(), row[2].get<int64_t>(), row[3].get<int64_t>(),
          row[4].get<double>(),  row[5].get<int64_t>(), row[6].get<double>()};
}

// Curves as {name: [[x, y], ...]}.
std::vector<std::pair<const char*, std::vector<CurvePoint> Curves::*>> curve_fields() {
  return {{"train_loss", &Curves::train_loss}, {"test_loss", &Curves::test_loss}, {"train_acc", &Curves::train_acc},
          {"test_acc", &Curves::test_acc},     {"val_loss", &Curves::val_loss},   {"val_acc", &Curves::val_acc},
          {"lr", &Curves::lr}};
}
Json curves_json(const Curves& c) {
  Json out = Json::object();
  for (auto& [name, member] : curve_fields()) {
    Json points = Json::array();
    for (const CurvePoint& p : c.*member) points.push_back({number(p.epoch), number(p.value)});
    out[name] = std::move(points);
  }
  return out;
}
Curves read_curves(const Fields& f) {
  Curves c;
  for (auto& [name, member] : curve_fields()) {
    const Json& points = f.at(name);
    WICK_CHECK(points.is_array(), f.where(name), " must be an array");
    for (const Json& p : points) {
      WICK_CHECK(p.is_array() && p.size() == 2 && p[0].is_number() && (p[1].is_number() || p[1].is_null()),
                 f.where(name), ": a point must be [x, y]");
      (c.*member).push_back({p[0].get<double>(), p[1].is_null() ? std::numeric_limits<double>::quiet_NaN()
                                                                 : p[1].get<double>()});
    }
  }
  return c;
}

Json state_json(const RunState& s) {
  Json epochs = Json::array(), steps = Json::array();
  for (const EpochMetrics& e : s.epochs) epochs.push_back(epoch_json(e));
  for (const StepInfo& st : s.step_log) steps.push_back(step_json(st));
  return {{"epoch", s.epoch},
          {"in_epoch", s.in_epoch},
          {"steps", s.steps},
          {"stop", s.stop},
          {"total", tally_json(s.total)},
          {"window", tally_json(s.window)},
          {"epoch_seconds", s.epoch_seconds},
          {"trained_images", s.trained_images},
          {"train_seconds", s.train_seconds},
          {"best_val_acc", s.best_val_acc},
          {"best_epoch", s.best_epoch},
          {"epochs", std::move(epochs)},
          {"step_log", std::move(steps)},
          {"curves", curves_json(s.curves)},
          {"random_state", s.random_state}};
}

RunState read_state(const Fields& f) {
  RunState s;
  s.epoch = f.integer("epoch", 1);
  s.in_epoch = f.integer("in_epoch");
  s.steps = f.integer("steps");
  s.stop = f.boolean("stop");
  s.total = read_tally(f.object("total"));
  s.window = read_tally(f.object("window"));
  s.epoch_seconds = f.real("epoch_seconds");
  s.trained_images = f.integer("trained_images");
  s.train_seconds = f.real("train_seconds");
  s.best_val_acc = f.real("best_val_acc");
  s.best_epoch = f.integer("best_epoch");
  f.each("epochs", [&](const Fields& e) { s.epochs.push_back(read_epoch(e)); });
  const Json& log = f.at("step_log");
  WICK_CHECK(log.is_array(), f.where(), ": \"step_log\" must be an array");
  for (size_t i = 0; i < log.size(); ++i) s.step_log.push_back(read_step(log[i], f.where("step_log[" + std::to_string(i) + "]")));
  s.curves = read_curves(f.object("curves"));
  s.random_state = f.text("random_state");
  // What the position implies of the rest.
  WICK_CHECK(static_cast<int64_t>(s.step_log.size()) == s.steps, f.where(), ": ", s.step_log.size(),
             " logged steps for a position after step ", s.steps);
  WICK_CHECK(static_cast<int64_t>(s.epochs.size()) == s.epoch - 1, f.where(), ": ", s.epochs.size(),
             " finished epochs for a position in epoch ", s.epoch);
  WICK_CHECK(s.in_epoch <= s.steps && s.best_epoch < s.epoch, f.where(), ": in_epoch ", s.in_epoch, " or best_epoch ",
             s.best_epoch, " does not fit a position after step ", s.steps, " in epoch ", s.epoch);
  WICK_CHECK(std::isfinite(s.epoch_seconds) && std::isfinite(s.train_seconds), f.where(), ": times must be finite");
  return s;
}

bool has_fused_layers(const nn::Module& model) {
  for (auto& [name, m] : const_cast<nn::Module&>(model).named_modules())
    if (std::dynamic_pointer_cast<nn::BatchNorm1dReLUImpl>(m) || std::dynamic_pointer_cast<nn::BatchNorm2dReLUImpl>(m))
      return true;
  return false;
}

}  // namespace

void Tally::add(const StepInfo& s) {
  loss += s.loss * static_cast<double>(s.images);
  correct += s.correct;
  images += s.images;
}
double Tally::mean_loss() const { return loss / static_cast<double>(std::max<int64_t>(images, 1)); }
double Tally::accuracy() const {
  return static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(images, 1));
}

void save_as_built(const nn::Module& model, const std::string& path) {
  if (!has_fused_layers(model)) return nn::save(model, path);
  std::shared_ptr<nn::Module> copy = model.clone();
  nn::unfuse_batchnorm_relu(*copy);
  nn::save(*copy, path);
}

void write_checkpoint(const std::string& dir, const nn::Module& model, const optim::Optimizer& optimizer,
                      const RunState& state, const std::string& options, const std::string& settings, int keep) {
  WICK_CHECK(keep >= 1, "write_checkpoint: keep must be at least 1, got ", keep);
  std::error_code ec;
  fs::create_directories(dir, ec);
  WICK_CHECK(!ec && fs::is_directory(dir), "cannot create the checkpoint folder ", dir,
             ec ? ": " + ec.message() : ": a file of that name exists");
  remove_stale_temporaries(dir, [](const std::string& stem) { return step_of(stem) >= 0; });
  const std::string folder = (fs::path(dir) / (kPrefix + std::to_string(state.steps))).string();
  if (!fs::exists(folder)) {
    Json run = {{"format", kFormat}, {"version", kVersion},  {"options", Json::parse(options)},
                {"settings", settings}, {"state", state_json(state)}};
    write_folder_atomic(folder, [&](const std::string& tmp) {
      save_as_built(model, tmp + "/model.safetensors");
      optimizer.save_state(tmp + "/optimizer.safetensors");
      write_file_atomic(tmp + "/run.json", [&](std::ostream& out) { out << run.dump(1) << '\n'; });
    });
  }
  auto all = checkpoints(dir);
  for (size_t i = 0; i + static_cast<size_t>(keep) < all.size(); ++i) fs::remove_all(all[i].second, ec);
}

std::string latest_checkpoint(const std::string& dir) {
  auto all = checkpoints(dir);
  return all.empty() ? "" : all.back().second.string();
}

CheckpointInfo read_checkpoint(const std::string& folder) {
  const std::string path = folder + "/run.json";
  const std::vector<uint8_t> bytes = data::detail::read_file(path, uint64_t{1} << 30, "checkpoint");
  Json run = Json::parse(bytes.begin(), bytes.end(), nullptr, false);
  WICK_CHECK(!run.is_discarded() && run.is_object(), path, ": not a JSON object");
  CheckpointInfo info;
  info.folder = folder;
  try {
    Fields f{run, path, ""};
    WICK_CHECK(f.text("format") == kFormat, path, ": not a wick checkpoint (format \"", f.text("format"), "\")");
    WICK_CHECK(f.integer("version") == kVersion, path, ": checkpoint version ", f.integer("version"),
               " is not the one this wick reads (", kVersion, ")");
    info.options = f.object("options").j.dump();
    info.settings = f.text("settings");
    info.state = read_state(f.object("state"));
  } catch (const Json::exception& e) {
    detail::fail(path, ": ", e.what());
  }
  return info;
}

void load_checkpoint(const std::string& folder, nn::Module& model, optim::Optimizer& optimizer) {
  const std::string path = folder + "/model.safetensors";
  SafetensorsFile file = read_safetensors(path);
  nn::load(model, file, path);
  auto modes = file.metadata.find("wick.module_state");
  if (modes != file.metadata.end()) apply_module_state(model, modes->second);
  optimizer.load_state(folder + "/optimizer.safetensors");
}

}  // namespace wick::train
