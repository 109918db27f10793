"""Compare the finished sweep with its `expect:` block; write verify.json (pass or fail)."""

import logging

from snakesweep.history import read_history
from snakesweep.outputs import write_json
from snakesweep.verify import compare, describe


def main(smk) -> None:
    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    result = compare(read_history(smk.input.table), smk.params.expect)
    result["sweep"] = smk.wildcards.sweep
    write_json(smk.output[0], result)
    logging.info(describe(result, smk.wildcards.sweep))


if "snakemake" in globals():
    main(snakemake)  # noqa: F821
