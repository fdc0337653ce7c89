// placeholder: owned by a helper
#include "bn_lab.h"
namespace wick::cli {
void lab_small_batch(Lab& lab) { lab.verdict(false, "todo"); }
void lab_fine_tune(Lab& lab) { lab.verdict(false, "todo"); }
void lab_fold(Lab& lab) { lab.verdict(false, "todo"); }
}  // namespace wick::cli
