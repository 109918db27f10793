"""Numbers behind the plots: the tuned parameters, their encoding, a surrogate and what it says.

The surrogate is a random forest fitted on the finished trials (objective ~ parameters). Its
impurity importance ranks the parameters; partial dependence averages its prediction over the
observed trials while one parameter sweeps its range (Friedman's definition, the same quantity as
scikit-optimize's `plot_objective`, without needing the optimiser's state).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Dim:
    """One tuned parameter as the plots need it."""

    name: str
    kind: str  # float | int | categorical
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()

    def encode(self, values: pd.Series) -> np.ndarray:
        """Numbers a model can split on: log10 for log scales, the choice index for categories."""
        if self.kind == "categorical":
            index = {str(choice): position for position, choice in enumerate(self.choices)}
            return np.array([index.get(_text(v), np.nan) for v in values], dtype=float)
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        if self.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                numbers = np.where(numbers > 0, np.log10(numbers), np.nan)
        return numbers

    def unit(self, values: pd.Series) -> np.ndarray:
        """The parameter mapped to [0, 1] over its range (for parallel coordinates)."""
        encoded = self.encode(values)
        if self.kind == "categorical":
            return encoded / max(len(self.choices) - 1, 1)
        low, high = self.bounds()
        return (encoded - low) / (high - low) if high > low else encoded * 0 + 0.5

    def bounds(self) -> tuple[float, float]:
        """The encoded range: log10 bounds for log scales, indices for categories."""
        if self.kind == "categorical":
            return 0.0, float(len(self.choices) - 1)
        low, high = float(self.low), float(self.high)
        return (math.log10(low), math.log10(high)) if self.log else (low, high)

    def decode(self, encoded: float) -> Any:
        if self.kind == "categorical":
            return self.choices[int(round(encoded))]
        return 10**encoded if self.log else encoded


def _text(value: Any) -> str:
    """Categorical values as text: 64 and '64' and 64.0 (pandas reading a CSV) are one choice."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def tuned_dims(space: dict, table: pd.DataFrame | None = None) -> list[Dim]:
    """The searched parameters of the config's `space:` mapping, in config order.

    Fixed values (scalars or `type: fixed`) are left out. A list of `values` spans its smallest
    to its largest value (on a log scale when that is a decade or more); ranges missing from a
    spec otherwise are taken from the table.
    """
    dims = []
    for name, spec in space.items():
        if not isinstance(spec, dict) or spec.get("type", "fixed") == "fixed":
            continue
        kind = spec["type"]
        if kind == "categorical":
            dims.append(Dim(name, kind, choices=tuple(_text(c) for c in spec["choices"])))
            continue
        low, high = spec.get("low"), spec.get("high")
        log = bool(spec.get("log", False))
        if spec.get("values"):
            low, high = min(spec["values"]), max(spec["values"])
            log = low > 0 and high >= 10 * low  # values spanning a decade or more: log axes
        if (low is None or high is None) and table is not None and name in table:
            column = pd.to_numeric(table[name], errors="coerce")
            low, high = column.min(), column.max()
        if low is None or high is None or not np.isfinite([low, high]).all():
            continue
        dims.append(Dim(name, kind, float(low), float(high), log))
    return dims


def finished(table: pd.DataFrame) -> pd.DataFrame:
    """Trials that produced an objective."""
    objective = pd.to_numeric(table["objective"], errors="coerce")
    return table[(table["status"] == "ok") & np.isfinite(objective)]


def design_matrix(table: pd.DataFrame, dims: list[Dim]) -> np.ndarray:
    """Encoded parameters, one column per dim; an inactive (conditional) parameter sits just below
    its range, so the forest can still tell "absent" from any real value."""
    columns = []
    for dim in dims:
        values = table[dim.name] if dim.name in table else pd.Series([np.nan] * len(table))
        encoded = dim.encode(values)
        low, high = dim.bounds()
        columns.append(np.where(np.isnan(encoded), low - 0.1 * (high - low or 1.0), encoded))
    return np.column_stack(columns) if columns else np.empty((len(table), 0))


