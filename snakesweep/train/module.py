"""The LightningModule of the built-in models, the in-memory batch iterator and the history
callback. Imported only by the trial job and the evaluation jobs (imports torch and lightning).
"""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as L
import torch
import torch.nn.functional as F

from snakesweep.pruning import should_prune
from snakesweep.train import DivergedError
from snakesweep.train.models import build_network


class TensorLoader:
    """Batches of in-memory tensors, shuffled with its own seeded generator.

    The whole data set moves to the device once (`to`); each batch is one index_select on the
    device. This replaces a CPU DataLoader, whose per-batch collation dominates small models.
    """

    def __init__(
        self,
        x: Any,
        y: Any,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        self.x = torch.as_tensor(x)
        self.y = torch.as_tensor(y)
        self.batch_size = max(1, int(batch_size))
        self.shuffle = shuffle
        self.generator = torch.Generator().manual_seed(int(seed))
        # BatchNorm cannot train on a batch of one sample: drop such a last batch.
        self.drop_last = drop_last or (len(self.x) % self.batch_size == 1 and len(self.x) > 1)

    def to(self, device: Any) -> TensorLoader:
        self.x = self.x.to(device)
        self.y = self.y.to(device)
        return self

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.x)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else None
        if order is not None:
            order = order.to(self.x.device)
        for i in range(len(self)):
            if order is None:
                sl = slice(i * self.batch_size, (i + 1) * self.batch_size)
                yield self.x[sl], self.y[sl]
            else:
                idx = order[i * self.batch_size : (i + 1) * self.batch_size]
                yield self.x.index_select(0, idx), self.y.index_select(0, idx)


