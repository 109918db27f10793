"""fit(): one trial from parameters to history.csv, model.ckpt and metrics (imports lightning)."""

from __future__ import annotations

import csv
import importlib
import inspect
import logging
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from snakesweep.errors import ConfigError
from snakesweep.metrics import mode_of
from snakesweep.train.options import resolve

if TYPE_CHECKING:
    from snakesweep.sweep import Sweep

VAL_BATCH = 4096
GPU_LOCK_DIR = ".snakesweep/gpu_slots"  # relative to the working directory


def objective_of(sweep: Sweep) -> tuple[str, str]:
    """(metric, "min"|"max") of the sweep's objective, as Lightning's callbacks take it."""
    mode = "max" if sweep.objective.direction == "maximize" else "min"
    return sweep.objective.metric, mode


def import_class(path: str, key: str) -> type:
    """The class at dotted `path` ("package.module.Class"); ConfigError naming `key` if not."""
    module_name, _, name = str(path).rpartition(".")
    if not module_name:
        raise ConfigError(key, f"{path!r} is not a dotted path", "write it as package.module.Class")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            key,
            f"cannot import {module_name!r}: {exc}",
            "put the module on PYTHONPATH or next to the Snakefile",
        ) from None
    cls = getattr(module, name, None)
    if not inspect.isclass(cls):
        raise ConfigError(key, f"{module_name!r} has no class {name!r}")
    return cls


def init_kwargs(
    cls: type, init_args: Mapping[str, Any] | None, params: dict[str, Any]
) -> dict[str, Any]:
    """`init_args` overlaid with those trial `params` the constructor accepts."""
    sig = inspect.signature(cls.__init__)
    takes_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    kwargs = dict(init_args or {})
    kwargs.update({k: v for k, v in params.items() if takes_any or k in sig.parameters})
    return kwargs


