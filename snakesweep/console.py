"""What a local run prints: the sweep's own lines (printed by its jobs) and Snakemake's warnings
and errors. Snakemake's job blocks and scheduler lines still go to its log file
(.snakemake/log/*.snakemake.log); `SNAKESWEEP_VERBOSE=1` (`make run VERBOSE=1`) shows them too,
and a dry run (`snakemake -n`) lists its jobs as usual.

Snakemake's own `--quiet rules` is not used: its filter applies to the log file as well, and it
hides the error block of a failed job.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

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


def quiet_console(logger: logging.Logger | None = None) -> bool:
    """Filter Snakemake's console handler (its log file keeps everything); False if not found."""
    logger = logger or logging.getLogger("snakemake.logging")
    for handler in logger.handlers:
        if handler.name == "DefaultStreamHandler":
            handler.addFilter(keep_on_console)
            return True
    return False


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def finished_lines(sweep: Sweep) -> list[str]:
    """The lines a finished run ends with: the best configuration, where the results, the report
    and the MLflow view are. Nothing when the sweep has no best.yaml (nothing was built)."""
    import yaml

    sweep_dir = sweep.paths.root
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
    return [
        "",
        f"[snakesweep] best configuration: {best_text}",
        f"[snakesweep] results: {sweep_dir}/ (summary.md, plots/, trials.csv, best.yaml, trials/)",
        f"[snakesweep] report: {sweep_dir}/summary.md, or snakemake --report "
        f"{sweep_dir}/report.html",
        f"[snakesweep] MLflow: mlflow ui --backend-store-uri {redact(sweep.tracking['uri'])}",
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
    return (
        f"snakesweep: every trial failed ({len(table)} of {len(table)}): {trial} "
        f"{first['status']}: {first['error']} (its log: {log}; the report: "
        f"{sweep.paths.summary_md})"
    )
