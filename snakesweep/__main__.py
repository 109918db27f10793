"""`python -m snakesweep COMMAND`: small helpers around the workflow (see README.md).

check FILE          validate a config file exactly as the workflow does (YAML syntax included)
export SWEEP        bundle a finished sweep (config, expected values, trials.csv, provenance)
reproduce BUNDLE    re-run a bundle's sweep here and verify it (exit 1 with the differences)
plan                what a sweep will cost: rounds, trials, epochs, wall time, CPU- and GPU-hours
status              a running (or finished) sweep: running trials, finished rounds, best, ETA
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from snakesweep.errors import ConfigError


def check(args: argparse.Namespace) -> int:
    from snakesweep.config import load_config
    from snakesweep.configfile import read_config_file
    from snakesweep.plan import budget_note, budget_text
    from snakesweep.sweep import sweep_of

    config = load_config(read_config_file(args.file), Path(args.results))
    sweep = sweep_of(config, Path(args.results))
    print(
        f"snakesweep: {args.file} is valid: sweep {config['sweep']!r}, "
        f"{len(config['space'])} parameters, {budget_text(sweep)}"
    )
    note = budget_note(sweep)
    if note:
        print(note)
    return 0


def export(args: argparse.Namespace) -> int:
    from snakesweep.bundle import export_bundle

    out = export_bundle(
        args.sweep, Path(args.results), Path(args.out) if args.out else None, args.tolerance
    )
    print(
        f"snakesweep: wrote {out}; re-run and verify it with: python -m snakesweep reproduce {out}"
    )
    return 0


def reproduce(args: argparse.Namespace) -> int:
    from snakesweep.bundle import reproduce as run

    return run(Path(args.bundle), args.cores, Path(args.results))


def _sweep(args: argparse.Namespace):
    """The sweep a `snakemake --configfile FILE` run would run (validated the same way)."""
    from snakesweep.configfile import read_config_file
    from snakesweep.sweep import load_sweep

    return load_sweep(read_config_file(args.configfile), Path(args.results))


def plan(args: argparse.Namespace) -> int:
    from snakesweep.plan import calibrate, describe, estimate

    sweep = _sweep(args)
    if args.calibrate:
        print("snakesweep: calibrating: one trial at the lowest fidelity ...", file=sys.stderr)
        record = calibrate(sweep)["record"]
        if record["status"] != "ok":
            print(f"snakesweep: the calibration trial {record['status']}: {record['error']}")
    result = estimate(sweep, args.cores, args.gpus, starting=True)
    print(json.dumps(result, indent=2) if args.json else describe(result, args.configfile))
    return 0


def status(args: argparse.Namespace) -> int:
    from snakesweep.plan import estimate, run_of, status_text

    sweep = _sweep(args)
    run = run_of(sweep.paths)  # the resources of the run in progress, unless given
    result = estimate(sweep, args.cores or run["cores"], args.gpus or run["gpus"])
    print(json.dumps(result, indent=2) if args.json else status_text(sweep, result))
    return 0


def _sweep_arguments(sub: argparse.ArgumentParser, of_the_run: bool) -> None:
    """--configfile, --results, --cores, --gpus, --json; `of_the_run`: cores and GPUs default to
    those the run in progress recorded (status), else to 2 cores and no GPU (plan)."""
    sub.add_argument(
        "--configfile", default="config/config.yaml", help="the sweep (default: the default sweep)"
    )
    sub.add_argument("--results", default="results", help="results folder (default: results)")
    recorded = "those of the run in progress, else " if of_the_run else ""
    sub.add_argument(
        "--cores",
        type=int,
        default=None if of_the_run else 2,
        help=f"cores of the run (default: {recorded}2)",
    )
    sub.add_argument(
        "--gpus",
        type=int,
        default=None if of_the_run else 0,
        help=f"GPUs of the run (default: {recorded}0)",
    )
    sub.add_argument("--json", action="store_true", help="print JSON")


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m snakesweep", description=__doc__.split("\n")[0])
    commands = main.add_subparsers(dest="command", required=True)
    sub = commands.add_parser("check", help="validate a config file")
    sub.add_argument("file")
    sub.add_argument("--results", default="results", help="results folder (default: results)")
    sub.set_defaults(run=check)
    sub = commands.add_parser("export", help="bundle a finished sweep")
    sub.add_argument("sweep")
    sub.add_argument("--results", default="results")
    sub.add_argument("--out", help="bundle path (default: bundles/SWEEP.tar.gz)")
    sub.add_argument(
        "--tolerance", type=float, default=0.02, help="absolute tolerance of the expected values"
    )
    sub.set_defaults(run=export)
    sub = commands.add_parser("reproduce", help="re-run a bundle and verify it")
    sub.add_argument("bundle")
    sub.add_argument("--cores", type=int, default=2)
    sub.add_argument("--results", default="results")
    sub.set_defaults(run=reproduce)
    sub = commands.add_parser("plan", help="what a sweep will cost, before or while it runs")
    _sweep_arguments(sub, of_the_run=False)
    sub.add_argument(
        "--calibrate",
        action="store_true",
        help="train one trial at the lowest fidelity first, to estimate a sweep with no trials",
    )
    sub.set_defaults(run=plan)
    sub = commands.add_parser("status", help="running trials, finished rounds, best so far, ETA")
    _sweep_arguments(sub, of_the_run=True)
    sub.set_defaults(run=status)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except ConfigError as error:
        print(f"snakesweep: config error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the output's reader stopped early (`plan --json | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 1


if __name__ == "__main__":
    sys.exit(main())
