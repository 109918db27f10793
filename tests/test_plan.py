"""The cost preview (snakesweep/plan.py, `python -m snakesweep plan`) on real sweep files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, TINY_SWEEP, write_config

from snakesweep.history import empty_history
from snakesweep.plan import describe, estimate, makespan, schedule, status_text
from snakesweep.rounds import make_round
from snakesweep.sweep import Sweep, load_sweep


def sweep_in(results: Path, **changes) -> Sweep:
    """The tiny sweep (with `changes`) whose files are under results/tiny."""
    raw = json.loads(json.dumps(TINY_SWEEP))
    raw.update(changes)
    return load_sweep(raw, results)


def write_round(sweep_dir, index, trials, fit_s=2.0, job_s=5.0, epochs=2, start=1000.0, span=None):
    """A finished round as the workflow leaves it: proposals, metrics.json and benchmark files,
    the history table; file times say the round took `span` seconds after `start`."""
    proposals = [
        {"trial": f"r{index:03d}-t{i:03d}", "seed": i, "params": {"max_epochs": epochs}}
        for i in range(trials)
    ]
    (sweep_dir / "rounds").mkdir(parents=True, exist_ok=True)
    rounds_file = sweep_dir / "rounds" / f"{index:03d}.json"
    rounds_file.write_text(json.dumps({"round": index, "stopped": None, "trials": proposals}))
    for proposal in proposals:
        trial_dir = sweep_dir / "trials" / proposal["trial"]
        trial_dir.mkdir(parents=True)
        record = {
            "trial": proposal["trial"],
            "round": index,
            "seed": proposal["seed"],
            "params": proposal["params"],
            "status": "ok",
            "objective": 0.5,
            "metrics": {"val/loss": 0.5, "epochs": epochs, "time/fit_s": fit_s},
            "duration_s": job_s,
        }
        (trial_dir / "metrics.json").write_text(json.dumps(record))
        bench = sweep_dir / "benchmarks" / "train" / f"{proposal['trial']}.tsv"
        bench.parent.mkdir(parents=True, exist_ok=True)
        bench.write_text(f"s\th:m:s\n{job_s}\t0:00:05\n")
    history = sweep_dir / "history" / f"{index:03d}.csv"
    history.parent.mkdir(parents=True, exist_ok=True)
    history.write_text("trial\n")
    span = span if span is not None else makespan([job_s] * trials, 2)
    os.utime(rounds_file, (start, start))
    os.utime(history, (start + span, start + span))
    return start + span


def test_new_rungs_propose_as_many_trials_as_the_plan_says(tmp_path):
    sweep = sweep_in(
        tmp_path,
        search={"strategy": "hyperband", "eta": 3, "min_fidelity": 1},
        budget={"rounds": 6, "trials_per_round": 4},
        space={**TINY_SWEEP["space"], "max_epochs": 9},
    )
    rounds = schedule(sweep)
    assert len(rounds) == 6
    for planned in rounds:
        if ", rung 0 (" in planned.rung:  # new configurations
            proposed = make_round(sweep, empty_history(), planned.index, 0.0)["trials"]
            assert len(proposed) == planned.trials
            assert {p["fidelity"]["value"] for p in proposed} == {planned.epochs}
    # a promoted lineage adds epochs rung by rung up to the maximum fidelity
    first_bracket = [r for r in rounds if r.rung.startswith("bracket 2,")]
    assert sum(r.epochs for r in first_bracket) == 9


def test_no_finished_trial_means_the_time_is_unknown(tmp_path):
    plan = estimate(sweep_in(tmp_path))
    assert plan["trials_total"] == 4 and plan["trials_remaining"] == 4
    assert plan["remaining_wall_s"] is None and plan["remaining_cpu_h"] is None
    assert "cannot know" in describe(plan)


def test_remaining_time_follows_the_finished_rounds(tmp_path):
    sweep = sweep_in(tmp_path / "results", budget={"rounds": 4, "trials_per_round": 4})
    sweep_dir = sweep.paths.root
    end = write_round(sweep_dir, 0, 4, span=12.0)
    write_round(sweep_dir, 1, 4, start=end, span=12.0)
    plan = estimate(sweep, cores=2)
    assert plan["rounds_finished"] == 2 and plan["trials_remaining"] == 8
    # each round: 4 jobs of 5 s on 2 slots is 10 s, the files say 12 s: 2 s of workflow
    assert plan["round_overhead_s"] == pytest.approx(2.0)
    per_round = plan["remaining_wall_s"] - plan["tail_s"]
    assert per_round == pytest.approx(2 * 12.0)
    low, high = plan["remaining_wall_range_s"]
    assert low <= plan["remaining_wall_s"] <= high
    # twice the cores: trials run 4 at once
    assert estimate(sweep, cores=4)["remaining_wall_s"] - plan["tail_s"] == (
        pytest.approx(2 * (5.0 + 2.0))
    )
    assert plan["remaining_cpu_h"] == pytest.approx(8 * 5.0 / 3600, rel=1e-3)
    assert plan["remaining_gpu_h"] == 0


def test_a_deleted_trial_of_a_finished_sweep_is_what_remains(tmp_path):
    """Deleting a trial's folder trains it again (and rebuilds the tables after it): the plan
    counts its round as unfinished and the time it and the steps after the search take."""
    import shutil

    sweep = sweep_in(tmp_path / "results", budget={"rounds": 2, "trials_per_round": 4})
    sweep_dir = sweep.paths.root
    end = write_round(sweep_dir, 0, 4, span=12.0)
    write_round(sweep_dir, 1, 4, start=end, span=12.0)
    sweep.paths.tracking_final.parent.mkdir(parents=True, exist_ok=True)
    sweep.paths.tracking_final.write_text("{}")
    done = estimate(sweep, cores=2)
    assert done["trials_remaining"] == 0 and done["remaining_wall_s"] == 0
    shutil.rmtree(sweep.paths.trial_dir("r000-t001"))
    plan = estimate(sweep, cores=2)
    assert plan["trials_remaining"] == 1 and plan["rounds_finished"] == 1
    assert [r["finished"] for r in plan["rounds"]] == [False, True]
    # one job of 5 s, the round's 2 s of workflow, then the steps after the search
    assert plan["remaining_wall_s"] - plan["tail_s"] == pytest.approx(5.0 + 2.0)
    assert plan["tail_s"] > 0
    assert "round 1/2: 4 trials x 2 epochs [3 done]" in describe(plan)
    assert "tiny: round 1/2 running, 1 finished, 7/8 trials done" in status_text(sweep, plan)


def test_a_round_proposed_again_is_not_left_to_run(tmp_path):
    """After a deleted trial of round 1 of 2 trained again, its round's table is written while
    Snakemake proposes round 2 again (its proposals file removed until then): round 2 is the
    trials it recorded, all done, and what remains is the steps after the search, which run
    again after a table newer than them."""
    sweep = sweep_in(tmp_path / "results", budget={"rounds": 2, "trials_per_round": 4})
    sweep_dir = sweep.paths.root
    end = write_round(sweep_dir, 0, 4, span=12.0)
    end = write_round(sweep_dir, 1, 4, start=end, span=12.0)
    rows = "".join(f"r{r:03d}-t{t:03d},{r}\n" for r in (0, 1) for t in range(4))
    sweep.paths.history(1).write_text("trial,round\n" + rows)
    os.utime(sweep.paths.history(1), (end, end))
    sweep.paths.tracking_final.parent.mkdir(parents=True, exist_ok=True)
    sweep.paths.tracking_final.write_text("{}")
    os.utime(sweep.paths.tracking_final, (end + 30, end + 30))
    assert estimate(sweep, cores=2)["remaining_wall_s"] == 0
    # r000-t001 deleted and trained again: its round recorded again, round 2 being proposed
    os.utime(sweep.paths.history(0), (end + 60, end + 60))
    sweep.paths.rounds(1).unlink()
    plan = estimate(sweep, cores=2)
    assert plan["trials_remaining"] == 0 and plan["rounds_finished"] == 2
    assert plan["tail_s"] > 0 and plan["remaining_wall_s"] == pytest.approx(plan["tail_s"])
    assert describe(plan).count("trials x 2 epochs [done]") == 2


def test_longer_trials_cost_more_per_epoch(tmp_path):
    """The fitting part scales with the epochs a trial will train, the start-up part doesn't."""
    sweep_dir = tmp_path / "results" / "tiny"
    write_round(sweep_dir, 0, 2, fit_s=2.0, job_s=5.0, epochs=2)
    short = estimate(sweep_in(tmp_path / "results"), cores=1)
    space = {**TINY_SWEEP["space"], "max_epochs": 4}
    long = estimate(sweep_in(tmp_path / "results", space=space), cores=1)
    assert short["seconds_per_epoch"] == pytest.approx(1.0)
    assert short["job_overhead_s"] == pytest.approx(3.0)
    # the remaining round: 2 trials on 1 slot, (3 + 2 x 1) s each, then (3 + 4 x 1) s each
    rounds_s = {p["remaining_wall_s"] - p["tail_s"] for p in (short, long)}
    assert max(rounds_s) - min(rounds_s) == pytest.approx(2 * 2.0)
    # and the test-set evaluation refits one trial for its epochs
    assert long["tail_s"] - short["tail_s"] == pytest.approx(2.0)


