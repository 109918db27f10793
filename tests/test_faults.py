"""Faults inside a trial end as a metrics.json with a status and a reason, never as a failed job;
faults of the machine (full disk, missing module) fail the job instead, and are retried."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import time

import pandas as pd
import pytest
import yaml
from conftest import run_snakemake, served_by_worker, sweep_for, write_config

from snakesweep.trial import MachineFault, machine_fault, run_trial, supervise


def test_supervise_returns_the_childs_result(tmp_path):
    assert (
        supervise(lambda: {"status": "ok", "pid": os.getpid()}, tmp_path / "r.json")["pid"]
        != os.getpid()
    )
    assert not (tmp_path / "r.json").exists()


def test_a_killed_child_is_a_failed_trial(tmp_path):
    def killed():
        os.kill(os.getpid(), signal.SIGKILL)
        return {}

    result = supervise(killed, tmp_path / "r.json")
    assert result["status"] == "failed"
    assert result["error"].startswith("killed:") and "SIGKILL" in result["error"]


def test_a_crashed_child_is_a_failed_trial(tmp_path):
    def crashed():
        os._exit(3)

    result = supervise(crashed, tmp_path / "r.json")
    assert result == {
        "status": "failed",
        "error": "crashed: the training process exited with code 3 and no result",
    }


def test_a_child_over_its_time_limit_is_killed(tmp_path):
    started = time.monotonic()
    result = supervise(lambda: time.sleep(30) or {}, tmp_path / "r.json", time_limit_s=0.5)
    assert time.monotonic() - started < 5
    assert result["status"] == "timeout" and result["error"].startswith("timeout:")
    assert "limits.trial_time_s" in result["error"]


def test_supervision_hands_back_the_result_and_cleans_up(tmp_path):
    """Its cost is measured in benchmarks/, not asserted here (timings vary by machine)."""
    result = supervise(lambda: {"status": "ok", "pid": os.getpid()}, tmp_path / "r.json")
    assert result["status"] == "ok" and result["pid"] != os.getpid()
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(
    ("fault", "status", "reason"),
    [
        ("raise", "failed", "RuntimeError: injected fault"),
        ("nan", "diverged", "diverged"),
        ("kill", "failed", "killed: the training process was killed by SIGKILL"),
    ],
)
def test_run_trial_records_every_fault(tmp_path, monkeypatch, fault, status, reason):
    """fit_trial replaced by a faulty one in the child (the real one is tested elsewhere)."""
    import snakesweep.train as train

    def faulty_fit(params, sweep, trial_dir, seed):
        if fault == "raise":
            raise RuntimeError("injected fault")
        if fault == "nan":
            raise train.DivergedError("train/loss is nan at epoch 0")
        os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setattr(train, "fit_trial", faulty_fit)
    proposal = {"trial": "r000-t000", "seed": 5, "params": {"lr": 0.1}}
    sweep = sweep_for({"objective": {"metric": "val/loss", "direction": "minimize"}})
    trial_dir = tmp_path / "trials" / "r000-t000"
    trial_dir.mkdir(parents=True)
    (trial_dir / "model.ckpt").write_text("stale, from an interrupted attempt")
    record = run_trial(proposal, 0, sweep, trial_dir)
    on_disk = json.loads((trial_dir / "metrics.json").read_text())
    assert on_disk == record
    assert record["status"] == status and reason in record["error"]
    assert record["objective"] is None and record["params"] == {"lr": 0.1}
    assert (trial_dir / "history.csv").exists()
    assert not (trial_dir / "model.ckpt").exists()


def test_machine_faults_are_told_from_the_trials_own():
    assert "disk failed" in machine_fault(OSError(errno.ENOSPC, "No space left on device"))
    assert "disk failed" in machine_fault(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert "lacks a module" in machine_fault(ModuleNotFoundError("No module named 'lightning'"))
    try:  # a library that wraps the disk's error in its own
        try:
            raise OSError(errno.EIO, "Input/output error")
        except OSError as error:
            raise RuntimeError("could not save the checkpoint") from error
    except RuntimeError as wrapped:
        assert "Input/output error" in machine_fault(wrapped)
    for own in (RuntimeError("injected"), ValueError("bad"), MemoryError(), FileNotFoundError()):
        assert machine_fault(own) is None


@pytest.mark.parametrize(
    "error", [ModuleNotFoundError("No module named 'x'"), OSError(errno.ENOSPC, "full")]
)
def test_a_machine_fault_is_not_recorded_as_a_trial(tmp_path, monkeypatch, error):
    import snakesweep.train as train

    def failing_fit(params, sweep, trial_dir, seed):
        raise error

    monkeypatch.setattr(train, "fit_trial", failing_fit)
    proposal = {"trial": "r000-t000", "seed": 5, "params": {"lr": 0.1}}
    sweep = sweep_for({"objective": {"metric": "val/loss", "direction": "minimize"}})
    trial_dir = tmp_path / "trials" / "r000-t000"
    with pytest.raises(MachineFault, match="r000-t000 stopped on a fault of the machine"):
        run_trial(proposal, 0, sweep, trial_dir)
    assert not (trial_dir / "metrics.json").exists()


def mount_tmpfs(path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" if not path.is_mount() else f"remount,size={size}"
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True)


FAULTY_SWEEP = {
    "sweep": "faults",
    "seed": 3,
    "objective": {"metric": "val/loss", "direction": "minimize"},
    "budget": {"rounds": 1, "trials_per_round": 4},
    "search": {"strategy": "grid"},
    "space": {
        "fault": {
            "type": "categorical",
            "choices": ["healthy", "exception", "nan_loss", "sigkill"],
        },
        "lr": 0.05,
        "max_epochs": 1,
        "batch_size": 64,
    },
    "data": {"name": "digits", "subset": 300},
    "model": {"class_path": "faulty_model.FaultyMLP"},
}


@pytest.mark.slow
def test_faulty_trials_are_recorded_and_the_sweep_completes(tmp_path):
    """Real Snakemake and Lightning: an exception, a NaN loss and a SIGKILLed training process,
    each trial trained in the warm worker."""
    configfile = write_config(tmp_path, FAULTY_SWEEP)
    result = run_snakemake(tmp_path, configfile)
    assert served_by_worker(tmp_path, "train_trial") == 4
    sweep = tmp_path / "results" / "faults"
    table = pd.read_csv(sweep / "trials.csv").set_index("fault")
    assert table.loc["healthy", "status"] == "ok" and table.loc["healthy", "objective"] > 0
    assert table.loc["exception", "status"] == "failed"
    assert "RuntimeError: injected fault" in table.loc["exception", "error"]
    assert table.loc["nan_loss", "status"] == "diverged"
    assert "train/loss is nan" in table.loc["nan_loss", "error"]
    assert table.loc["sigkill", "status"] == "failed"
    assert "killed by SIGKILL" in table.loc["sigkill", "error"]
    assert table.loc[["exception", "nan_loss", "sigkill"], "objective"].isna().all()
    assert "round 1/1: 1 ok, 3 failed" in result.stdout + result.stderr
    best = yaml.safe_load((sweep / "best.yaml").read_text())
    assert best["best"]["params"]["fault"] == "healthy"
    assert best["trials"] == {"ok": 1, "failed": 2, "diverged": 1}


def test_a_sweep_where_every_trial_failed_ends_with_its_report_and_exit_status_1(tmp_path):
    """No trial finished: the test-set steps write what they declare (saying why) and the
    report explains, instead of the workflow failing on missing outputs; the run then ends
    with one line naming the first trial's error and log, and exit status 1 (not success)."""
    config = {**FAULTY_SWEEP, "budget": {"rounds": 1, "trials_per_round": 2}}
    config["space"] = {
        **FAULTY_SWEEP["space"],
        "fault": {"type": "categorical", "choices": ["exception", "nan_loss"]},
    }
    result = run_snakemake(tmp_path, write_config(tmp_path, config), check=False)
    output = result.stdout + result.stderr
    sweep = tmp_path / "results" / "faults"
    assert result.returncode == 1 and "Traceback" not in output, output
    assert "round 1/1: 0 ok, 2 failed" in output
    assert (
        "snakesweep: every trial failed (2 of 2): r000-t000 failed: RuntimeError: injected "
        "fault (its log: logs/train/faults/r000-t000.log; the report: results/faults/summary.md)"
    ) in output
    assert json.loads((sweep / "test.json").read_text())["error"] == "no trial finished ok"
    assert json.loads((sweep / "ensemble.json").read_text())["members"] == []
    assert pd.read_csv(sweep / "test_predictions.csv").empty
    summary = (sweep / "summary.md").read_text()
    assert "No trial finished, so there is no best configuration" in summary
    assert (sweep / "plots" / "confusion_matrix.png").stat().st_size > 1000


