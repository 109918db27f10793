"""Where a sweep's time goes: run a sweep in a fresh directory and split its wall time.

    python benchmarks/sweep/overhead.py [--configfile config/config.yaml] [--cores 2]

Reports the sweep's wall time; per trial, the job's wall time split into process start +
imports, set-up and training (Lightning fit); the proposal time per round; and Snakemake's
own overhead = wall time - (sum of job wall times / cores). Writes
benchmarks/sweep/results/<sweep>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[2]


def job_seconds(sweep_dir: Path) -> pd.DataFrame:
    """Wall seconds of every job, from Snakemake's benchmark: files."""
    rows = []
    for path in sorted((sweep_dir / "benchmarks").rglob("*.tsv")):
        rule = path.parent.name if path.parent.name != "benchmarks" else path.stem
        rows.append(
            {"rule": rule, "job": path.stem, "s": float(pd.read_csv(path, sep="\t")["s"][0])}
        )
    return pd.DataFrame(rows)


def measure(configfile: Path, cores: int) -> dict:
    config = yaml.safe_load(configfile.read_text())
    with tempfile.TemporaryDirectory() as workdir:
        command = [
            str(Path(sys.executable).parent / "snakemake"),
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            workdir,
            "--configfile",
            str(configfile.resolve()),
            "--cores",
            str(cores),
        ]
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        wall = time.perf_counter() - start
        sweep_dir = Path(workdir) / "results" / config["sweep"]
        jobs = job_seconds(sweep_dir)
        trials = pd.read_csv(sweep_dir / "trials.csv")
    train = jobs[jobs["rule"] == "train"].set_index("job")["s"]
    trials = trials.set_index("trial")
    fit = trials.get("time/fit_s", pd.Series(dtype=float))
    setup = trials.get("time/setup_s", pd.Series(dtype=float))
    imports = trials.get("time/import_s", pd.Series(dtype=float))
    start_and_imports = train - fit.reindex(train.index) - setup.reindex(train.index)
    busy = jobs["s"].sum()
    return {
        "sweep": config["sweep"],
        "cores": cores,
        "trials": int(len(trials)),
        "wall_s": round(wall, 2),
        "trial_job_s_mean": round(float(train.mean()), 2),
        "trial_start_and_imports_s_mean": round(float(start_and_imports.mean()), 2),
        "trial_imports_s_mean": round(float(imports.mean()), 2),
        "trial_setup_s_mean": round(float(setup.mean()), 2),
        "trial_fit_s_mean": round(float(fit.mean()), 2),
        "propose_s_per_round": jobs[jobs["rule"] == "propose"]["s"].round(2).tolist(),
        "seconds_by_rule": jobs.groupby("rule")["s"].sum().round(2).to_dict(),
        "sum_of_job_s": round(float(busy), 2),
        "snakemake_overhead_s": round(wall - busy / cores, 2),
        "machine": f"{platform.machine()}, {platform.python_version()}, {cores} cores",
    }


def markdown(result: dict) -> str:
    lines = [f"# Sweep overhead: {result['sweep']}", "", "| measure | value |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in result.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", type=Path, default=REPO / "config" / "config.yaml")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    result = measure(args.configfile, args.cores)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"{result['sweep']}.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / f"{result['sweep']}.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
