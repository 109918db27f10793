"""results/<sweep>/provenance/: resolved config, package versions, git state, platform, seeds."""

from __future__ import annotations

import json

import yaml
from conftest import REPO

from snakesweep.provenance import git_state, write_provenance


def test_provenance_records_what_the_sweep_ran_with(tmp_path):
    sweep_dir = tmp_path / "results" / "demo"
    (sweep_dir / "rounds").mkdir(parents=True)
    (sweep_dir / "rounds" / "000.json").write_text(
        json.dumps({"round": 0, "seed": 11, "trials": [{"trial": "r000-t000", "seed": 12}]})
    )
    config = {"sweep": "demo", "seed": 3, "space": {"lr": 0.1}}
    out = sweep_dir / "provenance"
    write_provenance(config, sweep_dir, REPO, out)
    assert yaml.safe_load((out / "config.yaml").read_text()) == config
    packages = (out / "packages.txt").read_text().splitlines()
    assert any(line.startswith("snakemake==9.") for line in packages)
    summary = yaml.safe_load((out / "provenance.yaml").read_text())
    assert summary["seeds"] == {"sweep": 3, "rounds": {0: 11}, "trials": {"r000-t000": 12}}
    assert summary["packages"]["pandas"] and summary["platform"]["python"]
    git = summary["snakesweep"]["git"]
    assert len(git["commit"]) == 40 and isinstance(git["dirty"], bool)


def test_git_state_outside_a_checkout(tmp_path):
    assert git_state(tmp_path) == {"commit": None, "dirty": None}
