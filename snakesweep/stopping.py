"""Stopping rules: when the sweep should propose no more trials, and why."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from snakesweep.errors import ConfigError

BUDGET_DEFAULTS: dict[str, Any] = {
    "rounds": 4,
    "trials_per_round": 4,
    "max_trials": None,
    "max_time_s": None,
    "target": None,
    "patience": None,
    "min_improvement": 0.0,
}


def check_budget(budget: Mapping[str, Any] | None) -> dict[str, Any]:
    """Budget with defaults filled in; raise ConfigError naming a bad key."""
    budget = dict(budget or {})
    unknown = sorted(set(budget) - set(BUDGET_DEFAULTS))
    if unknown:
        raise ConfigError(
            f"budget.{unknown[0]}", "unknown key", f"allowed: {', '.join(BUDGET_DEFAULTS)}"
        )
    b = {**BUDGET_DEFAULTS, **budget}
    for k in ("rounds", "trials_per_round", "max_trials", "patience"):
        v = b[k]
        if v is None and k in ("max_trials", "patience"):
            continue
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(f"budget.{k}", f"must be an integer >= 1, got {v!r}")
    for k in ("max_time_s", "target", "min_improvement"):
        v = b[k]
        if v is None and k != "min_improvement":
            continue
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ConfigError(f"budget.{k}", f"must be a number, got {v!r}")
    if b["max_time_s"] is not None and b["max_time_s"] <= 0:
        raise ConfigError("budget.max_time_s", "must be positive")
    if b["min_improvement"] < 0:
        raise ConfigError("budget.min_improvement", "must be >= 0")
    return b


def check_round_fits(budget: Mapping[str, Any], strategy: str) -> None:
    """A max_trials below trials_per_round is refused: the first round alone would run more
    trials than it allows (multi-fidelity rounds are rungs, sized by their schedule)."""
    from snakesweep.fidelity import MULTI_FIDELITY

    most, per_round = budget.get("max_trials"), budget.get("trials_per_round", 4)
    if strategy not in MULTI_FIDELITY and most is not None and most < per_round:
        raise ConfigError(
            "budget.max_trials",
            f"{most} is below trials_per_round ({per_round}): the first round alone runs "
            f"{per_round} trials",
            f"lower trials_per_round to {most}, or raise max_trials",
        )


def _oriented(history: pd.DataFrame | None, direction: str) -> np.ndarray:
    if history is None or len(history) == 0 or "objective" not in history.columns:
        return np.zeros(0)
    y = pd.to_numeric(history["objective"], errors="coerce").to_numpy(dtype=float)
    if "status" in history.columns:
        ok = history["status"].astype(str).str.lower().isin(["ok", "nan", "none", ""]).to_numpy()
        y = np.where(ok, y, np.nan)
    y = np.where(np.isfinite(y), y, np.nan)
    return -y if direction == "maximize" else y


def stop_reason(
    budget: Mapping[str, Any] | None,
    history: pd.DataFrame | None,
    direction: str,
    round_index: int,
    elapsed_s: float,
) -> str | None:
    """Why round `round_index` (0-based, about to be proposed) should not run; None = go on.

    `history` holds the trials of rounds before `round_index`; `elapsed_s` the sweep's own run
    time so far (snakesweep.history.run_time_s). Rules: rounds, max_trials, max_time_s,
    target, patience (rounds without an improvement of more than min_improvement).
    """
    b = check_budget(budget)
    n_trials = 0 if history is None else len(history)
    if round_index >= b["rounds"]:
        return f"budget: all {b['rounds']} rounds done"
    if b["max_trials"] is not None and n_trials >= b["max_trials"]:
        return f"budget: {n_trials} trials reached max_trials={b['max_trials']}"
    if b["max_time_s"] is not None and elapsed_s >= b["max_time_s"]:
        return f"budget: run time {elapsed_s:.0f} s reached max_time_s={b['max_time_s']}"
    y = _oriented(history, direction)
    if b["target"] is not None and np.isfinite(y).any():
        best = float(np.nanmin(y))
        target = -b["target"] if direction == "maximize" else b["target"]
        if best <= target:
            shown = -best if direction == "maximize" else best
            return f"target reached: best objective {shown:.6g} (target {b['target']})"
    if b["patience"] is not None and history is not None and len(history) and np.isfinite(y).any():
        if "round" in history.columns:
            rounds = pd.to_numeric(history["round"], errors="coerce").to_numpy()
        else:
            rounds = np.arange(len(history)) // b["trials_per_round"]
        done = sorted({int(r) for r in rounds if np.isfinite(r)})
        if len(done) > b["patience"]:
            last = done[-b["patience"] :]
            before = np.isin(rounds, last, invert=True)
            best_before = (
                np.nanmin(np.where(before, y, np.nan)) if np.isfinite(y[before]).any() else np.inf
            )
            best_recent = (
                np.nanmin(np.where(~before, y, np.nan)) if np.isfinite(y[~before]).any() else np.inf
            )
            if not best_recent < best_before - b["min_improvement"]:
                return (
                    f"no improvement in the last {b['patience']} rounds "
                    f"(best {(-best_before if direction == 'maximize' else best_before):.6g})"
                )
    return None
