"""Evaluate the ensemble of the top-k trials on the held-out test set (ensemble.json)."""

import logging
from pathlib import Path

from snakesweep.train.evaluate import evaluate_ensemble


def main(smk) -> None:
    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    result = evaluate_ensemble(smk.config, Path(smk.input.table), Path(smk.output.ensemble).parent)
    logging.info("ensemble of %d: %s", len(result.get("members", [])), result.get("metrics"))


if "snakemake" in globals():
    main(snakemake)  # noqa: F821
