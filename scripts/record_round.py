"""Append a finished round to the cumulative history table and print the round's line."""

import logging

from snakesweep.history import (
    append_round,
    read_history,
    read_trials,
    round_summary,
    run_time_s,
    write_history,
)


def main(smk) -> None:
    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    round_index = int(smk.wildcards.round)
    previous = read_history(smk.input.get("previous"))
    table = append_round(previous, read_trials(smk.input.trials))
    write_history(table, smk.output[0])
    if smk.input.trials:
        direction = smk.config["objective"]["direction"]
        print(round_summary(table, round_index, direction, run_time_s(table)), flush=True)


if "snakemake" in globals():
    main(snakemake)  # noqa: F821
