"""GPU slots: trials spread over GPUs, k per GPU, and a finished trial frees its slot."""

from __future__ import annotations

import pytest

from snakesweep.train.devices import acquire_gpu_slot, release


@pytest.fixture(autouse=True)
def no_visible_devices(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def test_cpu_trials_take_no_slot(tmp_path):
    assert acquire_gpu_slot({"accelerator": "cpu"}, tmp_path) is None


def test_slots_spread_over_gpus_then_share(tmp_path, monkeypatch):
    cfg = {"accelerator": "gpu", "gpus": 2, "trials_per_gpu": 2}
    slots = []
    for _ in range(4):
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
        slots.append(acquire_gpu_slot(cfg, tmp_path, timeout_s=0))
    assert [gpu for gpu, _ in slots] == ["0", "1", "0", "1"]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with pytest.raises(TimeoutError):
        acquire_gpu_slot(cfg, tmp_path, timeout_s=0)  # all four slots are taken
    release(slots[1])
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    gpu, fd = acquire_gpu_slot(cfg, tmp_path, timeout_s=0)
    assert gpu == "1"
    import os

    assert os.environ["CUDA_VISIBLE_DEVICES"] == "1"  # the trial sees only its GPU
    for slot in [*slots[:1], *slots[2:], (gpu, fd)]:
        release(slot)


def test_visible_devices_restrict_the_choice(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    gpu, fd = acquire_gpu_slot({"accelerator": "cuda", "trials_per_gpu": 1}, tmp_path, 0)
    assert gpu == "3"
    release((gpu, fd))
