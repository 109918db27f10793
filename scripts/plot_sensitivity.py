"""Draw one-at-a-time sensitivity panels (the objective as each parameter varies alone)."""

import logging
import sys

from snakesweep.script_job import parse
from snakesweep.worker import run_job


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.history import read_history
    from snakesweep.report import analysis
    from snakesweep.report.plots import plot_sensitivity
    from snakesweep.sweep import sweep_of

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    sweep = sweep_of(smk.config)
    table = read_history(smk.input.table)
    dims = analysis.tuned_dims(sweep.config["space"], table)
    groups = analysis.one_at_a_time(table, dims)
    plot_sensitivity(groups, dims, sweep.objective.metric, smk.output[0])


if __name__ == "__main__":
    run_job(main, parse(sys.argv[1:]))
