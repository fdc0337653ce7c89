#!/usr/bin/python3
# How wick's cost grows with batch size and depth: training and eval images/s and peak RSS of
# resnet20/32/56 at batch 1 to 512, each point a fresh `wick bench --only train:B|eval:B` process
# (so its peak RSS is that workload's own), as a markdown table and an SVG chart.
"""Measure images/s and peak RSS against batch size and depth.

Every (model, workload, batch) point is one `wick bench` process measuring --repeats timed repeats
of about 256 training or 512 eval images; --reps runs the whole sweep that many times, the order
of the points reversed on every other pass, and each cell is the median over the passes.

  python3 bench/cost_curves.py --svg docs/img/cost_curves.svg --doc docs/performance.md
"""
import argparse
import json
import math
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from compare_pytorch import machine, replace_block, run_json  # noqa: E402

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"]
PANEL_W, PANEL_H, LEFT, RIGHT, TOP, BOTTOM = 420, 300, 64, 16, 34, 46


def measure(a, model, kind, batch):
    images = 256 if kind == "train" else 512
    steps = max(1, images // batch)
    r = run_json([a.wick, "bench", "--model", model, "--threads", str(a.threads), "--only", f"{kind}:{batch}",
                  "--steps", str(steps), "--repeats", str(a.repeats), "--warmup", "2", "--json"])
    return r[f"{kind}:{batch}"]["img_per_s"], r["peak_rss_mib"]


def ticks(lo, hi, log):
    if log:
        return [2 ** k for k in range(int(math.log2(lo)), int(math.log2(hi)) + 1, 2)]
    step = 10 ** math.floor(math.log10(max(hi - lo, 1e-9) / 4))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (m * step) <= 6:
            step *= m
            break
    return [i * step for i in range(int(lo // step), int(hi // step) + 2) if lo <= i * step <= hi * 1.0001]


def panel(x0, y0, title, y_label, series, legend_low):
    """One line chart: x is the batch size on a log2 axis, y from 0 to the largest value; the legend
    top left, or bottom right when legend_low."""
    left, top, w, h = x0 + LEFT, y0 + TOP, PANEL_W - LEFT - RIGHT, PANEL_H - TOP - BOTTOM
    xs = [x for _, pts in series for x, _ in pts]
    x_lo, x_hi = min(xs), max(xs)
    y_hi = max(y for _, pts in series for _, y in pts) * 1.08
    px = lambda x: left + w * (math.log2(x) - math.log2(x_lo)) / (math.log2(x_hi) - math.log2(x_lo))
    py = lambda y: top + h * (1 - y / y_hi)
    out = [f"<text x='{left + w / 2:.1f}' y='{y0 + 22}' text-anchor='middle' font-weight='bold'>{title}</text>"]
    for t in ticks(0, y_hi, False):
        out.append(f"<line x1='{left}' x2='{left + w}' y1='{py(t):.1f}' y2='{py(t):.1f}' stroke='#ddd'/>"
                   f"<text x='{left - 5}' y='{py(t) + 4:.1f}' text-anchor='end' font-size='11'>{t:g}</text>")
    for t in ticks(x_lo, x_hi, True):
        out.append(f"<text x='{px(t):.1f}' y='{top + h + 16}' text-anchor='middle' font-size='11'>{t}</text>")
    out.append(f"<rect x='{left}' y='{top}' width='{w}' height='{h}' fill='none' stroke='#444'/>")
    out.append(f"<text x='{left + w / 2:.1f}' y='{top + h + 34}' text-anchor='middle' font-size='12'>batch size</text>")
    out.append(f"<text transform='translate({x0 + 13},{top + h / 2:.1f}) rotate(-90)' text-anchor='middle' "
               f"font-size='12'>{y_label}</text>")
    for i, (name, pts) in enumerate(series):
        c = COLOURS[i % len(COLOURS)]
        out.append(f"<polyline fill='none' stroke='{c}' stroke-width='1.6' points='"
                   + " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts) + "'/>")
        out += [f"<circle cx='{px(x):.1f}' cy='{py(y):.1f}' r='2.5' fill='{c}'/>" for x, y in pts]
        lx = left + w - 90 if legend_low else left + 8
        ly = (top + h - 6 - 16 * (len(series) - 1 - i)) if legend_low else top + 16 + 16 * i
        out.append(f"<line x1='{lx}' x2='{lx + 16}' y1='{ly - 4}' y2='{ly - 4}' stroke='{c}' stroke-width='2'/>"
                   f"<text x='{lx + 20}' y='{ly}' font-size='12'>{name}</text>")
    return out


def svg(results, models, batches):
    charts = [("training images/s", "img/s", "train", 0), ("eval images/s", "img/s", "eval", 0),
              ("peak RSS, training", "MiB", "train", 1), ("peak RSS, eval", "MiB", "eval", 1)]
    width, height = 2 * PANEL_W, 2 * PANEL_H
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
           "font-family='sans-serif'>", "<rect width='100%' height='100%' fill='white'/>"]
    for k, (title, unit, kind, field) in enumerate(charts):
        series = [(m, [(b, results[m][kind][b][field]) for b in batches]) for m in models]
        out += panel(PANEL_W * (k % 2), PANEL_H * (k // 2), title, unit, series, field == 0)
    return "\n".join(out + ["</svg>"]) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wick", default=os.path.join(ROOT, "build", "wick"))
    ap.add_argument("--models", default="resnet20,resnet32,resnet56")
    ap.add_argument("--batches", default="1,2,4,8,16,32,64,128,256,512")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats inside each wick bench process")
    ap.add_argument("--reps", type=int, default=2, help="passes over the whole sweep")
    ap.add_argument("--svg", help="write the chart here")
    ap.add_argument("--doc", help="replace the <!-- cost-curves:begin/end --> block of this markdown file")
    ap.add_argument("--runs", help="keep every measurement in this JSON file; when it exists, redraw from it "
                    "instead of measuring")
    a = ap.parse_args()
    models, batches = a.models.split(","), [int(b) for b in a.batches.split(",")]
    points = [(m, k, b) for m in models for k in ("train", "eval") for b in batches]
    if a.runs and os.path.exists(a.runs):
        with open(a.runs) as f:
            kept = json.load(f)
        runs = {p: kept[f"{p[0]} {p[1]}:{p[2]}"] for p in points}
        a.reps = min(len(v) for v in runs.values())
    else:
        runs = {p: [] for p in points}
        for rep in range(a.reps):
            for p in (points if rep % 2 == 0 else points[::-1]):
                runs[p].append(measure(a, *p))
                print(f"cost_curves: pass {rep + 1}: {p[0]} {p[1]}:{p[2]}: {runs[p][-1][0]:.0f} img/s, "
                      f"{runs[p][-1][1]:.0f} MiB", file=sys.stderr)
        if a.runs:
            with open(a.runs, "w") as f:
                json.dump({f"{m} {k}:{b}": v for (m, k, b), v in runs.items()}, f)
    results = {m: {k: {} for k in ("train", "eval")} for m in models}
    for (m, k, b), values in runs.items():
        results[m][k][b] = (statistics.median(v[0] for v in values), statistics.median(v[1] for v in values),
                            min(v[0] for v in values), max(v[0] for v in values))
    head = "| batch | " + " | ".join(f"{m} {k} img/s (MiB)" for k in ("train", "eval") for m in models) + " |"
    rows = [head, "|---:|" + "---:|" * (2 * len(models))]
    for b in batches:
        cells = [f"{results[m][k][b][0]:.0f} ({results[m][k][b][1]:.0f})" for k in ("train", "eval") for m in models]
        rows.append(f"| {b} | " + " | ".join(cells) + " |")
    spread = max((r[3] - r[2]) / r[0] for m in models for k in ("train", "eval") for r in results[m][k].values())
    body = "\n".join([f"- {line}" for line in machine(a.wick, sys.executable)[:2]] + [""] + rows + [
        "", f"Medians of {a.reps} passes; img/s of each pass is the median of {a.repeats} repeats; the largest "
        f"spread between passes is {100 * spread:.0f}% of a median."])
    print(body)
    if a.svg:
        with open(a.svg, "w") as f:
            f.write(svg(results, models, batches))
    if a.doc:
        with open(a.doc) as f:
            text = f.read()
        with open(a.doc, "w") as f:
            f.write(replace_block(text, "cost-curves", body))


if __name__ == "__main__":
    main()
