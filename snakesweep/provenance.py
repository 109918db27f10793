"""What a sweep ran with: resolved config, package versions, git commit, platform and seeds.

Written to results/<sweep>/provenance/ by the `provenance` rule, so a result can be traced and
reproduced; nothing here imports torch (versions come from the installed package metadata).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from snakesweep.outputs import write_atomic, write_yaml
from snakesweep.paths import SweepPaths
from snakesweep.redaction import redact

# The packages whose versions decide the numbers a sweep produces.
KEY_PACKAGES = (
    "torch",
    "lightning",
    "torchmetrics",
    "numpy",
    "scikit-learn",
    "scikit-optimize",
    "scipy",
    "pandas",
    "snakemake",
    "mlflow",
    "pyyaml",
)


def package_versions() -> dict[str, str]:
    """Every installed distribution -> version, sorted by name."""
    versions = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            versions[name.lower()] = dist.version
    return dict(sorted(versions.items()))


def git_state(directory: Path) -> dict:
    """Commit, branch and whether tracked files differ from it; {} outside a git checkout."""

    def git(*args: str) -> str | None:
        try:
            result = subprocess.run(
                ["git", "-C", str(directory), *args],
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return result.stdout.strip() if result.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    changes = git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(changes),
        "changed_files": changes.splitlines() if changes else [],
    }


def platform_info() -> dict:
    return {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "hostname": platform.node(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }


def seeds(config: dict, rounds_dir: Path) -> dict:
    """The sweep seed and every round's and trial's derived seed, read from rounds/NNN.json."""
    rounds, trials = {}, {}
    for path in sorted(rounds_dir.glob("*.json")):
        content = json.loads(path.read_text())
        rounds[int(content["round"])] = content["seed"]
        trials.update({trial["trial"]: trial["seed"] for trial in content["trials"]})
    return {"sweep": config["seed"], "rounds": rounds, "trials": trials}


def facts(workflow_dir: Path, versions: dict[str, str] | None = None) -> dict:
    """The code a sweep runs: snakesweep's version and git state, the key packages' versions and
    the platform (also what MLflow's parent run logs as sweep/provenance.yaml)."""
    versions = versions if versions is not None else package_versions()
    return {
        "snakesweep": {"version": versions.get("snakesweep"), "git": git_state(workflow_dir)},
        "packages": {name: versions.get(name) for name in KEY_PACKAGES},
        "platform": platform_info(),
    }


def write_provenance(config: dict, sweep_dir: Path, workflow_dir: Path, out_dir: Path) -> dict:
    """Write config.yaml, packages.txt and provenance.yaml to `out_dir`; return the summary."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_yaml(out_dir / "config.yaml", redact(config))
    versions = package_versions()
    write_atomic(
        out_dir / "packages.txt",
        "".join(f"{name}=={version}\n" for name, version in versions.items()),
    )
    summary = {
        "sweep": config["sweep"],
        **facts(workflow_dir, versions),
        "seeds": seeds(config, SweepPaths(sweep_dir).rounds_dir),
    }
    write_yaml(out_dir / "provenance.yaml", summary)
    return summary
