"""Snakemake's records of a sweep folder that an earlier snakesweep made.

Snakemake remembers, per output file, the inputs of the job that made it, and with
`rerun-triggers: input` (profiles/default) a job whose set of inputs changed runs again. Round
r's proposals and the final table once read the table of round r-1 (history/r-1.csv); they now
read the table before it and round r-1's metrics themselves, so that recording a round is not a
step between its last trial and the next proposals. A folder started before would therefore
propose its rounds, and train their trials, again: the records of those outputs are forgotten
instead (their files stay, and Snakemake keeps them as made).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from snakesweep.paths import SweepPaths, round_of_trial


def outdated_records(
    files: SweepPaths, rounds: int, recorded_input: Callable[[Path], list[str] | None]
) -> list[Path]:
    """The kept proposals (rounds 1 on) and final table (trials.csv, best.yaml) recorded as
    made by an earlier snakesweep, given each output's recorded inputs (`recorded_input`)."""
    outdated = [
        files.rounds(index)
        for index in range(1, rounds)
        if files.rounds(index).exists()
        and str(files.history(index - 1)) in (recorded_input(files.rounds(index)) or [])
    ]
    # With another number of rounds than then, the final table is made again anyway.
    outdated += [
        path
        for path in (files.trials_csv, files.best_yaml)
        if path.exists() and _round_table_of(files, recorded_input(path) or []) == rounds - 1
    ]
    return outdated


def _round_table_of(files: SweepPaths, inputs: list[str]) -> int | None:
    """k if a final table was made from round k's table alone (history/k.csv, no trial of round
    k+1), as earlier; now it reads the table before the last round and adds that round's
    trials, so None. (The number of rounds may have changed since: it is read from the inputs.)"""
    tables = [int(Path(name).stem) for name in inputs if Path(name).parent == files.history_dir]
    rounds_of_trials = {
        round_of_trial(Path(name).parent.name)
        for name in inputs
        if Path(name).name == "metrics.json" and Path(name).parent.parent == files.trials_dir
    }
    return next((table for table in tables if table + 1 not in rounds_of_trials), None)
