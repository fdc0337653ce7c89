#!/usr/bin/python3
# wick against PyTorch on a zoo model (small-cnn by default) / Fashion-MNIST: `wick bench` and
# bench/pytorch_zoo.py (zoo.py's twin), one process per workload and framework, alternating,
# repeated; medians and ratios as markdown.
"""Compare wick with PyTorch (Debian python3-torch) on the same network, data, batch and threads.

Each repetition runs every workload once per framework, each in a fresh process (so peak RSS is
that workload's own), wick and PyTorch alternating (which goes first alternates too). The table
shows the median over repetitions (min-max in brackets) and the ratio wick / PyTorch against the
project's targets. Run it with the Python that has torch:

  /usr/bin/python3 bench/compare_pytorch.py --wick build/wick --threads 2 --reps 5
  /usr/bin/python3 bench/compare_pytorch.py --model resnet20 --only train64,eval256
  /usr/bin/python3 bench/compare_pytorch.py --update-doc docs/performance.md   # rewrite the doc's tables
"""
import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKLOADS = ["train64", "train256", "eval256", "latency"]
# Models outside the zoo: the wick binary that has them (next to --wick), its --model, and the zoo
# model of the PyTorch twin. user-resnet20 is resnet20 written as a user's C++ Module subclasses
# (bench/user_resnet.cpp); zoo.py's ResNet is itself a PyTorch user's nn.Module subclass.
OWN_MODELS = {"user-resnet20": ("wick_user_resnet", os.path.join(HERE, "user_resnet20.json"), "resnet20")}

# (workload, JSON key, what, unit, better, target ratio wick/PyTorch or None). The targets are
# issue 14's (round 2): training (batch 64, and the larger batch) >= 3x for small-cnn and >= 1.5x
# for the other models (training_target), eval >= 2x, peak RSS <= 0.5x; batch-1 latency is held
# against ONNX Runtime instead (bench/compare_ort.py).
METRICS = [
    ("train64", "img_per_s", "training, batch 64", "img/s", "higher", "training"),
    ("train256", "img_per_s", "training, batch 256", "img/s", "higher", "training"),
    ("eval256", "img_per_s", "eval, batch 256", "img/s", "higher", 2.0),
    ("latency", "median_ms", "batch-1 latency, median", "ms", "lower", None),
    ("latency", "p99_ms", "batch-1 latency, p99", "ms", "lower", None),
    ("train64", "peak_rss_mib", "peak RSS, train64", "MiB", "lower", 0.5),
    ("train256", "peak_rss_mib", "peak RSS, train256", "MiB", "lower", 0.5),
    ("eval256", "peak_rss_mib", "peak RSS, eval256", "MiB", "lower", 0.5),
    ("latency", "peak_rss_mib", "peak RSS, latency", "MiB", "lower", 0.5),
]


def wick_side(wick, model):
    """The wick command (up to its flags) and its --model for `model`, a zoo name or an OWN_MODELS key."""
    if model not in OWN_MODELS:
        return [wick], model
    binary, arch, _ = OWN_MODELS[model]
    return [os.path.join(os.path.dirname(os.path.abspath(wick)), binary)], arch


