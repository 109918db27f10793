"""Mirror one finished round into MLflow (the files stay the source of truth)."""

import logging
import os
from pathlib import Path

from snakesweep.worker import run_job


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.history import read_history
    from snakesweep.outputs import write_json
    from snakesweep.tracking import track_round

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    # Tracking runs beside the next round's trials: on a machine short of cores they go first.
    os.nice(10)
    table = read_history(smk.input.history)
    sweep_dir = Path(smk.input.history).parent.parent
    runs = track_round(
        smk.config,
        table,
        int(smk.wildcards.round),
        sweep_dir / "trials",
        Path(smk.params.artifact_root),
    )
    write_json(smk.output[0], runs)


if "snakemake" in globals():
    run_job(main, snakemake)  # noqa: F821
