# Golden values for the unary ops and the reductions (tests/test_unary_reduce.cpp): forward values
# and the gradient of sum(f(x) * w), on plain and transposed inputs, with the inputs stored too.
# Run: /usr/bin/python3 tools/golden/unary_reduce.py
import torch

from common import t, write

torch.manual_seed(0)


def with_grad(fn, x, transpose=False):
    """fn(x) (or fn(x.t())), a fixed random weight w, and d sum(fn(.) * w) / dx."""
    x = x.clone().requires_grad_()
    y = fn(x.t() if transpose else x)
    w = torch.randn(y.shape)
    (y * w).sum().backward()
    return {"y": t(y), "w": t(w), "gx": t(x.grad)}


# ---- unary ops: name -> (function, input kind); "any" is randn, "pos" is in [0.5, 2.5)
x_any = torch.randn(3, 4)
x_pos = torch.rand(3, 4) * 2 + 0.5
unary_ops = {
    "neg": (lambda v: -v, "any"),
    "pow2": (lambda v: v.pow(2), "any"),
    "pow3": (lambda v: v.pow(3), "any"),
    "pow0": (lambda v: v.pow(0), "any"),
    "pow0.5": (lambda v: v.pow(0.5), "pos"),
    "pow-1.5": (lambda v: v.pow(-1.5), "pos"),
    "sqrt": (torch.sqrt, "pos"),
    "exp": (torch.exp, "any"),
    "log": (torch.log, "pos"),
    "abs": (torch.abs, "any"),
    "clamp": (lambda v: torch.clamp(v, -0.5, 0.7), "any"),
    "relu": (torch.relu, "any"),
    "leaky_relu": (torch.nn.functional.leaky_relu, "any"),
    "leaky_relu0.2": (lambda v: torch.nn.functional.leaky_relu(v, 0.2), "any"),
    "sigmoid": (torch.sigmoid, "any"),
    "tanh": (torch.tanh, "any"),
}
unary = {}
for name, (fn, kind) in unary_ops.items():
    x = x_any if kind == "any" else x_pos
    unary[name] = {"x": t(x), "plain": with_grad(fn, x), "transposed": with_grad(fn, x, transpose=True)}

# ---- reductions. Inputs: "x" randn (2, 3, 4); "ties" small integers (4, 5) with repeated maxima;
# "xt" is x.permute(2, 0, 1), a non-contiguous (4, 2, 3) view.
inputs = {"x": torch.randn(2, 3, 4), "ties": torch.randint(0, 3, (4, 5)).float()}
inputs["ties"][1] = 2.0  # a row that is all ties


def view(name):
    x = inputs["x" if name == "xt" else name]
    return x, (lambda v: v.permute(2, 0, 1)) if name == "xt" else (lambda v: v)


def first_max_index(x, dim):
    """argmax by the rule wick implements (first maximum), to check PyTorch agrees."""
    moved = x.movedim(dim, -1)
    flat = moved.reshape(-1, moved.shape[-1]).tolist()
    idx = [max(range(len(r)), key=lambda j: (r[j], -j)) for r in flat]
    return torch.tensor(idx).reshape(moved.shape[:-1])


reductions = []


def add(op, name, dims=None, keepdim=False, unbiased=None):
    x, pre = view(name)
    if op == "sum":
        fn = (lambda v: v.sum()) if dims is None else (lambda v: v.sum(dims, keepdim=keepdim))
    elif op == "mean":
        fn = (lambda v: v.mean()) if dims is None else (lambda v: v.mean(dims, keepdim=keepdim))
    elif op == "var":
        fn = lambda v: v.var(dims, unbiased=unbiased, keepdim=keepdim)
    elif op == "max":
        fn = (lambda v: v.max()) if dims is None else (lambda v: v.max(dims, keepdim=keepdim).values)
    case = {"op": op, "input": name, "dims": dims, "keepdim": keepdim, "unbiased": unbiased}
    case.update(with_grad(lambda v: fn(pre(v)), x))
    if op == "max" and dims is not None:
        idx = pre(x).argmax(dims, keepdim=keepdim)
        assert torch.equal(idx, pre(x).max(dims, keepdim=keepdim).indices)
        expect = first_max_index(pre(x), dims)
        assert torch.equal(idx, expect.unsqueeze(dims) if keepdim else expect), "argmax is not the first max"
        case["argmax"] = t(idx)
    reductions.append(case)


for name in ["x", "xt"]:
    for op in ["sum", "mean"]:
        add(op, name)
        for dims in [[1], [0, 2], [-1], [0, 1, 2], [-3, -1], [2, 0]]:
            for keepdim in [False, True]:
                add(op, name, dims, keepdim)
    for dims in [[1], [0, 2], [-1], [0, 1, 2]]:
        for unbiased in [True, False]:
            for keepdim in [False, True]:
                add("var", name, dims, keepdim, unbiased)
    add("max", name)
    for dim in [0, 1, 2, -1, -3]:
        for keepdim in [False, True]:
            add("max", name, dim, keepdim)
add("max", "ties")
for dim in [0, 1, -1, -2]:
    for keepdim in [False, True]:
        add("max", "ties", dim, keepdim)
add("sum", "ties", [1])

# ---- sum_to_shape: PyTorch's sum_to_size
g = torch.randn(2, 3, 4)
sum_to_shape = [{"shape": list(s), "y": t(g.sum_to_size(s))} for s in [(3, 1), (1, 4), (2, 1, 4), (4,), (1,), (1, 1, 1), (2, 3, 4)]]
sum_to_shape.append({"shape": [], "y": t(g.sum())})

write("unary_reduce", {
    "unary": unary,
    "inputs": {k: t(v) for k, v in inputs.items()},
    "reductions": reductions,
    "sum_to_shape": {"g": t(g), "cases": sum_to_shape},
})
