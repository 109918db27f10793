"""What a sweep costs over its training, side by side in one run: snakesweep against an in-process
Optuna loop over the same trials, with and without the warm worker.

    nice -n 19 python benchmarks/overhead/run.py [--before REV] [--cores 2] [--accelerator gpu]

(a) The default sweep (config/config.yaml, 16 trials) with `snakemake --cores N`, against the
    same 16 configurations trained by `snakesweep.train.fit_trial` in an Optuna loop: N
    processes sharing a JournalStorage file, each importing torch and Lightning once.
(b) The 120-trial tabular sweep (config/sweeps/tabular_car.yaml, 30 rounds; MLflow included)
    against an Optuna TPE loop (N processes) looking up the same table.
(c) A 400-trial tabular sweep (100 rounds): the time per round, early against late.
(d) A no-op rerun of the finished 30-round sweep.

Every snakesweep arm runs with the warm worker (this tree), without it (`warm_worker=False`),
and, with --before REV, as the workflow of that git revision. Writes results.json and
results.md beside this script; with `--accelerator gpu` (the default sweep's trials, both
sides, on one GPU, `--cores` trials at once) results-gpu.json and results-gpu.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # snakesweep, also in the Optuna processes
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
# A finished round's line: "round 2:" (0-based) before, "round 3/8:" (1-based of 8) now.
ROUND_LINE = re.compile(r"\[snakesweep\] round (\d+)(/\d+)?:")
# A job's line in logs/worker.log: "HH:MM:SS.mmm script wildcards exit 0 in 1.17 s, CPU 0.75 s".
WORKER_JOB = re.compile(r"^\S+ (\S+) .*exit -?\d+ in [\d.]+ s, CPU ([\d.]+) s$")


def children_cpu_s() -> float:
    """CPU seconds of this process's finished children and all their waited-for descendants."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def worker_cpu_s(log: Path) -> dict[str, float] | None:
    """CPU seconds of the jobs the warm worker ran, summed by script (None: no worker, or one
    whose log does not give them)."""
    total: dict[str, float] = {}
    if log.exists():
        for line in log.read_text().splitlines():
            found = WORKER_JOB.match(line)
            if found:
                total[found.group(1)] = total.get(found.group(1), 0.0) + float(found.group(2))
    return {script: round(cpu, 2) for script, cpu in sorted(total.items())} or None


def run_sweep(repo: Path, workdir: Path, config: dict, cores: int, *extra: str) -> dict:
    """Run a sweep; its wall time, when each round line appeared, and the jobs' benchmark files."""
    workdir.mkdir(parents=True, exist_ok=True)
    configfile = workdir / "sweep.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    command = [SNAKEMAKE, "--snakefile", str(repo / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(configfile), "--cores", str(cores), *extra]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(repo)}
    start, cpu_start = time.perf_counter(), children_cpu_s()
    process = subprocess.Popen(
        command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    rounds = {}
    output = []
    for line in process.stdout:
        output.append(line)
        found = ROUND_LINE.search(line)
        if found:
            index = int(found.group(1)) - (1 if found.group(2) else 0)
            rounds[index] = time.perf_counter() - start
    if process.wait() != 0:
        raise RuntimeError("".join(output[-60:]))
    wall, cpu = time.perf_counter() - start, children_cpu_s() - cpu_start
    sweep_dir = workdir / "results" / config["sweep"]
    jobs = []
    for path in sorted((sweep_dir / "benchmarks").rglob("*.tsv")):
        rule = path.parent.name if path.parent.name != "benchmarks" else path.stem
        jobs.append(
            {"rule": rule, "job": path.stem, "s": float(pd.read_csv(path, sep="\t")["s"][0])}
        )
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "worker_cpu_s": worker_cpu_s(workdir / "logs" / "worker.log"),
        "rounds": rounds,
        "jobs": pd.DataFrame(jobs),
        "dir": sweep_dir,
    }


def sweep_summary(run: dict, rounds: int) -> dict:
    jobs = run["jobs"]
    by_rule = jobs.groupby("rule")["s"]
    summary = {
        "wall_s": round(run["wall_s"], 2),
        "last_round_line_s": round(run["rounds"].get(rounds - 1, float("nan")), 2),
        "cpu_s": round(run["cpu_s"], 2),
        "worker_job_cpu_s": run["worker_cpu_s"],
        "job_s_median": {rule: round(float(s.median()), 3) for rule, s in by_rule},
        "job_s_sum": {rule: round(float(s.sum()), 2) for rule, s in by_rule},
    }
    trials = pd.read_csv(run["dir"] / "trials.csv").set_index("trial")
    train = jobs[jobs["rule"] == "train"].set_index("job")["s"]
    if "time/fit_s" in trials:
        fit = trials["time/fit_s"].reindex(train.index)
        setup = trials["time/setup_s"].reindex(train.index)
        summary["trial_fixed_s_median"] = {
            "job_minus_fit": round(float((train - fit).median()), 3),
            "job_minus_setup_and_fit": round(float((train - fit - setup).median()), 3),
        }
    propose = jobs[jobs["rule"] == "propose"].set_index("job")["s"]
    if len(propose) > 10:  # round r proposes from 4r observations: round 10 has 40
        summary["propose_s_at_40_observations"] = round(float(propose.get("010", float("nan"))), 3)
    return summary


