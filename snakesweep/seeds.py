"""Seeds derived from the sweep seed, so every trial and round is reproducible on its own."""

from __future__ import annotations

import hashlib


def derive_seed(sweep_seed: int, *names: object) -> int:
    """A 31-bit seed that depends only on the sweep seed and the names (e.g. a trial id)."""
    text = ":".join(str(part) for part in (sweep_seed, *names))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF
