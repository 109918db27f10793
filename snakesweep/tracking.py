"""MLflow as a view of the result files: an experiment per sweep, a parent run, a child per trial.

Files are the truth. Tracking is idempotent: the parent run is found by its `snakesweep.role`
tag, a trial's run by its `snakesweep.trial` tag and re-logged only when the trial's files
changed (their digest is the run's last tag, so a run left half-written by a crash is redone);
per-round series on the parent are logged once per step and the parent is rebuilt when the
files say something else (e.g. a retrained trial changed the best-so-far). Deleting the store
and tracking again rebuilds the same experiment.

Ownership: one experiment per sweep name, but every run and registered model carries the sweep
*instance* (`snakesweep.instance`: a hash of the results folder's absolute path and its
sweep.yaml), and only runs of this instance are ever found, replaced or deleted. Two people
running a sweep of the same name on one server keep their own runs, and the second registers
its model as `<sweep>-<instance>` instead of adding versions to the first one's. Artifacts are
never deleted: an experiment missing from the store (a deleted store, a changed tracking.uri)
is created again beside the old runs' artifacts, which another store may still reference.

Concurrency: for a sqlite store every writer takes an exclusive lock file beside the database
for the whole of its work, and "database is locked" (a reader such as `mlflow ui` holding the
file) is retried, so parallel writers neither lose data nor show the error.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import logging
import math
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from snakesweep.cluster import is_lookup
from snakesweep.paths import SweepPaths
from snakesweep.provenance import facts
from snakesweep.redaction import redact

if TYPE_CHECKING:
    from snakesweep.sweep import Sweep

log = logging.getLogger(__name__)

TRIAL_TAG = "snakesweep.trial"
# A trial's run created by the trial itself as it trains (tracking server only): completed,
# not replaced, when its round is tracked.
LIVE_TAG = "snakesweep.live"
ROLE_TAG = "snakesweep.role"
HASH_TAG = "snakesweep.files_sha256"
CONFIG_HASH_TAG = "snakesweep.config_sha256"
INSTANCE_TAG = "snakesweep.instance"
BEST_METRIC = "best_objective"
# MLflow's UI opens an experiment of this kind on its training runs (not the GenAI pages).
KIND_TAG, KIND = "mlflow.experimentKind", "custom_model_development"
# Parent params: what a sweep is (never changes for a sweep, so MLflow's immutable params fit).
PARENT_PARAMS = ("seed", "strategy", "objective", "direction", "trials_per_round")
RETRIES = 8
# Filesystems on which a sqlite store keeps its rollback journal: the write-ahead log's index is
# shared memory, which processes on different hosts (a login node's `mlflow ui`) do not share.
NETWORK_FILESYSTEMS = {
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "lustre", "gpfs", "beegfs", "ceph", "glusterfs",
    "afs", "9p", "panfs", "wekafs", "fuse.sshfs",
}  # fmt: skip

T = TypeVar("T")


# -- the store ------------------------------------------------------------------------------


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI (relative or absolute), else None."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///").split("?", 1)[0])


def is_remote(uri: str) -> bool:
    return uri.startswith(("http://", "https://", "databricks"))


@contextlib.contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Hold an exclusive lock beside a sqlite store while writing to it, and leave what was
    written in the database file itself (no-op for a server: it serialises itself)."""
    path = sqlite_path(uri)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
            _fold_write_ahead_log(path)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fold_write_ahead_log(path: Path) -> None:
    """Copy a store's write-ahead log into its database file and empty it: a job's process ends
    without closing its connections (which would do so), and a copy of the .db file alone, or
    an older MLflow reading it, must find every run. A reader holding the log leaves part of it
    for the next writer."""
    with (
        contextlib.suppress(sqlite3.Error),
        contextlib.closing(sqlite3.connect(path, timeout=0.5)) as database,
    ):
        if database.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            database.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def is_locked_error(error: BaseException) -> bool:
    return "database is locked" in str(error) or "database table is locked" in str(error)


def with_retries(work: Callable[[], T], retries: int = RETRIES, wait_s: float = 0.5) -> T:
    """Run `work`, again after a growing pause while sqlite says the database is locked.

    Safe because tracking is idempotent: a repeated attempt finishes what the failed one began.
    """
    for attempt in range(retries):
        try:
            return work()
        except Exception as error:
            if not is_locked_error(error) or attempt == retries - 1:
                raise
            log.warning("MLflow store busy (%s); retrying in %.1f s", error, wait_s)
            time.sleep(wait_s)
            wait_s = min(wait_s * 2, 8.0)
    raise AssertionError("unreachable")


def _client(tracking_uri: str):
    from mlflow.tracking import MlflowClient

    if redact(tracking_uri) != tracking_uri:  # MLflow prints "View run at: <uri>" otherwise
        os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"

    _create_sqlite_store(tracking_uri)
    path = sqlite_path(tracking_uri)
    if path is not None:
        _use_write_ahead_log(path)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def on_network_filesystem(path: Path, mounts: str | None = None) -> bool:
    """Whether `path` lies on a network filesystem: the type of the deepest mount point above it
    in `mounts` (the text of /proc/self/mounts, read when not given); False where there is no
    such table (not Linux)."""
    if mounts is None:
        try:
            mounts = Path("/proc/self/mounts").read_text()
        except OSError:
            return False
    target = str(Path(os.path.abspath(path)))
    deepest, kind = "", ""
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        # a blank in a mount point is written as octal: \040
        point = re.sub(r"\\([0-7]{3})", lambda code: chr(int(code[1], 8)), fields[1])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(deepest):
            deepest, kind = point, fields[2]
    return kind in NETWORK_FILESYSTEMS


def _use_write_ahead_log(path: Path) -> None:
    """Put a local sqlite store in write-ahead-log mode (kept in the file), and have this
    process's connections to it sync at checkpoints instead of at every commit: a round's
    tracking makes ~60 commits, which cost ~0.5 s of waiting for the disk in the default journal
    mode. A crash of the machine may then lose the last commits, never the database (which the
    result files can rebuild). A store on a network filesystem keeps its journal mode; one in
    use elsewhere, too (tried again next time)."""
    import sqlalchemy

    if not sqlalchemy.event.contains(sqlalchemy.engine.Engine, "connect", _sync_at_checkpoints):
        sqlalchemy.event.listen(sqlalchemy.engine.Engine, "connect", _sync_at_checkpoints)
    if not path.exists() or on_network_filesystem(path):
        return
    with (
        contextlib.suppress(sqlite3.Error),
        contextlib.closing(sqlite3.connect(path, timeout=0.5)) as database,
    ):
        if database.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            database.execute("PRAGMA journal_mode=WAL")


def _sync_at_checkpoints(connection, _record) -> None:
    """SQLAlchemy's hook on every new connection: a sqlite store in write-ahead-log mode syncs at
    checkpoints (synchronous=NORMAL, safe in that mode), any other keeps its setting."""
    if isinstance(connection, sqlite3.Connection):
        cursor = connection.cursor()
        if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def _create_sqlite_store(tracking_uri: str) -> None:
    """A new local store appears whole: it is made in a temporary file that is then renamed, so
    a run killed meanwhile leaves no half-made database that every later run would fail on
    ("table _alembic_tmp_experiments already exists"). Its tables come from a copy of an empty
    database this MLflow version migrated once on this machine (`_empty_store`): migrating
    costs seconds of CPU, a copy milliseconds."""
    path = Path(tracking_uri.removeprefix("sqlite:///"))
    if not tracking_uri.startswith("sqlite:///") or path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    partial.unlink(missing_ok=True)
    template = _empty_store()
    if template is not None:
        import sqlalchemy
        from mlflow.exceptions import MlflowException

        shutil.copyfile(template, partial)
        try:
            _open_stores(partial)  # verifies the copy's schema, adds MLflow's Default experiment
        except (sqlalchemy.exc.SQLAlchemyError, MlflowException) as error:
            log.warning(
                "damaged empty MLflow database %s (%s): removed (the next new store makes it "
                "again); this store is migrated in place",
                template,
                error,
            )
            template.unlink(missing_ok=True)
            partial.unlink()
            # another name: MLflow keeps an engine per database URI, still on the damaged copy
            partial = partial.with_name(f"{partial.name}.fresh")
            partial.unlink(missing_ok=True)
            template = None
    if template is None:
        _open_stores(partial)
    os.replace(partial, path)