def fit(
    params: dict[str, Any],
    sweep: Sweep,
    trial_dir: Path,
    seed: int,
    fold: int | None = None,
    refit: bool = False,
    fidelity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train one trial (or a refit); on a GPU first take a GPU slot (see devices.py).

    `fidelity` (multi-fidelity search and pruning, all keys optional): `epochs` to stop at
    (the schedule still spans max_epochs), `resume_from` (a trial folder whose last.ckpt and
    history.csv this trial continues), `data_fraction` of the training split, `prune` spec."""
    from snakesweep.train.devices import acquire_gpu_slot, release

    slot = acquire_gpu_slot(sweep.train, Path(GPU_LOCK_DIR))  # before torch sees CUDA
    try:
        return _fit(params, sweep, trial_dir, seed, fold, refit, fidelity)
    finally:
        release(slot)


def _fit(params, sweep, trial_dir, seed, fold, refit, fidelity) -> dict[str, Any]:
    """fit() once it holds its GPU slot (same arguments)."""
    t_start = time.perf_counter()
    fid = fidelity or {}
    import lightning.pytorch as L
    import torch
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from snakesweep.train.data import make_split
    from snakesweep.train.module import History, Pruner, ResumeState, SweepModule, TensorLoader

    t_imported = time.perf_counter()
    log_to_file()
    trial_dir.mkdir(parents=True, exist_ok=True)
    hp = resolve(params)
    tcfg = sweep.train
    # train.threads, else the rule's threads (OMP_NUM_THREADS)
    threads = tcfg.get("threads") or int(os.environ.get("OMP_NUM_THREADS") or 1)
    torch.set_num_threads(max(1, int(threads)))
    L.seed_everything(int(seed), workers=True, verbose=False)
    metric, mode = objective_of(sweep)
    mcfg, dcfg = sweep.model, sweep.data

    # --- data ---
    datamodule = None
    loaders: list[TensorLoader] = []
    split = None
    if dcfg.get("class_path"):
        dm_cls = import_class(dcfg["class_path"], "data.class_path")
        if not issubclass(dm_cls, L.LightningDataModule):
            raise ConfigError(
                "data.class_path", f"{dcfg['class_path']} is not a LightningDataModule"
            )
        datamodule = dm_cls(**init_kwargs(dm_cls, dcfg.get("init_args"), params))
    else:
        split = make_split(sweep, fold=fold, refit=refit)
        if fid.get("data_fraction") is not None:
            subsample_train(split, float(fid["data_fraction"]), sweep.seed)
        train_loader = TensorLoader(
            split.x_train, split.y_train, int(hp["batch_size"]), shuffle=True, seed=seed
        )
        loaders.append(train_loader)
        val_loader = None
        if len(split.y_val) and not refit:
            val_loader = TensorLoader(split.x_val, split.y_val, VAL_BATCH)
            loaders.append(val_loader)

    # --- model ---
    if mcfg.get("class_path"):
        cls = import_class(mcfg["class_path"], "model.class_path")
        if not issubclass(cls, L.LightningModule):
            raise ConfigError("model.class_path", f"{mcfg['class_path']} is not a LightningModule")
        model = cls(**init_kwargs(cls, mcfg.get("init_args"), params))
    else:
        if split is None:
            raise ConfigError(
                "model.name",
                "the built-in models need built-in data",
                "use model.class_path with data.class_path",
            )
        model = SweepModule(
            mcfg.get("name", "mlp"),
            hp,
            list(split.input_shape),
            split.task,
            split.n_classes,
            split.target_mean,
            split.target_std,
            monitor=metric,
            monitor_mode=mode,
        )
    # A user's model on built-in classes: the width of its first output in training names a
    # model with fewer outputs than classes, should training then fail on a target.
    first_output = None
    if mcfg.get("class_path") and split is not None and split.task == "classification":
        first_output = FirstOutput(model)
    if mcfg.get("init_checkpoint"):
        load_weights(model, Path(mcfg["init_checkpoint"]))
    if int(hp["freeze_layers"]) > 0 and not isinstance(model, SweepModule):
        freeze(model, int(hp["freeze_layers"]))

    # --- trainer ---
    resume_ckpt = None
    live = None
    if fold is None and not refit:  # a trial (not a fold, not the test-set refit)
        from snakesweep.tracking import live_trial_run

        live = live_trial_run(sweep, trial_dir, params)
    history = History(trial_dir / "history.csv", on_epoch=live)
    if fid.get("resume_from"):
        resume_ckpt, history.rows = prepare_resume(Path(fid["resume_from"]), trial_dir)
    start_epoch = len(history.rows)  # epochs inherited from the trial this one continues
    callbacks: list[Any] = [history, ResumeState(loaders[0] if loaders else None)]
    pruner = None
    if fid.get("prune"):
        pruner = Pruner(fid["prune"], history.rows)
        callbacks.append(pruner)
    if not refit:
        callbacks.append(
            ModelCheckpoint(
                dirpath=trial_dir,
                filename="model",
                monitor=metric,
                mode=mode,
                save_top_k=1,
                enable_version_counter=False,
                auto_insert_metric_name=False,
            )
        )
        if int(hp["early_stopping_patience"]) > 0:
            es = tcfg.get("early_stopping") or {}  # optional, no default
            monitor = es.get("monitor", metric)
            # another metric than the objective stops in its own sense (val/acc: max)
            default_mode = mode if monitor == metric else mode_of(monitor) or mode
            callbacks.append(
                EarlyStopping(
                    monitor=monitor,
                    mode=es.get("mode", default_mode),
                    patience=int(hp["early_stopping_patience"]),
                    min_delta=float(hp["early_stopping_min_delta"]),
                )
            )
    clip = float(hp["grad_clip"] or 0.0)
    trainer = L.Trainer(
        accelerator=tcfg["accelerator"],
        devices=tcfg["devices"],
        precision=tcfg["precision"],
        max_epochs=int(fid.get("epochs") or hp["max_epochs"]),
        deterministic=True,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=not refit,
        num_sanity_val_steps=0,
        gradient_clip_val=clip if clip > 0 else None,
        default_root_dir=str(trial_dir),
        callbacks=callbacks,
    )
    device = trainer.strategy.root_device
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else ""
    logging.getLogger(__name__).info(
        "trains on %s %s(CUDA_VISIBLE_DEVICES=%s)",
        device,
        f"{name} " if name else "",
        os.environ.get("CUDA_VISIBLE_DEVICES", "-"),
    )
    for loader in loaders:
        loader.to(device)  # once: every batch is then an index on the device

    t_fit = time.perf_counter()
    ckpt = str(resume_ckpt) if resume_ckpt else None
    try:
        if datamodule is not None:
            trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt)
        else:
            trainer.fit(model, loaders[0], loaders[1] if len(loaders) > 1 else None, ckpt_path=ckpt)
        if not refit:
            # The state after the last epoch (optimizer, schedule, RNGs): what a promoted
            # trial resumes from. model.ckpt stays the best epoch's weights.
            trainer.save_checkpoint(trial_dir / "last.ckpt")
    except (IndexError, RuntimeError) as error:
        if first_output is not None:
            first_output.check(error, mcfg["class_path"], split.n_classes)
        raise
    finally:
        write_history(history.rows, trial_dir / "history.csv")
        if resume_ckpt is not None:
            resume_ckpt.unlink(missing_ok=True)
    t_end = time.perf_counter()

    rows = history.rows
    if not rows:
        raise RuntimeError("no epoch finished")
    best = best_row(rows, metric, mode) if not refit else rows[-1]
    metrics = {k: v for k, v in best.items() if "/" in k}
    metrics["epochs"] = len(rows)
    metrics["best_epoch"] = int(best["epoch"])
    metrics["time/import_s"] = round(t_imported - t_start, 3)
    metrics["time/setup_s"] = round(t_fit - t_imported, 3)
    metrics["time/fit_s"] = round(t_end - t_fit, 3)
    if fid:
        metrics["start_epoch"] = start_epoch
    if fid.get("data_fraction") is not None:
        metrics["data_fraction"] = float(fid["data_fraction"])
    if pruner is not None and pruner.pruned_at is not None:
        from snakesweep.train import TrialPruned

        raise TrialPruned(pruner.pruned_at, metrics)
    if refit:
        trainer.save_checkpoint(trial_dir / "model.ckpt")
    return metrics


class FirstOutput:
    """The shape of the first tensor a user's module returns from forward in training (a
    forward hook that removes itself once it has seen one; forward is never called for it)."""

    def __init__(self, model: Any) -> None:
        self.shape: tuple[int, ...] | None = None
        self.handle = model.register_forward_hook(self._record)

    def _record(self, module: Any, args: Any, output: Any) -> None:
        if hasattr(output, "shape") and len(output.shape) == 2:
            self.shape = tuple(output.shape)
            self.handle.remove()

    def check(self, error: BaseException, class_path: str, n_classes: int) -> None:
        """A ConfigError naming model.class_path when `error` is a target out of the range of
        fewer outputs than the data has classes (the loss's IndexError, or CUDA's assert)."""
        message = str(error)
        target = "out of bounds" in message or "device-side assert" in message
        if target and self.shape is not None and self.shape[1] < n_classes:
            raise ConfigError(
                "model.class_path",
                f"{class_path} gives {self.shape[1]} outputs per sample and the data has "
                f"{n_classes} classes",
                f"make its output layer {n_classes} wide",
            ) from error


# The loggers to which Lightning adds a console handler (and stops propagating) when imported
# in a process whose root logger has none yet, as the warm worker is.
LIGHTNING_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric")


def log_to_file() -> None:
    """Lightning's info lines ("GPU available", tips) and Python warnings go to the job's log
    (the root logger) instead of the console, where they would bury the sweep's own lines.
    Where the root logger has no handler, nothing changes."""
    if logging.getLogger().handlers:
        for name in LIGHTNING_LOGGERS:
            logger = logging.getLogger(name)
            logger.handlers.clear()
            logger.propagate = True
        logging.captureWarnings(True)


def subsample_train(split: Any, fraction: float, seed: int) -> None:
    """Keep `fraction` of the training split. The order is seeded by the sweep seed alone, so
    a larger fraction contains every smaller one."""
    import numpy as np

    n = len(split.y_train)
    keep = np.sort(np.random.default_rng([seed, 7]).permutation(n)[: max(1, round(fraction * n))])
    split.x_train, split.y_train = split.x_train[keep], split.y_train[keep]


def prepare_resume(parent: Path, trial_dir: Path) -> tuple[Path, list[dict[str, float]]]:
    """A checkpoint to resume a promoted trial from, and the history rows it continues.

    The parent's last.ckpt moves to this trial's folder: ModelCheckpoint's state (best score,
    best path) is rewritten to point here and the parent's best model.ckpt is copied along, so
    the best checkpoint of the whole lineage stays this trial's model.ckpt.
    """
    import shutil

    import torch

    last = parent / "last.ckpt"
    if not last.is_file() or last.stat().st_size == 0:
        raise RuntimeError(f"cannot resume: {last} is missing (did that trial fail?)")
    state = torch.load(last, map_location="cpu", weights_only=False)
    if (parent / "model.ckpt").is_file():
        shutil.copyfile(parent / "model.ckpt", trial_dir / "model.ckpt")
    old, new = str(parent.resolve()), str(trial_dir.resolve())
    for key, cb_state in (state.get("callbacks") or {}).items():
        if not str(key).startswith("ModelCheckpoint"):
            continue
        for name in ("dirpath", "best_model_path", "kth_best_model_path", "last_model_path"):
            if isinstance(cb_state.get(name), str):
                cb_state[name] = cb_state[name].replace(old, new)
        cb_state["best_k_models"] = {
            str(path).replace(old, new): score
            for path, score in (cb_state.get("best_k_models") or {}).items()
        }
    resume = trial_dir / "resume.ckpt"
    torch.save(state, resume)
    return resume, read_history_rows(parent / "history.csv")


def read_history_rows(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return [
            {k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v != ""}
            for row in csv.DictReader(fh)
        ]


def best_row(rows: list[dict[str, float]], metric: str, mode: str) -> dict[str, float]:
    """The first epoch with the best `metric` (what ModelCheckpoint kept). A metric logged but
    NaN or infinite in every epoch is a DivergedError; one never logged a ConfigError."""
    scored = [r for r in rows if metric in r and math.isfinite(r[metric])]
    logged = [r for r in rows if metric in r]
    if not scored and logged:
        from snakesweep.train import DivergedError

        first = logged[0]
        bad = [f"{k} is {v}" for k, v in first.items() if "/" in k and not math.isfinite(v)]
        raise DivergedError(
            f"{metric} is never finite ({', '.join(bad)} in epoch {int(first.get('epoch', 0))})"
        )
    if not scored:
        raise ConfigError(
            "objective.metric",
            f"{metric!r} was never logged (logged: "
            f"{', '.join(sorted(k for k in rows[-1] if '/' in k))})",
        )
    sign = 1.0 if mode == "min" else -1.0
    return min(scored, key=lambda r: sign * r[metric])


def write_history(rows: list[dict[str, float]], path: Path) -> None:
    """history.csv: one row per epoch; columns epoch, train/*, val/*, then the rest. Written
    after every epoch, atomically, so `python -m snakesweep status` can read it mid-training."""
    import io

    from snakesweep.outputs import write_atomic

    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    order = {"epoch": 0, "train/loss": 1, "val/loss": 2, "val/acc": 3}
    keys.sort(key=lambda k: (order.get(k, 10 if "/" in k else 20), k))
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=keys or ["epoch"])
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (int(v) if k == "epoch" else repr(float(v))) for k, v in row.items()})
    write_atomic(path, text.getvalue())


def load_weights(model: Any, path: Path) -> None:
    """Initialise from a checkpoint: copy every tensor whose name and shape match."""
    import torch

    if not path.is_file():
        raise ConfigError("model.init_checkpoint", f"file {str(path)!r} not found")
    # weights_only: a checkpoint from elsewhere must not be able to run code when it is read.
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state)
    own = model.state_dict()
    matched = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not matched:
        raise ConfigError("model.init_checkpoint", f"no weights in {path} fit this model")
    model.load_state_dict(matched, strict=False)


def freeze(model: Any, n: int) -> None:
    """A user's module: stop gradients to its first `n` top-level children."""
    for child in list(model.children())[:n]:
        child.requires_grad_(False)
