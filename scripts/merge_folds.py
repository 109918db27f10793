"""Merge a trial's k folds into its metrics.json (mean, and <metric>_std) and history.csv."""

import logging
import sys
from pathlib import Path

from snakesweep.script_job import parse
from snakesweep.worker import run_job


def main(smk) -> None:
    # Imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.sweep import sweep_of
    from snakesweep.train.cv import merge_fold_files

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    merged = merge_fold_files(
        [Path(p) for p in smk.input.metrics],
        [Path(p) for p in smk.input.histories],
        sweep_of(smk.config).objective.metric,
        Path(smk.output.metrics),
        Path(smk.output.history),
    )
    logging.info(
        "trial %s: %s, objective %s", merged["trial"], merged["status"], merged["objective"]
    )


if __name__ == "__main__":
    run_job(main, parse(sys.argv[1:]))
