"""A script run as a shell command reads its job as it would read Snakemake's `snakemake` object.

Snakemake's own containers (InputFiles, OutputFiles, Wildcards) are described by `job_files`,
the JSON goes through a shell command line, and `parse` gives the script its job back.
"""

from __future__ import annotations

import json
import pickle
import shlex
import subprocess
import sys

from snakemake.iocontainers import InputFiles, OutputFiles, Wildcards

from snakesweep.script_job import job_files, parse


def snakemake_job():
    """A round's files as Snakemake hands them to a job: named items, one name a list."""
    inputs = InputFiles(["results/s/history/000.csv", "a b/metrics.json", "c/metrics.json"])
    inputs._set_name("previous", 0)
    inputs._set_name("trials", 1, 3)
    outputs = OutputFiles(["results/s/history/001.csv", "results/s/plots/trials/001"])
    outputs._set_name("history", 0)
    outputs._set_name("curves", 1)
    wildcards = Wildcards(fromdict={"sweep": "s", "round": "001"})
    return wildcards, inputs, outputs


def test_a_script_reads_its_job_as_snakemake_gives_it():
    wildcards, inputs, outputs = snakemake_job()
    command = shlex.join(
        [
            "round=001,sweep=s",
            *("--log", "logs/record_round/s/001.log"),
            *("--job", job_files(wildcards, inputs, outputs, 2)),
            *("--param", "artifact_root=results/ml artifacts"),
        ]
    )
    # the arguments as a shell passes them to the script
    argv = subprocess.run(
        f"{shlex.quote(sys.executable)} -c 'import sys, json; print(json.dumps(sys.argv[1:]))' "
        + command,
        shell=True,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    job = parse(json.loads(argv))
    assert list(job.input) == [str(item) for item in inputs]
    assert job.input.previous == inputs.previous == job.input[0]
    assert job.input.trials == list(inputs.trials) == ["a b/metrics.json", "c/metrics.json"]
    assert job.input.get("history") is None and inputs.get("history") is None
    assert not hasattr(job.input, "test") and not hasattr(inputs, "test")
    assert job.output[0] == outputs[0] == job.output.history
    assert job.output["curves"] == outputs["curves"]
    assert job.log[0] == "logs/record_round/s/001.log"
    assert job.params.artifact_root == "results/ml artifacts"
    assert job.wildcards.round == "001" and dict(job.wildcards.items()) == dict(wildcards.items())
    assert job.threads == 2
    # the client hands it to the warm worker pickled
    clone = pickle.loads(pickle.dumps(job))
    assert clone.input.trials == job.input.trials and clone.wildcards.sweep == "s"


def test_a_job_too_long_for_a_command_line_is_read_from_a_file(tmp_path, monkeypatch):
    """The last jobs of a sweep of thousands of trials list every trial's file: more than one
    command-line argument may hold (128 KiB on Linux), so the description goes to a file."""
    monkeypatch.chdir(tmp_path)
    wildcards, inputs, outputs = snakemake_job()
    small = job_files(wildcards, inputs, outputs, 1)
    trials = [f"results/s/trials/r{i // 100:03d}-t{i % 100:03d}/metrics.json" for i in range(4000)]
    many = InputFiles(["results/s/history/000.csv", *trials])
    many._set_name("history", 0)
    many._set_name("metrics", 1, len(many))
    large = job_files(wildcards, many, outputs, 1)
    assert not small.startswith("@") and large.startswith("@") and len(large) < 100
    for argument in (large, job_files(wildcards, many, outputs, 1)):  # the same file again
        job = parse(["round=001,sweep=s", "--log", "x.log", "--job", argument])
        assert job.input.metrics == trials and job.input.history == "results/s/history/000.csv"
    assert [p.name for p in (tmp_path / ".snakesweep" / "jobs").iterdir()] == [large.split("/")[-1]]
