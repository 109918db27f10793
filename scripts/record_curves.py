"""Append a finished round's learning curves to the cumulative curves table (pruning)."""

import logging

from snakesweep.outputs import write_csv
from snakesweep.pruning import pruning_of, read_curves, round_curves


def main(smk) -> None:
    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    pruning = pruning_of(smk.config)
    table = round_curves(
        read_curves(smk.input.get("previous")),
        list(zip(smk.input.metrics, smk.input.histories, strict=True)),
        pruning["metric"],
        pruning["mode"],
    )
    write_csv(table, smk.output[0])


if "snakemake" in globals():
    main(snakemake)  # noqa: F821
