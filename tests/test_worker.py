"""The warm worker: jobs handed to it behave as jobs run in their own process (output, exit
status, results), a job whose client dies is killed, a worker that dies or is missing leaves the
job to run in-process, and the worker never outlives the run that owns it."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, TINY_SWEEP, comparable, run_snakemake, served_by_worker, write_config

from snakesweep.config import identity, load_config
from snakesweep.worker import ENV_OWNER, ENV_PID, ENV_SOCKET, alive, socket_path

# A job script as Snakemake runs it: main(smk) behind run_job. `smk` is a plain namespace.
JOB_SCRIPT = """
import gc, os, sys, time, types
from pathlib import Path
from snakesweep.worker import run_job

def main(smk):
    Path(smk.pidfile).write_text(str(os.getpid()))
    print("job ran in", os.getpid(), "threads", smk.threads, flush=True)
    print("objects the garbage collector leaves alone:", gc.get_freeze_count(), flush=True)
    print("garbage collection on:", gc.isenabled(), flush=True)
    time.sleep(smk.sleep)
    if smk.exit:
        sys.exit(smk.exit)

if __name__ == "__main__":
    run_job(main, types.SimpleNamespace(
        threads=1, pidfile=sys.argv[1], sleep=float(sys.argv[2]), exit=int(sys.argv[3])),
        trains=sys.argv[4:] == ["trains"])
"""


# A job that logs as the workflow's scripts do, asked again until the worker imported mlflow.pytorch
# (which calls logging.basicConfig on import).
LOGGING_JOB = """
import logging, sys, types
from snakesweep.worker import run_job

def main(smk):
    if "mlflow.pytorch" not in sys.modules:
        sys.exit(75)
    logging.basicConfig(filename=smk.log, level=logging.INFO)
    logging.info("the job's own line")

if __name__ == "__main__":
    run_job(main, types.SimpleNamespace(threads=1, log=sys.argv[1]))
"""


# A job that plots, asked again until the worker imported the plots module: does it find the
# fonts its first plot would load already looked up?
FONTS_JOB = """
import sys, types
from snakesweep.worker import run_job

def main(smk):
    if "snakesweep.report.plots" not in sys.modules:
        sys.exit(75)
    from matplotlib import font_manager
    print("fonts found:", font_manager.FontManager._findfont_cached.cache_info().currsize)

if __name__ == "__main__":
    run_job(main, types.SimpleNamespace(threads=1))
