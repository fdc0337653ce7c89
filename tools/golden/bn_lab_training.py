# The numbers `wick bn-lab fine-tune` and `wick bn-lab fold` record (--json) when they start from
# tests/data/small_cnn_pt_trained.safetensors (--weights), computed in PyTorch from the same inputs:
# Fashion-MNIST in file order, normalized as wick's loader does, faded as wick does (p -> 64 + p // 4).
#   fine-tune: stale statistics, fine-tuned with BN in training mode and with BN frozen (256 labelled
#              faded training images, batch 32, 3 epochs in file order, SGD lr 0.01 momentum 0.9), and
#              recalibration alone (momentum None, 20 batches of 100 faded training images in file
#              order; then only the first 1, 10, 100): accuracies on the original and the faded test
#              set, and the recalibrated buffers
#   fold:      torch.nn.utils.fusion.fuse_conv_bn_eval on each Conv2d + BatchNorm2d: the folded
#              weights (per output channel, the sum of |W'|) and biases, parameter and buffer counts
#   inside:    step 1 of the deep MLP with and without BatchNorm1d, initialized as wick initializes it
#              for --seed 0 (the same mt19937 draws) on the first batch wick's shuffling DataLoader
#              gives (SplitMix64 Fisher-Yates, reproduced here): the standard deviation of every
#              ReLU's input and of the loss's gradient at every ReLU's output
# Writes tests/data/bn_lab_training.json and tests/data/bn_lab_training.txt, one "key value atol rtol"
# line per number (value: a comma-separated list for tensors), which tests/cli/bn_lab_training.sh
# compares with wick's: |wick - torch| <= atol + rtol*|torch|, element by element.
# (small-batch, and inside after step 1, train from scratch for thousands of steps: float rounding grows into different
# weights, so PyTorch cannot reproduce its numbers; it is checked by its verdict.)
# Run: /usr/bin/python3 tools/golden/bn_lab_training.py   (2-3 minutes on a busy 2-core machine)
import copy
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from bn_lab_basics import wick_reset, wick_rng
from cli_reference import MEAN, STD, read_idx
from common import DATA_DIR, write
from nn_model import small_cnn

WEIGHTS = os.path.join(DATA_DIR, "small_cnn_pt_trained.safetensors")
LABELLED, FINE_TUNE_BATCH, FINE_TUNE_EPOCHS, FINE_TUNE_LR = 256, 32, 3, 0.01
UNLABELLED, RECALIBRATION_BATCH = 2000, 100
FEW_IMAGES = (1, 10, 100)
FOLD_IMAGES = 1000

# Tolerances. Accuracies: the two sides round differently (sums in another order), which may move a
# few test images across a decision boundary; fine-tuning's 24 steps add a little more.
ACCURACY = (0.0005, 0.0)       # 5 of 10000 test images
FINE_TUNED = (0.002, 0.0)      # 20 of 10000
BUFFER = (1e-6, 1e-5)          # running statistics averaged over 20 batches
FOLDED = (1e-6, 1e-5)          # folded weights and biases
NOISE = (1e-4, 0.0)            # float rounding on both sides: both must be tiny
EXACT = (0.0, 0.0)             # counts
STEP_ONE = (0.0, 1e-4)         # standard deviations of one forward and backward pass


def read_safetensors(path):
    """The F32/I64 tensors of a safetensors file (the safetensors package is not in Debian 12)."""
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = {"F32": np.float32, "I64": np.int64}[info["dtype"]]
        array = np.frombuffer(raw, dtype=dtype, count=(end - begin) // np.dtype(dtype).itemsize, offset=8 + n + begin)
        out[name] = torch.from_numpy(array.reshape(info["shape"]).copy())
    return out


def normalized(pixels):
    """uint8 (N, 28, 28) as wick's loader makes them: (p / 255 - mean) / std in float32, (N, 1, 28, 28)."""
    x = torch.from_numpy(pixels.copy()).float().div(255.0).unsqueeze(1)
    return (x - MEAN) / STD


def faded(pixels):
    return (64 + pixels // 4).astype(np.uint8)


def trained():
    model = small_cnn()
    model.load_state_dict(read_safetensors(WEIGHTS))
    return model


@torch.no_grad()
def accuracy(model, x, y):
    was = [m.training for m in model.modules()]
    model.eval()
    correct = sum((model(x[i:i + 500]).argmax(1) == y[i:i + 500]).sum().item() for i in range(0, len(x), 500))
    for m, on in zip(model.modules(), was):
        m.training = on
    return correct / len(x)


def fine_tune(model, x, y, frozen):
    """FINE_TUNE_EPOCHS passes in file order; frozen: BN layers in eval mode with γ, β fixed (wick's freeze)."""
    model.train()
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    if frozen:
        for bn in bns:
            bn.eval()
            bn.weight.requires_grad_(False)
            bn.bias.requires_grad_(False)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=FINE_TUNE_LR, momentum=0.9)
    for _ in range(FINE_TUNE_EPOCHS):
        for i in range(0, len(x), FINE_TUNE_BATCH):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[i:i + FINE_TUNE_BATCH]), y[i:i + FINE_TUNE_BATCH]).backward()
            opt.step()


