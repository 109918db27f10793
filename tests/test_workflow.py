"""The whole sweep through real Snakemake, Lightning, scikit-optimize and MLflow, tiny config."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import TINY_SWEEP, run_snakemake, sweep_runs, write_config


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, Path, str]:
    workdir = tmp_path_factory.mktemp("sweep")
    configfile = write_config(workdir, TINY_SWEEP)
    result = run_snakemake(workdir, configfile)
    return workdir, configfile, result.stdout + result.stderr


def test_results_contract(finished):
    workdir, _, output = finished
    sweep = workdir / "results" / "tiny"
    for index in range(2):
        proposals = json.loads((sweep / "rounds" / f"{index:03d}.json").read_text())
        assert [t["trial"] for t in proposals["trials"]] == [
            f"r{index:03d}-t000",
            f"r{index:03d}-t001",
        ]
        for trial in proposals["trials"]:
            trial_dir = sweep / "trials" / trial["trial"]
            record = json.loads((trial_dir / "metrics.json").read_text())
            assert record["status"] == "ok", record["error"]
            assert record["params"] == trial["params"]
            history = pd.read_csv(trial_dir / "history.csv")
            assert list(history["epoch"]) == [0, 1]
            assert (trial_dir / "model.ckpt").stat().st_size > 0
            # momentum is conditional on sgd: sent only when it is active
            assert ("momentum" in trial["params"]) == (trial["params"]["optimizer"] == "sgd")
    table = pd.read_csv(sweep / "trials.csv")
    assert len(table) == 4
    assert {"trial", "round", "objective", "status", "duration_s", "lr", "val/loss"} <= set(table)
    best = yaml.safe_load((sweep / "best.yaml").read_text())["best"]
    assert best["objective"] == pytest.approx(table["objective"].min())
    assert "[snakesweep] round 2/2: 2 ok, 0 failed, 0 pruned" in output
    assert f"best configuration: {best['trial']}" in output


def test_registered_model_loads_with_pyfunc_outside_the_checkout(finished, tmp_path):
    """Code path and requirements are logged with the model: it loads in a folder where
    snakesweep is not importable."""
    import subprocess
    import sys

    from conftest import FIXTURES

    workdir, _, _ = finished
    model_uri = "models:/tiny/latest"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, str(FIXTURES / "load_registered_model.py"),
         f"sqlite:///{workdir}/results/mlflow.db", model_uri],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.splitlines()[-1])
    assert loaded["shape"] == [3, 10]  # class probabilities of the 10 digits
    assert loaded["sum"] == pytest.approx([1.0, 1.0, 1.0], abs=1e-5)


def test_console_shows_the_plan_rounds_and_results_not_the_jobs(finished):
    workdir, _, output = finished
    lines = output.splitlines()
    assert len(lines) <= 40, output
    ours = [line for line in lines if line.startswith("[snakesweep]")]
    assert ours[0].startswith("[snakesweep] plan: tiny, 2 rounds, 4 trials")
    # 4 trials of bayes never get past its initial design: said once, at the start
    assert ours[1].startswith("[snakesweep] note: bayes proposes its first 10 trials")
    assert sum(line.startswith("[snakesweep] note:") for line in ours) == 1
    assert ours[2].startswith("[snakesweep] round 1/2: ") and "ETA" in ours[2]
    assert ours[3].startswith("[snakesweep] round 2/2: ")
    assert "rule train:" not in output and "Select jobs to execute" not in output
    # Lightning's own lines go to each trial's log, not to the console
    assert "GPU available" not in output and "Trainer.fit" not in output, output
    assert "GPU available" in (workdir / "logs" / "train" / "tiny" / "r000-t000.log").read_text()
    # and MLflow's, when the best model is registered, to the final tracking job's log
    assert "registered model" not in output and "mlflow.pytorch" not in output, output
    assert (
        "Successfully registered model 'tiny'"
        in (workdir / "logs" / "track_final" / "tiny.log").read_text()
    )
    # the job blocks are in Snakemake's log file
    first_run = sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log"))[0]
    assert "rule train:" in first_run.read_text()


def test_mlflow_mirrors_the_files(finished):
    from mlflow.tracking import MlflowClient

    workdir, _, _ = finished
    uri = f"sqlite:///{workdir}/results/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    parents, children = sweep_runs(uri, "tiny")
    assert len(parents) == 1 and len(children) == 4
    table = pd.read_csv(workdir / "results" / "tiny" / "trials.csv").set_index("trial")
    for run in children:
        trial = run.data.tags["snakesweep.trial"]
        assert run.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert float(run.data.params["lr"]) == pytest.approx(table.loc[trial, "lr"])
        assert run.data.metrics["final/objective"] == pytest.approx(table.loc[trial, "objective"])
        epochs = client.get_metric_history(run.info.run_id, "val/loss")
        assert [metric.step for metric in epochs] == [0, 1]
        # the learning curve the track rule drew beside the results, logged with the run
        curve = Path("plots", "trials", f"{table.loc[trial, 'round']:03d}", trial)
        assert (workdir / "results" / "tiny" / curve / "learning_curve.png").stat().st_size
        logged = client.list_artifacts(run.info.run_id, "plots")
        assert [artifact.path for artifact in logged] == ["plots/learning_curve.png"]


def test_report_plots_summary_and_html(finished):
    workdir, configfile, _ = finished
    sweep = workdir / "results" / "tiny"
    plots = sorted(path.name for path in (sweep / "plots").glob("*.png"))
    assert plots == sorted(
        f"{name}.png"
        for name in (
            "optimisation_history", "parallel_coordinates", "importance",
            "partial_dependence", "learning_curves", "confusion_matrix",
        )
    )  # fmt: skip
    for name in plots:
        data = (sweep / "plots" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name
    best = yaml.safe_load((sweep / "best.yaml").read_text())["best"]
    summary = (sweep / "summary.md").read_text()
    assert f"Trial `{best['trial']}`" in summary and "| test (held out, once) |" in summary
    run_snakemake(workdir, configfile, "--report", "results/tiny/report.html")
    html = (sweep / "report.html").read_text()
    for name in [*plots, "summary.html", "trials.html"]:
        assert name in html, name


def test_best_model_is_registered_and_predicts(finished):
    import mlflow
    import mlflow.pytorch
    import numpy as np
    import torch
    from mlflow.models import Model

    workdir, _, _ = finished
    final = json.loads((workdir / "results" / "tiny" / "tracking" / "final.json").read_text())
    uri = f"models:/tiny/{final['model']['version']}"
    mlflow.set_tracking_uri(f"sqlite:///{workdir}/results/mlflow.db")
    model = mlflow.pytorch.load_model(uri)
    local = mlflow.artifacts.download_artifacts(uri, dst_path=str(workdir / "downloaded"))
    example = np.asarray(Model.load(local).load_input_example(local), dtype="float32")
    # the example is the data's own pixels (0-1), as a user would pass them
    assert example.min() >= 0 and example.max() <= 1
    with torch.no_grad():
        probabilities = model(torch.as_tensor(example))
    assert torch.allclose(probabilities.sum(-1), torch.ones(len(example)), atol=1e-5)
    predicted = probabilities.argmax(-1).tolist()
    saved = pd.read_csv(workdir / "results" / "tiny" / "test_predictions.csv")
    assert predicted == saved["y_pred"].head(len(example)).tolist()
    client = mlflow.tracking.MlflowClient()
    version = client.get_model_version("tiny", str(final["model"]["version"]))
    test = json.loads((workdir / "results" / "tiny" / "test.json").read_text())
    assert version.tags["trial"] == test["trial"]
    assert float(version.tags["test/acc"]) == pytest.approx(test["metrics"]["test/acc"])


@pytest.mark.slow
def test_deleted_mlflow_store_is_rebuilt_by_forcerun_track(finished):
    from test_tracking import in_a_new_process

    workdir, configfile, _ = finished
    uri = f"sqlite:///{workdir}/results/mlflow.db"
    before = in_a_new_process("t.snapshot(uri, 'tiny')", uri=uri)
    (workdir / "results" / "mlflow.db").unlink()
    run_snakemake(workdir, configfile, "--forcerun", "track")
    after = in_a_new_process("t.snapshot(uri, 'tiny')", uri=uri)
    assert after.keys() == before.keys()
    for key, run in before.items():
        if key == "parent":  # the parent also holds the registered model and report files
            assert after[key]["params"] == run["params"]
            assert after[key]["metrics"] == run["metrics"]
        else:
            assert after[key] == run, key


def test_rerun_does_nothing(finished):
    workdir, configfile, _ = finished
    result = run_snakemake(workdir, configfile)
    assert "Nothing to be done" in result.stdout + result.stderr


def test_deleted_trial_alone_is_retrained(finished):
    workdir, configfile, _ = finished
    trials = workdir / "results" / "tiny" / "trials"
    before = {t.name: (t / "metrics.json").stat().st_mtime for t in trials.iterdir()}
    rounds_before = (workdir / "results" / "tiny" / "rounds" / "001.json").read_text()
    shutil.rmtree(trials / "r000-t001")
    run_snakemake(workdir, configfile)
    after = {t.name: (t / "metrics.json").stat().st_mtime for t in trials.iterdir()}
    retrained = sorted(name for name in after if after[name] != before.get(name))
    assert retrained == ["r000-t001"]
    assert (workdir / "results" / "tiny" / "rounds" / "001.json").read_text() == rounds_before


def test_more_rounds_continue_the_sweep(finished):
    workdir, _, _ = finished
    trials = workdir / "results" / "tiny" / "trials"
    before = {t.name: (t / "metrics.json").stat().st_mtime for t in trials.iterdir()}
    longer = write_config(
        workdir, {**TINY_SWEEP, "budget": {"rounds": 3, "trials_per_round": 2}}, "longer.yaml"
    )
    run_snakemake(workdir, longer)
    after = {t.name: (t / "metrics.json").stat().st_mtime for t in trials.iterdir()}
    assert sorted(set(after) - set(before)) == ["r002-t000", "r002-t001"]
    assert all(after[name] == before[name] for name in before)
    assert len(pd.read_csv(workdir / "results" / "tiny" / "trials.csv")) == 6


def test_provenance_is_written(finished):
    workdir, _, _ = finished
    provenance = workdir / "results" / "tiny" / "provenance"
    summary = yaml.safe_load((provenance / "provenance.yaml").read_text())
    assert set(summary["seeds"]["trials"]) >= {"r000-t000", "r001-t001"}
    assert yaml.safe_load((provenance / "config.yaml").read_text())["sweep"] == "tiny"


@pytest.mark.slow
def test_eight_trials_finishing_together_lose_nothing_in_mlflow(tmp_path):
    """Eight trials of one round run in parallel and finish together; only the chained track job
    writes to the sqlite store, so every run and every epoch arrives, with no lock error."""
    from mlflow.tracking import MlflowClient

    config = {**TINY_SWEEP, "sweep": "wide", "budget": {"rounds": 1, "trials_per_round": 8}}
    config["space"] = {**TINY_SWEEP["space"], "max_epochs": 1}
    configfile = write_config(tmp_path, config)
    result = run_snakemake(tmp_path, configfile, "--cores", "8")
    assert "database is locked" not in result.stdout + result.stderr
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/results/mlflow.db")
    experiment = client.get_experiment_by_name("wide").experiment_id
    runs = client.search_runs([experiment], filter_string="tags.`snakesweep.trial` != ''")
    assert sorted(run.data.tags["snakesweep.trial"] for run in runs) == [
        f"r000-t{index:03d}" for index in range(8)
    ]
    for run in runs:
        assert [m.step for m in client.get_metric_history(run.info.run_id, "val/loss")] == [0]


def test_an_earlier_sweep_used_as_input_is_only_read(finished, tmp_path):
    """Warm start and replay from results/<earlier>/trials.csv in the same project: the new
    sweeps run, and the earlier sweep is not remade (no cycle, no retrained trial)."""
    workdir, _, _ = finished
    shutil.copytree(workdir / "results" / "tiny", tmp_path / "results" / "tiny")
    earlier = tmp_path / "results" / "tiny"
    before = {p: p.read_bytes() for p in [earlier / "trials.csv", *earlier.glob("trials/*/*")]}
    relative = "results/tiny/trials.csv"
    narrowed = {**TINY_SWEEP["space"], "lr": {"type": "float", "low": 3e-3, "high": 0.1}}
    for name, search, space in [
        ("warm", {"strategy": "bayes", "warm_start": [relative]}, narrowed),
        ("replayed", {"strategy": "replay", "file": relative}, TINY_SWEEP["space"]),
    ]:
        config = {**TINY_SWEEP, "sweep": name, "search": search, "space": space}
        config["budget"] = {"rounds": 1, "trials_per_round": 2}
        config["evaluate"] = {"test_set": False}
        result = run_snakemake(tmp_path, write_config(tmp_path, config, f"{name}.yaml"))
        assert "Cyclic" not in result.stdout + result.stderr
        assert len(pd.read_csv(tmp_path / "results" / name / "trials.csv")) == 2
    assert {p: p.read_bytes() for p in before} == before
