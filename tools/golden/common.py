# Shared by the golden-value generators: tensors to JSON ({"shape", "data", "dtype"}) and writing
# tests/data/<name>.json. Run with Debian's python3-torch: /usr/bin/python3 tools/golden/<area>.py
import json
import os

import torch

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data")


def t(x):
    """A tensor as {"shape": [...], "data": [...]} (float64 text of float32 values, exact)."""
    x = x.detach()
    if x.dtype == torch.int64:
        return {"shape": list(x.shape), "dtype": "int64", "data": x.flatten().tolist()}
    return {"shape": list(x.shape), "data": x.double().flatten().tolist()}


def write(name, cases):
    """Writes tests/data/<name>.json with the torch version recorded."""
    os.makedirs(DATA_DIR, exist_ok=True)
    path = os.path.join(DATA_DIR, name + ".json")
    with open(path, "w") as f:
        json.dump({"generator": "tools/golden/" + name + ".py", "torch": torch.__version__, "cases": cases},
                  f, indent=None, separators=(",", ":"))
        f.write("\n")
    print("wrote", os.path.relpath(path))
