"""The GPU path, on a machine with a CUDA device (skipped elsewhere): trials train on the GPU
in forked children of the warm worker, which never initialises CUDA itself (a forked child of
a process that has cannot use CUDA at all), two trials share one GPU through its slots, and
the warm worker changes no result."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from conftest import TINY_SWEEP, comparable, run_snakemake, served_by_worker, write_config


def cuda_devices() -> int:
    """GPUs torch sees, asked in a child process (this one stays free of CUDA)."""
    if shutil.which("nvidia-smi") is None:
        return 0
    probe = "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    return int(result.stdout.strip() or 0) if result.returncode == 0 else 0


pytestmark = pytest.mark.skipif(cuda_devices() == 0, reason="needs a CUDA device")

GPU_SWEEP = copy.deepcopy(TINY_SWEEP) | {
    "train": {"accelerator": "gpu", "devices": 1, "trials_per_gpu": 2},
}


def trained_on(workdir, sweep="tiny") -> list[str]:
    """The device line of every trial's log (snakesweep.train.fit logs where it trains)."""
    logs = sorted((workdir / "logs" / "train" / sweep).glob("r*-t*.log"))
    return [
        next((line for line in log.read_text().splitlines() if "trains on" in line), "")
        for log in logs
    ]


def test_a_gpu_sweep_trains_every_trial_on_the_gpu_in_the_warm_worker(tmp_path):
    run_snakemake(tmp_path, write_config(tmp_path, GPU_SWEEP))
    table = pd.read_csv(tmp_path / "results" / "tiny" / "trials.csv")
    assert list(table["status"]) == ["ok"] * 4, table[["trial", "status", "reason"]]
    assert served_by_worker(tmp_path, "train_trial") == 4
    lines = trained_on(tmp_path)
    assert len(lines) == 4
    # Two slots on the one GPU: each trial sees only that GPU, as its cuda:0.
    assert all("trains on cuda:0" in line for line in lines), lines


def test_the_same_gpu_trials_with_and_without_the_worker(tmp_path):
    tables = {}
    for switch in (True, False):
        workdir = tmp_path / str(switch)
        workdir.mkdir()
        run_snakemake(workdir, write_config(workdir, GPU_SWEEP | {"warm_worker": switch}))
        tables[switch] = pd.read_csv(workdir / "results" / "tiny" / "trials.csv")
        assert served_by_worker(workdir, "train_trial") == (4 if switch else 0)
        assert all("trains on cuda:0" in line for line in trained_on(workdir))
    pd.testing.assert_frame_equal(
        comparable(tables[True]), comparable(tables[False]), check_exact=True
    )
