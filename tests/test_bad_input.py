"""Every place a user types: a mistake gives one message naming the key to fix, exit 1, no
traceback, and results/ untouched. Most cases go through load_config (fast); a few through real
`snakemake -n` and `python -m snakesweep check`.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import REPO, TINY_SWEEP, run_snakemake, write_config

from snakesweep.config import identity, load_config
from snakesweep.configfile import read_config_file
from snakesweep.errors import ConfigError


def set_key(path: str, value: object) -> Callable[[dict], None]:
    """A change of the tiny sweep: set `a.b.c` to value."""

    def change(config: dict) -> None:
        *parents, last = path.split(".")
        node = config
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value

    return change


def together(*changes: Callable[[dict], None]) -> Callable[[dict], None]:
    """Several changes of the tiny sweep at once."""

    def change(config: dict) -> None:
        for one in changes:
            one(config)

    return change


def write_file(name: str, text: str) -> Callable[[dict], None]:
    """A file the config names, in the working directory."""

    def change(config: dict) -> None:
        Path(name).write_text(text)

    return change


def drop_key(path: str) -> Callable[[dict], None]:
    def change(config: dict) -> None:
        *parents, last = path.split(".")
        node = config
        for part in parents:
            node = node[part]
        del node[last]

    return change


def write_csv(text: str | bytes, **data: object) -> Callable[[dict], None]:
    """A CSV data file (in the working directory) and a data section pointing at it."""

    def change(config: dict) -> None:
        path = Path("data.csv")
        path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)
        config["data"] = {"name": "csv", "path": "data.csv", "target": "label", **data}

    return change


def write_npz(
    x: object = None, y: object = None, text: str = "", **data: object
) -> Callable[[dict], None]:
    """An NPZ data file with arrays x and y (or `text` in its place) and a data section."""

    def change(config: dict) -> None:
        if text:
            Path("data.npz").write_text(text)
        else:
            np.savez("data.npz", x=np.asarray(x), y=np.asarray(y))
        config["data"] = {"name": "npz", "path": "data.npz", **data}

    return change


def tabular_sweep(table: str = "hpobench/car", metric: str = "val/error", **keys: object):
    """A tabular sweep over a table's own space, with `keys` set at the top level."""

    def change(config: dict) -> None:
        from snakesweep.tabular import load_table

        config.update(task="tabular", tabular={"table": table}, **keys)
        config["space"] = load_table("hpobench/car").space()
        config["objective"] = {"metric": metric, "direction": "minimize"}

    return change


CSV = "a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n" * 5
TWELVE = "a,label\n" + "".join(f"{i},{'xy'[i % 2]}\n" for i in range(12))
ROWS = "a,b,label\n" + "1,2,x\n3,4,y\n" * 10