def per_round(run: dict) -> dict:
    """Seconds between consecutive round lines: the first ten rounds against the last ten."""
    times = [run["rounds"][r] for r in sorted(run["rounds"])]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    return {
        "round_s_rounds_1_10": round(statistics.median(gaps[:10]), 3),
        "round_s_last_10": round(statistics.median(gaps[-10:]), 3),
    }


def noop_rerun(repo: Path, workdir: Path, cores: int) -> float:
    command = [SNAKEMAKE, "--snakefile", str(repo / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(workdir / "sweep.yaml"), "--cores", str(cores)]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, cwd=workdir, check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(repo)})  # fmt: skip
    return round(time.perf_counter() - start, 2)


# -- the Optuna loops ---------------------------------------------------------------------------


def _optuna_worker(storage_path: str, study: str, n_trials: int, job: dict) -> None:
    """One Optuna process: imports once, then trains (or looks up) trials until n are done."""
    import optuna
    import torch
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from snakesweep.sweep import sweep_of
    from snakesweep.tabular import run_tabular_trial
    from snakesweep.train import fit_trial

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(storage_path))
    sweep, space, out = sweep_of(job["config"]), job["space"], Path(job["out"])
    metric = sweep.objective.metric

    def objective(trial) -> float:
        if "params" in trial.user_attrs:  # an enqueued configuration of the sweep
            params, seed = trial.user_attrs["params"], trial.user_attrs["seed"]
        else:
            params, seed = suggest(trial, space), trial.number
        trial_dir = out / f"t{trial.number:04d}"
        if sweep.task == "tabular":
            metrics = run_tabular_trial(params, sweep, trial_dir, seed)
        else:
            metrics = fit_trial(params, sweep, trial_dir, seed)
        return float(metrics[metric])

    loaded = optuna.load_study(study_name=study, storage=storage)
    loaded.optimize(objective, n_trials=n_trials)


def suggest(trial, space: dict) -> dict:
    params = {}
    for name, spec in space.items():
        if not isinstance(spec, dict):
            params[name] = spec
        elif spec["type"] == "float":
            params[name] = trial.suggest_float(
                name, spec["low"], spec["high"], log=spec.get("log", False)
            )
        elif spec["type"] == "int":
            params[name] = trial.suggest_int(
                name, spec["low"], spec["high"], log=spec.get("log", False)
            )
        else:
            params[name] = trial.suggest_categorical(name, spec["choices"])
    return params


def optuna_loop(
    config: dict, processes: int, n_trials: int, enqueue: list[dict] | None
) -> tuple[float, float]:
    """Wall and CPU seconds of `processes` Optuna processes sharing a JournalStorage file."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from snakesweep.config import load_config

    with tempfile.TemporaryDirectory() as workdir:
        cwd = os.getcwd()
        os.chdir(workdir)
        try:
            resolved = load_config(json.loads(json.dumps(config)), Path(workdir) / "results")
            storage_path = str(Path(workdir) / "journal.log")
            storage = JournalStorage(JournalFileBackend(storage_path))
            study = optuna.create_study(
                study_name="bench", storage=storage,
                direction=config["objective"]["direction"],
                sampler=optuna.samplers.TPESampler(seed=config.get("seed", 0)),
            )  # fmt: skip
            for item in enqueue or []:
                study.enqueue_trial({}, user_attrs=item)
            job = {"config": resolved, "space": config["space"], "out": f"{workdir}/trials"}
            share = [n_trials // processes + (i < n_trials % processes) for i in range(processes)]
            context = multiprocessing.get_context("spawn")  # each process imports on its own
            start, cpu_start = time.perf_counter(), children_cpu_s()
            workers = [
                context.Process(target=_optuna_worker, args=(storage_path, "bench", n, job))
                for n in share
            ]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
                if worker.exitcode != 0:
                    raise RuntimeError(f"an Optuna process exited with {worker.exitcode}")
            return round(time.perf_counter() - start, 2), round(children_cpu_s() - cpu_start, 2)
        finally:
            os.chdir(cwd)


def sweep_trials(sweep_dir: Path, space: dict) -> list[dict]:
    """The sweep's configurations and seeds, to give Optuna the very same trials."""
    table = pd.read_csv(sweep_dir / "trials.csv")
    records = []
    for _, row in table.iterrows():
        metrics = json.loads((sweep_dir / "trials" / row["trial"] / "metrics.json").read_text())
        records.append({"params": metrics["params"], "seed": metrics["seed"]})
    return records


