"""A loaded sweep is one frozen, typed object with the schema's defaults filled in once."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
from conftest import TINY_SWEEP

from snakesweep.config import load_config
from snakesweep.errors import ConfigError
from snakesweep.sweep import JOB_CONFIG, export_job_config, load_sweep, sweep_of


def test_a_loaded_sweep_is_typed_with_defaults_applied(tmp_path):
    sweep = load_sweep(TINY_SWEEP, tmp_path)
    assert (sweep.name, sweep.seed, sweep.task) == ("tiny", 1, "train")
    assert (sweep.objective.metric, sweep.objective.direction) == ("val/loss", "minimize")
    assert list(sweep.space.params) == list(TINY_SWEEP["space"])
    assert sweep.search.strategy == "bayes" and sweep.search.options["acq_func"] == "EI"
    assert sweep.fidelity is None and sweep.pruning is None
    # defaults the schema fills in, read without a fallback
    assert sweep.folds == 0 and sweep.evaluated and not sweep.on_gpu
    assert sweep.paths.root == tmp_path / "tiny"
    assert dict(sweep.config) == load_config(dict(TINY_SWEEP), tmp_path)


def test_a_sweep_cannot_be_changed(tmp_path):
    sweep = load_sweep(TINY_SWEEP, tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sweep.seed = 2
    with pytest.raises(TypeError):
        sweep.budget["rounds"] = 9


def test_a_multi_fidelity_sweep_has_its_schedule_and_a_jobs_config_gives_the_same_sweep(tmp_path):
    raw = {**TINY_SWEEP, "search": {"strategy": "hyperband", "eta": 2, "min_fidelity": 1}}
    sweep = load_sweep(raw, tmp_path)
    assert sweep.fidelity.strategy == "hyperband" and sweep.fidelity.kind == "epochs"
    assert sweep.fidelity.high == TINY_SWEEP["space"]["max_epochs"]
    again = sweep_of(dict(sweep.config), tmp_path)
    assert (again.fidelity, again.search, again.objective) == (
        sweep.fidelity,
        sweep.search,
        sweep.objective,
    )


def test_a_shell_jobs_config_comes_whole_through_its_environment(tmp_path, monkeypatch):
    """The config reaches a job run as a shell command through the environment it inherits,
    exactly, and no file is written (it may hold a tracking server's password)."""
    config = dict(load_sweep(TINY_SWEEP, tmp_path).config)
    config["tracking"] = {**config["tracking"], "uri": "http://ann:s3cret@localhost:5000"}
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(JOB_CONFIG, "")  # restored after the test
    before = sorted(tmp_path.rglob("*"))
    export_job_config(config)
    child = subprocess.run(
        [sys.executable, "-c", "from snakesweep.sweep import job_config; print(job_config())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert child.stdout.strip() == str(config)
    assert sorted(tmp_path.rglob("*")) == before


def test_warm_start_tables_are_the_search_files(tmp_path):
    table = tmp_path / "earlier.csv"
    table.write_text("trial,status,objective,lr,hidden_units,activation,optimizer,momentum\n")
    raw = {**TINY_SWEEP, "search": {"strategy": "bayes", "warm_start": str(table)}}
    assert load_sweep(raw, tmp_path).search.files == [str(table)]
    assert load_sweep(TINY_SWEEP, tmp_path).search.files == []


def test_bad_input_is_one_config_error(tmp_path):
    with pytest.raises(ConfigError, match="budget.rounds"):
        load_sweep({**TINY_SWEEP, "budget": {"rounds": 0, "trials_per_round": 2}}, tmp_path)
