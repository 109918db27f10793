"""A rule's job as its script reads it, without Snakemake's script support.

A `script:` job's process imports Snakemake to unpickle its `snakemake` object (~0.1 s of CPU
per job, more under load). The workflow's scripts run as shell commands instead
(rules/common.smk `script_command`): `python -S scripts/X.py` with the job's wildcards and log
(what every shell job starts with, `job_parser`), its files as JSON (the rule's `job` param,
made by `job_files` from Snakemake's own input, output and threads) and its plain params.
`parse` turns those arguments into a `ScriptJob`, which a script's `main(smk)` reads as it would
read the `snakemake` object: `smk.input.table`, `smk.input.get("previous")`, `smk.output[0]`,
`smk.log[0]`, `smk.params.artifact_root`, `smk.wildcards.round`, `smk.threads`, `smk.config`.

This module imports only the standard library: the client of the warm worker stays cheap.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

# Linux refuses a command whose single argument exceeds 128 KiB (and Snakemake runs a shell
# command as one `bash -c` argument): a longer description (the last jobs of a sweep of
# thousands of trials list every trial's file) goes to a file named by its content.
INLINE_LIMIT = 64 * 1024
SPILLED = Path(".snakesweep", "jobs")


class Files(list):
    """Items by position and by name, as Snakemake's Namedlist: a name may hold a list."""

    def __init__(self, items: Iterable = (), names: Mapping[str, Any] | None = None) -> None:
        super().__init__(items)
        self._names = dict(names or {})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # unpickling looks these up before _names exists
            raise AttributeError(name)
        try:
            return self._names[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key):
        return self._names[key] if isinstance(key, str) else super().__getitem__(key)

    def get(self, name: str, default: Any = None) -> Any:
        return self._names.get(name, default)

    def keys(self):
        return self._names.keys()

    def items(self):
        return self._names.items()


class ScriptJob:
    """One job: `input`, `output`, `log`, `params`, `wildcards` (Files), `threads`, `config`."""

    def __init__(
        self,
        wildcards: Mapping[str, str],
        log: str,
        files: Mapping[str, Any],
        params: Mapping[str, str],
    ):
        self.wildcards = Files(wildcards.values(), wildcards)
        self.log = Files([log])
        self.input = _files(files["input"])
        self.output = _files(files["output"])
        self.threads = files["threads"]
        self.params = Files(params.values(), params)

    @property
    def config(self) -> dict:
        from snakesweep.sweep import job_config

        return job_config()


def _files(described: Mapping[str, Any]) -> Files:
    return Files(described["items"], described["names"])


def job_files(wildcards, input, output, threads) -> str:
    """A job's input, output and threads as JSON (a rule's `job` param: a params function of
    its input and output, which Snakemake counts as derived from them; it passes the wildcards
    first, which the command line carries); past INLINE_LIMIT, `@` and the file under
    .snakesweep/jobs/ that holds it."""
    text = json.dumps({"input": _describe(input), "output": _describe(output), "threads": threads})
    if len(text) <= INLINE_LIMIT:
        return text
    path = SPILLED / f"{hashlib.sha256(text.encode()).hexdigest()[:20]}.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(text)
        os.replace(partial, path)  # whole or absent, whoever reads it
    return f"@{path}"


def _read_job(text: str) -> dict:
    """`job_files`'s JSON, inline or from the file after `@`."""
    return json.loads(Path(text[1:]).read_text() if text.startswith("@") else text)


def _describe(named) -> dict:
    """A Namedlist of Snakemake as `Files` reads it back: every item, each name's item(s)."""
    return {
        "items": [str(item) for item in named],
        "names": {
            name: str(value) if isinstance(value, str) else [str(item) for item in value]
            for name, value in named.items()
        },
    }


def job_parser(prog: str) -> argparse.ArgumentParser:
    """The arguments every job run as a shell command starts with (rules/common.smk's
    `shell_job`): its wildcards as Snakemake writes them (`sweep=S,round=R`, as a dict) and its
    `--log`; the rule adds its own. Its config is `sweep.job_config()`."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument(
        "wildcards", type=lambda text: dict(pair.split("=", 1) for pair in text.split(","))
    )
    parser.add_argument("--log", type=Path, required=True)
    return parser


def parse(argv: list[str]) -> ScriptJob:
    """The job of a script's command line: `{wildcards} --log LOG --job JSON
    [--param NAME=VALUE]...` (rules/common.smk `script_command`)."""
    parser = job_parser("script")
    parser.add_argument("--job", required=True, type=_read_job)
    parser.add_argument("--param", action="append", default=[])
    args = parser.parse_args(argv)
    params = dict(pair.split("=", 1) for pair in args.param)
    return ScriptJob(args.wildcards, str(args.log), args.job, params)
