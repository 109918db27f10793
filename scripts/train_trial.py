"""Train one trial; metrics.json is always written (status ok | failed | diverged)."""

from snakesweep.worker import run_job


def main(smk) -> None:
    # Imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.trial import run_trial_job

    run_trial_job(smk)


if "snakemake" in globals():
    run_job(main, snakemake, trains=True)  # noqa: F821