# -- the run ------------------------------------------------------------------------------------


def checkout(rev: str, into: Path) -> Path:
    """The workflow of git revision `rev` (or the directory `rev` holding one)."""
    if Path(rev).is_dir():
        return Path(rev).resolve()
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--before", help="also run the workflow of this git revision (or tree)")
    parser.add_argument("--parts", default="default,tabular,400", help="which parts to run")
    parser.add_argument("--update", action="store_true", help="add to the recorded results")
    parser.add_argument("--no-worker-arm", action="store_true", help="skip warm_worker=False")
    parser.add_argument("--accelerator", default="cpu", help="the default sweep's trials' device")
    args = parser.parse_args()
    cores, parts = args.cores, args.parts.split(",")
    results_name = "results" if args.accelerator == "cpu" else f"results-{args.accelerator}"
    default = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    default.setdefault("train", {})["accelerator"] = args.accelerator
    if args.accelerator != "cpu":  # one GPU: as many trials on it at once as cores, both sides
        default["train"]["trials_per_gpu"] = cores
    tabular = yaml.safe_load((REPO / "config" / "sweeps" / "tabular_car.yaml").read_text())
    tabular["budget"]["rounds"] = 30
    big = json.loads(json.dumps(tabular)) | {"sweep": "tabular_car_400"}
    big["budget"]["rounds"] = 100
    result: dict = {
        "machine": f"{platform.machine()}, Python {platform.python_version()}, {cores} cores, "
        f"load average at start {os.getloadavg()[0]:.1f}",
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "accelerator": args.accelerator,
    }
    recorded = Path(__file__).parent / f"{results_name}.json"
    if args.update and recorded.exists():
        result = json.loads(recorded.read_text()) | {f"{part}_part": result for part in parts}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        arms = {"worker": (REPO, ())}
        if not args.no_worker_arm:
            arms["no_worker"] = (REPO, ("--config", "warm_worker=False"))
        if args.before:
            arms["before"] = (checkout(args.before, tmp / "before-tree"), ())
        if "default" in parts:
            for name, (repo, extra) in arms.items():
                run = run_sweep(repo, tmp / f"default-{name}", default, cores, *extra)
                result[f"default_sweep_{name}"] = sweep_summary(run, default["budget"]["rounds"])
                if name == "worker":
                    same = sweep_trials(run["dir"], default["space"])
            result["default_optuna_s"], result["default_optuna_cpu_s"] = optuna_loop(
                default, cores, len(same), same
            )
            for name in arms:
                sweep = result[f"default_sweep_{name}"]
                result[f"ratio_default_{name}_over_optuna"] = round(
                    sweep["wall_s"] / result["default_optuna_s"], 2
                )
                result[f"ratio_default_search_{name}_over_optuna"] = round(
                    sweep["last_round_line_s"] / result["default_optuna_s"], 2
                )
            write(result, results_name)
        if "tabular" in parts:
            for name, (repo, extra) in arms.items():
                run = run_sweep(repo, tmp / f"tabular-{name}", tabular, cores, *extra)
                result[f"tabular_120_{name}"] = sweep_summary(run, 30) | per_round(run)
                result[f"tabular_120_{name}"]["noop_rerun_s"] = noop_rerun(
                    repo, tmp / f"tabular-{name}", cores
                )
            result["tabular_120_optuna_s"], result["tabular_120_optuna_cpu_s"] = optuna_loop(
                tabular, cores, 120, None
            )
            for name in arms:
                result[f"ratio_tabular_{name}_over_optuna"] = round(
                    result[f"tabular_120_{name}"]["wall_s"] / result["tabular_120_optuna_s"], 2
                )
            write(result, results_name)
        if "400" in parts:
            run = run_sweep(REPO, tmp / "tabular-400", big, cores)
            result["tabular_400_worker"] = sweep_summary(run, 100) | per_round(run)
            write(result, results_name)


