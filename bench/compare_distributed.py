#!/usr/bin/python3
# Data-parallel scaling on one machine: `mpirun -np P wick train --threads 1` against one process
# with P threads, the same global batch, alternating and repeated; medians, spread, ratios and the
# share of each step spent waiting for gradient sums, as markdown.
"""Compare P processes x 1 thread (mpirun) with 1 process x P threads on `wick train`.

Both train the same model on Fashion-MNIST (or --data) for --steps steps of the global batch
--batch-size; img/s is wick's own training throughput (the steps only, not loading or the
evaluation after them). Each repetition runs both sides once, the order alternating.
wait share: DataParallel's seconds waiting for gradient sums / training seconds (rank 0).

  python3 bench/compare_distributed.py --models small-cnn,resnet20 --reps 5
"""
import argparse
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from compare_pytorch import cell, run_json  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wick", default=os.path.join(ROOT, "build", "wick"))
    ap.add_argument("--models", default="small-cnn,resnet20")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64, help="the global batch")
    ap.add_argument("--steps", type=int, default=60, help="training steps per run")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--sync-bn", action="store_true", help="the processes run with --sync-bn")
    a = ap.parse_args()

    env = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
    P = a.processes
    rows = []
    load_start = os.getloadavg()[0]
    for model in a.models.split(","):
        train = [a.wick, "train", "--model", model, "--data", a.data, "--batch-size", str(a.batch_size),
                 "--max-steps", str(a.steps), "--epochs", "1", "--test-limit", "1", "--quiet", "--json"]
        sides = {
            "one": train + ["--threads", str(P)],
            "mpi": ["mpirun", "-np", str(P), "--bind-to", "core"] + train + ["--threads", "1"]
                   + (["--sync-bn"] if a.sync_bn else []),
        }
        runs = {"one": [], "mpi": []}
        for rep in range(a.reps):
            for side in (["one", "mpi"] if rep % 2 == 0 else ["mpi", "one"]):
                runs[side].append(run_json(sides[side], env=env))
        one = [r["img_per_s"] for r in runs["one"]]
        mpi = [r["img_per_s"] for r in runs["mpi"]]
        wait = [100 * r["wait_seconds"] / r["seconds"] for r in runs["mpi"]]
        rows.append(f"| {model} | {cell(one, 'img/s')} | {cell(mpi, 'img/s')} | "
                    f"{statistics.median(mpi) / statistics.median(one):.2f} | {cell(wait, '%')} |")
    load_end = os.getloadavg()[0]

    print(f"`python3 bench/compare_distributed.py --models {a.models} --processes {P} --batch-size {a.batch_size} "
          f"--steps {a.steps} --reps {a.reps}{' --sync-bn' if a.sync_bn else ''}` "
          f"(load average {load_start:.2f} before, {load_end:.2f} after)\n")
    print(f"| model, global batch {a.batch_size} | 1 process x {P} threads, img/s | {P} processes x 1 thread, img/s "
          f"| ratio | waiting for sums, % of a step |")
    print("|---|---:|---:|---:|---:|")
    print("\n".join(rows))
    print("\nmedian (min–max) over the repetitions; ratio of the medians")


if __name__ == "__main__":
    main()
