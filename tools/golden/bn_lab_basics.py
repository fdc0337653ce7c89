# The numbers `wick bn-lab` records (--json) in modes, running-stats, momentum-convention, batch-size,
# no-grad-trap and myths, computed in PyTorch from the same inputs: Fashion-MNIST in file order and
# wick's --seed 0 small-cnn init, rebuilt here bit for bit (wick's manual_seed is an mt19937 whose
# 53-bit uniforms are numpy's RandomState.random_sample; layers are reset in order 0, 4, 9, 11).
# Writes tests/data/bn_lab_basics.json and tests/data/bn_lab_basics.txt, one "key value atol rtol"
# line per number, which tests/cli/bn_lab_basics.sh compares with wick's: |wick - torch| <= atol + rtol*|torch|.
# Run: /usr/bin/python3 tools/golden/bn_lab_basics.py   (about 10 s on 2 cores)
import math
import os

import numpy as np
import torch
import torch.nn as nn

from cli_reference import load, read_idx
from common import DATA_DIR, write
from nn_model import small_cnn

SEED = 0
CALIBRATION_BATCHES = 20

# Tolerances: the forward passes round differently (conv sums in another order), ~1e-6 relative.
BUFFER = (1e-6, 1e-5)     # running statistics after k updates
GAP = (1e-5, 1e-3)        # differences of logits (0.01 .. 0.3) and other derived figures
NOISE = (1e-4, 0.0)       # figures that are float rounding on both sides: both must be tiny
EXACT = (0.0, 0.0)        # counts


def wick_uniforms(rs, shape, lo, hi):
    """wick's uniform(): float32(lo + (hi - lo) * u) from 53-bit uniforms of the shared mt19937."""
    u = rs.random_sample(int(np.prod(shape)))
    return torch.from_numpy((lo + (hi - lo) * u).astype(np.float32).reshape(shape))


def wick_reset(rs, layer):
    """wick's Conv2d/Linear reset_parameters(): kaiming_uniform_(a = sqrt(5)), then the bias."""
    fan_in = layer.weight[0].numel()
    a = math.sqrt(5.0)
    bound = math.sqrt(3.0) * (math.sqrt(2.0 / (1.0 + a * a)) / math.sqrt(float(fan_in)))
    bias_bound = 1.0 / math.sqrt(float(fan_in))
    with torch.no_grad():
        layer.weight.copy_(wick_uniforms(rs, tuple(layer.weight.shape), -bound, bound))
        layer.bias.copy_(wick_uniforms(rs, tuple(layer.bias.shape), -bias_bound, bias_bound))


def wick_rng(seed):
    """wick's manual_seed(seed): mt19937 seeded with seed ^ (seed >> 32)."""
    return np.random.RandomState((seed ^ (seed >> 32)) & 0xFFFFFFFF)


def seeded_small_cnn(seed):
    model = small_cnn()
    rs = wick_rng(seed)
    for i in (0, 4, 9, 11):
        wick_reset(rs, model[i])
    return model


def bns(model):
    return [m for m in model if isinstance(m, nn.BatchNorm2d)]


@torch.no_grad()
def lab_model(train_x):
    """seeded_small_cnn with BN statistics averaged over the first 20 batches (recalibrate_batchnorm)."""
    model = seeded_small_cnn(SEED)
    for bn in bns(model):
        bn.reset_running_stats()
        bn.momentum = None
    for k in range(CALIBRATION_BATCHES):
        model(train_x[64 * k:64 * (k + 1)])
    for bn in bns(model):
        bn.momentum = 0.1
    return model


def trace(model, x):
    """The output and each BatchNorm layer's (index, input)."""
    inputs = []
    hooks = [model[i].register_forward_hook(lambda m, inp, out, i=i: inputs.append((i, inp[0])))
             for i, m in enumerate(model) if isinstance(m, nn.BatchNorm2d)]
    out = model(x)
    for h in hooks:
        h.remove()
    return out, inputs


def max_diff(a, b):
    return (a - b).abs().max().item()


def buffers(model):
    return [t.clone() for bn in bns(model) for t in (bn.running_mean, bn.running_var)]


def largest_change(before, after):
    return max(max_diff(a, b) for a, b in zip(before, after))


def pixel_population(images):
    p = images.astype(np.uint64).ravel()
    n = float(p.size)
    m = float(p.sum()) / n / 255.0
    return m, float((p * p).sum()) / n / (255.0 * 255.0) - m * m


