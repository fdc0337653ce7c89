// Writing a file all-or-nothing: into a temporary file beside it, renamed over the target only
// when everything was written. A failure leaves any old file as it was and no temporary behind.
#pragma once
#include <functional>
#include <ostream>
#include <string>

namespace wick {

// Calls write(stream) and commits the result to `path`; throws wick::Error naming the path.
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);

}  // namespace wick
