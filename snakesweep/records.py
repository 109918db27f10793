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

from snakesweep.paths import SweepPaths


def outdated_records(
    files: SweepPaths, rounds: int, recorded_input: Callable[[Path], list[str] | None]
) -> list[Path]:
    """The kept proposals (rounds 1 on) and final table whose recorded inputs (given by
    `recorded_input`) name their previous round's table: made by an earlier snakesweep."""
    made_from = [(files.rounds(index), files.history(index - 1)) for index in range(1, rounds)]
    made_from += [(path, files.history(rounds - 1)) for path in (files.trials_csv, files.best_yaml)]
    return [
        path
        for path, table in made_from
        if path.exists() and str(table) in (recorded_input(path) or [])
    ]
