"""A track job killed half-way leaves no zombie run in MLflow: the next run logs the trial again."""

from __future__ import annotations

import json

from snakesweep.tracking import (
    HASH_TAG,
    INSTANCE_TAG,
    TRIAL_TAG,
    _find_runs,
    experiment_id,
    track_trial,
)


def test_a_half_logged_trial_run_is_replaced(tmp_path):
    from mlflow.tracking import MlflowClient

    trial_dir = tmp_path / "trials" / "r000-t000"
    trial_dir.mkdir(parents=True)
    record = {
        "trial": "r000-t000",
        "round": 0,
        "seed": 1,
        "params": {"lr": 0.1},
        "status": "ok",
        "error": None,
        "objective": 0.5,
        "metrics": {"val/loss": 0.5},
        "duration_s": 1.0,
    }
    (trial_dir / "metrics.json").write_text(json.dumps(record))
    (trial_dir / "history.csv").write_text("epoch,val/loss\n0,0.5\n")
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    experiment = experiment_id(client, "demo", tmp_path / "artifacts")
    parent = client.create_run(experiment).info.run_id
    # What a killed track job leaves: the run exists and is tagged, but was never finished.
    tags = {TRIAL_TAG: "r000-t000", INSTANCE_TAG: "mine"}
    zombie = client.create_run(experiment, tags=tags).info.run_id
    run_id = track_trial(client, experiment, "mine", parent, trial_dir)
    assert run_id != zombie
    assert client.get_run(zombie).info.lifecycle_stage == "deleted"
    runs = _find_runs(client, experiment, "mine", TRIAL_TAG, "r000-t000")
    assert [run.info.run_id for run in runs] == [run_id]
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and HASH_TAG in run.data.tags
    assert run.data.tags["mlflow.parentRunId"] == parent
    # Logged completely once: the next call keeps it.
    assert track_trial(client, experiment, "mine", parent, trial_dir) == run_id
