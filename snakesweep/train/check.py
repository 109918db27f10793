"""Parse-time validation of the training part of a config (no torch, no lightning import).

User classes (`class_path`) are located and read with `ast`, not imported: importing them
would import torch at every snakemake start. Whether they really subclass LightningModule is
checked again, by import, when the trial starts.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import importlib.util
from pathlib import Path
from typing import Any

from snakesweep.errors import ConfigError
from snakesweep.train.data import (
    BUILTIN,
    TASKS,
    Arrays,
    check_split,
    data_config,
    load_arrays,
)
from snakesweep.train.options import (
    CHOICES,
    HYPERPARAMETERS,
    MODELS,
    MOMENTUM_OPTIMIZERS,
    POSITIVE,
    bounds_of,
    is_hyperparameter,
    model_input,
)

# The schema's defaults of the `data:` section, for a config checked before load_config filled
# them in (check_training on a raw config).
DATA_DEFAULTS: dict[str, Any] = {
    "name": "digits",
    "val_fraction": 0.2,
    "test_fraction": 0.2,
    "standardize": True,
    "subset": None,
}
CLASSIFICATION_METRICS = ("loss", "acc", "precision", "recall", "f1", "auroc")
REGRESSION_METRICS = ("loss", "mse", "rmse", "mae", "r2")
#: Hyperparameters that the trainer itself uses even for a user's LightningModule.
TRAINER_PARAMS = (
    "max_epochs",
    "batch_size",
    "grad_clip",
    "early_stopping_patience",
    "early_stopping_min_delta",
    "freeze_layers",
)


def check(config: dict[str, Any], space: Any = None) -> None:
    data = config.get("data") or {}
    model = config.get("model") or {}
    evaluate = config.get("evaluate") or {}
    if (config.get("train") or {}).get("function"):
        _check_function(config)
        return
    arrays = _check_data(config)
    user_model = _check_model(model)
    if not user_model and arrays is not None:
        model_input(model.get("name", "mlp"), arrays.input_shape)
    _check_space(config, space, user_model, model, data)
    folds = evaluate.get("folds")
    if folds is not None and (not isinstance(folds, int) or isinstance(folds, bool) or folds < 2):
        raise ConfigError("evaluate.folds", f"{folds!r} folds", "use an integer >= 2, or omit it")
    if folds and data.get("class_path"):
        raise ConfigError(
            "evaluate.folds",
            "k-fold cross-validation splits built-in data; a data.class_path DataModule "
            "makes its own split",
            "omit evaluate.folds, or let the DataModule take a fold argument in init_args",
        )
    if arrays is None:
        return
    if not user_model:
        _check_objective(config, arrays.task)
    # (a pruning metric's own validation split is checked with pruning, snakesweep/pruning.py)
    early = ((config.get("train") or {}).get("early_stopping")) or {}
    metrics = {
        "objective.metric": (config.get("objective") or {}).get("metric", "val/loss"),
        "train.early_stopping.monitor": early.get("monitor"),
    }
    check_split(
        arrays,
        data_config({**DATA_DEFAULTS, **data}, config.get("seed") or 0),
        folds,
        validated=any(str(m).startswith("val/") for m in metrics.values()),
        tested=evaluate.get("test_set", True),
        auroc=next((key for key, m in metrics.items() if m == "val/auroc"), None),
    )


def _check_function(config: dict[str, Any]) -> None:
    """A user's training function gets the params as they are; it has no epochs to resume,
    no folds and no model file for the test set."""
    from snakesweep.fidelity import MULTI_FIDELITY
    from snakesweep.train.function import check_function

    check_function(config["train"]["function"])
    for section in ("model", "data"):
        if (config.get(section) or {}).get("class_path"):
            raise ConfigError(
                f"{section}.class_path",
                f"is never used with train.function: the function builds its own {section}",
                f"remove {section}.class_path, or drop train.function to train with it",
            )
    strategy = (config.get("search") or {}).get("strategy")
    if strategy in MULTI_FIDELITY:
        raise ConfigError(
            "search.strategy",
            f"{strategy} trains at several fidelities; train.function takes none",
            "use bayes, random, grid, ... with train.function",
        )
    evaluate = config.get("evaluate") or {}
    for key in ("folds",):
        if evaluate.get(key):
            raise ConfigError(f"evaluate.{key}", "is not available with train.function")
    if ((config.get("pruning") or {}).get("rule") or "none") != "none":
        raise ConfigError("pruning.rule", "is not available with train.function", "use none")


def _check_data(config: dict[str, Any]) -> Arrays | None:
    """The data set of the `data:` section, loaded as a trial loads it (every problem of a
    user's file is a ConfigError); None for a user's DataModule, which is only located."""
    data = config.get("data") or {}
    if data.get("class_path"):
        _check_class(data["class_path"], "data.class_path", "LightningDataModule")
        return None
    cfg = data_config({**DATA_DEFAULTS, **data}, config.get("seed") or 0)
    name = cfg["name"]
    if name not in BUILTIN:
        raise ConfigError(
            "data.name",
            f"unknown data set {name!r}",
            f"use one of {', '.join(BUILTIN)} or data.class_path",
        )
    for key in ("val_fraction", "test_fraction"):
        if not 0.0 <= float(cfg[key]) < 1.0:
            raise ConfigError(f"data.{key}", f"{cfg[key]} is not in [0, 1)")
    if float(cfg["val_fraction"]) + float(cfg["test_fraction"]) >= 1.0:
        raise ConfigError(
            "data.val_fraction", "val_fraction + test_fraction leave no training data"
        )
    if cfg.get("task") and cfg["task"] not in TASKS:
        raise ConfigError("data.task", f"unknown task {cfg['task']!r}")
    return load_arrays(cfg)


def _check_model(model: dict[str, Any]) -> bool:
    if model.get("class_path"):
        _check_class(model["class_path"], "model.class_path", "LightningModule")
        return True
    name = model.get("name", "mlp")
    if name not in MODELS:
        raise ConfigError(
            "model.name",
            f"unknown model {name!r}",
            f"use one of {', '.join(MODELS)} or model.class_path",
        )
    ckpt = model.get("init_checkpoint")
    if ckpt and not Path(ckpt).is_file() and "{" not in str(ckpt):
        raise ConfigError("model.init_checkpoint", f"file {str(ckpt)!r} not found")
    return False


def _space_values(spec: Any) -> list[tuple[str, Any]]:
    """(key suffix, value) of every value a space entry lists: a fixed value, its choices or
    its `values` (a range lists none)."""
    if not isinstance(spec, dict):
        return [("", spec)]
    if "value" in spec:
        return [(".value", spec["value"])]
    for key in ("choices", "values"):
        if key in spec:
            return [(f".{key}", v) for v in spec[key]]
    return []


def _check_space(
    config: dict[str, Any],
    space: Any,
    user_model: bool,
    model: dict[str, Any],
    data: dict[str, Any],
) -> None:
    mapping = config.get("space") or {}
    if space is not None and hasattr(space, "names"):
        names = list(space.names)
    elif isinstance(space, dict):
        mapping = space
        names = list(space)
    else:
        names = list(mapping)
    if user_model:
        accepted = set(TRAINER_PARAMS)
        open_ended = False
        for section in (model, data):
            if section.get("class_path"):
                args = _init_arg_names(section["class_path"])
                if args is None:
                    open_ended = True
                else:
                    accepted |= args
        unknown = [n for n in names if n not in accepted]
        if unknown and not open_ended:
            raise ConfigError(
                f"space.{unknown[0]}",
                "not an __init__ argument of "
                "model.class_path or data.class_path, nor a trainer setting",
                f"trainer settings: {', '.join(TRAINER_PARAMS)}",
            )
        _check_bounds(mapping, [n for n in names if n in TRAINER_PARAMS])
        return
    for name in names:
        if not is_hyperparameter(name):
            close = difflib.get_close_matches(name, HYPERPARAMETERS, n=1)
            listed = "the trainer's hyperparameters are listed under Hyperparameters in README.md"
            raise ConfigError(
                f"space.{name}",
                "unknown hyperparameter",
                f"did you mean {close[0]}? {listed}" if close else listed,
            )
    _check_bounds(mapping, names)
    for name, allowed in CHOICES.items():
        for _, value in _space_values(mapping.get(name)) if name in mapping else []:
            if value not in allowed:
                raise ConfigError(
                    f"space.{name}", f"unknown {name} {value!r}", f"use one of {', '.join(allowed)}"
                )
    for name in (n for n in mapping if isinstance(HYPERPARAMETERS.get(n), bool)):
        spec = mapping[name]
        if isinstance(spec, dict) and spec.get("type") in ("float", "int"):
            raise ConfigError(
                f"space.{name}.type",
                f"{name} is true or false",
                "use type: categorical, choices: [true, false]",
            )
        for suffix, value in _space_values(spec):
            if not isinstance(value, bool):
                raise ConfigError(
                    f"space.{name}{suffix}",
                    f"{name} is true or false, got {value!r}",
                    "write true or false, without quotes",
                )
    if "momentum" in mapping:
        listed = _space_values(mapping.get("optimizer", "adam"))
        optimizers = [value for _, value in listed] or list(CHOICES["optimizer"])
        if not any(o in MOMENTUM_OPTIMIZERS for o in optimizers):
            raise ConfigError(
                "space.momentum",
                "no optimizer in the space uses momentum",
                "add sgd or rmsprop to space.optimizer, or drop momentum",
            )


def _check_bounds(mapping: dict[str, Any], names: list[str]) -> None:
    """Every value a hyperparameter can take lies in its range (BOUNDS), before any trial."""
    for name in names:
        bounds = bounds_of(name)
        if bounds is None or name not in mapping:
            continue
        low, high, integer = bounds
        spec = mapping[name]
        if integer and isinstance(spec, dict) and spec.get("type") == "float":
            raise ConfigError(f"space.{name}.type", f"{name} takes whole numbers", "use type: int")
        # a range lists no values: check its ends
        ranged = isinstance(spec, dict)
        ends = [(f".{key}", spec[key]) for key in ("low", "high") if ranged and key in spec]
        for suffix, value in _space_values(spec) or ends:
            key = f"space.{name}{suffix}"
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(key, f"{name} must be a number, got {value!r}")
            if integer and float(value) != int(value):
                raise ConfigError(key, f"{name} takes whole numbers, got {value!r}")
            positive = name in POSITIVE
            if (low is not None and (value < low or (positive and value == low))) or (
                high is not None and value > high
            ):
                allowed = f"{'above' if positive else 'at least'} {low}"
                if high is not None:
                    allowed += f" and at most {high}"
                raise ConfigError(key, f"{name} {value!r} is out of range", f"use {allowed}")


def _check_objective(config: dict[str, Any], task: str | None) -> None:
    """The objective, the pruning metric and the early-stopping monitor are metrics that the
    built-in trainer logs every epoch for this task."""
    metrics = {"objective.metric": (config.get("objective") or {}).get("metric", "val/loss")}
    metrics["pruning.metric"] = (config.get("pruning") or {}).get("metric")
    early = ((config.get("train") or {}).get("early_stopping")) or {}
    metrics["train.early_stopping.monitor"] = early.get("monitor")
    allowed = CLASSIFICATION_METRICS if task != "regression" else REGRESSION_METRICS
    for key, metric in metrics.items():
        if metric is None:
            continue
        stage, _, name = str(metric).partition("/")
        if not ((stage == "val" and name in allowed) or metric == "train/loss"):
            raise ConfigError(
                key,
                f"{metric!r} is not logged for a {task} task",
                "use train/loss or one of " + ", ".join(f"val/{m}" for m in allowed),
            )


# --- user classes, read without importing -------------------------------------------------
def module_source(module_name: str, key: str) -> ast.Module | None:
    """A user's module parsed, not imported (importing it could start torch or CUDA in the
    workflow's process); None for a compiled or namespace module, checked when a trial imports
    it. A module that cannot be found is a ConfigError naming `key`."""
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise ConfigError(
            key,
            f"cannot import {module_name!r}: no such module",
            "put the module on PYTHONPATH or next to the Snakefile",
        )
    if not spec.origin or not spec.origin.endswith(".py"):
        return None
    try:
        return ast.parse(importlib.util.decode_source(Path(spec.origin).read_bytes()), spec.origin)
    except SyntaxError as error:
        where = spec.origin + (f", line {error.lineno}" if error.lineno else "")
        raise ConfigError(
            key,
            f"{module_name!r} ({where}) cannot be read: {error.msg}",
            "fix the module: python -c 'import " + module_name + "' shows the same error",
        ) from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            key, f"{module_name!r} ({spec.origin}) is not UTF-8 text: {error.reason}"
        ) from None


def _class_node(
    path: str, key: str, seen: frozenset[str] = frozenset()
) -> tuple[ast.ClassDef | None, ast.Module | None]:
    """The class's definition and module (None, None where it cannot be read); a class that is
    not there is a ConfigError. Re-exports (`from .models import Model`, `from .models import *`
    in a package) are followed to the module that defines the class; a name assigned, or
    imported from where it cannot be read, is the trial's to check."""
    module_name, _, cls = str(path).rpartition(".")
    if not module_name or not cls:
        raise ConfigError(key, f"{path!r} is not a dotted path", "write it as package.module.Class")
    tree = module_source(module_name, key)
    if tree is None:
        return None, None
    defined = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    if cls in defined:
        return defined[cls], tree
    for source in _import_sources(module_name, tree, cls):
        if source.rpartition(".")[0] not in seen:
            with contextlib.suppress(ConfigError):
                return _class_node(source, key, seen | {module_name})
    if cls in _imported_or_assigned(tree):
        return None, tree
    raise ConfigError(key, f"{module_name!r} has no class {cls!r}")


def _imported_or_assigned(tree: ast.Module) -> set[str]:
    names = {
        a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names
    }
    return names | {
        t.id
        for n in tree.body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }


def _import_sources(module_name: str, tree: ast.Module, cls: str) -> list[str]:
    """Where a module's top-level imports may take `cls` from, as absolute dotted paths: the
    `from M import X as cls` lines first, then the `from M import *` ones."""
    spec = importlib.util.find_spec(module_name)
    is_package = spec is not None and spec.submodule_search_locations is not None
    package = module_name if is_package else module_name.rpartition(".")[0]
    named, starred = [], []
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom):
            continue
        try:
            source = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
        except (ImportError, ValueError):
            continue
        for alias in node.names:
            if alias.name == "*":
                starred.append(f"{source}.{cls}")
            elif (alias.asname or alias.name) == cls:
                named.append(f"{source}.{alias.name}")
    return named + starred


