"""Append a finished round to the cumulative history table and print the round's line."""

import logging
import sys

from snakesweep.script_job import parse
from snakesweep.worker import run_job


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.history import (
        append_round,
        read_history,
        read_trials,
        round_summary,
        write_history,
    )
    from snakesweep.plan import estimate, run_of
    from snakesweep.sweep import sweep_of

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    sweep = sweep_of(smk.config)
    round_index = int(smk.wildcards.round)
    previous = read_history(smk.input.get("previous"))
    table = append_round(previous, read_trials(smk.input.trials))
    write_history(table, smk.output[0])
    if smk.input.trials:
        run = run_of(sweep.paths)
        plan = estimate(sweep, run["cores"], run["gpus"])
        line = round_summary(
            table,
            round_index,
            plan["rounds_total"],
            sweep.objective.direction,
            plan["elapsed_s"] or 0.0,
            plan["remaining_wall_s"],
        )
        print(line, flush=True)


if __name__ == "__main__":
    run_job(main, parse(sys.argv[1:]))
