"""Mirror one finished round into MLflow (the files stay the source of truth), with each
trial's learning curve drawn beside it (plots/trials/<round>/)."""

import logging
from pathlib import Path

from snakesweep.worker import run_job


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.history import read_history
    from snakesweep.outputs import write_json
    from snakesweep.report.build import write_trial_curves
    from snakesweep.tracking import track_round

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    table = read_history(smk.input.history)
    round_index = int(smk.wildcards.round)
    trials_dir = Path(smk.input.history).parent.parent / "trials"
    trials = list(table.loc[table["round"] == round_index, "trial"])
    curves = write_trial_curves(trials_dir, trials, Path(smk.output.curves))
    runs = track_round(
        smk.config, table, round_index, trials_dir, Path(smk.params.artifact_root), curves=curves
    )
    write_json(smk.output.runs, runs)


if "snakemake" in globals():
    run_job(main, snakemake)  # noqa: F821
