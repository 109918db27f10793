"""Seeds derived from the sweep seed, so every trial and round is reproducible on its own."""

from __future__ import annotations

import hashlib


def derive_seed(sweep_seed: int, *names: object) -> int:
    """A 31-bit seed that depends only on the sweep seed and the names (e.g. a trial id)."""
    text = ":".join(str(part) for part in (sweep_seed, *names))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF


# Trial ids hold three digits for the round and the trial: r000-t000 to r999-t999.
MAX_IDS = 1000


def trial_id(round_index: int, index: int) -> str:
    return f"r{round_index:03d}-t{index:03d}"


def round_of_trial(trial: str) -> int:
    """The round a trial id belongs to: `r002-t001` -> 2."""
    return int(trial[1:4])