def fit_surrogate(table: pd.DataFrame, dims: list[Dim], seed: int = 0):
    """A random forest of objective ~ parameters on the finished trials, or None (too few)."""
    done = finished(table)
    if len(done) < 3 or not dims:
        return None
    from sklearn.ensemble import RandomForestRegressor

    model = RandomForestRegressor(n_estimators=100, min_samples_leaf=1, random_state=seed)
    model.fit(design_matrix(done, dims), pd.to_numeric(done["objective"]).to_numpy(dtype=float))
    return model


def importance(table: pd.DataFrame, dims: list[Dim], seed: int = 0) -> pd.Series | None:
    """Random-forest (mean decrease in impurity) importance per parameter, summing to 1."""
    model = fit_surrogate(table, dims, seed)
    if model is None:
        return None
    scores = pd.Series(model.feature_importances_, index=[dim.name for dim in dims])
    return scores.sort_values(ascending=False)


def partial_dependence(
    table: pd.DataFrame, dims: list[Dim], seed: int = 0, points: int = 25
) -> dict[str, pd.DataFrame] | None:
    """For each parameter, the surrogate's mean prediction over the finished trials as that
    parameter takes each value of a grid: {name: DataFrame(value, encoded, objective)}."""
    model = fit_surrogate(table, dims, seed)
    if model is None:
        return None
    base = design_matrix(finished(table), dims)
    curves = {}
    for column, dim in enumerate(dims):
        low, high = dim.bounds()
        grid = (
            np.arange(len(dim.choices), dtype=float)
            if dim.kind == "categorical"
            else (np.linspace(low, high, points))
        )
        # every grid value times every observed trial, predicted in one call
        probe = np.repeat(base[np.newaxis], len(grid), axis=0)
        probe[:, :, column] = grid[:, np.newaxis]
        means = model.predict(probe.reshape(-1, base.shape[1])).reshape(len(grid), -1).mean(1)
        curves[dim.name] = pd.DataFrame(
            {"value": [dim.decode(v) for v in grid], "encoded": grid, "objective": means.tolist()}
        )
    return curves


def best_so_far(objectives: pd.Series, direction: str) -> pd.Series:
    """Running best of the objective (NaN for failed trials is skipped)."""
    values = pd.to_numeric(objectives, errors="coerce")
    return values.cummin() if direction == "minimize" else values.cummax()


def ranked(table: pd.DataFrame, direction: str) -> pd.DataFrame:
    """Finished trials, best first."""
    done = finished(table).copy()
    done["objective"] = pd.to_numeric(done["objective"])
    return done.sort_values(["objective", "trial"], ascending=[direction == "minimize", True])


def one_at_a_time(table: pd.DataFrame, dims: list[Dim]) -> dict[str, pd.DataFrame]:
    """Trials of a one-at-a-time design grouped by the parameter they vary.

    The baseline is each parameter's most common value; a trial belongs to parameter p when p is
    the only parameter that differs from the baseline (the baseline trial itself joins every
    group). Returns {name: DataFrame(value, objective, trial)} for parameters with ≥ 2 values.
    """
    if table.empty or not dims:
        return {}
    names = [dim.name for dim in dims if dim.name in table]
    text = table[names].map(lambda v: None if pd.isna(v) else _text(v))
    baseline = {
        name: text[name].mode(dropna=True).iloc[0] if text[name].notna().any() else None
        for name in names
    }
    groups: dict[str, list[int]] = {name: [] for name in names}
    for index, row in text.iterrows():
        differs = [n for n in names if row[n] is not None and row[n] != baseline[n]]
        if not differs:
            for name in names:
                groups[name].append(index)
        elif len(differs) == 1:
            groups[differs[0]].append(index)
    result = {}
    for name, rows in groups.items():
        part = table.loc[rows, [name, "objective", "trial", "status"]]
        if part[name].nunique() >= 2:
            result[name] = part.rename(columns={name: "value"}).reset_index(drop=True)
    return result
