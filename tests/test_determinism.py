"""Same config and seed -> the same proposals, seeds and (on CPU) the same trained metrics."""

from __future__ import annotations

import copy
import os

import pandas as pd
import pytest
from conftest import TINY_SWEEP

from snakesweep.config import load_config
from snakesweep.history import read_trials
from snakesweep.rounds import make_round
from snakesweep.seeds import derive_seed
from snakesweep.sweep import sweep_of
from snakesweep.trial import run_trial


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return load_config(copy.deepcopy(TINY_SWEEP), tmp_path_factory.mktemp("none"))


def history_of(round_content: dict, objectives: list[float]) -> pd.DataFrame:
    rows = []
    for trial, objective in zip(round_content["trials"], objectives, strict=True):
        rows.append(
            {
                "trial": trial["trial"],
                "round": 0,
                "seed": trial["seed"],
                "status": "ok",
                "objective": objective,
                **trial["params"],
            }
        )
    return pd.DataFrame(rows)


def test_proposals_are_a_pure_function_of_config_history_and_round(config):
    first = make_round(sweep_of(config), pd.DataFrame(), 0, 0.0)
    assert make_round(sweep_of(config), pd.DataFrame(), 0, 99.0) == first
    history = history_of(first, [0.5, 0.4])
    second = make_round(sweep_of(config), history, 1, 0.0)
    # The same history in another row order (trials finishing in another order): same proposals.
    assert make_round(sweep_of(config), history.iloc[::-1].reset_index(drop=True), 1, 0.0) == second
    other_seed = make_round(
        sweep_of({**config, "seed": config["seed"] + 1}), pd.DataFrame(), 0, 0.0
    )
    assert other_seed["trials"] != first["trials"]


def test_trial_seeds_derive_from_sweep_seed_and_trial_id(config):
    content = make_round(sweep_of(config), pd.DataFrame(), 0, 0.0)
    for trial in content["trials"]:
        assert trial["seed"] == derive_seed(config["seed"], trial["trial"])
    assert derive_seed(1, "r000-t000") != derive_seed(1, "r000-t001")
    assert derive_seed(1, "r000-t000") != derive_seed(2, "r000-t000")
    assert 0 <= derive_seed(123456789, "r999-t999") < 2**31


@pytest.mark.slow
def test_training_twice_gives_identical_metrics_on_cpu(config, tmp_path):
    """Real Lightning in the supervised child, twice, in two directories."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    small = {**config, "data": {**config["data"], "subset": 200}}
    sweep = sweep_of(small)
    proposal = make_round(sweep, pd.DataFrame(), 0, 0.0)["trials"][0]
    records = [run_trial(proposal, 0, sweep, tmp_path / name) for name in ("a", "b")]
    assert records[0]["status"] == "ok", records[0]["error"]
    tables = [read_trials([tmp_path / name / "metrics.json"]) for name in ("a", "b")]
    timing = [c for c in tables[0].columns if c == "duration_s" or c.startswith("time/")]
    pd.testing.assert_frame_equal(
        tables[0].drop(columns=timing), tables[1].drop(columns=timing), check_exact=True
    )
    history = [(tmp_path / name / "history.csv").read_text() for name in ("a", "b")]
    assert history[0] == history[1]
