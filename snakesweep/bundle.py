"""A finished sweep as a bundle another user re-runs and verifies with one command.

`python -m snakesweep export SWEEP` writes bundles/SWEEP.tar.gz: sweep.yaml (the resolved config
with an `expect:` block holding every finished trial's measured objective), trials.csv,
provenance/ and README.md. `python -m snakesweep reproduce BUNDLE` unpacks it safely, validates
the config like the workflow does, runs `snakemake verify` on it and exits non-zero with the
differences when a value is not reproduced.
"""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import yaml

from snakesweep.errors import ConfigError
from snakesweep.redaction import redact

REPO = Path(__file__).resolve().parent.parent
BUNDLE_README = """# snakesweep bundle: {sweep}

Re-run this sweep and compare with the values measured when it was published:

    python -m snakesweep reproduce {name}

That validates `sweep.yaml`, runs `snakemake verify` with it in the current directory and
writes results/{sweep}/verify.json; it exits non-zero, listing the differences, when a value
falls outside its tolerance. trials.csv and provenance/ are the published run's table,
resolved config, package versions, git commit and platform.
"""


def expected_rows(table, config: dict, tolerance: float) -> dict:
    """An `expect:` block with one row per finished trial: its params and objective."""
    metric = config["objective"]["metric"]
    names = [name for name in config["space"] if name in table.columns]
    rows = []
    for _, trial in table[table["status"] == "ok"].iterrows():
        value = trial.get(metric)
        if value is None or not math.isfinite(float(value)):
            continue
        params = {name: _plain(trial[name]) for name in names if _present(trial[name])}
        rows.append({"params": params, "value": float(value)})
    if not rows:
        raise ConfigError("sweep", "no trial of this sweep finished", "run the sweep first")
    return {
        "source": f"snakesweep bundle of sweep {config['sweep']}",
        "metric": metric,
        "tolerance": tolerance,
        "rows": rows,
    }


def _present(value) -> bool:
    return not (isinstance(value, float) and math.isnan(value))


def _plain(value):
    if hasattr(value, "item"):
        return value.item()
    return value


def export_bundle(
    sweep: str, results: Path = Path("results"), out: Path | None = None, tolerance: float = 0.02
) -> Path:
    """Write the bundle of a finished sweep; return its path."""
    from snakesweep.config import check_sweep_name
    from snakesweep.configfile import read_config_file
    from snakesweep.history import read_history

    check_sweep_name(sweep)
    sweep_dir = results / sweep
    needed = [sweep_dir / "trials.csv", sweep_dir / "provenance" / "config.yaml"]
    missing = [str(path) for path in needed if not path.exists()]
    if missing:
        raise ConfigError(
            "sweep", f"{sweep} is not a finished sweep ({missing[0]} is missing)", "run it first"
        )
    # Redacted again: provenance written by an older snakesweep may hold a tracking password.
    config = redact(read_config_file(sweep_dir / "provenance" / "config.yaml"))
    table = read_history(sweep_dir / "trials.csv")  # an empty or cut-off table: one line
    config["expect"] = config.get("expect") or expected_rows(table, config, tolerance)
    out = out or Path("bundles") / f"{sweep}.tar.gz"
    out.parent.mkdir(parents=True, exist_ok=True)
    files = {
        "sweep.yaml": yaml.safe_dump(config, sort_keys=False).encode(),
        "README.md": BUNDLE_README.format(sweep=sweep, name=out.name).encode(),
        "trials.csv": (sweep_dir / "trials.csv").read_bytes(),
    }
    for path in sorted((sweep_dir / "provenance").iterdir()):
        files[f"provenance/{path.name}"] = redact(path.read_text()).encode()
    if (sweep_dir / "verify.json").exists():
        files["verify.json"] = (sweep_dir / "verify.json").read_bytes()
    partial = out.with_name(out.name + ".part")
    with tarfile.open(partial, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{sweep}/{name}")
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    partial.replace(out)
    return out


def unpack(bundle: Path, into: Path) -> Path:
    """Extract a bundle (tar.gz or folder) safely; return the folder holding sweep.yaml."""
    if bundle.is_dir():
        folder = bundle
    elif bundle.is_file():
        try:
            with tarfile.open(bundle) as archive:
                archive.extractall(into, filter="data")  # no absolute paths, links or '..'
        except (tarfile.TarError, OSError) as error:
            raise ConfigError("bundle", f"{bundle} is not a readable bundle: {error}") from None
        found = sorted(into.glob("*/sweep.yaml")) + sorted(into.glob("sweep.yaml"))
        if not found:
            raise ConfigError("bundle", f"{bundle} holds no sweep.yaml", "export it again")
        folder = found[0].parent
    else:
        raise ConfigError("bundle", f"{bundle} does not exist", "check the path")
    if not (folder / "sweep.yaml").exists():
        raise ConfigError("bundle", f"{folder} holds no sweep.yaml", "export it again")
    return folder


def snakemake_executable() -> str:
    """The snakemake of this Python environment, else the one on PATH."""
    beside = Path(sys.executable).parent / "snakemake"
    return str(beside) if beside.exists() else shutil.which("snakemake") or "snakemake"


def reproduce(bundle: Path, cores: int = 2, results: Path = Path("results")) -> int:
    """Re-run a bundle's sweep here and verify it; returns snakemake's exit status."""
    from snakesweep.config import load_config
    from snakesweep.configfile import read_config_file

    with tempfile.TemporaryDirectory(prefix="snakesweep-bundle-") as scratch:
        folder = unpack(bundle, Path(scratch))
        raw = read_config_file(folder / "sweep.yaml")
        config = load_config(raw, results)  # the same validation as the workflow's
        if not config.get("expect"):
            raise ConfigError("expect", "the bundle's sweep.yaml has no expected values")
        for section in ("model", "data"):
            if (config.get(section) or {}).get("class_path"):
                print(
                    f"[snakesweep] note: this bundle trains your installed "
                    f"{config[section]['class_path']} ({section}.class_path)",
                    file=sys.stderr,
                )
        configs = Path("bundles") / "configs"
        configs.mkdir(parents=True, exist_ok=True)
        configfile = configs / f"{config['sweep']}.yaml"
        configfile.write_text(yaml.safe_dump(raw, sort_keys=False))
    command = [
        snakemake_executable(),
        "--snakefile",
        str(REPO / "Snakefile"),
        "--profile",
        str(REPO / "profiles" / "default"),
        "--configfile",
        str(configfile),
        "--cores",
        str(cores),
        "verify",
    ]
    print("[snakesweep] " + " ".join(command), file=sys.stderr, flush=True)
    return subprocess.run(command, check=False).returncode
