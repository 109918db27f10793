"""Sweeps through `--profile profiles/slurm` on the real single-node cluster of ci/slurm-up.sh.

Skipped unless that cluster (ClusterName snakesweep, two fake GPUs) answers; .ci/run starts it
and runs them all (`pytest -m slurm`; the sweeps are also `slow`, out of the default suite).
Every snakemake call runs under `timeout -k`, so a hang fails the test instead of the suite.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, SNAKEMAKE, TINY_SWEEP, run_snakemake, write_config

pytestmark = pytest.mark.slurm

TEST_CLUSTER = "snakesweep"  # ClusterName written by ci/slurm-up.sh
LIMIT_S = 600


def cluster_problem() -> str | None:
    """Why the test cluster can't be used here, or None when it is up."""
    if shutil.which("sinfo") is None:
        return "SLURM's tools are not installed (ci/slurm-up.sh installs them)"
    try:
        config = subprocess.run(
            ["scontrol", "show", "config"], capture_output=True, text=True, timeout=15
        )
    except subprocess.TimeoutExpired:
        return "the SLURM controller does not answer"
    if config.returncode != 0:
        return "no SLURM cluster is up (ci/slurm-up.sh starts one)"
    name = re.search(r"^ClusterName\s*=\s*(\S+)", config.stdout, re.M)
    if not name or name.group(1) != TEST_CLUSTER:
        return f"the cluster here is not the test cluster {TEST_CLUSTER!r} of ci/slurm-up.sh"
    return None


@pytest.fixture(scope="module", autouse=True)
def cluster() -> None:
    problem = cluster_problem()
    if problem:
        pytest.skip(problem)


def sweep_config(name: str, rounds: int, trials: int, **train) -> dict:
    config = copy.deepcopy(TINY_SWEEP)
    config["sweep"] = name
    config["budget"] = {"rounds": rounds, "trials_per_round": trials}
    config["space"]["max_epochs"] = 1
    if train:
        config["train"] = train
    return config


def slurm_snakemake(
    workdir: Path, configfile: Path, *args: str, limit_s: int = LIMIT_S
) -> subprocess.CompletedProcess:
    """snakemake --profile profiles/slurm, polling job states every few seconds (not 20+)."""
    command = [
        "timeout", "-k", "10", str(limit_s),
        SNAKEMAKE,
        "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir),
        "--configfile", str(configfile),
        "--profile", str(REPO / "profiles" / "slurm"),
        "--slurm-init-seconds-before-status-checks", "2",
        "--seconds-between-status-checks", "2",
        *args,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, env=env)


def sacct(workdir: Path) -> pd.DataFrame:
    """The cluster's accounting records of the jobs that ran in `workdir`."""
    fields = "JobID,State,WorkDir,AllocTRES,ReqMem"
    out = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-a", "-S", "now-1hour", "-o", fields],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    rows = [line.split("|") for line in out.splitlines() if line.strip()]
    table = pd.DataFrame(rows, columns=fields.split(","))
    return table[table["WorkDir"] == str(workdir)].reset_index(drop=True)


def result_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def check(result: subprocess.CompletedProcess) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    return output


@pytest.mark.slow
def test_a_sweep_on_slurm_has_the_shape_of_a_local_run(tmp_path):
    config = sweep_config("tiny", rounds=2, trials=2)
    local, cluster = tmp_path / "local", tmp_path / "cluster"
    for workdir in (local, cluster):
        workdir.mkdir()
        write_config(workdir, config)
    run_snakemake(local, local / "sweep.yaml")
    output = check(slurm_snakemake(cluster, cluster / "sweep.yaml"))

    assert "has been submitted with SLURM jobid" in output
    jobs = sacct(cluster)
    # only trials go to the cluster (the final evaluations as well); proposals, history
    # tables and MLflow stay on the submit host
    assert len(jobs) >= 4 and set(jobs["State"]) == {"COMPLETED"}
    sweep_local, sweep_cluster = local / "results" / "tiny", cluster / "results" / "tiny"
    assert result_files(sweep_cluster) == result_files(sweep_local)
    table_local = pd.read_csv(sweep_local / "trials.csv")
    table_cluster = pd.read_csv(sweep_cluster / "trials.csv")
    assert list(table_cluster.columns) == list(table_local.columns)
    assert list(table_cluster["trial"]) == list(table_local["trial"])
    assert set(table_cluster["status"]) == {"ok"}
    # proposals are pure functions of the seed and the finished trials
    first_round = [json.loads((s / "rounds" / "000.json").read_text())["trials"]
                   for s in (sweep_local, sweep_cluster)]  # fmt: skip
    assert first_round[0] == first_round[1]
    for trial in table_cluster["trial"]:
        log = (cluster / "logs" / "train" / "tiny" / f"{trial}.log").read_text()
        assert re.search(r"SLURM job \d+", log), log
    assert (cluster / "results" / "mlflow.db").exists()


