"""Summarise results.jsonl (run.py) as results.md: best validation result at equal epochs.

For every method and seed, the incumbent at a budget of B epochs is the best trial among those
finished within B epochs in total (a trial counts the epochs it trained itself; a promoted
trial only its new epochs). Reported: median and interquartile range over seeds of the best
objective (as the sweep's config defines it) and of the incumbent's validation error (1 - val/acc),
and how many epochs each method needed to match full-budget Bayes's final result.

    .venv/bin/python benchmarks/fidelity/summarise.py [results.jsonl [budget]] > results.md
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
ORDER = ["hyperband", "bohb", "bayes", "random"]


def incumbent(runs: pd.DataFrame, budget: float) -> pd.Series | None:
    done = runs[(runs["epochs_total"] <= budget + 1e-9) & runs["objective"].notna()]
    if done.empty:
        return None
    return done.loc[done["objective"].idxmin()]


def objective_of(problem: str) -> tuple[str, str]:
    """The sweep's objective metric and direction (config/sweeps/<problem>.yaml)."""
    raw = yaml.safe_load((REPO / "config" / "sweeps" / f"{problem}.yaml").read_text())
    objective = raw.get("objective") or {}
    return objective.get("metric", "val/loss"), objective.get("direction", "minimize")


def epochs_to_reach(runs: pd.DataFrame, target: float) -> float:
    best = runs["objective"].cummin()
    hit = runs[best <= target + 1e-12]
    return float(hit["epochs_total"].iloc[0]) if len(hit) else math.inf


def cell(values: list[float], digits: int = 3) -> str:
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return "–"
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return f"{med:.{digits}f} [{q1:.{digits}f}, {q3:.{digits}f}]"


def summarise(rows: pd.DataFrame, budget: float) -> str:
    """Only complete sweeps (those that reached `budget` epochs) are counted."""
    lines = []
    reached = rows.groupby(["problem", "method", "seed"])["epochs_total"].transform("max")
    rows = rows[reached >= budget]
    for problem, data in rows.groupby("problem"):
        metric, direction = objective_of(str(problem))
        # Internally lower is better; values are shown as the metric itself.
        sign = -1.0 if direction == "maximize" else 1.0
        data = data.assign(objective=sign * data["objective"])
        budgets = [budget / 3, budget * 2 / 3, budget]
        seeds = sorted(set(data["seed"]))
        methods = [m for m in ORDER if m in set(data["method"])]
        complete = {
            m: [s for s in seeds if len(data[(data.method == m) & (data.seed == s)])]
            for m in methods
        }
        lines += [
            f"## {problem}",
            "",
            f"Seeds: {', '.join(map(str, seeds))}; budget {budget:g} training epochs per sweep "
            "(equal for every method). Median [IQR] over seeds.",
            "",
            f"| method | seeds | trials | best {metric} @ "
            + f" | best {metric} @ ".join(f"{b:g} ep" for b in budgets)
            + f" | val error of incumbent @ {budget:g} ep | epochs to reach bayes @ "
            f"{budget:g} ep |",
            "|---" * (5 + len(budgets)) + "|",
        ]
        targets = {}
        for seed in seeds:
            runs = data[(data.method == "bayes") & (data.seed == seed)]
            best = incumbent(runs, budget) if len(runs) else None
            if best is not None:
                targets[seed] = float(best["objective"])
        for method in methods:
            per_budget = {b: [] for b in budgets}
            errors, reach, trials = [], [], []
            for seed in complete[method]:
                runs = data[(data.method == method) & (data.seed == seed)].sort_values(
                    "epochs_total"
                )
                trials.append(len(runs))
                for b in budgets:
                    best = incumbent(runs, b)
                    value = sign * float(best["objective"]) if best is not None else np.nan
                    per_budget[b].append(value)
                best = incumbent(runs, budget)
                if best is not None and best["val_acc"] is not None:
                    errors.append(1.0 - float(best["val_acc"]))
                if seed in targets:
                    reach.append(epochs_to_reach(runs, targets[seed]))
            reached = [r for r in reach if math.isfinite(r)]
            reach_text = (
                f"{np.median(reached):.0f} ({len(reached)}/{len(reach)} seeds reach it)"
                if reached
                else f"never (0/{len(reach)})"
            )
            lines.append(
                f"| {method} | {len(complete[method])} | {np.median(trials):.0f} | "
                + " | ".join(cell(per_budget[b]) for b in budgets)
                + f" | {cell(errors, 4)} | {reach_text} |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "results.jsonl"
    budget = float(sys.argv[2]) if len(sys.argv) > 2 else 72.0
    rows = pd.read_json(path, lines=True)
    rows["objective"] = pd.to_numeric(rows["objective"], errors="coerce")
    print(summarise(rows, budget))


if __name__ == "__main__":
    main()
