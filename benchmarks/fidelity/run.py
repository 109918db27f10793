"""Multi-fidelity benchmark: best validation result at equal total training epochs.

Hyperband, BOHB-style, full-budget Bayesian optimisation and random search on the digits CNN
sweep (config/sweeps/digits_cnn.yaml, max 9 epochs), several seeds. Each sweep runs the same
package code as the workflow (make_round -> run_trial -> history table), in one process and
without Snakemake (its overhead is measured elsewhere), until it has trained `--epochs`
epochs in total. Every finished trial appends one JSON line to results.jsonl, so an
interrupted run keeps what it measured; summarise.py turns the lines into results.md.

    nice -n 10 .venv/bin/python benchmarks/fidelity/run.py --seeds 0 1 2 3 4 --epochs 144
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import yaml  # noqa: E402

from snakesweep.config import load_config  # noqa: E402
from snakesweep.history import append_round, empty_history, trial_row  # noqa: E402
from snakesweep.rounds import make_round  # noqa: E402
from snakesweep.sweep import sweep_of  # noqa: E402
from snakesweep.trial import run_trial  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
METHODS = {
    "hyperband": {"strategy": "hyperband", "eta": 3, "min_fidelity": 1},
    "bohb": {"strategy": "bohb", "eta": 3, "min_fidelity": 1},
    "bayes": {"strategy": "bayes"},
    "random": {"strategy": "random"},
}


def sweep_config(problem: str, method: str, seed: int, max_epochs: int) -> dict:
    raw = yaml.safe_load((REPO / "config" / "sweeps" / f"{problem}.yaml").read_text())
    raw = copy.deepcopy(raw)
    raw["sweep"] = f"bench_{problem}_{method}_{seed}"
    raw["seed"] = seed
    raw["search"] = dict(METHODS[method])
    raw["space"]["max_epochs"] = max_epochs
    raw["space"].pop("early_stopping_patience", None)  # equal epochs: no early stopping
    raw["budget"] = {"rounds": 1000, "trials_per_round": 4}
    return raw


def run_sweep(problem: str, method: str, seed: int, max_epochs: int, budget: int, out) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(sweep_config(problem, method, seed, max_epochs), Path(tmp))
        sweep = sweep_of(config, tmp)
        history = empty_history()
        spent = 0.0
        round_index = 0
        start = time.perf_counter()
        while spent < budget:
            content = make_round(sweep, history, round_index, time.perf_counter() - start)
            if not content["trials"]:
                break
            records = []
            for proposal in content["trials"]:
                if spent >= budget:
                    break
                trial_dir = Path(tmp) / "trials" / proposal["trial"]
                record = run_trial(proposal, round_index, sweep, trial_dir, isolate=False)
                metrics = record["metrics"]
                epochs = float(metrics.get("epochs", 0)) - float(metrics.get("start_epoch", 0))
                spent += epochs
                records.append(record)
                line = {
                    "problem": problem,
                    "method": method,
                    "seed": seed,
                    "round": round_index,
                    "trial": proposal["trial"],
                    "fidelity": (proposal.get("fidelity") or {}).get("value", max_epochs),
                    "resume_from": (proposal.get("fidelity") or {}).get("resume_from"),
                    "status": record["status"],
                    "objective": record["objective"],
                    "val_acc": metrics.get("val/acc"),
                    "epochs_trained": epochs,
                    "epochs_total": spent,
                    "seconds": round(time.perf_counter() - start, 2),
                }
                out.write(json.dumps(line) + "\n")
                out.flush()
            rows = [trial_row(r) for r in records]
            import pandas as pd

            history = append_round(history, pd.DataFrame(rows))
            round_index += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problem", default="digits_cnn")
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--max-epochs", type=int, default=9)
    parser.add_argument("--epochs", type=int, default=144, help="total training epochs per sweep")
    parser.add_argument("--out", type=Path, default=HERE / "results.jsonl")
    args = parser.parse_args()
    done = set()
    if args.out.exists():
        rows = [json.loads(line) for line in args.out.read_text().splitlines() if line]
        done = {
            (r["problem"], r["method"], r["seed"]) for r in rows if r["epochs_total"] >= args.epochs
        }
        # An interrupted sweep starts again: drop its lines.
        kept = [r for r in rows if (r["problem"], r["method"], r["seed"]) in done]
        args.out.write_text("".join(json.dumps(r) + "\n" for r in kept))
    with open(args.out, "a") as out:
        for seed in args.seeds:
            for method in args.methods:
                if (args.problem, method, seed) in done:
                    continue
                t0 = time.perf_counter()
                run_sweep(args.problem, method, seed, args.max_epochs, args.epochs, out)
                print(
                    f"{args.problem} {method} seed {seed}: {time.perf_counter() - t0:.0f} s",
                    flush=True,
                )


if __name__ == "__main__":
    main()
