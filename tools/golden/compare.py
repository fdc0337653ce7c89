# Golden values for where, masked_fill and topk (tests/test_compare.cpp): forward values, topk's
# indices, and the gradients of sum(out * w), with the inputs stored too. Inputs are randn, so topk
# sees no ties (wick's tie order, lowest index first, is tested without PyTorch).
# Run: /usr/bin/python3 tools/golden/compare.py
import torch

from common import t, write

torch.manual_seed(0)


def grads(out, *inputs):
    """A fixed random weight w and d sum(out * w) / d each input."""
    w = torch.randn(out.shape)
    (out * w).sum().backward()
    return {"w": t(w), **{"g" + str(i): t(x.grad) for i, x in enumerate(inputs)}}


cases = {}

# where with broadcasting: cond (2, 1, 4), a (3, 4), b (2, 3, 1).
cond = torch.randn(2, 1, 4) > 0
a = torch.randn(3, 4, requires_grad=True)
b = torch.randn(2, 3, 1, requires_grad=True)
out = torch.where(cond, a, b)
cases["where"] = {"cond": t(cond.float()), "a": t(a), "b": t(b), "out": t(out), **grads(out, a, b)}

# masked_fill with a mask (3, 1) broadcast over x (3, 5).
x = torch.randn(3, 5, requires_grad=True)
mask = torch.tensor([[True], [False], [True]])
out = x.masked_fill(mask, -1.5)
cases["masked_fill"] = {"x": t(x), "mask": t(mask.float()), "out": t(out), **grads(out, x)}

# topk along each dim of a (3, 4, 5) tensor, largest and smallest.
x = torch.randn(3, 4, 5)
cases["topk"] = {"x": t(x), "runs": []}
for dim, k, largest in [(-1, 2, True), (0, 2, False), (1, 3, True), (2, 5, False)]:
    xg = x.clone().requires_grad_()
    values, indices = torch.topk(xg, k, dim=dim, largest=largest)
    run = {"dim": dim, "k": k, "largest": largest, "values": t(values), "indices": t(indices), **grads(values, xg)}
    cases["topk"]["runs"].append(run)

write("compare", cases)
