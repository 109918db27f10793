"""Write one round's proposals (rounds/NNN.json) from the finished trials of earlier rounds.

The `propose` rule runs this file as a shell command, `python -S` (rules/common.smk
`shell_job`): handing it to the warm worker imports only snakesweep.worker.
"""

import sys


def main(argv: list[str]) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    import logging
    import time

    from snakesweep.history import history_after_round, run_time_s
    from snakesweep.outputs import write_json
    from snakesweep.pruning import read_curves
    from snakesweep.rounds import make_round
    from snakesweep.script_job import job_parser
    from snakesweep.sweep import job_config, sweep_of

    parser = job_parser("propose_round.py")
    parser.add_argument("--history", help="the table before the previous round")
    parser.add_argument("--trials", nargs="+", default=[], help="the previous round's metrics")
    parser.add_argument("--curves", help="the learning curves so far (pruning)")
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(filename=args.log, level=logging.INFO)
    round_index = int(args.wildcards["round"])
    history = history_after_round(args.history, args.trials)
    elapsed = run_time_s(history)
    started = time.perf_counter()
    curves = read_curves(args.curves)
    content = make_round(sweep_of(job_config()), history, round_index, elapsed, curves)
    logging.info(
        "proposed %d trials in %.3f s", len(content["trials"]), time.perf_counter() - started
    )
    if content["stopped"]:
        print(
            f"[snakesweep] round {round_index}: no trials, the sweep stopped: {content['stopped']}"
        )
    write_json(args.output, content)


if __name__ == "__main__":
    from snakesweep.worker import run_job

    run_job(main, sys.argv[1:])
