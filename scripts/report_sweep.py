"""Write summary.md (and HTML pages of it and of the trials table for the report)."""

import logging
import sys
from pathlib import Path

from snakesweep.script_job import parse
from snakesweep.worker import run_job


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.history import read_history
    from snakesweep.outputs import write_atomic
    from snakesweep.report.build import trials_page, write_summary
    from snakesweep.sweep import sweep_of

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    sweep = sweep_of(smk.config)
    table = read_history(smk.input.table)
    test = getattr(smk.input, "test", None)
    write_summary(
        table,
        sweep,
        Path(smk.output.summary),
        Path(test) if test else None,
        # The partial dependence is drawn by its own job, beside the search's plots.
        [*smk.input.plots, sweep.paths.plot("partial_dependence")],
        Path(smk.output.summary_html),
    )
    write_atomic(smk.output.table, trials_page(table, sweep.name))
    logging.info("wrote %s", smk.output.summary)


if __name__ == "__main__":
    run_job(main, parse(sys.argv[1:]))
