#!/usr/bin/python3
# wick against ONNX Runtime at inference on a zoo model: `wick bench` (eval256, latency) and
# bench/ort_zoo.js running the same architecture exported by `wick export`, one process per
# workload and side, alternating, repeated; medians and ratios as markdown.
"""Compare wick's inference with ONNX Runtime (npm onnxruntime-node, tools/onnxruntime).

The model is built by `wick train --max-steps 1` on synthetic data and exported with
`wick export` (the weights' values do not change the speed). Each repetition runs each workload
once per side in a fresh process, the order alternating. Ratio: wick / ONNX Runtime.

  python3 bench/compare_ort.py --model resnet20 --threads 2 --reps 5
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from compare_pytorch import OWN_MODELS, cell, run_json, wick_side  # noqa: E402

# (workload, JSON key, what, unit, better, target ratio wick / ORT from issue 14)
METRICS = [
    ("eval256", "img_per_s", "eval, batch 256", "img/s", "higher", 1.2),
    ("latency", "median_ms", "batch-1 latency, median", "ms", "lower", 0.8),
    ("latency", "p99_ms", "batch-1 latency, p99", "ms", "lower", 0.8),
    ("eval256", "peak_rss_mib", "peak RSS, eval256", "MiB", "lower", None),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wick", default=os.path.join(ROOT, "build", "wick"))
    ap.add_argument("--modules", default=os.path.join(ROOT, "tools", "onnxruntime", "node_modules"),
                    help="where onnxruntime-node is installed (tools/install-deps.sh puts it here)")
    ap.add_argument("--model", default="small-cnn", help="a zoo model, or " + " | ".join(OWN_MODELS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    if not os.path.isdir(os.path.join(a.modules, "onnxruntime-node")):
        sys.exit(f"compare_ort: no onnxruntime-node in {a.modules} (run tools/install-deps.sh)")
    wick, model = wick_side(a.wick, a.model)
    with tempfile.TemporaryDirectory() as tmp:
        weights, onnx = os.path.join(tmp, "m.safetensors"), os.path.join(tmp, "m.onnx")
        for cmd in (wick + ["train", "--model", model, "--data", "synthetic", "--max-steps", "1", "--quiet",
                            "--save", weights],
                    wick + ["export", "--data", "synthetic", "--weights", weights, "--onnx", onnx]):
            subprocess.run(cmd, check=True, capture_output=True)
        env = {**os.environ, "NODE_PATH": a.modules}
        sides = {"wick": lambda w: run_json(wick + ["bench", "--model", model, "--threads", str(a.threads),
                                             "--repeats", str(a.repeats), "--only", w, "--json"]),
                 "ort": lambda w: run_json(["node", os.path.join(HERE, "ort_zoo.js"), "--onnx", onnx, "--threads",
                                           str(a.threads), "--repeats", str(a.repeats), "--only", w], env)}
        results = {s: {w: [] for w in ("eval256", "latency")} for s in sides}
        for rep in range(a.reps):
            for i, w in enumerate(("eval256", "latency")):
                for s in (["wick", "ort"] if (rep + i) % 2 == 0 else ["ort", "wick"]):
                    r = sides[s](w)
                    results[s][w].append({**r[w], "peak_rss_mib": r["peak_rss_mib"]})
                print(f"rep {rep + 1}/{a.reps} {w}: wick {results['wick'][w][-1]} ort {results['ort'][w][-1]}",
                      file=sys.stderr, flush=True)
    rows = ["| workload | wick | ONNX Runtime | ratio | target | met? |", "|---|---:|---:|---:|---:|:---:|"]
    for w, key, what, unit, better, target in METRICS:
        wv, ov = [r[key] for r in results["wick"][w]], [r[key] for r in results["ort"][w]]
        ratio = statistics.median(wv) / statistics.median(ov)
        goal = "–" if target is None else f"{'≥' if better == 'higher' else '≤'} {target:.1f}×"
        met = "–" if target is None else ("yes" if (ratio >= target if better == "higher" else ratio <= target) else "no")
        rows.append(f"| {what} ({unit}) | {cell(wv, unit)} | {cell(ov, unit)} | {ratio:.2f}× | {goal} | {met} |")
    print(f"{a.model}, {a.threads} thread(s) on both sides, medians of {a.reps} repetitions (min–max), "
          f"load average {os.getloadavg()[0]:.2f} at the end:\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
