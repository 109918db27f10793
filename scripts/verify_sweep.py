"""Compare the finished sweep with its `expect:` block; write verify.json (pass or fail)."""

import logging

from snakesweep.worker import run_job


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.history import read_history
    from snakesweep.outputs import write_json
    from snakesweep.verify import compare, describe

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    result = compare(read_history(smk.input.table), smk.params.expect)
    result["sweep"] = smk.wildcards.sweep
    write_json(smk.output[0], result)
    logging.info(describe(result, smk.wildcards.sweep))


if "snakemake" in globals():
    run_job(main, snakemake)  # noqa: F821
