"""What a local run prints: the sweep's own lines (printed by its jobs) and Snakemake's warnings
and errors. Snakemake's job blocks and scheduler lines still go to its log file
(.snakemake/log/*.snakemake.log); `SNAKESWEEP_VERBOSE=1` (`make run VERBOSE=1`) shows them too.

Snakemake's own `--quiet rules` is not used: its filter applies to the log file as well, and it
hides the error block of a failed job.
"""

from __future__ import annotations

import logging

#: Informational lines of Snakemake that stay on the console.
KEPT_INFO = ("Nothing to be done", "Complete log")


def keep_on_console(record: logging.LogRecord) -> bool:
    """Warnings, errors and the few informational lines in KEPT_INFO."""
    if record.levelno >= logging.WARNING:
        return True
    return str(record.msg).startswith(KEPT_INFO)


def quiet_console(logger: logging.Logger | None = None) -> bool:
    """Filter Snakemake's console handler (its log file keeps everything); False if not found."""
    logger = logger or logging.getLogger("snakemake.logging")
    for handler in logger.handlers:
        if handler.name == "DefaultStreamHandler":
            handler.addFilter(keep_on_console)
            return True
    return False
