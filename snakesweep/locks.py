"""Stale Snakemake locks after a kill: recognised and removed, so resuming is one command.

Snakemake locks the files of a run in `.snakemake/locks/` and deletes the locks when it exits.
SIGKILL, a power loss or an out-of-memory kill leave them behind, and the next run stops with
"Directory cannot be locked" until `snakemake --unlock`. The workflow records which process
holds the directory (host, pid, process start time) in `.snakemake/snakesweep-owner.json`; a
later run on the same host removes the locks only when that process is gone.
"""

from __future__ import annotations

import base64
import json
import os
import re
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


TRIAL_OUTPUT = re.compile(r"^results/[^/]+/trials/(r\d{3}-t\d{3})/(metrics\.json|history\.csv)$")


def _marker_key(marker: Path, root: Path) -> str | None:
    """The output path an incomplete marker of Snakemake stands for (urlsafe base64, split
    into '@'-prefixed chunks when long)."""
    parts = marker.relative_to(root).parts
    encoded = "".join(part.removeprefix("@") for part in parts)
    try:
        return base64.urlsafe_b64decode(encoded).decode()
    except ValueError:
        return None


def finished_record(trial_dir: Path) -> bool:
    """Whether trial_dir holds a complete metrics.json of the trial its round proposed.

    metrics.json is written atomically as the job's last step, so a readable record that
    matches the proposal (trial, seed, params) means the training finished.
    """
    try:
        record = json.loads((trial_dir / "metrics.json").read_text())
        trial = trial_dir.name
        proposals = trial_dir.parent.parent / "rounds" / f"{trial[1:4]}.json"
        proposed = {p["trial"]: p for p in json.loads(proposals.read_text())["trials"]}
    except (OSError, ValueError, KeyError, TypeError):
        return False
    proposal = proposed.get(trial)
    return (
        proposal is not None
        and record.get("trial") == trial
        and record.get("seed") == proposal["seed"]
        and record.get("params") == proposal["params"]
        and record.get("status") in ("ok", "failed", "diverged")
        and (trial_dir / "history.csv").exists()
    )


def recover_finished_trials(state_dir: Path = Path(".snakemake"), cwd: Path = Path()) -> list:
    """Trials whose training finished just before a kill, though Snakemake had not yet recorded
    the job as done: their incomplete markers are removed, so they are kept, not retrained.

    Only when no live run holds the directory. Returns the trial ids kept.
    """
    owner = read_owner(state_dir)
    if owner is not None and owner_alive(owner):
        return []
    root = state_dir / "incomplete"
    if not root.is_dir():
        return []
    markers: dict[str, list[Path]] = {}
    for folder, _, names in os.walk(root):
        for name in names:
            marker = Path(folder) / name
            key = _marker_key(marker, root)
            match = TRIAL_OUTPUT.match(key or "")
            if match:
                markers.setdefault(str(Path(key).parent), []).append(marker)
    kept = []
    for trial_dir, paths in sorted(markers.items()):
        if finished_record(cwd / trial_dir):
            for marker in paths:
                marker.unlink(missing_ok=True)
            kept.append(Path(trial_dir).name)
    return kept
