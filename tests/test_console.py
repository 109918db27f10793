"""What a run prints: Snakemake's job blocks only with SNAKESWEEP_VERBOSE, or in a dry run."""

from __future__ import annotations

import subprocess

from conftest import TINY_SWEEP, snakemake_command, snakemake_env, write_config


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