def test_a_running_trial_shows_its_epoch_and_last_metric(tmp_path):
    sweep = sweep_in(tmp_path / "results")
    sweep_dir = sweep.paths.root
    write_round(sweep_dir, 0, 2)
    rounds_file = sweep_dir / "rounds" / "001.json"
    proposals = [{"trial": "r001-t000", "seed": 1, "params": {"max_epochs": 2}}]
    rounds_file.write_text(json.dumps({"round": 1, "stopped": None, "trials": proposals}))
    (sweep_dir / "trials" / "r001-t000").mkdir()
    (sweep_dir / "trials" / "r001-t000" / "history.csv").write_text(
        "epoch,train/loss,val/loss\n0,0.9,0.8\n"
    )
    plan = estimate(sweep)
    assert plan["running"] == {
        "r001-t000": {"epoch": 1, "metric": "val/loss", "value": 0.8, "of_epochs": 2.0}
    }
    # a trial folder no rounds file proposes (a dropped round's) is not the sweep's best
    stale = json.loads((sweep_dir / "trials" / "r000-t000" / "metrics.json").read_text())
    (sweep_dir / "trials" / "r007-t000").mkdir()
    (sweep_dir / "trials" / "r007-t000" / "metrics.json").write_text(
        json.dumps({**stale, "trial": "r007-t000", "round": 7, "objective": 0.1})
    )
    text = status_text(sweep, plan)
    assert "round 2/2 running" in text and "r001-t000: epoch 1/2, val/loss 0.8" in text
    assert "best so far 0.5 (r000-t000)" in text


