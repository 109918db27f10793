"""Stale locks of a killed run are removed; the locks of a live run are kept."""

from __future__ import annotations

import json
import socket
import subprocess

from snakesweep.locks import OWNER_FILE, claim, owner_alive, process_start


def state_dir_with_locks(tmp_path, owner_pid: int, start: str):
    state = tmp_path / ".snakemake"
    (state / "locks").mkdir(parents=True)
    (state / "locks" / "0.output.lock").write_text("results/x/trials.csv\n")
    owner = {"host": socket.gethostname(), "pid": owner_pid, "start": start}
    (state / OWNER_FILE).write_text(json.dumps(owner))
    return state


def test_locks_of_a_killed_run_are_removed(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    state = state_dir_with_locks(tmp_path, dead.pid, "123")
    note = claim(state)
    assert note and "stale lock" in note and str(dead.pid) in note
    assert list((state / "locks").iterdir()) == []
    assert json.loads((state / OWNER_FILE).read_text())["pid"] != dead.pid


def test_locks_of_a_live_run_are_kept(tmp_path):
    live = subprocess.Popen(["sleep", "30"])
    try:
        state = state_dir_with_locks(tmp_path, live.pid, process_start(live.pid))
        assert claim(state) is None
        assert (state / "locks" / "0.output.lock").exists()
        assert json.loads((state / OWNER_FILE).read_text())["pid"] == live.pid
    finally:
        live.kill()
        live.wait()


def test_a_reused_pid_is_not_the_owner(tmp_path):
    """Same pid, another start time: the recorded owner is gone."""
    assert not owner_alive({"host": socket.gethostname(), "pid": 1, "start": "not-init's"})
    assert owner_alive({"host": "another-host", "pid": 1, "start": "x"})


def test_locks_without_an_owner_record_are_left_to_snakemake(tmp_path):
    state = tmp_path / ".snakemake"
    (state / "locks").mkdir(parents=True)
    (state / "locks" / "0.input.lock").write_text("")
    assert claim(state) is None
    assert (state / "locks" / "0.input.lock").exists()


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
