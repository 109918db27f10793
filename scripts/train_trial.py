"""Train one trial; metrics.json is always written (status ok | failed | diverged)."""

import logging
import os
import socket
import sys
from pathlib import Path

from snakesweep.cluster import trial_time_limit_s
from snakesweep.outputs import read_json
from snakesweep.paths import round_of_trial
from snakesweep.trial import MachineFault, run_trial
from snakesweep.worker import run_job


def proposal_of(rounds_file: Path, trial: str) -> dict:
    for proposal in read_json(rounds_file)["trials"]:
        if proposal["trial"] == trial:
            return proposal
    raise KeyError(f"{trial} is not in {rounds_file}")


def main(smk) -> None:
    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    # torch reads this when first imported: one trial uses only the cores Snakemake gave it.
    os.environ["OMP_NUM_THREADS"] = str(smk.threads)
    # Where the trial ran: host, SLURM job and the GPUs it may use (set by the scheduler).
    logging.info(
        "host %s, SLURM job %s, CUDA_VISIBLE_DEVICES=%s",
        socket.gethostname(),
        os.environ.get("SLURM_JOB_ID", "-"),
        os.environ.get("CUDA_VISIBLE_DEVICES", "-"),
    )
    proposal = proposal_of(Path(smk.input.proposals), smk.wildcards.trial)
    round_index = round_of_trial(smk.wildcards.trial)
    # Under SLURM a trial stops before its job's runtime ends: recorded as `timeout`, not lost.
    limit = trial_time_limit_s(
        smk.config, smk.resources.get("runtime"), "SLURM_JOB_ID" in os.environ
    )
    try:
        run_trial(
            proposal, round_index, smk.config, Path(smk.output.metrics).parent, time_limit_s=limit
        )
    except MachineFault as fault:  # the job fails, so that it is retried; one line, no traceback
        logging.error("%s", fault)
        sys.exit(f"snakesweep: {fault}")


if "snakemake" in globals():
    run_job(main, snakemake)  # noqa: F821
