"""Draw the best model's test-set confusion matrix (from the evaluation's CSV) for the report."""

import logging

from snakesweep.worker import run_job


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    import pandas as pd

    from snakesweep.report.plots import plot_confusion_matrix

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    matrix = pd.read_csv(smk.input.matrix, index_col=0)
    plot_confusion_matrix(matrix, smk.output[0])


if "snakemake" in globals():
    run_job(main, snakemake)  # noqa: F821