def _open_stores(path: Path) -> None:
    """Open (creating its tables if missing) the tracking and registry stores of a database."""
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking import DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    uri = f"sqlite:///{path}"
    for store in (SqlAlchemyStore(uri, DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH), RegistryStore(uri)):
        store.engine.dispose()


def _empty_store() -> Path | None:
    """An MLflow database with every table and no experiment, made once per MLflow version
    under ~/.cache/snakesweep/ ($XDG_CACHE_HOME); None where that folder cannot be written."""
    import mlflow
    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables

    try:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "snakesweep"
    except RuntimeError:  # no home folder (some batch jobs and containers)
        return None
    template = cache / f"mlflow-{mlflow.__version__}-empty.db"
    if template.exists():
        return template
    partial = cache / f".{template.name}.{os.getpid()}.part"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        engine = sqlalchemy.create_engine(f"sqlite:///{partial}")
        try:
            _initialize_tables(engine)
        finally:
            engine.dispose()
        os.replace(partial, template)
    except (OSError, sqlalchemy.exc.SQLAlchemyError) as error:
        log.warning("no cached empty MLflow database (%s): the store is migrated in place", error)
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        return None
    return template


def instance_of(sweep_dir: Path) -> str:
    """Which copy of a sweep this is: its results folder (absolute path) and its sweep.yaml."""
    frozen = SweepPaths(sweep_dir).sweep_yaml
    content = frozen.read_bytes() if frozen.exists() else b""
    return hashlib.sha256(str(sweep_dir.resolve()).encode() + b"\0" + content).hexdigest()[:16]


def experiment_id(client, sweep: str, artifact_root: Path | None) -> str:
    """The sweep's experiment, created on first use (restored if it was deleted in the UI).

    With a local store, artifacts go to artifact_root/<sweep> (each run in its own folder); what
    is there already stays: another store may still reference it. A server (artifact_root None)
    keeps its own. Trials that start together on a server may race to create it: the loser
    takes the winner's.
    """
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(sweep)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            client.restore_experiment(experiment.experiment_id)
        if experiment.tags.get(KIND_TAG) != KIND:
            client.set_experiment_tag(experiment.experiment_id, KIND_TAG, KIND)
        return experiment.experiment_id
    tags = {ROLE_TAG: "sweep", KIND_TAG: KIND}
    location = None if artifact_root is None else (artifact_root / sweep).resolve().as_uri()
    try:
        return client.create_experiment(sweep, artifact_location=location, tags=tags)
    except MlflowException:
        experiment = client.get_experiment_by_name(sweep)
        if experiment is None:
            raise
        return experiment.experiment_id


def _find_runs(client, experiment: str, instance: str, tag: str, value: str) -> list:
    """This instance's runs with `tag` = `value` (runs of other instances are never touched)."""
    runs = client.search_runs(
        [experiment],
        filter_string=f"tags.`{tag}` = '{value}' and tags.`{INSTANCE_TAG}` = '{instance}'",
        max_results=1000,
    )
    return sorted(runs, key=lambda run: (run.info.start_time or 0, run.info.run_id))


# -- the sweep's parent run -----------------------------------------------------------------


def digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def files_digest(paths: list[Path]) -> str:
    hashed = hashlib.sha256()
    for path in paths:
        if path.exists():
            hashed.update(path.name.encode() + b"\0" + path.read_bytes())
    return hashed.hexdigest()


def parent_params(sweep: Sweep) -> dict:
    return {
        "seed": sweep.seed,
        "strategy": sweep.search.strategy,
        "objective": sweep.objective.metric,
        "direction": sweep.objective.direction,
        "trials_per_round": sweep.budget["trials_per_round"],
    }


