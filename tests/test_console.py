"""What a run prints: Snakemake's job blocks only with SNAKESWEEP_VERBOSE, or in a dry run."""

from __future__ import annotations

import subprocess

import pandas as pd
import pytest
from conftest import (
    REPO,
    TABULAR_SWEEP,
    TINY_SWEEP,
    snakemake_command,
    snakemake_env,
    sweep_for,
    write_config,
)

from snakesweep.console import every_trial_failed


def run(workdir, *args: str, **env) -> str:
    """A real run of the first job only (the sweep's frozen config), or a dry run."""
    workdir.mkdir()
    configfile = write_config(workdir, TINY_SWEEP)
    result = subprocess.run(
        snakemake_command(workdir, configfile, *args),
        cwd=workdir, capture_output=True, text=True, env={**snakemake_env(), **env}, check=True,
    )  # fmt: skip
    return result.stdout + result.stderr


def test_job_blocks_only_with_the_verbose_flag(tmp_path):
    target = "results/tiny/sweep.yaml"
    quiet = run(tmp_path / "quiet", target, SNAKESWEEP_VERBOSE="")
    verbose = run(tmp_path / "verbose", target, SNAKESWEEP_VERBOSE="1")
    assert "rule freeze_config:" in verbose and "rule freeze_config:" not in quiet
    assert (tmp_path / "quiet" / target).exists()
    # a dry run lists its jobs whatever the flag
    assert "rule freeze_config:" in run(tmp_path / "dry", "--dry-run", SNAKESWEEP_VERBOSE="")


def test_a_configfile_run_does_not_say_it_extends_the_default_config(tmp_path):
    """Run in a folder holding the default config/config.yaml (the workflow's checkout), a sweep
    given with --configfile replaces that default: Snakemake's line saying the default 'is
    extended by additional config' is not printed, in a run or a dry run; the given sweep runs."""
    import shutil

    (tmp_path / "config").mkdir()
    shutil.copy(REPO / "config" / "config.yaml", tmp_path / "config")
    configfile = write_config(tmp_path, TINY_SWEEP)
    target = "results/tiny/sweep.yaml"
    for args, shown in ((["--dry-run", target], "freeze_config"), ([target], "plan: tiny,")):
        result = subprocess.run(
            snakemake_command(tmp_path, configfile, *args),
            cwd=tmp_path, capture_output=True, text=True, env=snakemake_env(), check=True,
        )  # fmt: skip
        printed = result.stdout + result.stderr
        assert shown in printed and "extended by additional config" not in printed
    assert (tmp_path / target).exists()


def test_cluster_job_ids_and_problems_stay_on_the_console():
    """On a cluster each job's SLURM id stays visible (to follow or cancel it); job blocks go."""
    import logging

    from snakesweep.console import keep_on_console

    def record(level: int, message: str) -> logging.LogRecord:
        return logging.LogRecord("snakemake", level, __file__, 1, message, None, None)

    slurm = "Job 3 has been submitted with SLURM jobid 41 (log: .snakemake/slurm_logs/41.log)."
    assert keep_on_console(record(logging.INFO, slurm))
    assert keep_on_console(record(logging.ERROR, "Error in rule train:"))
    assert not keep_on_console(record(logging.INFO, "rule train:"))


def test_the_last_lines_work_where_the_run_was_started(tmp_path, monkeypatch):
    """The results, the report command (with the sweep's --configfile: without it Snakemake
    reports the default sweep) and the MLflow store as the user can use them where they started
    snakemake: unchanged there, absolute and quoted after --directory."""
    import shlex
    from pathlib import Path

    from snakesweep.console import finished_lines
    from snakesweep.sweep import load_sweep

    workdir, home = tmp_path / "a dir ü", tmp_path / "home"
    (workdir / "results" / "car").mkdir(parents=True)
    home.mkdir()
    (workdir / "results" / "car" / "best.yaml").write_text("best: {}\n")
    configfile = home / "sweeps" / "car.yaml"
    monkeypatch.chdir(workdir)
    sweep = load_sweep(TABULAR_SWEEP)
    run = [Path("/repo/Snakefile"), configfile]
    here = finished_lines(sweep, workdir, [Path("/repo/Snakefile")])
    assert "[snakesweep] results: results/car/ (summary.md" in here[2]
    assert here[3].endswith("or snakemake --report results/car/report.html")
    assert here[4].endswith("--backend-store-uri sqlite:///results/mlflow.db")
    moved = finished_lines(sweep, home, run)
    root = workdir / "results" / "car"
    assert f"results: {shlex.quote(str(root) + '/')} (summary.md" in moved[2]
    report = shlex.split(moved[3].split(", or ")[1])
    assert report == [
        "snakemake", "--snakefile", "/repo/Snakefile", "--directory", str(workdir),
        "--configfile", "sweeps/car.yaml", "--report", str(root / "report.html"),
    ]  # fmt: skip
    uri = shlex.split(moved[4].split("--backend-store-uri ")[1])
    assert uri == [f"sqlite:///{workdir}/results/mlflow.db"]
    same = finished_lines(sweep, workdir, [Path("/repo/Snakefile"), workdir / "car.yaml"])
    assert same[3].endswith("or snakemake --configfile car.yaml --report results/car/report.html")


