"""Train one trial (or, with --fold, one fold of it); metrics.json is always written (status ok |
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
    parser.add_argument("--trial", required=True)
    parser.add_argument("--proposals", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True, help="the trial's metrics.json")
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--runtime-min", type=int, help="the job's time limit (minutes)")
    parser.add_argument("--config", type=Path, required=True, help="from write_job_config")
    parser.add_argument("--fold", type=int)
    args = parser.parse_args(argv)
    run_trial_job(
        args.trial,
        args.proposals,
        args.metrics.parent,
        args.log,
        args.threads,
        args.runtime_min,
        read_job_config(args.config),
        fold=args.fold,
    )


if __name__ == "__main__":
    from snakesweep.worker import run_job

    run_job(main, sys.argv[1:], trains=True)
