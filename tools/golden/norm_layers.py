# Golden values for group_norm / layer_norm and nn.GroupNorm / nn.LayerNorm: outputs and the
# gradients of x, weight and bias for a random upstream gradient, with random weight and bias.
# Inputs are float32; PyTorch computes in float64 (wick sums in double): float32's own rounding
# in the input gradient of rows of few values is larger than the tests' 1e-5 tolerance.
# Run: /usr/bin/python3 tools/golden/norm_layers.py
import torch
import torch.nn as nn

from common import t, write

torch.manual_seed(0)
cases = []


def add(name, layer, x):
    """layer: an nn.GroupNorm or nn.LayerNorm; its weight and bias are randomized first."""
    affine = layer.weight is not None
    if affine:
        with torch.no_grad():
            layer.weight.copy_(torch.rand(layer.weight.shape) + 0.5)
            layer.bias.copy_(torch.randn(layer.bias.shape))
    case = {"name": name, "repr": repr(layer), "eps": layer.eps, "x": t(x)}
    if isinstance(layer, nn.GroupNorm):
        case.update({"type": "GroupNorm", "num_groups": layer.num_groups, "num_channels": layer.num_channels})
    else:
        case.update({"type": "LayerNorm", "normalized_shape": list(layer.normalized_shape)})
    if affine:
        case["weight"], case["bias"] = t(layer.weight), t(layer.bias)
    layer.double()
    x = x.detach().double().requires_grad_()
    y = layer(x)
    g = torch.randn(y.shape)
    y.backward(g.double())
    case.update({"grad_out": t(g), "out": t(y), "grad_x": t(x.grad)})
    if affine:
        case["grad_weight"], case["grad_bias"] = t(layer.weight.grad), t(layer.bias.grad)
    cases.append(case)


add("GroupNorm(8, 32) on (4, 32, 5, 5)", nn.GroupNorm(8, 32), torch.randn(4, 32, 5, 5))
add("GroupNorm(1, 16) on (3, 16, 4, 4)", nn.GroupNorm(1, 16), torch.randn(3, 16, 4, 4))
add("GroupNorm(16, 16) on (3, 16, 4, 4)", nn.GroupNorm(16, 16), torch.randn(3, 16, 4, 4))
add("GroupNorm(4, 12, affine=False) on (2, 12, 3, 5)", nn.GroupNorm(4, 12, affine=False), torch.randn(2, 12, 3, 5))
add("GroupNorm(2, 6) on (5, 6)", nn.GroupNorm(2, 6), torch.randn(5, 6))
add("GroupNorm(3, 6) on (2, 6, 7)", nn.GroupNorm(3, 6), torch.randn(2, 6, 7))
add("GroupNorm(4, 8, eps=1e-3) on offset (2, 8, 6, 6)", nn.GroupNorm(4, 8, eps=1e-3), torch.randn(2, 8, 6, 6) * 3 + 50)
add("LayerNorm(256) on (6, 256)", nn.LayerNorm(256), torch.randn(6, 256))
add("LayerNorm([4, 5]) on (3, 2, 4, 5)", nn.LayerNorm([4, 5]), torch.randn(3, 2, 4, 5))
add("LayerNorm(10, elementwise_affine=False) on (4, 10)", nn.LayerNorm(10, elementwise_affine=False),
    torch.randn(4, 10))
add("LayerNorm(32, eps=1e-3) on (5, 32)", nn.LayerNorm(32, eps=1e-3), torch.randn(5, 32))

write("norm_layers", cases)
