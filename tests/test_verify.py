"""Expected values (`expect:`), verify.json and bundles of finished sweeps."""

from __future__ import annotations

import io
import json
import tarfile

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
