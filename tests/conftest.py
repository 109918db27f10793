"""Shared helpers: run the real workflow on tiny sweeps in temporary directories."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
FIXTURES = REPO / "tests" / "fixtures"

# A sweep small enough to run in seconds: 2 rounds x 2 trials, 2 epochs on digits.
TINY_SWEEP = {
    "sweep": "tiny",
    "seed": 1,
    "objective": {"metric": "val/loss", "direction": "minimize"},
    "budget": {"rounds": 2, "trials_per_round": 2},
    "search": {"strategy": "bayes"},
    "space": {
        "lr": {"type": "float", "low": 1.0e-3, "high": 0.1, "log": True},
        "hidden_units": {"type": "int", "low": 8, "high": 32, "log": True},
        "activation": {"type": "categorical", "choices": ["relu", "tanh"]},
        "optimizer": {"type": "categorical", "choices": ["sgd", "adam"]},
        "momentum": {"type": "float", "low": 0.0, "high": 0.9, "when": {"optimizer": ["sgd"]}},
        "max_epochs": 2,
        "n_layers": 1,
        "batch_size": 64,
    },
    "data": {"name": "digits"},
    "model": {"name": "mlp"},
}


# A sweep of table lookups (no training; a trial takes milliseconds): 1 round x 2 trials.
TABULAR_SWEEP = {
    "sweep": "car",
    "task": "tabular",
    "tabular": {"table": "hpobench/car"},
    "objective": {"metric": "val/error", "direction": "minimize"},
    "budget": {"rounds": 1, "trials_per_round": 2},
    "search": {"strategy": "random"},
    "space": {
        "alpha": {"type": "float", "low": 1.0e-8, "high": 1.0, "log": True},
        "batch_size": {"type": "int", "low": 4, "high": 256, "log": True},
        "depth": {"type": "int", "low": 1, "high": 3},
        "learning_rate_init": {"type": "float", "low": 1.0e-5, "high": 1.0, "log": True},
        "width": {"type": "int", "low": 16, "high": 1024, "log": True},
    },
}


def sweep_for(config: dict, results: Path = REPO / "tests" / "no_results"):
    """The validated Sweep of a trainer test's config sections: a sweep name and a searched
    `lr` are added where the config has none (the trainer takes a Sweep, never a dict)."""
    from snakesweep.sweep import load_sweep

    space = {"lr": {"type": "float", "low": 1.0e-3, "high": 0.1}}
    return load_sweep({"sweep": "test", "space": space, **config}, results)


def write_config(workdir: Path, config: dict, name: str = "sweep.yaml") -> Path:
    path = workdir / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake_command(workdir: Path, configfile: Path, *args: str) -> list[str]:
    return [
        SNAKEMAKE,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
        "--profile",
        str(REPO / "profiles" / "default"),
        "--cores",
        "2",
        *args,
    ]


def snakemake_env() -> dict[str, str]:
    """The environment of a test run: tests/fixtures (user classes) importable."""
    path = os.pathsep.join(filter(None, [str(FIXTURES), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": path}


def run_snakemake(
    workdir: Path, configfile: Path, *args: str, check: bool = True
) -> subprocess.CompletedProcess:
    """Run the real workflow of this repository with `workdir` as its working directory."""
    command = snakemake_command(workdir, configfile, *args)
    result = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, env=snakemake_env()
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
    return result


def served_by_worker(workdir: Path, script: str) -> int:
    """How many jobs of scripts/<script>.py the runs' warm workers ran (logs/worker.log)."""
    log = workdir / "logs" / "worker.log"
    return log.read_text().count(f" {script} ") if log.exists() else 0


def comparable(table):
    """A trials table without its wall-clock columns (what two runs cannot share)."""
    timing = [c for c in table.columns if c == "duration_s" or c.startswith("time/")]
    return table.drop(columns=timing)


@pytest.fixture
def tiny_config() -> dict:
    return yaml.safe_load(yaml.safe_dump(TINY_SWEEP))


def sweep_runs(tracking_uri: str, sweep: str) -> tuple[list, list]:
    """The MLflow parent run(s) and trial runs of a sweep in a store."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name(sweep).experiment_id])
    parents = [run for run in runs if run.data.tags.get("snakesweep.role") == "sweep"]
    return parents, [run for run in runs if "snakesweep.trial" in run.data.tags]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    """A real `mlflow server` on loopback with its own store and artifact root."""
    port = free_port()
    mlflow = str(Path(sys.executable).parent / "mlflow")
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [mlflow, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{tmp_path}/server.db",
         "--artifacts-destination", str(tmp_path / "server-artifacts")],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if server.poll() is not None or time.time() > deadline:
            server.kill()
            raise AssertionError((tmp_path / "server.log").read_text()[-3000:])
        time.sleep(0.5)
    yield url
    os.killpg(server.pid, 15)
    server.wait(timeout=30)
    log.close()
