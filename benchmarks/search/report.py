"""Summarise benchmark JSON files into a markdown table of simple regret (median [IQR]).

    .venv/bin/python benchmarks/search/report.py benchmarks/search/results/*.json \
        > benchmarks/search/RESULTS.md
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np


def load(paths: list[str]) -> dict:
    runs: dict = defaultdict(list)
    seen = set()
    for path in paths:
        for r in json.loads(Path(path).read_text())["runs"]:
            key = (r["problem"], r["method"], r["seed"])
            if key not in seen:  # the same run kept in two files counts once
                seen.add(key)
                runs[(r["problem"], r["method"])].append(r)
    return runs


def stat(values: list[float]) -> tuple[float, float, float]:
    q = np.quantile(values, [0.25, 0.5, 0.75])
    return float(q[1]), float(q[0]), float(q[2])


def fmt(x: float) -> str:
    return f"{x:.3g}"


def main(paths: list[str]) -> None:
    runs = load(paths)
    problems = list(dict.fromkeys(p for p, _ in runs))
    methods = list(dict.fromkeys(m for _, m in runs))
    print(
        "| problem | method | seeds | regret at half budget | regret at full budget | "
        "÷ TPE | ÷ GPSampler | propose s/batch |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for prob in problems:
        full = {}
        for m in methods:
            rs = runs.get((prob, m))
            if rs:
                full[m] = stat([r["regret"][-1] for r in rs])[0]
        for m in methods:
            rs = runs.get((prob, m))
            if not rs:
                continue
            half = stat([r["regret"][len(r["regret"]) // 2 - 1] for r in rs])
            end = stat([r["regret"][-1] for r in rs])
            times = np.mean([np.mean(r["propose_s"][1:] or r["propose_s"]) for r in rs])
            tpe = full.get("optuna-tpe")
            gp = full.get("optuna-gp")
            rt = fmt(end[0] / tpe) if tpe else "-"
            rg = fmt(end[0] / gp) if gp else "-"
            print(
                f"| {prob} | {m} | {len(rs)} | {fmt(half[0])} [{fmt(half[1])}, {fmt(half[2])}] "
                f"| {fmt(end[0])} [{fmt(end[1])}, {fmt(end[2])}] | {rt} | {rg} | {times:.2f} |"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
