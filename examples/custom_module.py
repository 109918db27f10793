"""A user's own LightningModule and LightningDataModule, kept outside the snakesweep package.

config/sweeps/custom_module.yaml sweeps them by `class_path`; the trial's params that a
constructor accepts (here lr, hidden_units, dropout, batch_size) are added to its init_args.
The module logs the metric names snakesweep reads (train/loss, val/loss, val/acc).
"""

from __future__ import annotations

import lightning.pytorch as L
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class DigitsDataModule(L.LightningDataModule):
    """scikit-learn's digits as 8x8 one-channel images, split with a fixed seed."""

    def __init__(
        self,
        batch_size: int = 64,
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        split_seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()

    def setup(self, stage: str | None = None) -> None:
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        x = torch.tensor(x, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
        y = torch.tensor(y)
        order = np.random.default_rng(self.hparams.split_seed).permutation(len(y))
        n_test = int(self.hparams.test_fraction * len(y))
        n_val = int(self.hparams.val_fraction * len(y))
        test, val, train = np.split(order, [n_test, n_test + n_val])
        self.parts = {
            "train": (x[train], y[train]),
            "val": (x[val], y[val]),
            "test": (x[test], y[test]),
        }

    def _loader(self, part: str, shuffle: bool) -> torch.utils.data.DataLoader:
        dataset = torch.utils.data.TensorDataset(*self.parts[part])
        return torch.utils.data.DataLoader(
            dataset, batch_size=self.hparams.batch_size, shuffle=shuffle
        )

    def train_dataloader(self):
        return self._loader("train", True)

    def val_dataloader(self):
        return self._loader("val", False)

    def test_dataloader(self):
        return self._loader("test", False)


class TinyConvNet(L.LightningModule):
    """One conv layer and a dense head for 8x8 digits."""

    def __init__(
        self,
        lr: float = 1e-3,
        hidden_units: int = 32,
        dropout: float = 0.0,
        channels: int = 8,
        n_classes: int = 10,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(channels * 16, hidden_units),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_units, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _step(self, batch, stage: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        on_step = stage == "train"
        self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True)
        if not on_step:
            self.log(f"{stage}/acc", (logits.argmax(-1) == y).float().mean(), on_epoch=True)
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._step(batch, "test")

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
