"""Multi-fidelity planning (brackets, rungs, promotions), its config checks and the pruning rule."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO

from snakesweep.config import load_config
from snakesweep.errors import ConfigError
from snakesweep.fidelity import (
    bracket_plan,
    epochs_saved,
    epochs_table,
    fidelity_of,
    promote,
    rung_of_round,
)
from snakesweep.plan import schedule
from snakesweep.pruning import prune_spec, prune_thresholds, pruning_of, should_prune
from snakesweep.rounds import make_round
from snakesweep.strategies import plan_round
from snakesweep.sweep import sweep_of

SPACE = {
    "lr": {"type": "float", "low": 1.0e-3, "high": 0.3, "log": True},
    "hidden_units": {"type": "int", "low": 8, "high": 64, "log": True},
    "optimizer": {"type": "categorical", "choices": ["sgd", "adam"]},
    "momentum": {"type": "float", "low": 0.0, "high": 0.9, "when": {"optimizer": ["sgd"]}},
    "max_epochs": 27,
}


def config(strategy: str = "hyperband", space: dict | None = None, **search) -> dict:
    return load_config(
        {
            "sweep": "mf",
            "seed": 3,
            "budget": {"rounds": 10, "trials_per_round": 4},
            "search": {"strategy": strategy, **search},
            "space": space or SPACE,
            "data": {"name": "digits"},
        }
    )


def rung_table(objectives, statuses=None, round_index=0, seeds=None) -> pd.DataFrame:
    n = len(objectives)
    return pd.DataFrame(
        {
            "trial": [f"r{round_index:03d}-t{i:03d}" for i in range(n)],
            "round": round_index,
            "seed": seeds or list(range(100, 100 + n)),
            "status": statuses or ["ok"] * n,
            "objective": objectives,
        }
    )


def test_hyperband_brackets_are_the_textbook_ones():
    fid = fidelity_of(config())
    # Li et al. (2018), Table 1: R = 27 (here 1..27 epochs), eta = 3.
    assert bracket_plan(fid, 4) == [
        [(27, 1.0), (9, 3.0), (3, 9.0), (1, 27.0)],
        [(12, 3.0), (4, 9.0), (1, 27.0)],
        [(6, 9.0), (2, 27.0)],
        [(4, 27.0)],
    ]
    assert [
        (r.bracket, r.rung, r.size)
        for r in map(lambda k: rung_of_round(fid, 4, k), [0, 3, 4, 9, 10])
    ] == [
        (3, 0, 27),
        (3, 3, 1),
        (2, 0, 12),
        (0, 0, 4),
        (3, 0, 27),  # the schedule starts again: a second Hyperband iteration
    ]
    assert rung_of_round(fid, 4, 10).iteration == 1


def test_successive_halving_and_bracket_options():
    fid = fidelity_of(config("successive_halving", max_fidelity=None, min_fidelity=1))
    assert bracket_plan(fid, 4) == [[(27, 1.0), (9, 3.0), (3, 9.0), (1, 27.0)]]
    fid = fidelity_of(config("successive_halving", bracket_size=8, eta=2, min_fidelity=3))
    # 3 -> 6 -> 12 -> 24 would overshoot 27: levels are 27 * 2**-k, rounded, >= 3.
    assert bracket_plan(fid, 4) == [[(8, 3.0), (4, 7.0), (2, 14.0), (1, 27.0)]]
    fid = fidelity_of(config("hyperband", brackets=2))
    assert [len(b) for b in bracket_plan(fid, 4)] == [4, 3]


def test_promotion_keeps_the_best_ok_trials_ties_by_trial_id():
    rung = rung_table(
        [0.5, 0.2, np.nan, 0.2, 0.1, 0.05, 0.9],
        ["ok", "ok", "failed", "ok", "pruned", "diverged", "ok"],
    )
    # pruned / failed / diverged trials never go on; r000-t001 and r000-t003 tie at 0.2.
    assert promote(rung, 3, "minimize") == ["r000-t001", "r000-t003", "r000-t000"]
    assert promote(rung, 2, "maximize") == ["r000-t006", "r000-t000"]
    assert promote(rung, 10, "minimize") == ["r000-t001", "r000-t003", "r000-t000", "r000-t006"]
    assert promote(rung.iloc[:0], 3, "minimize") == []


def test_plan_round_proposes_then_promotes_with_resume():
    cfg = config()
    first = plan_round(sweep_of(cfg), pd.DataFrame(), 0, seed=11)
    assert len(first) == 27
    assert all(e["fidelity"]["value"] == 1 and e["fidelity"]["resume_from"] is None for e in first)
    assert all(e["params"]["max_epochs"] == 27 for e in first)  # the schedule's horizon
    assert first == plan_round(sweep_of(cfg), pd.DataFrame(), 0, seed=11)  # pure
    assert first != plan_round(sweep_of(cfg), pd.DataFrame(), 0, seed=12)

    rng = np.random.default_rng(0)
    history = rung_table(list(rng.random(27)))
    for column in ("lr", "hidden_units", "optimizer", "momentum", "max_epochs"):
        history[column] = [e["params"].get(column, np.nan) for e in first]
    promoted = plan_round(sweep_of(cfg), history, 1, seed=99)
    best = list(history.sort_values("objective")["trial"][:9])
    assert [e["fidelity"]["resume_from"] for e in promoted] == best
    assert all(e["fidelity"]["value"] == 3 and e["fidelity"]["rung"] == 1 for e in promoted)
    for entry in promoted:
        parent = int(entry["fidelity"]["parent"][-3:])
        assert entry["params"] == first[parent]["params"]
        assert entry["seed"] == 100 + parent  # the lineage keeps its seed


def test_make_round_writes_fidelity_records_and_trial_ids():
    content = make_round(sweep_of(config()), pd.DataFrame(), 0, 0.0)
    assert content["strategy"] == "hyperband"
    assert [t["trial"] for t in content["trials"][:2]] == ["r000-t000", "r000-t001"]
    assert content["trials"][0]["fidelity"]["kind"] == "epochs"
    assert "prune" not in content["trials"][0]


def test_bohb_uses_the_model_once_a_fidelity_has_enough_results():
    cfg = config("bohb", random_fraction=0.0)
    first = plan_round(sweep_of(cfg), pd.DataFrame(), 0, seed=1)
    history = rung_table([abs(np.log10(e["params"]["lr"]) + 1.0) for e in first])
    for column in ("lr", "hidden_units", "optimizer", "momentum", "max_epochs"):
        history[column] = [e["params"].get(column, np.nan) for e in first]
    # Round 4 starts bracket s=2 (new configurations at 3 epochs): fit to the 1-epoch results.
    new = plan_round(sweep_of(cfg), history, 4, seed=5)
    assert len(new) == 12 and all(e["fidelity"]["parent"] is None for e in new)
    random_cfg = config("hyperband")
    random_new = plan_round(sweep_of(random_cfg), history, 4, seed=5)
    distance = lambda entries: np.median([abs(np.log10(e["params"]["lr"]) + 1) for e in entries])  # noqa: E731
    assert distance(new) < distance(random_new)


@pytest.mark.parametrize(
    "search,space,extra,key",
    [
        ({"eta": 1.5}, None, {}, "search.eta"),
        ({"min_fidelity": 27}, None, {}, "search.min_fidelity"),
        ({"min_fidelity": 9, "eta": 4}, None, {}, "search.eta"),
        ({"max_fidelity": 9}, None, {}, "search.max_fidelity"),
        ({}, {**SPACE, "max_epochs": {"type": "int", "low": 2, "high": 9}}, {}, "space.max_epochs"),
        ({}, None, {"evaluate": {"folds": 3}}, "search.fidelity"),
        ({"fidelity": "data_fraction", "max_fidelity": 2.0}, None, {}, "search.max_fidelity"),
        (
            {"fidelity": "data_fraction", "min_fidelity": 0.5, "max_fidelity": 0.5},
            None,
            {},
            "search.min_fidelity",
        ),
        ({}, {**SPACE, "max_epochs": 1}, {}, "space.max_epochs"),
        ({"min_fidelity": 3}, {**SPACE, "max_epochs": 2}, {}, "search.min_fidelity"),
        ({}, None, {"pruning": {"rule": "median", "metric": "test/acc"}}, "pruning.metric"),
        (
            {},
            None,
            {
                "pruning": {"rule": "median", "metric": "val/loss"},
                "data": {"name": "digits", "val_fraction": 0.0},
                "objective": {"metric": "train/loss", "direction": "minimize"},
            },
            "pruning.metric",
        ),
    ],
)
def test_bad_fidelity_config_is_one_error_naming_the_key(search, space, extra, key):
    raw = {
        "sweep": "mf",
        "search": {"strategy": "hyperband", **search},
        "space": space or SPACE,
        "data": {"name": "digits"},
        **extra,
    }
    with pytest.raises(ConfigError) as error:
        load_config(raw)
    assert error.value.key == key


def test_check_prints_the_rungs_the_schedule_runs_not_trials_per_round(tmp_path):
    """A 2-round Hyperband sweep runs its first two rungs (27 and 9 configurations), whatever
    budget.trials_per_round says: `check` prints that, as `plan` does."""
    raw = {**config(), "budget": {"rounds": 2, "trials_per_round": 4}}
    sizes = [r.trials for r in schedule(sweep_of(load_config(raw)))]
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = subprocess.run(
        [sys.executable, "-m", "snakesweep", "check", str(path)],
        cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sum(sizes) != 2 * 4
    rungs = ", ".join(str(n) for n in sizes)
    assert f"2 rounds, {sum(sizes)} trials (rungs of {rungs})" in result.stdout


def test_max_epochs_written_as_a_whole_float_is_the_same_schedule():
    """`max_epochs: 27.0` trains 27 epochs in any sweep; a multi-fidelity one takes it too."""
    whole = fidelity_of(config(space={**SPACE, "max_epochs": 27.0}))
    assert whole == fidelity_of(config()) and bracket_plan(whole, 4) == bracket_plan(
        fidelity_of(config()), 4
    )


def test_data_fraction_fidelity_does_not_resume():
    cfg = config("hyperband", fidelity="data_fraction", min_fidelity=0.1, max_fidelity=0.9)
    fid = fidelity_of(cfg)
    assert not fid.resumable
    assert [level for _, level in bracket_plan(fid, 4)[0]] == [0.1, 0.3, 0.9]
    first = plan_round(sweep_of(cfg), pd.DataFrame(), 0, seed=1)
    history = rung_table([float(i) for i in range(len(first))])
    for column in ("lr", "hidden_units", "optimizer", "momentum", "max_epochs"):
        history[column] = [e["params"].get(column, np.nan) for e in first]
    promoted = plan_round(sweep_of(cfg), history, 1, seed=1)
    assert all(e["fidelity"]["resume_from"] is None and e["fidelity"]["parent"] for e in promoted)
    assert promoted[0]["params"]["max_epochs"] == 27  # epochs stay the space's


def curves(values_by_trial: dict[str, list[float]]) -> pd.DataFrame:
    rows = [
        {"trial": t, "round": 0, "epoch": e, "value": v}
        for t, values in values_by_trial.items()
        for e, v in enumerate(values)
    ]
    return pd.DataFrame(rows)


def test_median_pruning_thresholds_and_rule():
    pruning = pruning_of({"pruning": {"rule": "median", "warmup_epochs": 1, "min_trials": 3}})
    assert pruning["metric"] == "val/loss" and pruning["mode"] == "min"
    table = curves({"a": [2.0, 1.0, 0.5], "b": [2.0, 1.2, 0.7], "c": [2.0, 1.4], "d": [3.0, 2.0]})
    thresholds = prune_thresholds(table, pruning)
    # epoch 0 is warm-up; epoch 2 has only two curves (< min_trials)
    assert thresholds == {"1": pytest.approx(1.3)}
    spec = prune_spec(table, pruning)
    assert should_prune(1.5, 1, spec) and not should_prune(1.1, 1, spec)
    assert not should_prune(9.0, 0, spec) and not should_prune(9.0, 2, spec)
    assert should_prune(float("nan"), 1, spec)
    maximise = pruning_of(
        {"objective": {"metric": "val/acc", "direction": "maximize"}, "pruning": {"rule": "median"}}
    )
    assert maximise["mode"] == "max"
    assert prune_spec(None, maximise) is None
    assert pruning_of({"pruning": {"rule": "none"}}) is None


def test_epochs_accounting_counts_only_what_each_trial_trained():
    rounds = [
        {
            "round": 0,
            "trials": [
                {"trial": "r000-t000", "fidelity": {"value": 1, "bracket": 1, "rung": 0}},
                {"trial": "r000-t001", "fidelity": {"value": 1, "bracket": 1, "rung": 0}},
                {"trial": "r000-t002", "fidelity": {"value": 1, "bracket": 1, "rung": 0}},
            ],
        },
        {
            "round": 1,
            "trials": [
                {
                    "trial": "r001-t000",
                    "fidelity": {
                        "value": 3,
                        "bracket": 1,
                        "rung": 1,
                        "parent": "r000-t001",
                        "resume_from": "r000-t001",
                    },
                }
            ],
        },
    ]
    table = pd.DataFrame(
        {
            "trial": ["r000-t000", "r000-t001", "r000-t002", "r001-t000"],
            "status": ["ok"] * 4,
            "epochs": [1, 1, 1, 3],
        }
    )
    epochs = epochs_table(rounds, table)
    assert list(epochs["epochs_trained"]) == [1, 1, 1, 2]
    saved = epochs_saved(epochs, 3)
    assert saved["configurations"] == 3 and saved["epochs_trained"] == 5
    assert saved["epochs_full"] == 9 and saved["saved"] == 4


def test_report_section_shows_rungs_and_epochs_saved(tmp_path):
    import json

    from snakesweep.report.fidelity import fidelity_markdown, plot_rungs

    sweep = sweep_of(config("hyperband", eta=3, brackets=1, max_fidelity=None), tmp_path)
    rounds = make_round(sweep, pd.DataFrame(), 0, 0.0)
    sweep.paths.rounds_dir.mkdir(parents=True)
    sweep.paths.rounds(0).write_text(json.dumps(rounds))
    first = rounds["trials"]
    table = rung_table([float(i) for i in range(len(first))])
    table["epochs"] = 1
    promoted = {
        "round": 1,
        "trials": [
            {"trial": "r001-t000", "fidelity": {"value": 3, "bracket": 3, "rung": 1,
                                                "parent": "r000-t000", "resume_from": "r000-t000"}}
        ],
    }  # fmt: skip
    sweep.paths.rounds(1).write_text(json.dumps(promoted))
    table = pd.concat(
        [table, pd.DataFrame([{"trial": "r001-t000", "round": 1, "seed": 100, "status": "ok",
                               "objective": -1.0, "epochs": 3}])],
        ignore_index=True,
    )  # fmt: skip
    text = fidelity_markdown(sweep, table)
    assert "## Rungs and brackets" in text
    assert "r001-t000 ← r000-t000" in text  # which trial went on from which
    # 27 configurations x 27 epochs if each ran to the end; trained 27 x 1 + 2.
    assert "Epochs trained: 29 for 27 configurations" in text and "700 epochs saved" in text
    assert plot_rungs(sweep, table, tmp_path / "rungs.png").stat().st_size > 0
    not_multi_fidelity = config("hyperband") | {"search": {"strategy": "bayes"}}
    assert fidelity_markdown(sweep_of(not_multi_fidelity, tmp_path), table) == ""


def test_schedule_and_pruning_do_not_import_the_strategies():
    """No import circle: the schedule (snakesweep.fidelity) and pruning (snakesweep.pruning,
    which the trainer uses) import nothing of snakesweep.strategies, not even inside a
    function; the multi-fidelity strategies build on them."""
    import ast
    from pathlib import Path

    import snakesweep.fidelity
    import snakesweep.pruning

    for module in (snakesweep.fidelity, snakesweep.pruning):
        tree = ast.parse(Path(module.__file__).read_text())
        imported = {
            alias.name if isinstance(node, ast.Import) else node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        assert not {name for name in imported if name.startswith("snakesweep.strategies")}
