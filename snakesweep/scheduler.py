"""Snakemake's scheduler in a run's own process: what keeps a finished run from waiting.

Snakemake limits job submissions per timespan (`--max-jobs-per-timespan`, 100 a second by
default) and, after each pass over its job queue, schedules the next pass with a
`threading.Timer` of that timespan. The timer's thread is not a daemon, so a run that has
finished still waits for its last timer before the process exits: up to a second more on every
run, a no-op rerun included. Once the run is over (onsuccess, onerror) the pending timers are
cancelled; nothing is left for them to schedule.
"""

from __future__ import annotations

import threading


def cancel_pending_timers() -> int:
    """Cancel every pending `threading.Timer` of this process; how many were pending."""
    timers = [
        thread
        for thread in threading.enumerate()
        if isinstance(thread, threading.Timer) and not thread.finished.is_set()
    ]
    for timer in timers:
        timer.cancel()
    return len(timers)
