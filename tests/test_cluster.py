"""What a trial asks the scheduler for (snakesweep.cluster), and the group packing of GPU trials."""

from __future__ import annotations

import pytest
from conftest import sweep_for

from snakesweep.cluster import (
    gpus_per_trial,
    mem_mb,
    runtime_min,
    train_resources,
    train_threads,
    trials_per_gpu,
)
from snakesweep.errors import ConfigError


def cfg(**train):
    return sweep_for({"train": train})


def test_cpu_trials_ask_for_no_gpu_and_are_never_packed():
    assert gpus_per_trial(cfg()) == 0
    assert train_resources(cfg(accelerator="cpu", trials_per_gpu=4)) == {}
    assert trials_per_gpu(cfg(accelerator="cpu", trials_per_gpu=4)) == 1


@pytest.mark.parametrize(("devices", "gpus"), [(1, 1), (2, 2), ([0, 3], 2), ("2", 2), ("0,1,2", 3)])
def test_gpu_trials_ask_for_their_devices(devices, gpus):
    config = cfg(accelerator="gpu", devices=devices)
    assert gpus_per_trial(config) == gpus
    assert train_resources(config) == {"gpu": gpus}


def test_packed_trials_share_one_gpu_through_a_string_resource():
    config = cfg(accelerator="cuda", devices=1, trials_per_gpu=3)
    assert trials_per_gpu(config) == 3
    # a string resource is kept once per group job, an int one would be summed to 3 GPUs
    assert train_resources(config) == {"gres": "gpu:1"}


def test_packing_multi_gpu_trials_is_a_config_error():
    with pytest.raises(ConfigError, match=r"^train.trials_per_gpu: .*2 devices"):
        trials_per_gpu(cfg(accelerator="gpu", devices=2, trials_per_gpu=2))


@pytest.mark.parametrize("devices", ["auto", -1, True, []])
def test_a_gpu_count_that_cannot_be_known_is_a_config_error(devices):
    with pytest.raises(ConfigError, match=r"^train.devices: "):
        gpus_per_trial(cfg(accelerator="gpu", devices=devices))


def test_time_and_memory_grow_with_each_retry():
    assert train_threads(cfg(threads=3)) == 3
    assert mem_mb(3, 1) == 3 * mem_mb(1, 1)
    assert mem_mb(2, 2) == 2 * mem_mb(2, 1) and mem_mb(2, 3) == 4 * mem_mb(2, 1)
    assert runtime_min(2) == 2 * runtime_min(1) and runtime_min(3) == 4 * runtime_min(1)


def test_trial_time_limit_leaves_the_job_time_to_record_a_timeout():
    from snakesweep.cluster import trial_time_limit_s

    limited, unlimited = sweep_for({"limits": {"trial_time_s": 600}}), sweep_for({})
    assert (
        trial_time_limit_s(unlimited, 60, scheduled=False) is None
    )  # no scheduler: no derived limit
    assert trial_time_limit_s(limited, 60, scheduled=False) == 600
    assert trial_time_limit_s(unlimited, 60, scheduled=True) == 3600 - 180  # 5% margin
    assert trial_time_limit_s(unlimited, 10, scheduled=True) == 600 - 60  # at least a minute
    assert trial_time_limit_s(unlimited, 1, scheduled=True) == 30  # a tiny runtime: half of it
    assert trial_time_limit_s(limited, 60, scheduled=True) == 600
    assert (
        trial_time_limit_s(sweep_for({"limits": {"trial_time_s": 9000}}), 120, scheduled=True)
        == 6840
    )
    assert trial_time_limit_s(unlimited, None, scheduled=True) is None
