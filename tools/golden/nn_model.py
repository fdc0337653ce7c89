# Golden values for layers/: a small-cnn trained a little in PyTorch and saved as safetensors
# (tests/data/small_cnn_pt.safetensors), its eval logits, and the BatchNorm running statistics after
# more training-mode batches; plus BatchNorm1d module cases (momentum None, (N,C,L), eval after training).
# Run: /usr/bin/python3 tools/golden/nn_model.py
import os

import torch
import torch.nn as nn

from common import DATA_DIR, save_safetensors, t, write


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))


def main():
    torch.manual_seed(0)
    model = small_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(3):
        x, y = torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    save_safetensors(model.state_dict(), os.path.join(DATA_DIR, "small_cnn_pt.safetensors"))

    cases = {}
    model.eval()
    probe = torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        cases["eval_logits"] = {"x": t(probe), "logits": t(model(probe))}
    # Training-mode forwards (no optimizer step) move the BN running statistics.
    model.train()
    batches = [torch.randn(8, 1, 28, 28) * 1.5 + 0.3 for _ in range(3)]
    with torch.no_grad():
        for b in batches:
            model(b)
    cases["train_stats"] = {
        "batches": [t(b) for b in batches],
        **{k: t(v) for k, v in model.state_dict().items() if "running" in k or "num_batches" in k},
    }

    # BatchNorm1d as a module: momentum None (cumulative average) over several batches, then eval.
    bn = nn.BatchNorm1d(5, momentum=None)
    with torch.no_grad():
        bn.weight.copy_(torch.randn(5))
        bn.bias.copy_(torch.randn(5))
    xs = [torch.randn(6, 5) * (i + 1) + i for i in range(4)]
    for x in xs:
        bn(x)
    bn.eval()
    probe = torch.randn(3, 5)
    cases["bn1d_cumulative"] = {
        "weight": t(bn.weight), "bias": t(bn.bias), "batches": [t(x) for x in xs],
        "running_mean": t(bn.running_mean), "running_var": t(bn.running_var),
        "num_batches_tracked": t(bn.num_batches_tracked), "probe": t(probe), "eval_out": t(bn(probe)),
    }
    # BatchNorm1d on (N, C, L), momentum 0.3, training output and gradients.
    bn = nn.BatchNorm1d(4, momentum=0.3)
    x = torch.randn(3, 4, 7, requires_grad=True)
    g = torch.randn(3, 4, 7)
    y = bn(x)
    y.backward(g)
    cases["bn1d_ncl"] = {"x": t(x), "g": t(g), "y": t(y), "dx": t(x.grad), "dweight": t(bn.weight.grad),
                         "dbias": t(bn.bias.grad), "running_mean": t(bn.running_mean), "running_var": t(bn.running_var)}
    write("nn_model", cases)


if __name__ == "__main__":
    main()
