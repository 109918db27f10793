"""Record what the sweep ran with (results/<sweep>/provenance/)."""

import logging
from pathlib import Path

from snakesweep.provenance import write_provenance


def main(smk) -> None:
    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    out_dir = Path(smk.output.summary).parent
    write_provenance(smk.config, out_dir.parent, Path(smk.params.workflow_dir), out_dir)


if "snakemake" in globals():
    main(snakemake)  # noqa: F821
