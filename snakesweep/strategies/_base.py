"""What every strategy shares: the observations it sees, option checking, duplicate handling.

A strategy is a module with `NAME`, `OPTIONS` (option name -> default), an optional
`check(options, space)` raising ConfigError, and `propose(space, obs, n, seed, options)`
returning up to n parameter dicts. It keeps no state: everything comes from `obs`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from snakesweep.errors import ConfigError
from snakesweep.space import Space, _isnan


@dataclass
class Observations:
    """Finished trials as a strategy sees them; `y` is always to be minimised."""

    params: list[dict[str, Any]]  # complete parameter dicts (inactive params absent)
    y: np.ndarray  # objective oriented for minimisation; failed trials replaced by the penalty
    raw: np.ndarray  # objective oriented for minimisation; NaN for failed trials
    failed: np.ndarray  # bool mask
    n_warm: int = 0  # leading rows that come from warm-start files, not from this sweep

    def __len__(self) -> int:
        return len(self.params)

    @property
    def ok(self) -> np.ndarray:
        return ~self.failed

    def unit(self, space: Space) -> np.ndarray:
        """Observations as points of the unit cube, shape (n, len(space.tuned))."""
        if not self.params:
            return np.zeros((0, len(space.tuned)))
        return np.vstack([space.to_unit(p) for p in self.params])

    def best(self) -> dict[str, Any] | None:
        if not self.ok.any():
            return None
        i = int(np.nanargmin(np.where(self.ok, self.raw, np.inf)))
        return self.params[i]


def history_params(space: Space, history: pd.DataFrame | None) -> list[dict[str, Any]]:
    """Parameter dicts of a results table, values normalised to the space's types."""
    if history is None or len(history) == 0:
        return []
    out = []
    cols = [n for n in space.names if n in history.columns]
    for rec in history[cols].to_dict("records"):
        raw = {}
        for n, v in rec.items():
            if v is None or _isnan(v) or (isinstance(v, str) and v == ""):
                continue
            p = space[n]
            try:
                raw[n] = p.normalise(v)
            except (ValueError, TypeError):
                # A value outside the space (e.g. from a warm start): keep it; to_unit clips.
                raw[n] = v
        out.append(space.complete(raw))
    return out


def observations(
    space: Space, history: pd.DataFrame | None, direction: str, penalty: Any = "worst"
) -> Observations:
    """Turn a results table into Observations; failed trials get the penalty, never dropped.

    A pruned trial (stopped early by the pruning rule) is a partial observation: its best
    objective so far, which the rule judged worse than most trials at that epoch.
    """
    params = history_params(space, history)
    if not params:
        e = np.zeros(0)
        return Observations([], e, e, e.astype(bool))
    obj = pd.to_numeric(history["objective"], errors="coerce").to_numpy(dtype=float)
    if "status" in history.columns:
        status = history["status"].astype(str).str.lower().to_numpy()
        obj = np.where(np.isin(status, ["ok", "pruned", "nan", "none", ""]), obj, np.nan)
    raw = -obj if direction == "maximize" else obj.copy()
    raw[~np.isfinite(raw)] = np.nan
    failed = np.isnan(raw)
    y = raw.copy()
    if failed.any():
        if isinstance(penalty, int | float) and not isinstance(penalty, bool):
            pen = -float(penalty) if direction == "maximize" else float(penalty)
        elif (~failed).any():
            pen = float(np.nanmax(raw))
        else:
            pen = 0.0
        y[failed] = pen
    return Observations(params, y, raw, failed)


def check_options(name: str, options: Mapping[str, Any], allowed: Mapping[str, Any]) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(
            f"search.{unknown[0]}",
            f"unknown option for strategy {name!r}",
            f"options of {name}: {', '.join(sorted(allowed)) or 'none'}",
        )


def choose(key: str, value: Any, allowed: tuple) -> Any:
    if value not in allowed:
        raise ConfigError(key, f"{value!r} is not supported", f"use one of {', '.join(allowed)}")
    return value


def positive_int(key: str, value: Any, minimum: int = 1, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(key, f"must be an integer >= {minimum}, got {value!r}")


def number(key: str, value: Any, low: float = -math.inf, high: float = math.inf) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(key, f"must be a number in [{low}, {high}], got {value!r}")


def rng_for(seed: int, n_obs: int, salt: int = 0) -> np.random.Generator:
    """A generator owned by one proposal: same (seed, history size) -> same stream."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(n_obs), int(salt)])


def random_points(space: Space, n: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    return [space.from_unit(u) for u in rng.random((n, len(space.tuned)))]


def distinct(
    space: Space, proposals: Iterable[dict[str, Any]], n: int, keys: set
) -> list[dict[str, Any]]:
    """The first n of `proposals` whose keys are neither in `keys` nor repeated; their keys
    are added to `keys`. Draws no more from `proposals` than it needs."""
    out: list[dict[str, Any]] = []
    if n <= 0:
        return out
    for p in proposals:
        k = space.key(p)
        if k not in keys:
            keys.add(k)
            out.append(p)
            if len(out) == n:
                break
    return out


def dedupe(
    space: Space,
    proposals: list[dict[str, Any]],
    seen: list[dict[str, Any]],
    n: int,
    rng: np.random.Generator,
    fill: bool = True,
) -> list[dict[str, Any]]:
    """Drop proposals equal to an earlier trial or to one another; refill with random points.

    Refilling stops when the space is exhausted (a finite space may return fewer than n).
    """
    keys = {space.key(p) for p in seen}
    out = distinct(space, proposals, n, keys)
    if len(out) == n or not fill:
        return out
    draws = (space.from_unit(rng.random(len(space.tuned))) for _ in range(200 * n))
    out += distinct(space, draws, n - len(out), keys)
    if len(out) < n and space.size() < math.inf:
        # Small finite space: enumerate what is left rather than hoping to hit it.
        from snakesweep.strategies.grid import full_grid

        out += distinct(space, full_grid(space, points=None, strict=False), n - len(out), keys)
    return out


def read_table(path: Path | str, key: str) -> pd.DataFrame:
    """A CSV file the config names (a warm-start table, a replay list), or a ConfigError naming
    `key` when it is empty or not a CSV table."""
    try:
        return pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ConfigError(
            key,
            f"{path} is not a CSV table ({str(error).splitlines()[0]})",
            "give a CSV file with a header row, e.g. an earlier sweep's trials.csv",
        ) from None
