// What the wick subcommands share: choosing and loading a dataset, building or loading a model,
// making an optimizer, and checking output paths. Evaluation, training loops, progress and plots
// are the library's (wick::train, in optim/).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <wick/wick.h>

namespace wick::cli {

// --data and friends.
struct DataArgs {
  std::string data = "fashion-mnist";  // fashion-mnist | mnist | cifar10 | folder:DIR | synthetic
  std::string data_dir;                // fashion-mnist defaults to Debian's dataset-fashion-mnist
  int64_t train_limit = 0;             // 0: all
  int64_t test_limit = 0;
  int64_t image_size = 32;  // folder:DIR images are resized to this square
  int64_t channels = 3;     // and converted to this many channels
};

struct Data {
  std::shared_ptr<data::Dataset> train, test;
  std::shared_ptr<data::Dataset> validation;  // --val-split's hold-out from the training set, or null
  std::shared_ptr<data::ImageDataset> train_images;  // for augmentation and recalibration
  int64_t channels = 0, height = 0, width = 0, classes = 0;
  std::string name;
};

// Loads the test split always and the train split when `with_train`.
Data load_data(const DataArgs& args, bool with_train);

// The zoo's options for a model of this data: its channels, classes and image size, and `norm`
// ("batch", "group", "layer", "none"; empty: the model's default).
nn::ModelOptions model_options(const Data& data, const std::string& norm);

// A model for this data: `model_name` when it is an architecture file (FILE.json), else rebuilt
// from a wick file's architecture, else the named model `model_name` with `norm`; with weights
// from `weights` when given (files from PyTorch carry no architecture). `norm` with an
// architecture from a file is an error: the file already says which layers there are.
std::shared_ptr<nn::Module> make_or_load_model(const std::string& weights, const std::string& model_name,
                                               const std::string& norm, const Data& data);

// The model as wick eval and wick bench run it: trace_for_inference for the data's image shape
// (the fusions fuse_for_inference makes, inside a forward of a module's own too, and large batches
// in chunks); a model the trace cannot follow runs through fuse_for_inference, with a warning that
// says why when a module has a forward of its own (has_own_forward), which that pass cannot see
// into.
std::shared_ptr<nn::Module> inference_model(nn::Module& model, const Data& data);

// Optimizer by name (sgd | adam | adamw) over parameter groups that may carry their own lr.
struct OptimArgs {
  std::string name = "sgd";
  double lr = 0.05, momentum = 0.9, weight_decay = 0.0;
  bool nesterov = false;  // sgd only
};
std::unique_ptr<optim::Optimizer> make_optimizer(const OptimArgs& args, std::vector<optim::ParamGroup> groups,
                                                 const std::vector<double>& group_lrs);

using train::format_percent;  // "89.53%": every subcommand prints accuracies with it

// Fails before any work is done when the file `path` (given with `flag`, e.g. "--save") cannot be
// written: its folder is missing or it names a folder. Empty paths pass.
void check_output_path(const std::string& flag, const std::string& path);

}  // namespace wick::cli
