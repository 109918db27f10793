"""Warm worker: one process per local run that imports torch, Lightning, pandas, scikit-optimize
and MLflow once and runs each Snakemake job it is handed in a freshly forked child.

A job stays a Snakemake job (log, benchmark, resources, retries): its script calls `run_job`,
which hands the job (a `script_job.ScriptJob`, a trial's arguments, or a
`script:` rule's `snakemake` object) to the worker over a Unix socket, together with its
stdin, stdout and stderr, and exits with the job's status. The forked child takes the job's
working directory, environment (CUDA_VISIBLE_DEVICES included) and threads, then runs the
script's `main(job)`: the same code an in-process job runs, without paying for the imports. A
shell command's client runs as `python -S` and imports nothing but this module (and
script_job): ~0.03 s instead of ~0.1 s for Snakemake's script preamble. When no worker answers
(switched off, not started, gone, or inside a SLURM job) the job runs in its own process
exactly as before; so do the run's first jobs while the worker still imports, except trials,
which wait for it.

No orphans: the worker exits when the Snakemake process that started it is gone (parent-death
signal and polling), when idle, and when told at the end of the run; a job whose client
disappears is killed; a job's process dies with the worker. The worker never initialises CUDA
and never computes with torch, so every child starts clean.

This module imports only the standard library: a client must stay cheap.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import json
import os
import pickle
import select
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

ENV_SOCKET = "SNAKESWEEP_WORKER"  # the socket of the run's worker, set by the workflow
ENV_OWNER = "SNAKESWEEP_WORKER_OWNER"  # pid of the Snakemake process that owns the worker
ENV_PID = "SNAKESWEEP_WORKER_PID"  # pid of the worker: its socket appears once it has imported
STARTED = b"S"  # the worker forked the job's process
HEADER = struct.Struct("!Q")  # length of the pickled request
STATUS = struct.Struct("!i")  # the job's exit status
IDLE_EXIT_S = 120.0
# What the jobs import. A trial's modules come first, before the worker listens (trials wait
# for it, so that none imports torch alongside the worker; other jobs run in their own process
# meanwhile); the rest is imported one module at a time between jobs, in the order the run
# needs it.
TRIAL_MODULES = (
    "pandas",
    "snakesweep.config",
    "snakesweep.rounds",
    "snakesweep.strategies",
    "snakesweep.fidelity",
    "snakesweep.stopping",
    "snakesweep.history",
    "snakesweep.tabular",
    "snakesweep.trial",
)
TRAINING_MODULES = ("torch", "lightning", "snakesweep.train.fit")  # what a trial that trains needs
LATER_MODULES = (
    "skopt.learning",  # a model-based proposal's regressors
    "pyarrow.pandas_compat",
    "mlflow",
    "mlflow.tracking",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "alembic.script",
    "alembic.runtime.migration",
    "snakesweep.tracking",
    "matplotlib.pyplot",
    "snakesweep.report.build",
    "snakesweep.report.plots",
    "snakesweep.report.fidelity",
    "snakesweep.train.evaluate",
    "sklearn.metrics",
    "snakesweep.provenance",
    "mlflow.pytorch",
    "mlflow.models",
    "snakemake.script",  # what unpickling a `script:` job's `snakemake` object imports
)


class _Stop(BaseException):
    """SIGTERM or SIGINT: the run is over. A BaseException, like KeyboardInterrupt, so that a
    library's `except Exception` around an optional import cannot swallow it."""


def socket_path(workdir: Path, owner: int) -> Path:
    """Where the worker of the Snakemake process `owner` listens, under the working directory."""
    return workdir / ".snakesweep" / f"worker-{owner}.sock"


def _die_with_parent(sig: int) -> None:
    """Linux: the kernel sends `sig` to this process when its parent dies."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, sig, 0, 0, 0)  # PR_SET_PDEATHSIG


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a killed process its parent has not reaped yet does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    return True


# -- the client: a Snakemake job -------------------------------------------------------------


def _connect(path: str) -> socket.socket | None:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # A short relative path: AF_UNIX addresses are limited to about 100 bytes.
        client.connect(os.path.relpath(path))
    except OSError:
        client.close()
        return None
    return client


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _ready(path: str, wait: bool) -> bool:
    """Whether the worker listens on `path`. A worker that is still importing has no socket yet:
    with `wait` the job waits for it (a trial would otherwise import torch a second time, beside
    the worker), without it the job runs at once in its own process."""
    pid = int(os.environ.get(ENV_PID) or 0)
    while not os.path.exists(path):
        if not (wait and pid and alive(pid)):
            if wait and pid:
                _stop_with_the_run()
            return False
        time.sleep(0.02)
    return True


def _stop_with_the_run() -> None:
    """The worker is gone: if the run itself is gone (Snakemake killed), so is this job;
    otherwise the job runs here (every job rewrites its outputs from its inputs)."""
    owner = int(os.environ.get(ENV_OWNER) or 0)
    if owner and not alive(owner):
        sys.exit("snakesweep: the warm worker stopped with the run; the job did not finish")


def _in_worker(script: str, job, wait: bool) -> int | None:
    """The job's exit status from the worker, or None when no worker ran it to its end."""
    path = os.environ.get(ENV_SOCKET)
    if not path or os.environ.get("SLURM_JOB_ID") or not _ready(path, wait):
        return None
    conn = _connect(path)
    if conn is None:
        return None
    request = pickle.dumps(
        {"script": script, "job": job, "cwd": os.getcwd(), "env": dict(os.environ)}
    )
    with conn:
        try:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            socket.send_fds(conn, [HEADER.pack(len(request))], [0, 1, 2])
            conn.sendall(request)
            if conn.recv(1) != STARTED:
                return None
            status = _read_exactly(conn, STATUS.size)
        except OSError:
            return None
    if len(status) == STATUS.size:
        return STATUS.unpack(status)[0]
    _stop_with_the_run()  # the worker went away mid-job
    return None


