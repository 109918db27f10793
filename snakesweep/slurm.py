"""Checks a SLURM submission before any job is submitted: one clear line instead of a hang.

Without them a partition that does not exist makes every trial fail three times with empty
logs, and an account that does not exist leaves Snakemake waiting forever. The checks ask
the cluster itself (sinfo, scontrol, sacctmgr; a few tenths of a second) and run only in the
`snakemake --executor slurm` process on the submit host, never in local runs or in jobs.
"""

from __future__ import annotations

import ast
import getpass
import re
import subprocess
from collections.abc import Callable
from typing import Any

from snakesweep.errors import ConfigError

TIMEOUT_S = 20
Runner = Callable[[list[str]], str]


def run_command(command: list[str]) -> str:
    """stdout of a SLURM tool; ConfigError with its first error line if it fails or hangs."""
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except FileNotFoundError:
        raise ConfigError(
            "executor", f"{command[0]} not found", "run SLURM sweeps on the cluster's submit host"
        ) from None
    except subprocess.TimeoutExpired:
        raise ConfigError(
            "executor",
            f"`{' '.join(command)}` did not answer in {TIMEOUT_S} s",
            "is the SLURM controller up? (`sinfo` should answer at once)",
        ) from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise ConfigError("executor", f"`{' '.join(command)}` failed: {lines[-1] if lines else ''}")
    return done.stdout


def resource_value(resource: Any) -> str | None:
    """The value of a resource given on the command line or in a profile, if it is a constant.

    Snakemake keeps such resources as expressions: `gpu` and `'gpu'` both mean the string gpu.
    None for an expression whose value only a job knows (it is then not checked).
    """
    raw = getattr(resource, "raw", resource)
    if raw is None:
        return None
    if not isinstance(raw, str):
        return str(raw)
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw if re.fullmatch(r"[\w.+-]+", raw) else None
    return value if isinstance(value, str) else str(value)


def gres_gpus(gres: str) -> int:
    """GPUs in a node's GRES string from sinfo %G: 'gpu:2', 'gpu:a100:4(S:0-1),nic:1', '(null)'."""
    total = 0
    for item in re.sub(r"\([^)]*\)", "", gres).split(","):
        parts = item.strip().split(":")
        if parts[0] == "gpu":
            count = parts[-1] if len(parts) > 1 else "1"
            total += int(count) if count.isdigit() else 0
    return total


def parse_partitions(sinfo_output: str) -> tuple[dict[str, int], str | None]:
    """`sinfo -h -o %P|%G` -> ({partition: most GPUs on one node}, default partition)."""
    gpus: dict[str, int] = {}
    default = None
    for line in sinfo_output.splitlines():
        if "|" not in line:
            continue
        name, gres = line.strip().split("|", 1)
        if name.endswith("*"):
            name = name[:-1]
            default = name
        gpus[name] = max(gpus.get(name, 0), gres_gpus(gres))
    return gpus, default


def parse_config(scontrol_output: str) -> dict[str, str]:
    """`scontrol show config` -> {key: value}."""
    settings = {}
    for line in scontrol_output.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            settings[key.strip()] = value.strip()
    return settings


def check_submission(
    partition: str | None,
    account: str | None,
    gpus: int,
    run: Runner = run_command,
    user: str | None = None,
) -> None:
    """Raise ConfigError (one line) if SLURM would refuse or never run the trials' jobs."""
    user = user or getpass.getuser()
    partitions, default = parse_partitions(run(["sinfo", "-h", "-o", "%P|%G"]))
    names = ", ".join(sorted(partitions)) or "none"
    if partition is None:
        if default is None:
            raise ConfigError(
                "slurm_partition",
                "none given and this cluster has no default partition",
                f"give one: --default-resources slurm_partition=NAME (partitions: {names})",
            )
        partition = default
    elif partition not in partitions:
        raise ConfigError(
            "slurm_partition",
            f"{partition!r} is not a partition of this cluster",
            f"partitions: {names}",
        )

    if gpus > partitions[partition]:
        have = partitions[partition]
        with_gpus = ", ".join(p for p, n in sorted(partitions.items()) if n >= gpus) or "none"
        raise ConfigError(
            "train.devices",
            f"a trial asks for {gpus} GPU(s) but nodes of partition {partition!r} have "
            + (f"at most {have}" if have else "none"),
            f"partitions with {gpus}+ GPUs per node: {with_gpus}",
        )

    settings = parse_config(run(["scontrol", "show", "config"]))
    if "none" in settings.get("AccountingStorageType", "none"):
        return  # no accounting: SLURM does not check accounts
    cluster = settings.get("ClusterName", "")
    associations = run(
        [
            "sacctmgr",
            "-n",
            "-P",
            "show",
            "assoc",
            "where",
            f"user={user}",
            f"cluster={cluster}",
            "format=account",
        ]
    )
    accounts = sorted({line.strip() for line in associations.splitlines() if line.strip()})
    yours = ", ".join(accounts) or "none"
    if account is not None:
        if account.lower() not in {a.lower() for a in accounts}:
            raise ConfigError(
                "slurm_account",
                f"{account!r} is not an account of user {user} on cluster {cluster}",
                f"yours: {yours}",
            )
        return
    if "assoc" not in settings.get("AccountingStorageEnforce", ""):
        return
    if not accounts:
        raise ConfigError(
            "slurm_account",
            f"user {user} has no account on cluster {cluster}, which requires one",
            "ask the cluster's administrators to add you to one",
        )
    default_account = run(["sacctmgr", "-n", "-P", "show", "user", user, "format=defaultaccount"])
    if not default_account.strip():
        raise ConfigError(
            "slurm_account",
            f"none given and user {user} has no default account on cluster {cluster}",
            f"give one: --default-resources slurm_account=NAME (yours: {yours})",
        )
