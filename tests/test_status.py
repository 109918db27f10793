"""`python -m snakesweep status` on a sweep while it runs: the running trials and their epoch."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, TINY_SWEEP, snakemake_command, snakemake_env, write_config

EPOCHS = 1000  # long enough to be seen training; the sweep is stopped once it was


@pytest.mark.slow
def test_status_names_every_running_trial_and_its_epoch(tmp_path):
    config = {
        **TINY_SWEEP,
        "budget": {"rounds": 1, "trials_per_round": 2},
        "space": {**TINY_SWEEP["space"], "max_epochs": EPOCHS},
    }
    configfile = write_config(tmp_path, config)
    status = [sys.executable, "-m", "snakesweep", "status", "--configfile", str(configfile),
              "--results", str(tmp_path / "results")]  # fmt: skip
    sweep = subprocess.Popen(
        snakemake_command(tmp_path, configfile),
        cwd=tmp_path, env=snakemake_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    running: dict[str, int] = {}
    rows: dict[str, int] = {}
    try:
        deadline = time.time() + 600
        while time.time() < deadline and sweep.poll() is None:
            text = subprocess.run(status, cwd=REPO, capture_output=True, text=True, check=True)
            running = {
                trial: int(epoch)
                for trial, epoch in re.findall(
                    rf"running (r\d{{3}}-t\d{{3}}): epoch (\d+)/{EPOCHS}", text.stdout
                )
            }
            if len(running) == 2 and min(running.values()) >= 1:
                # what each trial's own history.csv says (read before Snakemake stops the jobs)
                rows = {trial: history_rows(tmp_path, trial) for trial in running}
                break
            time.sleep(1)
    finally:
        os.killpg(sweep.pid, signal.SIGTERM)
        sweep.wait(timeout=120)
    assert sorted(running) == ["r000-t000", "r000-t001"], text.stdout
    assert "round 1/1 running" in text.stdout
    for trial, epoch in running.items():
        assert rows[trial] >= epoch >= 1


def history_rows(workdir, trial: str) -> int:
    with open(workdir / "results" / "tiny" / "trials" / trial / "history.csv", newline="") as f:
        return len(list(csv.DictReader(f)))
