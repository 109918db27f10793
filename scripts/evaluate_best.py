"""Evaluate the best configuration once on the held-out test set (test.json, confusion matrix,
per-class report, predictions)."""

import logging
from pathlib import Path

from snakesweep.train.evaluate import evaluate_best


def main(smk) -> None:
    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    result = evaluate_best(smk.config, Path(smk.input.table), Path(smk.output.test).parent)
    logging.info("test metrics of %s: %s", result.get("trial"), result.get("metrics"))


if "snakemake" in globals():
    main(snakemake)  # noqa: F821
