"""Round files carry what the search did: narrowed ranges, and why an exhausted search stops."""

from __future__ import annotations

import json
import sys

import pandas as pd
from conftest import FIXTURES

from snakesweep.rounds import make_round
from snakesweep.sweep import Sweep, load_sweep, sweep_of

sys.path.insert(0, str(FIXTURES))  # a user's training function takes any parameter
SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0, "grid": [0.0, 0.5, 1.0]}, "epochs": 2}


def _config(search: dict) -> Sweep:
    """The sweep of `search`; the grid points of x only where the strategy reads them."""
    gridded = search["strategy"] in ("grid", "one_at_a_time")
    return load_sweep(
        {
            "sweep": "rounds",
            "seed": 0,
            "objective": {"metric": "val/loss", "direction": "minimize"},
            "budget": {"rounds": 5, "trials_per_round": 2},
            "search": search,
            "space": SPACE
            if gridded
            else {**SPACE, "x": {"type": "float", "low": 0.0, "high": 1.0}},
            "train": {"function": "user_functions:noisy_quadratic"},
        }
    )


def _rows(content: dict) -> list[dict]:
    return [
        {**t["params"], "objective": t["params"]["x"], "status": "ok"} for t in content["trials"]
    ]


def test_exhausted_grid_stops_the_sweep_with_a_reason():
    config = _config({"strategy": "grid"})
    rows: list[dict] = []
    contents = []
    for r in range(3):
        content = make_round(config, pd.DataFrame(rows), r, 0.0)
        contents.append(content)
        rows += _rows(content)
    assert [len(c["trials"]) for c in contents] == [2, 1, 0]
    assert contents[1]["stopped"] is None
    assert "exhausted" in contents[2]["stopped"]


def test_coarse_to_fine_records_narrowed_ranges():
    config = _config({"strategy": "coarse_to_fine", "coarse_trials": 4, "inner": "random"})
    rows: list[dict] = []
    for r in range(3):
        content = make_round(config, pd.DataFrame(rows), r, 0.0)
        rows += _rows(content)
    assert "search_info" not in make_round(config, pd.DataFrame(rows[:2]), 1, 0.0)
    narrowed = content["search_info"]["narrowed"]["x"]
    assert 0.0 <= narrowed["low"] < narrowed["high"] <= 1.0
    assert narrowed["high"] - narrowed["low"] < 1.0


def test_a_stopped_sweep_says_so_once(tmp_path):
    """The round at which a stopping rule ends the sweep has its line; the empty rounds after it
    (up to budget.rounds) say nothing more (each repeated it)."""
    from snakesweep.outputs import write_json
    from snakesweep.rounds import stopped_line

    budget = {"rounds": 6, "trials_per_round": 2, "max_trials": 3}
    sweep = load_sweep(
        {
            "sweep": "stops",
            "budget": budget,
            "search": {"strategy": "random"},
            "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}, "epochs": 2},
            "train": {"function": "user_functions:noisy_quadratic"},
        },
        tmp_path,
    )
    rows: list[dict] = []
    lines = []
    for index in range(6):
        content = make_round(sweep, pd.DataFrame(rows), index, 0.0)
        write_json(sweep.paths.rounds(index), content)
        rows += _rows(content)
        lines.append(stopped_line(sweep, content))
    assert lines[:2] == [None, None] and lines[3:] == [None] * 3
    assert (
        lines[2]
        == "[snakesweep] the sweep stopped after 2 rounds: budget: 4 trials reached max_trials=3"
    )


def test_a_raised_budget_lifts_the_stop(tmp_path):
    """A sweep stopped by budget.max_trials: with the same budget its stopped rounds stay; with
    max_trials raised, the first stopped round and the empty ones after it are proposed again;
    a search that ran out of configurations stays stopped."""
    from snakesweep.history import history_after_round, write_history
    from snakesweep.outputs import write_json
    from snakesweep.rounds import lifted_stops

    def stopped_sweep(max_trials: int, results) -> Sweep:
        return load_sweep(
            {
                "sweep": "lift",
                "budget": {"rounds": 5, "trials_per_round": 2, "max_trials": max_trials},
                "search": {"strategy": "random"},
                "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}, "epochs": 2},
                "train": {"function": "user_functions:noisy_quadratic"},
            },
            results,
        )

    sweep = stopped_sweep(3, tmp_path)
    table = None
    for index in range(5):
        content = make_round(sweep, table if table is not None else pd.DataFrame(), index, 0.0)
        write_json(sweep.paths.rounds(index), content)
        trials = []
        for proposal in content["trials"]:
            record = {"trial": proposal["trial"], "round": index, "seed": 0, "status": "ok",
                      "params": proposal["params"], "objective": proposal["params"]["x"],
                      "metrics": {}, "duration_s": 1.0, "error": None}  # fmt: skip
            path = sweep.paths.metrics(proposal["trial"])
            write_json(path, record)
            trials.append(path)
        previous = sweep.paths.history(index - 1) if index else None
        table = history_after_round(previous, trials)
        write_history(table, sweep.paths.history(index))
    stopped = [bool(json.loads(sweep.paths.rounds(i).read_text())["stopped"]) for i in range(5)]
    assert stopped == [False, False, True, True, True]  # 4 trials reached max_trials 3
    assert lifted_stops(sweep) == []
    assert lifted_stops(stopped_sweep(5, tmp_path)) == [sweep.paths.rounds(i) for i in (2, 3, 4)]
    exhausted = {**stopped_sweep(9, tmp_path).config, "search": {"strategy": "grid"}}
    write_json(
        sweep.paths.rounds(2), {"round": 2, "stopped": "search exhausted: ...", "trials": []}
    )
    assert lifted_stops(sweep_of(exhausted, tmp_path)) == []
