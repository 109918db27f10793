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
