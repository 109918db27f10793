"""Mirror one finished round into MLflow (the files stay the source of truth), with each
trial's learning curve drawn beside it (plots/trials/<round>/)."""

import logging
import os
import sys
from pathlib import Path

from snakesweep.script_job import parse
from snakesweep.worker import run_job


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.history import read_history
    from snakesweep.outputs import write_json
    from snakesweep.report.build import write_trial_curves
    from snakesweep.sweep import sweep_of
    from snakesweep.tracking import track_round, tracking_niceness

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    sweep = sweep_of(smk.config)
    round_index = int(smk.wildcards.round)
    os.nice(tracking_niceness(sweep, round_index))
    table = read_history(smk.input.history)
    curves = write_trial_curves(sweep.paths, round_index, table, sweep.objective.metric)
    runs = track_round(sweep, table, round_index, Path(smk.params.artifact_root), curves=curves)
    write_json(smk.output.runs, runs)


if __name__ == "__main__":
    run_job(main, parse(sys.argv[1:]))
