// placeholder: owned by a helper
#include "bn_lab.h"
namespace wick::cli {
void lab_modes(Lab& lab) { lab.verdict(false, "todo"); }
void lab_running_stats(Lab& lab) { lab.verdict(false, "todo"); }
void lab_momentum_convention(Lab& lab) { lab.verdict(false, "todo"); }
void lab_batch_size(Lab& lab) { lab.verdict(false, "todo"); }
void lab_no_grad_trap(Lab& lab) { lab.verdict(false, "todo"); }
void lab_myths(Lab& lab) { lab.verdict(false, "todo"); }
}  // namespace wick::cli
