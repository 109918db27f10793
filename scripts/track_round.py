"""Mirror one finished round into MLflow (the files stay the source of truth), with each
trial's learning curve drawn beside it (plots/trials/<round>/)."""

import logging
import os
from pathlib import Path

from snakesweep.worker import run_job


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.cluster import is_lookup
    from snakesweep.history import read_history
    from snakesweep.outputs import write_json
    from snakesweep.report.build import write_trial_curves
    from snakesweep.sweep import sweep_of
    from snakesweep.tracking import track_round

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    sweep = sweep_of(smk.config)
    if not is_lookup(sweep):
        # Tracking runs beside the next round's training: on a machine short of cores the
        # training goes first. Lookups in a table leave it the CPU to keep pace with the rounds.
        os.nice(10)
    table = read_history(smk.input.history)
    round_index = int(smk.wildcards.round)
    curves = write_trial_curves(sweep.paths, round_index, table)
    runs = track_round(sweep, table, round_index, Path(smk.params.artifact_root), curves=curves)
    write_json(smk.output.runs, runs)


if "snakemake" in globals():
    run_job(main, snakemake)  # noqa: F821
