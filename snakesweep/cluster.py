"""What one trial asks a scheduler for: cores, memory, time, GPUs, and how trials are packed.

Used by rules/train.smk at parse time (no torch import). Partition and account are never set
here: they come from the profile or the command line (see profiles/slurm/config.yaml).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from snakesweep.errors import ConfigError

if TYPE_CHECKING:
    from snakesweep.sweep import Sweep

# Lightning accelerators that need a GPU allocated to the trial.
GPU_ACCELERATORS = frozenset({"gpu", "cuda"})
# The Snakemake group the train rule belongs to; `--group-components trials=k` packs k trials
# into one cluster job.
TRIAL_GROUP = "trials"
# Per-trial defaults, doubled with each attempt so that a trial the scheduler killed for time or
# memory is retried with more (`retries:` in the profile).
MEM_MB_PER_THREAD = 2000
RUNTIME_MIN = 60
# Under a scheduler a trial is stopped this long before its job's runtime ends (at least a
# minute, 5% of the runtime), so that it is recorded as `timeout` instead of killed with its job.
TIMEOUT_MARGIN = 0.05
TIMEOUT_MARGIN_MIN_S = 60


def gpus_per_trial(sweep: Sweep) -> int:
    """GPUs one trial uses: 0 on CPU, else the number of Lightning devices."""
    if str(sweep.train["accelerator"]).lower() not in GPU_ACCELERATORS:
        return 0
    devices = sweep.train["devices"]
    if isinstance(devices, bool):
        raise ConfigError("train.devices", "must be a number of GPUs or a list of GPU indices")
    if isinstance(devices, int) and devices > 0:
        return devices
    if isinstance(devices, list) and devices:
        return len(devices)
    if isinstance(devices, str) and devices.strip().isdigit() and int(devices) > 0:
        return int(devices)
    if isinstance(devices, str) and "," in devices:
        return len([d for d in devices.split(",") if d.strip()])
    raise ConfigError(
        "train.devices",
        f"{devices!r} does not say how many GPUs a trial needs, so none can be requested",
        "give a count (1, 2, ...) or a list of device indices",
    )


def trials_per_gpu(sweep: Sweep) -> int:
    """How many trials share one GPU allocation (1 = no packing; always 1 on CPU)."""
    k = int(sweep.train["trials_per_gpu"])
    gpus = gpus_per_trial(sweep)
    if k > 1 and gpus > 1:
        raise ConfigError(
            "train.trials_per_gpu",
            f"packs {k} trials onto one GPU, but each trial uses {gpus} devices",
            "set train.devices: 1, or trials_per_gpu: 1",
        )
    return k if gpus else 1


def train_resources(sweep: Sweep) -> dict[str, Any]:
    """Snakemake resources of one train job that don't depend on the attempt.

    A GPU trial asks for `gpu: n` (the SLURM plugin turns it into `--gpus=n`). Packed trials
    ask for the string resource `gres: gpu:1` instead: Snakemake sums integer resources over
    the trials of a group job but keeps one copy of a string shared by all of them, so a
    group of k trials gets one GPU and k times the cores and memory.
    """
    gpus = gpus_per_trial(sweep)
    if not gpus:
        return {}
    if trials_per_gpu(sweep) > 1:
        return {"gres": "gpu:1"}
    return {"gpu": gpus}


def train_threads(sweep: Sweep) -> int:
    return int(sweep.train.get("threads", 1))  # the schema leaves threads unset: one


def is_lookup(sweep: Sweep) -> bool:
    """A trial is a lookup in a published table (`task: tabular`): milliseconds, no training."""
    return sweep.task == "tabular"


def trial_threads(sweep: Sweep) -> int:
    """Cores a trial's job claims: `train.threads`, none for a lookup (so all of a round's
    lookups run at once, whatever `--cores`)."""
    return 0 if is_lookup(sweep) else train_threads(sweep)


def mem_mb(threads: int, attempt: int) -> int:
    return MEM_MB_PER_THREAD * max(1, threads) * 2 ** (attempt - 1)


def runtime_min(attempt: int) -> int:
    return RUNTIME_MIN * 2 ** (attempt - 1)


def trial_time_limit_s(sweep: Sweep, runtime: float | None, scheduled: bool) -> float | None:
    """Seconds a trial may train: limits.trial_time_s, and under a scheduler (`scheduled`) at
    most the job's `runtime` (minutes) less a margin, so that a trial past its job's time ends
    as `timeout` and its round is recorded instead of the scheduler killing the job."""
    limit = sweep.limits["trial_time_s"]
    if not scheduled or not runtime:
        return limit
    runtime_s = float(runtime) * 60
    margin = max(TIMEOUT_MARGIN_MIN_S, TIMEOUT_MARGIN * runtime_s)
    derived = runtime_s - margin if runtime_s > 2 * margin else runtime_s / 2
    return derived if limit is None else min(limit, derived)
