"""Stale Snakemake locks after a kill: recognised and removed, so resuming is one command.

Snakemake locks the files of a run in `.snakemake/locks/` and deletes the locks when it exits.
SIGKILL, a power loss or an out-of-memory kill leave them behind, and the next run stops with
"Directory cannot be locked" until `snakemake --unlock`. The workflow records which process
holds the directory (host, pid, process start time) in `.snakemake/snakesweep-owner.json`; a
later run on the same host removes the locks only when that process is gone.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

OWNER_FILE = "snakesweep-owner.json"


def process_start(pid: int) -> str | None:
    """The start time of a live process (Linux: /proc/PID/stat field 22), '' where unknown."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return ""
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_alive(owner: dict) -> bool:
    """Whether the recorded owner could still be running (another host: assume it is)."""
    if owner.get("host") != socket.gethostname():
        return True
    started = process_start(int(owner.get("pid", -1)))
    return started is not None and started in ("", owner.get("start"))


def read_owner(state_dir: Path) -> dict | None:
    try:
        return json.loads((state_dir / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return None


def claim(state_dir: Path = Path(".snakemake"), pid: int | None = None) -> str | None:
    """Remove locks whose owner is gone and record this process as the owner.

    Returns a one-line note for the user when stale locks were removed, else None.
    """
    pid = os.getpid() if pid is None else pid
    locks = state_dir / "locks"
    owner = read_owner(state_dir)
    note = None
    if owner is not None and owner_alive(owner):
        return None  # a live run holds the directory: Snakemake's own lock check decides
    lock_files = sorted(locks.glob("*.lock")) if locks.is_dir() else []
    if lock_files and owner is not None:
        for path in lock_files:
            path.unlink(missing_ok=True)
        note = (
            f"[snakesweep] removed the stale lock of a run that was killed (pid {owner['pid']}); "
            "resuming"
        )
    state_dir.mkdir(parents=True, exist_ok=True)
    record = {"host": socket.gethostname(), "pid": pid, "start": process_start(pid) or ""}
    partial = state_dir / f"{OWNER_FILE}.{pid}"
    partial.write_text(json.dumps(record))
    os.replace(partial, state_dir / OWNER_FILE)
    return note
