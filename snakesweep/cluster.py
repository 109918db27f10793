"""What one trial asks a scheduler for: cores, memory, time, GPUs, and how trials are packed.

Used by rules/train.smk at parse time (no torch import). Partition and account are never set
here: they come from the profile or the command line (see profiles/slurm/config.yaml).
"""

from __future__ import annotations

from typing import Any

from snakesweep.errors import ConfigError

# Lightning accelerators that need a GPU allocated to the trial.
GPU_ACCELERATORS = frozenset({"gpu", "cuda"})
# The Snakemake group the train rule belongs to; `--group-components trials=k` packs k trials
# into one cluster job.
TRIAL_GROUP = "trials"
# Per-trial defaults, scaled by the attempt so that a trial the scheduler killed for time or
# memory is retried with more (`retries:` in the profile).
MEM_MB_PER_THREAD = 2000
RUNTIME_MIN = 60


def _train(config: dict[str, Any]) -> dict[str, Any]:
    return config.get("train") or {}


def gpus_per_trial(config: dict[str, Any]) -> int:
    """GPUs one trial uses: 0 on CPU, else the number of Lightning devices."""
    train = _train(config)
    if str(train.get("accelerator", "cpu")).lower() not in GPU_ACCELERATORS:
        return 0
    devices = train.get("devices", 1)
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


def trials_per_gpu(config: dict[str, Any]) -> int:
    """How many trials share one GPU allocation (1 = no packing; always 1 on CPU)."""
    k = int(_train(config).get("trials_per_gpu", 1))
    gpus = gpus_per_trial(config)
    if k > 1 and gpus > 1:
        raise ConfigError(
            "train.trials_per_gpu",
            f"packs {k} trials onto one GPU, but each trial uses {gpus} devices",
            "set train.devices: 1, or trials_per_gpu: 1",
        )
    return k if gpus else 1


def train_resources(config: dict[str, Any]) -> dict[str, Any]:
    """Snakemake resources of one train job that don't depend on the attempt.

    A GPU trial asks for `gpu: n` (the SLURM plugin turns it into `--gpus=n`). Packed trials
    ask for the string resource `gres: gpu:1` instead: Snakemake sums integer resources over
    the trials of a group job but keeps one copy of a string shared by all of them, so a
    group of k trials gets one GPU and k times the cores and memory.
    """
    gpus = gpus_per_trial(config)
    if not gpus:
        return {}
    if trials_per_gpu(config) > 1:
        return {"gres": "gpu:1"}
    return {"gpu": gpus}


def train_threads(config: dict[str, Any]) -> int:
    return int(_train(config).get("threads", 1))


def mem_mb(threads: int, attempt: int) -> int:
    return MEM_MB_PER_THREAD * max(1, threads) * attempt


def runtime_min(attempt: int) -> int:
    return RUNTIME_MIN * attempt