def _check_class(path: str, key: str, base: str) -> None:
    node, tree = _class_node(path, key)
    if node is None or tree is None:
        return
    defined = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    if _is_plainly_not(node, defined, base, set()):
        raise ConfigError(key, f"{path} is not a {base}", f"subclass lightning.pytorch.{base}")


def _base_names(node: ast.ClassDef) -> list[str]:
    names = []
    for b in node.bases:
        if isinstance(b, ast.Name):
            names.append(b.id)
        elif isinstance(b, ast.Attribute):
            names.append(b.attr)
        else:
            names.append("?")
    return names


def _is_plainly_not(
    node: ast.ClassDef, defined: dict[str, ast.ClassDef], base: str, seen: set[str]
) -> bool:
    """True only when every base resolves to a class that is certainly not `base`."""
    seen.add(node.name)
    for name in _base_names(node):
        if name == base or "Lightning" in name:
            return False
        if name in defined and name not in seen:
            if not _is_plainly_not(defined[name], defined, base, seen):
                return False
        elif name not in ("object", "Module", "Dataset"):
            return False  # an imported base we cannot see: the trial checks it
    return True


def _init_arg_names(path: str) -> set[str] | None:
    """__init__ argument names of a user class, None when it takes **kwargs or is unreadable."""
    node, _ = _class_node(path, "class_path")
    if node is None:
        return None
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            if item.args.kwarg is not None:
                return None
            return {a.arg for a in item.args.args + item.args.kwonlyargs} - {"self"}
    return None