# (id, change of the tiny sweep, key the message must name, words it must contain)
CASES = [
    # config keys and types: typos are caught, not ignored
    ("top-level typo", set_key("budgt", {"rounds": 2}), "budgt", "unknown key"),
    ("nested typo", set_key("budget.round", 3), "budget.round", "unknown key"),
    ("objective typo", set_key("objective.metirc", "val/acc"), "objective.metirc", "unknown"),
    ("tracking typo", set_key("tracking.url", "x"), "tracking.url", "unknown key"),
    ("tracking folder", set_key("tracking.uri", "results/mlruns"), "tracking.uri", "file store"),
    ("limits typo", set_key("limits.trial_time", 5), "limits.trial_time", "unknown key"),
    ("rounds not int", set_key("budget.rounds", "four"), "budget.rounds", "not of type"),
    ("rounds zero", set_key("budget.rounds", 0), "budget.rounds", "minimum"),
    (
        "trials as 2.0",
        set_key("budget.trials_per_round", 2.0),
        "budget.trials_per_round",
        "write 2",
    ),
    ("rounds quoted", set_key("budget.rounds", "2"), "budget.rounds", "write 2 without quotes"),
    (
        "YAML 1e-3 is text",
        set_key("space.lr.low", "1e-3"),
        "space.lr.low",
        "write 0.001 or put a dot",
    ),
    ("YAML 1e3 count", set_key("budget.rounds", "1e3"), "budget.rounds", "text: write 1000)"),
    ("trials negative", set_key("budget.trials_per_round", -1), "budget.trials_per_round", ""),
    # trial ids have three digits: r000-t000 to r999-t999
    ("rounds over ids", set_key("budget.rounds", 1001), "budget.rounds", "maximum of 1000"),
    ("trials over ids", set_key("budget.trials_per_round", 1001), "budget.trials_per_round", ""),
    (
        "rung over ids",
        set_key(
            "search",
            {
                "strategy": "hyperband",
                "fidelity": "data_fraction",
                "eta": 2,
                "min_fidelity": 0.0005,
            },
        ),
        "search.min_fidelity",
        "rung of 1024 trials",
    ),
    (
        "bracket over ids",
        set_key(
            "search",
            {
                "strategy": "successive_halving",
                "eta": 2,
                "fidelity": "data_fraction",
                "bracket_size": 1500,
            },
        ),
        "search.bracket_size",
        "rung of 1500 trials",
    ),
    (
        "max_trials below a round",
        set_key("budget", {"rounds": 2, "trials_per_round": 4, "max_trials": 2}),
        "budget.max_trials",
        "2 is below trials_per_round (4): the first round alone runs 4 trials (lower",
    ),
    ("seed negative", set_key("seed", -1), "seed", ""),
    ("seed float", set_key("seed", 1.5), "seed", "integer"),
    ("direction", set_key("objective.direction", "minimise"), "objective.direction", "minimize?"),
    ("direction cut short", set_key("objective.direction", "min"), "objective", "mean minimize?"),
    ("time limit zero", set_key("limits.trial_time_s", 0), "limits.trial_time_s", ""),
    ("metric not logged", set_key("objective.metric", "val/accuracy"), "objective.metric", ""),
    ("strategy typo", set_key("search.strategy", "bayez"), "search.strategy", "bayes"),
    (
        "strategy capitalised",
        set_key("search.strategy", "Bayes"),
        "search.strategy",
        "'Bayes' is not one of ['grid', ",
    ),
    ("acquisition lower case", set_key("search.acq_func", "ei"), "search", "did you mean EI?"),
    ("refit typo", set_key("evaluate.refit", "trainval"), "evaluate", "did you mean train_val?"),
    ("train typo", set_key("train.acelerator", "cpu"), "train.acelerator", "unknown key"),
    ("accelerator typo", set_key("train.accelerator", "gpuu"), "train.accelerator", "'cuda'"),
    ("precision typo", set_key("train.precision", "16-mix"), "train.precision", "'16-mixed'"),
    ("devices word", set_key("train.devices", "two"), "train.devices", "a count (-1 = all)"),
    (
        "failure penalty word",
        set_key("search.failure_penalty", "worse"),
        "search.failure_penalty",
        "'worse' is not one of the forms this key takes (Objective a failed",
    ),
    (
        "failure penalty infinite",
        set_key("search.failure_penalty", float("inf")),
        "search.failure_penalty",
        "must be 'worst' or a finite number, got inf",
    ),
    ("failure penalty nan", set_key("search.failure_penalty", float("nan")), "search", "finite"),
    ("devices zero", set_key("train.devices", 0), "train.devices", ""),
    # search-space definitions
    ("empty space", set_key("space", {}), "space", ""),
    ("unknown type", set_key("space.lr.type", "flaot"), "space.lr.type", "float"),
    ("low above high", set_key("space.lr.low", 1.0), "space.lr", ""),
    ("log of zero", set_key("space.lr.low", 0.0), "space.lr", ""),
    ("missing bound", drop_key("space.lr.high"), "space.lr", "high"),
    ("empty choices", set_key("space.activation.choices", []), "space.activation", ""),
    ("unknown choice", set_key("space.activation.choices", ["relu", "swish"]), "activation", ""),
    ("unknown hyperparameter", set_key("space.lerning_rate", 0.1), "space.lerning_rate", ""),
    (
        "hyperparameter typo",
        set_key("space.lr_schedule", "cosine"),
        "space.lr_schedule",
        "did you mean lr_scheduler? the trainer's hyperparameters are listed under",
    ),
    (
        "search option typo",
        set_key("search.n_initial_points", 5),
        "search.n_initial_points",
        "unknown key (did you mean initial_points? known keys here:",
    ),
    ("spec typo", set_key("space.lr.hihg", 0.1), "space.lr", "hihg"),
    ("condition on nothing", set_key("space.momentum.when", {"optimiser": ["sgd"]}), "space", ""),
    ("bound not a number", set_key("space.lr.high", "big"), "space.lr.high", "number"),
    # data paths and columns
    ("data set typo", set_key("data.name", "digitz"), "data.name", "digits"),
    ("data key typo", set_key("data.val_fraktion", 0.2), "data.val_fraktion", "unknown key"),
    ("val fraction", set_key("data.val_fraction", 1.5), "data.val_fraction", ""),
    ("csv without path", set_key("data", {"name": "csv", "target": "y"}), "data.path", ""),
    ("csv missing", set_key("data", {"name": "csv", "path": "no.csv", "target": "y"}), "data", ""),
    ("csv target column", write_csv(CSV.replace("label", "lab")), "data.target", "label"),
    ("csv feature column", write_csv(CSV, features=["a", "c"]), "data.features", "'c'"),
    ("csv not numeric", write_csv("a,b,label\n1,zz,x\n" * 10), "data.features", "numeric"),
    ("csv nan", write_csv(ROWS + "NaN,2,x\n"), "data.path", "missing"),
    ("csv inf", write_csv(ROWS + "1,inf,x\n"), "data.path", "infinite"),
    ("csv empty cell", write_csv(ROWS + ",2,x\n"), "data.path", "missing value"),
    (
        "csv float target",
        write_csv("a,label\n" + "".join(f"{i},{i * 0.37:.2f}\n" for i in range(40))),
        "data.task",
        "regression",
    ),
    ("csv target as feature", write_csv(CSV, features=["a", "label"]), "data.features", "answer"),
    (
        "csv decimal comma",
        write_csv("a;label\n" + "1,5;x\n2,5;y\n" * 10),
        "data.features",
        "write decimals with a point",
    ),
    ("csv short row", write_csv(ROWS + "1,2\n"), "data.path", "row 22 has 2 fields"),
    (
        "csv not utf-8",
        write_csv(CSV.replace("x", "caf\xe9").encode("latin-1")),
        "data.path",
        "UTF-8",
    ),
    ("csv header only", write_csv("a,b,label\n"), "data.path", "no data rows"),
    ("csv column twice", write_csv(CSV.replace("a,b", "a,a")), "data.path", "'a' is named twice"),
    ("csv target only", write_csv("label\n" + "x\ny\n" * 10), "data.path", "no column besides"),
    ("csv one class", write_csv("a,label\n" + "1,x\n2,x\n" * 10), "data.target", "two classes"),
    (
        "csv id column",
        write_csv("a,label\n" + "".join(f"{i},id{i}\n" for i in range(50))),
        "data.target",
        "50 distinct values in 50 rows",
    ),
    ("csv missing target", write_csv(ROWS + "1,2,\n"), "data.path", "missing target"),
    ("npz not numpy", write_npz(text="x,y\n1,2\n"), "data.path", "cannot be read"),
    (
        "npz of objects",
        write_npz(np.array([[1, None]] * 20, dtype=object), np.arange(20) % 2),
        "data.path",
        "not Python objects",
    ),
    ("npz of words", write_npz([["a", "b"]] * 20, np.arange(20) % 2), "data.x_key", "numbers"),
    ("npz nan", write_npz([[1.0, np.nan]] * 20, np.arange(20) % 2), "data.path", "20 missing"),
    ("npz 2-d y", write_npz(np.ones((20, 2)), np.ones((20, 3))), "data.y_key", "one target"),
    ("npz one class", write_npz(np.ones((20, 2)), np.zeros(20)), "data.y_key", "two classes"),
    (
        "csv constant target",
        write_csv("a,label\n" + "1,3.5\n2,3.5\n" * 10, task="regression"),
        "data.target",
        "every sample has the target value 3.5",
    ),
    (
        "npz constant target",
        write_npz(np.arange(40).reshape(20, 2), np.zeros(20), task="regression"),
        "data.y_key",
        "nothing to predict",
    ),
    (
        "npz regression nan",
        write_npz(np.ones((20, 2)), [np.nan] * 20, task="regression"),
        "data.y_key",
        "missing",
    ),
    # tables the search reads
    (
        "warm start empty",
        together(write_file("old.csv", ""), set_key("search.warm_start", ["old.csv"])),
        "search.warm_start[0]",
        "old.csv is not a CSV table",
    ),
    (
        "replay cut off",
        together(
            write_file("list.csv", 'lr\n"0.1'),
            set_key("search", {"strategy": "replay", "file": "list.csv"}),
        ),
        "search.file",
        "list.csv is not a CSV table",
    ),
    (
        "replay bad yaml",
        together(
            write_file("list.yaml", "- lr: [0.1\n"),
            set_key("search", {"strategy": "replay", "file": "list.yaml"}),
        ),
        "search.file",
        "neither a CSV table nor a YAML list",
    ),
    (
        "replay value of a fixed parameter",
        set_key(
            "search",
            {
                "strategy": "replay",
                "configs": [
                    {"lr": 0.01, "hidden_units": 8, "activation": "relu", "optimizer": "adam"},
                    {"lr": 0.01, "hidden_units": 8, "activation": "relu", "max_epochs": 5},
                ],
            },
        ),
        "search.configs[1].max_epochs",
        "5 is not a value of max_epochs (its value is 2)",
    ),
    (
        "baseline not a choice",
        set_key(
            "search",
            {"strategy": "one_at_a_time", "points": 3, "baseline": {"activation": "relu6"}},
        ),
        "search.baseline.activation",
        "'relu6' is not a value of activation (choices are ['relu', 'tanh'])",
    ),
    # a built-in model and data of a shape it cannot read
    (
        "cnn on a table",
        together(set_key("data.name", "wine"), set_key("model.name", "cnn")),
        "model.name",
        "cnn needs image data",
    ),
    (
        "gru on a csv",
        together(write_csv(ROWS), set_key("model.name", "gru")),
        "model.name",
        "gru needs sequences",
    ),
    ("shape of digits", set_key("data.shape", [3, 3]), "data.shape", "does not fit 64 features"),
    (
        "sequence too long",
        together(set_key("data", {"name": "sequence", "shape": [5, 5]})),
        "data.shape",
        "does not fit 24",
    ),
    # a split that leaves a part empty that the sweep reads
    ("no validation", set_key("data.val_fraction", 0.0), "data.val_fraction", "no validation"),
    (
        "validation too small",
        write_csv(TWELVE, val_fraction=0.04),
        "data.val_fraction",
        "0.04 leaves no validation samples of the 12",
    ),
    (
        "more folds than samples",
        together(write_csv(TWELVE), set_key("evaluate.folds", 12)),
        "evaluate.folds",
        "fold 10 of 12 gets no validation samples",
    ),
    ("no test set", set_key("data.test_fraction", 0.0), "data.test_fraction", "test_set: false"),
    # class_paths: located and read, never imported at parse time
    ("class_path no dots", set_key("model", {"class_path": "Model"}), "model.class_path", ""),
    ("class_path no module", set_key("model", {"class_path": "nosuch.Model"}), "model", "nosuch"),
    ("class_path no class", set_key("model", {"class_path": "faulty_model.Nope"}), "model", "Nope"),
    (
        "class_path not a module",
        set_key("model.class_path", "json.decoder.JSONDecoder"),
        "model",
        "not a",
    ),
    ("data class_path", set_key("data", {"class_path": "nosuch.Data"}), "data.class_path", ""),
    (
        "class_path re-exported by *, not a LightningModule",
        set_key("model", {"class_path": "user_models.PlainNet"}),
        "model.class_path",
        "user_models.PlainNet is not a LightningModule",
    ),
    (
        "class_path imported under another name, not a LightningModule",
        set_key("model", {"class_path": "user_models.RenamedNet"}),
        "model.class_path",
        "user_models.RenamedNet is not a LightningModule",
    ),
    (
        "class_path a torch layer",
        set_key("model", {"class_path": "torch.nn.Linear"}),
        "model.class_path",
        "torch.nn.Linear is not a LightningModule",
    ),
    ("model name typo", set_key("model.name", "mpl"), "model.name", "mlp"),
    # expected values of a published sweep
    ("expect typo", set_key("expect", {"rows": [], "tolerence": 1}), "expect.tolerence", ""),
    ("expect no rows", set_key("expect", {"rows": []}), "expect.rows", ""),
    (
        "expect unknown param",
        set_key("expect", {"rows": [{"params": {"lrr": 0.1}, "value": 0.9}]}),
        "expect.rows.0.params.lrr",
        "not a parameter",
    ),
    # the tabular task: a table's parameters and metrics, nothing that needs training
    ("task typo", set_key("task", "tabluar"), "task", "tabular"),
    ("tabular space", set_key("task", "tabular"), "space.alpha", "hpobench/car needs"),
    ("tabular table", tabular_sweep(table="hpobench/cars"), "tabular.table", ""),
    ("tabular metric", tabular_sweep(metric="val/loss"), "objective.metric", "val/acc"),
    ("tabular hyperband", tabular_sweep(search={"strategy": "hyperband"}), "search.strategy", ""),
    ("tabular pruning", tabular_sweep(pruning={"rule": "median"}), "pruning.rule", "rule: none"),
    ("tabular folds", tabular_sweep(evaluate={"folds": 3}), "evaluate.folds", ""),
    (
        "tabular with a training function",
        tabular_sweep(train={"function": "user_functions:noisy_quadratic"}),
        "train.function",
        "never used by task: tabular",
    ),
    (
        "tabular with a model class",
        tabular_sweep(model={"class_path": "faulty_model.FaultyMLP"}),
        "model.class_path",
        "never used by task: tabular",
    ),
    # hyperparameter values outside what training accepts
    ("dropout above 1", set_key("space.dropout", 1.5), "space.dropout", "at most 1"),
    ("negative batch", set_key("space.batch_size", -4), "space.batch_size", "at least 1"),
    ("zero lr", set_key("space.lr.low", 0.0), "space.lr", "log"),
    ("negative lr", set_key("space.lr", -0.01), "space.lr", "above 0"),
    (
        "zero width",
        set_key("space.hidden_units", {"type": "int", "low": 0, "high": 8}),
        "space.hidden_units.low",
        "at least 1",
    ),
    ("zero epochs", set_key("space.max_epochs", 0), "space.max_epochs", "at least 1"),
    ("half epoch", set_key("space.max_epochs", 1.5), "space.max_epochs", "whole numbers"),
    (
        "batch values",
        set_key("space.batch_size", {"type": "int", "values": [0, 16]}),
        "space.batch_size.values",
        "at least 1",
    ),
    (
        "float batch range",
        set_key("space.batch_size", {"type": "float", "low": 16, "high": 64}),
        "space.batch_size.type",
        "type: int",
    ),
    ("word dropout", set_key("space.dropout", "high"), "space.dropout", "number"),
    (
        "boolean as a word",
        set_key("space.batch_norm", {"type": "categorical", "choices": ["yes", "no"]}),
        "space.batch_norm.choices",
        "batch_norm is true or false, got 'yes' (write true or false, without quotes)",
    ),
    ("boolean quoted", set_key("space.flip", "false"), "space.flip", "flip is true or false"),
    (
        "boolean as a range",
        set_key("space.nesterov", {"type": "int", "low": 0, "high": 1}),
        "space.nesterov.type",
        "choices: [true, false]",
    ),
    # a direction, early-stopping mode or target against what the metric measures
    (
        "accuracy minimised",
        set_key("objective", {"metric": "val/acc", "direction": "minimize"}),
        "objective.direction",
        "minimize searches for the worst val/acc: higher values are better (use direction: max",
    ),
    ("loss maximised", set_key("objective.direction", "maximize"), "objective.direction", "min"),
    (
        "early stopping backwards",
        set_key("train.early_stopping", {"monitor": "val/loss", "mode": "max"}),
        "train.early_stopping.mode",
        "max stops training while val/loss is still improving (use mode: min",
    ),
    (
        "target in percent",
        together(
            set_key("objective", {"metric": "val/acc", "direction": "maximize"}),
            set_key("budget.target", 95),
        ),
        "budget.target",
        "val/acc lies in [0, 1]; a target of 95 is never reached (write it as a fraction",
    ),
    (
        "target above a perfect r2",
        together(
            set_key("data.name", "diabetes"),
            set_key("objective", {"metric": "val/r2", "direction": "maximize"}),
            set_key("budget.target", 2.0),
        ),
        "budget.target",
        "give a target in [-inf, 1]",
    ),
    # pruning settings that never take effect
    (
        "percentile with median",
        set_key("pruning", {"rule": "median", "percentile": 10}),
        "pruning.percentile",
        "10 is read only by rule: percentile (median prunes at 50) (set rule: percentile",
    ),
    (
        "warmup past the last epoch",
        set_key("pruning", {"rule": "median", "warmup_epochs": 2}),
        "pruning.warmup_epochs",
        "2, but trials train at most 2 epochs (numbered from 0): no epoch is ever judged",
    ),
    (
        "warmup past the highest rung",
        together(
            drop_key("space.max_epochs"),
            set_key("search", {"strategy": "hyperband", "max_fidelity": 9}),
            set_key("pruning", {"rule": "median", "warmup_epochs": 12}),
        ),
        "pruning.warmup_epochs",
        "trials train at most 9 epochs",
    ),
    # metrics the trainer does not log
    (
        "monitor typo",
        set_key("train.early_stopping.monitor", "val/acuracy"),
        "train.early_stopping.monitor",
        "val/acc",
    ),
    (
        "pruning typo",
        set_key("pruning", {"rule": "median", "metric": "val/bogus"}),
        "pruning.metric",
        "val/f1",
    ),
    # sweep names must not leave results/
    ("sweep parent", set_key("sweep", "../x"), "sweep", "results/"),
    ("sweep absolute", set_key("sweep", "/tmp/x"), "sweep", ""),
    ("sweep nested", set_key("sweep", "a/b"), "sweep", ""),
    ("sweep dots", set_key("sweep", ".."), "sweep", ""),
    ("sweep empty", set_key("sweep", ""), "sweep", ""),
    ("sweep number", set_key("sweep", 12), "sweep", "string"),
]