def write(result: dict, name: str) -> None:
    """`name`.json and `name`.md beside this script (after each part: a long run keeps what
    it measured)."""
    arms = [
        arm
        for arm in ("worker", "no_worker", "before")
        if f"default_sweep_{arm}" in result or f"tabular_120_{arm}" in result
    ]
    out = Path(__file__).parent
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / f"{name}.md").write_text(markdown(result, arms))
    print(markdown(result, arms), flush=True)


def markdown(result: dict, arms: list[str]) -> str:
    def row(label: str, key, fmt=lambda v: v) -> str:
        cells = []
        for arm in arms:
            try:
                cells.append(str(fmt(key(arm))))
            except (KeyError, TypeError, AttributeError):
                cells.append("-")
        return f"| {label} | " + " | ".join(cells) + " |"

    d = lambda arm: result[f"default_sweep_{arm}"]  # noqa: E731
    t = lambda arm: result[f"tabular_120_{arm}"]  # noqa: E731
    lines = [
        "# Sweep overhead: snakesweep against an in-process Optuna loop",
        "",
        f"{result['machine']}; started {result['started']}. Seconds of wall time.",
        *(
            f"The {key.removesuffix('_part')} part measured again (--update): {again['machine']}; "
            f"started {again['started']}."
            for key, again in result.items()
            if key.endswith("_part")
        ),
        "",
        "| measure | " + " | ".join(arms) + " |",
        "|---" * (len(arms) + 1) + "|",
        row("default sweep (16 trials) wall", lambda a: d(a)["wall_s"]),
        row("default sweep, last round line", lambda a: d(a)["last_round_line_s"]),
        row("Optuna loop, same 16 trials", lambda a: result["default_optuna_s"]),
        row("CPU seconds, all processes of the sweep", lambda a: d(a)["cpu_s"]),
        row("CPU seconds, Optuna loop", lambda a: result["default_optuna_cpu_s"]),
        row("CPU seconds of the worker's jobs: trials",
            lambda a: d(a)["worker_job_cpu_s"]["train_trial"]),
        row("CPU seconds of the worker's jobs: tracking (rounds, final)",
            lambda a: round(d(a)["worker_job_cpu_s"]["track_round"]
                            + d(a)["worker_job_cpu_s"]["track_final"], 2)),
        row("CPU seconds of the worker's jobs: all others",
            lambda a: round(sum(v for k, v in d(a)["worker_job_cpu_s"].items()
                                if k not in ("train_trial", "track_round", "track_final")), 2)),
        row("ratio wall / Optuna", lambda a: result[f"ratio_default_{a}_over_optuna"]),
        row("ratio search / Optuna", lambda a: result[f"ratio_default_search_{a}_over_optuna"]),
        row("trial fixed cost, median (job - fit)",
            lambda a: d(a)["trial_fixed_s_median"]["job_minus_fit"]),
        row("trial fixed cost, median (job - setup - fit)",
            lambda a: d(a)["trial_fixed_s_median"]["job_minus_setup_and_fit"]),
        row("train job, median", lambda a: d(a)["job_s_median"]["train"]),
        row("propose job, median", lambda a: d(a)["job_s_median"]["propose"]),
        row("track job, median", lambda a: d(a)["job_s_median"]["track"]),
        row("track_final", lambda a: d(a)["job_s_median"]["track_final"]),
        row("evaluate_best", lambda a: d(a)["job_s_median"]["evaluate_best"]),
        row("plot_search", lambda a: d(a)["job_s_median"]["plot_search"]),
        row("report", lambda a: d(a)["job_s_median"]["report"]),
        row("tabular 120 trials wall (MLflow included)", lambda a: t(a)["wall_s"]),
        row("tabular 120, last round line", lambda a: t(a)["last_round_line_s"]),
        row("Optuna TPE loop, 120 lookups", lambda a: result["tabular_120_optuna_s"]),
        row("ratio tabular / Optuna", lambda a: result[f"ratio_tabular_{a}_over_optuna"]),
        row("propose job at 40 observations", lambda a: t(a)["propose_s_at_40_observations"]),
        row("track job, median", lambda a: t(a)["job_s_median"]["track"]),
        row("no-op rerun of the 30-round sweep", lambda a: t(a)["noop_rerun_s"]),
        row("seconds per round, rounds 1-10", lambda a: t(a)["round_s_rounds_1_10"]),
        row("seconds per round, last 10", lambda a: t(a)["round_s_last_10"]),
    ]  # fmt: skip
    big = result.get("tabular_400_worker")
    if big:
        lines += [
            "",
            f"400-trial tabular sweep (100 rounds, worker): wall {big['wall_s']} s; seconds per "
            f"round {big['round_s_rounds_1_10']} (rounds 1-10) and {big['round_s_last_10']} "
            "(last 10).",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