"""


def wait_for(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def started_job(pidfile: Path) -> int:
    """The pid of a job once it has written it (the worker may still be importing)."""
    assert wait_for(lambda: pidfile.exists() and pidfile.read_text() != "", 300)
    return int(pidfile.read_text())


def start_worker(
    workdir: Path, owner: int, config: dict | None = None, listening: bool = True
) -> subprocess.Popen:
    """A real worker; with `listening`, once its socket is there (its imports done)."""
    path = socket_path(workdir, owner)
    worker = subprocess.Popen(
        [sys.executable, "-m", "snakesweep.worker", str(path), str(owner)],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=subprocess.PIPE,
    )
    with worker.stdin:  # the sweep's config
        worker.stdin.write(json.dumps(config or {}).encode())
    assert not listening or wait_for(path.exists, 300)
    return worker


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    """A real worker owned by this test process, and the environment a job of its run gets."""
    workdir = tmp_path_factory.mktemp("worker")
    process = start_worker(workdir, os.getpid())
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        ENV_SOCKET: str(socket_path(workdir, os.getpid())),
        ENV_OWNER: str(os.getpid()),
    }
    (workdir / "job.py").write_text(JOB_SCRIPT)
    yield workdir, env, process
    process.terminate()
    process.wait(timeout=30)


def job(workdir: Path, env: dict, name: str, sleep: float = 0, exit_code: int = 0, trains=False):
    return subprocess.Popen(
        [sys.executable, "job.py", f"{name}.pid", str(sleep), str(exit_code)]
        + (["trains"] if trains else []),
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_a_job_runs_in_the_worker_with_its_output_and_exit_status(worker):
    workdir, env, process = worker
    client = job(workdir, env, "status", exit_code=3)
    out, _ = client.communicate(timeout=120)
    assert client.returncode == 3
    ran_in = int((workdir / "status.pid").read_text())
    assert ran_in != client.pid and f"job ran in {ran_in} threads 1" in out
    assert process.poll() is None
    # The worker's own objects are frozen before the fork: the job's collections skip them.
    frozen = int(out.split("leaves alone:")[1].split()[0])
    assert frozen > 100_000
    # The worker imports without collecting; its jobs (trials of hours) collect as usual.
    assert "garbage collection on: True" in out


def test_a_job_logs_to_its_own_file_whatever_the_worker_imported(worker):
    workdir, env, _ = worker
    (workdir / "logging_job.py").write_text(LOGGING_JOB)
    command = [sys.executable, "logging_job.py", "logging_job.log"]
    assert wait_for(lambda: subprocess.run(command, cwd=workdir, env=env).returncode == 0, 300)
    assert "the job's own line" in (workdir / "logging_job.log").read_text()


def test_a_job_finds_the_fonts_of_its_plots_loaded(worker):
    """The worker draws once before its jobs plot: their first figure does not look fonts up."""
    workdir, env, _ = worker
    (workdir / "fonts_job.py").write_text(FONTS_JOB)
    command = [sys.executable, "fonts_job.py"]
    runs = []

    def plotted() -> bool:
        runs.append(subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True))
        return runs[-1].returncode == 0

    assert wait_for(plotted, 300), runs[-1].stderr
    assert int(runs[-1].stdout.split("fonts found:")[1]) > 0


def test_a_killed_client_takes_its_job_down(worker):
    workdir, env, _ = worker
    client = job(workdir, env, "cancelled", sleep=120)
    running = started_job(workdir / "cancelled.pid")
    assert alive(running) and running != client.pid
    client.kill()
    client.wait()
    assert wait_for(lambda: not alive(running), 10)


def test_ctrl_c_ends_a_job_without_a_traceback(worker):
    """Ctrl-C (SIGINT to the run's process group) mid-job: the job dies of the signal, as
    Snakemake expects, with no Python traceback on the console; in the worker, its work too."""
    workdir, env, _ = worker
    for name, job_env in (("interrupted", env), ("interrupted_alone", {**env, ENV_SOCKET: ""})):
        client = subprocess.Popen(
            [sys.executable, "job.py", f"{name}.pid", "120", "0"],
            cwd=workdir,
            env=job_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # as in a terminal: a shell that starts the tests in the background (no job
            # control) has them ignore SIGINT, and Python then keeps it ignored
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        running = started_job(workdir / f"{name}.pid")
        client.send_signal(signal.SIGINT)
        _, err = client.communicate(timeout=60)
        assert client.returncode == -signal.SIGINT
        assert "Traceback" not in err and "KeyboardInterrupt" not in err
        assert wait_for(lambda running=running: not alive(running), 10)


def test_without_a_worker_the_job_runs_in_its_own_process(worker):
    workdir, env, _ = worker
    for missing in ({**env, ENV_SOCKET: str(workdir / "none.sock")}, {**env, "SLURM_JOB_ID": "7"}):
        client = job(workdir, missing, "alone")
        out, _ = client.communicate(timeout=120)
        assert client.returncode == 0
        assert int((workdir / "alone.pid").read_text()) == client.pid
        assert f"job ran in {client.pid}" in out
        assert "leaves alone: 0" in out


def alone_and_served(workdir: Path, config: dict, prints: str) -> tuple[str, str]:
    """What a job printing `prints` (an expression of what the worker may have loaded: the
    tabular sweep's table, the data set) shows in its own process, then in a real worker started
    for the sweep `config`."""
    (workdir / "job.py").write_text(
        "import sys, types\n"
        "from snakesweep.worker import run_job\n"
        "def main(smk):\n"
        "    from snakesweep.tabular import load_table\n"
        "    from snakesweep.train.data import _LOADED\n"
        f"    print({prints})\n"
        "if __name__ == '__main__':\n"
        "    run_job(main, types.SimpleNamespace(threads=1))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        ENV_SOCKET: str(socket_path(workdir, os.getpid())),
        ENV_OWNER: str(os.getpid()),
    }
    alone = subprocess.run(
        [sys.executable, "job.py"], cwd=workdir, env={**env, ENV_SOCKET: ""},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    worker = start_worker(workdir, os.getpid(), json.loads(json.dumps(config, default=str)))
    try:
        served = subprocess.run(
            [sys.executable, "job.py"], cwd=workdir, env=env, capture_output=True, text=True,
            check=True, timeout=300,
        )  # fmt: skip
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    return alone.stdout.strip(), served.stdout.strip()


def test_a_tabular_sweeps_jobs_find_the_table_loaded_and_torch_never_imported(tmp_path):
    config = {"task": "tabular", "tabular": {"table": "hpobench/car"}}
    prints = "'tables', load_table.cache_info().currsize, 'torch', 'torch' in sys.modules"
    # a job in its own process has neither; the worker's job has the table, still no torch
    assert alone_and_served(tmp_path, config, prints) == (
        "tables 0 torch False",
        "tables 1 torch False",
    )


def test_a_training_sweeps_jobs_find_its_data_set_loaded(tmp_path, monkeypatch):
    """The worker loads the sweep's data set before it forks its jobs: a user's CSV is read once
    a run, not once a trial."""
    monkeypatch.chdir(tmp_path)
    rows = "".join(f"{i % 7},{i % 5},{i % 2}\n" for i in range(60))
    (tmp_path / "data.csv").write_text("a,b,label\n" + rows)
    data = {"name": "csv", "path": "data.csv", "target": "label"}
    config = load_config(copy.deepcopy(TINY_SWEEP) | {"data": data}, tmp_path / "results")
    prints = "'loaded', [arrays.x.shape for arrays in _LOADED.values()]"
    assert alone_and_served(tmp_path, config, prints) == ("loaded []", "loaded [(60, 2)]")


def test_a_worker_whose_data_set_cannot_be_loaded_still_serves_jobs(tmp_path, monkeypatch):
    """Loading the data ahead is a head start only: a file gone since the config was checked
    leaves each trial to meet the error itself, and the worker listens."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text("a,label\n" + "".join(f"{i},{i % 2}\n" for i in range(40)))
    data = {"name": "csv", "path": "data.csv", "target": "label"}
    config = load_config(copy.deepcopy(TINY_SWEEP) | {"data": data}, tmp_path / "results")
    (tmp_path / "data.csv").unlink()
    worker = start_worker(tmp_path, os.getpid(), json.loads(json.dumps(config, default=str)))
    worker.terminate()
    worker.wait(timeout=30)


@pytest.mark.parametrize("after_s", [0.3, 0.7, 1.2, 2.0])
def test_the_worker_stops_at_once_when_told_while_it_imports(tmp_path, after_s):
    """SIGTERM in the middle of the worker's imports (some libraries catch every exception
    around their optional imports) still stops it."""
    config = {"task": "tabular", "tabular": {"table": "hpobench/car"}}
    worker = start_worker(tmp_path, os.getpid(), config, listening=False)
    time.sleep(after_s)
    worker.terminate()
    try:
        worker.wait(timeout=15)
    finally:
        worker.kill()
    assert not socket_path(tmp_path, os.getpid()).exists()


def test_a_script_without_its_guard_is_one_job_not_a_fork_storm(worker):
    """A job script that calls run_job at import (no `if "snakemake" in globals()`) is loaded
    again by the worker's child: that call runs in the child instead of handing work on."""
    workdir, env, process = worker
    (workdir / "unguarded.py").write_text(
        "import os, types\n"
        "from snakesweep.worker import run_job\n"
        "def main(smk):\n"
        "    print('ran in', os.getpid(), flush=True)\n"
        "run_job(main, types.SimpleNamespace(threads=1))\n"
    )
    client = subprocess.Popen(
        [sys.executable, "unguarded.py"], cwd=workdir, env=env, stdout=subprocess.PIPE, text=True
    )
    out, _ = client.communicate(timeout=120)
    assert client.returncode == 0
    pids = {line.split()[-1] for line in out.splitlines()}
    assert len(pids) == 1 and str(client.pid) not in pids  # in one child of the worker
    assert process.poll() is None


def test_while_the_worker_imports_a_trial_waits_for_it_and_other_jobs_run_at_once(tmp_path):
    """The run's first jobs do not wait for torch to be imported; a trial does (it would import
    torch a second time beside the worker), and runs in its own process if the worker dies
    before it listens."""
    (tmp_path / "job.py").write_text(JOB_SCRIPT)
    importing = subprocess.Popen(["sleep", "600"])  # a worker that has not listened yet
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        ENV_SOCKET: str(socket_path(tmp_path, os.getpid())),
        ENV_OWNER: str(os.getpid()),
        ENV_PID: str(importing.pid),
    }
    try:
        light = job(tmp_path, env, "light")
        out, _ = light.communicate(timeout=60)
        assert light.returncode == 0 and f"job ran in {light.pid}" in out
        trial = job(tmp_path, env, "trial", trains=True)
        time.sleep(1.0)
        assert trial.poll() is None and not (tmp_path / "trial.pid").exists()  # waiting
        worker = start_worker(tmp_path, os.getpid())  # the worker now listens on that socket
        out, _ = trial.communicate(timeout=300)
        worker.terminate()
        worker.wait(timeout=30)
        assert trial.returncode == 0
        assert int((tmp_path / "trial.pid").read_text()) != trial.pid  # in the worker
        orphan = job(tmp_path, env, "orphan", trains=True)
        time.sleep(1.0)
        assert orphan.poll() is None
        importing.kill()  # the worker died while importing
        out, _ = orphan.communicate(timeout=60)
        assert orphan.returncode == 0 and f"job ran in {orphan.pid}" in out
    finally:
        importing.kill()
        importing.wait()


def test_a_trial_waiting_for_the_worker_of_a_killed_run_does_not_run(tmp_path):
    """Snakemake killed (SIGKILL) while the worker imports: the worker dies with it, and a trial
    that waited for it exits instead of training as an orphan."""
    (tmp_path / "job.py").write_text(JOB_SCRIPT)
    owner = subprocess.Popen(["sleep", "600"])  # the Snakemake process of the run
    importing = subprocess.Popen(["sleep", "600"])  # its worker, not listening yet
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        ENV_SOCKET: str(socket_path(tmp_path, owner.pid)),
        ENV_OWNER: str(owner.pid),
        ENV_PID: str(importing.pid),
    }
    trial = job(tmp_path, env, "orphan", trains=True)
    time.sleep(1.0)
    for process in (owner, importing):
        process.kill()
        process.wait()
    trial.communicate(timeout=60)
    assert trial.returncode != 0
    assert not (tmp_path / "orphan.pid").exists()


