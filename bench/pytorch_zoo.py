#!/usr/bin/python3
# A zoo model (zoo.py's PyTorch twin of wick's, small-cnn by default) on Fashion-MNIST in PyTorch,
# measured the way `wick bench` measures wick: same workloads, flags, defaults and JSON line.
# Run with Debian's python3-torch: /usr/bin/python3 bench/pytorch_zoo.py [--model resnet20]
"""PyTorch side of the wick/PyTorch comparison (see bench/README.md).

Data: the Fashion-MNIST IDX .gz files read with gzip + numpy into uint8 arrays (as wick keeps them),
converted per batch with torchvision's arithmetic, (p / 255 - 0.2860) / 0.3530, in the main thread.
Training: torch.manual_seed(0), SGD lr 0.05 momentum 0.9, cross-entropy, shuffled batches (a new
torch.randperm every epoch), zero_grad(set_to_none=True) as wick's zero_grad drops gradients.
Eval and latency: model.eval() under torch.inference_mode(), PyTorch's fastest inference setting.
"""
import argparse
import gzip
import json
import math
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

ZOO_DIR = os.environ.get("WICK_ZOO_DIR", "/work/shared/reference")  # where zoo.py lives

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530
# name: (what, batch, default steps per repeat, default warm-up), as in examples/cli/bench.cpp
WORKLOADS = {
    "train64": ("training img/s, batch 64", 64, 20, 5),
    "train256": ("training img/s, batch 256", 256, 5, 3),
    "eval256": ("eval img/s, batch 256", 256, 5, 3),
    "latency": ("batch-1 eval latency, ms", 1, 200, 50),
}


def read_idx(path, ndim):
    """An IDX file of unsigned bytes as a numpy uint8 array, read straight into place."""
    with gzip.open(path, "rb") as f:
        head = f.read(4 + 4 * ndim)
        magic = int.from_bytes(head[:4], "big")
        if magic != 0x800 | ndim:
            sys.exit(f"pytorch_zoo: {path}: bad IDX magic number {magic:#x}")
        dims = [int.from_bytes(head[4 + 4 * d: 8 + 4 * d], "big") for d in range(ndim)]
        out = np.empty(dims, dtype=np.uint8)
        if f.readinto(memoryview(out).cast("B")) != out.size:
            sys.exit(f"pytorch_zoo: {path}: truncated")
    return out


def load_split(data_dir, train):
    prefix = "train" if train else "t10k"
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"), 3)
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"), 1)
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels).long()


def to_input(pixels):
    """uint8 (N, 1, 28, 28) -> normalized float32, as ToTensor() then Normalize()."""
    return pixels.to(torch.float32).div_(255).sub_(MEAN).div_(STD)


def zoo_model(a):
    """zoo.py's model for 1x28x28 images and 10 classes."""
    sys.path.insert(0, a.zoo_dir)
    import zoo
    return zoo.make(a.model, 1, 10, 28, 28, a.norm or None)


def batches(images, labels, batch, shuffle):
    """Endless batches: epoch after epoch, each in a new random order when shuffling."""
    gen = torch.Generator().manual_seed(0)
    n = images.shape[0]
    while True:
        order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            yield to_input(images[idx]), labels[idx]


def repeat_rates(step, plan):
    """Warm-up steps, then the images/s of each timed repeat."""
    steps, repeats, warmup = plan
    for _ in range(warmup):
        step()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        images = sum(step() for _ in range(steps))
        rates.append(images / (time.perf_counter() - start))
    return rates


def measure_training(a, split, batch, plan):
    torch.manual_seed(0)
    model = zoo_model(a).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    source = batches(*split, batch, shuffle=True)

    def step():
        x, y = next(source)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if not math.isfinite(loss.item()):
            sys.exit("pytorch_zoo: training diverged")
        return x.shape[0]

    return repeat_rates(step, plan)


def eval_model(a):
    torch.manual_seed(0)
    return zoo_model(a).eval()


def measure_eval(a, split, batch, plan):
    model = eval_model(a)
    source = batches(*split, batch, shuffle=False)

    def step():
        x, _ = next(source)
        model(x)
        return x.shape[0]

    with torch.inference_mode():
        return repeat_rates(step, plan)


