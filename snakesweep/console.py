"""What a local run prints: the sweep's own lines (printed by its jobs) and Snakemake's warnings
and errors. Snakemake's job blocks and scheduler lines still go to its log file
(.snakemake/log/*.snakemake.log); `SNAKESWEEP_VERBOSE=1` (`make run VERBOSE=1`) shows them too,
and a dry run (`snakemake -n`) lists its jobs as usual.

Snakemake's own `--quiet rules` is not used: its filter applies to the log file as well, and it
hides the error block of a failed job.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from snakesweep.redaction import redact

if TYPE_CHECKING:
    from snakesweep.sweep import Sweep

#: Informational lines of Snakemake that stay on the console.
KEPT_INFO = ("Nothing to be done", "Complete log", "Congratulations")
#: ... and those containing these words: on a cluster, each job's id (to follow or cancel it).
KEPT_FRAGMENTS = ("has been submitted with SLURM jobid",)


def keep_on_console(record: logging.LogRecord) -> bool:
    """Warnings, errors and the few informational lines in KEPT_INFO and KEPT_FRAGMENTS."""
    if record.levelno >= logging.WARNING:
        return True
    message = str(record.msg)
    return message.startswith(KEPT_INFO) or any(part in message for part in KEPT_FRAGMENTS)


#: What Snakemake logs when Ctrl-C stops a run (or a job it stopped, which may come first), and
#: the one line the console shows instead of the error block of every job it stopped.
INTERRUPTED = ("Terminating processes on user request", "died with <Signals.SIGINT: 2>")
INTERRUPTED_LINE = (
    "[snakesweep] interrupted: run the same command again to resume (finished trials are kept, "
    "the ones that were training start again)"
)


class ConsoleFilter:
    """`keep_on_console`, and after Ctrl-C one line instead of the errors of the jobs it stopped
    (each died of SIGINT; Snakemake's log file keeps their blocks)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self.interrupted = False

    def filter(self, record: logging.LogRecord) -> bool:
        if any(sign in str(record.msg) for sign in INTERRUPTED):
            if not self.interrupted:
                print(INTERRUPTED_LINE, file=self.stream or sys.stderr, flush=True)
            self.interrupted = True
            return False
        interrupted_error = self.interrupted and record.levelno >= logging.ERROR
        return keep_on_console(record) and not interrupted_error


def _filter_console(check: Any, logger: logging.Logger | None) -> bool:
    """Add `check` to Snakemake's console handler (its log file keeps everything); False if
    not found."""
    logger = logger or logging.getLogger("snakemake.logging")
    for handler in logger.handlers:
        if handler.name == "DefaultStreamHandler":
            handler.addFilter(check)
            return True
    return False


def quiet_console(logger: logging.Logger | None = None) -> bool:
    """Filter Snakemake's console handler with a ConsoleFilter; False if not found."""
    return _filter_console(ConsoleFilter(), logger)


#: Snakemake's line when --configfile is given in a folder holding the default
#: config/config.yaml ("Config file config/config.yaml is extended by additional config
#: specified via the command line."): untrue here, the given files replace the default.
DEFAULT_EXTENDED = "is extended by additional config specified via the command line"


def hide_default_extended(logger: logging.Logger | None = None) -> bool:
    """Keep DEFAULT_EXTENDED off the console, dry runs and verbose runs included (a run with
    --configfile); False if Snakemake's console handler is not found."""
    return _filter_console(lambda record: DEFAULT_EXTENDED not in str(record.msg), logger)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _moved(started_in: Path | None) -> bool:
    """Whether the run works in another folder than the one the user started it in
    (`snakemake --directory DIR`)."""
    return started_in is not None and started_in.resolve() != Path.cwd().resolve()


def usable_from(started_in: Path | None, path: Path | str) -> str:
    """A path of the run's working directory as the user types it in the folder they started
    snakemake in (`started_in`): as it is there, else absolute, quoted for the shell."""
    if not _moved(started_in) or Path(path).is_absolute():
        return shlex.quote(str(path))
    return shlex.quote(str(Path.cwd() / path))


def configfile_shown(path: Path, started_in: Path | None) -> str:
    """A run's --configfile as the user types it in the folder they started snakemake in:
    relative to it, or absolute when outside it."""
    shown = os.path.relpath(path, started_in or Path.cwd())
    return shown if not shown.startswith("..") else str(path)


def report_command(sweep: Sweep, started_in: Path | None, run: Sequence[Path]) -> str:
    """The `snakemake --report` command that reports this sweep from where the user started
    the run: with its --configfile (without it, the default sweep's report would be written)
    and, for a run with --directory, that folder and the Snakefile. `run`: the Snakefile and
    the config files of the run."""
    snakefile, *configfiles = run
    command = ["snakemake"]
    if _moved(started_in):
        command += ["--snakefile", shlex.quote(str(snakefile))]
        command += ["--directory", shlex.quote(str(Path.cwd()))]
    for path in configfiles:
        command += ["--configfile", shlex.quote(configfile_shown(path, started_in))]
    return " ".join(
        [*command, "--report", usable_from(started_in, sweep.paths.root / "report.html")]
    )


def _tracking_uri(uri: str, started_in: Path | None) -> str:
    """The MLflow URI to give `mlflow ui` where the user started the run: a local store's
    relative path made absolute after --directory (`mlflow ui` would open a new, empty store)."""
    prefix = "sqlite:///"
    store = uri.removeprefix(prefix)
    if not uri.startswith(prefix) or store.startswith("/") or not _moved(started_in):
        return uri
    return shlex.quote(prefix + str(Path.cwd() / store))


def finished_lines(
    sweep: Sweep, started_in: Path | None = None, run: Sequence[Path] = (Path("Snakefile"),)
) -> list[str]:
    """The lines a finished run ends with: the best configuration, where the results, the report
    and the MLflow view are, as commands and paths that work in `started_in` (the folder the
    user started snakemake in) for the `run` (its Snakefile and config files). Nothing when the
    sweep has no best.yaml (nothing was built)."""
    import yaml

    best_file = sweep.paths.best_yaml
    if not best_file.exists():
        return []
    best = yaml.safe_load(best_file.read_text()).get("best") or {}
    if best:
        params = ", ".join(f"{k}={_short(v)}" for k, v in (best.get("params") or {}).items())
        best_text = (
            f"{best.get('trial')}, {sweep.objective.metric} "
            f"{_short(best.get('objective'))}: {params}"
        )
    else:
        best_text = "none (no trial finished; see summary.md)"
    folder = usable_from(started_in, sweep.paths.root)
    folder = f"{folder[:-1]}/'" if folder.endswith("'") else f"{folder}/"
    return [
        "",
        f"[snakesweep] best configuration: {best_text}",
        f"[snakesweep] results: {folder} (summary.md, plots/, trials.csv, best.yaml, trials/)",
        f"[snakesweep] report: {usable_from(started_in, sweep.paths.summary_md)}, or "
        + report_command(sweep, started_in, run),
        "[snakesweep] MLflow: mlflow ui --backend-store-uri "
        + _tracking_uri(redact(sweep.tracking["uri"]), started_in),
    ]


def every_trial_failed(sweep: Sweep) -> str | None:
    """The message a run ends with, exit status 1, when trials ran and none of them finished:
    how many failed and the first one's error and log. None when any trial finished."""
    import pandas as pd

    table_file = sweep.paths.trials_csv
    if not table_file.exists():
        return None
    table = pd.read_csv(table_file, usecols=["trial", "status", "error"], dtype=str)
    if table.empty or table["status"].isin(["ok", "pruned"]).any():
        return None
    first = table.iloc[0]
    trial = first["trial"]
    log = (
        f"logs/train_fold/{sweep.name}/{trial}/"
        if sweep.folds > 1
        else f"logs/train/{sweep.name}/{trial}.log"
    )
    status, error = first["status"], first["error"]
    # `diverged: objective is nan` and `timeout: still running ...` say their status already.
    reason = error if error.startswith(f"{status}:") else f"{status}: {error}"
    return (
        f"snakesweep: every trial failed ({len(table)} of {len(table)}): {trial} {reason} "
        f"(its log: {log}; the report: {sweep.paths.summary_md})"
    )
