"""Train one fold of one trial (k-fold cross-validation); its metrics.json is always written."""

import logging
import os
import sys
from pathlib import Path

from snakesweep.cluster import trial_time_limit_s
from snakesweep.outputs import read_json
from snakesweep.paths import round_of_trial
from snakesweep.trial import MachineFault, run_trial
from snakesweep.worker import run_job


def main(smk) -> None:
    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    # torch reads this when first imported: one fold uses only the cores Snakemake gave it.
    os.environ["OMP_NUM_THREADS"] = str(smk.threads)
    proposals = read_json(smk.input.proposals)["trials"]
    proposal = next(p for p in proposals if p["trial"] == smk.wildcards.trial)
    round_index = round_of_trial(smk.wildcards.trial)
    try:
        run_trial(
            proposal,
            round_index,
            smk.config,
            Path(smk.output.metrics).parent,
            trial_time_limit_s(
                smk.config, smk.resources.get("runtime"), "SLURM_JOB_ID" in os.environ
            ),
            fold=int(smk.wildcards.fold),
        )
    except MachineFault as fault:  # the job fails, so that it is retried; one line, no traceback
        logging.error("%s", fault)
        sys.exit(f"snakesweep: {fault}")


if "snakemake" in globals():
    run_job(main, snakemake)  # noqa: F821
