"""Draw the best model's test-set confusion matrix (from the evaluation's CSV) for the report."""

import logging
import sys

from snakesweep.script_job import parse
from snakesweep.worker import run_job


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    import pandas as pd

    from snakesweep.report.plots import plot_confusion_matrix

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    matrix = pd.read_csv(smk.input.matrix, index_col=0)
    plot_confusion_matrix(matrix, smk.output[0])


if __name__ == "__main__":
    run_job(main, parse(sys.argv[1:]))
