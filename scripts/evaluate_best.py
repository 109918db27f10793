"""Evaluate the best configuration once on the held-out test set (test.json, confusion matrix,
per-class report, predictions)."""

import logging
from pathlib import Path

from snakesweep.worker import run_job


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.sweep import sweep_of
    from snakesweep.train.evaluate import evaluate_best

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    sweep = sweep_of(smk.config)
    result = evaluate_best(sweep, Path(smk.input.table), sweep.paths.root)
    logging.info("test metrics of %s: %s", result.get("trial"), result.get("metrics"))


if "snakemake" in globals():
    run_job(main, snakemake)  # noqa: F821
