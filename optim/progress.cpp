// Progress bar / plain progress lines, and the duration and percentage formats they show.
#include "optim/progress.h"

#include <unistd.h>

#include <cstdio>

namespace wick::train {
namespace {
bool g_line_open = false;  // a bar is drawn on the terminal and its line not yet ended
}  // namespace

void end_progress_line() {
  if (!g_line_open) return;
  std::printf("\n");
  std::fflush(stdout);
  g_line_open = false;
}

Progress::Progress(std::string label, int64_t total, bool quiet)
    : label_(std::move(label)), total_(total > 0 ? total : 1), quiet_(quiet), tty_(::isatty(STDOUT_FILENO) != 0),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string format_duration(double s) {
  char buf[32];
  int total = static_cast<int>(s + 0.5);
  if (total >= 3600) std::snprintf(buf, sizeof buf, "%dh%02dm", total / 3600, total / 60 % 60);
  else if (total >= 60) std::snprintf(buf, sizeof buf, "%dm%02ds", total / 60, total % 60);
  else std::snprintf(buf, sizeof buf, "%ds", total);
  return buf;
}

std::string format_percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * fraction);
  return buf;
}

void Progress::update(int64_t done, const std::string& figures) {
  if (quiet_) return;
  double elapsed = seconds();
  double eta = done > 0 ? elapsed * static_cast<double>(total_ - done) / static_cast<double>(done) : 0.0;
  if (tty_) {
    auto now = std::chrono::steady_clock::now();
    if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    constexpr int kWidth = 24;
    int filled = static_cast<int>(kWidth * done / total_);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(kWidth - filled), '.');
    std::printf("\r\033[K%s [%s] %lld/%lld  %s  ETA %s", label_.c_str(), bar.c_str(), static_cast<long long>(done),
                static_cast<long long>(total_), figures.c_str(), format_duration(eta).c_str());
    std::fflush(stdout);
    g_line_open = true;
    return;
  }
  int tenth = static_cast<int>(10 * done / total_);
  if (tenth <= last_tenth_ || tenth >= 10) return;
  last_tenth_ = tenth;
  std::printf("%s %3d%%  %s  ETA %s\n", label_.c_str(), tenth * 10, figures.c_str(), format_duration(eta).c_str());
  std::fflush(stdout);
}

void Progress::finish(const std::string& figures) {
  if (quiet_) return;
  if (tty_) std::printf("\r\033[K");
  std::printf("%s done in %s  %s\n", label_.c_str(), format_duration(seconds()).c_str(), figures.c_str());
  std::fflush(stdout);
  g_line_open = false;
}

}  // namespace wick::train