def test_plan_command_prints_the_json_keys(tmp_path):
    configfile = write_config(tmp_path, TINY_SWEEP)
    result = subprocess.run(
        [sys.executable, "-m", "snakesweep", "plan", "--configfile", str(configfile),
         "--results", str(tmp_path / "results"), "--json"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    plan = json.loads(result.stdout)
    for key in (
        "trials_total",
        "trials_remaining",
        "remaining_wall_s",
        "remaining_cpu_h",
        "remaining_gpu_h",
    ):
        assert key in plan
    assert plan["trials_total"] == 4 and len(plan["rounds"]) == 2


def test_plan_piped_into_a_reader_that_stops_early_ends_without_a_traceback(tmp_path):
    """`python -m snakesweep plan --json | head`: the reader closes the pipe before the plan is
    written; the command ends quietly instead of with a BrokenPipeError traceback."""
    configfile = write_config(tmp_path, TINY_SWEEP)
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line
    try:
        result = subprocess.run(
            [sys.executable, "-m", "snakesweep", "plan", "--configfile", str(configfile),
             "--results", str(tmp_path / "results"), "--json"],
            cwd=REPO, stdout=write, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
    finally:
        os.close(write)
    assert result.returncode == 1
    assert result.stderr == ""


def test_plan_command_refuses_a_bad_config_in_one_line(tmp_path):
    configfile = write_config(tmp_path, {**TINY_SWEEP, "budget": {"rounds": 0}})
    result = subprocess.run(
        [sys.executable, "-m", "snakesweep", "plan", "--configfile", str(configfile)],
        cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert result.returncode == 1
    assert "budget.rounds" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_calibration_trial_gives_an_estimate_before_any_trial(tmp_path):
    configfile = write_config(tmp_path, TINY_SWEEP)
    result = subprocess.run(
        [sys.executable, "-m", "snakesweep", "plan", "--configfile", str(configfile),
         "--results", str(tmp_path / "results"), "--calibrate", "--json"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    plan = json.loads(result.stdout)
    assert plan["basis"] == "calibration"
    assert plan["remaining_wall_s"] > 0 and plan["seconds_per_epoch"] > 0
    assert not (tmp_path / "results" / "tiny" / "trials").exists()  # nothing of the sweep ran


def proposed_in_order(sweep: Sweep) -> list[dict]:
    """Every configuration the sweep's rounds propose when each of its trials finishes."""
    import pandas as pd

    rows: list[dict] = []
    for index in range(sweep.rounds):
        content = make_round(sweep, pd.DataFrame(rows) if rows else empty_history(), index, 0.0)
        if content["stopped"]:
            break
        rows += [{**t["params"], "objective": 1.0, "status": "ok"} for t in content["trials"]]
    return [{k: v for k, v in row.items() if k not in ("objective", "status")} for row in rows]


GRID_SPACE = {
    "lr": {"type": "float", "low": 1e-3, "high": 0.1, "log": True, "grid": 10},
    "activation": {"type": "categorical", "choices": ["relu", "tanh", "sigmoid"]},
    "max_epochs": 2,
}


@pytest.mark.parametrize(
    "search, total",
    [
        ({"strategy": "grid"}, 30),
        ({"strategy": "one_at_a_time"}, 12),
        ({"strategy": "replay", "configs": [{"lr": 0.001 * i} for i in range(1, 21)]}, 20),
    ],
)
def test_an_ordered_search_longer_than_the_budget_is_said_at_the_start(search, total, tmp_path):
    """An unshuffled grid, a one_at_a_time sequence or a replay list that the budget does not
    reach the end of: the start of a run says how many of how many configurations run and
    which budget runs them all; with that budget, all of them run and nothing is said."""
    import re

    from snakesweep.plan import budget_note, start_run
    from snakesweep.strategies.grid import full_grid

    space = GRID_SPACE if search["strategy"] != "replay" else {"lr": {"type": "float",
            "low": 1e-3, "high": 0.1}, "max_epochs": 2}  # fmt: skip
    budget = {"rounds": 2, "trials_per_round": 4}
    sweep = sweep_in(tmp_path, search=search, space=space, budget=budget)
    ran = proposed_in_order(sweep)
    assert len(ran) == 8
    if search["strategy"] == "grid":
        assert ran == list(full_grid(sweep.space))[:8]
    lines = start_run(sweep, 0.0, 2, 0).splitlines()
    assert lines[0].startswith("[snakesweep] plan:") and len(lines) == 2
    note = lines[1]
    assert note == budget_note(sweep)
    assert f"{total} configurations" in note and "runs the first 8 of them" in note
    if search["strategy"] == "one_at_a_time":
        assert "(activation never varied)" in note
    rounds = int(re.search(r"set budget.rounds: (\d+) to run them all", note).group(1))
    whole = sweep_in(tmp_path, search=search, space=space, budget={**budget, "rounds": rounds})
    assert len(proposed_in_order(whole)) == total and budget_note(whole) is None
    assert start_run(whole, 0.0, 2, 0).count("\n") == 0
    capped = sweep_in(tmp_path, search=search, space=space, budget={**budget, "rounds": 50,
                      "max_trials": 8})  # fmt: skip
    assert f"set budget.max_trials: {total} to run them all" in budget_note(capped)


@pytest.mark.parametrize(
    "search, total",
    [
        ({"strategy": "grid"}, 30),
        ({"strategy": "grid", "shuffle": True}, 30),
        ({"strategy": "one_at_a_time"}, 12),
        ({"strategy": "replay", "configs": [{"lr": 0.001 * i} for i in range(1, 21)]}, 20),
    ],
)
def test_an_ordered_search_shorter_than_the_budget_plans_the_trials_it_runs(
    search, total, tmp_path
):
    """A grid, one_at_a_time sequence or replay list that ends before the budget: the plan
    counts the trials the rounds propose (a last round of what is left, no rounds after it),
    not the budget's rounds x trials_per_round."""
    space = GRID_SPACE if search["strategy"] != "replay" else {"lr": {"type": "float",
            "low": 1e-3, "high": 0.1}, "max_epochs": 2}  # fmt: skip
    budget = {"rounds": 10, "trials_per_round": 7}
    sweep = sweep_in(tmp_path, search=search, space=space, budget=budget)
    assert len(proposed_in_order(sweep)) == total
    planned = [r.trials for r in schedule(sweep)]
    assert planned == [7] * (total // 7) + [total % 7]
    plan = estimate(sweep)
    assert plan["trials_total"] == total and plan["rounds_total"] == len(planned)
    assert f"{len(planned)} rounds, {total} trials ({total} to run)" in describe(plan)


def test_a_shuffled_grid_is_a_sample_and_needs_no_note(tmp_path):
    from snakesweep.plan import budget_note

    search = {"strategy": "grid", "shuffle": True}
    sweep = sweep_in(tmp_path, search=search, space=GRID_SPACE)
    assert budget_note(sweep) is None


@pytest.mark.parametrize("strategy, option", [("bayes", "initial_points"),
                                              ("coarse_to_fine", "coarse_trials")])  # fmt: skip
def test_a_design_the_budget_never_gets_past_is_said_with_both_fixes(strategy, option, tmp_path):
    """bayes (and coarse_to_fine) start with a quasi-random design: a budget that ends within it
    never lets the model propose. The note names both fixes, and either one silences it."""
    import re

    from snakesweep.plan import budget_note

    budget = {"rounds": 3, "trials_per_round": 4}
    note = budget_note(sweep_in(tmp_path, search={"strategy": strategy}, budget=budget))
    assert f"search.{option}" in note and "never proposes" in note
    assert f"search.{option} to 8 or less, or budget.rounds: " in note
    rounds = int(re.search(r"budget.rounds: (\d+)", note).group(1))
    for fixed in (
        sweep_in(tmp_path, search={"strategy": strategy, option: 8}, budget=budget),
        sweep_in(tmp_path, search={"strategy": strategy}, budget={**budget, "rounds": rounds}),
    ):
        assert budget_note(fixed) is None
    one_round = {"rounds": 1, "trials_per_round": 4}
    note = budget_note(sweep_in(tmp_path, search={"strategy": strategy}, budget=one_round))
    assert f"{option} to" not in note and "budget (1 round of 4 trials)" in note


@pytest.mark.parametrize(
    "text", ['{"started": "x", "cores": "two", "gpus": true}', "[1, 2]", '{"started": 1']
)
def test_status_reads_a_damaged_run_record_as_unknown(tmp_path, text):
    """invocation.json edited by hand or cut off: the run's start and resources are unknown
    (the defaults), not a traceback."""
    from snakesweep.plan import run_of

    sweep = sweep_in(tmp_path / "results")
    sweep.paths.root.mkdir(parents=True)
    sweep.paths.invocation_json.write_text(text)
    assert run_of(sweep.paths) == {"started": None, "cores": 2, "gpus": 0}
    plan = estimate(sweep)
    assert plan["elapsed_s"] is None
    assert status_text(sweep, plan).startswith("[snakesweep] tiny: not started")


def test_the_plan_line_counts_in_words(tmp_path):
    one = sweep_in(tmp_path / "one", budget={"rounds": 1, "trials_per_round": 1})
    assert "tiny, 1 round, 1 trial (1 to run)" in describe(estimate(one))
    write_round(one.paths.root, 0, 1)
    assert "tiny: all 1 round finished, 1/1 trials done" in status_text(one, estimate(one))
    assert "tiny, 2 rounds, 4 trials (4 to run)" in describe(estimate(sweep_in(tmp_path / "two")))


def test_max_trials_plans_the_whole_rounds_the_sweep_runs(tmp_path):
    """max_trials does not cut a round short: with 2 trials a round and max_trials 5 the sweep
    proposes 3 whole rounds, 6 trials, and the plan says so (it said 5)."""
    budget = {"rounds": 10, "trials_per_round": 2, "max_trials": 5}
    sweep = sweep_in(tmp_path, search={"strategy": "random"}, budget=budget)
    assert [r.trials for r in schedule(sweep)] == [2, 2, 2]
    assert len(proposed_in_order(sweep)) == 6 == estimate(sweep)["trials_total"]


@pytest.mark.parametrize("strategy", ["successive_halving", "hyperband", "bohb"])
def test_a_budget_that_never_trains_a_rung_at_full_fidelity_is_said(strategy, tmp_path):
    """Multi-fidelity rounds are rungs: a budget that ends before the first bracket's last rung
    judges every trial at a lower fidelity. The note names the rounds that reach it; with
    them, a round of the schedule trains at the full fidelity and nothing is said."""
    import re

    from snakesweep.plan import budget_note

    search = {"strategy": strategy, "eta": 3}
    space = {"lr": {"type": "float", "low": 1e-3, "high": 0.1, "log": True}, "max_epochs": 9}
    short = sweep_in(tmp_path, search=search, space=space, budget={"rounds": 1})
    note = budget_note(short)
    assert "no trial reaches the full fidelity (9 epochs)" in note and "at most 1 epoch;" in note
    rounds = int(re.search(r"set budget.rounds: (\d+) to reach it", note).group(1))
    enough = sweep_in(tmp_path, search=search, space=space, budget={"rounds": rounds})
    assert any(r.rung.endswith(" 9 epochs)") for r in schedule(enough))
    assert budget_note(enough) is None
    assert budget_note(sweep_in(tmp_path, search=search, space=space,
                                budget={"rounds": rounds - 1})) is not None  # fmt: skip
