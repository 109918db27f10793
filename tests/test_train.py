"""Training of one trial: real Lightning runs on tiny data, and each hyperparameter's effect."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from conftest import sweep_for

from snakesweep.errors import ConfigError
from snakesweep.train import DivergedError, check_training, fit_trial
from snakesweep.train.data import make_split, split_indices

TINY = {
    "seed": 0,
    "data": {"name": "digits", "subset": 300},
    "model": {"name": "mlp"},
    "objective": {"metric": "val/loss", "direction": "minimize"},
}


def config(**sections):
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in TINY.items()}
    for key, value in sections.items():
        out[key] = {**out.get(key, {}), **value} if isinstance(value, dict) else value
    return out


def sweep(**sections):
    return sweep_for(config(**sections))


def read_history(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_fit_trial_writes_history_checkpoint_and_metrics(tmp_path):
    params = {"lr": 0.01, "max_epochs": 2, "hidden_units": 16, "n_layers": 1, "batch_size": 32}
    metrics = fit_trial(params, sweep(), tmp_path, seed=3)
    rows = read_history(tmp_path / "history.csv")
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert {"train/loss", "val/loss", "val/acc", "val/f1"} <= set(rows[0])
    assert metrics["epochs"] == 2
    assert 0.0 <= metrics["val/acc"] <= 1.0
    best = min(rows, key=lambda r: float(r["val/loss"]))
    assert metrics["val/loss"] == pytest.approx(float(best["val/loss"]))
    import torch

    ckpt = torch.load(tmp_path / "model.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["epoch"] == metrics["best_epoch"]
    assert ckpt["hyper_parameters"]["hp"]["hidden_units"] == 16
    assert not (tmp_path / "lightning_logs").exists()


def test_same_seed_same_result_other_seed_differs(tmp_path):
    params = {"lr": 0.01, "max_epochs": 1, "hidden_units": 16, "dropout": 0.2}
    a = fit_trial(params, sweep(), tmp_path / "a", seed=5)
    b = fit_trial(params, sweep(), tmp_path / "b", seed=5)
    c = fit_trial(params, sweep(), tmp_path / "c", seed=6)
    assert a["val/loss"] == b["val/loss"]
    assert a["val/loss"] != c["val/loss"]


def test_divergence_raises(tmp_path):
    params = {
        "lr": 1.0e6,
        "optimizer": "sgd",
        "max_epochs": 2,
        "init": "normal",
        "init_scale": 50.0,
        "activation": "relu",
    }
    with pytest.raises(DivergedError):
        fit_trial(params, sweep(), tmp_path, seed=0)
    assert (tmp_path / "history.csv").exists()


@pytest.mark.parametrize(
    "model,data",
    [
        ("cnn", {"name": "digits", "subset": 200}),
        ("gru", {"name": "sequence", "sequence": {"n_samples": 120, "length": 8}}),
        ("lstm", {"name": "digits", "subset": 200}),
    ],
)
def test_other_models_train_one_epoch(tmp_path, model, data):
    params = {"max_epochs": 1, "hidden_units": 8, "channels": 4, "conv_layers": 1, "n_layers": 1}
    cfg = config(model={"name": model})
    cfg["data"] = data
    metrics = fit_trial(params, sweep_for(cfg), tmp_path, seed=0)
    assert math.isfinite(metrics["val/loss"])


def test_regression_reports_mse_rmse_mae_r2(tmp_path):
    cfg = config(data={"name": "diabetes", "subset": None})
    metrics = fit_trial({"max_epochs": 2, "lr": 0.01}, sweep_for(cfg), tmp_path, seed=0)
    assert {"val/mse", "val/rmse", "val/mae", "val/r2"} <= set(metrics)
    assert metrics["val/mse"] > 100  # in the target's own units, not standardised
    assert metrics["val/rmse"] == pytest.approx(math.sqrt(metrics["val/mse"]), rel=1e-5)
    # an objective of its own, which is minimised
    from snakesweep.metrics import check_sense

    check_training({**cfg, "objective": {"metric": "val/rmse", "direction": "minimize"}})
    with pytest.raises(ConfigError, match="objective.direction"):
        check_sense({"objective": {"metric": "val/rmse", "direction": "maximize"}})


def build(hp, model="mlp", shape=(1, 8, 8)):
    from snakesweep.train.module import SweepModule
    from snakesweep.train.options import resolve

    return SweepModule(model, resolve(hp), list(shape), "classification", 10)


@pytest.mark.parametrize(
    "name,cls",
    [
        ("relu", "ReLU"),
        ("tanh", "Tanh"),
        ("sigmoid", "Sigmoid"),
        ("leaky_relu", "LeakyReLU"),
        ("elu", "ELU"),
        ("gelu", "GELU"),
    ],
)
def test_activation_reaches_network(name, cls):
    net = build({"activation": name, "n_layers": 2}).net
    used = {type(m).__name__ for m in net.modules()}
    assert cls in used
    assert not ({"ReLU", "Tanh", "Sigmoid", "LeakyReLU", "ELU", "GELU"} - {cls}) & used


def test_architecture_params_reach_network():
    from torch import nn

    net = build(
        {
            "n_layers": 3,
            "hidden_units": 20,
            "hidden_units_2": 7,
            "dropout": 0.3,
            "batch_norm": True,
            "activation": "leaky_relu",
            "leaky_slope": 0.2,
        }
    ).net
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [20, 7, 20, 10]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in net.modules()) == 3
    assert {m.p for m in net.modules() if isinstance(m, nn.Dropout)} == {0.3}
    assert {m.negative_slope for m in net.modules() if isinstance(m, nn.LeakyReLU)} == {0.2}
    cnn = build({"conv_layers": 2, "channels": 5, "kernel_size": 5}, model="cnn").net
    convs = [m for m in cnn.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size) for c in convs] == [(5, (5, 5)), (10, (5, 5))]


@pytest.mark.parametrize(
    "init,expected_std",
    [
        ("xavier_normal", math.sqrt(2 / (64 + 200))),
        ("glorot_uniform", math.sqrt(2 / (64 + 200))),
        ("kaiming_normal", math.sqrt(2 / 64)),
        ("he_uniform", math.sqrt(2 / 64)),
        ("normal", 0.05),
        ("uniform", 0.05 / math.sqrt(3)),
    ],
)
def test_initialiser_reaches_weights(init, expected_std):
    w = (
        build({"init": init, "activation": "relu", "hidden_units": 200, "n_layers": 1})
        .net.blocks[0][1]
        .weight
    )
    gain = math.sqrt(2) if init.startswith(("xavier", "glorot")) else 1.0  # relu gain
    assert float(w.detach().std()) == pytest.approx(expected_std * gain, rel=0.08)


def test_optimizer_params_reach_optimizer():
    import torch

    opt = build(
        {"optimizer": "sgd", "momentum": 0.9, "nesterov": True, "lr": 0.02, "weight_decay": 1e-3}
    ).configure_optimizers()
    assert isinstance(opt, torch.optim.SGD)
    group = opt.param_groups[0]
    assert (group["momentum"], group["nesterov"], group["lr"], group["weight_decay"]) == (
        0.9,
        True,
        0.02,
        1e-3,
    )
    assert isinstance(build({"optimizer": "adamw"}).configure_optimizers(), torch.optim.AdamW)
    rms = build({"optimizer": "rmsprop", "momentum": 0.5}).configure_optimizers()
    assert rms.param_groups[0]["momentum"] == 0.5
    # momentum is not an Adam argument: it must not leak into Adam.
    adam = build({"optimizer": "adam", "momentum": 0.5}).configure_optimizers()
    assert "momentum" not in adam.param_groups[0]


def test_lr_schedules():
    m = build({"lr_scheduler": "step", "lr_step_size": 2, "lr_gamma": 0.1})
    assert [m.lr_factor(e) for e in (0, 1, 2, 4)] == pytest.approx([1, 1, 0.1, 0.01])
    m = build({"lr_scheduler": "cosine", "max_epochs": 10, "lr_min_factor": 0.0})
    assert m.lr_factor(0) == pytest.approx(1) and m.lr_factor(5) == pytest.approx(0.5)
    m = build({"lr_scheduler": "exponential", "lr_gamma": 0.5, "warmup_epochs": 2})
    assert m.lr_factor(1) == pytest.approx(0.5)  # half-way through warmup
    assert m.lr_factor(3) == pytest.approx(0.5)  # one epoch of decay after warmup


def test_schedule_and_clipping_reach_training(tmp_path):
    params = {
        "max_epochs": 3,
        "lr": 0.1,
        "lr_scheduler": "step",
        "lr_step_size": 1,
        "lr_gamma": 0.5,
        "grad_clip": 0.5,
        "optimizer": "sgd",
    }
    fit_trial(params, sweep(), tmp_path, seed=0)
    lrs = [float(r["lr"]) for r in read_history(tmp_path / "history.csv")]
    assert lrs == pytest.approx([0.1, 0.05, 0.025])


def test_early_stopping_stops(tmp_path):
    params = {
        "max_epochs": 30,
        "lr": 1e-7,
        "early_stopping_patience": 1,
        "early_stopping_min_delta": 1.0,
    }
    metrics = fit_trial(params, sweep(), tmp_path, seed=0)
    assert metrics["epochs"] == 2


def test_early_stopping_on_another_metric_watches_it_in_its_own_sense(tmp_path):
    # The objective is val/loss (min); val/acc rises while digits trains, so it must not stop
    # after `patience` epochs as it would if the monitor took the objective's mode.
    params = {"max_epochs": 8, "lr": 0.01, "early_stopping_patience": 3}
    config = sweep(train={"early_stopping": {"monitor": "val/acc"}})
    metrics = fit_trial(params, config, tmp_path, seed=0)
    accuracy = [float(r["val/acc"]) for r in read_history(tmp_path / "history.csv")]
    assert accuracy[-1] > accuracy[0] and metrics["epochs"] > 4


def test_augmentations_change_inputs():
    import torch

    from snakesweep.train.module import random_shift

    x = torch.zeros(4, 1, 5, 5)
    x[:, :, 2, 2] = 1
    shifted = random_shift(x, 1)
    assert shifted.sum() == 4  # the pixel moved but stayed inside
    m = build({"noise_std": 0.5, "flip": True})
    assert not torch.equal(m._augment(x), x)


def test_split_is_seeded_stratified_and_disjoint():
    y = np.repeat(np.arange(3), 50)
    tr, va, te = split_indices(y, "classification", 0.2, 0.2, seed=0)
    assert len(set(tr) | set(va) | set(te)) == 150 and len(te) == 30 and len(va) == 30
    assert np.bincount(y[te]).tolist() == [10, 10, 10]
    again = split_indices(y, "classification", 0.2, 0.2, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip((tr, va, te), again, strict=True))
    folds = [split_indices(y, "classification", 0.2, 0.2, 0, fold=f, folds=4) for f in range(4)]
    assert all(np.array_equal(f[2], te) for f in folds)  # the test part never changes
    vals = np.concatenate([f[1] for f in folds])
    assert sorted(vals.tolist()) == sorted(set(range(150)) - set(te.tolist()))


def test_split_sizes_and_refit_merges_validation():
    s = make_split(sweep())
    assert abs(len(s.x_test) - 60) <= 5 and abs(len(s.x_val) - 60) <= 5
    assert len(s.x_train) + len(s.x_val) + len(s.x_test) == 300
    refit = make_split(sweep(), refit=True)
    assert len(refit.x_train) == len(s.x_train) + len(s.x_val)
    assert np.array_equal(refit.y_test, s.y_test)


# --- parse-time checks ---------------------------------------------------------------------
def with_space(space, **sections):
    cfg = config(**sections)
    cfg["space"] = space
    return cfg


@pytest.mark.parametrize(
    "space,key",
    [
        ({"activation": {"type": "categorical", "choices": ["relu", "swish"]}}, "space.activation"),
        ({"optimizer": "adagrad"}, "space.optimizer"),
        ({"init": "orthogonal"}, "space.init"),
        ({"lr_scheduler": "cyclic"}, "space.lr_scheduler"),
        ({"learning_rate": 0.1}, "space.learning_rate"),
    ],
)
def test_check_names_the_bad_key(space, key):
    with pytest.raises(ConfigError) as err:
        check_training(with_space(space))
    assert err.value.key == key


def test_check_model_data_and_folds(tmp_path):
    with pytest.raises(ConfigError, match="model.name"):
        check_training(with_space({"lr": 0.1}, model={"name": "transformer"}))
    with pytest.raises(ConfigError, match="evaluate.folds"):
        check_training(with_space({"lr": 0.1}, evaluate={"folds": 1}))
    csv_file = tmp_path / "d.csv"
    csv_file.write_text("a,b,label\n1,2,x\n3,oops,y\n")
    with pytest.raises(ConfigError, match="data.target"):
        check_training(
            with_space({"lr": 0.1}, data={"name": "csv", "path": str(csv_file), "target": "y"})
        )
    with pytest.raises(ConfigError, match="data.features.*'b'"):
        check_training(
            with_space({"lr": 0.1}, data={"name": "csv", "path": str(csv_file), "target": "label"})
        )
    with pytest.raises(ConfigError, match="model.class_path"):
        check_training(with_space({"lr": 0.1}, model={"class_path": "no_such_pkg.Model"}))
    with pytest.raises(ConfigError, match="objective.metric"):
        check_training(with_space({"lr": 0.1}, objective={"metric": "val/r2"}))
    check_training(with_space({"lr": 0.1, "momentum": 0.5, "optimizer": "sgd"}))


def test_val_auroc_needs_two_classes_in_every_validation_part(tmp_path):
    """A rare class that the validation part lacks leaves val/auroc defined (two classes remain);
    a validation part of one class (2 of 40 samples positive: none drawn for validation) has
    none, which is refused before any trial, naming the key, instead of failing every trial."""
    rows = [f"{i},{'abc'[i % 3] if i >= 2 else 'd'}" for i in range(60)]
    (tmp_path / "rare.csv").write_text("x,label\n" + "\n".join(rows) + "\n")
    rows = [f"{i},{int(i < 2)}" for i in range(40)]
    (tmp_path / "one.csv").write_text("x,label\n" + "\n".join(rows) + "\n")
    auroc = {"metric": "val/auroc", "direction": "maximize"}
    for name in ("rare", "one"):
        data = {"name": "csv", "path": str(tmp_path / f"{name}.csv"), "target": "label"}
        split = make_split(sweep(data={**data, "subset": None}))
        assert len(np.unique(split.y_val)) == (3 if name == "rare" else 1) < split.n_classes
        cfg = with_space({"lr": 0.1}, data={**data, "subset": None}, objective=auroc)
        if name == "rare":
            check_training(cfg)
            continue
        with pytest.raises(ConfigError, match=r"^objective.metric: val/auroc needs two classes"):
            check_training(cfg)
        cfg["objective"] = {"metric": "val/f1", "direction": "maximize"}
        cfg["train"] = {"early_stopping": {"monitor": "val/auroc"}}
        with pytest.raises(ConfigError, match=r"^train.early_stopping.monitor: val/auroc"):
            check_training(cfg)


def test_check_does_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys; from snakesweep.train import check_training; "
        "check_training({'data': {'name': 'wine'}, 'space': {'lr': 0.1}}); "
        "assert 'torch' not in sys.modules and 'lightning' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_transfer_learning_starts_from_checkpoint_and_freezes(tmp_path):
    import torch

    params = {"max_epochs": 1, "hidden_units": 16, "n_layers": 2, "lr": 0.01}
    fit_trial(params, sweep(), tmp_path / "a", seed=0)
    source = torch.load(tmp_path / "a" / "model.ckpt", weights_only=False)["state_dict"]
    cfg = config(model={"name": "mlp", "init_checkpoint": str(tmp_path / "a" / "model.ckpt")})
    fit_trial({**params, "freeze_layers": 1, "lr": 0.1}, sweep_for(cfg), tmp_path / "b", seed=1)
    target = torch.load(tmp_path / "b" / "model.ckpt", weights_only=False)["state_dict"]
    frozen = "net.blocks.0.1.weight"  # block 0 = Flatten, Linear, activation
    assert torch.equal(source[frozen], target[frozen])
    assert not torch.equal(source["net.blocks.1.0.weight"], target["net.blocks.1.0.weight"])


def test_mixup_and_l1_train(tmp_path):
    metrics = fit_trial(
        {"max_epochs": 1, "mixup_alpha": 0.4, "l1": 1e-4, "hidden_units": 8}, sweep(), tmp_path, 0
    )
    assert math.isfinite(metrics["train/loss"])


@pytest.mark.parametrize(
    "name,n_features,n_classes", [("iris", 4, 3), ("wine", 13, 3), ("breast_cancer", 30, 2)]
)
def test_bundled_tabular_sets(name, n_features, n_classes):
    s = make_split(sweep(data={"name": name, "subset": None}))
    assert s.input_shape == (n_features,) and s.n_classes == n_classes
    assert abs(float(s.x_train.mean())) < 1e-5  # standardised with training statistics


def test_npz_file(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(50, 3)), y=rng.integers(0, 2, 50))
    s = make_split(sweep(data={"name": "npz", "path": str(tmp_path / "d.npz"), "subset": None}))
    assert s.input_shape == (3,) and s.n_classes == 2
    with pytest.raises(ConfigError, match="data.y_key"):
        check_training(
            with_space(
                {"lr": 0.1},
                data={"name": "npz", "path": str(tmp_path / "d.npz"), "y_key": "labels"},
            )
        )


def test_large_feature_values_keep_their_digits_through_standardisation(tmp_path):
    """A Unix time in seconds (1.7e9) as a feature: float32 would round it to 128 s (6 distinct
    values in 10 minutes); read in double precision and standardised, the model sees every
    second, as scikit-learn's StandardScaler gives it."""
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    seconds = 1.7e9 + rng.uniform(0, 600, 200).round()
    path = tmp_path / "times.csv"
    path.write_text("time,y\n" + "".join(f"{t:.0f},{np.sin(t / 60)}\n" for t in seconds))
    data = {"name": "csv", "path": str(path), "target": "y", "task": "regression"}
    s = make_split(sweep(data={**data, "val_fraction": 0.2, "test_fraction": 0.2}))
    assert s.x_train.dtype == np.float32
    train, val, test = split_indices(np.zeros(200), "regression", 0.2, 0.2, 0)
    scaler = StandardScaler().fit(seconds[train, None])
    for part, idx in ((s.x_train, train), (s.x_val, val), (s.x_test, test)):
        assert np.allclose(part[:, 0], scaler.transform(seconds[idx, None])[:, 0], atol=1e-5)
    assert len(np.unique(s.x_train)) == len(np.unique(seconds[train]))


