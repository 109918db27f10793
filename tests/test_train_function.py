"""A user's own training function (train.function: package.module:fn) as the trials' trainer."""

from __future__ import annotations

import csv
import json
import sys

import pandas as pd
import pytest
from conftest import FIXTURES, REPO, run_snakemake, write_config

from snakesweep.config import load_config
from snakesweep.errors import ConfigError
from snakesweep.sweep import load_sweep
from snakesweep.trial import run_trial

sys.path.insert(0, str(FIXTURES))

SWEEP = {
    "sweep": "own_loop",
    "seed": 2,
    "objective": {"metric": "val/loss", "direction": "minimize"},
    "budget": {"rounds": 2, "trials_per_round": 2},
    "search": {"strategy": "bayes"},
    "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
    "train": {"function": "user_functions:noisy_quadratic"},
}


def sweep(function: str = "user_functions:noisy_quadratic", **changes):
    return load_sweep({**SWEEP, "train": {"function": function}, **changes})


def proposal(x: float = 0.5, seed: int = 7) -> dict:
    return {"trial": "r000-t000", "seed": seed, "params": {"x": x}}


def test_the_function_gets_params_folder_and_seed_and_its_history_is_kept(tmp_path):
    record = run_trial(proposal(), 0, sweep(), tmp_path / "a")
    assert record["status"] == "ok"
    assert record["objective"] == record["metrics"]["val/loss"]
    assert (tmp_path / "a" / "notes.txt").read_text() == "seed 7\n"
    with open(tmp_path / "a" / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2]
    assert record["metrics"]["epochs"] == 3


def test_same_seed_same_result_other_seed_other_result(tmp_path):
    first = run_trial(proposal(seed=7), 0, sweep(), tmp_path / "a")["objective"]
    again = run_trial(proposal(seed=7), 0, sweep(), tmp_path / "b")["objective"]
    other = run_trial(proposal(seed=8), 0, sweep(), tmp_path / "c")["objective"]
    assert first == again and first != other


@pytest.mark.parametrize(
    ("function", "reason"),
    [
        ("raises", "ValueError: the user's loop broke"),
        ("killed", "killed: the training process was killed by SIGKILL"),
        ("returns_a_list", "returned list, not a dict of metrics"),
        (
            "returns_no_objective",
            "LookupError: objective.metric 'val/loss' is not among the trial's metrics (val/acc)",
        ),
        ("returns_a_history_of_numbers", "returned a history of int, not a list of per-epoch"),
        ("returns_text_in_its_history", "returned history[1]['val/loss'] = 'n/a', not a number"),
    ],
)
def test_a_failing_function_is_a_failed_trial(tmp_path, function, reason):
    record = run_trial(proposal(), 0, sweep(f"user_functions:{function}"), tmp_path / "t")
    assert record["status"] == "failed" and reason in record["error"]
    assert json.loads((tmp_path / "t" / "metrics.json").read_text())["status"] == "failed"


def test_what_the_function_prints_goes_to_the_trials_log_not_the_console(tmp_path, capfd):
    log = tmp_path / "r000-t000.log"
    record = run_trial(proposal(), 0, sweep("user_functions:talks"), tmp_path / "t", log_path=log)
    assert record["status"] == "ok"
    printed = capfd.readouterr()
    for line in ("epoch 1/1 of t", "a word on stderr"):
        assert line in log.read_text() and line not in printed.out + printed.err


def test_numpy_numbers_and_0d_tensors_are_metrics_and_text_is_left_out(tmp_path):
    record = run_trial(
        proposal(x=0.5), 0, sweep("user_functions:returns_numpy_and_torch_numbers"), tmp_path / "t"
    )
    assert record["status"] == "ok"
    assert record["objective"] == pytest.approx(0.04)
    assert record["metrics"]["val/acc"] == 0.5 and "note" not in record["metrics"]


@pytest.mark.parametrize(
    ("function", "changes", "key"),
    [
        ("user_functions", {}, "train.function"),
        ("no_such_module:train", {}, "train.function"),
        ("user_functions:missing", {}, "train.function"),
        ("user_functions:takes_only_params", {}, "train.function: user_functions:takes_only"),
        ("user_functions:takes_params_and_options", {}, "train.function: user_functions:takes"),
        ("user_functions:raises", {"search": {"strategy": "hyperband"}}, "search.strategy"),
        ("user_functions:raises", {"evaluate": {"folds": 3}}, "evaluate.folds"),
        ("user_functions:raises", {"model": {"class_path": "faulty_model.FaultyMLP"}}, "model"),
        ("user_functions:raises", {"data": {"class_path": "user_data.Digits"}}, "data.class_path"),
    ],
)
def test_a_bad_function_setting_is_one_error_naming_the_key(function, changes, key):
    with pytest.raises(ConfigError) as error:
        sweep(function, **changes)
    assert str(error.value).startswith(key)


@pytest.mark.parametrize("function", ["takes_extras_with_defaults", "takes_anything"])
def test_a_function_taking_the_three_arguments_in_any_form_is_accepted(tmp_path, function):
    record = run_trial(proposal(), 0, sweep(f"user_functions:{function}"), tmp_path / "t")
    assert record["status"] == "ok", record["error"]


def test_example_function_sweep_is_valid():
    import yaml

    example = yaml.safe_load((REPO / "config" / "sweeps" / "digits_function.yaml").read_text())
    sys.path.insert(0, str(REPO))
    assert load_config(example)["train"]["function"] == "examples.train_function:train"


def test_a_function_sweep_runs_through_the_workflow(tmp_path):
    result = run_snakemake(tmp_path, write_config(tmp_path, SWEEP))
    sweep = tmp_path / "results" / "own_loop"
    table = pd.read_csv(sweep / "trials.csv")
    assert len(table) == 4 and set(table["status"]) == {"ok"}
    assert (sweep / "plots" / "learning_curves.png").exists()
    assert not (sweep / "test.json").exists()  # no model file to test
    assert json.loads((sweep / "tracking" / "final.json").read_text())["model"] is None
    assert "round 2/2: 2 ok" in result.stdout + result.stderr
