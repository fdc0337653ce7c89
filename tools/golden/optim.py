# Golden values for wick's optim/: SGD, Adam and AdamW trajectories on fixed gradients (single-tensor
# implementations), parameter groups, LR schedules and clip_grad_norm_.
# Run: /usr/bin/python3 tools/golden/optim.py
import math
import warnings

import torch

from common import t, write

warnings.filterwarnings("ignore")  # scheduler.step() before optimizer.step(): irrelevant here
torch.manual_seed(0)

SHAPES = [(3, 4), (5,), (2, 2, 3)]
STEPS = 5


def make_problem(skip=None):
    """Initial parameters and STEPS sets of gradients; grads vary in scale so AMSGrad's max matters.
    skip: (step, param) pairs whose gradient is None (the optimizer must skip that parameter)."""
    params = [torch.randn(s) for s in SHAPES]
    scales = [2.0, 0.3, 1.0, 0.05, 0.7]
    grads = [[None if skip and (k, i) in skip else torch.randn(s) * scales[k] for i, s in enumerate(SHAPES)]
             for k in range(STEPS)]
    return params, grads


def run(name, kind, groups, defaults, skip=None):
    """groups: list of (param indices, options dict or None); defaults: the optimizer's options."""
    params0, grads = make_problem(skip)
    params = [p.clone().requires_grad_() for p in params0]
    pg = []
    for idx, opts in groups:
        g = {"params": [params[i] for i in idx]}
        g.update(opts or {})
        pg.append(g)
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[kind]
    opt = cls(pg, foreach=False, **defaults)
    after = []
    for k in range(STEPS):
        for p, g in zip(params, grads[k]):
            p.grad = None if g is None else g.clone()
        opt.step()
        after.append([t(p) for p in params])
    return {"name": name, "optimizer": kind, "defaults": defaults,
            "groups": [{"params": idx, "options": opts} for idx, opts in groups],
            "params": [t(p) for p in params0],
            "grads": [[None if g is None else t(g) for g in step] for step in grads],
            "after": after}


