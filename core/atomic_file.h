// Writing a file or a folder all-or-nothing: into a temporary beside it, renamed to the target
// only when everything was written and flushed. A failure leaves any old file as it was and no
// temporary behind.
#pragma once
#include <functional>
#include <ostream>
#include <string>

namespace wick {

// Calls write(stream) and commits the result to `path`; throws wick::Error naming the path.
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);

// Calls write(tmp) to fill a new temporary folder beside `path` (write the files in it with
// write_file_atomic), flushes it and renames it to `path`, which must not exist yet: `path`
// appears complete or not at all. Throws wick::Error naming the path; a failure leaves nothing.
void write_folder_atomic(const std::string& path, const std::function<void(const std::string& tmp)>& write);

// Removes what killed writers left in `folder`: entries "<stem>.tmp.<pid>" (files or folders)
// whose process no longer exists, for every stem that `matches`. The writes above call it for
// their own name.
void remove_stale_temporaries(const std::string& folder, const std::function<bool(const std::string& stem)>& matches);

}  // namespace wick