@torch.no_grad()
def modes(out, train_x, test_x, test_y):
    model = lab_model(train_x)
    trousers = torch.nonzero(test_y == 1).flatten()[:64]
    cases = [("b64", test_x[:64]), ("b8", test_x[:8]), ("trousers", test_x[trousers])]
    model.eval()
    eval_out = [model(x) for _, x in cases]
    stored = buffers(model)
    model.train()
    traced = [trace(model, x) for _, x in cases]
    per_channel = []
    for layer, (index, inp) in enumerate(traced[0][1]):
        mu, var = inp.mean((0, 2, 3)), inp.var((0, 2, 3), unbiased=False)
        per_channel.append(inp.numel() // inp.shape[1])
        rm, rv = stored[2 * layer], stored[2 * layer + 1]
        out["modes_layer%d_shift" % index] = ((mu - rm).abs() / rv.sqrt()).mean().item(), GAP
        out["modes_layer%d_var_ratio" % index] = (var / rv).mean().item(), GAP
    for (key, _), e, (t, _) in zip(cases, eval_out, traced):
        out["modes_%s_max_diff" % key] = max_diff(t, e), GAP
        out["modes_%s_mean_diff" % key] = (t - e).abs().mean().item(), GAP
        out["modes_%s_agree" % key] = (t.argmax(1) == e.argmax(1)).sum().item(), EXACT
    for bn in bns(model):
        bn.momentum = 1.0
    model(cases[0][1])
    for bn in bns(model):
        bn.momentum = 0.1
    model.eval()
    out["modes_copy_unbiased_diff"] = max_diff(model(cases[0][1]), traced[0][0]), NOISE
    for bn, n in zip(bns(model), per_channel):
        bn.running_var.mul_((n - 1) / n)
    out["modes_copy_biased_diff"] = max_diff(model(cases[0][1]), traced[0][0]), NOISE


@torch.no_grad()
def running_stats(out, raw, pixels):
    pop_mean, pop_var = pixel_population(pixels)
    out["rs_pop_mean"] = pop_mean, BUFFER
    out["rs_pop_var"] = pop_var, BUFFER
    runs = [("m001", 0.01), ("m01", 0.1), ("m05", 0.5), ("none", None)]
    layers = {key: nn.BatchNorm2d(1, momentum=m) for key, m in runs}
    last = {key: [] for key, _ in runs}
    sum_means = sum_vars = 0.0
    steps = 500
    for step in range(1, steps + 1):
        batch = raw[64 * (step - 1):64 * step]
        sum_means += batch.mean().item()
        sum_vars += batch.var().item()
        for key, bn in layers.items():
            bn(batch)
            if step in (1, 2, 5, 10, 20, 50, 100, 200, 500):
                out["rs_%s_mean_%d" % (key, step)] = bn.running_mean.item(), BUFFER
                out["rs_%s_var_%d" % (key, step)] = bn.running_var.item(), BUFFER
            if step > steps - 100:
                last[key].append(bn.running_mean.item())
    for key, values in last.items():
        out["rs_%s_jitter" % key] = float(np.std(values)), GAP
    none = layers["none"]
    out["rs_none_vs_average"] = max(abs(none.running_mean.item() - sum_means / steps),
                                    abs(none.running_var.item() - sum_vars / steps)), NOISE


@torch.no_grad()
def momentum_convention(out, raw):
    pytorch_style, keras_port = nn.BatchNorm2d(1, momentum=0.1), nn.BatchNorm2d(1, momentum=0.01)
    for step in range(1, 6):
        batch = raw[64 * (step - 1):64 * step]
        pytorch_style(batch)
        keras_port(batch)
        out["mc_step%d_batch_mean" % step] = batch.mean().item(), BUFFER
        out["mc_step%d_mean" % step] = pytorch_style.running_mean.item(), BUFFER
        out["mc_step%d_var" % step] = pytorch_style.running_var.item(), BUFFER
    out["mc_keras_port_mean"] = keras_port.running_mean.item(), BUFFER
    out["mc_keras_port_var"] = keras_port.running_var.item(), BUFFER
    batch = raw[:64]
    out["mc_eps_gap"] = max_diff(nn.BatchNorm2d(1)(batch), nn.BatchNorm2d(1, eps=1e-3)(batch)), GAP


@torch.no_grad()
def batch_size(out, train_x, test_x):
    model = lab_model(train_x)
    cases = [("b1", test_x[:1]), ("b8", test_x[:8]), ("b64", test_x[:64]), ("b256", test_x[:256]),
             ("b64other", torch.cat([test_x[:1], test_x[1000:1063]]))]
    model.eval()
    evals = [model(x)[:1] for _, x in cases]
    model.train()
    trains = [model(x)[:1] for _, x in cases]
    for (key, _), e, t in zip(cases, evals, trains):
        out["bs_eval_" + key] = max_diff(e, evals[0]), NOISE
        out["bs_train_" + key] = max_diff(t, trains[0]), GAP
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 10))
    try:
        mlp(test_x[:1])
        out["bs_n1_error"] = 0, EXACT
    except ValueError:
        out["bs_n1_error"] = 1, EXACT


