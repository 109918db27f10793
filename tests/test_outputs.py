"""Outputs are written whole or not at all; an emptied one stops the next run with one line
naming it (never read as "no trials"), and deleting it as told rebuilds the same table."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from conftest import REPO, run_snakemake, write_config

from snakesweep.errors import ConfigError
from snakesweep.history import read_history, write_history
from snakesweep.outputs import check_outputs, write_atomic, write_json

SWEEP = "tabular_car"
# One file of each kind a later job or run reads.
EMPTIED = [
    "history/000.csv",
    "rounds/001.json",
    "trials.csv",
    "best.yaml",
    "tracking/001.json",
    "trials/r000-t001/metrics.json",
]


def test_write_atomic_leaves_no_part_and_replaces_whole(tmp_path):
    path = tmp_path / "sub" / "table.csv"
    write_atomic(path, "a,b\n1,2\n")
    write_json(tmp_path / "x.json", {"a": 1})
    assert path.read_text() == "a,b\n1,2\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["sub", "table.csv", "x.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "table.csv"
    write_atomic(path, "trial\nr000-t000\n")

    class Unwritable:
        def to_csv(self, index):
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_history(Unwritable(), path)
    assert path.read_text() == "trial\nr000-t000\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


@pytest.mark.parametrize("content", ["", "trial,round,seed\nr000-t000,0,12", "a,b\n1,2\n"])
def test_an_empty_or_cut_off_table_is_refused(tmp_path, content):
    path = tmp_path / "000.csv"
    path.write_text(content)
    with pytest.raises(ConfigError, match="000.csv"):
        read_history(path)


def test_check_outputs_names_the_damaged_file(tmp_path):
    (tmp_path / "rounds").mkdir()
    (tmp_path / "rounds" / "000.json").write_text('{"trials": []}\n')
    check_outputs(tmp_path)
    (tmp_path / "rounds" / "001.json").write_text('{"trials": [')
    with pytest.raises(ConfigError, match=r"rounds/001.json is cut off.*delete"):
        check_outputs(tmp_path)


@pytest.mark.slow
def test_each_emptied_output_stops_the_resume_then_rebuilds_the_same_table(tmp_path):
    config = yaml.safe_load((REPO / "config" / "sweeps" / "tabular_car.yaml").read_text())
    config["budget"] = {"rounds": 2, "trials_per_round": 2}
    configfile = write_config(tmp_path, config)
    run_snakemake(tmp_path, configfile)
    sweep = tmp_path / "results" / SWEEP
    finished = pd.read_csv(sweep / "trials.csv").drop(columns="duration_s")
    assert len(finished) == 4
    for name in EMPTIED:
        path = sweep / name
        path.write_text("")
        stopped = run_snakemake(tmp_path, configfile, check=False)
        assert stopped.returncode != 0, name
        last = stopped.stderr.strip().splitlines()[-1]
        assert last.startswith(f"snakesweep: results/{SWEEP}/{name} is empty"), last
        assert "Traceback" not in stopped.stderr
        path.unlink()
        run_snakemake(tmp_path, configfile)
        table = pd.read_csv(sweep / "trials.csv").drop(columns="duration_s")
        pd.testing.assert_frame_equal(table, finished, obj=name)
        assert yaml.safe_load((sweep / "best.yaml").read_text())["best"]["trial"]
        assert json.loads((sweep / "tracking" / "001.json").read_text())["trial_runs"]
