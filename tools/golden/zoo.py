# Golden values for the model zoo (layers/models.h) from zoo.py's PyTorch definitions, one case
# per model (and per non-default norm where it adds a layer type), in tests/data/zoo/:
#   <case>.safetensors     PyTorch's state_dict: its initialization with the BatchNorm running
#                          statistics randomized (so loading and eval exercise them), saved by
#                          PyTorch's names
#   <case>_io.safetensors  the inputs (probe, x0..x2, y0..y2), PyTorch's eval logits of the probe
#                          before and after 3 SGD steps (lr 0.05, momentum 0.9, weight decay 5e-4,
#                          training mode, cross-entropy), and for every state_dict entry after the
#                          steps up to 64 evenly spaced elements (after.<key>.idx / after.<key>.val);
#                          its metadata "keys" lists the state_dict keys in order
# The references are computed in float64 from the float32 weights and inputs, then stored as
# float32, so wick's float32 results are compared with the exact values, not with PyTorch's own
# float32 rounding. tests/data/zoo.json lists the cases.
# Inputs are drawn again (up to 200 times) while a max-pooling window in the float64 training
# steps has its two largest values closer than TIE_MARGIN (relative): there, which one is the
# maximum hinges on float32 rounding, and the gradient goes to either, so no float32
# implementation could be held to the reference (wick's vgg8 met one at a gap of 1.5e-6).
# Run: /usr/bin/python3 tools/golden/zoo.py   (zoo.py from /work/shared/reference, or $WICK_ZOO_DIR)
import copy
import json
import os
import sys

import torch
import torch.nn as nn

from common import DATA_DIR, save_safetensors

sys.path.insert(0, os.environ.get("WICK_ZOO_DIR", "/work/shared/reference"))
import zoo  # noqa: E402

LR, MOMENTUM, WEIGHT_DECAY, BATCH, STEPS, SAMPLES = 0.05, 0.9, 5e-4, 8, 3, 64
TIE_MARGIN = 1e-5

# name, model, norm (None: the model's default), channels, classes, height, width. Image sizes are
# small where the parameter count does not depend on them (convolutional trunks with global pooling).
CASES = [
    ("mlp", "mlp", None, 1, 10, 12, 12),
    ("mlp_layer", "mlp", "layer", 1, 10, 12, 12),
    ("mlp_none", "mlp", "none", 1, 10, 12, 12),
    ("lenet5", "lenet5", None, 1, 10, 28, 28),
    ("small_cnn", "small-cnn", None, 3, 7, 16, 12),
    ("small_cnn_group", "small-cnn", "group", 3, 7, 16, 12),
    ("vgg8", "vgg8", None, 3, 10, 16, 16),
    ("resnet20", "resnet20", None, 1, 10, 28, 28),
    ("resnet20_group", "resnet20", "group", 1, 10, 16, 16),
    ("resnet32", "resnet32", None, 3, 10, 16, 16),
    ("resnet56", "resnet56", None, 1, 10, 16, 16),
]


