// Progress of long work (train::fit's epochs, train::evaluate): a redrawn bar with figures and an
// ETA on a terminal, or a plain line every tenth of the way when stdout is not a terminal (logs, CI).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace wick::train {

class Progress {
 public:
  // `label` heads each line ("epoch 1/2"); `total` steps; `quiet` prints nothing.
  Progress(std::string label, int64_t total, bool quiet = false);
  // Reports `done` steps finished; `figures` is shown after the bar ("loss 0.4123  acc 85.2%").
  void update(int64_t done, const std::string& figures);
  // Ends the line with a final summary.
  void finish(const std::string& figures);
  double seconds() const;

 private:
  std::string label_;
  int64_t total_;
  bool quiet_, tty_;
  int last_tenth_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

std::string format_duration(double seconds);  // "1m05s", "42s"
std::string format_percent(double fraction);  // 0.8953 -> "89.53%"

// Ends a progress bar left mid-line on the terminal (before an error message is printed).
void end_progress_line();

}  // namespace wick::train
