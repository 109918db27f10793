"""Compare the finished sweep with its `expect:` block; write verify.json (pass or fail)."""

import json
import logging
from pathlib import Path

from snakesweep.worker import run_job


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.history import read_history
    from snakesweep.verify import compare, describe

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    result = compare(read_history(smk.input.table), smk.params.expect)
    result["sweep"] = smk.wildcards.sweep
    Path(smk.output[0]).write_text(json.dumps(result, indent=2) + "\n")
    logging.info(describe(result, smk.wildcards.sweep))


if "snakemake" in globals():
    run_job(main, snakemake)  # noqa: F821
