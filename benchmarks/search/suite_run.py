"""Run methods on the development suite (`suite.py`); cache every (problem, method, seed) run.

    nice -n 19 .venv/bin/python benchmarks/search/suite_run.py --methods optuna-tpe optuna-gp \
        optuna-random bayes [--half tuning] [--seeds 8]
    .venv/bin/python benchmarks/search/suite_run.py --report bayes --out results/suite/NAME \
        [--against bayes]

A run is cached as results/suite/cache/METHOD/PROBLEM/SEED.json, so a rerun computes only
what is missing; delete a method's folder after changing the code it measures. `--report`
writes NAME.json and NAME.md: median final regret per problem over the seeds, the ratio of
the method's median to each baseline's (see FLOOR and CLIP), the geometric mean of the ratios
per group of problems and the worst problems (the baselines over their first
`--baseline-seeds`, 8 unless told); with `--against REF`, the paired count per group
(runs with a lower / higher final regret than REF's run of the same problem and seed). The
groups: the tuning half of `suite.SPLIT`, its extension (`suite.TUNING_EXTENSION`), the two
together (the tuning half `--half tuning` runs and defaults are chosen on), those of them with
a categorical of 3 or more choices, and the validation half. `--label` caches a method's runs
under another name (a variant measured from another copy of the code).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import run as runner  # noqa: E402
import suite  # noqa: E402

CACHE = HERE / "results" / "suite" / "cache"
BASELINES = ("optuna-tpe", "optuna-gp", "optuna-random")
# Medians below FLOOR x random search's median final regret count as that (two methods that
# both reach the optimum tie at 1), and the geometric means clip each ratio to [1/CLIP, CLIP]
# (one problem solved exactly by one method, e.g. a step function, would otherwise decide
# the mean); the worst ratios are reported unclipped.
FLOOR = 1e-3
CLIP = 10.0


def _path(method: str, problem: str, seed: int) -> Path:
    return CACHE / method.replace("/", "_") / problem.replace("/", "_") / f"{seed}.json"


def compute(problems: list[str], methods: list[str], seeds: range, label: str | None) -> None:
    for method in methods:
        for pname in problems:
            problem = None
            for seed in seeds:
                path = _path(label or method, pname, seed)
                if path.exists():
                    continue
                problem = problem or suite.get(pname)
                t0 = time.perf_counter()
                y, times = runner.run(problem, method, seed)
                best = np.minimum.accumulate(np.asarray(y, dtype=float))
                regret = [max(0.0, float(b - problem.optimum)) for b in best]
                path.parent.mkdir(parents=True, exist_ok=True)
                rec = {
                    "problem": pname,
                    "method": label or method,
                    "spec": method,
                    "seed": seed,
                    "regret": regret,
                    "first_y": float(y[0]),
                    "propose_s": [round(t, 4) for t in times],
                    "wall_s": round(time.perf_counter() - t0, 2),
                }
                path.write_text(json.dumps(rec) + "\n")
                print(
                    f"{pname:34s} {method:30s} seed {seed} regret {regret[-1]:.4g} "
                    f"({rec['wall_s']:.1f} s)",
                    flush=True,
                )


def floor_of(random_finals: list[float] | None) -> float:
    """The floor medians count as (FLOOR x random search's median final regret)."""
    return 1e-12 + FLOOR * (float(np.median(random_finals)) if random_finals else 1.0)


def ratio(median: float, baseline_median: float, floor: float) -> float:
    return max(median, floor) / max(baseline_median, floor)


def geomean(ratios) -> float:
    """Geometric mean of ratios, each clipped to [1/CLIP, CLIP]."""
    logs = np.clip(np.log(list(ratios)), -math.log(CLIP), math.log(CLIP))
    return math.exp(float(np.mean(logs)))


def finals(method: str, problem: str, seeds: int) -> list[float] | None:
    """Final regrets of the cached seeds among the first `seeds` (None below 4 of them)."""
    out = []
    for seed in range(seeds):
        path = _path(method, problem, seed)
        if path.exists():
            out.append(json.loads(path.read_text())["regret"][-1])
    return out if len(out) >= min(4, seeds) else None


GROUPS = {
    "tuning": suite.SPLIT["tuning"],
    "extension": suite.TUNING_EXTENSION,
    "extended tuning": suite.HALVES["tuning"],
    "extended tuning, a categorical of 3+ choices": [
        p for p in suite.HALVES["tuning"] if suite.categorical_choices(p) >= 3
    ],
    "validation": suite.HALVES["validation"],
}


def paired(method: str, against: str, problems: list[str], seeds: int) -> dict[str, int]:
    """Runs of `method` that end lower / higher than `against`'s run of the same problem
    and seed (ties excluded), over the seeds both have."""
    better = worse = 0
    for pname in problems:
        for seed in range(seeds):
            a, b = _path(method, pname, seed), _path(against, pname, seed)
            if a.exists() and b.exists():
                x = json.loads(a.read_text())["regret"][-1]
                y = json.loads(b.read_text())["regret"][-1]
                better, worse = better + (x < y), worse + (x > y)
    return {"better": better, "worse": worse}


def report(
    method: str, seeds: int, out: Path, against: str | None = None, baseline_seeds: int = 8
) -> None:
    rows, lines = {}, []
    for pname in sorted({**suite.NAMES, **suite.EXTENSION}):
        meds, counts = {}, {}
        for m in (method, *BASELINES):
            f = finals(m, pname, seeds if m == method else baseline_seeds)
            if f is not None:
                meds[m], counts[m] = float(np.median(f)), len(f)
        if method not in meds:
            continue
        floor = floor_of(finals("optuna-random", pname, baseline_seeds))
        ratios = {b: ratio(meds[method], meds[b], floor) for b in BASELINES if b in meds}
        half = next(g for g in ("tuning", "extension", "validation") if pname in GROUPS[g])
        rows[pname] = {"half": half, "median": meds, "seeds": counts, "ratio": ratios}
    summary = {}
    for group, members in GROUPS.items():
        summary[group] = {}
        for b in BASELINES:
            r = {p: v["ratio"][b] for p, v in rows.items() if p in members and b in v["ratio"]}
            if not r:
                continue
            worst = sorted(r, key=r.get, reverse=True)[:3]
            summary[group][b] = {
                "problems": len(r),
                "geomean": geomean(r.values()),
                "worst": [[p, r[p]] for p in worst],
                "wins": sum(v < 1 for v in r.values()),
            }
    summary = {g: s for g, s in summary.items() if s}
    pairs = {g: paired(method, against, GROUPS[g], seeds) for g in summary} if against else {}
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "method": method,
        "seeds": seeds,
        "baseline_seeds": baseline_seeds,
        "summary": summary,
        "rows": rows,
    }
    if against:
        record["paired"] = {"against": against, **pairs}
    Path(f"{out}.json").write_text(json.dumps(record, indent=1) + "\n")
    lines.append(
        f"# `{method}` on the development suite ({seeds} seeds, the baselines' {baseline_seeds}; "
        "32 evaluations, batches of 4)\n"
    )
    for group, s in summary.items():
        lines.append(f"## {group}\n")
        lines.append("| ÷ | problems | geomean | better on | worst three |")
        lines.append("|---|---|---|---|---|")
        for b, v in s.items():
            worst = ", ".join(f"{p} {x:.2f}" for p, x in v["worst"])
            lines.append(f"| {b} | {v['problems']} | {v['geomean']:.3f} | {v['wins']} | {worst} |")
        if against:
            c = pairs[group]
            lines.append(
                f"\nPaired with `{against}` (same problem and seed): {c['better']} runs better, "
                f"{c['worse']} worse, ties excluded."
            )
        lines.append("")
    lines.append("## per problem: median final regret, and the ratio of medians\n")
    lines.append(
        "| problem | half | " + " | ".join((method, *BASELINES)) + " | ÷ TPE | ÷ GP | ÷ random |"
    )
    lines.append("|---|---|" + "---|" * (len(BASELINES) + 4))
    for p, v in rows.items():
        meds = " | ".join(
            (
                f"{v['median'][m]:.3g}"
                if v["seeds"][m] == (seeds if m == method else baseline_seeds)
                else f"{v['median'][m]:.3g} ({v['seeds'][m]} seeds)"
            )
            if m in v["median"]
            else ""
            for m in (method, *BASELINES)
        )
        rat = " | ".join(f"{v['ratio'][b]:.2f}" if b in v["ratio"] else "" for b in BASELINES)
        lines.append(f"| {p} | {v['half']} | {meds} | {rat} |")
    Path(f"{out}.md").write_text("\n".join(lines) + "\n")
    print(
        "\n".join(
            lines[: lines.index("## per problem: median final regret, and the ratio of medians\n")]
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--methods", nargs="+", default=["bayes"])
    ap.add_argument(
        "--half",
        choices=["tuning", "validation", "all"],
        default="all",
        help="tuning: the tuning half with its extension (suite.HALVES)",
    )
    ap.add_argument("--problems", nargs="+")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument(
        "--baseline-seeds", type=int, default=8, help="with --report: the baselines' seeds"
    )
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--label", help="cache the runs under this name instead of the method's")
    ap.add_argument("--report")
    ap.add_argument("--out")
    ap.add_argument("--against", help="with --report: count runs better / worse than this")
    args = ap.parse_args()
    if args.report:
        report(args.report, args.seeds, Path(args.out), args.against, args.baseline_seeds)
        return
    problems = args.problems or (
        sorted({**suite.NAMES, **suite.EXTENSION})
        if args.half == "all"
        else suite.HALVES[args.half]
    )
    compute(
        problems,
        args.methods,
        range(args.first_seed, args.first_seed + args.seeds),
        args.label,
    )


if __name__ == "__main__":
    main()