class SweepModule(L.LightningModule):
    """Training logic of the built-in models: loss, augmentation, L1, schedules, metrics."""

    def __init__(
        self,
        model: str,
        hp: dict[str, Any],
        input_shape: list[int],
        task: str,
        n_classes: int = 0,
        target_mean: float = 0.0,
        target_std: float = 1.0,
        monitor: str = "val/loss",
        monitor_mode: str = "min",
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        n_out = n_classes if task == "classification" else 1
        self.net = build_network(model, hp, tuple(input_shape), n_out)
        # Transfer learning: the first freeze_layers blocks keep their (loaded) weights.
        self.frozen = list(self.net.blocks)[: int(hp.get("freeze_layers", 0) or 0)]
        for block in self.frozen:
            block.requires_grad_(False)
        self.hp = hp
        self.task = task
        self._train_sum = torch.zeros(())
        self._train_n = 0
        self._val_outputs: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._plateau_best = math.inf
        self._plateau_bad = 0
        self._plateau_scale = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    # --- loss and augmentation -------------------------------------------------------------
    def _loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.task == "classification":
            return F.cross_entropy(out, y)
        # Standardised in the targets' precision (a user's file: float64), then float32.
        mean, std = self.hparams.target_mean, self.hparams.target_std
        return F.mse_loss(out.squeeze(-1), ((y - mean) / std).float())

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        hp = self.hp
        if x.dim() == 4 and int(hp["shift_pixels"]) > 0:
            x = random_shift(x, int(hp["shift_pixels"]))
        if x.dim() == 4 and hp["flip"]:
            flip = torch.rand(len(x), device=x.device) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        if float(hp["noise_std"]) > 0:
            x = x + float(hp["noise_std"]) * torch.randn_like(x)
        return x

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        x, y = batch
        x = self._augment(x)
        alpha = float(self.hp["mixup_alpha"])
        if alpha > 0:
            lam = float(torch.distributions.Beta(alpha, alpha).sample())
            perm = torch.randperm(len(x), device=x.device)
            out = self(lam * x + (1 - lam) * x[perm])
            loss = lam * self._loss(out, y) + (1 - lam) * self._loss(out, y[perm])
        else:
            loss = self._loss(self(x), y)
        l1 = float(self.hp["l1"])
        if l1 > 0:
            loss = loss + l1 * sum(
                p.abs().sum() for n, p in self.named_parameters() if p.requires_grad and p.dim() > 1
            )
        # Accumulate on the device; checked and logged once per epoch (no per-step sync).
        self._train_sum = self._train_sum.to(loss.device) + loss.detach() * len(x)
        self._train_n += len(x)
        return loss

    # --- learning-rate schedule --------------------------------------------------------------
    def lr_factor(self, epoch: float) -> float:
        """lr multiplier at a (fractional) epoch: linear warmup x schedule x plateau scale."""
        hp = self.hp
        warmup = float(hp["warmup_epochs"])
        factor = min(1.0, (epoch + 1e-9) / warmup) if warmup > 0 else 1.0
        e = max(0.0, epoch - warmup)
        name = hp["lr_scheduler"]
        if name == "step":
            factor *= float(hp["lr_gamma"]) ** math.floor(int(e) / max(1, int(hp["lr_step_size"])))
        elif name == "exponential":
            factor *= float(hp["lr_gamma"]) ** int(e)
        elif name == "cosine":
            total = max(1.0, float(hp["max_epochs"]) - warmup)
            low = float(hp["lr_min_factor"])
            factor *= low + (1 - low) * 0.5 * (1 + math.cos(math.pi * min(int(e), total) / total))
        return factor * self._plateau_scale

    def on_train_epoch_start(self) -> None:
        for block in self.frozen:
            block.eval()  # frozen batch-norm statistics and no dropout, too

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        n = max(1, self.trainer.num_training_batches)
        factor = self.lr_factor(self.current_epoch + batch_idx / n)
        for opt in self.trainer.optimizers:
            for group in opt.param_groups:
                group["lr"] = float(self.hp["lr"]) * factor

    def configure_optimizers(self):
        return make_optimizer(self.hp, [p for p in self.parameters() if p.requires_grad])

    # --- validation and metrics -------------------------------------------------------------
    def _check_finite(self) -> None:
        if self._train_n and not bool(torch.isfinite(self._train_sum)):
            raise DivergedError(
                f"training loss is {float(self._train_sum)} in epoch {self.current_epoch}"
            )

    def on_validation_epoch_start(self) -> None:
        self._val_outputs = []
        if self.trainer.training:
            self._check_finite()

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        self._val_outputs.append((self(x).detach(), y))

    def on_validation_epoch_end(self) -> None:
        if not self._val_outputs:
            return
        out = torch.cat([o for o, _ in self._val_outputs])
        y = torch.cat([t for _, t in self._val_outputs])
        self._val_outputs = []
        metrics = {"val/loss": float(self._loss(out, y))}
        metrics.update(
            prediction_metrics(
                out,
                y,
                self.task,
                self.hparams.n_classes,
                self.hparams.target_mean,
                self.hparams.target_std,
                prefix="val/",
            )
        )
        if self._train_n:
            metrics["train/loss"] = float(self._train_sum) / self._train_n
        if not math.isfinite(metrics["val/loss"]):
            raise DivergedError(
                f"validation loss is {metrics['val/loss']} in epoch {self.current_epoch}"
            )
        metrics["lr"] = float(self.hp["lr"]) * self.lr_factor(self.current_epoch)
        self.log_dict(metrics)
        self._update_plateau(metrics)

    def _update_plateau(self, metrics: dict[str, float]) -> None:
        if self.hp["lr_scheduler"] != "plateau" or self.hparams.monitor not in metrics:
            return
        value = metrics[self.hparams.monitor]
        value = value if self.hparams.monitor_mode == "min" else -value
        if value < self._plateau_best - 1e-12:
            self._plateau_best, self._plateau_bad = value, 0
        else:
            self._plateau_bad += 1
            if self._plateau_bad >= int(self.hp["lr_patience"]):
                self._plateau_scale *= float(self.hp["lr_gamma"])
                self._plateau_bad = 0

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # The plateau schedule's state, so that a resumed trial continues its schedule.
        checkpoint["plateau"] = [self._plateau_best, self._plateau_bad, self._plateau_scale]

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "plateau" in checkpoint:
            self._plateau_best, self._plateau_bad, self._plateau_scale = checkpoint["plateau"]

    def on_train_epoch_end(self) -> None:
        self._check_finite()
        if self._train_n and "train/loss" not in self.trainer.callback_metrics:
            self.log("train/loss", float(self._train_sum) / self._train_n)
        self._train_sum = torch.zeros((), device=self._train_sum.device)
        self._train_n = 0

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self.predict_output(self(batch[0] if isinstance(batch, (list, tuple)) else batch))

    def predict_output(self, out: torch.Tensor) -> torch.Tensor:
        """Class probabilities (classification) or predictions in target units (regression, in
        double precision)."""
        if self.task == "classification":
            return out.softmax(-1)
        return out.double().squeeze(-1) * self.hparams.target_std + self.hparams.target_mean


class RawInputModel(torch.nn.Module):
    """A trained model as a user calls it: raw features in (standardised here with the training
    part's statistics), class probabilities or predictions in target units out (for the
    built-in models; a user's module returns what its forward returns)."""

    def __init__(self, model: torch.nn.Module, x_mean, x_std) -> None:
        super().__init__()
        self.model = model
        scaled = x_mean is not None
        self.register_buffer("x_mean", torch.as_tensor(x_mean if scaled else 0.0))
        self.register_buffer("x_std", torch.as_tensor(x_std if scaled else 1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model((x - self.x_mean) / self.x_std)
        return self.model.predict_output(out) if hasattr(self.model, "predict_output") else out


def random_shift(x: torch.Tensor, s: int) -> torch.Tensor:
    """Shift each image by its own random (dy, dx) in [-s, s], filling with zeros."""
    n, c, h, w = x.shape
    padded = F.pad(x, (s, s, s, s))
    dy = torch.randint(0, 2 * s + 1, (n,), device=x.device)
    dx = torch.randint(0, 2 * s + 1, (n,), device=x.device)
    rows = torch.arange(h, device=x.device)[None, :] + dy[:, None]  # (n, h)
    cols = torch.arange(w, device=x.device)[None, :] + dx[:, None]  # (n, w)
    out = padded.gather(2, rows[:, None, :, None].expand(n, c, h, w + 2 * s))
    return out.gather(3, cols[:, None, None, :].expand(n, c, h, w))


def make_optimizer(hp: dict[str, Any], params: list) -> torch.optim.Optimizer:
    name = hp["optimizer"]
    lr, wd, mom = float(hp["lr"]), float(hp["weight_decay"]), float(hp["momentum"] or 0.0)
    if name == "sgd":
        nesterov = bool(hp["nesterov"]) and mom > 0
        return torch.optim.SGD(params, lr=lr, momentum=mom, weight_decay=wd, nesterov=nesterov)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=mom, weight_decay=wd)
    from snakesweep.errors import ConfigError
    from snakesweep.train.options import OPTIMIZERS

    raise ConfigError(
        "space.optimizer", f"unknown optimizer {name!r}", f"use one of {', '.join(OPTIMIZERS)}"
    )


def prediction_metrics(
    out: torch.Tensor,
    y: torch.Tensor,
    task: str,
    n_classes: int,
    target_mean: float = 0.0,
    target_std: float = 1.0,
    prefix: str = "",
) -> dict[str, float]:
    """Accuracy, macro precision/recall/F1, ROC-AUC (classification) or MSE/RMSE/MAE/R² in
    target units (regression), from raw network outputs.

    ROC-AUC is the mean of each class's one-vs-rest AUC over the classes in `y` (all of them
    when all are present, as torchmetrics' macro average): a validation part that lacks a rare
    class still has one. It needs two classes in `y`."""
    if task == "classification":
        from torchmetrics.functional.classification import (
            binary_auroc,
            multiclass_accuracy,
            multiclass_f1_score,
            multiclass_precision,
            multiclass_recall,
        )

        k = int(n_classes)
        probs = out.float().softmax(-1)
        m = {
            "acc": multiclass_accuracy(probs, y, num_classes=k, average="micro"),
            "precision": multiclass_precision(probs, y, num_classes=k, average="macro"),
            "recall": multiclass_recall(probs, y, num_classes=k, average="macro"),
            "f1": multiclass_f1_score(probs, y, num_classes=k, average="macro"),
        }
        present = torch.unique(y)
        if len(present) >= 2:
            m["auroc"] = torch.stack([binary_auroc(probs[:, c], y == c) for c in present]).mean()
    else:
        # In double precision: the targets' units (1.7e9 s) would lose digits in float32.
        y = y.double()
        pred = out.double().squeeze(-1) * target_std + target_mean
        err = pred - y
        mse = (err**2).mean()
        total = ((y - y.mean()) ** 2).sum().clamp_min(1e-12)
        m = {
            "mse": mse,
            "rmse": mse.sqrt(),
            "mae": err.abs().mean(),
            "r2": 1 - (err**2).sum() / total,
        }
    return {prefix + k: float(v) for k, v in m.items()}


class History(L.Callback):
    """Collects one row per epoch of everything logged (epoch, train/loss, val/*, lr); given a
    `path`, rewrites that history.csv after every epoch (the live view of a running trial), and
    hands each row to `on_epoch`."""

    def __init__(self, path: Any = None, on_epoch: Any = None) -> None:
        self.rows: list[dict[str, float]] = []
        self.path = path
        self.on_epoch = on_epoch  # called with each new row (the live MLflow run)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        row: dict[str, float] = {"epoch": trainer.current_epoch}
        for key, value in sorted(trainer.callback_metrics.items()):
            row[key] = float(value)
        # The module's own accumulator holds this epoch's training loss (callback_metrics may
        # still hold the previous epoch's when no validation ran).
        n = getattr(pl_module, "_train_n", 0)
        if n:
            row["train/loss"] = float(pl_module._train_sum) / n
        self.rows.append(row)
        if self.path is not None:
            from snakesweep.train.fit import write_history

            write_history(self.rows, self.path)
        if self.on_epoch is not None:
            self.on_epoch(row)


class ResumeState(L.Callback):
    """Saves the random state (shuffling order, dropout, augmentation) in the checkpoint, so a
    trial resumed from it trains exactly the epochs an uninterrupted run would have."""

    def __init__(self, loader: TensorLoader | None = None) -> None:
        self.loader = loader

    def state_dict(self) -> dict[str, Any]:
        state = {"torch": torch.get_rng_state()}
        if self.loader is not None:
            state["loader"] = self.loader.generator.get_state()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        torch.set_rng_state(state_dict["torch"])
        if self.loader is not None and "loader" in state_dict:
            self.loader.generator.set_state(state_dict["loader"])


class Pruner(L.Callback):
    """Stops a trial whose best-so-far `metric` at an epoch is worse than the threshold for that
    epoch (snakesweep.pruning.prune_thresholds); records the epoch in `pruned_at`."""

    def __init__(self, spec: dict[str, Any], rows: list[dict[str, float]]) -> None:
        self.spec = spec
        self.rows = rows  # History.rows: this trial's curve, inherited epochs included
        self.pruned_at: int | None = None

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        metric, mode = self.spec["metric"], self.spec["mode"]
        values = [r[metric] for r in self.rows if metric in r]
        if not values or not self.rows:
            return
        best = min(values) if mode == "min" else max(values)
        epoch = int(self.rows[-1]["epoch"])
        if should_prune(best, epoch, self.spec):
            self.pruned_at = epoch
            trainer.should_stop = True
