"""Per-trial overhead of running trials as SLURM jobs vs. local jobs, with and without packing.

    ci/slurm-up.sh                       # the single-node test cluster (Debian, as root)
    nice -n 10 .venv/bin/python benchmarks/slurm/run.py --out benchmarks/slurm/results.json

One round of N identical-size trials (1 epoch on digits) is proposed and trained; the propose
job's own time is subtracted, so only the trials are timed, in each mode:
  local              snakemake --cores 2 (the default profile)
  slurm              --profile profiles/slurm (one job per trial; the profile's polling)
  slurm-fastpoll     same, polling job states every 2 s instead of the plugin's 20 s+ back-off
  slurm-packed-k     same as slurm-fastpoll, k trials per job (--group-components trials=k)
Both the local runs and the cluster (one node) have 2 cores, so 2 trials run at a time.

Per-trial overhead = (train wall time x 2 slots - sum of the trials' own training time) / N:
the slot-seconds per trial not spent training (process start, imports, workflow parsing in
the job, queueing, status polling). Train wall time = the timed run minus a no-op run of the
same command (Snakemake's start-up and DAG, paid once per sweep, not per trial).
For SLURM runs, sacct splits each job into queue (submit -> start) and run (start -> end).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
SLOTS = 2

SWEEP = {
    "sweep": "bench",
    "seed": 3,
    "objective": {"metric": "val/loss", "direction": "minimize"},
    "search": {"strategy": "random"},
    "space": {
        "lr": {"type": "float", "low": 1.0e-3, "high": 0.1, "log": True},
        "hidden_units": {"type": "int", "low": 16, "high": 32, "log": True},
        "max_epochs": 1,
        "n_layers": 1,
        "batch_size": 64,
    },
    "data": {"name": "digits"},
    "model": {"name": "mlp"},
}


def snakemake(workdir: Path, targets: list[str], *args: str) -> float:
    """Run snakemake in `workdir`; wall seconds. Raises with the output if it fails."""
    # targets before the options: --configfile and --group-components take several values
    command = [
        "timeout", "-k", "10", "1200", SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"),
        "--configfile", str(workdir / "sweep.yaml"), "--directory", str(workdir), *targets,
        *args,
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
    return wall


def sacct_jobs(workdir: Path) -> list[dict]:
    fields = ["JobID", "Submit", "Start", "End", "State", "AllocTRES"]
    out = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-S", "now-2hours", "-o", ",".join(fields + ["WorkDir"])],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    jobs = []
    for line in out.splitlines():
        values = line.split("|")
        if len(values) == len(fields) + 1 and values[-1] == str(workdir):
            jobs.append(dict(zip(fields, values[:-1], strict=True)))
    return jobs


def benchmark_seconds(path: Path) -> float:
    """Wall seconds of one job from its Snakemake `benchmark:` file."""
    header, values = path.read_text().splitlines()[:2]
    return float(dict(zip(header.split("\t"), values.split("\t"), strict=True))["s"])


def seconds(start: str, end: str) -> float:
    return (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds()


def run_mode(name: str, args: list[str], trials: int, keep: Path | None) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    config = copy.deepcopy(SWEEP)
    config["budget"] = {"rounds": 1, "trials_per_round": trials}
    (workdir / "sweep.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    targets = [f"results/bench/trials/r000-t{i:03d}/metrics.json" for i in range(trials)]
    # The round is proposed inside the timed run, as in a real sweep (packing a round that
    # was proposed before Snakemake started is not reliable; see README.md); the propose
    # job's own time is taken out below.
    wall = snakemake(workdir, targets, *args)
    noop = snakemake(workdir, targets, *args)
    records = [json.loads((workdir / t).read_text()) for t in targets]
    assert all(r["status"] == "ok" for r in records), [r["error"] for r in records]
    compute = [r["duration_s"] for r in records]
    propose_s = benchmark_seconds(workdir / "results/bench/benchmarks/propose/000.tsv")
    train_wall = wall - noop - propose_s
    result = {
        "mode": name,
        "args": args,
        "trials": trials,
        "wall_s": round(wall, 2),
        "noop_wall_s": round(noop, 2),
        "propose_s": round(propose_s, 2),
        "train_wall_s": round(train_wall, 2),
        "trial_compute_s": round(sum(compute), 2),
        "overhead_per_trial_s": round((train_wall * SLOTS - sum(compute)) / trials, 2),
    }
    if name != "local":
        jobs = sacct_jobs(workdir)
        result["jobs"] = len(jobs)
        result["job_states"] = sorted({j["State"] for j in jobs})
        result["mean_queue_s"] = round(
            sum(seconds(j["Submit"], j["Start"]) for j in jobs) / len(jobs), 2
        )
        result["mean_job_run_s"] = round(
            sum(seconds(j["Start"], j["End"]) for j in jobs) / len(jobs), 2
        )
        result["alloc"] = sorted({j["AllocTRES"] for j in jobs})
    if keep:
        shutil.copytree(workdir / "results", keep / name, dirs_exist_ok=True)
    shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--modes", default="local,slurm,slurm-fastpoll,slurm-packed-2")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    profile = ["--profile", str(REPO / "profiles" / "slurm")]
    fast = [
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--seconds-between-status-checks",
        "2",
    ]
    modes = {
        "local": ["--cores", "2"],
        "slurm": profile,
        "slurm-fastpoll": profile + fast,
    }
    # A packed job asks for k cores: the test cluster's node has 2, so k <= 2 there.
    for k in (2, 4, 8):
        modes[f"slurm-packed-{k}"] = profile + fast + ["--group-components", f"trials={k}"]
    results = [run_mode(m, modes[m], args.trials, None) for m in args.modes.split(",")]
    report = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "slurm": subprocess.run(
            ["sinfo", "--version"], capture_output=True, text=True
        ).stdout.strip(),
        "results": results,
    }
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