@pytest.mark.slow
def test_a_trial_over_its_time_limit_is_stopped_and_recorded(tmp_path):
    config = {
        **FAULTY_SWEEP,
        "budget": {"rounds": 1, "trials_per_round": 1},
        "search": {"strategy": "random"},
        "space": {
            **FAULTY_SWEEP["space"],
            "fault": "hang",
            "lr": {"type": "float", "low": 0.01, "high": 0.1},
        },
        "limits": {"trial_time_s": 20},
    }
    started = time.monotonic()
    run_snakemake(tmp_path, write_config(tmp_path, config))
    assert time.monotonic() - started < 600
    table = pd.read_csv(tmp_path / "results" / "faults" / "trials.csv")
    assert list(table["status"]) == ["timeout"]
    assert table.loc[0, "error"].startswith("timeout: still running after the time limit of 20 s")
    assert 20 <= table.loc[0, "duration_s"] < 40
    assert served_by_worker(tmp_path, "train_trial") == 1


@pytest.mark.slow
def test_a_full_results_disk_fails_the_job_and_the_trial_trains_once_it_grows(tmp_path):
    """Real Snakemake with results/ on a small tmpfs filled up after round 0 was proposed."""
    results = tmp_path / "results"
    try:
        mount_tmpfs(results, "4m")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("mounting a tmpfs needs root")
    try:
        config = {
            **FAULTY_SWEEP,
            "budget": {"rounds": 1, "trials_per_round": 1},
            "search": {"strategy": "random"},
            "space": {
                **FAULTY_SWEEP["space"],
                "fault": "healthy",
                "lr": {"type": "float", "low": 0.01, "high": 0.1},
            },
            "tracking": {"uri": f"sqlite:///{tmp_path}/mlflow.db"},
            "evaluate": {"test_set": False},  # FaultyMLP has no forward()
        }
        configfile = write_config(tmp_path, config)
        run_snakemake(tmp_path, configfile, "results/faults/rounds/000.json")
        free = os.statvfs(results)
        (results / "filler").write_bytes(b"\0" * (free.f_bavail * free.f_frsize - 16 * 1024))
        full = run_snakemake(tmp_path, configfile, check=False)
        trial = results / "faults" / "trials" / "r000-t000"
        assert full.returncode != 0
        assert "r000-t000 stopped on a fault of the machine, not recorded" in full.stderr
        assert "No space left on device" in full.stderr
        assert not (trial / "metrics.json").exists()
        assert not (results / "faults" / "trials.csv").exists()
        mount_tmpfs(results, "64m")  # the disk grows
        run_snakemake(tmp_path, configfile)
        table = pd.read_csv(results / "faults" / "trials.csv")
        assert list(table["status"]) == ["ok"] and table.loc[0, "objective"] > 0
    finally:
        subprocess.run(["umount", "-l", str(results)], check=False)
