"""The trials ledger: rows from metrics.json, cumulative rounds, best trial, the round line."""

from __future__ import annotations

import json
import math

import pandas as pd

from snakesweep.history import (
    append_round,
    best_trial,
    empty_history,
    history_after_round,
    read_history,
    read_trials,
    round_summary,
    write_history,
)
from snakesweep.paths import round_of_trial, trial_id
from snakesweep.seeds import derive_seed


def record(trial: str, objective: float | None, status: str = "ok", **params) -> dict:
    return {
        "trial": trial,
        "round": round_of_trial(trial),
        "seed": 1,
        "status": status,
        "objective": objective,
        "duration_s": 1.5,
        "error": None if status == "ok" else "boom",
        "params": params,
        "metrics": {"val/loss": objective} if objective is not None else {},
    }


def write_records(tmp_path, records):
    paths = []
    for item in records:
        path = tmp_path / f"{item['trial']}.json"
        path.write_text(json.dumps(item))
        paths.append(path)
    return paths


def test_rounds_accumulate_with_params_and_metrics(tmp_path):
    first = read_trials(
        write_records(
            tmp_path, [record("r000-t001", 0.5, lr=0.1), record("r000-t000", 0.7, lr=0.2)]
        )
    )
    assert list(first["trial"]) == ["r000-t000", "r000-t001"]
    second = read_trials(write_records(tmp_path, [record("r001-t000", None, "failed", lr=0.3)]))
    table = append_round(first, second)
    assert list(table["trial"]) == ["r000-t000", "r000-t001", "r001-t000"]
    assert list(table.columns[:7]) == [
        "trial",
        "round",
        "seed",
        "status",
        "objective",
        "duration_s",
        "error",
    ]
    assert list(table.columns[7:]) == ["lr", "val/loss"]
    assert math.isnan(table.loc[2, "objective"])


def test_append_replaces_a_retrained_trial():
    old = pd.DataFrame([{"trial": "r000-t000", "round": 0, "status": "failed", "objective": None}])
    new = pd.DataFrame([{"trial": "r000-t000", "round": 0, "status": "ok", "objective": 0.3}])
    table = append_round(old, new)
    assert len(table) == 1 and table.loc[0, "status"] == "ok"


def test_best_trial_respects_direction_and_skips_failures():
    table = pd.DataFrame(
        {
            "trial": ["a", "b", "c"],
            "round": [0, 0, 1],
            "status": ["ok", "ok", "diverged"],
            "objective": [0.2, 0.9, float("nan")],
        }
    )
    assert best_trial(table, "minimize")["trial"] == "a"
    assert best_trial(table, "maximize")["trial"] == "b"
    assert best_trial(table.iloc[2:], "minimize") is None


def test_round_summary_line():
    table = pd.DataFrame(
        {
            "trial": ["r000-t000", "r001-t000", "r001-t001"],
            "round": [0, 1, 1],
            "status": ["ok", "ok", "failed"],
            "objective": [0.5, 0.25, float("nan")],
        }
    )
    line = round_summary(table, 1, 8, "minimize", 12.3, 130.0)
    assert line == (
        "[snakesweep] round 2/8: 1 ok, 1 failed, 0 pruned, best so far 0.25 (r001-t000), "
        "elapsed 12 s, ETA 2 min"
    )
    assert round_summary(table.iloc[:1], 0, 8, "maximize", 3.0).endswith("elapsed 3 s")


def test_seeds_are_stable_and_distinct():
    assert derive_seed(0, "r000-t000") == derive_seed(0, "r000-t000")
    seeds = {derive_seed(0, trial_id(r, i)) for r in range(5) for i in range(5)}
    assert len(seeds) == 25
    assert derive_seed(1, "r000-t000") != derive_seed(0, "r000-t000")
    assert round_of_trial(trial_id(12, 3)) == 12


def test_choices_that_look_missing_stay_strings(tmp_path):
    from snakesweep.history import read_history, write_history

    table = pd.DataFrame(
        {
            "trial": ["r000-t000", "r000-t001", "r000-t002"],
            "objective": [0.5, float("nan"), float("inf")],
            "norm": ["None", "NA", "nan"],
        }
    )
    write_history(table, tmp_path / "h.csv")
    again = read_history(tmp_path / "h.csv")
    assert list(again["norm"]) == ["None", "NA", "nan"]
    assert again["objective"].isna().tolist() == [False, True, False]
    assert again["objective"].iloc[2] == float("inf")


def test_run_time_is_each_rounds_longest_trial_summed():
    from snakesweep.history import run_time_s

    table = pd.DataFrame(
        {"trial": ["r000-t000", "r000-t001", "r001-t000"], "round": [0, 0, 1],
         "duration_s": [3.0, 5.0, 2.5]}
    )  # fmt: skip
    assert run_time_s(table) == 7.5
    assert run_time_s(empty_history()) == 0.0


def test_the_next_rounds_table_is_the_one_the_round_file_records(tmp_path):
    """Proposals build the table after a round themselves (not waiting for the round's file):
    the same rows, values and types as the file that recording the round writes."""
    first = write_records(
        tmp_path,
        [
            record("r000-t000", 0.5, lr=0.1, act="None", units=64, momentum=0.9),
            record("r000-t001", None, "failed", lr=0.2, act="relu", units=32, momentum=None),
        ],
    )
    second = write_records(
        tmp_path,
        [record("r001-t000", 0.25, lr=1e-4, act="NA", units=128, momentum=None)],
    )
    previous = tmp_path / "000.csv"
    write_history(append_round(read_history(None), read_trials(first)), previous)
    recorded = tmp_path / "001.csv"
    write_history(append_round(read_history(previous), read_trials(second)), recorded)

    built = history_after_round(previous, second)

    pd.testing.assert_frame_equal(built, read_history(recorded))
    assert list(built["act"]) == ["None", "relu", "NA"]
    assert math.isnan(built.loc[1, "momentum"]) and built.loc[0, "momentum"] == 0.9
    first_round = history_after_round(None, first)
    pd.testing.assert_frame_equal(first_round, read_history(previous))
