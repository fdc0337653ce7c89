# Golden values for conv2d and the 2-D pooling ops: inputs, outputs and the gradients of
# sum(out * gout) for a fixed random gout. Run: /usr/bin/python3 tools/golden/conv_pool.py
import torch
import torch.nn.functional as F

from common import t, write

torch.manual_seed(0)
torch.set_num_threads(1)


def grid_randn(*shape):
    """randn rounded to multiples of 1/16: exact in float32 and short in JSON."""
    return torch.round(torch.randn(*shape) * 16) / 16


def t8(x):
    """Like t(), with values rounded to 8 significant digits (results compared to 1e-5) to keep
    the file small."""
    d = t(x)
    d["data"] = [float("%.8g" % v) for v in d["data"]]
    return d


def conv_case(name, x_shape, w_shape, bias=True, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    x = grid_randn(*x_shape).requires_grad_()
    w = grid_randn(*w_shape).requires_grad_()
    b = grid_randn(w_shape[0]).requires_grad_() if bias else None
    out = F.conv2d(x, w, b, stride, padding, dilation, groups)
    gout = grid_randn(*out.shape)
    (out * gout).sum().backward()
    case = {"name": name, "stride": list(stride), "padding": list(padding), "dilation": list(dilation),
            "groups": groups, "x": t(x), "w": t(w), "out": t8(out), "gout": t(gout),
            "gx": t8(x.grad), "gw": t8(w.grad)}
    if bias:
        case["b"] = t(b)
        case["gb"] = t8(b.grad)
    return case


def pool_case(name, op, x_shape, args, ties=False):
    if ties:  # small integers, so windows hold equal maxima and the argmax rule matters
        x = torch.randint(0, 3, x_shape).float().requires_grad_()
    else:
        x = torch.randn(*x_shape, requires_grad=True)
    fn = {"max": F.max_pool2d, "avg": F.avg_pool2d, "adaptive_avg": F.adaptive_avg_pool2d}[op]
    out = fn(x, **args)
    gout = torch.randn(out.shape)
    (out * gout).sum().backward()
    return {"name": name, "op": op, "args": args, "x": t(x), "out": t(out), "gout": t(gout), "gx": t(x.grad)}


conv = [
    conv_case("basic 3x3", (2, 3, 7, 6), (4, 3, 3, 3), padding=(1, 1)),
    conv_case("stride padding dilation, non-square", (2, 3, 9, 8), (5, 3, 3, 2), stride=(2, 1), padding=(1, 2),
              dilation=(1, 2)),
    conv_case("padding beyond the kernel, stride beyond the kernel", (2, 2, 5, 4), (3, 2, 2, 3), stride=(3, 4),
              padding=(3, 2), dilation=(2, 1)),
    conv_case("groups 2", (2, 4, 6, 6), (6, 2, 3, 3), padding=(1, 1), groups=2),
    conv_case("depthwise stride 2, no bias", (1, 4, 7, 7), (4, 1, 3, 3), bias=False, stride=(2, 2), groups=4),
    conv_case("1x1", (3, 8, 5, 5), (6, 8, 1, 1)),
    conv_case("small-cnn conv1", (2, 1, 28, 28), (32, 1, 3, 3), padding=(1, 1)),
    conv_case("small-cnn conv2", (2, 32, 14, 14), (64, 32, 3, 3), padding=(1, 1)),
]

pool = [
    pool_case("max 2x2 (small-cnn)", "max", (2, 3, 8, 8), {"kernel_size": [2, 2]}),
    pool_case("max 3x3 s2 p1 ceil", "max", (2, 2, 7, 9),
              {"kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1], "ceil_mode": True}),
    pool_case("max dilated non-square", "max", (1, 2, 9, 10),
              {"kernel_size": [2, 3], "stride": [1, 2], "padding": [1, 1], "dilation": [2, 2]}),
    pool_case("max unbatched ceil", "max", (3, 6, 5), {"kernel_size": [2, 2], "ceil_mode": True}),
    pool_case("max ties", "max", (2, 2, 6, 6), {"kernel_size": [3, 3], "stride": [1, 1], "padding": [1, 1]},
              ties=True),
    pool_case("avg 2x2", "avg", (2, 3, 6, 6), {"kernel_size": [2, 2]}),
    pool_case("avg 3x3 s2 p1 ceil include pad", "avg", (2, 2, 8, 7),
              {"kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1], "ceil_mode": True,
               "count_include_pad": True}),
    pool_case("avg 3x3 s2 p1 ceil exclude pad", "avg", (2, 2, 8, 7),
              {"kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1], "ceil_mode": True,
               "count_include_pad": False}),
    pool_case("avg non-square unbatched", "avg", (3, 7, 9),
              {"kernel_size": [2, 4], "stride": [3, 2], "padding": [1, 2], "count_include_pad": False}),
    pool_case("adaptive 7x5 -> 3x2", "adaptive_avg", (2, 3, 7, 5), {"output_size": [3, 2]}),
    pool_case("adaptive global", "adaptive_avg", (2, 4, 6, 5), {"output_size": [1, 1]}),
    pool_case("adaptive upsampling 4x3 -> 6x5", "adaptive_avg", (1, 2, 4, 3), {"output_size": [6, 5]}),
]

write("conv_pool", {"conv": conv, "pool": pool})