def run_job(main: Callable, job, trains: bool = False) -> None:
    """Run a script's `main(job)` in the run's warm worker, or in this process if none answers.

    `job` is what the script's `main` reads: a `script_job.ScriptJob` or the command-line
    arguments, the first its `{wildcards}`, of a `shell:` rule whose script runs as `python -S`
    (importing nothing but the standard library until it knows that no worker will take the
    job: then the site packages are added here), or a `script:` rule's `snakemake` object.
    A job that `trains` waits for a worker that is still importing torch; any other job runs in
    its own process until the worker is ready (the first jobs of a run: no wait for torch).
    Ctrl-C (SIGINT) ends the job as the signal ends a process, without a traceback.
    """
    status = None
    try:
        status = _in_worker(main.__globals__["__file__"], job, trains)
        if status is None:
            if sys.flags.no_site:
                import site

                site.main()
            main(job)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    if status:
        sys.exit(status)


# -- the worker ------------------------------------------------------------------------------


def _job_process(request: dict, fds: list[int]) -> None:
    """In the forked child: become the job (streams, directory, environment, threads), run it."""
    code = 1
    try:
        _die_with_parent(signal.SIGKILL)
        for target, fd in enumerate(fds[:3]):
            os.dup2(fd, target)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        # A job in the worker never hands work to the worker again (a script without its
        # `if __name__ == "__main__"` guard would otherwise fork jobs without end).
        os.environ.pop(ENV_SOCKET, None)
        gc.enable()  # off in the worker itself (serve)
        # Logging as in a new process: an import in the worker configured the root logger
        # (mlflow.pytorch calls logging.basicConfig), which made the job's own
        # logging.basicConfig(filename=<its log>) do nothing: its log stayed empty.
        import logging

        logging.root.handlers.clear()
        logging.root.setLevel(logging.WARNING)
        torch = sys.modules.get("torch")
        if torch is not None:
            # What OMP_NUM_THREADS does for a fresh process: the job uses the cores it was given
            # (Snakemake sets it to the job's threads in every job's environment).
            torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS") or 1)))
        script = Path(request["script"])
        name = f"snakesweep_job_{script.stem}"
        spec = importlib.util.spec_from_file_location(name, script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.main(request["job"])
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        if not isinstance(stop.code, int | None):
            print(stop.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        import logging

        logging.shutdown()
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _exit_status(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _handle(conn: socket.socket) -> int:
    """In a forked handler: read one request, run it in a child, report its status.

    The client closing its end (killed, cancelled) kills the job at once.
    """
    _die_with_parent(signal.SIGKILL)
    header, fds, _, _ = socket.recv_fds(conn, HEADER.size, 3)
    if len(header) != HEADER.size:
        return 1
    request = pickle.loads(_read_exactly(conn, HEADER.unpack(header)[0]))
    started = time.time()
    pid = os.fork()
    if pid == 0:
        conn.close()
        _job_process(request, fds)
    for fd in fds:
        os.close(fd)
    conn.sendall(STARTED)
    pidfd = os.pidfd_open(pid)
    ready, _, _ = select.select([conn, pidfd], [], [])
    if conn in ready and pidfd not in ready:  # the client is gone: so is its job
        os.kill(pid, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    code = _exit_status(status)
    with contextlib.suppress(OSError):
        conn.sendall(STATUS.pack(code))
    job = request["job"]
    wildcards = getattr(job, "wildcards", None)
    if wildcards:
        named = ",".join(f"{key}={value}" for key, value in wildcards.items())
    else:  # a shell command's arguments start with its wildcards, as Snakemake writes them
        named = job[0] if isinstance(job, list) and job else ""
    script = Path(request["script"]).stem
    clock = time.strftime("%H:%M:%S", time.localtime(started)) + f".{int(started * 1e3) % 1000:03d}"
    cpu = usage.ru_utime + usage.ru_stime
    wall = time.time() - started
    print(f"{clock} {script} {named} exit {code} in {wall:.2f} s, CPU {cpu:.2f} s", flush=True)
    return 0


def _accept(listener: socket.socket) -> int:
    """Take the next client and fork its handler; return the handler's pid."""
    conn, _ = listener.accept()
    # The job's garbage collector leaves the worker's objects alone: a full collection would
    # otherwise write to every one of them and copy each memory page the fork shares.
    gc.freeze()
    pid = os.fork()
    if pid == 0:
        listener.close()
        code = 1
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = _handle(conn)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    conn.close()
    return pid


def preload(name: str) -> None:
    """Import one module, without touching CUDA or starting torch's thread pools."""
    importlib.import_module(name)
    if name == "mlflow.store.model_registry.sqlalchemy_store":
        import sqlalchemy.orm

        sqlalchemy.orm.configure_mappers()  # what each job's first query would do
    if name == "snakesweep.report.plots":
        sys.modules[name].warm_up()  # the fonts a job's first plot would load
    if name == "mlflow.models":
        # What logging a model does first: map every installed distribution (~0.7 s).
        from mlflow.utils.requirements_utils import warn_dependency_requirement_mismatches

        warn_dependency_requirement_mismatches(["mlflow"])
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        raise RuntimeError(f"importing {name} initialised CUDA; forked jobs could not use it")


def modules_to_preload(config: dict) -> tuple[list[str], list[str]]:
    """The modules to import before serving the first job, and those to import between jobs.

    A sweep that trains imports torch and Lightning first; one that looks its trials up in a
    table (`task: tabular`) never imports them (on 2 cores that CPU is the sweep's).
    """
    if config.get("task") == "tabular":
        return list(TRIAL_MODULES), [m for m in LATER_MODULES if m != "mlflow.pytorch"]
    return [*TRIAL_MODULES, *TRAINING_MODULES], list(LATER_MODULES)


def serve(path: Path, owner: int, config: dict, idle_exit_s: float = IDLE_EXIT_S) -> None:
    """Accept jobs on `path` until the owner is gone, the worker is idle or told to stop.

    Before the first job the worker imports what a trial needs and loads what every trial of
    the sweep `config` would load again (`trial.warm_up`): forked jobs inherit both.
    """
    _die_with_parent(signal.SIGTERM)

    stop_requested = []  # also seen when a library's bare `except:` swallowed the _Stop

    def request_stop(*_) -> None:
        stop_requested.append(True)
        raise _Stop

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    os.environ.setdefault("MPLBACKEND", "Agg")
    jobs: set[int] = set()
    # Imports create millions of objects and no garbage to speak of: collecting while they run
    # costs ~20 % of their time (0.8 s of torch's and Lightning's on 2 cores). Each job's
    # process collects again (_job_process).
    gc.disable()
    first, pending = modules_to_preload(config)
    # The socket appears (renamed into place) once the worker listens with a trial's modules
    # imported; until then jobs that do not train run in their own processes.
    starting = path.with_name(f".{path.name}")
    try:
        for name in first:
            preload(name)
        if not stop_requested:
            importlib.import_module("snakesweep.trial").warm_up(config)
        starting.unlink(missing_ok=True)
        listener.bind(os.path.relpath(starting))
        listener.listen(128)
        os.replace(starting, path)
        idle_since = time.monotonic()
        while alive(owner) and not stop_requested:
            ready, _, _ = select.select([listener], [], [], 0 if pending else 1.0)
            if ready:
                jobs.add(_accept(listener))
            elif pending:
                preload(pending.pop(0))
            for pid in list(jobs):
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done:
                    jobs.discard(pid)
            if jobs:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > idle_exit_s:
                break
    except _Stop:
        pass
    finally:
        listener.close()
        path.unlink(missing_ok=True)
        starting.unlink(missing_ok=True)
        for pid in jobs:  # their job processes die with them (parent-death signal)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


# -- the workflow's side ---------------------------------------------------------------------


def start(workdir: Path, owner: int, log_path: Path, config: dict) -> subprocess.Popen:
    """Start the worker of Snakemake process `owner` for the sweep `config` (it listens once it
    has imported; jobs started before then know it by its pid)."""
    path = socket_path(workdir, owner)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "snakesweep.worker", str(path), str(owner)],
            cwd=workdir,
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    with process.stdin:
        process.stdin.write(json.dumps(config, default=str).encode())
    os.environ[ENV_SOCKET] = str(path)
    os.environ[ENV_OWNER] = str(owner)
    os.environ[ENV_PID] = str(process.pid)
    return process


def stop(process: subprocess.Popen | None) -> None:
    """Stop the worker at the end of the run (its running jobs, if any, with it)."""
    os.environ.pop(ENV_SOCKET, None)
    os.environ.pop(ENV_PID, None)
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


if __name__ == "__main__":
    serve(Path(sys.argv[1]), int(sys.argv[2]), json.load(sys.stdin))
    os._exit(0)  # no slow teardown of torch & co: there is nothing left to save