def run_json(cmd, env=None):
    """Runs a benchmark process (with env, default this one's) and returns its last JSON line."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=env)
    if proc.returncode != 0:
        sys.exit(f"compare_pytorch: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr.strip()}")
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if not lines:
        sys.exit(f"compare_pytorch: {' '.join(cmd)} printed no JSON line")
    return json.loads(lines[-1])


def shell(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def openblas_config():
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_config.restype = ctypes.c_char_p
        return lib.openblas_get_config().decode()
    except (OSError, AttributeError):
        return "unknown"


def machine(wick, python):
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    lscpu = dict(l.split(":", 1) for l in shell(["lscpu"]).splitlines() if ":" in l)
    lscpu = {k.strip(): v.strip() for k, v in lscpu.items()}
    with open("/proc/meminfo") as f:
        mem_kib = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
    family = f"family {lscpu.get('CPU family', '?')} model {lscpu.get('Model', '?')}"
    hyper = f", {lscpu['Hypervisor vendor']} guest" if "Hypervisor vendor" in lscpu else ""
    caches = ", ".join(f"{k.split()[0]} {lscpu[k]}" for k in ("L1d cache", "L2 cache", "L3 cache") if k in lscpu)
    dpkg = lambda pkg: shell(["dpkg-query", "-W", "-f=${Version}", pkg]) or "?"
    return [
        f"CPU: {cpu} ({family}), {os.cpu_count()} cores{hyper}; caches {caches}; "
        f"{mem_kib / 2**20:.1f} GiB RAM; Linux {platform.release()}",
        f"wick: {shell([wick, '--version'])} (git {shell(['git', '-C', ROOT, 'describe', '--always', '--dirty']) or '?'}), "
        f"GCC {shell(['gcc', '-dumpfullversion']) or '?'}, OpenBLAS {dpkg('libopenblas0-pthread')} "
        f"({openblas_config()}), oneTBB {dpkg('libtbb12')}",
        f"PyTorch: {shell([python, '-c', TORCH_VERSIONS]) or '?'} (Debian python3-torch {dpkg('python3-torch')})",
    ]


TORCH_VERSIONS = ("import platform, numpy, torch; print(torch.__version__ + ', oneDNN ' + "
                  "('on' if torch.backends.mkldnn.is_available() else 'off') + ', OpenMP; Python ' + "
                  "platform.python_version() + ', NumPy ' + numpy.__version__)")


def fmt(value, unit):
    return f"{value:.0f}" if unit == "img/s" else f"{value:.3f}" if unit == "ms" else f"{value:.1f}"


def cell(values, unit):
    med = statistics.median(values)
    if len(values) == 1:
        return fmt(med, unit)
    return f"{fmt(med, unit)} ({fmt(min(values), unit)}–{fmt(max(values), unit)})"


def training_target(model):
    return 3.0 if model == "small-cnn" else 1.5


def table(results, metrics, model):
    rows = ["| workload | wick | PyTorch | ratio | target | met? |", "|---|---:|---:|---:|---:|:---:|"]
    for w, key, what, unit, better, target in metrics:
        if target == "training":
            target = training_target(model)
        wick_v = [r[key] for r in results["wick"][w]]
        torch_v = [r[key] for r in results["pytorch"][w]]
        ratio = statistics.median(wick_v) / statistics.median(torch_v)
        if target is None:
            goal, met = "–", "–"
        else:
            goal = f"{'≥' if better == 'higher' else '≤'} {target:.1f}×"
            met = "yes" if (ratio >= target if better == "higher" else ratio <= target) else "no"
        rows.append(f"| {what} ({unit}) | {cell(wick_v, unit)} | {cell(torch_v, unit)} | {ratio:.{2 if ratio >= 0.1 else 3}f}× | {goal} | {met} |")
    return "\n".join(rows)


def replace_block(text, name, body):
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if begin not in text or end not in text:
        sys.exit(f"compare_pytorch: the document has no {begin} ... {end} block")
    head, rest = text.split(begin, 1)
    return f"{head}{begin}\n{body}\n{end}{rest.split(end, 1)[1]}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wick", default=os.path.join(ROOT, "build", "wick"), help="the wick binary (default build/wick)")
    ap.add_argument("--python", default="/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable,
                    help="the Python with torch (Debian's python3-torch) for the PyTorch side (default /usr/bin/python3)")
    ap.add_argument("--model", default="small-cnn",
                    help="the zoo model both sides build (default small-cnn), or " + " | ".join(OWN_MODELS))
    ap.add_argument("--norm", default="", help="its normalization: batch | group | layer | none (default: its own)")
    ap.add_argument("--threads", type=int, default=2, help="threads for both frameworks")
    ap.add_argument("--reps", type=int, default=5, help="repetitions (fresh processes each)")
    ap.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    ap.add_argument("--steps", type=int, default=0, help="passed to both: steps per repeat (0: defaults)")
    ap.add_argument("--repeats", type=int, default=5, help="passed to both: timed repeats per process")
    ap.add_argument("--data-dir", default="", help="Fashion-MNIST folder (default: each side's default)")
    ap.add_argument("--profile", action="store_true", help="also print `wick bench --profile` at the same threads")
    ap.add_argument("--update-doc", metavar="FILE",
                    help="rewrite the compare_pytorch and profile blocks of FILE (docs/performance.md); implies --profile")
    ap.add_argument("--raw", metavar="FILE", help="write every process's JSON to FILE")
    a = ap.parse_args()
    only = [w for w in a.only.split(",") if w]
    if any(w not in WORKLOADS for w in only) or not only:
        ap.error(f"--only: expected some of {', '.join(WORKLOADS)}")
    if not os.access(a.wick, os.X_OK):
        ap.error(f"--wick {a.wick}: not an executable (build wick first, or pass its path)")
    if a.reps < 1 or a.threads < 0:
        ap.error("--reps must be positive and --threads zero or more")

    wick_cmd, wick_model = wick_side(a.wick, a.model)
    if not os.access(wick_cmd[0], os.X_OK):
        ap.error(f"--model {a.model}: {wick_cmd[0]} is not an executable (build it: cmake --build build)")
    if (a.profile or a.update_doc) and a.model in OWN_MODELS:
        ap.error(f"--profile times a Sequential's layers; {a.model} is not one")
    torch_model = OWN_MODELS[a.model][2] if a.model in OWN_MODELS else a.model
    common = ["--threads", str(a.threads), "--repeats", str(a.repeats), "--json"]
    if a.norm:
        common += ["--norm", a.norm]
    if a.steps:
        common += ["--steps", str(a.steps)]
    if a.data_dir:
        common += ["--data-dir", a.data_dir]
    commands = {"wick": wick_cmd + ["bench", "--model", wick_model],
                "pytorch": [a.python, os.path.join(HERE, "pytorch_zoo.py"), "--model", torch_model]}
    results = {fw: {w: [] for w in only} for fw in commands}
    load_start = os.getloadavg()[0]
    for rep in range(a.reps):
        for i, w in enumerate(only):
            order = ["wick", "pytorch"] if (rep + i) % 2 == 0 else ["pytorch", "wick"]
            for fw in order:
                r = run_json(commands[fw] + ["--only", w] + common)
                results[fw][w].append({**r[w], "peak_rss_mib": r["peak_rss_mib"]})
            figs = {fw: results[fw][w][-1] for fw in commands}
            key = "median_ms" if w == "latency" else "img_per_s"
            print(f"rep {rep + 1}/{a.reps} {w:<9} wick {figs['wick'][key]:10.3f}  PyTorch {figs['pytorch'][key]:10.3f}"
                  f"  ({key}; peak RSS {figs['wick']['peak_rss_mib']:.0f} / {figs['pytorch']['peak_rss_mib']:.0f} MiB)",
                  file=sys.stderr, flush=True)
    load_end = os.getloadavg()[0]

    metrics = [m for m in METRICS if m[0] in only]
    date = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    cmd = (f"/usr/bin/python3 bench/compare_pytorch.py --model {a.model}" + (f" --norm {a.norm}" if a.norm else "")
           + f" --threads {a.threads} --reps {a.reps} --repeats {a.repeats}"
           + (f" --steps {a.steps}" if a.steps else "") + ("" if only == WORKLOADS else f" --only {','.join(only)}"))
    busy = load_start > 0.5 or load_end > 1.5
    lines = [f"Measured {date} with `{cmd}`, {a.threads} thread{'s' if a.threads != 1 else ''} in both frameworks.", "",
             table(results, metrics, a.model), "",
             f"Medians of {a.reps} repetition{'s' if a.reps > 1 else ''} (min–max over them in brackets). Every repetition runs each workload"
             f" in a fresh process per framework, wick and PyTorch alternating, and its figure is itself the median"
             f" of {a.repeats} timed repeats. Ratio: wick / PyTorch. Peak RSS: getrusage ru_maxrss of that process.",
             "", "Machine:", ""] + [f"- {m}" for m in machine(a.wick, a.python)] + [
             f"- load average (1 min) {load_start:.2f} at the start, {load_end:.2f} at the end"
             + (": the machine was busy, so these figures are only indicative" if busy else "")]
    section = "\n".join(lines)
    print(section)

    profile = None
    if a.profile or a.update_doc:
        proc = subprocess.run([a.wick, "bench", "--profile", "--model", a.model, "--threads", str(a.threads)]
                              + (["--norm", a.norm] if a.norm else [])
                              + (["--data-dir", a.data_dir] if a.data_dir else []),
                              capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            sys.exit(f"compare_pytorch: wick bench --profile failed:\n{proc.stderr.strip()}")
        profile = (f"`wick bench --profile --model {a.model} --threads {a.threads}`, {date}:\n\n```\n{proc.stdout.rstrip()}\n```")
        print("\n" + profile)
    if a.raw:
        with open(a.raw, "w") as f:
            json.dump({"threads": a.threads, "reps": a.reps, "results": results}, f, indent=1)
    if a.update_doc:
        with open(a.update_doc) as f:
            text = f.read()
        text = replace_block(text, "compare_pytorch", section)
        text = replace_block(text, "profile", profile)
        tmp = a.update_doc + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, a.update_doc)
        print(f"\nupdated {a.update_doc}", file=sys.stderr)


if __name__ == "__main__":
    main()
