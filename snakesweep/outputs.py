"""The sweep's output files: written whole or not at all, and read only when whole.

Every writer goes through `write_atomic` (a temporary file in the same folder, fsync, rename),
so a kill or a full disk during a write leaves the old file or none, never a truncated one.
`damaged_outputs` finds files that are empty or cut off anyway (written by an older version,
emptied by hand or by a filesystem): the workflow stops before any job with one line naming the
file, instead of reading an empty table as "no trials" and dropping rounds from the sweep.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from snakesweep.errors import ConfigError

# Outputs of a sweep folder that later jobs read; each must parse as its kind.
CHECKED = (
    "rounds/*.json",
    "history/*.csv",
    "curves/*.csv",
    "trials.csv",
    "best.yaml",
    "tracking/*.json",
    "trials/*/metrics.json",
    "test.json",
    "ensemble.json",
)


def write_atomic(path: Path | str, data: str | bytes) -> None:
    """Write `data` to `path` so that readers see the old content or the new, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(partial, 0o666 & ~_umask())
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise
    with contextlib.suppress(OSError):  # the rename itself survives a power loss
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: Path | str, content: Any) -> None:
    write_atomic(path, json.dumps(content, indent=2, default=str) + "\n")


def write_yaml(path: Path | str, content: Any, sort_keys: bool = False) -> None:
    write_atomic(path, yaml.safe_dump(content, sort_keys=sort_keys))


def write_csv(table, path: Path | str) -> None:
    """A pandas DataFrame as CSV (no index)."""
    write_atomic(path, table.to_csv(index=False))


def damage(path: Path) -> str | None:
    """Why an output file cannot be read whole ('empty', 'cut off', 'not valid JSON'), or None."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return f"unreadable ({error})"
    if not text.strip():
        return "empty"
    if path.suffix == ".json":  # cut-off JSON never parses
        try:
            json.loads(text)
        except ValueError:
            return "cut off (not valid JSON)"
        return None
    if not text.endswith("\n"):  # tables and YAML end every line, the last one too
        return "cut off (no final line end)"
    if path.suffix == ".yaml":
        try:
            yaml.safe_load(text)
        except yaml.YAMLError:
            return "cut off (not valid YAML)"
    return None


def damaged_error(path: Path, problem: str) -> ConfigError:
    return ConfigError(
        "",
        f"{path} is {problem}: a run was killed while writing it, or it was changed by hand",
        f"delete {path} and run the same command again to rebuild it",
    )


def check_writable(sweep_dir: Path) -> None:
    """Raise when the sweep's folder, or the nearest folder above it that exists, cannot be
    written (a read-only file system, another user's folder): found before any job runs,
    instead of a failed first job."""
    existing = sweep_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not os.access(existing, os.W_OK):
        raise ConfigError(
            "",
            f"{sweep_dir} cannot be written: {existing} is read-only or not yours",
            "run the sweep in a folder you can write to (snakemake --directory DIR), or make "
            f"{existing} writable",
        )


def check_outputs(sweep_dir: Path) -> None:
    """Raise for the first damaged output of a sweep folder (see `damage`)."""
    for pattern in CHECKED:
        for path in sorted(sweep_dir.glob(pattern)):
            problem = damage(path)
            if problem:
                raise damaged_error(path, problem)


def read_whole(path: Path | str) -> str:
    """The text of an output file a job reads, or a one-line error when it is damaged."""
    path = Path(path)
    problem = damage(path)
    if problem:
        raise damaged_error(path, problem)
    return path.read_text(encoding="utf-8")


def read_json(path: Path | str) -> Any:
    return json.loads(read_whole(path))