def randomize_running_stats(model):
    """BatchNorm running statistics away from 0/1 (what training leaves), so eval exercises them.
    The affine parameters keep PyTorch's initialization (1 and 0): with them randomized, the first
    backward through a deep BN ResNet becomes so ill-conditioned that PyTorch's own float32 run
    strays from its float64 run by up to 1% in conv1's gradient (resnet56), and no float32
    implementation could meet 1e-4. Training mode does not read the running statistics, so the
    SGD steps start from PyTorch's initialization exactly; the eval after them checks the trained
    affine parameters."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.normal_(0.0, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(7)


def samples(x):
    """Up to SAMPLES evenly spaced (flat index, value) pairs of a tensor."""
    flat = x.detach().flatten()
    idx = torch.linspace(0, flat.numel() - 1, min(flat.numel(), SAMPLES)).round().long().unique()
    return idx, flat[idx]


def record(io, init, ref, f32):
    """Samples of every state_dict entry of the float64 reference after the steps; returns, per
    floating-point entry, how far PyTorch's own float32 run lands from it, relative to how far the
    steps moved it: |f32 - ref| / |ref - init| over the samples (norms)."""
    noise = {}
    for (key, v), v32 in zip(ref.state_dict().items(), f32.state_dict().values()):
        idx, val = samples(v)
        io[f"after.{key}.idx"] = idx
        io[f"after.{key}.val"] = val if v.dtype == torch.int64 else val.float()
        if v.is_floating_point():
            moved = (val - init[key].flatten()[idx].double()).norm().item()
            noise[key] = (v32.flatten()[idx].double() - val).norm().item() / max(moved, 1e-30)
    return noise


def closest_pool_call(model):
    """Hooks every MaxPool2d (the zoo's are 2x2, stride 2) to keep, in the returned list's one
    entry, the smallest gap between a window's two largest values relative to the largest, over
    windows where they differ (an exact tie is decided the same way in every precision)."""
    closest = [float("inf")]

    def hook(module, inputs, output):
        assert module.kernel_size in (2, (2, 2)) and module.stride in (2, (2, 2)) and module.padding in (0, (0, 0))
        x = inputs[0].detach()
        windows = nn.functional.unfold(x, 2, stride=2).reshape(x.shape[0], x.shape[1], 4, -1)
        top = windows.sort(dim=2, descending=True).values
        gap = top[:, :, 0] - top[:, :, 1]
        rel = gap / top[:, :, 0].abs().clamp_min(1e-30)
        rel = rel[gap > 0]
        if rel.numel():
            closest[0] = min(closest[0], rel.min().item())

    for m in model.modules():
        if isinstance(m, nn.MaxPool2d):
            m.register_forward_hook(hook)
    return closest


def eval_logits(model, probe):
    model.eval()
    with torch.no_grad():
        return model(probe.to(next(model.parameters()).dtype)).double()


def main():
    out_dir = os.path.join(DATA_DIR, "zoo")
    os.makedirs(out_dir, exist_ok=True)
    listing = []
    for k, (case, name, norm, c, classes, h, w) in enumerate(CASES):
        torch.manual_seed(100 + k)
        model = zoo.make(name, c, classes, h, w, norm)
        randomize_running_stats(model)
        save_safetensors(model.state_dict(), os.path.join(out_dir, case + ".safetensors"))
        parameters = sum(p.numel() for p in model.parameters())
        keys = ",".join(model.state_dict().keys())
        init = {k: v.clone() for k, v in model.state_dict().items()}

        for attempt in range(200):
            probe = torch.randn(3, c, h, w)
            xs = [torch.randn(BATCH, c, h, w) for _ in range(STEPS)]
            ys = [torch.randint(0, classes, (BATCH,)) for _ in range(STEPS)]
            io = {"probe": probe, **{f"x{i}": x for i, x in enumerate(xs)}, **{f"y{i}": y for i, y in enumerate(ys)}}
            f32, ref = copy.deepcopy(model), copy.deepcopy(model).double()
            io["logits_before"] = eval_logits(ref, probe).float()
            closest = closest_pool_call(ref)
            opts = [torch.optim.SGD(m.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY) for m in (ref, f32)]
            for x, y in zip(xs, ys):
                for m, opt in zip((ref, f32), opts):
                    m.train()
                    opt.zero_grad()
                    nn.functional.cross_entropy(m(x.to(next(m.parameters()).dtype)), y).backward()
                    opt.step()
            if closest[0] >= TIE_MARGIN:
                break
        else:
            sys.exit(f"{case}: every draw of inputs puts two values of a pooling window within {TIE_MARGIN}")
        noise = record(io, init, ref, f32)
        io["logits_after"] = eval_logits(ref, probe).float()
        exact = io["logits_after"].double()
        save_safetensors(io, os.path.join(out_dir, case + "_io.safetensors"), metadata={"keys": keys})
        listing.append({"case": case, "model": name, "norm": norm or "", "channels": c, "classes": classes,
                        "height": h, "width": w, "parameters": parameters,
                        "float32_noise": {"logits_after": ((eval_logits(f32, probe) - exact).norm() / exact.norm()).item(),
                                          **noise}})
    with open(os.path.join(DATA_DIR, "zoo.json"), "w") as f:
        json.dump({"generator": "tools/golden/zoo.py", "torch": torch.__version__, "lr": LR, "momentum": MOMENTUM,
                   "weight_decay": WEIGHT_DECAY, "steps": STEPS, "cases": listing}, f, indent=1)
        f.write("\n")
    print("wrote", os.path.relpath(os.path.join(DATA_DIR, "zoo.json")))


if __name__ == "__main__":
    main()
