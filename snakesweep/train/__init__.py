"""Training of one trial with PyTorch Lightning.

`fit_trial` is the trial job's entry point (it takes the typed Sweep); `check_training`
validates the training part of a config dict at parse time. Importing this package does not
import torch or lightning: only `fit_trial` does, when it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from snakesweep.sweep import Sweep


class DivergedError(RuntimeError):
    """The training (or validation) loss became NaN or infinite."""


class TrialPruned(RuntimeError):  # noqa: N818 (a status, not a failure)
    """The pruning rule stopped the trial early; `metrics` are its results so far."""

    def __init__(self, epoch: int, metrics: dict[str, Any]) -> None:
        super().__init__(f"pruned after epoch {epoch}")
        self.epoch = epoch
        self.metrics = metrics


def fit_trial(
    params: dict[str, Any],
    sweep: Sweep,
    trial_dir: Path | str,
    seed: int,
    fold: int | None = None,
    fidelity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train one trial of `sweep` (snakesweep.sweep.load_sweep of a config); write history.csv,
    model.ckpt and last.ckpt to `trial_dir`; return its metrics.

    `fold` (0-based) trains on the other folds of `evaluate.folds` and validates on this one.
    `fidelity` (multi-fidelity search, pruning): `epochs` to stop at, `resume_from` (an earlier
    trial's folder to continue), `data_fraction`, `prune`; raises TrialPruned when pruned.
    """
    from snakesweep.train.fit import fit

    return fit(params, sweep, Path(trial_dir), seed, fold=fold, fidelity=fidelity)


def check_training(config: dict[str, Any], space: Any = None) -> None:
    """Raise ConfigError for a bad `data`/`model`/`train`/`evaluate` section or an unknown
    hyperparameter in `space` (a mapping or a parsed Space). Does not import torch."""
    from snakesweep.train.check import check

    check(config, space)


__all__ = ["DivergedError", "TrialPruned", "check_training", "fit_trial"]
