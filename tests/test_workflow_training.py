"""Training features through real Snakemake: k-fold jobs, test evaluation, a class_path sweep."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import TINY_SWEEP, run_snakemake, write_config

pytestmark = pytest.mark.slow


def tiny(**changes) -> dict:
    config = json.loads(json.dumps(TINY_SWEEP))
    config["data"] = {"name": "digits", "subset": 400}
    config.update(changes)
    return config


def test_cross_validation_sweep_with_test_evaluation(tmp_path):
    config = tiny(sweep="tinycv", evaluate={"folds": 2, "refit": "train_val", "top_k": 2})
    run_snakemake(tmp_path, write_config(tmp_path, config))
    sweep = tmp_path / "results" / "tinycv"
    table = pd.read_csv(sweep / "trials.csv")
    assert (table["status"] == "ok").all()
    assert {"val/loss_std", "cv/folds"} <= set(table.columns)
    for trial in table["trial"]:
        folds = [
            json.loads((sweep / "trials" / trial / f"fold{f}" / "metrics.json").read_text())
            for f in range(2)
        ]
        mean = sum(f["objective"] for f in folds) / 2
        row = table[table["trial"] == trial].iloc[0]
        assert row["objective"] == pytest.approx(mean)
        assert (sweep / "benchmarks" / "train_fold" / trial / "1.tsv").exists()  # own job
    test = json.loads((sweep / "test.json").read_text())
    assert test["refit"] == "train_val" and "test/f1" in test["metrics"]
    ensemble = json.loads((sweep / "ensemble.json").read_text())
    assert len(ensemble["members"]) == 2
    assert (sweep / "plots" / "confusion_matrix.png").exists()


def test_class_path_sweep(tmp_path, monkeypatch):
    tests_dir = str(Path(__file__).resolve().parent)
    monkeypatch.setenv("PYTHONPATH", tests_dir)
    config = tiny(
        sweep="tinyuser",
        data={"class_path": "test_custom_module.BlobData", "init_args": {"n": 300}},
        model={"class_path": "test_custom_module.BlobNet"},
        space={
            "lr": {"type": "float", "low": 0.001, "high": 0.1, "log": True},
            "hidden_units": {"type": "int", "low": 4, "high": 16},
            "max_epochs": 2,
        },
    )
    run_snakemake(tmp_path, write_config(tmp_path, config))
    sweep = tmp_path / "results" / "tinyuser"
    table = pd.read_csv(sweep / "trials.csv")
    assert (table["status"] == "ok").all(), table["error"].tolist()
    for _, row in table.iterrows():
        record = json.loads((sweep / "trials" / row["trial"] / "metrics.json").read_text())
        import torch

        ckpt = torch.load(sweep / "trials" / row["trial"] / "model.ckpt", weights_only=False)
        assert ckpt["hyper_parameters"]["hidden_units"] == record["params"]["hidden_units"]
    assert json.loads((sweep / "test.json").read_text())["n_test"] == 60
