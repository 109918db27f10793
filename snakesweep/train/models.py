"""The built-in architectures as plain `nn.Module`s: MLP, small CNN, LSTM/GRU.

Each network is a list of `blocks` followed by a `head`; "layer i" for transfer learning
(`freeze_layers`) means block i. Imported only by the trial job (imports torch).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from snakesweep.errors import ConfigError
from snakesweep.train.options import (
    ACTIVATIONS,
    INITIALISERS,
    MODELS,
    layer_widths,
    model_input,
)


def activation(name: str, slope: float = 0.01) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "tanh":
        return nn.Tanh()
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "leaky_relu":
        return nn.LeakyReLU(negative_slope=float(slope))
    if name == "elu":
        return nn.ELU()
    if name == "gelu":
        return nn.GELU()
    raise ConfigError(
        "space.activation", f"unknown activation {name!r}", f"use one of {', '.join(ACTIVATIONS)}"
    )


class Network(nn.Module):
    """`blocks` applied in order, then `head`."""

    def __init__(self, blocks: list[nn.Module], head: nn.Module) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(x)


class Recurrent(nn.Module):
    """One recurrent layer (LSTM or GRU); the last layer returns the final time step."""

    def __init__(self, cell: str, n_in: int, n_hidden: int, last: bool) -> None:
        super().__init__()
        cls = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = cls(n_in, n_hidden, batch_first=True)
        self.last = last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return out[:, -1] if self.last else out


def _dense_blocks(n_in: int, widths: list[int], hp: dict[str, Any], flatten: bool) -> list:
    blocks = []
    for i, width in enumerate(widths):
        layers: list[nn.Module] = [nn.Flatten()] if flatten and i == 0 else []
        layers.append(nn.Linear(n_in, width))
        if hp["batch_norm"]:
            layers.append(nn.BatchNorm1d(width))
        layers.append(activation(hp["activation"], hp["leaky_slope"]))
        if float(hp["dropout"]) > 0:
            layers.append(nn.Dropout(float(hp["dropout"])))
        blocks.append(nn.Sequential(*layers))
        n_in = width
    return blocks


def build_network(
    name: str, hp: dict[str, Any], input_shape: tuple[int, ...], n_out: int
) -> Network:
    """The network `name` for inputs of `input_shape` and `n_out` outputs."""
    n_layers = int(hp["n_layers"])
    if name == "mlp":
        n_in = math.prod(input_shape)
        widths = layer_widths(hp, "hidden_units", n_layers)
        blocks = _dense_blocks(n_in, widths, hp, flatten=True)
        head = nn.Linear(widths[-1] if widths else n_in, n_out)
        if not blocks:
            head = nn.Sequential(nn.Flatten(), head)
    elif name == "cnn":
        channels, height, width = model_input(name, input_shape)
        blocks = []
        k = int(hp["kernel_size"])
        for c_out in layer_widths(hp, "channels", int(hp["conv_layers"]), double=True):
            layers: list[nn.Module] = [nn.Conv2d(channels, c_out, k, padding=k // 2)]
            if hp["batch_norm"]:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(activation(hp["activation"], hp["leaky_slope"]))
            if min(height, width) >= 2:
                layers.append(nn.MaxPool2d(2))
                height, width = height // 2, width // 2
            if float(hp["dropout"]) > 0:
                layers.append(nn.Dropout2d(float(hp["dropout"])))
            blocks.append(nn.Sequential(*layers))
            channels = c_out
        n_flat = channels * height * width
        widths = layer_widths(hp, "hidden_units", n_layers)
        blocks += _dense_blocks(n_flat, widths, hp, flatten=True)
        head = (
            nn.Linear(widths[-1], n_out)
            if widths
            else nn.Sequential(nn.Flatten(), nn.Linear(n_flat, n_out))
        )
    elif name in ("lstm", "gru"):
        n_in = model_input(name, input_shape)[1]
        widths = layer_widths(hp, "hidden_units", max(n_layers, 1))
        blocks = []
        for i, width in enumerate(widths):
            last = i == len(widths) - 1
            layers = [Recurrent(name, n_in, width, last)]
            if float(hp["dropout"]) > 0:
                layers.append(nn.Dropout(float(hp["dropout"])))
            blocks.append(nn.Sequential(*layers))
            n_in = width
        blocks.insert(0, _Squeeze())
        head = nn.Linear(n_in, n_out)
    else:
        raise ConfigError(
            "model.name",
            f"unknown model {name!r}",
            f"use one of {', '.join(MODELS)} or model.class_path",
        )
    net = Network(blocks, head)
    initialise(net, hp["init"], float(hp["init_scale"]), hp["activation"], float(hp["leaky_slope"]))
    return net


class _Squeeze(nn.Module):
    """(n, 1, steps, features) images -> (n, steps, features); sequences pass unchanged."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.squeeze(1) if x.dim() == 4 else x


def initialise(net: nn.Module, init: str, scale: float, act: str, slope: float) -> None:
    """Initialise weight matrices/kernels with `init`; biases to zero (except `default`)."""
    if init == "default":
        return
    if init not in INITIALISERS:
        raise ConfigError(
            "space.init", f"unknown initialiser {init!r}", f"use one of {', '.join(INITIALISERS)}"
        )
    init = {
        "glorot_uniform": "xavier_uniform",
        "glorot_normal": "xavier_normal",
        "he_uniform": "kaiming_uniform",
        "he_normal": "kaiming_normal",
    }.get(init, init)
    nonlinearity = act if act in ("relu", "leaky_relu", "tanh", "sigmoid") else "relu"
    for pname, p in net.named_parameters():
        if p.dim() < 2:
            if "bias" in pname:
                nn.init.zeros_(p)
            continue
        if init == "xavier_uniform":
            nn.init.xavier_uniform_(p, gain=nn.init.calculate_gain(nonlinearity, slope))
        elif init == "xavier_normal":
            nn.init.xavier_normal_(p, gain=nn.init.calculate_gain(nonlinearity, slope))
        elif init == "kaiming_uniform":
            nn.init.kaiming_uniform_(
                p,
                a=slope if nonlinearity == "leaky_relu" else 0,
                nonlinearity="leaky_relu" if nonlinearity == "leaky_relu" else "relu",
            )
        elif init == "kaiming_normal":
            nn.init.kaiming_normal_(
                p,
                a=slope if nonlinearity == "leaky_relu" else 0,
                nonlinearity="leaky_relu" if nonlinearity == "leaky_relu" else "relu",
            )
        elif init == "normal":
            nn.init.normal_(p, 0.0, scale)
        elif init == "uniform":
            nn.init.uniform_(p, -scale, scale)
