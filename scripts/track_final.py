"""After the search: test metrics, summary.md and plots into the sweep's MLflow parent run, and
the best model logged (signature, input example) and registered under the sweep's name."""

import logging
import sys
from pathlib import Path

from snakesweep.script_job import parse
from snakesweep.worker import run_job


def load_best(sweep, test: dict):
    """The evaluated best model of the Sweep `sweep`, taking raw inputs, and a few test inputs
    as its example (imports torch)."""
    from snakesweep.train.evaluate import TestSet, load_model
    from snakesweep.train.module import RawInputModel

    split = TestSet(sweep, test["params"])
    model = RawInputModel(load_model(sweep, Path(test["checkpoint"])), split.x_mean, split.x_std)
    return model.eval(), split.raw_inputs()[:5]


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.outputs import read_json, write_json
    from snakesweep.sweep import sweep_of
    from snakesweep.tracking import files_digest, track_final

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    sweep = sweep_of(smk.config)
    # Without a test-set evaluation (tabular, evaluate.test_set false) the parent run gets the
    # report only.
    evaluated = hasattr(smk.input, "test")
    stamp_path = Path(smk.input.test if evaluated else smk.input.tracked)
    test = read_json(stamp_path) if evaluated else {}
    model = example = None
    digest = ""
    if test.get("checkpoint") and Path(test["checkpoint"]).exists():
        model, example = load_best(sweep, test)
        digest = files_digest([Path(test["checkpoint"]), stamp_path])
    result = track_final(
        sweep,
        test,
        Path(smk.params.artifact_root),
        [Path(path) for path in smk.input.report],
        model,
        example,
        digest,
        timestamp_ms=int(stamp_path.stat().st_mtime * 1000),
    )
    logging.info("tracked: %s", result)
    write_json(smk.output[0], result)


if __name__ == "__main__":
    run_job(main, parse(sys.argv[1:]))
