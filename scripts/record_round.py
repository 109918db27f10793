"""Append a finished round to the cumulative history table and print the round's line."""

import logging
import time
from pathlib import Path

from snakesweep.worker import run_job


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.history import (
        append_round,
        read_history,
        read_trials,
        round_summary,
        write_history,
    )

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    round_index = int(smk.wildcards.round)
    previous = read_history(smk.input.get("previous"))
    table = append_round(previous, read_trials(smk.input.trials))
    write_history(table, smk.output[0])
    if smk.input.trials:
        elapsed = time.time() - Path(smk.input.sweep).stat().st_mtime
        direction = smk.config["objective"]["direction"]
        print(round_summary(table, round_index, direction, elapsed), flush=True)


if "snakemake" in globals():
    run_job(main, snakemake)  # noqa: F821