def _create_parent(client, experiment: str, instance: str, sweep: Sweep, provenance: dict) -> str:
    """A new parent run with the sweep's params and tags (`provenance`: provenance.facts)."""
    from mlflow.entities import Param

    commit = provenance["snakesweep"]["git"]["commit"]
    tags = {ROLE_TAG: "sweep", INSTANCE_TAG: instance, "mlflow.runName": sweep.name}
    if commit:
        tags["mlflow.source.git.commit"] = commit
    run = client.create_run(experiment, run_name=sweep.name, tags=tags)
    run_id = run.info.run_id
    params = [Param(name, str(value)) for name, value in parent_params(sweep).items()]
    client.log_batch(run_id, params=params)
    return run_id


def _log_sweep_files(client, run_id: str, sweep: Sweep, provenance: dict) -> None:
    """config, space, search strategy and provenance as artifacts (overwritten when changed)."""
    config = dict(sweep.config)
    client.log_dict(run_id, redact(config), "sweep/config.yaml")
    client.log_dict(run_id, config["space"], "sweep/space.yaml")
    client.log_dict(run_id, {**config["search"], "seed": sweep.seed}, "sweep/search.yaml")
    client.log_dict(run_id, provenance, "sweep/provenance.yaml")
    client.set_tag(run_id, CONFIG_HASH_TAG, digest(config))


def open_sweep(sweep: Sweep, artifact_root: Path, workflow_dir: Path, instance: str) -> tuple:
    """(client, experiment id, parent run id) of the sweep instance, created on first use."""
    uri = sweep.tracking["uri"]
    client = _client(uri)
    experiment = experiment_id(client, sweep.name, None if is_remote(uri) else artifact_root)
    return client, experiment, parent_run(client, experiment, instance, sweep, workflow_dir)


def parent_run(client, experiment: str, instance: str, sweep: Sweep, workflow_dir: Path) -> str:
    """The instance's parent run: found by tag (duplicates from a crash removed), else created."""
    runs = _find_runs(client, experiment, instance, ROLE_TAG, "sweep")
    for extra in runs[1:]:
        client.delete_run(extra.info.run_id)
    if not runs:
        return _new_parent(client, experiment, instance, sweep, workflow_dir)
    run_id = runs[0].info.run_id
    if runs[0].data.tags.get(CONFIG_HASH_TAG) != digest(dict(sweep.config)):
        _log_sweep_files(client, run_id, sweep, facts(workflow_dir))
    return run_id


def _new_parent(client, experiment: str, instance: str, sweep: Sweep, workflow_dir: Path) -> str:
    """A new parent run with its params, tags and set-up artifacts."""
    provenance = facts(workflow_dir)  # git and every installed package: read once for both
    run_id = _create_parent(client, experiment, instance, sweep, provenance)
    _log_sweep_files(client, run_id, sweep, provenance)
    return run_id


def round_series(table: pd.DataFrame, direction: str, upto: int) -> dict[str, dict[int, float]]:
    """Per-round values logged on the parent: best objective so far, trials finished and failed
    so far. Steps are round indices; rounds before the first success have no best."""
    series: dict[str, dict[int, float]] = {BEST_METRIC: {}, "trials_ok": {}, "trials_failed": {}}
    for round_index in range(upto + 1):
        seen = table[table["round"] <= round_index]
        if seen.empty:
            continue
        ok = seen[(seen["status"] == "ok") & pd.to_numeric(seen["objective"]).notna()]
        series["trials_ok"][round_index] = float(len(ok))
        series["trials_failed"][round_index] = float(len(seen) - len(ok))
        if not ok.empty:
            objective = pd.to_numeric(ok["objective"])
            best = objective.min() if direction == "minimize" else objective.max()
            series[BEST_METRIC][round_index] = float(best)
    return series


def _logged(client, run_id: str, name: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in client.get_metric_history(run_id, name)]


def _series_fit(client, run_id: str, series: dict[str, dict[int, float]], upto: int) -> bool:
    """Whether the parent's series agree with the files up to round `upto`: no repeated step, no
    value the files contradict (later rounds are checked when they are tracked)."""
    for name, values in series.items():
        logged = _logged(client, run_id, name)
        steps = [step for step, _ in logged]
        if len(steps) != len(set(steps)):
            return False
        if any(values.get(step) != value for step, value in logged if step <= upto):
            return False
    return True


