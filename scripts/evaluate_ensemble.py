"""Evaluate the ensemble of the top-k trials on the held-out test set (ensemble.json)."""

import logging
import sys
from pathlib import Path

from snakesweep.script_job import parse
from snakesweep.worker import run_job


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.sweep import sweep_of
    from snakesweep.train.evaluate import evaluate_ensemble

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    sweep = sweep_of(smk.config)
    result = evaluate_ensemble(sweep, Path(smk.input.table), sweep.paths.root)
    logging.info("ensemble of %d: %s", len(result.get("members", [])), result.get("metrics"))


if __name__ == "__main__":
    run_job(main, parse(sys.argv[1:]))
