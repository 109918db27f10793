"""Draw the search's plots from the final table: optimisation history, parallel coordinates,
importance, the top trials' learning curves."""

import logging
import sys
from pathlib import Path

from snakesweep.paths import REPORT_PLOTS
from snakesweep.script_job import parse
from snakesweep.worker import run_job


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.history import read_history
    from snakesweep.report.build import write_plots
    from snakesweep.sweep import sweep_of

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    plots = {name: Path(smk.output[name]) for name in REPORT_PLOTS}
    write_plots(read_history(smk.input.table), sweep_of(smk.config), plots)
    logging.info("wrote %d plots", len(plots))


if __name__ == "__main__":
    run_job(main, parse(sys.argv[1:]))
