"""Print the outcome of verify.json; exit 1 with the differences when a value is off."""

import json
import sys
from pathlib import Path

from snakesweep.verify import describe


def main(smk) -> None:
    result = json.loads(Path(smk.input[0]).read_text())
    text = describe(result, result["sweep"])
    Path(smk.log[0]).write_text(text + "\n")
    print(text, file=sys.stderr if not result["passed"] else sys.stdout, flush=True)
    if not result["passed"]:
        sys.exit(1)


if "snakemake" in globals():
    main(snakemake)  # noqa: F821
