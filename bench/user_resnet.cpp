// The wick CLI with a user's own module types linked in (examples/CMakeLists.txt builds this file
// with the CLI's objects as build/wick_user_resnet): resnet20 written as Module subclasses with a
// hand-written forward of functional relu and add (examples/resnet_module.h, registered as "Net"
// and "Block"), so `wick_user_resnet bench --model bench/user_resnet20.json` and its train and
// export run it. No fusion pass reaches inside such a forward. bench/compare_pytorch.py
// --model user-resnet20 measures it against tools/golden/zoo.py's resnet20, itself a PyTorch
// user's nn.Module subclass.
#include "../examples/resnet_module.h"
