"""Expected values (`expect:`), verify.json and bundles of finished sweeps."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from snakesweep.bundle import export_bundle, unpack
from snakesweep.errors import ConfigError
from snakesweep.verify import compare, describe

TABLE = pd.DataFrame(
    {
        "trial": ["r000-t000", "r000-t001", "r000-t002"],
        "status": ["ok", "ok", "failed"],
        "objective": [0.91, 0.95, float("nan")],
        "lr": [0.01, 0.1, 1.0],
        "activation": ["relu", "relu", "tanh"],
        "val/acc": [0.91, 0.95, float("nan")],
    }
)
EXPECT = {
    "metric": "val/acc",
    "tolerance": 0.02,
    "rows": [
        {"params": {"lr": 0.01}, "value": 0.92},
        {"params": {"lr": 0.1, "activation": "relu"}, "value": 0.90, "tolerance": 0.01},
        {"params": {"lr": 1.0}, "value": 0.5},
        {"params": {"lr": 0.3}, "value": 0.5},
    ],
}


def test_compare_checks_every_row():
    result = compare(TABLE, EXPECT)
    assert [row["passed"] for row in result["rows"]] == [True, False, False, False]
    assert result["rows"][0]["trial"] == "r000-t000"
    assert result["rows"][1]["difference"] == pytest.approx(0.05)
    assert "no value (failed)" in result["rows"][2]["problem"]
    assert "0 trials have these params" in result["rows"][3]["problem"]
    assert not result["passed"] and result["failed"] == 3


def test_describe_lists_the_differences():
    text = describe(compare(TABLE, EXPECT), "demo")
    assert "3 of 4 expected values NOT reproduced" in text
    assert "row 1 [lr=0.1, activation=relu] val/acc: expected 0.9 ± 0.01, got 0.95 (+0.05" in text
    passing = compare(TABLE, {**EXPECT, "rows": EXPECT["rows"][:1]})
    assert passing["passed"] and "all 1 expected values reproduced" in describe(passing, "demo")


def test_no_expect_block_is_a_clear_failure():
    result = compare(TABLE, None)
    assert not result["passed"] and "no expect: block" in describe(result, "demo")


@pytest.fixture
def finished_sweep(tmp_path):
    sweep = tmp_path / "results" / "demo"
    (sweep / "provenance").mkdir(parents=True)
    TABLE.to_csv(sweep / "trials.csv", index=False)
    config = {
        "sweep": "demo",
        "objective": {"metric": "val/acc", "direction": "maximize"},
        "space": {"lr": {"type": "float", "low": 0.01, "high": 1.0}, "activation": "relu"},
    }
    (sweep / "provenance" / "config.yaml").write_text(yaml.safe_dump(config))
    (sweep / "provenance" / "packages.txt").write_text("torch==2.13.0\n")
    return tmp_path


def test_export_writes_config_expected_values_table_and_provenance(finished_sweep, tmp_path):
    out = export_bundle("demo", finished_sweep / "results", tmp_path / "b" / "demo.tar.gz", 0.01)
    folder = unpack(out, tmp_path / "unpacked")
    config = yaml.safe_load((folder / "sweep.yaml").read_text())
    assert config["expect"]["rows"] == [
        {"params": {"lr": 0.01, "activation": "relu"}, "value": 0.91},
        {"params": {"lr": 0.1, "activation": "relu"}, "value": 0.95},
    ]
    assert config["expect"]["tolerance"] == 0.01 and config["expect"]["metric"] == "val/acc"
    assert (folder / "provenance" / "packages.txt").read_text() == "torch==2.13.0\n"
    assert len(pd.read_csv(folder / "trials.csv")) == 3
    assert "python -m snakesweep reproduce demo.tar.gz" in (folder / "README.md").read_text()
    # The exported values verify against the table they came from.
    assert compare(TABLE, config["expect"])["passed"]


def test_export_of_an_unfinished_sweep_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="not a finished sweep"):
        export_bundle("nothing", tmp_path / "results", tmp_path / "x.tar.gz")


@pytest.mark.parametrize("text, words", [("", "empty"), ("trial,round\nr000-t000,0", "cut off")])
def test_export_of_a_damaged_table_names_it(finished_sweep, tmp_path, text, words):
    """An empty or cut-off trials.csv: one line naming it (an empty one was a pandas traceback)
    and no bundle."""
    (finished_sweep / "results" / "demo" / "trials.csv").write_text(text)
    with pytest.raises(ConfigError, match=f"demo/trials.csv is {words}"):
        export_bundle("demo", finished_sweep / "results", tmp_path / "b" / "demo.tar.gz")
    assert not (tmp_path / "b" / "demo.tar.gz").exists()


def test_a_bundle_cannot_write_outside_its_folder(tmp_path):
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as archive:
        data = b"sweep: x\n"
        info = tarfile.TarInfo("../escaped/sweep.yaml")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    into = tmp_path / "into"
    into.mkdir()
    with pytest.raises(ConfigError, match="not a readable bundle"):
        unpack(evil, into)
    assert not (tmp_path / "escaped").exists()


def test_verify_json_is_plain_json():
    json.dumps(compare(TABLE, EXPECT))


GRID_SWEEP = {
    "sweep": "lr_table",
    "seed": 0,
    "objective": {"metric": "val/acc", "direction": "maximize"},
    "budget": {"rounds": 1, "trials_per_round": 2},
    "search": {"strategy": "grid"},
    "space": {
        "lr": {"type": "float", "low": 0.01, "high": 0.1, "log": True, "grid": [0.01, 0.1]},
        "hidden_units": 16,
        "max_epochs": 2,
        "batch_size": 64,
    },
    "data": {"name": "digits", "subset": 300},
    "model": {"name": "mlp"},
}


def snakesweep_command(cwd, *args):
    import os
    import subprocess
    import sys

    from conftest import REPO

    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": "0"}
    return subprocess.run(
        [sys.executable, "-m", "snakesweep", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
    )


@pytest.mark.slow
def test_export_reproduce_and_verify_a_bundle_elsewhere(tmp_path):
    """Publish a finished sweep as a bundle; another directory re-runs and verifies it."""
    from conftest import run_snakemake, write_config

    publisher, user = tmp_path / "publisher", tmp_path / "user"
    publisher.mkdir()
    user.mkdir()
    run_snakemake(publisher, write_config(publisher, GRID_SWEEP))
    exported = snakesweep_command(publisher, "export", "lr_table", "--tolerance", "0.001")
    assert exported.returncode == 0, exported.stderr
    bundle = publisher / "bundles" / "lr_table.tar.gz"
    (user / "lr_table.tar.gz").write_bytes(bundle.read_bytes())
    result = snakesweep_command(user, "reproduce", "lr_table.tar.gz")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "round 1/1: 2 ok" in result.stdout + result.stderr  # the re-run shows every round
    verify = json.loads((user / "results" / "lr_table" / "verify.json").read_text())
    assert verify["passed"] and verify["checked"] == 2
    assert [row["measured"] for row in verify["rows"]] == [
        row["expected"] for row in verify["rows"]
    ]
    # A bundle whose published value is off: the same command fails and shows the difference.
    folder = unpack(bundle, tmp_path / "edit")
    config = yaml.safe_load((folder / "sweep.yaml").read_text())
    config["expect"]["rows"][1]["value"] -= 0.1
    (folder / "sweep.yaml").write_text(yaml.safe_dump(config))
    result = snakesweep_command(user, "reproduce", str(folder))
    assert result.returncode != 0
    assert "1 of 2 expected values NOT reproduced" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "path",
    sorted(
        p
        for p in (Path(__file__).resolve().parent.parent / "config" / "sweeps").glob("*.yaml")
        if "expect:" in p.read_text()
    ),
    ids=lambda p: p.stem,
)
def test_published_sweeps_are_valid_and_expect_one_trial_per_row(path, tmp_path):
    from snakesweep.config import load_config
    from snakesweep.configfile import read_config_file

    config = load_config(read_config_file(path), tmp_path / "results")
    rows = config["expect"]["rows"]
    assert len(rows) >= 3
    assert len({json.dumps(row["params"], sort_keys=True) for row in rows}) == len(rows)


def test_snakemake_verify_runs_the_whole_sweep_its_last_lines_name(tmp_path):
    """`snakemake verify` on a sweep that has not run yet runs all of it, not only its trials:
    the summary, report, MLflow view and provenance its last lines point to exist, and the
    sweep can be exported straight away."""
    from conftest import TABULAR_SWEEP, run_snakemake, write_config

    fixed = {"alpha": 0.001, "batch_size": 32, "learning_rate_init": 0.01, "width": 64}
    config = {
        **TABULAR_SWEEP,
        "sweep": "car_table",
        "budget": {"rounds": 1, "trials_per_round": 3},
        "search": {"strategy": "grid"},
        "space": {**fixed, "depth": {"type": "int", "low": 1, "high": 3}},
        "expect": {
            "metric": "val/error",
            "tolerance": 1.0,
            "rows": [{"params": {"depth": depth}, "value": 0.5} for depth in (1, 2, 3)],
        },
    }
    result = run_snakemake(tmp_path, write_config(tmp_path, config), "verify")
    out = result.stdout + result.stderr
    assert "verify car_table: all 3 expected values reproduced" in out
    sweep_dir = tmp_path / "results" / "car_table"
    assert f"[snakesweep] report: {sweep_dir / 'summary.md'}" in out
    for name in ("summary.md", "report/summary.html", "provenance/config.yaml"):
        assert (sweep_dir / name).stat().st_size > 0, name
    assert (sweep_dir / "tracking" / "final.json").exists()
    exported = snakesweep_command(tmp_path, "export", "car_table")
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "bundles" / "car_table.tar.gz").stat().st_size > 0
