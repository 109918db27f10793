"""SIGKILL of snakemake and all its jobs at several points, then the same command again: the sweep
finishes, no finished trial is retrained, and the final table equals an uninterrupted run's.
Also: the same config and seed in a fresh directory, with 1 or 2 cores, give the same table.
"""

from __future__ import annotations

import contextlib
import copy
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import (
    TINY_SWEEP,
    run_snakemake,
    served_by_worker,
    snakemake_command,
    snakemake_env,
    write_config,
)

from snakesweep.locks import finished_record

RESUME_SWEEP = copy.deepcopy(TINY_SWEEP)
RESUME_SWEEP["data"] = {"name": "digits", "subset": 300}
SWEEP_DIR = Path("results") / "tiny"


def finished_trials(workdir: Path) -> dict[str, tuple[float, str]]:
    """Trials whose training finished: a complete metrics.json of the proposed trial (it is
    written atomically as the job's last step), whether or not Snakemake recorded the job."""
    done = {}
    for metrics in sorted((workdir / SWEEP_DIR / "trials").glob("*/metrics.json")):
        if finished_record(metrics.parent):
            done[metrics.parent.name] = (metrics.stat().st_mtime_ns, metrics.read_text())
    return done


def exists(*parts: str) -> Callable[[Path], bool]:
    return lambda workdir: (workdir / SWEEP_DIR.joinpath(*parts)).exists()


def log_without_output(log: str, output: str) -> Callable[[Path], bool]:
    """A job has started (its log exists) and not finished (its output does not)."""
    return lambda workdir: (workdir / log).exists() and not (workdir / SWEEP_DIR / output).exists()


KILL_POINTS = {
    "round 0 training": lambda w: any((w / SWEEP_DIR / "trials").glob("r000-*/metrics.json")),
    "between rounds": exists("history", "000.csv"),
    "propose": log_without_output("logs/propose/tiny/001.log", "rounds/001.json"),
    "round 1 training": lambda w: any((w / SWEEP_DIR / "trials").glob("r001-*")),
    "aggregate or track": lambda w: (
        log_without_output("logs/track/tiny/001.log", "tracking/001.json")(w)
        or log_without_output("logs/aggregate/tiny.log", "trials.csv")(w)
    ),
}


def run_until(workdir: Path, configfile: Path, when: Callable[[Path], bool], *args: str) -> None:
    """Start the sweep and SIGKILL snakemake with every job when `when(workdir)` turns true."""
    process = subprocess.Popen(
        snakemake_command(workdir, configfile, *args),
        cwd=workdir,
        env=snakemake_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    try:
        while not when(workdir):
            if process.poll() is not None:
                pytest.fail("the sweep ended before the kill point")
            if time.monotonic() > deadline:
                pytest.fail("the kill point was not reached in 600 s")
            time.sleep(0.01)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    """The trials table without wall-clock columns."""
    timing = [c for c in table.columns if c == "duration_s" or c.startswith("time/")]
    return table.drop(columns=timing)


def kill_and_resume(workdir: Path, point: str) -> tuple[dict, dict, str]:
    configfile = write_config(workdir, RESUME_SWEEP)
    run_until(workdir, configfile, KILL_POINTS[point])
    before = finished_trials(workdir)
    result = run_snakemake(workdir, configfile)
    after = finished_trials(workdir)
    return before, after, result.stderr


def assert_none_retrained(before: dict, after: dict) -> None:
    retrained = [trial for trial in before if after.get(trial) != before[trial]]
    assert retrained == []
    assert sorted(after) == ["r000-t000", "r000-t001", "r001-t000", "r001-t001"]


def test_kill_during_the_first_propose_then_resume(tmp_path):
    """Fast (no training): SIGKILL while round 0 is proposed; the same command finishes it,
    without --unlock, and proposes what an uninterrupted run proposes."""
    target = str(SWEEP_DIR / "rounds" / "000.json")
    configfile = write_config(tmp_path, RESUME_SWEEP)
    run_until(
        tmp_path,
        configfile,
        log_without_output("logs/propose/tiny/000.log", "rounds/000.json"),
        target,
    )
    assert not (tmp_path / target).exists()
    result = run_snakemake(tmp_path, configfile, target)
    assert "removed the stale lock" in result.stderr
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    run_snakemake(fresh, write_config(fresh, RESUME_SWEEP), target)
    assert (tmp_path / target).read_text() == (fresh / target).read_text()


@pytest.mark.slow
def test_kill_during_round_1_then_resume(tmp_path):
    """Kill while round 1 trains in the warm worker, run the same command again (~2.5 min on 2
    busy cores)."""
    before, after, stderr = kill_and_resume(tmp_path, "round 1 training")
    # Round 0 in the killed run, round 1 again in the resumed one: all through the worker.
    assert served_by_worker(tmp_path, "train_trial") >= 4
    assert sorted(before)[:2] == ["r000-t000", "r000-t001"]
    assert_none_retrained(before, after)
    assert "removed the stale lock" in stderr
    table = pd.read_csv(tmp_path / SWEEP_DIR / "trials.csv")
    assert list(table["status"]) == ["ok"] * 4


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> pd.DataFrame:
    """The reference: one uninterrupted run with a single core."""
    workdir = tmp_path_factory.mktemp("reference")
    run_snakemake(workdir, write_config(workdir, RESUME_SWEEP), "--cores", "1")
    return pd.read_csv(workdir / SWEEP_DIR / "trials.csv")


@pytest.mark.slow
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_resume_after_a_kill_gives_the_uninterrupted_table(tmp_path, uninterrupted, point):
    before, after, _ = kill_and_resume(tmp_path, point)
    assert_none_retrained(before, after)
    resumed = pd.read_csv(tmp_path / SWEEP_DIR / "trials.csv")
    pd.testing.assert_frame_equal(comparable(resumed), comparable(uninterrupted), check_exact=True)


@pytest.mark.slow
def test_fresh_directory_and_two_cores_give_the_same_table(tmp_path, uninterrupted):
    """Determinism: same config and seed elsewhere, 2 cores instead of 1: identical results."""
    run_snakemake(tmp_path, write_config(tmp_path, RESUME_SWEEP), "--cores", "2")
    again = pd.read_csv(tmp_path / SWEEP_DIR / "trials.csv")
    pd.testing.assert_frame_equal(comparable(again), comparable(uninterrupted), check_exact=True)
