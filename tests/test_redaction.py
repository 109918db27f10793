"""A tracking URI's password or token never reaches a written file, MLflow or the console."""

from __future__ import annotations

import subprocess
import sys
import tarfile

import pytest
import yaml
from conftest import REPO, run_snakemake, snakemake_env, write_config

from snakesweep.redaction import redact

SECRET = "s3cretPW"


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        (f"http://ann:{SECRET}@host:5000", "http://ann:***@host:5000"),
        (f"https://host/x?token={SECRET}&a=1", "https://host/x?token=***&a=1"),
        (f"postgresql://u:{SECRET}@db/m?api_key={SECRET}", "postgresql://u:***@db/m?api_key=***"),
        ("sqlite:///results/mlflow.db", "sqlite:///results/mlflow.db"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ],
)
def test_redact_hides_passwords_and_tokens(uri, shown):
    assert redact(uri) == shown
    assert redact({"tracking": {"uri": uri}, "n": [1, uri]}) == {
        "tracking": {"uri": shown},
        "n": [1, shown],
    }


@pytest.mark.slow
def test_no_written_file_holds_the_tracking_password(tmp_path, mlflow_server):
    """A whole sweep tracked on a real server through a URI with a password, then exported."""
    config = yaml.safe_load((REPO / "config" / "sweeps" / "tabular_car.yaml").read_text())
    config["budget"] = {"rounds": 2, "trials_per_round": 2}
    config["tracking"] = {"uri": mlflow_server.replace("http://", f"http://ann:{SECRET}@")}
    workdir = tmp_path / "work"
    workdir.mkdir()
    configfile = write_config(tmp_path, config)  # the user's own file, outside the sweep
    result = run_snakemake(workdir, configfile)
    assert "http://ann:***@" in result.stdout + result.stderr
    export = subprocess.run(
        [sys.executable, "-m", "snakesweep", "export", "tabular_car", "--out", "b.tar.gz"],
        cwd=workdir, capture_output=True, text=True, env=snakemake_env(), check=True,
    )  # fmt: skip
    with tarfile.open(workdir / "b.tar.gz") as archive:
        archive.extractall(tmp_path / "bundle", filter="data")
    bundled = yaml.safe_load(next((tmp_path / "bundle").rglob("sweep.yaml")).read_text())
    assert bundled["tracking"]["uri"].startswith("http://ann:***@")
    console = result.stdout + result.stderr + export.stdout + export.stderr
    assert SECRET not in console
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != configfile]
    assert len(written) > 50  # results, logs, .snakemake, the server's store and artifacts
    leaked = [str(p) for p in written if SECRET.encode() in p.read_bytes()]
    assert leaked == []