@pytest.mark.parametrize(
    ("change", "key", "words"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_bad_config_names_the_key(tmp_path, monkeypatch, change, key, words):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(REPO / "tests" / "fixtures"))
    config = copy.deepcopy(TINY_SWEEP)
    change(config)
    with pytest.raises(ConfigError) as raised:
        load_config(config, tmp_path / "results")
    message = str(raised.value)
    assert "\n" not in message
    if key:
        assert message.startswith(key) or f"{key}:" in message or key in message.split(":")[0]
    assert words in message
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("import os\n\ndef train(params, trial_dir, seed)\n    return {}\n", "line 3) cannot be"),
        ("# -*- coding: klingon -*-\nimport os\n", "cannot be read: unknown encoding"),
        ("x = 1\ny = '\xff'\n", "is not UTF-8 text"),
    ],
    ids=["syntax error", "unknown coding", "not UTF-8"],
)
@pytest.mark.parametrize("key", ["train.function", "model.class_path"])
def test_a_user_module_that_cannot_be_parsed_is_one_error_naming_the_key(
    monkeypatch, tmp_path, source, words, key
):
    """The module a class_path or train.function names is read, not imported, at parse time:
    a module Python cannot read is one config error, not a SyntaxError traceback."""
    name = f"broken_{abs(hash((source, key))) % 10**8}"
    (tmp_path / f"{name}.py").write_bytes(source.encode("latin-1"))
    monkeypatch.syspath_prepend(str(tmp_path))
    config = copy.deepcopy(TINY_SWEEP)
    if key == "model.class_path":
        config["model"] = {"class_path": f"{name}.Model"}
    else:
        config["train"] = {"function": f"{name}:train"}
    with pytest.raises(ConfigError) as raised:
        load_config(config, tmp_path / "results")
    assert str(raised.value).startswith(f"{key}: '{name}' ({tmp_path / name}.py")
    assert words in str(raised.value)