ALL = [0, 1, 2]
optimizers = [
    run("sgd plain", "sgd", [(ALL, None)], {"lr": 0.1}),
    run("sgd momentum", "sgd", [(ALL, None)], {"lr": 0.05, "momentum": 0.9}),
    run("sgd dampening", "sgd", [(ALL, None)], {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    run("sgd nesterov", "sgd", [(ALL, None)], {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    run("sgd weight decay", "sgd", [(ALL, None)], {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1}),
    run("sgd weight decay no momentum", "sgd", [(ALL, None)], {"lr": 0.2, "weight_decay": 0.05}),
    run("sgd param groups", "sgd", [([0, 1], {"lr": 0.01, "momentum": 0.9}), ([2], None)],
        {"lr": 0.1, "momentum": 0.5, "weight_decay": 1e-3}),
    run("sgd skips params without grad", "sgd", [(ALL, None)], {"lr": 0.05, "momentum": 0.9},
        skip={(0, 1), (2, 1), (3, 0)}),
    run("adam", "adam", [(ALL, None)], {"lr": 1e-2}),
    run("adam amsgrad", "adam", [(ALL, None)], {"lr": 1e-2, "betas": (0.8, 0.99), "amsgrad": True}),
    run("adam weight decay", "adam", [(ALL, None)], {"lr": 1e-2, "weight_decay": 0.1, "eps": 1e-6}),
    run("adam param groups", "adam", [([0], {"lr": 1e-3, "weight_decay": 0.0}), ([1, 2], None)],
        {"lr": 2e-2, "weight_decay": 0.05}),
    run("adam skips params without grad", "adam", [(ALL, None)], {"lr": 1e-2},
        skip={(0, 1), (2, 1), (3, 0)}),
    run("adamw", "adamw", [(ALL, None)], {"lr": 1e-2}),
    run("adamw amsgrad", "adamw", [(ALL, None)], {"lr": 1e-2, "weight_decay": 0.1, "amsgrad": True}),
    run("adamw param groups", "adamw", [([0, 2], {"lr": 1e-3, "weight_decay": 0.0}), ([1], None)],
        {"lr": 3e-2, "weight_decay": 0.2, "betas": (0.85, 0.98)}),
]


# ---- schedulers: two groups (lr 0.1 and 0.01), lr after construction and after each of N steps
def schedule(name, kind, args, make, optimizer="sgd", n=30):
    p0, p1 = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    if optimizer == "sgd":
        opt = torch.optim.SGD([{"params": [p0]}, {"params": [p1], "lr": 0.01}], lr=0.1, momentum=0.9)
    else:
        opt = torch.optim.Adam([{"params": [p0]}, {"params": [p1], "lr": 0.01}], lr=0.1)
    sched = make(opt)

    def momentum():
        return [g["momentum"] if optimizer == "sgd" else g["betas"][0] for g in opt.param_groups]

    lrs, moms = [sched.get_last_lr()], [momentum()]
    for _ in range(n):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
        moms.append(momentum())
    out = {"name": name, "scheduler": kind, "args": args, "optimizer": optimizer, "lrs": lrs, "momentum": moms}
    if kind == "onecycle":  # one step more raises
        try:
            sched.step()
            out["raises_after"] = False
        except ValueError:
            out["raises_after"] = True
    return out


S = torch.optim.lr_scheduler
schedulers = [
    schedule("step", "step", {"step_size": 7, "gamma": 0.5}, lambda o: S.StepLR(o, 7, 0.5)),
    schedule("multistep", "multistep", {"milestones": [5, 12, 12, 20], "gamma": 0.3},
             lambda o: S.MultiStepLR(o, [5, 12, 12, 20], 0.3)),
    schedule("linear warm-up", "linear", {"start_factor": 0.25, "end_factor": 1.0, "total_iters": 8},
             lambda o: S.LinearLR(o, 0.25, 1.0, 8)),
    schedule("linear decay", "linear", {"start_factor": 1.0, "end_factor": 0.1, "total_iters": 12},
             lambda o: S.LinearLR(o, 1.0, 0.1, 12)),
    schedule("cosine", "cosine", {"T_max": 10, "eta_min": 0.001}, lambda o: S.CosineAnnealingLR(o, 10, 0.001)),
    schedule("cosine T_max 7", "cosine", {"T_max": 7, "eta_min": 0.0}, lambda o: S.CosineAnnealingLR(o, 7)),
    schedule("onecycle defaults", "onecycle", {"max_lr": [1.0, 0.1], "total_steps": 30},
             lambda o: S.OneCycleLR(o, [1.0, 0.1], total_steps=30)),
    schedule("onecycle adam linear three-phase", "onecycle",
             {"max_lr": [0.5], "total_steps": 30, "pct_start": 0.25, "anneal_strategy": "linear",
              "three_phase": True, "div_factor": 10.0, "final_div_factor": 100.0},
             lambda o: S.OneCycleLR(o, 0.5, total_steps=30, pct_start=0.25, anneal_strategy="linear",
                                    three_phase=True, div_factor=10.0, final_div_factor=100.0),
             optimizer="adam"),
    schedule("onecycle no momentum cycling", "onecycle",
             {"max_lr": [0.3], "total_steps": 20, "cycle_momentum": False}, n=20,
             make=lambda o: S.OneCycleLR(o, 0.3, total_steps=20, cycle_momentum=False)),
]


# ---- clip_grad_norm_
# ---- whole-run recipes as optim::Schedule builds them (stepped per optimizer step): LinearLR from
# 0.01 over the warm-up epochs' steps, then the main scheduler over the remaining steps, joined by
# SequentialLR (torchvision's reference recipe); two groups, lr 0.1 and 0.01; the lr of every step
def recipe(name, kind, epochs, steps_per_epoch, warmup, **args):
    p0, p1 = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([{"params": [p0]}, {"params": [p1], "lr": 0.01}], lr=0.1, momentum=0.9)
    main_steps, w = (epochs - warmup) * steps_per_epoch, warmup * steps_per_epoch
    make = {"step": lambda: S.StepLR(opt, args.get("step_size", 1) * steps_per_epoch, args.get("gamma", 0.1)),
            "multistep": lambda: S.MultiStepLR(opt, [(m - warmup) * steps_per_epoch for m in args.get("milestones", [])],
                                               args.get("gamma", 0.1)),
            "cosine": lambda: S.CosineAnnealingLR(opt, main_steps)}[kind]
    sched = S.SequentialLR(opt, [S.LinearLR(opt, 0.01, 1.0, w), make()], [w]) if warmup else make()
    lrs = []
    for _ in range(epochs * steps_per_epoch):
        lrs.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    return {"name": name, "kind": kind, "epochs": epochs, "steps_per_epoch": steps_per_epoch, "warmup_epochs": warmup,
            "args": args, "lrs": lrs}


recipes = [
    recipe("cosine", "cosine", 4, 5, 0),
    recipe("warm-up then cosine", "cosine", 6, 3, 2),
    recipe("warm-up then step", "step", 7, 4, 1, step_size=2, gamma=0.5),
    recipe("warm-up then multistep", "multistep", 8, 3, 2, milestones=[4, 6], gamma=0.2),
]


def clip(name, max_norm, norm_type, scale=1.0):
    grads = [torch.randn(s) * scale for s in SHAPES]
    params = [torch.zeros(s, requires_grad=True) for s in SHAPES]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
    return {"name": name, "max_norm": max_norm, "norm_type": "inf" if math.isinf(norm_type) else norm_type,
            "grads": [t(g) for g in grads], "total_norm": float(total), "clipped": [t(p.grad) for p in params]}


clips = [
    clip("2-norm clipped", 1.0, 2.0),
    clip("2-norm not clipped", 100.0, 2.0),
    clip("inf-norm clipped", 0.5, math.inf),
    clip("inf-norm not clipped", 10.0, math.inf, scale=0.1),
    clip("1-norm clipped", 2.0, 1.0),
    clip("3-norm clipped", 1.5, 3.0),
]

write("optim", {"optimizers": optimizers, "schedulers": schedulers, "recipes": recipes, "clip": clips})
