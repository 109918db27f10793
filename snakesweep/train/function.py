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
import random
from collections.abc import Callable, Iterable, Mapping
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
    node = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)
    if node is not None:
        _check_signature(path, node.args)


def _check_signature(path: str, args: ast.arguments) -> None:
    """A function defined in the module is called as fn(params, trial_dir, seed)."""
    positional = [a.arg for a in args.posonlyargs + args.args]
    required = len(positional) - len(args.defaults)
    keyword_only = [
        a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is None
    ]
    if (len(positional) < 3 and args.vararg is None) or required > 3 or keyword_only:
        raise ConfigError(
            KEY,
            f"{path} takes ({', '.join(positional + keyword_only)}), but each trial calls it as "
            "fn(params, trial_dir, seed)",
            "give it those three arguments",
        )


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
    """Call the user's function for one trial; its metrics (numbers), history.csv written.

    A metric is any number: Python's, NumPy's, or a 0-d array or tensor (`loss.item()` or
    `loss` itself); other values are left out. A `history` that is not a list of dicts of
    numbers is a TypeError naming the entry.
    """
    from snakesweep.train.fit import write_history

    function = load_function(path)
    seed_everything(int(seed))
    result = function(dict(params), trial_dir, int(seed))
    if not isinstance(result, Mapping):
        raise TypeError(f"{path} returned {type(result).__name__}, not a dict of metrics")
    result = dict(result)
    history = result.pop("history", None)
    rows = [] if history is None else _history_rows(path, history)
    if history is not None:
        write_history(rows, trial_dir / "history.csv")
    metrics = {}
    for name, value in result.items():
        number = _number(value)
        if number is not None:
            metrics[name] = value if type(value) is int else number
    if rows:
        metrics.setdefault("epochs", len(rows))
    return metrics


def _number(value: Any) -> float | None:
    """`value` as a float when it is one number, a 0-d array or tensor included (a bool, text or
    an array of several is not); None otherwise."""
    if isinstance(value, bool | str | bytes) or getattr(value, "ndim", 0) != 0:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _history_rows(path: str, history: Any) -> list[dict[str, float]]:
    """The returned `history` as history.csv rows; a TypeError naming what is not a number."""
    if isinstance(history, Mapping | str | bytes) or not isinstance(history, Iterable):
        raise TypeError(
            f"{path} returned a history of {type(history).__name__}, not a list of per-epoch "
            "dicts of metrics"
        )
    rows = []
    for index, row in enumerate(history):
        if not isinstance(row, Mapping):
            raise TypeError(
                f"{path} returned history[{index}] = {type(row).__name__}, not a dict of metrics"
            )
        values = {}
        for name, value in row.items():
            values[name] = _number(value)
            if values[name] is None:
                raise TypeError(
                    f"{path} returned history[{index}][{name!r}] = {value!r:.60}, not a number"
                )
        rows.append({"epoch": index, **values})
    return rows