def test_a_lightning_module_a_package_re_exports_is_found(monkeypatch, tmp_path):
    """`from .nets import *` in a package's __init__: its class_path is valid, and its
    constructor's arguments are the ones checked against the space."""
    monkeypatch.syspath_prepend(str(REPO / "tests" / "fixtures"))
    config = copy.deepcopy(TINY_SWEEP)
    config["model"] = {"class_path": "user_models.ReexportedMLP"}
    config["space"] = {k: config["space"][k] for k in ("lr", "hidden_units", "max_epochs")}
    assert load_config(config, tmp_path / "results")["model"]["class_path"].endswith("MLP")
    config["space"]["width"] = 3
    with pytest.raises(ConfigError) as raised:
        load_config(config, tmp_path / "results")
    assert str(raised.value).startswith("space.width: not an __init__ argument")


def test_at_least_thirty_cases():
    assert len(CASES) + len(FILE_CASES) + 2 >= 30


FILE_CASES = [
    ("yaml syntax", "sweep: x\nspace:\n  lr: {type: float, low: 1\n", "line 4"),
    ("yaml tab", "sweep: x\nspace:\n\tlr: 0.1\n", "line 3"),
    ("yaml list", "- sweep: x\n", "not a mapping"),
    ("yaml empty", "", "not a mapping"),
    ("yte code", "__use_yte__: true\nsweep: ?f'x'\n", "runs Python code"),
    ("duplicate key", "sweep: x\nspace:\n  lr: 0.1\n  lr: 0.2\n", "key 'lr' is given twice"),
]


