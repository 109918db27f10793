"""Append a finished round's learning curves to the cumulative curves table (pruning)."""

import logging
import sys

from snakesweep.script_job import parse
from snakesweep.worker import run_job


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.outputs import write_csv
    from snakesweep.pruning import read_curves, round_curves
    from snakesweep.sweep import sweep_of

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    pruning = sweep_of(smk.config).pruning
    table = round_curves(
        read_curves(smk.input.get("previous")),
        list(zip(smk.input.metrics, smk.input.histories, strict=True)),
        pruning["metric"],
        pruning["mode"],
    )
    write_csv(table, smk.output[0])


if __name__ == "__main__":
    run_job(main, parse(sys.argv[1:]))
