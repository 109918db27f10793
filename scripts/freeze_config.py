"""Record the identity of a new sweep (results/<sweep>/sweep.yaml) so later changes are refused."""

import logging
import sys
from pathlib import Path

from snakesweep.script_job import parse
from snakesweep.worker import run_job


def freeze_config(config: dict, path: Path) -> None:
    from snakesweep.config import identity
    from snakesweep.outputs import write_yaml

    write_yaml(path, identity(config), sort_keys=True)


def main(smk) -> None:
    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    freeze_config(smk.config, Path(smk.output[0]))


if __name__ == "__main__":
    run_job(main, parse(sys.argv[1:]))