@pytest.mark.slow
def test_a_run_with_directory_ends_with_commands_that_work_where_it_was_started(tmp_path):
    """A real run started in one folder with `--directory` into another (a space and a non-ASCII
    letter in its name): the printed report command writes this sweep's report, and the printed
    MLflow store holds this sweep's runs."""
    import shlex

    from conftest import SNAKEMAKE
    from mlflow.tracking import MlflowClient

    home, workdir = tmp_path / "home", tmp_path / "runs ü" / "car"
    home.mkdir()
    configfile = write_config(home, TABULAR_SWEEP)
    env = {**snakemake_env(), "PWD": str(home)}  # what a shell sets in the folder it is in
    command = snakemake_command(workdir, configfile)
    result = subprocess.run(command, cwd=home, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = {line.split(":")[0]: line for line in result.stdout.splitlines() if ": " in line}
    report = shlex.split(lines["[snakesweep] report"].split(", or ")[1])
    profile = ["--profile", str(REPO / "profiles" / "default")]
    made = subprocess.run([SNAKEMAKE, *report[1:], *profile], cwd=home, env=env, text=True,
                          capture_output=True)  # fmt: skip
    assert made.returncode == 0, made.stderr[-3000:]
    assert (workdir / "results" / "car" / "report.html").stat().st_size > 0
    assert not (home / "results").exists()
    uri = shlex.split(lines["[snakesweep] MLflow"].split("--backend-store-uri ")[1])[0]
    assert MlflowClient(tracking_uri=uri).get_experiment_by_name("car") is not None


def test_ctrl_c_is_one_line_not_an_error_block_per_stopped_job():
    """After Ctrl-C (Snakemake's 'Terminating processes...', or a job that died of SIGINT first)
    the console shows one line to resume instead of every stopped job's error block; errors
    before it, warnings and Snakemake's last line stay."""
    import io
    import logging

    from snakesweep.console import INTERRUPTED_LINE, ConsoleFilter

    def record(level: int, message: str) -> logging.LogRecord:
        return logging.LogRecord("snakemake", level, __file__, 1, message, None, None)

    for first in (
        record(logging.INFO, "Terminating processes on user request, this might take some time."),
        record(logging.ERROR, "RuleException:\nCommand 'x' died with <Signals.SIGINT: 2>."),
    ):
        stream = io.StringIO()
        console = ConsoleFilter(stream)
        assert console.filter(record(logging.ERROR, "Error in rule propose:"))
        assert not console.filter(first)
        assert not console.filter(record(logging.ERROR, "Error in rule train:"))
        assert not console.filter(
            record(logging.ERROR, "Command 'y' died with <Signals.SIGINT: 2>.")
        )
        assert console.filter(record(logging.WARNING, "a warning"))
        assert console.filter(record(logging.INFO, "Complete log(s): .snakemake/log/x.log"))
        assert stream.getvalue() == INTERRUPTED_LINE + "\n"


def test_the_calibrate_command_it_suggests_is_for_the_runs_own_sweep(tmp_path):
    """A sweep run with --configfile has no time estimate before its first trials: the first
    line, and `plan` for that file, suggest `plan --calibrate` with the same --configfile
    (without it, plan would calibrate the default sweep); the default sweep's needs none."""
    import re
    import shlex
    import sys
    from pathlib import Path

    def calibrate(text: str) -> list[str]:
        return shlex.split(re.search(r"(python -m snakesweep plan [^`)]*--calibrate)", text)[1])

    workdir = tmp_path / "run"
    first_line = run(workdir, "results/tiny/sweep.yaml").splitlines()[0]
    assert first_line.startswith("[snakesweep] plan: tiny,")
    command = calibrate(first_line)
    assert Path(command[command.index("--configfile") + 1]) == workdir / "sweep.yaml"
    plan = [sys.executable, "-m", "snakesweep", "plan"]
    given = subprocess.run([*plan, "--configfile", str(workdir / "sweep.yaml")], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert given.startswith("[snakesweep] plan: tiny,")
    assert calibrate(given.splitlines()[-1]) == command
    default = subprocess.run([*plan, "--results", str(tmp_path / "none")], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert calibrate(default.splitlines()[-1]) == [*command[:4], "--calibrate"]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        ("diverged", "diverged: objective is nan"),
        ("timeout", "timeout: still running after the time limit of 3 s"),
        ("failed", "ValueError: the user's loop broke"),
    ],
)
def test_every_trial_failed_names_the_status_once(tmp_path, status, error):
    sweep = sweep_for({}, tmp_path / "results")
    sweep.paths.trials_csv.parent.mkdir(parents=True)
    pd.DataFrame({"trial": ["r000-t000", "r000-t001"], "status": status, "error": error}).to_csv(
        sweep.paths.trials_csv, index=False
    )
    line = every_trial_failed(sweep)
    reason = error if error.startswith(status) else f"{status}: {error}"
    assert f"(2 of 2): r000-t000 {reason} (its log: logs/train/test/r000-t000.log" in line
    assert line.count(f"{status}:") == 1
