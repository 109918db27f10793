"""Proposal latency of `bayes`: seconds per propose() call at 50/100/200/500 observations.

    nice -n 10 .venv/bin/python benchmarks/search/latency.py \
        --out benchmarks/search/results/latency.json

Observations are random points of a 6-d space scored by Hartmann6; each size is timed in a fresh
call (the model is rebuilt from the table every time, as in the workflow). Imports excluded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import problems  # noqa: E402

from snakesweep.strategies import propose  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="+", type=int, default=[40, 50, 100, 200, 500])
    ap.add_argument("--batches", nargs="+", type=int, default=[4, 8])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    prob = problems.hartmann6()
    rng = np.random.default_rng(0)
    propose("bayes", prob.space, None, 4, 0)  # imports
    rows = []
    for size in args.sizes:
        pts = [{f"x{i}": float(v) for i, v in enumerate(u)} for u in rng.random((size, 6))]
        hist = pd.DataFrame([{**p, "objective": prob.f(p), "status": "ok"} for p in pts])
        for batch in args.batches:
            times = []
            for rep in range(args.repeats):
                t0 = time.perf_counter()
                propose("bayes", prob.space, hist, batch, rep)
                times.append(time.perf_counter() - t0)
            rows.append(
                {
                    "observations": size,
                    "batch": batch,
                    "seconds": min(times),
                    "all": [round(t, 3) for t in times],
                }
            )
            print(rows[-1], flush=True)
    load = os.getloadavg()
    Path(args.out).write_text(json.dumps({"load_average": load, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