def measure_latency(a, split, plan):
    steps, repeats, warmup = plan
    model = eval_model(a)
    images = [to_input(split[0][i:i + 1]) for i in range(min(100, split[0].shape[0]))]
    times = []
    with torch.inference_mode():
        for k in range(warmup + steps * repeats):
            x = images[k % len(images)]
            start = time.perf_counter()
            model(x)
            if k >= warmup:
                times.append(1e3 * (time.perf_counter() - start))
    return times


def summarize(values):
    return statistics.median(values), min(values), max(values)


def percentile(values, p):
    """Nearest rank, as wick bench: the smallest value with at least p% of them at or below it."""
    ordered = sorted(values)
    rank = math.ceil(p / 100 * len(ordered))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="small-cnn", help="a zoo.py model name (default small-cnn)")
    ap.add_argument("--norm", default="", help="batch | group | layer | none (default: the model's own)")
    ap.add_argument("--zoo-dir", default=ZOO_DIR, help="the folder holding zoo.py (default $WICK_ZOO_DIR or " + ZOO_DIR + ")")
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: all cores)")
    ap.add_argument("--only", default="", help="comma-separated: " + ", ".join(WORKLOADS))
    ap.add_argument("--steps", type=int, default=0, help="steps per repeat (0: the workload's default)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=-1, help="untimed steps first (-1: the workload's default)")
    ap.add_argument("--data-dir", default=DEFAULT_DIR)
    ap.add_argument("--json", action="store_true", help="end with one JSON line of every figure")
    a = ap.parse_args()
    only = [w for w in a.only.split(",") if w]
    for w in only:
        if w not in WORKLOADS:
            ap.error(f"--only: unknown workload {w!r} (expected {', '.join(WORKLOADS)})")
    if a.threads < 0 or a.steps < 0 or a.repeats <= 0:
        ap.error("--threads and --steps must be zero or more, --repeats positive")
    chosen = [w for w in WORKLOADS if not only or w in only]

    torch.set_num_threads(a.threads if a.threads > 0 else len(os.sched_getaffinity(0)))
    start = time.perf_counter()
    any_training = any(w.startswith("train") for w in chosen)
    train = load_split(a.data_dir, True) if any_training else None
    test = load_split(a.data_dir, False)
    load_s = time.perf_counter() - start

    print(f"PyTorch {torch.__version__}: {a.model}{' --norm ' + a.norm if a.norm else ''} on Fashion-MNIST, {torch.get_num_threads()} thread{'s' if torch.get_num_threads() != 1 else ''} "
          "(SGD lr 0.05 momentum 0.9, cross-entropy)")
    print(f"data loaded in {load_s:.2f} s ({f'{train[0].shape[0]} training, ' if train else ''}"
          f"{test[0].shape[0]} test images)\n")
    print(f"{'workload':<9} {'measure':<27} {'median':>10} {'min':>10} {'max':>10}  runs")
    out = {"threads": torch.get_num_threads(), "model": a.model, "norm": a.norm, "data": "fashion-mnist",
           "data_load_s": load_s, "torch": torch.__version__}
    for name in chosen:
        what, batch, default_steps, default_warmup = WORKLOADS[name]
        plan = (a.steps or default_steps, a.repeats, a.warmup if a.warmup >= 0 else default_warmup)
        j = {"steps": plan[0], "repeats": plan[1], "warmup": plan[2], "batch": batch}
        if name == "latency":
            ms = measure_latency(a, test, plan)
            med, lo, hi = summarize(ms)
            p99 = percentile(ms, 99)
            print(f"{name:<9} {what:<27} {med:10.3f} {lo:10.3f} {hi:10.3f}  {len(ms)} forwards, p99 {p99:.3f} ms")
            j.update(median_ms=med, p99_ms=p99, min_ms=lo, max_ms=hi)
        else:
            rates = (measure_eval(a, test, batch, plan) if name == "eval256"
                     else measure_training(a, train, batch, plan))
            med, lo, hi = summarize(rates)
            print(f"{name:<9} {what:<27} {med:10.1f} {lo:10.1f} {hi:10.1f}  {plan[1]} x {plan[0]} steps")
            j.update(img_per_s=med, img_per_s_min=lo, img_per_s_max=hi)
        sys.stdout.flush()
        out[name] = j
    out["peak_rss_mib"] = peak_rss_mib()
    print(f"\npeak RSS: {out['peak_rss_mib']:.1f} MiB (getrusage ru_maxrss: the peak of this whole process)")
    if a.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