def test_large_regression_targets_keep_their_digits_in_the_metrics(tmp_path):
    """A Unix time in seconds (1.7e9) as a regression target: float32 would round it to 128 s.
    Read in double precision, the split holds every second, and a prediction of the exactly
    standardised target scores an RMSE and MAE (in seconds) under a millisecond, on validation
    and on the test set (in float32: an RMSE of 70 s on validation)."""
    import torch

    from snakesweep.train.evaluate import predict, test_metrics
    from snakesweep.train.module import SweepModule, prediction_metrics
    from snakesweep.train.options import resolve

    rng = np.random.default_rng(0)
    seconds = 1.7e9 + rng.uniform(0, 600, 200).round()
    path = tmp_path / "times.csv"
    path.write_text("x,time\n" + "".join(f"{t - 1.7e9},{t:.0f}\n" for t in seconds))
    data = {"name": "csv", "path": str(path), "target": "time", "task": "regression"}
    s = make_split(sweep(data={**data, "val_fraction": 0.2, "test_fraction": 0.2}))
    train, val, test = split_indices(np.zeros(200), "regression", 0.2, 0.2, 0)
    assert np.array_equal(s.y_train, seconds[train]) and np.array_equal(s.y_val, seconds[val])
    exact = torch.as_tensor((seconds[val] - s.target_mean) / s.target_std)[:, None].float()
    metrics = prediction_metrics(
        exact, torch.as_tensor(s.y_val), "regression", 0, s.target_mean, s.target_std
    )
    assert metrics["rmse"] < 1e-3 and metrics["mae"] < 1e-3

    class Exact(SweepModule):  # the network's output: the standardised target, in float32
        def forward(self, x):
            return torch.as_tensor((seconds[test] - s.target_mean) / s.target_std)[:, None].float()

    model = Exact("mlp", resolve({}), [1], "regression", 0, s.target_mean, s.target_std)
    predicted = predict(model, s.x_test, "regression")
    assert test_metrics(s.y_test, predicted, "regression", 0)["test/rmse"] < 1e-3


