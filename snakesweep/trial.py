"""Run one trial and always leave a metrics.json behind, whatever happened inside training.

Training runs in a forked child process that this (light) process supervises: an exception,
a NaN/inf loss, the child being killed (SIGKILL, the kernel's out-of-memory killer, a segfault
in a native library) or running over its time limit all end as a metrics.json with a status and
a reason, and the train job itself succeeds, so a trial's own failure never fails the workflow.

The machine's faults are different: a full, over-quota, read-only or failing results disk and a
module missing from the environment say nothing about the trial's hyperparameters, and would
pass once the machine is fixed. `machine_fault` tells them apart; such a trial is not recorded
(no metrics.json) and its job fails, so Snakemake's `--retries` and a later run train it again.
Running out of memory and a SIGKILL stay the trial's own faults: they cannot be told from a
configuration that needs more memory than there is, which would otherwise stall the sweep
(on SLURM the scheduler's memory kill takes the whole job, and the retry gets more memory).
The fork costs a few milliseconds (benchmarks/trial_overhead.py); the parent never imports torch.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import select
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from snakesweep.outputs import write_json

if TYPE_CHECKING:
    from snakesweep.sweep import Sweep

log = logging.getLogger(__name__)

RESULT_FILE = ".result.json"
# Errors of the disk or the file system, not of the trial.
MACHINE_ERRNOS = frozenset(
    code
    for code in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EIO, errno.EROFS,
                 getattr(errno, "ESTALE", None))
    if code is not None
)  # fmt: skip
# The exit code of a training process that stopped on a machine fault (EX_TEMPFAIL).
MACHINE_EXIT = 75
# Written to the trial's folder when its training failed, to learn whether the disk takes data.
PROBE_BYTES = 64 * 1024


class MachineFault(RuntimeError):
    """The machine failed the trial (disk, environment): the job fails and is retried."""


def machine_fault(error: BaseException) -> str | None:
    """Why `error` (or an exception it was raised from) is the machine's fault, else None."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ImportError):
            return f"the environment lacks a module ({type(current).__name__}: {current})"
        if isinstance(current, OSError) and current.errno in MACHINE_ERRNOS:
            return f"the disk failed ({type(current).__name__}: {current})"
        current = current.__cause__ or current.__context__
    return None


def disk_fault(directory: Path) -> str | None:
    """Why `directory` cannot take a small write now (full, over quota, read-only), else None.

    Asked after a failed training: libraries that write checkpoints (torch.save) report a full
    disk as a RuntimeError without an errno."""
    probe = directory / ".disk-probe"
    try:
        with open(probe, "wb") as handle:
            handle.write(b"\0" * PROBE_BYTES)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        return machine_fault(error)
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return None


def objective_of(metrics: dict, metric: str) -> float:
    if metric not in metrics:
        available = ", ".join(sorted(metrics)) or "none"
        # LookupError, not KeyError: its message reads without KeyError's quotes around it.
        raise LookupError(
            f"objective.metric {metric!r} is not among the trial's metrics ({available})"
        )
    return float(metrics[metric])


def signal_name(number: int) -> str:
    with contextlib.suppress(ValueError):
        return signal.Signals(number).name
    return f"signal {number}"


