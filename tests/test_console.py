"""What a run prints: Snakemake's job blocks only with SNAKESWEEP_VERBOSE (real snakemake -n)."""

from __future__ import annotations

import subprocess

from conftest import TINY_SWEEP, snakemake_command, snakemake_env, write_config


def dry_run(workdir, **env) -> str:
    configfile = write_config(workdir, TINY_SWEEP)
    result = subprocess.run(
        snakemake_command(workdir, configfile, "--dry-run"),
        cwd=workdir, capture_output=True, text=True, env={**snakemake_env(), **env}, check=True,
    )  # fmt: skip
    return result.stdout + result.stderr


def test_job_blocks_only_with_the_verbose_flag(tmp_path):
    (tmp_path / "quiet").mkdir()
    (tmp_path / "verbose").mkdir()
    quiet = dry_run(tmp_path / "quiet", SNAKESWEEP_VERBOSE="")
    verbose = dry_run(tmp_path / "verbose", SNAKESWEEP_VERBOSE="1")
    assert "rule freeze_config:" in verbose and "rule freeze_config:" not in quiet
    assert len(quiet.splitlines()) < len(verbose.splitlines())
