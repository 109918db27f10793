"""`python -m snakesweep COMMAND`: small helpers around the workflow (see README.md).

check FILE          validate a config file exactly as the workflow does (YAML syntax included)
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


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m snakesweep", description=__doc__.split("\n")[0])
    commands = main.add_subparsers(dest="command", required=True)
    sub = commands.add_parser("check", help="validate a config file")
    sub.add_argument("file")
    sub.add_argument("--results", default="results", help="results folder (default: results)")
    sub.set_defaults(run=check)
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