@torch.no_grad()
def recalibrate(model, x, batch=RECALIBRATION_BATCH):
    """wick's recalibrate_batchnorm: reset, momentum None (a plain average), BN in training mode, the rest eval."""
    model.eval()
    for bn in model.modules():
        if isinstance(bn, nn.BatchNorm2d):
            bn.reset_running_stats()
            bn.momentum = None
            bn.train()
    for i in range(0, len(x), batch):
        model(x[i:i + batch])
    model.eval()


def lab_fine_tune(out, test_x, test_y, faded_test_x, train_x, train_y):
    rows = {"stale": lambda m: None,
            "bn_train": lambda m: fine_tune(m, train_x[:LABELLED], train_y[:LABELLED], frozen=False),
            "bn_frozen": lambda m: fine_tune(m, train_x[:LABELLED], train_y[:LABELLED], frozen=True),
            "adabn": lambda m: recalibrate(m, train_x)}
    acc = {}
    for key, adapt in rows.items():
        model = trained()
        adapt(model)
        tol = FINE_TUNED if key in ("bn_train", "bn_frozen") else ACCURACY
        acc[key] = accuracy(model, test_x, test_y), accuracy(model, faded_test_x, test_y)
        out["fine_tune_%s_original" % key] = acc[key][0], tol
        out["fine_tune_%s_faded" % key] = acc[key][1], tol
        print("%-10s original %.4f  faded %.4f" % (key, *acc[key]))
        if key == "adabn":
            for name, bn in [("1", model[1]), ("5", model[5])]:
                prefix = "fine_tune_adabn_layer" + name
                out[prefix + "_running_mean"] = bn.running_mean.tolist(), BUFFER
                out[prefix + "_running_var"] = bn.running_var.tolist(), BUFFER
                out[prefix + "_num_batches_tracked"] = bn.num_batches_tracked.item(), EXACT
    for images in FEW_IMAGES:
        model = trained()
        recalibrate(model, train_x[:images], min(images, RECALIBRATION_BATCH))
        out["fine_tune_adabn_%d_images_faded" % images] = accuracy(model, faded_test_x, test_y), ACCURACY
    stale_orig, stale_faded = acc["stale"]
    out["fine_tune_recovered"] = (acc["adabn"][1] - stale_faded) / (stale_orig - stale_faded), (0.002, 0.0)


@torch.no_grad()
def lab_fold(out, test_x):
    model = trained().eval()
    folded = copy.deepcopy(model)
    folded[0] = fuse_conv_bn_eval(model[0], model[1])
    folded[4] = fuse_conv_bn_eval(model[4], model[5])
    folded[1], folded[5] = nn.Identity(), nn.Identity()
    x = test_x[:FOLD_IMAGES]
    y, y_folded = model(x), folded(x)
    diff = (y - y_folded).abs().max().item()
    out["fold_layers"] = 2, EXACT
    out["fold_max_abs_diff"] = diff, NOISE
    out["fold_relative_diff"] = diff / y.abs().max().item(), NOISE
    out["fold_same_class"] = (y.argmax(1) == y_folded.argmax(1)).sum().item(), EXACT
    out["fold_parameters"] = sum(p.numel() for p in model.parameters()), EXACT
    out["fold_parameters_folded"] = sum(p.numel() for p in folded.parameters()), EXACT
    out["fold_buffers"] = sum(b.numel() for b in model.buffers()), EXACT
    out["fold_buffers_folded"] = sum(b.numel() for b in folded.buffers()), EXACT
    for i, conv in enumerate((folded[0], folded[4])):
        out["fold_conv%d_weight_l1" % i] = conv.weight.abs().sum((1, 2, 3)).tolist(), FOLDED
        out["fold_conv%d_bias" % i] = conv.bias.tolist(), FOLDED
    print("fold: max |unfolded - folded| %.3g" % diff)


INSIDE_HIDDEN, INSIDE_WIDTH, INSIDE_BATCH, INSIDE_IMAGES = 6, 128, 64, 300 * 64
U64 = (1 << 64) - 1
SHUFFLE_STREAM = 0x53485546464C45  # "SHUFFLE", data/dataloader.cpp


def mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & U64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & U64
    return z ^ (z >> 31)


def derive_seed(a, b):
    """data/dataset.cpp's derive_seed: two SplitMix64 finalizer rounds over a combination of a and b."""
    z = (a * 0x9E3779B97F4A7C15 + (b ^ 0xD1B54A32D192ED03) + ((b << 17) & U64) + (b >> 13)) & U64
    return mix((mix(z) + 0x9E3779B97F4A7C15) & U64)


def shuffled(n, seed, epoch):
    """The order wick's DataLoader visits n examples in: Fisher-Yates driven by SplitMix64."""
    state = derive_seed(derive_seed(seed, SHUFFLE_STREAM), epoch)
    order = list(range(n))
    for i in range(n, 1, -1):
        limit = U64 - U64 % i
        while True:
            state = (state + 0x9E3779B97F4A7C15) & U64
            v = mix(state)
            if v < limit:
                break
        j = v % i
        order[i - 1], order[j] = order[j], order[i - 1]
    return order


def inside_mlp(seed, bn):
    """bn-lab inside's network: deep_mlp (each Linear drawn at construction, then its hidden weights
    redrawn from He's normal init: two uniforms per value) and then every Linear reset to the default."""
    rs = wick_rng(seed)
    layers, width = [nn.Flatten()], 28 * 28
    for _ in range(INSIDE_HIDDEN):
        linear = nn.Linear(width, INSIDE_WIDTH)
        wick_reset(rs, linear)
        rs.random_sample(2 * linear.weight.numel())  # kaiming_normal_, overwritten below
        layers += [linear] + ([nn.BatchNorm1d(INSIDE_WIDTH)] if bn else []) + [nn.ReLU()]
        width = INSIDE_WIDTH
    layers.append(nn.Linear(width, 10))
    wick_reset(rs, layers[-1])
    model = nn.Sequential(*layers)
    for layer in model:
        if isinstance(layer, nn.Linear):
            wick_reset(rs, layer)
    return model.train()


def lab_inside(out, train_pixels, train_y):
    first = shuffled(INSIDE_IMAGES, 0, 0)[:INSIDE_BATCH]
    x, y = normalized(train_pixels[first]), train_y[first]
    for bn in (False, True):
        model = inside_mlp(0, bn)
        h, inputs, outputs = x, [], []
        for layer in model:
            if isinstance(layer, nn.ReLU):
                inputs.append(h.detach())
                h = layer(h)
                h.retain_grad()
                outputs.append(h)
            else:
                h = layer(h)
        nn.functional.cross_entropy(h, y).backward()
        for layer, (i, o) in enumerate(zip(inputs, outputs)):
            key = "inside_%s_step1_layer%d" % ("bn" if bn else "plain", layer + 1)
            out[key + "_input_std"] = (i.var(unbiased=False).sqrt().item(), STEP_ONE)
            out[key + "_grad_std"] = (o.grad.var(unbiased=False).sqrt().item(), STEP_ONE)


def main():
    torch.set_num_threads(2)
    test_pixels = read_idx("t10k-images-idx3-ubyte.gz")
    test_y = torch.from_numpy(read_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
    train_pixels = read_idx("train-images-idx3-ubyte.gz")[:UNLABELLED]
    train_y = torch.from_numpy(read_idx("train-labels-idx1-ubyte.gz")[:UNLABELLED].astype(np.int64))
    test_x = normalized(test_pixels)
    out = {}
    lab_fine_tune(out, test_x, test_y, normalized(faded(test_pixels)), normalized(faded(train_pixels)), train_y)
    lab_fold(out, test_x)
    lab_inside(out, read_idx("train-images-idx3-ubyte.gz")[:INSIDE_IMAGES],
               torch.from_numpy(read_idx("train-labels-idx1-ubyte.gz")[:INSIDE_IMAGES].astype(np.int64)))

    write("bn_lab_training", {key: {"value": v, "atol": tol[0], "rtol": tol[1]} for key, (v, tol) in out.items()})
    path = os.path.join(DATA_DIR, "bn_lab_training.txt")
    with open(path, "w") as f:
        f.write("# key value atol rtol, from tools/golden/bn_lab_training.py (torch %s)\n" % torch.__version__)
        for key, (v, (atol, rtol)) in out.items():
            value = ",".join(repr(e) for e in v) if isinstance(v, list) else repr(v)
            f.write("%s %s %g %g\n" % (key, value, atol, rtol))
    print("wrote", os.path.relpath(path))


if __name__ == "__main__":
    main()