def log_round_series(
    client,
    experiment: str,
    instance: str,
    parent: str,
    series: dict[str, dict[int, float]],
    sweep: Sweep,
    workflow_dir: Path,
    timestamps: dict[int, int],
    upto: int,
) -> str:
    """Log the steps the parent lacks; when it holds values the files contradict, replace the
    parent (children are re-attached) so MLflow never shows two values for one round."""
    from mlflow.entities import Metric

    if not _series_fit(client, parent, series, upto):
        old = parent
        parent = _new_parent(client, experiment, instance, sweep, workflow_dir)
        mine = f"tags.`{TRIAL_TAG}` != '' and tags.`{INSTANCE_TAG}` = '{instance}'"
        for run in client.search_runs([experiment], filter_string=mine, max_results=50000):
            client.set_tag(run.info.run_id, "mlflow.parentRunId", parent)
        client.delete_run(old)
    metrics = []
    for name, values in series.items():
        done = {step for step, _ in _logged(client, parent, name)}
        metrics += [
            Metric(name, value, timestamps.get(step, 0), step)
            for step, value in sorted(values.items())
            if step not in done
        ]
    for start in range(0, len(metrics), 1000):
        client.log_batch(parent, metrics=metrics[start : start + 1000])
    return parent


# -- one child run per trial ----------------------------------------------------------------


def _metric_batch(history: pd.DataFrame, final: dict, timestamp: int) -> list:
    """Per-epoch metrics (step = epoch) and the final ones under `final/`."""
    from mlflow.entities import Metric

    metrics = []
    for _, row in history.iterrows():
        step = int(row["epoch"])
        for name, value in row.items():
            if name != "epoch" and pd.notna(value) and math.isfinite(float(value)):
                metrics.append(Metric(str(name), float(value), timestamp, step))
    for name, value in final.items():
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            metrics.append(Metric(f"final/{name}", float(value), timestamp, 0))
    return metrics


def _read_history(path: Path) -> pd.DataFrame:
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame(columns=["epoch"])
    frame = pd.read_csv(path)
    return frame if "epoch" in frame else pd.DataFrame(columns=["epoch"])


def track_trial(
    client, experiment: str, instance: str, parent: str, trial_dir: Path, curve: Path | None = None
) -> str:
    """Log one trial's files as a child run; keep the existing run when they are unchanged.

    `curve`: the trial's learning-curve PNG (snakesweep.report.plots), logged under plots/."""
    from mlflow.entities import Param, RunTag

    record = json.loads((trial_dir / "metrics.json").read_text())
    files = [trial_dir / "metrics.json", trial_dir / "history.csv"]
    files_hash = files_digest(files)
    existing = _find_runs(client, experiment, instance, TRIAL_TAG, record["trial"])
    if existing and existing[0].data.tags.get(HASH_TAG) == files_hash:
        for extra in existing[1:]:
            client.delete_run(extra.info.run_id)
        if existing[0].data.tags.get("mlflow.parentRunId") != parent:
            client.set_tag(existing[0].info.run_id, "mlflow.parentRunId", parent)
        return existing[0].info.run_id
    live = [r for r in existing if r.data.tags.get(LIVE_TAG) and HASH_TAG not in r.data.tags]
    kept = live[-1] if live else None
    for run in existing:
        if run is not kept:
            client.delete_run(run.info.run_id)
    end_ms = int((trial_dir / "metrics.json").stat().st_mtime * 1000)
    duration_s = float(record.get("duration_s") or 0.0)
    if kept is not None:  # the run the trial logged its epochs to while it trained
        run_id = kept.info.run_id
        client.set_tag(run_id, "mlflow.parentRunId", parent)
    else:
        # the tag that finds this run goes in first: a crash below leaves a run that is redone
        run_id = client.create_run(
            experiment,
            start_time=end_ms - int(duration_s * 1000),
            run_name=record["trial"],
            tags={
                "mlflow.parentRunId": parent,
                TRIAL_TAG: record["trial"],
                INSTANCE_TAG: instance,
            },
        ).info.run_id
    history = _read_history(trial_dir / "history.csv")
    final = {
        **record.get("metrics", {}),
        "objective": record.get("objective"),
        "duration_s": duration_s,
        "round": record["round"],
    }
    tags = {
        "round": str(record["round"]),
        "status": record["status"],
        "error": str(record.get("error") or "")[:5000],
        "seed": str(record["seed"]),
    }
    params = [Param(name, str(value)[:6000]) for name, value in record["params"].items()]
    metrics = _metric_batch(history, final, end_ms)
    if kept is not None:
        logged = {
            (name, point.step)
            for name in {metric.key for metric in metrics}
            for point in client.get_metric_history(run_id, name)
        }
        metrics = [metric for metric in metrics if (metric.key, metric.step) not in logged]
    client.log_batch(run_id, params=params, tags=[RunTag(k, v) for k, v in tags.items()])
    for start in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[start : start + 1000])
    for path in [*files, trial_dir / "model.ckpt"]:
        if path.exists():
            client.log_artifact(run_id, str(path))
    if curve is not None and curve.exists():
        client.log_artifact(run_id, str(curve), "plots")
    client.set_terminated(run_id, "FINISHED" if record["status"] == "ok" else "FAILED", end_ms)
    client.set_tag(run_id, HASH_TAG, files_hash)
    return run_id