def _die_with_parent() -> None:
    """Linux: the kernel kills this process when its parent dies (no orphaned training)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        if os.getppid() == 1:  # the parent died before prctl took effect
            os._exit(1)


def _wait(pid: int, time_limit_s: float | None) -> tuple[int | None, bool]:
    """Wait for child `pid`; kill it past the time limit. Returns (wait status, timed_out)."""
    deadline = None if time_limit_s is None else time.monotonic() + time_limit_s
    pidfd = None
    with contextlib.suppress(AttributeError, OSError):
        pidfd = os.pidfd_open(pid)
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status, False
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return None, True
            if pidfd is not None:
                select.select([pidfd], [], [], remaining)
            else:
                time.sleep(0.05 if remaining is None else min(0.05, remaining))
    except BaseException:
        # The supervisor itself is interrupted (Ctrl-C, SIGTERM): take the training down too.
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        raise
    finally:
        if pidfd is not None:
            os.close(pidfd)


def supervise(
    target: Callable[[], dict],
    result_path: Path,
    time_limit_s: float | None = None,
    output: Path | None = None,
) -> dict:
    """Run `target()` in a forked child and return the dict it returned.

    When the child dies without returning (killed, crashed, over `time_limit_s`), the result is
    `{"status": "failed", "error": <reason>}` instead. Without os.fork the target runs in-process.
    With `output` (the trial's log), what the child writes to stdout and stderr (a user's
    prints, library warnings, a traceback) is appended there instead of to the run's console.
    """
    result_path.unlink(missing_ok=True)
    if not hasattr(os, "fork"):
        return target()
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: train, hand the result over as a file, exit without cleanup
        code = 70
        try:
            _die_with_parent()
            if output is not None:
                _write_output_to(output)
            result = target()
            partial = result_path.with_suffix(".part")
            partial.write_text(json.dumps(result, default=str))
            os.replace(partial, result_path)
            code = 0
        except BaseException as error:
            traceback.print_exc()
            code = MACHINE_EXIT if machine_fault(error) else code
        finally:
            for handler in logging.getLogger().handlers:
                with contextlib.suppress(Exception):
                    handler.flush()
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
    status, timed_out = _wait(pid, time_limit_s)
    if timed_out:
        return {
            "status": "timeout",
            "error": f"timeout: still running after the time limit of {time_limit_s:g} s "
            "(limits.trial_time_s, or the job's runtime under a scheduler), killed",
        }
    if status is not None and os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        hint = " (out of memory, or killed from outside)" if number == signal.SIGKILL else ""
        return {
            "status": "failed",
            "error": f"killed: the training process was killed by {signal_name(number)}{hint}",
        }
    code = os.WEXITSTATUS(status) if status is not None else None
    if code == MACHINE_EXIT:
        where = "in the trial's log" if output is not None else "above"
        return {"status": "machine", "error": f"a fault of the machine (traceback {where})"}
    if not result_path.exists():
        return {
            "status": "failed",
            "error": f"crashed: the training process exited with code {code} and no result",
        }
    result = json.loads(result_path.read_text())
    result_path.unlink()
    return result


def _write_output_to(path: Path) -> None:
    """This process's stdout and stderr append to `path`: file descriptors 1 and 2 (what C code
    and child processes write) and Python's sys.stdout and sys.stderr, line by line."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, errors="backslashreplace", closefd=False)  # noqa: SIM115


def fidelity_args(proposal: dict, trial_dir: Path) -> dict | None:
    """fit_trial's `fidelity` argument from a proposal's `fidelity` and `prune` records."""
    fid = proposal.get("fidelity") or {}
    args: dict = {}
    if fid.get("kind") == "epochs":
        args["epochs"] = int(fid["value"])
    elif fid.get("kind") == "data_fraction":
        args["data_fraction"] = float(fid["value"])
    if fid.get("resume_from"):
        args["resume_from"] = str(trial_dir.parent / fid["resume_from"])
    if proposal.get("prune"):
        args["prune"] = proposal["prune"]
    return args or None


def warm_up(config: dict) -> None:
    """Load what every trial of the sweep `config` (the dict the warm worker starts with) loads
    first, so that processes forked afterwards (the warm worker's jobs) find it loaded: the
    published table of `task: tabular` (a trial otherwise spends ~0.5 s unpickling it for one
    lookup), or the data set of a sweep that trains on a built-in set or a user's file."""
    if config.get("task") == "tabular":
        from snakesweep.tabular import load_table, tabular_name

        load_table(tabular_name(config))
        return
    data = config.get("data")
    if not data or data.get("class_path") or (config.get("train") or {}).get("function"):
        return  # no sweep yet, or the user's DataModule or training function loads its data
    from snakesweep.sweep import sweep_of
    from snakesweep.train.data import data_config, load_arrays

    try:
        sweep = sweep_of(config)
        load_arrays(data_config(sweep.data, sweep.seed))
    except Exception as error:  # a head start only: each trial meets the error and records it
        print(f"snakesweep: the data set was not loaded ahead of the trials: {error}", flush=True)


