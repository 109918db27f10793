"""MLflow as a view of the result files: an experiment per sweep, a parent run, a run per trial.

Idempotent: a trial's run is found by its `snakesweep.trial` tag and re-logged only when its files
changed, so re-running tracking never duplicates runs, and a deleted store is rebuilt the same.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pandas as pd

TRIAL_TAG = "snakesweep.trial"
ROLE_TAG = "snakesweep.role"
HASH_TAG = "snakesweep.files_sha256"


def files_digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _client(tracking_uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


def experiment_id(client, sweep: str, artifact_root: Path) -> str:
    experiment = client.get_experiment_by_name(sweep)
    if experiment is not None:
        return experiment.experiment_id
    location = (artifact_root / sweep).resolve().as_uri()
    return client.create_experiment(sweep, artifact_location=location)


def _find_runs(client, experiment: str, tag: str, value: str) -> list:
    return client.search_runs([experiment], filter_string=f"tags.`{tag}` = '{value}'")


def parent_run(client, experiment: str, config: dict) -> str:
    """The sweep's parent run, created once with the sweep's settings as params."""
    runs = _find_runs(client, experiment, ROLE_TAG, "sweep")
    if runs:
        return runs[0].info.run_id
    run = client.create_run(experiment, run_name=config["sweep"], tags={ROLE_TAG: "sweep"})
    run_id = run.info.run_id
    client.log_param(run_id, "strategy", config["search"]["strategy"])
    client.log_param(run_id, "seed", config["seed"])
    client.log_param(run_id, "objective", config["objective"]["metric"])
    client.log_param(run_id, "direction", config["objective"]["direction"])
    client.log_param(run_id, "trials_per_round", config["budget"]["trials_per_round"])
    client.log_dict(run_id, config, "config.yaml")
    return run_id


def _metric_batch(history: pd.DataFrame, final: dict, timestamp: int) -> list:
    from mlflow.entities import Metric

    metrics = []
    for _, row in history.iterrows():
        step = int(row["epoch"])
        for name, value in row.items():
            if name != "epoch" and pd.notna(value):
                metrics.append(Metric(name, float(value), timestamp, step))
    for name, value in final.items():
        if isinstance(value, int | float) and math.isfinite(value):
            metrics.append(Metric(f"final/{name}", float(value), timestamp, 0))
    return metrics


def track_trial(client, experiment: str, parent: str, trial_dir: Path) -> str:
    """Log one trial as a child run (kept as it is when its files are unchanged)."""
    from mlflow.entities import Param, RunTag

    record = json.loads((trial_dir / "metrics.json").read_text())
    files = [trial_dir / "metrics.json", trial_dir / "history.csv"]
    digest = files_digest(files)
    existing = _find_runs(client, experiment, TRIAL_TAG, record["trial"])
    if existing and existing[0].data.tags.get(HASH_TAG) == digest:
        return existing[0].info.run_id
    for run in existing:
        client.delete_run(run.info.run_id)
    # Tagged from the start and marked complete (HASH_TAG) only at the end: a run left half
    # logged by a killed job is found, seen as incomplete, and logged again.
    run = client.create_run(
        experiment,
        run_name=record["trial"],
        tags={"mlflow.parentRunId": parent, TRIAL_TAG: record["trial"]},
    )
    run_id = run.info.run_id
    history = pd.read_csv(trial_dir / "history.csv")
    timestamp = int(trial_dir.joinpath("metrics.json").stat().st_mtime * 1000)
    final = {
        **record["metrics"],
        "objective": record["objective"],
        "duration_s": record["duration_s"],
    }
    tags = {
        "round": str(record["round"]),
        "status": record["status"],
        "error": str(record["error"] or ""),
        "seed": str(record["seed"]),
    }
    params = {name: str(value) for name, value in record["params"].items()}
    client.log_batch(
        run_id,
        metrics=_metric_batch(history, final, timestamp),
        params=[Param(name, value) for name, value in params.items()],
        tags=[RunTag(name, value) for name, value in tags.items()],
    )
    for path in [*files, trial_dir / "model.ckpt"]:
        if path.exists():
            client.log_artifact(run_id, str(path))
    client.set_terminated(run_id, "FINISHED" if record["status"] == "ok" else "FAILED")
    client.set_tag(run_id, HASH_TAG, digest)
    return run_id


def track_round(
    config: dict,
    table: pd.DataFrame,
    round_index: int,
    trials_dir: Path,
    artifact_root: Path,
) -> dict:
    """Log the trials of one round and the sweep's best-so-far; return the run ids."""
    from snakesweep.history import best_trial

    client = _client(config["tracking"]["uri"])
    experiment = experiment_id(client, config["sweep"], artifact_root)
    parent = parent_run(client, experiment, config)
    runs = {}
    for trial in table.loc[table["round"] == round_index, "trial"]:
        runs[trial] = track_trial(client, experiment, parent, trials_dir / trial)
    best = best_trial(table, config["objective"]["direction"])
    if best is not None:
        client.log_metric(parent, "best_objective", float(best["objective"]), step=round_index)
        client.set_tag(parent, "best_trial", best["trial"])
    return {"experiment_id": experiment, "parent_run_id": parent, "trial_runs": runs}
