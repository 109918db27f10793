"""A user's own training function: `train.function: package.module:fn`, for a training loop
without a LightningModule. It is called as `fn(params, trial_dir, seed) -> dict of metrics` in
the trial's supervised process, so a crash, NaN, kill or timeout is recorded like any trial's.

Before the call, Python's, NumPy's and (when installed) torch's random generators are seeded
with the trial's seed. A `history` entry in the returned dict (a list of per-epoch dicts)
becomes the trial's history.csv, unless the function wrote `trial_dir/history.csv` itself.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import math
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from snakesweep.errors import ConfigError

KEY = "train.function"


def _split(path: str) -> tuple[str, str]:
    module_name, _, name = str(path).partition(":")
    if not module_name or not name.isidentifier():
        raise ConfigError(KEY, f"{path!r} is not package.module:function", "e.g. mypkg.train:fit")
    return module_name, name


def check_function(path: str) -> None:
    """Parse time, without importing: the module exists and defines (or imports) the name."""
    from snakesweep.train.check import module_source

    module_name, name = _split(path)
    tree = module_source(module_name, KEY)
    if tree is None:
        return  # compiled: checked when the trial imports it
    defined = {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }
    defined |= {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom | ast.Import)
        for alias in node.names
    }
    defined |= {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    if name not in defined:
        raise ConfigError(KEY, f"{module_name!r} defines no {name!r}")


def load_function(path: str) -> Callable[..., Any]:
    module_name, name = _split(path)
    function = getattr(importlib.import_module(module_name), name, None)
    if not callable(function):
        raise ConfigError(KEY, f"{path!r} is not a function")
    return function


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (torch only when installed)."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.manual_seed(seed)


def run_function(path: str, params: dict[str, Any], trial_dir: Path, seed: int) -> dict[str, Any]:
    """Call the user's function for one trial; its metrics (numbers), history.csv written."""
    from snakesweep.train.fit import write_history

    function = load_function(path)
    seed_everything(int(seed))
    result = function(dict(params), trial_dir, int(seed))
    if not isinstance(result, Mapping):
        raise TypeError(f"{path} returned {type(result).__name__}, not a dict of metrics")
    result = dict(result)
    history = result.pop("history", None)
    if history is not None:
        rows = [
            {"epoch": index, **{k: float(v) for k, v in dict(row).items()}}
            for index, row in enumerate(history)
        ]
        write_history(rows, trial_dir / "history.csv")
    metrics = {}
    for name, value in result.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            metrics[name] = float(value) if not math.isfinite(value) else value
    if history:
        metrics.setdefault("epochs", len(history))
    return metrics
