"""`random`: independent uniform draws (log-uniform on log ranges)."""

from __future__ import annotations

from typing import Any

from snakesweep.space import Space
from snakesweep.strategies._base import Observations, random_points, rng_for

NAME = "random"
OPTIONS: dict[str, Any] = {}


def propose(
    space: Space, obs: Observations, n: int, seed: int, options: dict[str, Any]
) -> list[dict[str, Any]]:
    return random_points(space, n, rng_for(seed, len(obs), 1))