def train_outcome(proposal: dict, sweep: Sweep, trial_dir: Path, fold: int | None = None) -> dict:
    """Train in this process: status, error, objective and metrics (exceptions are recorded).

    A trial the pruning rule stopped is `pruned`, its objective the best value it reached.
    With `task: tabular` the metrics are looked up in the configured table instead; with
    `train.function` the user's own training function gives them.
    """
    from snakesweep.tabular import run_tabular_trial
    from snakesweep.train import DivergedError, TrialPruned, fit_trial

    outcome: dict = {"status": "ok", "error": None, "objective": None, "metrics": {}}
    try:
        by_fold = {} if fold is None else {"fold": fold}
        fidelity = fidelity_args(proposal, trial_dir)
        if fidelity:
            by_fold["fidelity"] = fidelity
        try:
            if sweep.task == "tabular":
                metrics = run_tabular_trial(proposal["params"], sweep, trial_dir, proposal["seed"])
            elif sweep.train.get("function"):
                from snakesweep.train.function import run_function

                metrics = run_function(
                    sweep.train["function"], proposal["params"], trial_dir, proposal["seed"]
                )
            else:
                metrics = fit_trial(
                    proposal["params"], sweep, trial_dir, proposal["seed"], **by_fold
                )
        except TrialPruned as pruned:
            metrics = pruned.metrics
            outcome.update(status="pruned", error=str(pruned))
        outcome["metrics"] = metrics
        objective = objective_of(metrics, sweep.objective.metric)
        if not math.isfinite(objective):
            raise DivergedError(f"objective is {objective}")
        outcome["objective"] = objective
    except DivergedError as error:
        outcome.update(status="diverged", error=f"diverged: {error}")
    except Exception as error:  # a trial's own failure is recorded, never raised
        if machine_fault(error):
            raise
        log.error("trial %s failed:\n%s", proposal["trial"], traceback.format_exc())
        reason = f"{type(error).__name__}: {error}"
        # A user's module whose loss went NaN fails later, elsewhere; its history tells.
        diverged = nonfinite_loss(trial_dir / "history.csv")
        if diverged:
            outcome.update(status="diverged", error=f"diverged: {diverged} ({reason})")
        else:
            outcome.update(status="failed", error=reason)
    return outcome


def nonfinite_loss(history_path: Path) -> str | None:
    """'train/loss is nan in epoch 0' when a loss column of history.csv is NaN or infinite."""
    import csv

    if not history_path.exists():
        return None
    with open(history_path, newline="") as handle:
        for row in csv.DictReader(handle):
            for name, value in row.items():
                if not name or not name.endswith("loss") or value in (None, ""):
                    continue
                with contextlib.suppress(ValueError):
                    if not math.isfinite(float(value)):
                        return f"{name} is {value} in epoch {row.get('epoch', '?')}"
    return None