def live_trial_run(sweep: Sweep, trial_dir: Path, params: dict) -> Callable[[dict], None] | None:
    """With a tracking server, the trial's run as it starts, and a function that logs one epoch's
    history row to it; None with a local store (its writers take turns, once per round).

    Tracking never fails a trial: a server that cannot be reached is a warning in the log."""
    uri = sweep.tracking["uri"]
    if not is_remote(uri):
        return None
    from mlflow.entities import Metric, Param

    trial = trial_dir.name
    try:
        client = _client(uri)
        experiment = experiment_id(client, sweep.name, None)
        instance = instance_of(SweepPaths.of_trial_dir(trial_dir).root)
        tags = {TRIAL_TAG: trial, LIVE_TAG: "1", INSTANCE_TAG: instance}
        parents = _find_runs(client, experiment, instance, ROLE_TAG, "sweep")
        if parents:
            tags["mlflow.parentRunId"] = parents[0].info.run_id
        run_id = client.create_run(experiment, run_name=trial, tags=tags).info.run_id
        client.log_batch(run_id, params=[Param(k, str(v)[:6000]) for k, v in params.items()])
    except Exception as error:
        log.warning("live tracking of %s is off: %s", trial, error)
        return None

    def log_epoch(row: dict) -> None:
        stamp = int(time.time() * 1000)
        metrics = [
            Metric(name, float(value), stamp, int(row["epoch"]))
            for name, value in row.items()
            if name != "epoch" and math.isfinite(float(value))
        ]
        try:
            client.log_batch(run_id, metrics=metrics)
        except Exception as error:
            log.warning("could not log epoch %s of %s to MLflow: %s", row["epoch"], trial, error)

    return log_epoch


# -- a round ----------------------------------------------------------------------------------


def _round_timestamps(table: pd.DataFrame, files: SweepPaths) -> dict[int, int]:
    """When each round finished, from its trials' files (so a rebuild logs the same times)."""
    stamps: dict[int, int] = {}
    for trial, round_index in zip(table["trial"], table["round"], strict=True):
        path = files.metrics(str(trial))
        if path.exists():
            stamp = int(path.stat().st_mtime * 1000)
            stamps[int(round_index)] = max(stamps.get(int(round_index), 0), stamp)
    return stamps


def training_finished(sweep: Sweep) -> bool:
    """Whether the sweep has no trial left to train: its last round's trials all have their
    metrics, or a round's proposals stopped it (a stop rule)."""
    from snakesweep.outputs import read_json

    files = sweep.paths
    for index in range(sweep.rounds):
        if not files.rounds(index).exists():
            return False
        proposals = read_json(files.rounds(index))
        if proposals.get("stopped"):
            return True
    return all(files.metrics(trial["trial"]).exists() for trial in proposals["trials"])


