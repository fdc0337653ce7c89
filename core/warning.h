// Warnings: advice that is not an error (e.g. evaluating a BatchNorm that never saw data). They go
// to stderr as "wick: warning: ..." unless a handler is installed (tests, GUIs, the CLI).
#pragma once
#include <functional>
#include <string>

namespace wick {

void warn(const std::string& message);
// Replaces the handler; an empty function restores printing to stderr. Returns the previous one.
std::function<void(const std::string&)> set_warning_handler(std::function<void(const std::string&)> handler);

}  // namespace wick
