"""Draw the rungs of a multi-fidelity sweep: each configuration's objective across the
fidelities it was promoted to (from the rounds files and the trials table)."""

import logging
import sys

from snakesweep.script_job import parse
from snakesweep.worker import run_job


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.history import read_history
    from snakesweep.report.fidelity import plot_rungs
    from snakesweep.sweep import sweep_of

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    table = read_history(smk.input.table)
    plot_rungs(sweep_of(smk.config), table, smk.output[0])


if __name__ == "__main__":
    run_job(main, parse(sys.argv[1:]))
