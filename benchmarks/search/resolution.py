"""How much the suite's figures can decide: their spread over the seeds, from the cached runs.

    .venv/bin/python benchmarks/search/resolution.py [--method bayes] [--seeds 16] \
        --out benchmarks/search/results/suite/resolution

For each half of the suite (suite_run.GROUPS: the validation half, the extended tuning half):

- the method's geometric mean ÷ each baseline (the report's figure, suite_run.report) and
  its 90 % bootstrap interval: each problem's runs of the method and of the baseline are
  drawn again, with replacement, and the figure computed again, DRAWS times;
- each baseline against itself, i.e. what a method exactly as good as the baseline scores:
  seeds 0-7 ÷ seeds 8-15 (geometric mean and worst problem), and from two bootstrap draws
  of n runs each out of its own runs, for n = the seeds measured and more (what more seeds
  would buy), the 90 % interval of the geometric mean and the probability that at least one
  problem's ratio is above each worst-case limit (LIMITS: the issue's targets, 1.5 ÷
  GPSampler and 1.1 ÷ TPE).

Ratios, floor and clipping are those of the report (suite_run.ratio, floor_of, geomean).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import suite_run  # noqa: E402

DRAWS = 2000
HALVES = ("validation", "extended tuning")
LIMITS = {"optuna-gp": 1.5, "optuna-tpe": 1.1, "optuna-random": 1.1}
SAMPLE_SIZES = (16, 32, 64)


def runs(method: str, problems: list[str], seeds: int) -> dict[str, np.ndarray]:
    """Final regrets per problem (problems without all `seeds` runs are left out)."""
    out = {}
    for p in problems:
        f = suite_run.finals(method, p, seeds)
        if f is not None and len(f) == seeds:
            out[p] = np.asarray(f)
    return out


def _figure(a: dict, b: dict, floors: dict, pick_a, pick_b) -> tuple[float, float]:
    """(geometric mean, worst ratio) of median(pick_a(a[p])) ÷ median(pick_b(b[p]))."""
    r = [
        suite_run.ratio(float(np.median(pick_a(a[p]))), float(np.median(pick_b(b[p]))), floors[p])
        for p in floors
    ]
    return suite_run.geomean(r), max(r)


def interval(values: list[float]) -> list[float]:
    return [round(float(np.percentile(values, 5)), 3), round(float(np.percentile(values, 95)), 3)]


def resolution(method: str, seeds: int, rng: np.random.Generator) -> dict:
    record = {}
    for half in HALVES:
        problems = suite_run.GROUPS[half]
        mine = runs(method, problems, seeds)
        rec = {}
        for base in suite_run.BASELINES:
            theirs = runs(base, problems, seeds)
            floors = {
                p: suite_run.floor_of(suite_run.finals("optuna-random", p, seeds))
                for p in problems
                if p in mine and p in theirs
            }
            ident = lambda x: x  # noqa: E731
            point = _figure(mine, theirs, floors, ident, ident)[0]

            def draw(x, n=seeds):
                return x[rng.integers(len(x), size=n)]

            boot = [_figure(mine, theirs, floors, draw, draw)[0] for _ in range(DRAWS)]
            split = _figure(theirs, theirs, floors, lambda x: x[:8], lambda x: x[8:16])
            itself = {}
            for n in SAMPLE_SIZES:
                figs = [
                    _figure(
                        theirs, theirs, floors, lambda x, n=n: draw(x, n), lambda x, n=n: draw(x, n)
                    )
                    for _ in range(DRAWS)
                ]
                itself[n] = {
                    "geomean_90": interval([g for g, _ in figs]),
                    "p_worst_above_limit": round(
                        float(np.mean([w > LIMITS[base] for _, w in figs])), 3
                    ),
                }
            rec[base] = {
                "problems": len(floors),
                "geomean": round(point, 3),
                "geomean_90": interval(boot),
                "itself_split_seeds": {"geomean": round(split[0], 3), "worst": round(split[1], 2)},
                "itself_drawn": itself,
            }
        record[half] = rec
    return record


def markdown(method: str, seeds: int, record: dict) -> str:
    lines = [
        f"# What the suite's figures can decide (`{method}`, {seeds} seeds of every method)\n",
        f"90 % intervals from {DRAWS} bootstrap draws of each problem's runs; see resolution.py.\n",
    ]
    for half, rec in record.items():
        lines.append(f"## {half}\n")
        lines.append(
            f"| ÷ | problems | `{method}` geomean | its 90 % interval | the baseline ÷ itself, "
            "seeds 0–7 ÷ 8–15 (geomean, worst) | "
            + " | ".join(
                f"itself, {n} ÷ {n} drawn: geomean 90 %, P(a problem > limit)" for n in SAMPLE_SIZES
            )
            + " |"
        )
        lines.append("|---|---|---|---|---|" + "---|" * len(SAMPLE_SIZES))
        for base, v in rec.items():
            lo, hi = v["geomean_90"]
            s = v["itself_split_seeds"]
            drawn = " | ".join(
                f"{d['geomean_90'][0]:.3f}–{d['geomean_90'][1]:.3f}, "
                f"P(> {LIMITS[base]}) {d['p_worst_above_limit']:.2f}"
                for d in v["itself_drawn"].values()
            )
            lines.append(
                f"| {base} | {v['problems']} | {v['geomean']:.3f} | {lo:.3f}–{hi:.3f} | "
                f"{s['geomean']:.3f}, {s['worst']:.2f} | {drawn} |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", default="bayes")
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    record = resolution(args.method, args.seeds, np.random.default_rng(0))
    Path(f"{args.out}.json").write_text(
        json.dumps({"method": args.method, "seeds": args.seeds, "halves": record}, indent=1) + "\n"
    )
    text = markdown(args.method, args.seeds, record)
    Path(f"{args.out}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
