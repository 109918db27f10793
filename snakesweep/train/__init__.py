"""Training of one trial with PyTorch Lightning.

`fit_trial` is the trial job's entry point; `check_training` validates the training part of a
config at parse time. Importing this package does not import torch or lightning: only
`fit_trial` does, when it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class DivergedError(RuntimeError):
    """The training (or validation) loss became NaN or infinite."""


def fit_trial(
    params: dict[str, Any],
    config: dict[str, Any],
    trial_dir: Path | str,
    seed: int,
    fold: int | None = None,
) -> dict[str, Any]:
    """Train one trial; write history.csv and model.ckpt to `trial_dir`; return its metrics.

    `fold` (0-based) trains on the other folds of `evaluate.folds` and validates on this one.
    """
    from snakesweep.train.fit import fit

    return fit(params, config, Path(trial_dir), seed, fold=fold)


def check_training(config: dict[str, Any], space: Any = None) -> None:
    """Raise ConfigError for a bad `data`/`model`/`train`/`evaluate` section or an unknown
    hyperparameter in `space` (a mapping or a parsed Space). Does not import torch."""
    from snakesweep.train.check import check

    check(config, space)


__all__ = ["DivergedError", "check_training", "fit_trial"]
