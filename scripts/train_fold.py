"""Train one fold of one trial (k-fold cross-validation); its metrics.json is always written."""

from snakesweep.worker import run_job


def main(smk) -> None:
    # Imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.trial import run_trial_job

    run_trial_job(smk, fold=int(smk.wildcards.fold))


if "snakemake" in globals():
    run_job(main, snakemake, trains=True)  # noqa: F821
