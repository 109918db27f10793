"""Train one trial (or one fold of it); metrics.json is always written (status ok | failed |
diverged | timeout).

The `train` and `train_fold` rules run this file as a shell command, `python -S` (rules/common.smk
`shell_job`): until it knows that no warm worker takes the job, it imports only
snakesweep.worker (standard library), so that handing a trial over costs a few hundredths of a
second.
"""

import sys


def main(argv: list[str]) -> None:
    # Imports here: a job handed to the warm worker runs this in the worker, which has them.
    from pathlib import Path

    from snakesweep.script_job import job_parser
    from snakesweep.sweep import job_config
    from snakesweep.trial import run_trial_job

    parser = job_parser("train_trial.py")
    parser.add_argument("--proposals", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True, help="the trial's metrics.json")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--runtime-min", type=int, help="the job's time limit (minutes)")
    args = parser.parse_args(argv)
    run_trial_job(
        args.wildcards["trial"],
        args.proposals,
        args.metrics.parent,
        args.log,
        args.threads,
        args.runtime_min,
        job_config(),
        fold=int(args.wildcards["fold"]) if "fold" in args.wildcards else None,
    )


if __name__ == "__main__":
    from snakesweep.worker import run_job

    run_job(main, sys.argv[1:], trains=True)