def test_csv_booleans_read_as_numbers(tmp_path):
    """A column of booleans as pandas writes them (True/False, any case) reads as 1/0, the same
    features as the file with 1/0; a word that is not a boolean is still refused."""
    from snakesweep.train.data import read_csv

    flags = ["True", "False", "TRUE", "false"] * 3
    for name, column in [
        ("bools", flags),
        ("numbers", [str(int(f.lower() == "true")) for f in flags]),
    ]:
        rows = "".join(f"{i},{flag},{'ab'[i % 2]}\n" for i, flag in enumerate(column))
        (tmp_path / f"{name}.csv").write_text("a,flag,label\n" + rows)
    read = [
        read_csv({"path": str(tmp_path / f"{n}.csv"), "target": "label"})
        for n in ("bools", "numbers")
    ]
    assert read[0].x.tolist() == read[1].x.tolist()
    assert read[0].x[:, 1].tolist() == [1, 0, 1, 0] * 3
    (tmp_path / "words.csv").write_text("a,flag,label\n" + "1,yes,a\n2,no,b\n" * 3)
    with pytest.raises(ConfigError, match="column 'flag' .* is not numeric \\('yes'\\)"):
        read_csv({"path": str(tmp_path / "words.csv"), "target": "label"})


@pytest.mark.parametrize(
    "layout,shape",
    [
        ("channels_last", (40, 6, 10, 3)),  # Keras' and PIL's (samples, height, width, channels)
        ("channels_first", (40, 3, 6, 10)),
        ("grayscale", (40, 6, 10)),  # Keras' mnist: 8-bit (samples, height, width)
    ],
)
def test_npz_images_are_read_channels_first_whatever_their_layout(tmp_path, layout, shape):
    """Every layout gives the same (samples, channels, height, width) images, pixel for pixel,
    scaled to [0, 1], which the cnn reads as images of 6 x 10 pixels. An 8-bit 3-D array stays
    a sequence (one-hot DNA is saved so too) until data.shape, which the cnn's refusal names,
    makes it one-channel images."""
    from snakesweep.train.data import load_arrays, read_npz
    from snakesweep.train.options import model_input

    rng = np.random.default_rng(0)
    channels = 1 if layout == "grayscale" else 3
    images = rng.integers(0, 256, size=(40, channels, 6, 10), dtype=np.uint8)
    x = {
        "channels_last": images.transpose(0, 2, 3, 1),
        "channels_first": images,
        "grayscale": images[:, 0],
    }[layout]
    assert x.shape == shape
    np.savez(tmp_path / "images.npz", x=x, y=np.arange(40) % 2)
    cfg = {"name": "npz", "path": str(tmp_path / "images.npz")}
    if layout == "grayscale":
        assert read_npz(cfg).kind == "sequence"
        with pytest.raises(ConfigError, match=r"set data.shape: \[1, 6, 10\]"):
            model_input("cnn", read_npz(cfg).input_shape)
        cfg["shape"] = [1, 6, 10]
    arrays = load_arrays(cfg)
    assert arrays.kind == "image" and arrays.x.flags.c_contiguous
    assert np.array_equal(arrays.x, images / np.float32(255))
    assert model_input("cnn", arrays.input_shape) == (channels, 6, 10)


