"""What a metric's name says about it: whether higher or lower is better, and its range.

The trainer and the tabular task log metrics as stage/name (`val/acc`, `val/loss`); a name
listed here means the same wherever it appears, so a config that minimises accuracy, stops
early when the loss stops rising, or sets a target of 95 for an accuracy is a mistake caught
before any trial runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snakesweep.errors import ConfigError

HIGHER_IS_BETTER = ("acc", "precision", "recall", "f1", "auroc", "r2")
LOWER_IS_BETTER = ("loss", "mse", "rmse", "mae", "error", "time_s")
#: name -> (lowest, highest) value the metric can take.
RANGES: dict[str, tuple[float, float]] = {
    **{name: (0.0, 1.0) for name in ("acc", "precision", "recall", "f1", "auroc", "error")},
    # (not loss: a user's module may log a negative log-likelihood as its loss)
    **{name: (0.0, float("inf")) for name in ("mse", "rmse", "mae", "time_s")},
    "r2": (float("-inf"), 1.0),
}


def _name(metric: Any) -> str:
    return str(metric).rpartition("/")[2]


def mode_of(metric: Any) -> str | None:
    """`max` for a metric whose higher values are better, `min` for lower, None if unknown."""
    name = _name(metric)
    if name in HIGHER_IS_BETTER:
        return "max"
    return "min" if name in LOWER_IS_BETTER else None


def check_sense(config: Mapping[str, Any]) -> None:
    """The objective's direction, the early-stopping mode and the budget's target agree with
    what the metrics they name measure (ConfigError naming the key otherwise)."""
    objective = config.get("objective") or {}
    metric = objective.get("metric", "val/loss")
    direction = objective.get("direction", "minimize")
    mode = mode_of(metric)
    if mode is not None and direction != f"{mode}imize":
        better = "higher" if mode == "max" else "lower"
        raise ConfigError(
            "objective.direction",
            f"{direction} searches for the worst {metric}: {better} values are better",
            f"use direction: {mode}imize",
        )
    early = (config.get("train") or {}).get("early_stopping") or {}
    monitor, early_mode = early.get("monitor", metric), early.get("mode")
    if early_mode is not None and mode_of(monitor) not in (None, early_mode):
        raise ConfigError(
            "train.early_stopping.mode",
            f"{early_mode} stops training while {monitor} is still improving",
            f"use mode: {mode_of(monitor)}, or leave mode out",
        )
    target = (config.get("budget") or {}).get("target")
    low, high = RANGES.get(_name(metric), (float("-inf"), float("inf")))
    if target is not None and not low <= target <= high:
        fix = "write it as a fraction, e.g. 0.95" if (low, high) == (0, 1) and target > 1 else ""
        raise ConfigError(
            "budget.target",
            f"{metric} lies in [{low:g}, {high:g}]; a target of {target:g} is never reached",
            fix or f"give a target in [{low:g}, {high:g}], or none",
        )
