"""The one exception type for mistakes a user can make in a config, a space or a data file."""

from __future__ import annotations

import math
from typing import Any


class ConfigError(ValueError):
    """A user-fixable problem. The message names the key (e.g. `space.lr.low`) and the fix."""

    def __init__(self, key: str, problem: str, fix: str = "") -> None:
        self.key = key
        message = f"{key}: {problem}" if key else problem
        if fix:
            message += f" ({fix})"
        super().__init__(message)


def finite_number(key: str, value: Any) -> float:
    """`value` as a float; a ConfigError naming `key` for a non-number, a bool or inf/NaN."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(key, f"must be a number, got {value!r}")
    return float(value)
