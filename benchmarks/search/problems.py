"""Benchmark problems: synthetic functions and published tables of real NN training results.

Each problem has a snakesweep `space:` mapping, an objective to minimise (a function of a
complete parameter dict), its known optimum (for simple regret) and an evaluation budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Problem:
    name: str
    space: dict[str, Any]
    f: Callable[[dict[str, Any]], float]
    optimum: float
    budget: int


def branin() -> Problem:
    def f(p):
        x1, x2 = p["x1"], p["x2"]
        return (
            (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
            + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1)
            + 10
        )

    space = {
        "x1": {"type": "float", "low": -5.0, "high": 10.0},
        "x2": {"type": "float", "low": 0.0, "high": 15.0},
    }
    return Problem("branin", space, f, 0.39788735772973816, 40)


_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H6_C = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6() -> Problem:
    def f(p):
        x = np.array([p[f"x{i}"] for i in range(6)])
        return float(-np.sum(_H6_C * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))

    space = {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(6)}
    return Problem("hartmann6", space, f, -3.32236801141551, 40)


def levy10() -> Problem:
    def f(p):
        x = np.array([p[f"x{i}"] for i in range(10)])
        w = 1 + (x - 1) / 4
        return float(
            np.sin(math.pi * w[0]) ** 2
            + np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2))
            + (w[-1] - 1) ** 2 * (1 + np.sin(2 * math.pi * w[-1]) ** 2)
        )

    space = {f"x{i}": {"type": "float", "low": -10.0, "high": 10.0} for i in range(10)}
    return Problem("levy10", space, f, 0.0, 40)


def tabular(name: str, budget: int = 32) -> Problem:
    """A table as ranges snapped to its cells (`hpobench/car`), or with `:values` appended
    (`hpobench/car:values`) with each numeric axis given as its list of values."""
    from snakesweep.tabular import load_table

    table, _, form = name.partition(":")
    t = load_table(table)
    metric = "val/error" if table.startswith("hpobench") else "val/loss"

    def f(p):
        return t.lookup(p)[metric]

    return Problem(name, t.space(values=form == "values"), f, t.best(metric), budget)


def digits_mlp(budget: int = 24) -> Problem:
    """The default sweep (config/config.yaml: an MLP on scikit-learn's digits, 9 parameters,
    one conditional): each evaluation trains for real, in this process, with a fixed seed, so
    the objective (1 - validation accuracy) is a deterministic function of the parameters.
    The optimum is unknown: regret is measured against 0 (it is the validation error). A
    training that diverges scores 0.9, the error of guessing among the 10 classes."""
    import tempfile
    from pathlib import Path

    import yaml

    from snakesweep.sweep import load_sweep
    from snakesweep.train import DivergedError, fit_trial

    raw = yaml.safe_load((Path(__file__).resolve().parents[2] / "config/config.yaml").read_text())
    sweep = load_sweep(raw, Path(tempfile.mkdtemp()))

    def f(p):
        with tempfile.TemporaryDirectory() as trial_dir:
            try:
                metrics = fit_trial(p, sweep, Path(trial_dir), seed=0)
            except DivergedError:  # e.g. lr near 0.3 with sgd: scored at chance level
                return 0.9
        return 1.0 - metrics["val/acc"]

    return Problem("digits_mlp", raw["space"], f, 0.0, budget)


SYNTHETIC = {"branin": branin, "hartmann6": hartmann6, "levy10": levy10}
TRAINED = {"digits_mlp": digits_mlp}
TABLES = [
    "hpobench/car",
    "hpobench/phoneme",
    "hpobench/vehicle",
    "hpobench/australian",
    "hpolib/naval_propulsion",
    "hpolib/parkinsons_telemonitoring",
]


def get(name: str) -> Problem:
    if name in SYNTHETIC:
        return SYNTHETIC[name]()
    if name in TRAINED:
        return TRAINED[name]()
    return tabular(name)
