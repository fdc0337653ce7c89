# Shared by the golden-value generators: tensors to JSON ({"shape", "data", "dtype"}), writing
# tests/data/<name>.json, and a minimal safetensors writer for state_dicts.
# Run with Debian's python3-torch: /usr/bin/python3 tools/golden/<area>.py
import json
import os
import struct

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


def save_safetensors(state, path, metadata=None):
    """Writes a state_dict (F32 and I64 tensors) as safetensors, with optional string metadata; the
    safetensors package is not in Debian 12."""
    header, blobs, offset = {"__metadata__": {"format": "pt", **(metadata or {})}}, [], 0
    for name, x in state.items():
        x = x.detach().contiguous()
        raw = x.numpy().tobytes()
        dtype = {torch.float32: "F32", torch.int64: "I64"}[x.dtype]
        header[name] = {"dtype": dtype, "shape": list(x.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * ((8 - len(head) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)
    print("wrote", os.path.relpath(path))
