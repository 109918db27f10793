"""Train one fold of one trial (k-fold cross-validation); its metrics.json is always written."""

import json
import logging
import os
from pathlib import Path

from snakesweep.trial import run_trial
from snakesweep.worker import run_job


def main(smk) -> None:
    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    # torch reads this when first imported: one fold uses only the cores Snakemake gave it.
    os.environ["OMP_NUM_THREADS"] = str(smk.threads)
    proposals = json.loads(Path(smk.input.proposals).read_text())["trials"]
    proposal = next(p for p in proposals if p["trial"] == smk.wildcards.trial)
    round_index = int(smk.wildcards.trial[1:4])
    run_trial(
        proposal,
        round_index,
        smk.config,
        Path(smk.output.metrics).parent,
        fold=int(smk.wildcards.fold),
    )


if "snakemake" in globals():
    run_job(main, snakemake)  # noqa: F821