def no_grad_trap(out, train_x, test_x):
    model = lab_model(train_x)
    x = test_x[:64]

    def show(key, change=None):
        out["ng_%s_tracked" % key] = model[1].num_batches_tracked.item(), EXACT
        out["ng_%s_layer1_mean0" % key] = model[1].running_mean[0].item(), BUFFER
        out["ng_%s_layer5_var0" % key] = model[5].running_var[0].item(), BUFFER
        if change is not None:
            out["ng_%s_change" % key] = change, BUFFER

    def step(key, grad):
        before = buffers(model)
        with torch.set_grad_enabled(grad):
            model(x)
        show(key, largest_change(before, buffers(model)))

    show("start")
    model.train()
    step("a", False)
    model.requires_grad_(False)
    step("b", True)
    model.requires_grad_(True)
    model.eval()
    step("c", False)
    for bn in bns(model):
        bn.eval()
    model.train()
    step("d", False)
    # wick's freeze_batchnorm keeps BN on its running statistics even after train(): eval() in PyTorch.
    model.train()
    for bn in bns(model):
        bn.eval()
    step("e", False)


def myths(out, train_x, train_y, test_x, raw, pixels):
    batch = raw[:64]
    with torch.no_grad():
        slow, fast = nn.BatchNorm2d(1, momentum=0.1), nn.BatchNorm2d(1, momentum=0.9)
        slow(batch)
        fast(batch)
        out["myth_m01_mean"] = slow.running_mean.item(), BUFFER
        out["myth_m09_mean"] = fast.running_mean.item(), BUFFER
        one_step = nn.BatchNorm1d(1, momentum=1.0)
        one_step(torch.tensor([[0.0], [2.0]]))
        out["myth_unbiased_var"] = one_step.running_var.item(), BUFFER
        pop_mean, _ = pixel_population(pixels)
        ema, plain = nn.BatchNorm2d(1), nn.BatchNorm2d(1, momentum=None)
        for step in range(100):
            ema(raw[64 * step:64 * (step + 1)])
            plain(raw[64 * step:64 * (step + 1)])
        out["myth_ema_error"] = abs(ema.running_mean.item() - pop_mean), BUFFER
        out["myth_plain_error"] = abs(plain.running_mean.item() - pop_mean), BUFFER

    model = lab_model(train_x)
    sgd = torch.optim.SGD(model.parameters(), lr=0.01)

    def fine_tune(first):
        for step in range(3):
            s = slice(64 * (first + step), 64 * (first + step + 1))
            sgd.zero_grad()
            nn.functional.cross_entropy(model(train_x[s]), train_y[s]).backward()
            sgd.step()
        return model[1].num_batches_tracked.item()

    model.eval()
    out["myth_finetune_eval_tracked"] = fine_tune(CALIBRATION_BATCHES), EXACT
    model.train()
    out["myth_finetune_train_tracked"] = fine_tune(CALIBRATION_BATCHES + 3), EXACT

    with torch.no_grad():
        # Seed 004's model and trick, in PyTorch 1.13: flipping track_running_stats on a built layer.
        m = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU())
        wick_reset(wick_rng(SEED), m[0])
        x = test_x[:32]
        y_train = m(x)
        m[1].track_running_stats = False
        m.eval()
        out["myth_flip_gap"] = (m(x) - y_train).norm().item(), GAP
        m[1].running_mean = m[1].running_var = None  # what makes 1.13 use batch statistics in eval
        out["myth_batch_stats_gap"] = (m(x) - y_train).norm().item(), NOISE

        y = nn.BatchNorm2d(1)(batch).double()
        mean, var = y.mean(), y.var(unbiased=False)
        out["myth_gauss_skew"] = (((y - mean) / var.sqrt()) ** 3).mean().item(), GAP
        out["myth_gauss_share"] = (y == y.min()).double().mean().item(), GAP


def main():
    torch.set_num_threads(2)
    train_x, train_y = load("train")
    test_x, test_y = load("test")
    pixels = read_idx("train-images-idx3-ubyte.gz")
    raw = torch.from_numpy(pixels.copy()).float().div(255.0).unsqueeze(1)
    out = {}
    modes(out, train_x, test_x, test_y)
    running_stats(out, raw, pixels)
    momentum_convention(out, raw)
    batch_size(out, train_x, test_x)
    no_grad_trap(out, train_x, test_x)
    myths(out, train_x, train_y, test_x, raw, pixels)
    write("bn_lab_basics", {key: {"value": v, "atol": tol[0], "rtol": tol[1]} for key, (v, tol) in out.items()})
    path = os.path.join(DATA_DIR, "bn_lab_basics.txt")
    with open(path, "w") as f:
        f.write("# key value atol rtol, from tools/golden/bn_lab_basics.py (torch %s)\n" % torch.__version__)
        for key, (v, (atol, rtol)) in out.items():
            f.write("%s %r %g %g\n" % (key, v, atol, rtol))
    print("wrote", os.path.relpath(path))


if __name__ == "__main__":
    main()
