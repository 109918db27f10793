"""The one exception type for mistakes a user can make in a config, a space or a data file."""

from __future__ import annotations


class ConfigError(ValueError):
    """A user-fixable problem. The message names the key (e.g. `space.lr.low`) and the fix."""

    def __init__(self, key: str, problem: str, fix: str = "") -> None:
        self.key = key
        message = f"{key}: {problem}" if key else problem
        if fix:
            message += f" ({fix})"
        super().__init__(message)