def tracking_niceness(sweep: Sweep, round_index: int) -> int:
    """How much a round's track job yields the CPU (its `os.nice` increment): a round is tracked
    beside the next round's training, and on a machine short of cores the training goes first.
    The last round is tracked beside the sweep's last jobs, which wait for it, and so is a round
    whose track job starts once every trial has trained (tracking runs up to a round behind); a
    lookup in a table trains nothing: none of them yields."""
    trains_beside = (
        round_index < sweep.rounds - 1 and not is_lookup(sweep) and not training_finished(sweep)
    )
    return 10 if trains_beside else 0


def track_round(
    sweep: Sweep,
    table: pd.DataFrame,
    round_index: int,
    artifact_root: Path,
    workflow_dir: Path | None = None,
    curves: dict[str, Path] | None = None,
) -> dict:
    """Mirror one round into MLflow: its trials' child runs and the parent's per-round series.

    `table` is the cumulative trials table after the round; `curves` the round's learning-curve
    PNGs by trial. Returns the experiment and run ids.
    """
    uri = sweep.tracking["uri"]
    workflow_dir = workflow_dir or Path(__file__).resolve().parent.parent
    files = sweep.paths
    instance = instance_of(files.root)

    def work() -> dict:
        client, experiment, parent = open_sweep(sweep, artifact_root, workflow_dir, instance)
        series = round_series(table, sweep.objective.direction, round_index)
        parent = log_round_series(
            client, experiment, instance, parent, series, sweep, workflow_dir,
            _round_timestamps(table, files), round_index,
        )  # fmt: skip
        runs = {}
        for trial in trials:
            curve = (curves or {}).get(trial)
            runs[trial] = track_trial(
                client, experiment, instance, parent, files.trial_dir(trial), curve
            )
        latest = max((step for step, _ in _logged(client, parent, BEST_METRIC)), default=-1)
        if series[BEST_METRIC].get(round_index) is not None and round_index >= latest:
            from snakesweep.history import best_trial

            client.set_tag(
                parent, "best_trial", best_trial(table, sweep.objective.direction)["trial"]
            )
        return {"experiment_id": experiment, "parent_run_id": parent, "trial_runs": runs}

    import mlflow.tracking  # noqa: F401  (imported outside the lock that serialises writers)

    trials = list(table.loc[table["round"] == round_index, "trial"])
    with store_lock(uri):
        return with_retries(work)


# -- after the search: test metrics, report files and the registered best model ----------------


def _missing_metrics(client, run_id: str, values: dict[str, float], timestamp: int) -> list:
    """Metrics (step 0) the run doesn't hold yet with these values."""
    from mlflow.entities import Metric

    run = client.get_run(run_id)
    return [
        Metric(name, float(value), timestamp, 0)
        for name, value in values.items()
        if isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and run.data.metrics.get(name) != float(value)
    ]


def _pip_requirements() -> list[str]:
    """Pinned from the running environment (MLflow's own inference runs a slow subprocess)."""
    names = ("torch", "lightning", "torchmetrics", "mlflow", "numpy")
    pins = []
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            pins.append(f"{name}=={metadata.version(name).split('+')[0]}")
    return pins


def _code_paths(sweep: Sweep) -> list[str]:
    """The code a registered model needs where snakesweep is not installed: the snakesweep
    package, and the top-level package (or module) of a user's model.class_path unless it is an
    installed distribution. mlflow.pyfunc.load_model puts them on sys.path."""
    import importlib.util

    paths = [str(Path(__file__).resolve().parent)]
    class_path = sweep.model.get("class_path")
    spec = importlib.util.find_spec(class_path.split(".")[0]) if class_path else None
    if spec is not None and spec.origin and "site-packages" not in spec.origin:
        locations = list(spec.submodule_search_locations or [])
        paths.append(locations[0] if locations else spec.origin)
    return paths


