// Rebuilding a model from its printout. A module's repr (PyTorch's format) names every layer and
// option, so wick stores it in its weight files and can rebuild the model from the file alone.
#pragma once
#include <memory>
#include <string>

#include "layers/module.h"

namespace wick::nn {

// Parses text like "Sequential(\n  (0): Conv2d(1, 32, kernel_size=(3, 3), ...)\n ...)" into
// fresh modules (parameters freshly initialized). Throws wick::Error naming the unknown layer or
// option, or the position of a syntax error.
std::shared_ptr<Module> module_from_repr(const std::string& text);

}  // namespace wick::nn
