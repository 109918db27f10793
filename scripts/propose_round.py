"""Write one round's proposals (rounds/NNN.json) from the finished trials of earlier rounds."""

import json
import logging
import time
from pathlib import Path

from snakesweep.worker import run_job


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.fidelity import read_curves
    from snakesweep.history import read_history
    from snakesweep.rounds import make_round

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    round_index = int(smk.wildcards.round)
    history = read_history(smk.input.get("history"))
    elapsed = time.time() - Path(smk.input.sweep).stat().st_mtime
    started = time.perf_counter()
    curves = read_curves(smk.input.get("curves"))
    content = make_round(smk.config, history, round_index, elapsed, curves)
    logging.info(
        "proposed %d trials in %.3f s", len(content["trials"]), time.perf_counter() - started
    )
    if content["stopped"]:
        print(
            f"[snakesweep] round {round_index}: no trials, the sweep stopped: {content['stopped']}"
        )
    Path(smk.output[0]).write_text(json.dumps(content, indent=2) + "\n")


if "snakemake" in globals():
    run_job(main, snakemake)  # noqa: F821
