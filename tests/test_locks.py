"""Stale locks of a killed run are removed (only that run's); the locks of a run that may still
be alive are kept: a live pid, another host or boot, another PID namespace."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import REPO

from snakesweep.locks import OWNERS_DIR, claim, hold_locks, owner_gone, process_start, this_machine


def state_dir_with_locks(tmp_path, owner_pid: int, start: str, **machine):
    state = tmp_path / ".snakemake"
    (state / "locks").mkdir(parents=True)
    (state / "locks" / "0.output.lock").write_text("results/x/trials.csv\n")
    owner = this_machine() | machine | {"pid": owner_pid, "start": start}
    owner["locks"] = ["0.output.lock"]
    (state / OWNERS_DIR).mkdir()
    (state / OWNERS_DIR / f"{owner_pid}-x.json").write_text(json.dumps(owner))
    return state


def test_locks_of_a_killed_run_are_removed_and_only_its_own(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    state = state_dir_with_locks(tmp_path, dead.pid, "123")
    (state / "locks" / "1.output.lock").write_text("results/y/trials.csv\n")  # another run's
    taken = claim(state)
    assert taken.note and "stale locks" in taken.note and str(dead.pid) in taken.note
    assert [p.name for p in (state / "locks").iterdir()] == ["1.output.lock"]
    [record] = (state / OWNERS_DIR).iterdir()
    assert json.loads(record.read_text())["pid"] == os.getpid()
    (state / "locks" / "2.input.lock").write_text("")  # what Snakemake takes for this run
    assert hold_locks(taken) == ["2.input.lock"]


def test_a_run_that_ended_normally_is_not_reported_as_killed(tmp_path):
    ended = subprocess.Popen(["true"])
    ended.wait()
    state = state_dir_with_locks(tmp_path, ended.pid, "123")
    (state / "locks" / "0.output.lock").unlink()  # Snakemake deleted its locks at the end
    assert claim(state).note is None
    [record] = (state / OWNERS_DIR).iterdir()
    assert json.loads(record.read_text())["pid"] == os.getpid()


def test_locks_of_a_live_run_are_kept(tmp_path):
    live = subprocess.Popen(["sleep", "30"])
    try:
        state = state_dir_with_locks(tmp_path, live.pid, process_start(live.pid))
        assert claim(state).note is None
        assert (state / "locks" / "0.output.lock").exists()
    finally:
        live.kill()
        live.wait()


def test_only_a_provably_ended_owner_is_gone():
    here = this_machine()
    assert owner_gone(here | {"pid": 1, "start": "not init's start"})  # a reused pid
    assert not owner_gone(here | {"pid": 1, "start": process_start(1)})
    for key, other in [("host", "another-host"), ("boot_id", "another-boot"),
                       ("pid_ns", "pid:[1]")]:  # fmt: skip
        assert not owner_gone(here | {key: other, "pid": 1, "start": "x"})
    assert not owner_gone({"host": here["host"], "pid": 1, "start": "x"})  # an older record


def test_locks_without_an_owner_record_are_left_to_snakemake(tmp_path):
    state = tmp_path / ".snakemake"
    (state / "locks").mkdir(parents=True)
    (state / "locks" / "0.input.lock").write_text("")
    assert claim(state).note is None
    assert (state / "locks" / "0.input.lock").exists()


HOLDER = """
import sys, time
from pathlib import Path
from snakesweep.locks import claim, hold_locks
state = Path(sys.argv[1])
taken = claim(state)
(state / "locks").mkdir(exist_ok=True)
(state / "locks" / "0.output.lock").write_text("results/x/trials.csv\\n")
hold_locks(taken)
print("holding", flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare")
def test_a_lock_held_from_another_pid_namespace_is_kept(tmp_path):
    """A run in a container or `unshare -p` on this host: its pids mean other processes here."""
    state = tmp_path / ".snakemake"
    holder = subprocess.Popen(
        ["unshare", "-p", "-f", "--mount-proc", sys.executable, "-c", HOLDER, str(state)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        if holder.stdout.readline().strip() != "holding":
            pytest.skip(f"unshare -p is not allowed here: {holder.stderr.read()[-300:]}")
        [record] = (state / OWNERS_DIR).iterdir()
        owner = json.loads(record.read_text())
        assert owner["pid_ns"] != this_machine()["pid_ns"] and owner["locks"] == ["0.output.lock"]
        assert claim(state).note is None
        assert (state / "locks" / "0.output.lock").exists()
        assert record.exists()
    finally:
        holder.kill()
        holder.wait()


def marker(state, key: str):
    import base64

    path = state / "incomplete" / base64.urlsafe_b64encode(key.encode()).decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}")
    return path


def test_a_trial_finished_before_the_kill_is_kept(tmp_path, monkeypatch):
    from snakesweep.locks import recover_finished_trials

    monkeypatch.chdir(tmp_path)
    sweep = tmp_path / "results" / "s"
    proposals = [
        {"trial": "r000-t000", "seed": 7, "params": {"lr": 0.1}},
        {"trial": "r000-t001", "seed": 8, "params": {"lr": 0.2}},
    ]
    (sweep / "rounds").mkdir(parents=True)
    (sweep / "rounds" / "000.json").write_text(json.dumps({"trials": proposals}))
    for proposal, status in zip(proposals, ["ok", "ok"], strict=True):
        trial_dir = sweep / "trials" / proposal["trial"]
        trial_dir.mkdir(parents=True)
        (trial_dir / "history.csv").write_text("epoch\n")
        (trial_dir / "metrics.json").write_text(json.dumps({**proposal, "status": status}))
    # r000-t001's metrics.json belongs to other params (a stale file): it must be retrained.
    stale = json.loads((sweep / "trials" / "r000-t001" / "metrics.json").read_text())
    (sweep / "trials" / "r000-t001" / "metrics.json").write_text(
        json.dumps({**stale, "params": {"lr": 0.3}})
    )
    state = tmp_path / ".snakemake"
    done = [
        marker(state, f"results/s/trials/r000-t000/{n}") for n in ("metrics.json", "history.csv")
    ]
    other = marker(state, "results/s/trials/r000-t001/metrics.json")
    unrelated = marker(state, "results/s/history/000.csv")
    assert recover_finished_trials(state) == ["r000-t000"]
    assert not any(path.exists() for path in done)
    assert other.exists() and unrelated.exists()


def test_markers_of_a_live_run_are_left_alone(tmp_path):
    from snakesweep.locks import recover_finished_trials

    live = subprocess.Popen(["sleep", "30"])
    try:
        state = state_dir_with_locks(tmp_path, live.pid, process_start(live.pid))
        kept = marker(state, "results/s/trials/r000-t000/metrics.json")
        assert recover_finished_trials(state, tmp_path) == []
        assert kept.exists()
    finally:
        live.kill()
        live.wait()


@pytest.mark.parametrize("status", ["ok", "failed", "diverged", "timeout", "pruned"])
def test_a_finished_trial_of_any_status_is_kept(tmp_path, status):
    """A trial that finished before a kill (whatever its outcome, a pruned one too) is kept;
    one whose record belongs to another proposal is not."""
    from snakesweep.locks import finished_record

    proposal = {"trial": "r000-t000", "seed": 7, "params": {"lr": 0.1}}
    (tmp_path / "rounds").mkdir()
    (tmp_path / "rounds" / "000.json").write_text(json.dumps({"trials": [proposal]}))
    trial_dir = tmp_path / "trials" / "r000-t000"
    trial_dir.mkdir(parents=True)
    (trial_dir / "history.csv").write_text("epoch\n0\n")
    (trial_dir / "metrics.json").write_text(json.dumps({**proposal, "status": status}))
    assert finished_record(trial_dir)
    (trial_dir / "metrics.json").write_text(json.dumps({**proposal, "seed": 8, "status": status}))
    assert not finished_record(trial_dir)
