# Reference runs of small-cnn on Fashion-MNIST for the CLI tests (tests/cli/reference_*.sh):
#   small_cnn_init.safetensors    the initial weights (torch.manual_seed(0))
#   small_cnn_3steps.safetensors  after 3 SGD steps on the first 192 training images in file order,
#                                 computed in float64 (then stored as float32): PyTorch's own float32
#                                 run strays from it by up to ~4e-5 (its float32 sums over 50176
#                                 positions in conv and BatchNorm backward), more than the 1e-4
#                                 relative the test asks of wick; the deviation is recorded in the JSON
#   small_cnn_pt_trained.safetensors, cli_reference.json
#                                 one shuffled epoch (seed 1) and its eval-mode test accuracy
# SGD lr 0.05 momentum 0.9, batch 64, cross_entropy mean, inputs (p/255 - 0.2860) / 0.3530: wick's defaults.
# Run: /usr/bin/python3 tools/golden/cli_reference.py   (about a minute on 2 cores)
import copy
import gzip
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn

from common import DATA_DIR, save_safetensors, write
from nn_model import small_cnn

FASHION = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530
LR, MOMENTUM, BATCH = 0.05, 0.9, 64


def read_idx(name):
    """An IDX file (.gz) as a uint8 numpy array: magic (0, 0, type 0x08, ndim), big-endian dims, bytes."""
    with gzip.open(os.path.join(FASHION, name), "rb") as f:
        raw = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    assert zero == 0 and dtype == 0x08, name + ": not an unsigned-byte IDX file"
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(split):
    """Images as normalized float32 (N, 1, 28, 28), the same arithmetic as ToTensor() + Normalize()."""
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(prefix + "-images-idx3-ubyte.gz")
    labels = read_idx(prefix + "-labels-idx1-ubyte.gz")
    x = torch.from_numpy(images.copy()).float().div(255.0).unsqueeze(1)
    x = (x - MEAN) / STD
    return x, torch.from_numpy(labels.astype(np.int64))


def sgd(model):
    return torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)


def step(model, opt, x, y):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


@torch.no_grad()
def test_accuracy(model, x, y):
    model.eval()
    correct = 0
    for i in range(0, len(x), 1000):
        correct += (model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
    return correct / len(x)


def main():
    torch.set_num_threads(2)
    train_x, train_y = load("train")
    test_x, test_y = load("test")

    # 3 steps from seed-0 weights on the first 192 images, in file order, in float64 and in float32.
    torch.manual_seed(0)
    init = small_cnn()
    save_safetensors(init.state_dict(), os.path.join(DATA_DIR, "small_cnn_init.safetensors"))
    three_steps = {"init_seed": 0, "images": 3 * BATCH}
    for dtype in (torch.float64, torch.float32):
        model = copy.deepcopy(init).to(dtype)  # float32 -> float64 is exact
        model.train()
        opt = sgd(model)
        losses = [step(model, opt, train_x[i:i + BATCH].to(dtype), train_y[i:i + BATCH])
                  for i in range(0, 3 * BATCH, BATCH)]
        state = {k: v.float() if v.is_floating_point() else v for k, v in model.state_dict().items()}
        if dtype == torch.float64:
            reference = state
            three_steps["losses"] = losses
            save_safetensors(state, os.path.join(DATA_DIR, "small_cnn_3steps.safetensors"))
        else:
            three_steps["float32_losses"] = losses
            three_steps["float32_max_abs_deviation"] = max(
                (v.double() - reference[k].double()).abs().max().item() for k, v in state.items())
    print("PyTorch float32 vs float64 after 3 steps: max abs", three_steps["float32_max_abs_deviation"])

    # One shuffled epoch from seed 1 (the last batch holds the remaining 60000 % 64 = 32 images).
    torch.manual_seed(1)
    model = small_cnn()
    model.train()
    opt = sgd(model)
    order = torch.randperm(len(train_x))
    start = time.time()
    for i in range(0, len(order), BATCH):
        idx = order[i:i + BATCH]
        step(model, opt, train_x[idx], train_y[idx])
    seconds = time.time() - start
    save_safetensors(model.state_dict(), os.path.join(DATA_DIR, "small_cnn_pt_trained.safetensors"))
    acc = test_accuracy(model, test_x, test_y)
    print(f"1 epoch: {seconds:.1f} s, test accuracy {100 * acc:.2f}% on {len(test_x)} images")
    write("cli_reference", {
        "three_steps": three_steps,
        "trained": {"seed": 1, "epochs": 1, "test_images": len(test_x), "test_acc": acc},
        "sgd": {"lr": LR, "momentum": MOMENTUM, "batch_size": BATCH},
    })


if __name__ == "__main__":
    main()
