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
