# tests/data/resnet20_keys.txt: the state_dict keys (in order) and parameter count of zoo.py's
# resnet20 for 1x28x28 images and 10 classes, which examples/models/resnet20.json must reproduce.
# Run with Debian's python3-torch: /usr/bin/python3 tools/golden/resnet20_keys.py
# (the committed file was derived by hand from zoo.py where torch was not installed; this script
# writes the same lines).
import os
import sys

from common import DATA_DIR

sys.path.insert(0, "/work/shared/reference")
import zoo  # noqa: E402

m = zoo.make("resnet20", 1, 10, 28, 28)
path = os.path.join(DATA_DIR, "resnet20_keys.txt")
with open(path, "w") as f:
    f.write("# zoo.py resnet20 (1x28x28, 10 classes): state_dict keys in order; "
            f"parameters {sum(p.numel() for p in m.parameters())}\n")
    for k in m.state_dict():
        f.write(k + "\n")
print("wrote", os.path.relpath(path))
