# Golden values for batch_norm (docs/batchnorm_spec.md): outputs, running statistics and gradients for x,
# weight and bias in training and eval mode, for (N, C), (N, C, L) and (N, C, H, W) inputs, and
# running statistics over consecutive training batches. Run: /usr/bin/python3 tools/golden/batch_norm.py
import torch
import torch.nn.functional as F

from common import t, write

torch.manual_seed(0)
cases = []


def add(name, x, training, affine=True, momentum=0.1, eps=1e-5, running=True):
    C = x.shape[1]
    w = (torch.rand(C) + 0.5).requires_grad_() if affine else None
    b = torch.randn(C).requires_grad_() if affine else None
    rm = torch.randn(C) * 0.5 if running else None
    rv = torch.rand(C) + 0.5 if running else None
    case = {"name": name, "training": training, "affine": affine, "momentum": momentum, "eps": eps,
            "x": t(x)}
    if running:
        case["running_mean_in"], case["running_var_in"] = t(rm), t(rv)
    if affine:
        case["weight"], case["bias"] = t(w), t(b)
    x = x.detach().requires_grad_()
    y = F.batch_norm(x, rm, rv, w, b, training=training, momentum=momentum, eps=eps)
    g = torch.randn(y.shape)
    y.backward(g)
    case.update({"grad_out": t(g), "out": t(y), "grad_x": t(x.grad)})
    if running:
        case["running_mean_out"], case["running_var_out"] = t(rm), t(rv)
    if affine:
        case["grad_weight"], case["grad_bias"] = t(w.grad), t(b.grad)
    cases.append(case)


for training in (True, False):
    mode = "train" if training else "eval"
    add(f"(N,C,H,W) {mode}", torch.randn(4, 3, 5, 5), training)
    add(f"(N,C) {mode}", torch.randn(8, 4), training)
    add(f"(N,C,L) {mode}", torch.randn(4, 3, 7), training)
    add(f"N=1 (1,C,H,W) {mode}", torch.randn(1, 2, 3, 3), training)
    add(f"no affine (N,C,H,W) {mode}", torch.randn(3, 2, 4, 4), training, affine=False)
    add(f"offset input (N,C,H,W) {mode}", torch.randn(2, 3, 6, 6) * 3 + 50, training, momentum=0.3, eps=1e-3)
add("no running stats (N,C,H,W) train", torch.randn(3, 4, 2, 5), True, running=False)

# Several consecutive training batches through one set of running buffers.
sequences = []
for momentum in (0.1, 0.3):
    C = 3
    rm, rv = torch.zeros(C), torch.ones(C)
    steps = []
    for step in range(4):
        x = torch.randn(5, C, 4, 4) * (step + 1) + step
        y = F.batch_norm(x, rm, rv, None, None, training=True, momentum=momentum)
        steps.append({"x": t(x), "out": t(y), "running_mean": t(rm), "running_var": t(rv)})
    sequences.append({"momentum": momentum, "steps": steps})

write("batch_norm", {"single": cases, "sequences": sequences})