def model_name(client, sweep: str, instance: str) -> str:
    """The registered model of a sweep instance: the sweep's name, unless another instance
    registered a model of that name first (then `<sweep>-<instance>`)."""
    from mlflow.exceptions import MlflowException

    try:
        owner = client.get_registered_model(sweep).tags.get(INSTANCE_TAG)
    except MlflowException:
        return sweep  # not registered yet
    return sweep if owner in (None, instance) else f"{sweep}-{instance}"


def register_best_model(
    client, instance: str, parent: str, sweep: Sweep, model, example, test: dict, digest_: str
) -> dict:
    """Log the best model on the parent run (signature, input example) and register it under the
    instance's model name, tagged with its test metrics; an identical version there is kept."""
    import mlflow
    import mlflow.pytorch
    from mlflow.models import infer_signature

    name = model_name(client, sweep.name, instance)
    versions = client.search_model_versions(f"name = '{name}'")
    for version in versions:
        if version.tags.get(HASH_TAG) == digest_ and version.run_id == parent:
            return {"name": name, "version": int(version.version), "source": version.source}
    import torch

    with torch.no_grad():
        output = model(torch.as_tensor(example)).float().numpy()
    signature = infer_signature(example, output)
    mlflow.set_tracking_uri(sweep.tracking["uri"])
    mlflow.set_registry_uri(sweep.tracking["uri"])
    # MLflow writes its warning about pickled models and "Successfully registered model",
    # "Created version" to stderr, i.e. the run's console: they go to the job's log.
    with contextlib.redirect_stderr(io.StringIO()) as said, mlflow.start_run(run_id=parent):
        info = mlflow.pytorch.log_model(
            model,
            name="best_model",
            signature=signature,
            input_example=example,
            pip_requirements=_pip_requirements(),
            code_paths=_code_paths(sweep),
            # The module itself, pickled, with the code it needs (code_paths): MLflow's default
            # graph export (pt2) traces the model first (~1 s of the sweep's last job) and
            # refuses a user's module that torch.export cannot trace.
            serialization_format="pickle",
            registered_model_name=name,
        )
    log.info("MLflow: %s", said.getvalue().strip())
    version = client.get_model_version(name, str(info.registered_model_version))
    client.set_registered_model_tag(name, INSTANCE_TAG, instance)
    tags = {HASH_TAG: digest_, INSTANCE_TAG: instance, "trial": str(test.get("trial"))}
    tags["refit"] = str(test.get("refit"))
    tags |= {key: str(value) for key, value in (test.get("metrics") or {}).items()}
    for key, value in tags.items():
        client.set_model_version_tag(name, version.version, key, value)
    client.update_model_version(
        name,
        version.version,
        description=f"Best configuration of sweep {name} (trial {test.get('trial')}), "
        f"test metrics: {test.get('metrics')}",
    )
    return {"name": name, "version": int(version.version), "source": version.source}


def track_final(
    sweep: Sweep,
    test: dict,
    artifact_root: Path,
    report_files: list[Path] = (),
    model=None,
    example=None,
    model_digest: str = "",
    workflow_dir: Path | None = None,
    timestamp_ms: int | None = None,
) -> dict:
    """After the search: test metrics on the parent run, summary.md and the plots as its
    artifacts, and (given `model`) the registered best model. Idempotent like track_round."""
    uri = sweep.tracking["uri"]
    workflow_dir = workflow_dir or Path(__file__).resolve().parent.parent
    instance = instance_of(sweep.paths.root)
    import mlflow.tracking  # noqa: F401

    def work() -> dict:
        client, experiment, parent = open_sweep(sweep, artifact_root, workflow_dir, instance)
        stamp = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
        metrics = _missing_metrics(client, parent, test.get("metrics") or {}, stamp)
        if metrics:
            client.log_batch(parent, metrics=metrics)
        if test.get("trial"):
            client.set_tag(parent, "test_trial", str(test["trial"]))
        for path in report_files:
            folder = "report/plots" if Path(path).suffix == ".png" else "report"
            client.log_artifact(parent, str(path), folder)
        result = {"experiment_id": experiment, "parent_run_id": parent, "model": None}
        if model is not None:
            result["model"] = register_best_model(
                client, instance, parent, sweep, model, example, test, model_digest
            )
        return result

    with store_lock(uri):
        return with_retries(work)
