"""A tabular sweep through real Snakemake: every trial's metrics come from the table, the
rounds, history, report and MLflow are those of any sweep, and nothing trains or is tested."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from conftest import REPO, run_snakemake, sweep_runs, write_config

from snakesweep.tabular import load_table


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    config = yaml.safe_load((REPO / "config" / "sweeps" / "tabular_car.yaml").read_text())
    config["budget"] = {"rounds": 2, "trials_per_round": 3}
    workdir = tmp_path_factory.mktemp("tabular")
    # One core: a lookup claims none, so each round's lookups still start together.
    result = run_snakemake(workdir, write_config(workdir, config), "--cores", "1")
    return workdir / "results" / "tabular_car", config, result.stdout + result.stderr


def test_a_rounds_lookups_start_together_on_one_core(finished):
    sweep, config, _ = finished
    (log,) = (sweep.parent.parent / ".snakemake" / "log").glob("*.snakemake.log")
    passes = log.read_text().split("Execute ")[1:]
    per_round = config["budget"]["trials_per_round"]
    lookups = [p for p in passes if p.count("localrule train:") == per_round]
    # with one core and one thread per trial each pass would start a single lookup
    assert len(lookups) == config["budget"]["rounds"], log.read_text()[-3000:]


def test_trials_read_the_table(finished):
    sweep, config, _ = finished
    table = pd.read_csv(sweep / "trials.csv")
    assert len(table) == 6 and set(table["status"]) == {"ok"}
    car = load_table("hpobench/car")
    names = list(config["space"])
    for _, row in table.iterrows():
        params = {name: row[name] for name in names}
        assert row["objective"] == pytest.approx(car.lookup(params)["val/error"])
        cell = json.loads((sweep / "trials" / row["trial"] / "tabular.json").read_text())
        assert tuple(cell["cell"]) == car.cell(params)
    best = yaml.safe_load((sweep / "best.yaml").read_text())["best"]
    assert best["objective"] == pytest.approx(table["objective"].min())


def test_no_training_and_no_test_set(finished):
    sweep, _, output = finished
    assert not (sweep / "test.json").exists() and not (sweep / "ensemble.json").exists()
    assert not list(sweep.glob("trials/*/model.ckpt"))
    assert not (sweep / "plots" / "confusion_matrix.png").exists()
    assert (sweep / "plots" / "importance.png").exists()
    assert "Test metrics: none (a tabular sweep" in (sweep / "summary.md").read_text()
    assert json.loads((sweep / "tracking" / "final.json").read_text())
    assert "best configuration" in output


def test_mlflow_has_every_trial(finished):
    sweep, _, _ = finished
    parents, children = sweep_runs(f"sqlite:///{sweep.parent}/mlflow.db", "tabular_car")
    assert len(parents) == 1 and len(children) == 6
    assert all("val/error" in run.data.metrics for run in children)


def test_warm_start_and_replay_read_earlier_results(finished, tmp_path):
    """An earlier sweep's trials.csv seeds a new sweep's optimiser; replay reruns its list."""
    sweep, config, _ = finished
    earlier = sweep / "trials.csv"
    runs = {}
    for name, search in {
        "cold": {"strategy": "bayes"},
        "warm": {"strategy": "bayes", "warm_start": str(earlier)},
        "replayed": {"strategy": "replay", "file": str(earlier)},
    }.items():
        workdir = tmp_path / name
        workdir.mkdir()
        changed = {**config, "sweep": name, "search": search}
        changed["budget"] = {"rounds": 1, "trials_per_round": 3}
        run_snakemake(workdir, write_config(workdir, changed), "--until", "propose")
        runs[name] = json.loads((workdir / "results" / name / "rounds" / "000.json").read_text())
    assert runs["warm"]["search_info"]["warm_start_trials"] == 6
    assert "search_info" not in runs["cold"]
    params = [trial["params"] for trial in runs["warm"]["trials"]]
    assert params != [trial["params"] for trial in runs["cold"]["trials"]]
    listed = pd.read_csv(earlier).head(3)[list(config["space"])].to_dict("records")
    replayed = [trial["params"] for trial in runs["replayed"]["trials"]]
    assert len(replayed) == len(listed)
    for got, row in zip(replayed, listed, strict=True):
        assert got == pytest.approx(row)


@pytest.mark.slow
def test_max_time_counts_the_sweeps_own_run_time(tmp_path):
    """A sweep resumed after downtime (or copied without its file times) goes on: max_time_s
    counts the trials' run time, not the age of results/<sweep>/sweep.yaml."""
    import os

    config = yaml.safe_load((REPO / "config" / "sweeps" / "tabular_car.yaml").read_text())
    config["budget"] = {"rounds": 1, "trials_per_round": 2, "max_time_s": 3600}
    run_snakemake(tmp_path, write_config(tmp_path, config))
    sweep = tmp_path / "results" / "tabular_car"
    os.utime(sweep / "sweep.yaml", (1e9, 1e9))  # created in 2001
    config["budget"]["rounds"] = 2
    run_snakemake(tmp_path, write_config(tmp_path, config))
    resumed = json.loads((sweep / "rounds" / "001.json").read_text())
    assert resumed["stopped"] is None and len(resumed["trials"]) == 2
    assert len(pd.read_csv(sweep / "trials.csv")) == 4
