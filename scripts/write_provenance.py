"""Record what the sweep ran with (results/<sweep>/provenance/)."""

import logging
import sys
from pathlib import Path

from snakesweep.paths import SweepPaths
from snakesweep.script_job import parse
from snakesweep.worker import run_job


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.provenance import write_provenance

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    files = SweepPaths.of(smk.wildcards.sweep)
    write_provenance(smk.config, files.root, Path(smk.params.workflow_dir), files.provenance_dir)


if __name__ == "__main__":
    run_job(main, parse(sys.argv[1:]))
