"""Stale Snakemake locks after a kill: recognised and removed, so resuming is one command.

Snakemake locks the files of a run in `.snakemake/locks/` and deletes the locks when it exits.
SIGKILL, a power loss or an out-of-memory kill leave them behind, and the next run stops with
"Directory cannot be locked" until `snakemake --unlock`. Each run of the workflow records itself
in `.snakemake/snakesweep-owners/`: host, boot id, PID namespace, pid and process start time,
and the lock files it took. A later run removes a recorded run's locks (only those) when that
run is provably gone: same host, same boot (not another machine or container with the same
host name), same PID namespace (not a container or `unshare -p` whose pids mean other
processes), and its pid no longer running or now another process (another start time). In
every other case the locks stay and Snakemake's own message and `--unlock` decide.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

from snakesweep.paths import SweepPaths

OWNERS_DIR = "snakesweep-owners"


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip() or None
    except OSError:
        return None


def this_machine() -> dict:
    """Host name, boot id and PID namespace of this process (None where unknown)."""
    try:
        pid_ns = os.readlink("/proc/self/ns/pid")
    except OSError:
        pid_ns = None
    return {
        "host": socket.gethostname(),
        "boot_id": _read("/proc/sys/kernel/random/boot_id"),
        "pid_ns": pid_ns,
    }


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


def owner_gone(owner: dict) -> bool:
    """Whether the recorded owner has provably ended; anything uncertain counts as running."""
    here = this_machine()
    if any(here[key] is None or owner.get(key) != here[key] for key in here):
        return False  # another host, boot or PID namespace: its pids are not ours to check
    started = process_start(int(owner.get("pid", -1)))
    return started is None or (started != "" and started != owner.get("start"))


def _owners(state_dir: Path) -> list[tuple[Path, dict]]:
    records = []
    for path in sorted((state_dir / OWNERS_DIR).glob("*.json")):
        try:
            records.append((path, json.loads(path.read_text())))
        except (OSError, ValueError):
            continue  # being written right now: its owner is running
    return records


def _lock_files(state_dir: Path) -> set[str]:
    locks = state_dir / "locks"
    return {path.name for path in locks.glob("*.lock")} if locks.is_dir() else set()


@dataclass(frozen=True)
class Claim:
    """This run's owner record and the lock files that existed before it took its own."""

    record: Path
    before: frozenset[str]
    note: str | None


def claim(state_dir: Path = Path(".snakemake"), pid: int | None = None) -> Claim:
    """Remove the locks of recorded runs that are provably gone, and record this run.

    `note` is a one-line message for the user when stale locks were removed, else None.
    """
    pid = os.getpid() if pid is None else pid
    removed = []
    for path, owner in _owners(state_dir):
        if not owner_gone(owner):
            continue
        # A run that ended normally deleted its locks itself: only its record is left.
        left = [state_dir / "locks" / Path(name).name for name in owner.get("locks", [])]
        left = [lock for lock in left if lock.exists()]
        for lock in left:
            lock.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        if left:
            removed.append(str(owner.get("pid")))
    note = None
    if removed:
        note = (
            f"[snakesweep] removed the stale locks of a run that was killed (pid "
            f"{', '.join(removed)}); resuming"
        )
    record = state_dir / OWNERS_DIR / f"{pid}-{uuid.uuid4().hex[:12]}.json"
    taken = Claim(record, frozenset(_lock_files(state_dir)), note)
    _write_record(taken, pid, [])
    return taken


def _write_record(taken: Claim, pid: int, locks: list[str]) -> None:
    content = this_machine() | {"pid": pid, "start": process_start(pid) or "", "locks": locks}
    taken.record.parent.mkdir(parents=True, exist_ok=True)
    partial = taken.record.with_suffix(".part")
    partial.write_text(json.dumps(content))
    os.replace(partial, taken.record)


def hold_locks(taken: Claim, pid: int | None = None) -> list[str]:
    """Record the lock files this run took (called once Snakemake holds them: onstart)."""
    pid = os.getpid() if pid is None else pid
    locks = sorted(_lock_files(taken.record.parent.parent) - taken.before)
    _write_record(taken, pid, locks)
    return locks


def nobody_running(state_dir: Path) -> bool:
    """Whether every recorded run of this directory is provably gone."""
    return all(owner_gone(owner) for _, owner in _owners(state_dir))


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
        proposals = SweepPaths.of_trial_dir(trial_dir).proposals_of(trial)
        proposed = {p["trial"]: p for p in json.loads(proposals.read_text())["trials"]}
    except (OSError, ValueError, KeyError, TypeError):
        return False
    proposal = proposed.get(trial)
    return (
        proposal is not None
        and record.get("trial") == trial
        and record.get("seed") == proposal["seed"]
        and record.get("params") == proposal["params"]
        and record.get("status") in ("ok", "failed", "diverged", "timeout", "pruned")
        and (trial_dir / "history.csv").exists()
    )


def recover_finished_trials(state_dir: Path = Path(".snakemake"), cwd: Path = Path()) -> list:
    """Trials whose training finished just before a kill, though Snakemake had not yet recorded
    the job as done: their incomplete markers are removed, so they are kept, not retrained.

    Only when no live run holds the directory. Returns the trial ids kept.
    """
    if not nobody_running(state_dir):
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