def clear_trial_dir(trial_dir: Path) -> None:
    """Remove what an interrupted earlier attempt left, so no stale file mixes in."""
    if not trial_dir.is_dir():
        return
    for path in trial_dir.iterdir():
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def run_trial(
    proposal: dict,
    round_index: int,
    sweep: Sweep,
    trial_dir: Path,
    time_limit_s: float | None = None,
    isolate: bool = True,
    fold: int | None = None,
    log_path: Path | None = None,
) -> dict:
    """Train one proposed trial; write and return its metrics.json record.

    Status is `ok`, `diverged` (NaN/inf loss), `timeout` (over `time_limit_s`) or `failed` (an
    exception, the training process killed), with the reason in `error`. `fold` trains one fold of
    k-fold cross-validation (evaluate.folds) into `trial_dir`. A fault of the machine (see
    `machine_fault`, `disk_fault`) raises MachineFault instead, and nothing is recorded. With
    `log_path` (the job's log) the training process's own output goes there, not to the console.
    """
    clear_trial_dir(trial_dir)
    trial_dir.mkdir(parents=True, exist_ok=True)
    if time_limit_s is None:
        time_limit_s = sweep.limits["trial_time_s"]
    start = time.perf_counter()
    if isolate:
        outcome = supervise(
            lambda: train_outcome(proposal, sweep, trial_dir, fold),
            trial_dir / RESULT_FILE,
            time_limit_s,
            log_path,
        )
    else:
        outcome = train_outcome(proposal, sweep, trial_dir, fold)
    if outcome["status"] in ("failed", "machine"):
        fault = outcome["error"] if outcome["status"] == "machine" else disk_fault(trial_dir)
        if fault:
            raise MachineFault(
                f"trial {proposal['trial']} stopped on a fault of the machine, not recorded: "
                f"{fault}; fix it and run again (the trial is trained again)"
            )
    if outcome["status"] != "ok":
        log.error("trial %s: %s", proposal["trial"], outcome["error"])
    record = {
        "trial": proposal["trial"],
        "round": round_index,
        "seed": proposal["seed"],
        "params": proposal["params"],
        "status": outcome["status"],
        "error": outcome.get("error"),
        "objective": outcome.get("objective"),
        "metrics": outcome.get("metrics") or {},
        "duration_s": round(time.perf_counter() - start, 3),
    }
    if proposal.get("fidelity"):
        record["fidelity"] = proposal["fidelity"]
    history = trial_dir / "history.csv"
    if not history.exists():
        history.write_text("epoch\n")
    last = trial_dir / "last.ckpt"
    if not last.exists():
        last.touch()  # a declared output; empty means there is nothing to resume from
    write_json(trial_dir / "metrics.json", record)
    return record


def run_trial_job(
    trial: str,
    proposals: Path,
    trial_dir: Path,
    log_path: Path,
    threads: int,
    runtime_min: int | None,
    config: dict,
    fold: int | None = None,
) -> None:
    """A `train` (or, with `fold`, `train_fold`) job: set up its log, threads and time limit,
    train the trial `trial` of the round file `proposals` into `trial_dir` and write its
    metrics.json. A fault of the machine fails the job with one line, so that Snakemake
    retries it."""
    import socket

    from snakesweep.cluster import is_lookup, trial_time_limit_s
    from snakesweep.outputs import read_json
    from snakesweep.paths import round_of_trial
    from snakesweep.sweep import sweep_of

    logging.basicConfig(filename=log_path, level=logging.INFO)
    # torch reads this when first imported: a trial uses only the cores Snakemake gave it.
    os.environ["OMP_NUM_THREADS"] = str(max(1, threads))
    # Where the trial ran: host, SLURM job and the GPUs it may use (set by the scheduler).
    log.info(
        "host %s, SLURM job %s, CUDA_VISIBLE_DEVICES=%s",
        socket.gethostname(),
        os.environ.get("SLURM_JOB_ID", "-"),
        os.environ.get("CUDA_VISIBLE_DEVICES", "-"),
    )
    proposal = next((p for p in read_json(proposals)["trials"] if p["trial"] == trial), None)
    if proposal is None:
        raise KeyError(f"{trial} is not in {proposals}")
    # Under SLURM a trial stops before its job's runtime ends: recorded as `timeout`, not lost.
    sweep = sweep_of(config)
    limit = trial_time_limit_s(sweep, runtime_min, "SLURM_JOB_ID" in os.environ)
    try:
        run_trial(
            proposal,
            round_of_trial(trial),
            sweep,
            Path(trial_dir),
            time_limit_s=limit,
            # A lookup in a table cannot crash or hang the job: no training process to watch.
            isolate=not is_lookup(sweep),
            fold=fold,
            log_path=Path(log_path),
        )
    except MachineFault as fault:  # the job fails, so that it is retried; one line, no traceback
        log.error("%s", fault)
        sys.exit(f"snakesweep: {fault}")
