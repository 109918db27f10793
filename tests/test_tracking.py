"""MLflow mirrors the result files: contents, idempotence, rebuild, concurrency, a real server.

Real MLflow throughout (sqlite store, a `mlflow server` on loopback); the sweep's files are
hand-made in the contract's format (tests/sweep_files.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sweep_files import sweep_config, write_sweep, write_trial

from snakesweep.history import append_round, read_history, read_trials, write_history
from snakesweep.outputs import write_json
from snakesweep.report.build import write_trial_curves
from snakesweep.sweep import load_sweep, sweep_of
from snakesweep.tracking import (
    BEST_METRIC,
    HASH_TAG,
    INSTANCE_TAG,
    TRIAL_TAG,
    track_round,
    tracking_niceness,
)

REPO = Path(__file__).resolve().parent.parent
ROUNDS, PER_ROUND = 3, 2


def track_round_as_the_rule(config: dict, sweep_dir: Path, index: int, artifact_root: Path):
    """What the `track` rule does: draw the round's learning curves, then track the round."""
    sweep = load_sweep(config, sweep_dir.parent)
    table = read_history(sweep.paths.history(index))
    curves = write_trial_curves(sweep.paths, index, table)
    return track_round(sweep, table, index, artifact_root, curves=curves)


def track_all(root: Path, config: dict, rounds=range(ROUNDS)) -> dict:
    sweep_dir = root / "results" / config["sweep"]
    runs = {}
    for index in rounds:
        runs = track_round_as_the_rule(config, sweep_dir, index, root / "results" / "art")
    return runs


