"""Train one trial (or one fold of it); metrics.json is always written (status ok |
failed | diverged | timeout).

The `train` and `train_fold` rules run this file as `python -S scripts/train_trial.py ARGS`:
until it knows that no warm worker takes the job, it imports only snakesweep.worker (standard
library), so that handing a trial to the worker costs a few hundredths of a second.
"""

import sys


def main(argv: list[str]) -> None:
    # Imports here: a job handed to the warm worker runs this in the worker, which has them.
    import argparse
    from pathlib import Path

    from snakesweep.sweep import read_job_config
    from snakesweep.trial import run_trial_job

    parser = argparse.ArgumentParser(prog="train_trial.py")
    parser.add_argument("wildcards", help="as Snakemake writes them: sweep=S,trial=T[,fold=K]")
    parser.add_argument("--proposals", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True, help="the trial's metrics.json")
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--runtime-min", type=int, help="the job's time limit (minutes)")
    parser.add_argument("--config", type=Path, required=True, help="from write_job_config")
    args = parser.parse_args(argv)
    wildcards = dict(pair.split("=", 1) for pair in args.wildcards.split(","))
    run_trial_job(
        wildcards["trial"],
        args.proposals,
        args.metrics.parent,
        args.log,
        args.threads,
        args.runtime_min,
        read_job_config(args.config),
        fold=int(wildcards["fold"]) if "fold" in wildcards else None,
    )


if __name__ == "__main__":
    from snakesweep.worker import run_job

    run_job(main, sys.argv[1:], trains=True)
