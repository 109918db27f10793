"""Where one trial's time goes: process start + imports vs data/model set-up vs training.

Runs each case in a fresh process (as a trial job does), one thread, and records wall and CPU
seconds. CPU seconds are the stable number on a shared machine; wall seconds grow with load.

    python benchmarks/training/trial_startup.py --out benchmarks/results/trial_startup.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

CASES = {
    "digits_mlp_20ep": ({"name": "digits"}, {"name": "mlp"}, {"max_epochs": 20}),
    "digits_cnn_10ep": ({"name": "digits"}, {"name": "cnn"}, {"max_epochs": 10}),
    "sequence_lstm_10ep": ({"name": "sequence"}, {"name": "lstm"}, {"max_epochs": 10}),
}

CHILD = r"""
import json, sys, time
w0, c0 = time.perf_counter(), time.process_time()
import lightning.pytorch, torch  # what every trial job imports
w1, c1 = time.perf_counter(), time.process_time()
from snakesweep.sweep import load_sweep
from snakesweep.train import fit_trial
data, model, params = json.loads(sys.argv[1])
sweep = load_sweep({"sweep": "startup", "seed": 0, "data": data, "model": model,
                    "space": {"lr": {"type": "float", "low": 1e-3, "high": 1e-2}}}, sys.argv[2])
m = fit_trial({"lr": 3e-3, "hidden_units": 64, "batch_size": 64, **params},
              sweep, sys.argv[2], seed=1)
w2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({"import_wall_s": w1 - w0, "import_cpu_s": c1 - c0,
                  "setup_wall_s": m["time/setup_s"], "fit_wall_s": m["time/fit_s"],
                  "train_total_cpu_s": c2 - c1, "epochs": m["epochs"]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[2])}
    results = {"python": platform.python_version(), "load_before": os.getloadavg()[0], "cases": {}}
    for name, case in CASES.items():
        runs = []
        for i in range(args.repeats):
            start = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", CHILD, json.dumps(case), f"/tmp/bench_{name}_{i}"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            run = json.loads(out.stdout.strip().splitlines()[-1])
            run["process_wall_s"] = time.perf_counter() - start
            runs.append({k: round(v, 3) for k, v in run.items()})
        results["cases"][name] = runs
        print(name, runs)
    results["load_after"] = os.getloadavg()[0]
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