def client_for(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def snapshot(uri: str, sweep: str) -> dict:
    """Everything a user sees of a sweep in MLflow, minus run ids and creation times."""
    client = client_for(uri)
    experiment = client.get_experiment_by_name(sweep)
    result = {}
    for run in client.search_runs([experiment.experiment_id], max_results=1000):
        hidden = ("mlflow.parentRunId", "mlflow.user", "mlflow.source", "mlflow.log")
        tags = {k: v for k, v in run.data.tags.items() if not k.startswith(hidden)}
        history = {
            name: [(m.step, m.value, m.timestamp) for m in client.get_metric_history(
                run.info.run_id, name)]
            for name in run.data.metrics
        }  # fmt: skip
        artifacts = sorted(f.path for f in client.list_artifacts(run.info.run_id)) + sorted(
            f.path for f in client.list_artifacts(run.info.run_id, "plots")
        )
        key = run.data.tags.get(TRIAL_TAG, "parent")
        assert key not in result, f"two runs for {key}"
        result[key] = {
            "tags": tags,
            "params": run.data.params,
            "metrics": history,
            "artifacts": artifacts,
            "status": run.info.status,
        }
    return result


def in_a_new_process(expression: str, **values) -> object:
    """The value of `expression` computed by a new Python process (as the next job or `mlflow ui`
    would), with test_tracking as `t`, Path and `values` in scope; values and result in JSON.
    This process's MLflow keeps a connection per store URI that would still read and write a
    store file that was deleted."""
    code = (
        "import json, sys; from pathlib import Path; import test_tracking as t; "
        f"globals().update(json.loads(sys.argv[1])); print(json.dumps({expression}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(values, default=str)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory) -> Path:
    """An initialised, empty sqlite store: creating its tables takes seconds, copying it doesn't."""
    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    client_for(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def sweep(tmp_path, empty_store):
    (tmp_path / "results").mkdir()
    shutil.copy(empty_store, tmp_path / "results" / "mlflow.db")
    config = sweep_config(
        rounds=ROUNDS, per_round=PER_ROUND, uri=f"sqlite:///{tmp_path}/results/mlflow.db"
    )
    write_sweep(tmp_path, rounds=ROUNDS, per_round=PER_ROUND, failed=("r001-t001",))
    return tmp_path, config


def expected_best(table: pd.DataFrame) -> list[float]:
    ok = table[table["status"] == "ok"]
    return [float(ok[ok["round"] <= r]["objective"].min()) for r in range(ROUNDS)]


def best_series(client, run_id: str) -> list[float]:
    history = sorted(client.get_metric_history(run_id, BEST_METRIC), key=lambda m: m.step)
    assert [m.step for m in history] == list(range(ROUNDS))  # one value per round, no repeats
    return [m.value for m in history]


def test_mlflow_contents_match_the_files(sweep):
    root, config = sweep
    runs = track_all(root, config)
    uri = config["tracking"]["uri"]
    client = client_for(uri)
    sweep_dir = root / "results" / "fake"
    table = read_history(sweep_dir / "trials.csv").set_index("trial")
    assert sorted(runs["trial_runs"]) == [f"r002-t00{i}" for i in range(PER_ROUND)]
    seen = snapshot(uri, "fake")
    assert sorted(seen) == sorted([*table.index, "parent"])
    parent = client.get_run(runs["parent_run_id"])
    assert parent.data.params == {
        "seed": "3",
        "strategy": "bayes",
        "objective": "val/loss",
        "direction": "minimize",
        "trials_per_round": "2",
    }
    assert best_series(client, parent.info.run_id) == pytest.approx(
        expected_best(table.reset_index())
    )
    assert parent.data.tags["best_trial"] == table["objective"].idxmin()
    artifacts = {f.path for f in client.list_artifacts(parent.info.run_id, "sweep")}
    assert artifacts == {f"sweep/{n}.yaml" for n in ("config", "space", "search", "provenance")}
    local = Path(client.download_artifacts(parent.info.run_id, "sweep", str(root / "dl")))
    facts = yaml.safe_load((local / "provenance.yaml").read_text())
    assert len(facts["snakesweep"]["git"]["commit"]) == 40
    assert facts["packages"]["mlflow"] and facts["packages"]["pandas"] == pd.__version__
    assert yaml.safe_load((local / "space.yaml").read_text()) == config["space"]
    for trial, row in table.iterrows():
        run = seen[trial]
        record = json.loads((sweep_dir / "trials" / trial / "metrics.json").read_text())
        assert run["params"] == {k: str(v) for k, v in record["params"].items()}
        assert run["tags"]["status"] == row["status"]
        assert run["tags"]["round"] == str(row["round"])
        assert run["status"] == ("FINISHED" if row["status"] == "ok" else "FAILED")
        history = pd.read_csv(sweep_dir / "trials" / trial / "history.csv")
        assert [s for s, _, _ in run["metrics"]["val/loss"]] == list(history["epoch"])
        assert [v for _, v, _ in run["metrics"]["val/loss"]] == pytest.approx(
            list(history["val/loss"])
        )
        assert run["metrics"]["final/duration_s"][0][1] == pytest.approx(row["duration_s"])
        if row["status"] == "ok":
            assert run["metrics"]["final/objective"][0][1] == pytest.approx(row["objective"])
            assert "model.ckpt" in run["artifacts"]
            assert "plots/learning_curve.png" in run["artifacts"]
        else:
            assert "final/objective" not in run["metrics"]
            assert run["tags"]["error"] == record["error"]
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
    )
    assert len(children) == len(table)


def test_a_copy_of_the_database_file_alone_holds_every_run(sweep, tmp_path):
    """Tracking leaves nothing only in the store's write-ahead log, which a copy of mlflow.db
    would leave behind."""
    root, config = sweep
    track_all(root, config)
    store = root / "results" / "mlflow.db"
    log = store.with_name("mlflow.db-wal")
    assert not log.exists() or log.stat().st_size == 0
    copy = tmp_path / "copy" / "mlflow.db"
    copy.parent.mkdir()
    shutil.copy(store, copy)
    with contextlib.closing(sqlite3.connect(copy)) as database:
        names = {name for (name,) in database.execute("select name from runs")}
    assert names == {"fake", *read_history(root / "results/fake/trials.csv")["trial"]}


def test_tracking_again_duplicates_nothing(sweep):
    root, config = sweep
    uri = config["tracking"]["uri"]
    first = track_all(root, config)
    before = snapshot(uri, "fake")
    again = track_all(root, config)  # e.g. snakemake --forcerun track
    track_all(root, config, rounds=[1, 0])  # rounds out of order
    assert again == first
    assert snapshot(uri, "fake") == before


def test_retrained_trial_replaces_its_run_and_the_best_so_far(sweep):
    root, config = sweep
    uri = config["tracking"]["uri"]
    track_all(root, config)
    sweep_dir = root / "results" / "fake"
    # retrain r001-t000 with a much better result, then rebuild the tables after it
    record = json.loads((sweep_dir / "trials" / "r001-t000" / "metrics.json").read_text())
    params = {**record["params"], "lr": 10**-1.5, "dropout": 0.0, "activation": "relu"}
    write_trial(sweep_dir, "r001-t000", 1, params)
    table = None
    for index in range(ROUNDS):
        paths = sorted((sweep_dir / "trials").glob(f"r{index:03d}-*/metrics.json"))
        table = append_round(table, read_trials(paths))
        write_history(table, sweep_dir / "history" / f"{index:03d}.csv")
    runs = track_all(root, config, rounds=[1, 2])
    seen = snapshot(uri, "fake")
    assert seen["r001-t000"]["params"]["lr"] == str(10**-1.5)
    client = client_for(uri)
    assert best_series(client, runs["parent_run_id"]) == pytest.approx(expected_best(table))
    experiment = client.get_experiment_by_name("fake").experiment_id
    for run in client.search_runs([experiment], filter_string=f"tags.`{TRIAL_TAG}` != ''"):
        assert run.data.tags["mlflow.parentRunId"] == runs["parent_run_id"]


def test_deleted_store_is_rebuilt_the_same(sweep):
    """Tracked again by a new process, as by the next track jobs."""
    root, config = sweep
    uri = config["tracking"]["uri"]
    track_all(root, config)
    before = in_a_new_process("t.snapshot(uri, 'fake')", uri=uri)
    artifacts = set((root / "results" / "art" / "fake").iterdir())
    (root / "results" / "mlflow.db").unlink()
    in_a_new_process("len(t.track_all(Path(root), config))", root=root, config=config)
    assert in_a_new_process("t.snapshot(uri, 'fake')", uri=uri) == before
    # the old runs' artifacts are kept (another store may reference them) beside the new ones
    assert artifacts <= set((root / "results" / "art" / "fake").iterdir())


def test_a_second_store_leaves_the_first_stores_artifacts_loadable(sweep):
    """tracking.uri changed: the new store's experiment is created beside the old artifacts."""
    root, config = sweep
    first = config["tracking"]["uri"]
    runs = track_all(root, config)
    second = {**config, "tracking": {"uri": f"sqlite:///{root}/second.db"}}
    again = track_all(root, second)
    assert again["trial_runs"]["r002-t000"] != runs["trial_runs"]["r002-t000"]
    client = client_for(first)
    for trial, run_id in runs["trial_runs"].items():
        saved = client.download_artifacts(run_id, "model.ckpt", str(root / "download" / trial))
        expected = root / "results" / "fake" / "trials" / trial / "model.ckpt"
        assert Path(saved).read_bytes() == expected.read_bytes()


def instance_runs(client, sweep: str, instance: str) -> dict:
    experiment = client.get_experiment_by_name(sweep).experiment_id
    runs = client.search_runs(
        [experiment], filter_string=f"tags.`{INSTANCE_TAG}` = '{instance}'", max_results=1000
    )
    return {run.data.tags.get(TRIAL_TAG, "parent"): run.info.run_id for run in runs}


@pytest.mark.slow
def test_two_instances_of_one_sweep_name_on_a_server_keep_their_own(tmp_path, mlflow_server):
    """Two people, each with their own results folder, run sweep `fake` against one server."""
    from snakesweep.tracking import instance_of, track_final

    config = sweep_config(rounds=2, per_round=2, uri=mlflow_server)
    dirs = [write_sweep(tmp_path / user, rounds=2, per_round=2, failed=(), seed=seed)
            for seed, user in enumerate(["ann", "bob"])]  # fmt: skip
    instances = [instance_of(sweep_dir) for sweep_dir in dirs]
    client = client_for(mlflow_server)

    def track(sweep_dir: Path, digest: str) -> dict:
        for index in range(2):
            table = read_history(sweep_dir / "history" / f"{index:03d}.csv")
            track_round(load_sweep(config, sweep_dir.parent), table, index, tmp_path / "unused")
        test = {"trial": "r001-t000", "refit": "checkpoint", "metrics": {"test/acc": 0.5}}
        example = np.zeros((2, 4), dtype="float32")
        return track_final(load_sweep(config, sweep_dir.parent), test, tmp_path / "unused", [],
                           tiny_classifier(), example, digest)  # fmt: skip

    ann = track(dirs[0], "ann-1")
    ann_runs = instance_runs(client, "fake", instances[0])
    bob = track(dirs[1], "bob-1")
    track(dirs[0], "ann-1")  # ann runs again: nothing of bob's changes
    assert instance_runs(client, "fake", instances[0]) == ann_runs
    assert sorted(ann_runs) == ["parent", "r000-t000", "r000-t001", "r001-t000", "r001-t001"]
    bob_runs = instance_runs(client, "fake", instances[1])
    assert sorted(bob_runs) == sorted(ann_runs) and not set(bob_runs.values()) & set(
        ann_runs.values()
    )
    for run_id in [*ann_runs.values(), *bob_runs.values()]:
        assert client.get_run(run_id).info.lifecycle_stage == "active"
    assert ann["model"]["name"] == "fake" and ann["model"]["version"] == 1
    assert bob["model"]["name"] == f"fake-{instances[1]}" and bob["model"]["version"] == 1
    [version] = client.search_model_versions("name = 'fake'")  # models:/fake/latest is ann's
    assert version.version == "1" and version.run_id == ann["parent_run_id"]


def test_half_written_run_is_redone(sweep):
    root, config = sweep
    uri = config["tracking"]["uri"]
    track_all(root, config)
    before = snapshot(uri, "fake")
    client = client_for(uri)
    experiment = client.get_experiment_by_name("fake").experiment_id
    [run] = client.search_runs([experiment], filter_string=f"tags.`{TRIAL_TAG}` = 'r000-t001'")
    client.delete_tag(run.info.run_id, HASH_TAG)  # as if the job died before its last call
    track_all(root, config, rounds=[0])
    assert snapshot(uri, "fake") == before
    [redone] = client.search_runs([experiment], filter_string=f"tags.`{TRIAL_TAG}` = 'r000-t001'")
    assert redone.info.run_id != run.info.run_id


TRACK_ONE_SWEEP = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from sweep_files import sweep_config, write_sweep
from snakesweep.history import read_history
from snakesweep.sweep import load_sweep
from snakesweep.tracking import track_round
root, name, uri = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
sweep = load_sweep(sweep_config(name, rounds=2, per_round=2, uri=uri), root / "results")
for index in range(2):
    table = read_history(sweep.paths.history(index))
    track_round(sweep, table, index, root / "results" / "art")
"""


@pytest.mark.slow
def test_parallel_writers_lose_nothing(tmp_path):
    """Eight tracking jobs start together on one fresh sqlite store (the worst case: they also
    race to create its tables), while a reader polls it as `mlflow ui` would."""
    uri = f"sqlite:///{tmp_path}/results/mlflow.db"
    sweeps = [f"s{i}" for i in range(8)]
    for index, name in enumerate(sweeps):
        write_sweep(tmp_path, name, rounds=2, per_round=2, failed=("r001-t001",), seed=index)
    script = TRACK_ONE_SWEEP.format(tests=str(REPO / "tests"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writers = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path), name, uri],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        for name in sweeps
    ]  # fmt: skip
    outputs = [writer.communicate(timeout=900)[0] for writer in writers]
    for writer, output in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, output
        assert "database is locked" not in output
    client = client_for(uri)
    for name in sweeps:
        table = read_history(tmp_path / "results" / name / "trials.csv")
        seen = snapshot(uri, name)
        assert sorted(seen) == sorted([*table["trial"], "parent"])
        for trial in table["trial"]:
            history = pd.read_csv(tmp_path / "results" / name / "trials" / trial / "history.csv")
            assert len(seen[trial]["metrics"]["train/loss"]) == len(history)
        best = client.get_metric_history(
            client.search_runs([client.get_experiment_by_name(name).experiment_id],
                               filter_string="tags.`snakesweep.role` = 'sweep'")[0].info.run_id,
            BEST_METRIC)  # fmt: skip
        assert [m.step for m in best] == [0, 1]


@pytest.mark.slow
def test_tracking_server(tmp_path, mlflow_server):
    config = sweep_config(rounds=2, per_round=2, uri=mlflow_server)
    sweep_dir = write_sweep(tmp_path, rounds=2, per_round=2, failed=())
    for index in range(2):
        track_round_as_the_rule(config, sweep_dir, index, tmp_path / "unused")
    before = snapshot(mlflow_server, "fake")
    track_round_as_the_rule(config, sweep_dir, 1, tmp_path / "unused")
    assert snapshot(mlflow_server, "fake") == before
    assert sorted(before) == ["parent", "r000-t000", "r000-t001", "r001-t000", "r001-t001"]
    assert "plots/learning_curve.png" in before["r001-t001"]["artifacts"]
    assert not (tmp_path / "unused").exists()
    # the artifacts went through the server to its own artifact root
    stored = list((tmp_path / "server-artifacts").rglob("model.ckpt"))
    assert len(stored) == 4
    shutil.rmtree(tmp_path / "server-artifacts")


def tiny_classifier():
    """A small Lightning model, as the evaluation step hands over (built here to stay fast)."""
    import lightning as L
    import torch

    class TinyClassifier(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(),
                                           torch.nn.Linear(8, 3))  # fmt: skip

        def forward(self, x):
            return self.net(x)

    torch.manual_seed(0)
    return TinyClassifier().eval()


@pytest.mark.slow
def test_best_model_is_registered_and_predicts(sweep):
    import mlflow
    import mlflow.pytorch
    import numpy as np
    import torch

    from snakesweep.tracking import track_final

    root, config = sweep
    uri = config["tracking"]["uri"]
    runs = track_all(root, config)
    summary = root / "summary.md"
    summary.write_text("# Sweep\n")
    model = tiny_classifier()
    example = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    test = {
        "trial": "r002-t000",
        "refit": "train_val",
        "metrics": {"test/acc": 0.9, "test/loss": 0.3},
    }
    sweep_dir = root / "results" / config["sweep"]
    args = (
        load_sweep(config, sweep_dir.parent),
        test,
        root / "results" / "art",
        [summary],
        model,
        example,
        "digest-1",
    )
    first = track_final(*args)
    again = track_final(*args)  # e.g. snakemake --forcerun track_final
    assert again == first and first["parent_run_id"] == runs["parent_run_id"]
    assert first["model"]["name"] == "fake" and first["model"]["version"] == 1
    client = client_for(uri)
    assert len(client.search_model_versions("name = 'fake'")) == 1
    version = client.get_model_version("fake", "1")
    assert version.tags["test/acc"] == "0.9" and version.tags["trial"] == "r002-t000"
    parent = client.get_run(first["parent_run_id"])
    assert parent.data.metrics["test/acc"] == 0.9
    assert len(client.get_metric_history(parent.info.run_id, "test/acc")) == 1
    assert "report/summary.md" in {
        f.path for f in client.list_artifacts(parent.info.run_id, "report")
    }
    mlflow.set_tracking_uri(uri)
    loaded = mlflow.pytorch.load_model("models:/fake/1")
    with torch.no_grad():
        expected = model(torch.as_tensor(example))
        assert torch.allclose(loaded(torch.as_tensor(example)), expected)
    info = mlflow.models.get_model_info("models:/fake/1")
    assert list(info.signature.inputs.to_dict()[0]["tensor-spec"]["shape"]) == [-1, 4]
    assert list(info.signature.outputs.to_dict()[0]["tensor-spec"]["shape"]) == [-1, 3]
    # a new best model (another digest) becomes version 2
    assert track_final(*args[:-1], "digest-2")["model"]["version"] == 2


def test_a_trial_logs_its_epochs_to_the_server_while_it_trains(tmp_path, mlflow_server):
    """With a tracking server the trial's run exists and holds each epoch's metrics before the
    trial ends; tracking its round completes that same run, without logging an epoch twice."""
    from conftest import TINY_SWEEP

    from snakesweep.config import load_config
    from snakesweep.history import read_trials
    from snakesweep.tracking import LIVE_TAG
    from snakesweep.trial import run_trial

    config = load_config(
        {**TINY_SWEEP, "space": {**TINY_SWEEP["space"], "max_epochs": 3},
         "tracking": {"uri": mlflow_server}}
    )  # fmt: skip
    trial_dir = tmp_path / "results" / "tiny" / "trials" / "r000-t000"
    proposal = {"trial": "r000-t000", "seed": 3, "params": {"lr": 0.01, "hidden_units": 8,
                "activation": "relu", "optimizer": "adam", "max_epochs": 3, "n_layers": 1,
                "batch_size": 64}}  # fmt: skip
    record = run_trial(proposal, 0, sweep_of(config), trial_dir)
    assert record["status"] == "ok"
    client = client_for(mlflow_server)
    experiment = client.get_experiment_by_name("tiny").experiment_id
    (live,) = client.search_runs([experiment], f"tags.`{TRIAL_TAG}` = 'r000-t000'")
    assert live.data.tags[LIVE_TAG] == "1"
    points = client.get_metric_history(live.info.run_id, "val/loss")
    assert [point.step for point in points] == [0, 1, 2]
    finished_ms = (trial_dir / "metrics.json").stat().st_mtime * 1000
    assert all(point.timestamp < finished_ms for point in points)
    table = read_trials([trial_dir / "metrics.json"])
    runs = track_round(sweep_of(config, tmp_path / "results"), table, 0, tmp_path / "unused")
    assert runs["trial_runs"]["r000-t000"] == live.info.run_id
    assert len(client.get_metric_history(live.info.run_id, "val/loss")) == 3
    assert (
        client.get_run(live.info.run_id).data.tags["mlflow.parentRunId"] == (runs["parent_run_id"])
    )


def test_a_new_local_store_is_a_copy_of_the_machines_empty_store(tmp_path, monkeypatch):
    """The first store on a machine migrates an empty database into the cache; every later store
    is a copy of it that MLflow opens as is, with its Default experiment in its own folder."""
    from snakesweep.tracking import _client

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    stores = []
    for name in ("one", "two"):
        workdir = tmp_path / name
        (workdir / "results").mkdir(parents=True)
        monkeypatch.chdir(workdir)
        uri = f"sqlite:///{workdir}/results/mlflow.db"
        _client(uri).create_experiment(f"sweep-{name}")
        stores.append(client_for(uri))
        assert not list((workdir / "results").glob(".*part"))  # no temporary file left
    templates = list((tmp_path / "cache" / "snakesweep").iterdir())
    assert [t.name for t in templates] == [f"mlflow-{mlflow_version()}-empty.db"]
    for name, client in zip(("one", "two"), stores, strict=True):
        assert sorted(e.name for e in client.search_experiments()) == ["Default", f"sweep-{name}"]
        default = client.get_experiment("0").artifact_location
        assert default.startswith(str(tmp_path / name)), default
    # the template itself holds no experiment (read with sqlite: MLflow would add its Default)
    with contextlib.closing(sqlite3.connect(templates[0])) as template:
        assert template.execute("select count(*) from experiments").fetchone() == (0,)


def test_a_store_is_made_in_place_where_the_cache_cannot_be_written(tmp_path, monkeypatch):
    from snakesweep.tracking import _client

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    _client(uri).create_experiment("sweep")
    assert sorted(e.name for e in client_for(uri).search_experiments()) == ["Default", "sweep"]


def test_a_local_store_syncs_at_checkpoints_not_at_every_commit(tmp_path, monkeypatch):
    """A round's ~60 commits each waited for the disk; a local store is now in write-ahead-log
    mode, which the file keeps (a reader such as `mlflow ui` opens it so), and this process's
    connections to it sync at checkpoints. A store made by an earlier version is converted."""
    from snakesweep.tracking import _client

    monkeypatch.chdir(tmp_path)
    old = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(old)) as database:
        database.execute("create table kept (x)")
    for path in (tmp_path / "mlflow.db", old):
        uri = f"sqlite:///{path}"
        client = _client(uri)
        with contextlib.closing(sqlite3.connect(path)) as database:
            assert database.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        if path != old:
            client.create_experiment("sweep")
            with client._tracking_client.store.engine.connect() as connection:
                synchronous = connection.exec_driver_sql("PRAGMA synchronous").scalar()
            assert synchronous == 1  # NORMAL (the default, FULL, is 2)
            assert [e.name for e in client_for(uri).search_experiments()] == ["sweep", "Default"]


def test_a_store_on_a_network_filesystem_is_known_by_its_deepest_mount():
    """Processes on other hosts do not share a write-ahead log's index: a store under a network
    mount keeps its journal mode."""
    from snakesweep.tracking import on_network_filesystem

    mounts = "\n".join(
        [
            "overlay / overlay rw,relatime 0 0",
            "server:/home /home nfs4 rw,relatime 0 0",
            "/dev/sda1 /home/me/local ext4 rw 0 0",
            "server:/lab /mnt/lab\\040data lustre rw 0 0",
        ]
    )
    assert not on_network_filesystem(Path("/work/results/mlflow.db"), mounts)
    assert on_network_filesystem(Path("/home/me/results/mlflow.db"), mounts)
    assert not on_network_filesystem(Path("/home/me/local/mlflow.db"), mounts)
    assert on_network_filesystem(Path("/mnt/lab data/mlflow.db"), mounts)
    assert not on_network_filesystem(Path("/home2/mlflow.db"), mounts)


def mlflow_version() -> str:
    import mlflow

    return mlflow.__version__


def test_a_damaged_empty_store_in_the_cache_is_replaced(tmp_path, monkeypatch):
    from snakesweep.tracking import _client

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    template = tmp_path / "cache" / "snakesweep" / f"mlflow-{mlflow_version()}-empty.db"
    template.parent.mkdir(parents=True)
    template.write_bytes(b"not a database")
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    _client(uri).create_experiment("sweep")
    assert sorted(e.name for e in client_for(uri).search_experiments()) == ["Default", "sweep"]
    assert not template.exists() or template.read_bytes() != b"not a database"


def test_only_a_round_tracked_beside_training_yields_the_cpu(tmp_path):
    """Rounds before the last are tracked beside the next round's training (nice 10); the
    last, beside the jobs that wait for it, and a sweep of table lookups do not yield."""
    from conftest import REPO

    def sweep_of_file(name: str):
        return load_sweep(yaml.safe_load((REPO / "config" / name).read_text()), tmp_path)

    trains = sweep_of_file("config.yaml")
    niceness = [tracking_niceness(trains, index) for index in range(trains.rounds)]
    assert niceness == [10] * (trains.rounds - 1) + [0]
    lookups = sweep_of_file("sweeps/tabular_car.yaml")
    assert {tracking_niceness(lookups, index) for index in range(lookups.rounds)} == {0}


def test_a_round_tracked_once_every_trial_has_trained_does_not_yield(tmp_path):
    """Tracking runs up to a round behind: a track job that starts when the last round's trials
    have all finished, or when a stop rule ended the sweep, runs beside no training."""
    from conftest import REPO

    sweep = load_sweep(yaml.safe_load((REPO / "config" / "config.yaml").read_text()), tmp_path)
    files = sweep.paths

    def propose(index: int, trials: list[str], stopped: str | None = None) -> None:
        write_json(
            files.rounds(index), {"trials": [{"trial": t} for t in trials], "stopped": stopped}
        )

    for index in range(sweep.rounds - 1):
        propose(index, [f"r{index:03d}-t000"])
    assert tracking_niceness(sweep, 1) == 10  # the last round is not proposed yet
    propose(sweep.rounds - 1, ["r003-t000", "r003-t001"])
    write_json(files.metrics("r003-t000"), {"status": "ok"})
    assert tracking_niceness(sweep, 1) == 10  # one of its trials still trains
    write_json(files.metrics("r003-t001"), {"status": "ok"})
    assert [tracking_niceness(sweep, index) for index in range(sweep.rounds)] == [0] * sweep.rounds
    files.rounds(sweep.rounds - 1).unlink()
    propose(1, [], stopped="patience")  # a stop rule ended the sweep at round 1
    assert tracking_niceness(sweep, 0) == 0
