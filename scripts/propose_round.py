"""Write one round's proposals (rounds/NNN.json) from the finished trials of earlier rounds."""

import logging
import sys
import time

from snakesweep.script_job import parse
from snakesweep.worker import run_job


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.history import history_after_round, run_time_s
    from snakesweep.outputs import write_json
    from snakesweep.pruning import read_curves
    from snakesweep.rounds import make_round, stopped_line
    from snakesweep.sweep import sweep_of

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    round_index = int(smk.wildcards.round)
    history = history_after_round(smk.input.get("history"), smk.input.get("trials", []))
    elapsed = run_time_s(history)
    started = time.perf_counter()
    curves = read_curves(smk.input.get("curves"))
    sweep = sweep_of(smk.config)
    content = make_round(sweep, history, round_index, elapsed, curves)
    logging.info(
        "proposed %d trials in %.3f s", len(content["trials"]), time.perf_counter() - started
    )
    line = stopped_line(sweep, content)
    if line:
        print(line)
    write_json(smk.output[0], content)


if __name__ == "__main__":
    run_job(main, parse(sys.argv[1:]))