def kill_first_trial(workdir: Path, killed: list[str], stop: threading.Event) -> None:
    """Play the infrastructure: SIGKILL the trial of the first job of `workdir` once it runs
    (its job step, as the kernel's OOM killer or a failing node would), leaving SLURM to fail
    the job.

    Not `scancel JOB`: sacct reports that as "CANCELLED by <uid>", which the executor plugin
    (2.8.0) does not recognise as finished, so Snakemake would wait for the job forever.
    """
    while not stop.is_set():
        out = subprocess.run(
            ["squeue", "-h", "-o", "%i|%T|%Z"], capture_output=True, text=True, timeout=30
        ).stdout
        for line in out.splitlines():
            job, state, jobdir = line.split("|", 2)
            if jobdir != str(workdir) or state != "RUNNING":
                continue
            steps = subprocess.run(
                ["squeue", "-h", "-s", "-j", job, "-o", "%i"],
                capture_output=True, text=True, timeout=30,
            ).stdout.split()  # fmt: skip
            if f"{job}.0" in steps:
                subprocess.run(["scancel", "--signal=KILL", f"{job}.0"], check=True, timeout=30)
                killed.append(job)
                return
        time.sleep(0.5)


@pytest.mark.slow
def test_a_trial_killed_by_the_cluster_is_retried_and_succeeds(tmp_path):
    write_config(tmp_path, sweep_config("retry", rounds=1, trials=1))
    killed: list[str] = []
    stop = threading.Event()
    watcher = threading.Thread(target=kill_first_trial, args=(tmp_path, killed, stop), daemon=True)
    watcher.start()
    try:
        result = slurm_snakemake(
            tmp_path, tmp_path / "sweep.yaml", "results/retry/trials/r000-t000/metrics.json"
        )
    finally:
        stop.set()
        watcher.join(timeout=30)
    check(result)
    assert len(killed) == 1
    jobs = sacct(tmp_path)
    assert list(jobs["State"]) == ["FAILED", "COMPLETED"], jobs
    assert jobs.loc[0, "JobID"] == killed[0]
    # the second attempt asks for twice the memory (and time)
    memory = [int(re.sub(r"\D", "", mem)) for mem in jobs["ReqMem"]]
    assert memory[1] == 2 * memory[0]
    record = json.loads((tmp_path / "results/retry/trials/r000-t000/metrics.json").read_text())
    assert record["status"] == "ok"


def gpu_sweep(workdir: Path, trials: int, **train) -> tuple[pd.DataFrame, list[str]]:
    """Train `trials` GPU trials; the fake GPUs can't run CUDA, so the trials fail in their own
    code and say so in metrics.json, but the job finishes and its log shows the GPUs it got."""
    write_config(workdir, sweep_config("gpu", rounds=1, trials=trials, accelerator="gpu", **train))
    targets = [f"results/gpu/trials/r000-t{i:03d}/metrics.json" for i in range(trials)]
    check(slurm_snakemake(workdir, workdir / "sweep.yaml", *targets))
    devices = []
    for i in range(trials):
        log = (workdir / "logs/train/gpu" / f"r000-t{i:03d}.log").read_text()
        devices.append(re.search(r"CUDA_VISIBLE_DEVICES=(\S+)", log).group(1))
        assert (workdir / targets[i]).exists()
    return sacct(workdir), devices


@pytest.mark.slow
def test_a_gpu_trial_gets_one_gpu_and_sees_only_it(tmp_path):
    jobs, devices = gpu_sweep(tmp_path, trials=1)
    assert len(jobs) == 1 and "gres/gpu=1" in jobs.loc[0, "AllocTRES"]
    assert devices[0] in {"0", "1"}  # one of the node's two GPUs, not both


@pytest.mark.slow
def test_packed_trials_share_one_gpu_in_one_job(tmp_path):
    jobs, devices = gpu_sweep(tmp_path, trials=2, trials_per_gpu=2)
    assert len(jobs) == 1, jobs
    tres = jobs.loc[0, "AllocTRES"]
    assert "gres/gpu=1" in tres and "cpu=2" in tres, tres
    assert devices[0] == devices[1] and devices[0] in {"0", "1"}


@pytest.mark.slow
def test_a_round_proposed_before_the_start_runs_unpacked(tmp_path):
    """Packing trials that are already in the DAG when Snakemake starts (a resumed round) is
    not reliable in Snakemake, so such a round runs one trial per job, each trial once."""
    write_config(
        tmp_path,
        sweep_config("resumed", rounds=1, trials=2, accelerator="gpu", trials_per_gpu=2),
    )
    run_snakemake(tmp_path, tmp_path / "sweep.yaml", "--until", "propose")
    targets = [f"results/resumed/trials/r000-t{i:03d}/metrics.json" for i in range(2)]
    output = check(slurm_snakemake(tmp_path, tmp_path / "sweep.yaml", *targets))
    assert "[snakesweep] trials of an unfinished round run unpacked" in output
    jobs = sacct(tmp_path)
    assert len(jobs) == 2 and all("gres/gpu=1" in tres for tres in jobs["AllocTRES"]), jobs
    assert output.count("has been submitted with SLURM jobid") == 2
    assert all((tmp_path / target).exists() for target in targets)


