"""A user's LightningModule and LightningDataModule, defined in this test file, by class_path."""

from __future__ import annotations

import json
import re

import lightning.pytorch as L
import pytest
import torch
import torch.nn.functional as F
from conftest import sweep_for
from sweep_files import write_table
from torch import nn

from snakesweep.errors import ConfigError
from snakesweep.train import check_training, fit_trial
from snakesweep.trial import run_trial


class BlobData(L.LightningDataModule):
    """Three gaussian blobs in 2-D."""

    def __init__(self, batch_size: int = 32, n: int = 300) -> None:
        super().__init__()
        self.batch_size, self.n = batch_size, n

    def setup(self, stage: str | None = None) -> None:
        g = torch.Generator().manual_seed(0)
        y = torch.randint(0, 3, (self.n,), generator=g)
        centers = torch.tensor([[0.0, 3.0], [3.0, 0.0], [-3.0, -3.0]])
        x = centers[y] + torch.randn(self.n, 2, generator=g)
        cut = [int(self.n * 0.6), int(self.n * 0.8)]
        self.parts = {
            "train": (x[: cut[0]], y[: cut[0]]),
            "val": (x[cut[0] : cut[1]], y[cut[0] : cut[1]]),
            "test": (x[cut[1] :], y[cut[1] :]),
        }

    def _loader(self, part):
        ds = torch.utils.data.TensorDataset(*self.parts[part])
        return torch.utils.data.DataLoader(ds, batch_size=self.batch_size)

    def train_dataloader(self):
        return self._loader("train")

    def val_dataloader(self):
        return self._loader("val")

    def test_dataloader(self):
        return self._loader("test")


class BlobNet(L.LightningModule):
    def __init__(self, lr: float = 0.01, hidden_units: int = 8) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(2, hidden_units), nn.ReLU(), nn.Linear(hidden_units, 3))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        loss = F.cross_entropy(self(batch[0]), batch[1])
        self.log("train/loss", loss, on_epoch=True, on_step=False)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val/loss", F.cross_entropy(self(batch[0]), batch[1]))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


class ThreeOutputs(BlobNet):
    """BlobNet's three outputs on the 8x8 digits (which have 10 classes)."""

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))


class NotAModule(nn.Module):
    def __init__(self, lr: float = 0.1) -> None:
        super().__init__()


CONFIG = {
    "seed": 0,
    "objective": {"metric": "val/loss", "direction": "minimize"},
    "data": {"class_path": "test_custom_module.BlobData", "init_args": {"n": 300}},
    "model": {"class_path": "test_custom_module.BlobNet"},
    "space": {
        "lr": {"type": "float", "low": 0.001, "high": 0.1},
        "hidden_units": 8,
        "batch_size": 32,
        "max_epochs": 2,
    },
    "evaluate": {"top_k": 2},
}


def test_class_path_module_gets_trial_params(tmp_path):
    params = {"lr": 0.05, "hidden_units": 5, "batch_size": 16, "max_epochs": 2}
    metrics = fit_trial(params, sweep_for(CONFIG), tmp_path, seed=0)
    assert metrics["epochs"] == 2 and metrics["val/loss"] < 1.5
    ckpt = torch.load(tmp_path / "model.ckpt", weights_only=False)
    assert ckpt["hyper_parameters"]["hidden_units"] == 5  # trial param reached init_args
    assert ckpt["state_dict"]["net.0.weight"].shape == (5, 2)


def test_a_model_with_fewer_outputs_than_classes_fails_its_trial_in_one_line(tmp_path):
    """A user's model giving 3 outputs on digits (10 classes): the trial's error names
    model.class_path, its 3 outputs and the data's 10 classes, not "IndexError: Target 8 is out
    of bounds"."""
    space = {k: v for k, v in CONFIG["space"].items() if k != "hidden_units"}
    config = {**CONFIG, "space": space, "data": {"name": "digits"},
              "model": {"class_path": "test_custom_module.ThreeOutputs"}}  # fmt: skip
    proposal = {"trial": "r000-t000", "seed": 0, "params": {"lr": 0.01, "max_epochs": 1}}
    record = run_trial(proposal, 0, sweep_for(config), tmp_path / "r000-t000", isolate=False)
    assert record["status"] == "failed" and "\n" not in record["error"]
    assert re.fullmatch(
        r"ConfigError: model\.class_path: test_custom_module\.ThreeOutputs gives 3 outputs .*"
        r"the data has 10 classes \(make its output layer 10 wide\)",
        record["error"],
    )


def test_class_path_sweep_is_evaluated_on_its_test_split(tmp_path):
    from snakesweep.train.evaluate import evaluate_best, evaluate_ensemble

    check_training(CONFIG, CONFIG["space"])
    for i, lr in enumerate([0.05, 0.01]):
        proposal = {
            "trial": f"r000-t00{i}",
            "seed": i,
            "params": {"lr": lr, "hidden_units": 8, "batch_size": 32, "max_epochs": 2},
        }
        record = run_trial(
            proposal, 0, sweep_for(CONFIG), tmp_path / "trials" / proposal["trial"], isolate=False
        )
        assert record["status"] == "ok", record["error"]
    result = evaluate_best(sweep_for(CONFIG), write_table(tmp_path), tmp_path)
    assert result["n_test"] == 60 and result["refit"] == "checkpoint"
    assert 0.0 <= result["metrics"]["test/acc"] <= 1.0
    ensemble = evaluate_ensemble(sweep_for(CONFIG), tmp_path / "trials.csv", tmp_path)
    assert len(ensemble["members"]) == 2
    assert json.loads((tmp_path / "test.json").read_text())["trial"] == result["trial"]


def test_bad_class_paths_are_named():
    with pytest.raises(ConfigError, match="model.class_path.*no_such_module"):
        check_training({**CONFIG, "model": {"class_path": "no_such_module.Net"}})
    with pytest.raises(ConfigError, match="model.class_path.*no class 'Missing'"):
        check_training({**CONFIG, "model": {"class_path": "test_custom_module.Missing"}})
    with pytest.raises(ConfigError, match="model.class_path.*not a LightningModule"):
        check_training({**CONFIG, "model": {"class_path": "test_custom_module.NotAModule"}})
    with pytest.raises(ConfigError, match="space.width"):
        check_training({**CONFIG, "space": {"width": 3}}, {"width": 3})


def test_a_forward_that_returns_no_tensor_is_named_at_the_test_set():
    """A user's forward that returns a tuple (logits, features) cannot be scored on the test
    set: the error names model.class_path, what forward returned and the two ways out, instead
    of "'tuple' object has no attribute 'softmax'"; with predict_output it is scored."""
    from snakesweep.train.evaluate import predict

    class TwoOutputs(nn.Module):
        def forward(self, x):
            return x @ torch.ones(2, 3), x

    x = torch.randn(5, 2).numpy()
    with pytest.raises(TypeError, match=r"model.class_path: TwoOutputs.forward returns a tuple"):
        predict(TwoOutputs(), x, "classification")

    class WithPredictOutput(TwoOutputs):
        def predict_output(self, out):
            return out[0].softmax(-1)

    probs = predict(WithPredictOutput(), x, "classification")
    assert probs.shape == (5, 3) and abs(probs.sum(1) - 1).max() < 1e-6
