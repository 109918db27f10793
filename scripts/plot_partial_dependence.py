"""Draw the partial dependence of the objective on each tuned parameter (the report's slowest
plot: its own job, drawn beside the report's)."""

import logging
import sys
from pathlib import Path

from snakesweep.script_job import parse
from snakesweep.worker import run_job


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.history import read_history
    from snakesweep.report.build import write_plots
    from snakesweep.sweep import sweep_of

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    sweep = sweep_of(smk.config)
    write_plots(read_history(smk.input.table), sweep, {"partial_dependence": Path(smk.output[0])})


if __name__ == "__main__":
    run_job(main, parse(sys.argv[1:]))