@pytest.mark.parametrize("name", ["digits", "iris", "wine", "breast_cancer"])
def test_bundled_files_read_as_sklearn_loads_them(name):
    from sklearn import datasets

    from snakesweep.train.data import load_arrays

    arrays = load_arrays({"name": name})
    bunch = getattr(datasets, f"load_{name}")()
    assert np.allclose(
        arrays.x.reshape(len(arrays.x), -1) * (16.0 if name == "digits" else 1),
        bunch.data,
        rtol=1e-6,
    )
    assert np.array_equal(arrays.y, bunch.target)


def test_plateau_schedule_reduces_lr_after_patience():
    m = build({"lr_scheduler": "plateau", "lr_patience": 2, "lr_gamma": 0.5})
    for loss in (1.0, 0.9, 0.95, 0.91):  # two epochs without improvement after 0.9
        m._update_plateau({"val/loss": loss})
    assert m.lr_factor(4) == pytest.approx(0.5)
    m._update_plateau({"val/loss": 0.5})
    assert m.lr_factor(5) == pytest.approx(0.5)  # improvement: no further decay


def test_a_data_set_is_loaded_once_a_process_read_only_and_again_when_its_file_changes(tmp_path):
    from snakesweep.train.data import load_arrays

    path = tmp_path / "data.csv"
    path.write_text("a,label\n" + "".join(f"{i},{i % 2}\n" for i in range(20)))
    cfg = {"name": "csv", "path": str(path), "target": "label", "split_seed": 0}
    first = load_arrays(cfg)
    assert load_arrays(dict(cfg)) is first
    with pytest.raises(ValueError, match="read-only"):
        first.x[0, 0] = 1.0
    path.write_text("a,label\n" + "".join(f"{i},{i % 2}\n" for i in range(30)))
    assert load_arrays(cfg).x.shape == (30, 1)


def test_an_objective_nan_in_every_epoch_is_a_divergence_not_a_config_error():
    """A module whose loss went NaN logs val/loss as NaN: the trial diverged (saying which
    metrics were not finite); only a metric never logged at all is the config's mistake."""
    from snakesweep.train.fit import best_row

    nan = float("nan")
    rows = [
        {"epoch": 0, "train/loss": nan, "val/loss": nan, "val/acc": 0.1},
        {"epoch": 1, "train/loss": nan, "val/loss": nan, "val/acc": 0.1},
    ]
    with pytest.raises(DivergedError) as diverged:
        best_row(rows, "val/loss", "min")
    assert "val/loss is never finite (train/loss is nan, val/loss is nan in epoch 0)" in str(
        diverged.value
    )
    with pytest.raises(ConfigError) as never:
        best_row(rows, "val/f1", "max")
    assert never.value.key == "objective.metric" and "never logged" in str(never.value)
    assert best_row([*rows, {"epoch": 2, "val/loss": 0.5}], "val/loss", "min")["epoch"] == 2