@pytest.mark.slow
def test_a_sweep_on_slurm_tracks_to_an_mlflow_server(tmp_path, mlflow_server):
    """With a tracking server, trials still write only files on the cluster; the submit host
    mirrors them to the server, and no sqlite store is written anywhere."""
    from mlflow.tracking import MlflowClient

    config = sweep_config("served", rounds=1, trials=2)
    config["tracking"] = {"uri": mlflow_server}
    write_config(tmp_path, config)
    check(slurm_snakemake(tmp_path, tmp_path / "sweep.yaml"))
    assert len(sacct(tmp_path)) >= 2
    client = MlflowClient(tracking_uri=mlflow_server)
    experiment = client.get_experiment_by_name("served")
    runs = client.search_runs([experiment.experiment_id])
    trials = sorted(run.data.tags["snakesweep.trial"] for run in runs
                    if "snakesweep.trial" in run.data.tags)  # fmt: skip
    assert trials == ["r000-t000", "r000-t001"]
    assert list((tmp_path / "server-artifacts").rglob("model.ckpt"))
    assert not list((tmp_path / "results").rglob("*.db"))


@pytest.mark.slow
def test_hyperband_rungs_resume_on_the_cluster(tmp_path):
    """Rung jobs are ordinary trial jobs: a promoted trial on a compute node resumes from its
    parent's last.ckpt and trains only the new epochs."""
    config = sweep_config("hb", rounds=2, trials=2)
    config["search"] = {"strategy": "hyperband", "eta": 2, "min_fidelity": 1, "brackets": 1}
    config["space"]["max_epochs"] = 2
    write_config(tmp_path, config)
    check(slurm_snakemake(tmp_path, tmp_path / "sweep.yaml", "results/hb/trials.csv"))
    sweep = tmp_path / "results" / "hb"
    promoted = json.loads((sweep / "rounds" / "001.json").read_text())["trials"]
    assert len(promoted) == 1 and promoted[0]["fidelity"]["resume_from"].startswith("r000-")
    record = json.loads((sweep / "trials" / promoted[0]["trial"] / "metrics.json").read_text())
    assert record["status"] == "ok" and record["metrics"]["start_epoch"] == 1
    history = pd.read_csv(sweep / "trials" / promoted[0]["trial"] / "history.csv")
    assert list(history["epoch"]) == [0, 1]
    assert len(sacct(tmp_path)) == 3 and set(sacct(tmp_path)["State"]) == {"COMPLETED"}


def one_line_refusal(result: subprocess.CompletedProcess, workdir: Path, pattern: str) -> None:
    """Exit 1 with one `snakesweep: slurm:` line matching `pattern`, and nothing submitted."""
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-4000:]
    lines = [line for line in output.splitlines() if line.startswith("snakesweep: slurm:")]
    assert len(lines) == 1, output[-4000:]
    assert re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in output
    assert "submitted with SLURM jobid" not in output
    assert len(sacct(workdir)) == 0


@pytest.mark.parametrize(
    ("args", "train", "pattern"),
    [
        (["--default-resources", "slurm_partition=nope"], {},
         r"slurm_partition: 'nope' is not a partition of this cluster \(partitions: debug\)"),
        (["--default-resources", "slurm_account=nosuch"], {},
         r"slurm_account: 'nosuch' is not an account of user root .*sweeps"),
        ([], {"accelerator": "gpu", "devices": 3},
         r"train.devices: a trial asks for 3 GPU\(s\) but nodes of .*'debug' have at most 2 "),
    ],
    ids=["partition", "account", "gpus"],
)  # fmt: skip
def test_a_bad_submission_is_refused_in_one_line(tmp_path, args, train, pattern):
    config = sweep_config("bad", rounds=1, trials=1, **train)
    write_config(tmp_path, config)
    started = time.monotonic()
    result = slurm_snakemake(tmp_path, tmp_path / "sweep.yaml", *args, limit_s=180)
    one_line_refusal(result, tmp_path, pattern)
    assert time.monotonic() - started < 120


def test_a_user_without_an_account_is_told_so(tmp_path):
    """The check asks sacctmgr about the user snakemake runs as (USER/LOGNAME); `nobody` has no
    account on the test cluster, which requires one."""
    write_config(tmp_path, sweep_config("bad", rounds=1, trials=1))
    env = {**os.environ, "USER": "nobody", "LOGNAME": "nobody"}
    command = [
        "timeout", "-k", "10", "180", SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(tmp_path), "--configfile", str(tmp_path / "sweep.yaml"),
        "--profile", str(REPO / "profiles" / "slurm"),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=env)
    one_line_refusal(
        result, tmp_path, r"slurm_account: user nobody has no account on cluster snakesweep"
    )
