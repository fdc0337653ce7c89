#!/usr/bin/python3
# The PyTorch twin of a `wick train` recipe on Fashion-MNIST, for accuracy comparisons
# (docs/models.md): zoo.py's model, SGD with momentum and weight decay, a cosine schedule stepped
# after every step down to 0 (as wick's --scheduler cosine), random crop (zero padding after
# normalization, as wick pads) and horizontal flip, and the test accuracy in eval mode after every
# epoch. Run with Debian's python3-torch:
#   /usr/bin/python3 bench/pytorch_train.py --model resnet20 --epochs 10 --batch-size 128 --lr 0.1 \
#       --weight-decay 5e-4 --crop-padding 4 --flip --seed 0
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_zoo import DEFAULT_DIR, ZOO_DIR, load_split, to_input  # noqa: E402


def augment(x, padding, flip, gen):
    """Per image: a random H x W crop of the zero-padded image, then a mirror with probability 1/2."""
    n, _, h, w = x.shape
    if padding:
        padded = F.pad(x, (padding,) * 4)
        offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=gen)
        x = torch.stack([padded[i, :, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(offsets.tolist())])
    if flip:
        mirror = torch.rand(n, generator=gen) < 0.5
        x = torch.where(mirror[:, None, None, None], x.flip(3), x)
    return x


def evaluate(model, images, labels):
    model.eval()
    correct = 0
    with torch.inference_mode():
        for start in range(0, images.shape[0], 1000):
            logits = model(to_input(images[start:start + 1000]))
            correct += (logits.argmax(1) == labels[start:start + 1000]).sum().item()
    return correct / images.shape[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="resnet20")
    ap.add_argument("--norm", default="")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--crop-padding", type=int, default=4)
    ap.add_argument("--flip", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--data-dir", default=DEFAULT_DIR)
    ap.add_argument("--zoo-dir", default=ZOO_DIR)
    a = ap.parse_args()
    torch.set_num_threads(a.threads if a.threads > 0 else len(os.sched_getaffinity(0)))
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    sys.path.insert(0, a.zoo_dir)
    import zoo
    train_x, train_y = load_split(a.data_dir, True)
    test_x, test_y = load_split(a.data_dir, False)
    model = zoo.make(a.model, 1, 10, 28, 28, a.norm or None)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay)
    steps_per_epoch = -(-train_x.shape[0] // a.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.epochs * steps_per_epoch)
    start = time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        model.train()
        order = torch.randperm(train_x.shape[0], generator=gen)
        for s in range(0, train_x.shape[0], a.batch_size):
            idx = order[s:s + a.batch_size]
            x = augment(to_input(train_x[idx]), a.crop_padding, a.flip, gen)
            loss = F.cross_entropy(model(x), train_y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        acc = evaluate(model, test_x, test_y)
        print(f"epoch {epoch}/{a.epochs}: test accuracy {100 * acc:.2f}% ({time.perf_counter() - start:.0f} s)", flush=True)
    print(json.dumps({"model": a.model, "seed": a.seed, "epochs": a.epochs, "test_acc": acc,
                      "seconds": time.perf_counter() - start, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
