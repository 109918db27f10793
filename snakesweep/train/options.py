"""Hyperparameters the trainer understands, their defaults and allowed values (no torch import).

A hyperparameter is set either by the search space (tuned, or a fixed scalar) or falls back to
the default below. Parse-time validation uses this module, so it must stay import-light.
"""

from __future__ import annotations

import re
from typing import Any

from snakesweep.errors import ConfigError

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "elu", "gelu")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
#: Optimizers that take a momentum (and, for sgd, nesterov) argument.
MOMENTUM_OPTIMIZERS = ("sgd", "rmsprop")
INITIALISERS = (
    "default",  # PyTorch's own (kaiming uniform with a=sqrt(5))
    "xavier_uniform",
    "xavier_normal",
    "glorot_uniform",  # alias of xavier_uniform
    "glorot_normal",  # alias of xavier_normal
    "kaiming_uniform",
    "kaiming_normal",
    "he_uniform",  # alias of kaiming_uniform
    "he_normal",  # alias of kaiming_normal
    "normal",  # N(0, init_scale)
    "uniform",  # U(-init_scale, init_scale)
)
SCHEDULERS = ("none", "step", "exponential", "cosine", "plateau")
MODELS = ("mlp", "cnn", "lstm", "gru")

#: name -> default. Every name here may appear in the search space.
HYPERPARAMETERS: dict[str, Any] = {
    # optimisation
    "lr": 1.0e-3,
    "batch_size": 64,
    "max_epochs": 20,
    "optimizer": "adam",
    "momentum": 0.0,
    "nesterov": False,
    "weight_decay": 0.0,
    "l1": 0.0,
    "lr_scheduler": "none",
    "lr_step_size": 10,  # epochs between decays (step)
    "lr_gamma": 0.5,  # decay factor (step: per lr_step_size epochs, exponential: per epoch)
    "lr_min_factor": 0.0,  # cosine: final lr = lr * lr_min_factor
    "lr_patience": 3,  # plateau: epochs without improvement before lr *= lr_gamma
    "warmup_epochs": 0.0,  # linear warmup from ~0 to lr over this many epochs (fractional ok)
    "grad_clip": 0.0,  # max gradient norm, 0 = off
    # architecture
    "n_layers": 2,  # hidden dense layers (mlp, cnn head) or recurrent layers (lstm, gru)
    "hidden_units": 64,  # width of every hidden layer; hidden_units_<i> overrides layer i (1-based)
    "activation": "relu",
    "leaky_slope": 0.01,
    "dropout": 0.0,
    "batch_norm": False,
    "init": "default",
    "init_scale": 0.05,
    "conv_layers": 2,  # cnn: conv blocks (conv, [bn], act, 2x2 max-pool)
    "channels": 16,  # cnn: channels of the first conv block, doubled per block; channels_<i>
    "kernel_size": 3,
    # regularisation
    "early_stopping_patience": 0,  # epochs without improvement of the monitor; 0 = off
    "early_stopping_min_delta": 0.0,
    "noise_std": 0.0,  # gaussian input noise (standardised units) during training
    "shift_pixels": 0,  # images: random shift by up to this many pixels
    "flip": False,  # images: random horizontal flip
    "mixup_alpha": 0.0,  # mixup Beta(alpha, alpha); 0 = off
    # transfer learning
    "freeze_layers": 0,  # freeze the first n layers (blocks) of the network
}

_PER_LAYER = re.compile(r"^(hidden_units|channels)_([1-9][0-9]*)$")

CHOICES: dict[str, tuple[str, ...]] = {
    "activation": ACTIVATIONS,
    "optimizer": OPTIMIZERS,
    "init": INITIALISERS,
    "lr_scheduler": SCHEDULERS,
}


#: name -> (lowest, highest, integer) a value may take; None = unbounded. The names in
#: POSITIVE must be above their lowest value 0, not at it.
BOUNDS: dict[str, tuple[float | None, float | None, bool]] = {
    "lr": (0, None, False),
    "batch_size": (1, None, True),
    "max_epochs": (1, None, True),
    "momentum": (0, 1, False),
    "weight_decay": (0, None, False),
    "l1": (0, None, False),
    "lr_step_size": (1, None, True),
    "lr_gamma": (0, None, False),
    "lr_min_factor": (0, 1, False),
    "lr_patience": (0, None, True),
    "warmup_epochs": (0, None, False),
    "grad_clip": (0, None, False),
    "n_layers": (0, None, True),
    "hidden_units": (1, None, True),
    "leaky_slope": (0, None, False),
    "dropout": (0, 1, False),
    "init_scale": (0, None, False),
    "conv_layers": (0, None, True),
    "channels": (1, None, True),
    "kernel_size": (1, None, True),
    "early_stopping_patience": (0, None, True),
    "early_stopping_min_delta": (0, None, False),
    "noise_std": (0, None, False),
    "shift_pixels": (0, None, True),
    "mixup_alpha": (0, None, False),
    "freeze_layers": (0, None, True),
}
POSITIVE = ("lr", "init_scale", "lr_gamma")


def bounds_of(name: str) -> tuple[float | None, float | None, bool] | None:
    """BOUNDS of a hyperparameter, per-layer widths (`hidden_units_2`) included."""
    per_layer = _PER_LAYER.match(name)
    return BOUNDS.get(per_layer.group(1) if per_layer else name)


def is_hyperparameter(name: str) -> bool:
    """True if the built-in trainer understands `name` (incl. per-layer widths)."""
    return name in HYPERPARAMETERS or bool(_PER_LAYER.match(name))


def resolve(params: dict[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with `params` (the trial's complete parameters)."""
    out = dict(HYPERPARAMETERS)
    out.update(params)
    return out


def layer_widths(hp: dict[str, Any], base: str, n: int, double: bool = False) -> list[int]:
    """Width of each of `n` layers: `base` (or a list), doubled per layer if asked,
    overridden by `<base>_<i>` (1-based)."""
    value = hp[base]
    if isinstance(value, (list, tuple)):
        widths = [int(value[min(i, len(value) - 1)]) for i in range(n)]
    else:
        widths = [int(value) * (2**i if double else 1) for i in range(n)]
    for i in range(n):
        key = f"{base}_{i + 1}"
        if key in hp and hp[key] is not None:
            widths[i] = int(hp[key])
    return widths


def model_input(name: str, input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The input shape built-in model `name` reads one sample as (a one-channel image is a
    sequence of rows for lstm and gru); a ConfigError when the model cannot read it."""
    if name == "cnn" and len(input_shape) != 3:
        fix = "use data.shape to reshape features into an image"
        if len(input_shape) == 2:  # e.g. Keras' mnist: (samples, height, width)
            fix = f"set data.shape: {[1, *input_shape]} to read them as one-channel images"
        raise ConfigError(
            "model.name",
            f"cnn needs image data (channels, height, width), "
            f"got inputs of shape {list(input_shape)}",
            fix,
        )
    if name in ("lstm", "gru"):
        if len(input_shape) == 3 and input_shape[0] == 1:
            input_shape = input_shape[1:]
        if len(input_shape) != 2:
            raise ConfigError(
                "model.name",
                f"{name} needs sequences (steps, features), got inputs of shape "
                f"{list(input_shape)}",
                "use data.shape to reshape features into [steps, features]",
            )
    return input_shape