def test_a_job_whose_worker_dies_runs_again_in_its_own_process(tmp_path):
    worker = start_worker(tmp_path, os.getpid())
    (tmp_path / "job.py").write_text(JOB_SCRIPT)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        ENV_SOCKET: str(socket_path(tmp_path, os.getpid())),
        ENV_OWNER: str(os.getpid()),
    }
    client = job(tmp_path, env, "orphaned", sleep=3)
    in_worker = started_job(tmp_path / "orphaned.pid")
    worker.kill()
    worker.wait()
    out, _ = client.communicate(timeout=60)
    assert client.returncode == 0
    assert wait_for(lambda: not alive(in_worker), 10)
    assert f"job ran in {client.pid}" in out


def test_the_worker_exits_when_its_owner_is_gone(tmp_path):
    owner = subprocess.Popen(["sleep", "600"])
    worker = start_worker(tmp_path, owner.pid)
    owner.kill()
    owner.wait()
    assert worker.wait(timeout=60) is not None
    assert not socket_path(tmp_path, owner.pid).exists()


def test_the_switch_is_not_part_of_the_sweep_identity(tiny_config):
    on = {**tiny_config, "warm_worker": True}
    off = {**tiny_config, "warm_worker": False}
    assert identity(on) == identity(off)


@pytest.mark.slow
def test_the_same_trials_with_and_without_the_worker(tmp_path):
    """A real tiny sweep both ways: every column of trials.csv but the timings is identical, and
    the worker really ran the trials."""
    tables = {}
    for switch in (True, False):
        workdir = tmp_path / str(switch)
        workdir.mkdir()
        sweep = copy.deepcopy(TINY_SWEEP) | {"warm_worker": switch}
        run_snakemake(workdir, write_config(workdir, sweep))
        tables[switch] = pd.read_csv(workdir / "results" / "tiny" / "trials.csv")
        assert served_by_worker(workdir, "train_trial") == (4 if switch else 0)
    pd.testing.assert_frame_equal(
        comparable(tables[True]), comparable(tables[False]), check_exact=True
    )


def run_processes(workdir: Path) -> list[int]:
    """Processes whose working directory is this run's."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if Path(os.readlink(proc / "cwd")) == workdir and alive(int(proc.name)):
                    found.append(int(proc.name))
    return found


@pytest.mark.slow
def test_snakemake_killed_mid_trial_leaves_no_process_behind(tmp_path):
    """SIGKILL of Snakemake alone (not its jobs) while trials train in the worker: the worker,
    its jobs and their clients all go; the same command then finishes the sweep."""
    configfile = write_config(tmp_path, TINY_SWEEP)
    from conftest import snakemake_command, snakemake_env

    process = subprocess.Popen(
        snakemake_command(tmp_path, configfile),
        cwd=tmp_path,
        env=snakemake_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    training = tmp_path / "logs" / "train" / "tiny" / "r000-t000.log"
    try:
        assert wait_for(training.exists, 600)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert wait_for(lambda: run_processes(tmp_path) == [], 30), run_processes(tmp_path)
    run_snakemake(tmp_path, configfile)
    table = pd.read_csv(tmp_path / "results" / "tiny" / "trials.csv")
    assert list(table["status"]) == ["ok"] * 4
