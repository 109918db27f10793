"""SIGKILL of snakemake and all its jobs, the warm worker included, at several points, then the
same command again: the sweep finishes, no finished trial is retrained, and the final table
equals an uninterrupted run's. A trial is held in the middle of training at a gate
(user_functions.waits_at_a_gate), a track job by the MLflow store's writer lock, taken by the
test; other jobs are killed when their process is seen (it lives at least as long as Python and
Snakemake's script preamble take to start, a few tenths of a second).
Also: the same config and seed in a fresh directory, with 1 or 2 cores, give the same table.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from conftest import (
    TABULAR_SWEEP,
    TINY_SWEEP,
    comparable,
    run_snakemake,
    snakemake_command,
    snakemake_env,
    write_config,
)

from snakesweep.locks import finished_record
from snakesweep.tracking import store_lock

# Trials train with a test function (tests/fixtures/user_functions.py) that can be held mid-trial.
RESUME_SWEEP = {
    "sweep": "tiny",
    "seed": 1,
    "objective": {"metric": "val/loss", "direction": "minimize"},
    "budget": {"rounds": 2, "trials_per_round": 2},
    "search": {"strategy": "bayes"},
    "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
    "train": {"function": "user_functions:waits_at_a_gate"},
}
SWEEP_DIR = Path("results") / "tiny"
GATES = Path("gates")


def finished_trials(workdir: Path) -> dict[str, tuple[float, str]]:
    """Trials whose training finished: a complete metrics.json of the proposed trial (it is
    written atomically as the job's last step), whether or not Snakemake recorded the job."""
    done = {}
    for metrics in sorted((workdir / SWEEP_DIR / "trials").glob("*/metrics.json")):
        if finished_record(metrics.parent):
            done[metrics.parent.name] = (metrics.stat().st_mtime_ns, metrics.read_text())
    return done


def exists(*parts: str) -> Callable[[Path, int], bool]:
    return lambda workdir, run: (workdir / SWEEP_DIR.joinpath(*parts)).exists()


def trial_held(trial: str) -> Callable[[Path, int], bool]:
    """The trial waits at its gate, in the middle of training."""
    return lambda workdir, run: (workdir / GATES / f"{trial}.running").exists()


def trial_finished(trial: str) -> Callable[[Path, int], bool]:
    return lambda workdir, run: finished_record(workdir / SWEEP_DIR / "trials" / trial)


def job_running(script: str) -> Callable[[Path, int], bool]:
    """A job of scripts/<script> runs: a process of the run (its session) runs that script."""
    return lambda workdir, run: any(script in " ".join(command) for command in commands(run))


def commands(session: int) -> list[list[str]]:
    """The command lines of the processes in a session."""
    found = []
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            if proc.name.isdigit() and os.getsid(int(proc.name)) == session:
                found.append((proc / "cmdline").read_bytes().decode().split("\0"))
    return found


def in_warm_worker(pid: int) -> bool:
    """Whether process `pid` descends from a warm worker (python -m snakesweep.worker)."""
    while pid > 1:
        proc = Path("/proc", str(pid))
        if "snakesweep.worker" in (proc / "cmdline").read_bytes().decode().split("\0"):
            return True
        pid = int((proc / "stat").read_text().rpartition(")")[2].split()[1])
    return False


@dataclass(frozen=True)
class KillPoint:
    """Where a run is killed: what shows that it got there (every condition, given the run's
    directory and session), the trials held at a gate meanwhile, and whether the MLflow store
    is locked meanwhile (by the test, as another writer would: track jobs wait for it)."""

    conditions: tuple[Callable[[Path, int], bool], ...]
    gates: tuple[str, ...] = ()
    store_locked: bool = False

    def reached(self, workdir: Path, session: int) -> bool:
        return all(condition(workdir, session) for condition in self.conditions)


@contextlib.contextmanager
def held(workdir: Path, point: KillPoint) -> Iterator[None]:
    """In the block, the trials of `point` wait at their gates and the store is locked if asked."""
    (workdir / GATES).mkdir()
    for trial in point.gates:
        (workdir / GATES / trial).touch()
    with contextlib.ExitStack() as stack:
        if point.store_locked:
            stack.enter_context(store_lock(f"sqlite:///{workdir}/results/mlflow.db"))
        yield
    shutil.rmtree(workdir / GATES)


KILL_POINTS = {
    # r000-t000 finished, r000-t001 in the middle of training.
    "round 0 training": KillPoint(
        (trial_finished("r000-t000"), trial_held("r000-t001")), gates=("r000-t001",)
    ),
    # Round 0 trained, the next round being proposed (beside round 0's recording).
    "propose": KillPoint(
        (trial_finished("r000-t000"), trial_finished("r000-t001"), job_running("propose_round"))
    ),
    "round 1 training": KillPoint(
        (exists("tracking", "000.json"), trial_finished("r001-t000"), trial_held("r001-t001")),
        gates=("r001-t001",),
    ),
    # The last round trained and the final table being written (beside its recording).
    "aggregate": KillPoint(
        (trial_finished("r001-t000"), trial_finished("r001-t001"), job_running("aggregate_sweep"))
    ),
    # The final table written, the first round being tracked (its job waits for the store).
    "track": KillPoint((exists("trials.csv"), job_running("track_round")), store_locked=True),
}


@contextlib.contextmanager
def running_sweep(workdir: Path, configfile: Path, *args: str) -> Iterator[subprocess.Popen]:
    """The sweep runs in its own session; at the end of the block snakemake and every process
    of the run (jobs, warm worker, trials) get SIGKILL."""
    process = subprocess.Popen(
        snakemake_command(workdir, configfile, *args),
        cwd=workdir,
        env=snakemake_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for(process: subprocess.Popen, workdir: Path, point: KillPoint) -> None:
    deadline = time.monotonic() + 600
    while not point.reached(workdir, process.pid):
        if process.poll() is not None:
            pytest.fail(f"the sweep ended (exit {process.returncode}) before the kill point")
        if time.monotonic() > deadline:
            pytest.fail("the kill point was not reached in 600 s")
        time.sleep(0.01)


def kill_and_resume(workdir: Path, point: KillPoint, sweep: dict) -> dict:
    """Run the sweep until `point`, kill it, run the same command again; return the trials that
    had finished before the kill. Trials held at the kill ran in the warm worker when it is on."""
    configfile = write_config(workdir, sweep)
    with held(workdir, point), running_sweep(workdir, configfile) as process:
        wait_for(process, workdir, point)
        for trial in point.gates:
            pid = int((workdir / GATES / f"{trial}.running").read_text())
            assert in_warm_worker(pid) == sweep.get("warm_worker", True)
    before = finished_trials(workdir)
    result = run_snakemake(workdir, configfile)
    assert "removed the stale lock" in result.stderr
    return before


def test_kill_during_the_first_propose_then_resume(tmp_path):
    """Fast (no training): SIGKILL while round 0 is proposed; the same command finishes it,
    without --unlock, and proposes what an uninterrupted run proposes."""
    target = str(SWEEP_DIR / "rounds" / "000.json")
    configfile = write_config(tmp_path, RESUME_SWEEP)
    with running_sweep(tmp_path, configfile, target) as process:
        wait_for(process, tmp_path, KillPoint((job_running("propose_round"),)))
    assert not (tmp_path / target).exists()
    result = run_snakemake(tmp_path, configfile, target)
    assert "removed the stale lock" in result.stderr
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    run_snakemake(fresh, write_config(fresh, RESUME_SWEEP), target)
    assert (tmp_path / target).read_text() == (fresh / target).read_text()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> pd.DataFrame:
    """The reference: one uninterrupted run with a single core (and the warm worker)."""
    workdir = tmp_path_factory.mktemp("reference")
    run_snakemake(workdir, write_config(workdir, RESUME_SWEEP), "--cores", "1")
    return pd.read_csv(workdir / SWEEP_DIR / "trials.csv")


def assert_resumed_as_uninterrupted(workdir: Path, before: dict, uninterrupted: pd.DataFrame):
    """No trial that had finished before the kill was trained again, and the final table is the
    uninterrupted run's (but for timings)."""
    after = finished_trials(workdir)
    assert [trial for trial in before if after.get(trial) != before[trial]] == []
    assert sorted(after) == ["r000-t000", "r000-t001", "r001-t000", "r001-t001"]
    resumed = pd.read_csv(workdir / SWEEP_DIR / "trials.csv")
    pd.testing.assert_frame_equal(comparable(resumed), comparable(uninterrupted), check_exact=True)


@pytest.mark.slow
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_resume_after_a_kill_gives_the_uninterrupted_table(tmp_path, uninterrupted, point):
    before = kill_and_resume(tmp_path, KILL_POINTS[point], RESUME_SWEEP)
    assert_resumed_as_uninterrupted(tmp_path, before, uninterrupted)


@pytest.mark.slow
@pytest.mark.parametrize("warm_worker", [True, False], ids=["warm worker", "no worker"])
def test_kill_in_the_middle_of_a_trial_then_resume(tmp_path, uninterrupted, warm_worker):
    """r001-t001 killed in the middle of training, in the warm worker or (switched off) in its
    job's own process, just after r001-t000 finished: the same command trains r001-t001 again,
    nothing else, and gives the uninterrupted run's table."""
    sweep = RESUME_SWEEP | {"warm_worker": warm_worker}
    before = kill_and_resume(tmp_path, KILL_POINTS["round 1 training"], sweep)
    assert sorted(before) == ["r000-t000", "r000-t001", "r001-t000"]
    assert_resumed_as_uninterrupted(tmp_path, before, uninterrupted)
    # Retrained by the resumed run: in its warm worker when that is on.
    log = tmp_path / "logs" / "worker.log"
    retrained_in_worker = log.exists() and "trial=r001-t001 exit 0" in log.read_text()
    assert retrained_in_worker == warm_worker


# Determinism of real (Lightning) training: the same table in any directory, with any cores.
LIGHTNING_SWEEP = copy.deepcopy(TINY_SWEEP)
LIGHTNING_SWEEP["data"] = {"name": "digits", "subset": 300}


@pytest.mark.slow
def test_fresh_directory_and_two_cores_give_the_same_table(tmp_path):
    """Same config and seed in two directories, 1 core and 2 cores: identical results."""
    tables = []
    for cores in ("1", "2"):
        workdir = tmp_path / cores
        workdir.mkdir()
        run_snakemake(workdir, write_config(workdir, LIGHTNING_SWEEP), "--cores", cores)
        tables.append(comparable(pd.read_csv(workdir / SWEEP_DIR / "trials.csv")))
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=True)


def test_a_folder_of_an_earlier_snakesweep_resumes_without_proposing_or_training_again(tmp_path):
    """Earlier, round r's proposals and the final table read the table of round r-1: Snakemake
    recorded those inputs, and with `rerun-triggers: input` it would propose and train the
    rounds again. The first run forgets those records and asks for the same command; the second
    finishes with every trial as it was."""
    configfile = write_config(tmp_path, RESUME_SWEEP)
    run_snakemake(tmp_path, configfile)
    before = finished_trials(tmp_path)
    proposed = tmp_path / SWEEP_DIR / "rounds" / "001.json"
    proposed_at = proposed.stat().st_mtime_ns
    rounds_file = (SWEEP_DIR / "rounds" / "001.json", SWEEP_DIR / "history" / "000.csv")
    tables = [
        (SWEEP_DIR / name, SWEEP_DIR / "history" / "001.csv")
        for name in ("trials.csv", "best.yaml")
    ]
    for output, table in [rounds_file, *tables]:
        # Snakemake's record of the output, as an earlier snakesweep left it.
        key = base64.urlsafe_b64encode(str(output).encode()).decode()
        record_path = tmp_path / ".snakemake" / "metadata" / key
        record = json.loads(record_path.read_text())
        record["input"] = [str(table), str(SWEEP_DIR / "sweep.yaml")]
        record_path.write_text(json.dumps(record))

    first = run_snakemake(tmp_path, configfile, check=False)
    assert first.returncode == 1
    assert "run the same command again" in first.stderr
    run_snakemake(tmp_path, configfile)

    assert finished_trials(tmp_path) == before
    assert proposed.stat().st_mtime_ns == proposed_at


@pytest.mark.slow
def test_raising_max_trials_of_a_stopped_sweep_continues_it(tmp_path):
    """A tabular sweep stopped by budget.max_trials, run again with it raised: a dry run says
    the sweep goes on and changes nothing; the run proposes the stopped rounds again and trains
    the new trials, keeping the finished ones."""
    config = {
        **TABULAR_SWEEP,
        "sweep": "more",
        "budget": {"rounds": 6, "trials_per_round": 2, "max_trials": 3},
    }
    first = run_snakemake(tmp_path, write_config(tmp_path, config))
    assert first.stdout.count("the sweep stopped after 2 rounds") == 1
    table = tmp_path / "results" / "more" / "trials.csv"
    before = pd.read_csv(table)
    assert len(before) == 4
    config["budget"]["max_trials"] = 7
    dry = run_snakemake(tmp_path, write_config(tmp_path, config), "-n")
    assert "no longer stops the sweep after 2 rounds: it goes on (in a run" in dry.stderr
    assert json.loads((tmp_path / "results/more/rounds/002.json").read_text())["stopped"]
    # While another run works in the folder, nothing is proposed again.
    from snakesweep.locks import OWNERS_DIR, process_start, this_machine

    other = subprocess.Popen(["sleep", "600"])
    owner = tmp_path / ".snakemake" / OWNERS_DIR / f"{other.pid}-other.json"
    owner.write_text(json.dumps(this_machine() | {"pid": other.pid, "locks": [],
                                                  "start": process_start(other.pid)}))  # fmt: skip
    try:
        busy = run_snakemake(tmp_path, write_config(tmp_path, config), "-n")
    finally:
        other.kill()
        other.wait()
    assert "no longer stops" not in busy.stderr
    run_snakemake(tmp_path, write_config(tmp_path, config))
    after = pd.read_csv(table)
    assert len(after) == 8
    assert comparable(after.head(4)).equals(comparable(before))
