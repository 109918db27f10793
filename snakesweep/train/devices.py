"""GPU slots: k trials share one GPU, each trial sees only its own device (no torch import).

Snakemake limits how many trials run at once (`--resources gpu_slots=<GPUs x trials_per_gpu>`);
this module decides which GPU a starting trial gets. A slot is an exclusive `flock` on a file
`<host>.gpu<id>.slot<k>.lock`: the kernel releases it when the trial's process ends, however
it ends, so a crashed trial never leaks its slot. The trial then sets CUDA_VISIBLE_DEVICES to
its GPU before torch is imported.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path
from typing import Any

GPU_ACCELERATORS = ("gpu", "cuda")


def uses_gpu(train_cfg: dict[str, Any]) -> bool:
    return str(train_cfg.get("accelerator", "cpu")) in GPU_ACCELERATORS


def visible_gpus(train_cfg: dict[str, Any]) -> list[str]:
    """The GPUs this machine lets trials use: CUDA_VISIBLE_DEVICES, else 0..train.gpus-1."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    if visible:
        return [g.strip() for g in visible.split(",") if g.strip()]
    return [str(i) for i in range(int(train_cfg.get("gpus", 1)))]


def acquire_gpu_slot(
    train_cfg: dict[str, Any], lock_dir: Path, timeout_s: float | None = None
) -> tuple[str, int] | None:
    """Lock a free slot, point CUDA_VISIBLE_DEVICES at its GPU; return (gpu, lock fd).

    Slots are filled breadth-first (slot 0 of every GPU before slot 1), so trials spread over
    the GPUs. Waits while all slots are taken (more trials started than slots). None when
    the trial does not use one GPU.
    """
    if not uses_gpu(train_cfg) or str(train_cfg.get("devices", 1)) != "1":
        return None
    gpus = visible_gpus(train_cfg)
    per_gpu = max(1, int(train_cfg.get("trials_per_gpu", 1)))
    lock_dir.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        for slot in range(per_gpu):
            for gpu in gpus:
                fd = os.open(lock_dir / f"{host}.gpu{gpu}.slot{slot}.lock", os.O_CREAT | os.O_RDWR)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                os.environ["CUDA_VISIBLE_DEVICES"] = gpu
                return gpu, fd
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"no free GPU slot among {len(gpus)} GPU(s) x {per_gpu}")
        time.sleep(0.2)


def release(slot: tuple[str, int] | None) -> None:
    if slot is not None:
        os.close(slot[1])