@pytest.mark.parametrize(
    ("text", "words"), [case[1:] for case in FILE_CASES], ids=[case[0] for case in FILE_CASES]
)
def test_bad_config_file_says_where(tmp_path, text, words):
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        read_config_file(path)
    assert str(raised.value).startswith("configfile:") and words in str(raised.value)


def check_command(path: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakesweep", "check", str(path)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )


def test_check_command_reports_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sweep: x\nspace:\n  lr: {type: float, low: 1\n")
    result = check_command(bad, tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("snakesweep: config error: configfile:")
    assert "line 4" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    good = write_config(tmp_path, TINY_SWEEP)
    result = check_command(good, tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "results").exists()


def assert_refused(result: subprocess.CompletedProcess, words: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.startswith("snakesweep: config error")]
    assert len(lines) == 1 and words in lines[0], output


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (set_key("budget.rundos", 2), "budget.rundos: unknown key"),
        (set_key("sweep", "../escape"), "sweep: '../escape' is not a valid sweep name"),
        (set_key("space.lr.low", "1e-3"), "space.lr.low: '1e-3' is not of type 'number' (YAML"),
        (set_key("model", {"class_path": "nosuch.Model"}), "model.class_path"),
        (None, "key 'activation' is given twice"),
    ],
    ids=["typo", "sweep name", "1e-3", "class_path", "duplicate key"],
)
def test_snakemake_refuses_before_any_job(tmp_path, change, words):
    config = copy.deepcopy(TINY_SWEEP)
    configfile = tmp_path / "sweep.yaml"
    if change is None:  # a key pasted twice: the YAML parser alone would keep the last one
        text = yaml.safe_dump(config, sort_keys=False)
        configfile.write_text(text.replace("space:\n", "space:\n  activation: relu\n", 1))
    else:
        change(config)
        write_config(tmp_path, config)
    result = run_snakemake(tmp_path, configfile, "-n", check=False)
    assert_refused(result, words)
    assert not (tmp_path / "results").exists()
    assert not (tmp_path.parent / "escape").exists()


def test_config_changed_mid_sweep_is_refused(tmp_path):
    """A started sweep (its sweep.yaml) and a config that changes its space: refused, untouched."""
    config = copy.deepcopy(TINY_SWEEP)
    frozen = tmp_path / "results" / "tiny" / "sweep.yaml"
    frozen.parent.mkdir(parents=True)
    frozen.write_text(yaml.safe_dump(identity(load_config(config, tmp_path / "none"))))
    before = sorted((p, p.stat().st_mtime) for p in (tmp_path / "results").rglob("*"))
    config["space"]["lr"]["high"] = 0.5
    result = run_snakemake(tmp_path, write_config(tmp_path, config), check=False)
    assert_refused(result, "space.lr.high: results/tiny was started with another config")
    assert "new `sweep:` name" in result.stderr
    assert sorted((p, p.stat().st_mtime) for p in (tmp_path / "results").rglob("*")) == before


def test_a_changed_search_is_pointed_to_a_warm_start_from_the_sweep(tmp_path):
    """Another strategy or batch size for a started sweep is refused with the fix that keeps its
    trials: a new name and search.warm_start of its trials.csv, which then loads and seeds the
    new search."""
    import re

    from snakesweep.strategies import propose

    results = tmp_path / "results"
    frozen = results / "tiny" / "sweep.yaml"
    frozen.parent.mkdir(parents=True)
    frozen.write_text(yaml.safe_dump(identity(load_config(copy.deepcopy(TINY_SWEEP), results))))
    row = "r000-t000,0,ok,0.5,0.01,16,relu,adam,,2,1,64\n"  # momentum inactive: empty
    (results / "tiny" / "trials.csv").write_text(
        "trial,round,status,objective,lr,hidden_units,activation,optimizer,momentum,max_epochs,"
        "n_layers,batch_size\n" + row
    )
    for key, value in (("search", {"strategy": "random"}), ("budget", {"trials_per_round": 3})):
        changed = {**copy.deepcopy(TINY_SWEEP), key: value}
        with pytest.raises(ConfigError) as error:
            load_config(changed, results)
        assert str(error.value).startswith(f"{key}.{next(iter(value))}: results/tiny was started")
        path = re.search(r"search.warm_start: \[(.+?)\] to start from", str(error.value)).group(1)
        search = {**changed.get("search", {}), "warm_start": [path]}
        fixed = load_config({**changed, "sweep": "tiny2", "search": search}, results)
        info: dict = {}
        propose(fixed["search"], fixed["space"], None, 2, 0, info=info)
        assert info["warm_start_trials"] == 1


@pytest.mark.parametrize(
    "text, words",
    [("", "empty"), ("space: {lr: [\n", "cut off"), ("- a list\n", "not a sweep's record")],
)
def test_a_damaged_sweep_record_is_named_not_a_traceback(tmp_path, text, words):
    """A started sweep whose sweep.yaml is empty, cut off or not a mapping: one line naming the
    file and the fix (an empty one read as {} claimed that every setting had changed)."""
    path = tmp_path / "results" / "tiny" / "sweep.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(copy.deepcopy(TINY_SWEEP), tmp_path / "results")
    assert f"results/tiny/sweep.yaml is {words}" in str(error.value)
    assert "delete" in str(error.value) and "was started with another config" not in str(
        error.value
    )
    path.unlink()
    load_config(copy.deepcopy(TINY_SWEEP), tmp_path / "results")


def test_a_default_added_by_a_newer_version_is_not_a_change(tmp_path):
    """A sweep frozen before a setting existed resumes; a changed setting is still refused."""
    config = load_config(copy.deepcopy(TINY_SWEEP), tmp_path / "none")
    frozen = identity(config)
    frozen["search"] = {"strategy": "bayes"}  # recorded before the search options had defaults
    frozen["train"] = None  # recorded before the section had defaults
    del frozen["tabular"], frozen["pruning"]  # recorded before these keys existed
    path = tmp_path / "results" / "tiny" / "sweep.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(frozen))
    load_config(copy.deepcopy(TINY_SWEEP), tmp_path / "results")
    changed = copy.deepcopy(TINY_SWEEP)
    changed["search"] = {"strategy": "bayes", "acq_func": "PI"}
    with pytest.raises(ConfigError, match="search.acq_func: results/tiny was started"):
        load_config(changed, tmp_path / "results")


def test_yaml_syntax_error_through_snakemake(tmp_path):
    """Snakemake parses --configfile itself: its message is one line, no traceback, nothing
    written; `python -m snakesweep check` (the README says so) names the line."""
    bad = tmp_path / "sweep.yaml"
    bad.write_text("sweep: x\nspace:\n  lr: {type: float, low: 1\n")
    result = run_snakemake(tmp_path, bad, "-n", check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    assert "not valid JSON or YAML" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_a_csv_saved_with_a_byte_order_mark_reads(tmp_path):
    """Excel's "CSV UTF-8" starts with a byte-order mark; the first column keeps its name."""
    from snakesweep.train.data import read_csv

    path = tmp_path / "bom.csv"
    path.write_bytes(("label,x1\n" + "a,1\nb,2\n" * 5).encode("utf-8-sig"))
    arrays = read_csv({"path": str(path), "target": "label"})
    assert arrays.x.shape == (10, 1)


def test_runtime_settings_are_not_part_of_the_sweep(tmp_path):
    """Resuming with other cores, accelerator or GPU sharing is allowed, also for a sweep frozen
    when these settings were still recorded; what a trial learns (precision) still counts."""
    config = load_config(copy.deepcopy(TINY_SWEEP), tmp_path / "none")
    frozen = identity(config)
    assert not {"accelerator", "devices", "threads", "trials_per_gpu"} & set(frozen["train"])
    frozen["train"] |= {"accelerator": "cpu", "devices": 1, "threads": 2, "trials_per_gpu": 1}
    path = tmp_path / "results" / "tiny" / "sweep.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(frozen))
    moved = copy.deepcopy(TINY_SWEEP)
    moved["train"] = {"threads": 1, "trials_per_gpu": 3, "devices": 1, "accelerator": "auto"}
    load_config(moved, tmp_path / "results")
    moved["train"]["precision"] = "bf16-mixed"
    with pytest.raises(ConfigError, match="train.precision: results/tiny was started"):
        load_config(moved, tmp_path / "results")


YTE_FILE = """__use_yte__: true
?if __import__("pathlib").Path("RAN").write_text("code ran"):
  extra: 1
"""


def snakesweep_command(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakesweep", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )


def test_a_yte_config_is_refused_by_every_entry_point_without_running_it(tmp_path):
    """check, plan, status, reproduce and export refuse a file asking for YTE templating before
    evaluating it; the workflow (after Snakemake has run it: nothing can stop that) refuses to
    run it."""
    yte = YTE_FILE + yaml.safe_dump(TINY_SWEEP, sort_keys=False)
    (tmp_path / "yte.yaml").write_text(yte)
    bundle = tmp_path / "bundle" / "tiny"
    bundle.mkdir(parents=True)
    (bundle / "sweep.yaml").write_text(yte)
    sweep = tmp_path / "results" / "tiny"
    (sweep / "provenance").mkdir(parents=True)
    (sweep / "provenance" / "config.yaml").write_text(yte)
    (sweep / "trials.csv").write_text("trial,round,status,objective\n")
    for args in (
        ["check", "yte.yaml"],
        ["plan", "--configfile", "yte.yaml"],
        ["status", "--configfile", "yte.yaml"],
        ["reproduce", str(bundle)],
        ["export", "tiny"],
    ):
        result = snakesweep_command(tmp_path, *args)
        assert result.returncode == 1, args
        [line] = result.stderr.strip().splitlines()
        assert "asks for YTE templating (__use_yte__), which runs Python code" in line, args
        assert not (tmp_path / "RAN").exists(), args
    assert not (tmp_path / "bundles").exists()
    workflow = run_snakemake(tmp_path, tmp_path / "yte.yaml", "-n", check=False)
    assert workflow.returncode != 0
    last = workflow.stderr.strip().splitlines()[-1]
    assert "YTE templating (__use_yte__), which runs Python code; Snakemake has evaluated" in last


def test_unusual_but_valid_data_files_read(tmp_path):
    """Data files as users save them: a semicolon CSV (Excel where the decimal mark is a comma)
    with spaces around its names, string labels; an NPZ with a 1-D x, float64 class labels,
    one-hot rows or a column of labels."""
    from snakesweep.train.data import read_csv, read_npz

    path = tmp_path / "semi.csv"
    path.write_text("a; b; label\n" + '1;2; cat\n3;4;"dog;\nlong-haired"\n' * 5)
    arrays = read_csv({"path": str(path), "target": "label"})
    assert arrays.x.shape == (10, 2) and arrays.class_names == ["cat", "dog;\nlong-haired"]
    labels = np.arange(30) % 3
    for y in (labels.astype(np.float64), np.eye(3)[labels], labels[:, None]):
        np.savez(tmp_path / "data.npz", x=np.linspace(0, 1, 30), y=y)
        arrays = read_npz({"path": str(tmp_path / "data.npz")})
        assert arrays.x.shape == (30, 1) and arrays.class_names == ["0", "1", "2"]
        assert arrays.y.tolist() == labels.tolist()
    # 8-bit images (samples, channels, height, width) are scaled to [0, 1], as mnist is
    pixels = np.full((6, 1, 4, 4), 255, dtype=np.uint8)
    pixels[:, :, :2] = 0
    np.savez(tmp_path / "images.npz", x=pixels, y=np.arange(6) % 2)
    arrays = read_npz({"path": str(tmp_path / "images.npz")})
    assert arrays.kind == "image" and arrays.x.min() == 0.0 and arrays.x.max() == 1.0


def test_an_empty_part_that_nothing_reads_is_allowed(tmp_path):
    """No validation split when the objective is the training loss; no test split when the
    test set is not evaluated."""
    config = copy.deepcopy(TINY_SWEEP)
    config["data"] = {"name": "digits", "val_fraction": 0.0, "test_fraction": 0.0}
    config["objective"] = {"metric": "train/loss", "direction": "minimize"}
    config["evaluate"] = {"test_set": False}
    load_config(config, tmp_path / "results")


def test_a_nested_config_override_keeps_its_numbers(tmp_path):
    """`snakemake --config budget={"rounds": 3}` runs 3 rounds: Snakemake reads nested values
    as text ('3'), which the workflow reads again as a config file would."""
    from snakesweep.configfile import typed_overrides

    overrides = {"budget": {"rounds": "3", "target": "1.0e-3"}, "sweep": "007", "x": ["2", "a"]}
    assert typed_overrides(overrides) == {
        "budget": {"rounds": 3, "target": 0.001},
        "sweep": "007",
        "x": [2, "a"],
    }
    configfile = write_config(tmp_path, TINY_SWEEP)
    result = run_snakemake(tmp_path, configfile, "-n", "--config", 'budget={"rounds": 3}')
    assert re.search(r"^propose\s+3$", result.stdout, re.MULTILINE), result.stdout[-2000:]
    assert not (tmp_path / "results").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to a folder without write permission")
def test_a_results_folder_that_cannot_be_written_stops_the_run_before_any_job(tmp_path):
    """One line naming the folder, no traceback, nothing written under results/ or logs/."""
    configfile = write_config(tmp_path, TINY_SWEEP)
    (tmp_path / "results").mkdir(mode=0o555)
    result = run_snakemake(tmp_path, configfile, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in output, output
    assert "snakesweep: results/tiny cannot be written: results is read-only" in output
    assert not list((tmp_path / "results").iterdir()) and not (tmp_path / "logs").exists()
