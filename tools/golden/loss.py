# Golden values for softmax, log_softmax, cross_entropy, nll_loss and mse_loss (outputs and input
# gradients for a fixed upstream gradient). Run: /usr/bin/python3 tools/golden/loss.py
import torch
import torch.nn.functional as F

from common import t, write

torch.manual_seed(0)
cases = []


def add(name, op, args, inputs, fn, grad_inputs):
    """Runs fn(**inputs), backpropagates a random upstream gradient, records everything."""
    for k in grad_inputs:
        inputs[k] = inputs[k].detach().requires_grad_()
    out = fn(**inputs)
    g = torch.randn(out.shape)
    out.backward(g)
    cases.append({"name": name, "op": op, "args": args,
                  "inputs": {k: t(v) for k, v in inputs.items()},
                  "grad_out": t(g), "out": t(out),
                  "grads": {k: t(inputs[k].grad) for k in grad_inputs}})


# softmax / log_softmax over several dims, including large logits (stability)
for op, f in (("softmax", F.softmax), ("log_softmax", F.log_softmax)):
    for dim in (0, 1, 2, -1):
        add(f"{op} dim {dim}", op, {"dim": dim}, {"x": torch.randn(3, 4, 5)},
            lambda x, dim=dim, f=f: f(x, dim), ["x"])
    add(f"{op} large logits", op, {"dim": 1}, {"x": torch.randn(4, 7) * 60},
        lambda x, f=f: f(x, 1), ["x"])
    add(f"{op} 1-D", op, {"dim": 0}, {"x": torch.randn(6)}, lambda x, f=f: f(x, 0), ["x"])

# cross_entropy: every reduction, with and without label smoothing and ignored targets
for red in ("none", "mean", "sum"):
    for ls in (0.0, 0.1, 0.35):
        for ignore in (-100, 2):
            x = torch.randn(7, 5) * 2
            tgt = torch.tensor([0, 2, 4, 1, 2, 3, 2])
            add(f"cross_entropy {red} ls={ls} ignore={ignore}", "cross_entropy",
                {"reduction": red, "label_smoothing": ls, "ignore_index": ignore},
                {"x": x, "target": tgt},
                lambda x, target, red=red, ls=ls, ignore=ignore: F.cross_entropy(
                    x, target, reduction=red, label_smoothing=ls, ignore_index=ignore), ["x"])
# (N, C, d) logits and (C) logits with a 0-d target
for red in ("none", "mean"):
    add(f"cross_entropy (N,C,d) {red}", "cross_entropy",
        {"reduction": red, "label_smoothing": 0.2, "ignore_index": 1},
        {"x": torch.randn(2, 4, 3), "target": torch.tensor([[0, 1, 3], [2, 2, 1]])},
        lambda x, target, red=red: F.cross_entropy(x, target, reduction=red, label_smoothing=0.2,
                                                   ignore_index=1), ["x"])
    add(f"cross_entropy (C) {red}", "cross_entropy",
        {"reduction": red, "label_smoothing": 0.0, "ignore_index": -100},
        {"x": torch.randn(6), "target": torch.tensor(4)},
        lambda x, target, red=red: F.cross_entropy(x, target, reduction=red), ["x"])
add("cross_entropy large logits", "cross_entropy", {"reduction": "mean", "label_smoothing": 0.1, "ignore_index": -100},
    {"x": torch.randn(5, 8) * 80, "target": torch.tensor([7, 0, 3, 3, 5])},
    lambda x, target: F.cross_entropy(x, target, label_smoothing=0.1), ["x"])

# nll_loss on log-probabilities
for red in ("none", "mean", "sum"):
    for ignore in (-100, 0):
        add(f"nll_loss {red} ignore={ignore}", "nll_loss", {"reduction": red, "ignore_index": ignore},
            {"x": F.log_softmax(torch.randn(6, 4), 1), "target": torch.tensor([0, 3, 1, 0, 2, 3])},
            lambda x, target, red=red, ignore=ignore: F.nll_loss(x, target, reduction=red, ignore_index=ignore),
            ["x"])

# mse_loss: gradients for input and target
for red in ("none", "mean", "sum"):
    add(f"mse_loss {red}", "mse_loss", {"reduction": red},
        {"x": torch.randn(3, 5), "target": torch.randn(3, 5)},
        lambda x, target, red=red: F.mse_loss(x, target, reduction=red), ["x", "target"])

write("loss", cases)
