"""`python -m snakesweep COMMAND`: small helpers around the workflow (see README.md).

check FILE          validate a config file exactly as the workflow does (YAML syntax included)
export SWEEP        bundle a finished sweep (config, expected values, trials.csv, provenance)
reproduce BUNDLE    re-run a bundle's sweep here and verify it (exit 1 with the differences)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from snakesweep.errors import ConfigError


def check(args: argparse.Namespace) -> int:
    from snakesweep.config import load_config
    from snakesweep.configfile import read_config_file

    config = load_config(read_config_file(args.file), Path(args.results))
    print(
        f"snakesweep: {args.file} is valid: sweep {config['sweep']!r}, "
        f"{len(config['space'])} parameters, {config['budget']['rounds']} rounds of "
        f"{config['budget']['trials_per_round']} trials"
    )
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
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except ConfigError as error:
        print(f"snakesweep: config error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
