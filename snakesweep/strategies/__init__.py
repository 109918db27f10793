"""Search strategies behind one interface.

`plan_round(sweep, history, round_index, seed)` plans a round of the workflow for every
strategy; `propose(search, space, history, n, seed, direction)` is the plain n-configurations
API it uses (multi-fidelity strategies plan rungs and use it for a bracket's new configurations).
Every strategy is rebuilt from the finished trials each round and keeps no state of its own,
so a rerun proposes the same trials. `STRATEGIES` lists the registered names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from snakesweep.errors import ConfigError
from snakesweep.space import Space, parse_space
from snakesweep.strategies import (
    bayes,
    coarse_to_fine,
    evolution,
    grid,
    multifidelity,
    one_at_a_time,
    quasirandom,
    random_search,
    replay,
)
from snakesweep.strategies._base import (
    Observations,
    check_options,
    dedupe,
    observations,
    read_table,
    rng_for,
)

if TYPE_CHECKING:
    from snakesweep.sweep import Sweep

__all__ = [
    "STRATEGIES",
    "COMMON_OPTIONS",
    "check_search",
    "plan_round",
    "propose",
    "search_options",
]


@dataclass(frozen=True)
class Strategy:
    name: str
    propose: Callable[[Space, Observations, int, int, dict[str, Any]], list[dict[str, Any]]]
    options: dict[str, Any] = field(default_factory=dict)
    check: Callable[[dict[str, Any], Space], None] | None = None
    # Whether proposals that repeat earlier trials are replaced by fresh random points.
    refill: bool = True
    # Whether repeats are removed at all (replay returns exactly its list).
    dedupe: bool = True
    # Whether propose() takes an `info` dict to report what it did (coarse_to_fine).
    reports: bool = False
    # Whether it reads the parameters' own grid points (`space.<name>.grid`).
    grids: bool = False
    # Plans a whole round itself (multi-fidelity rungs) instead of n new configurations:
    # plan(strategy, options, config, history, round_index, seed) -> round entries.
    plan: Callable[..., list[dict[str, Any]]] | None = None


_REGISTRY: dict[str, Strategy] = {
    s.name: s
    for s in [
        Strategy("grid", grid.propose, grid.OPTIONS, grid.check, refill=False, grids=True),
        Strategy(
            "one_at_a_time",
            one_at_a_time.propose,
            one_at_a_time.OPTIONS,
            one_at_a_time.check,
            refill=False,
            grids=True,
        ),
        Strategy("random", random_search.propose, random_search.OPTIONS),
        Strategy("sobol", quasirandom.propose_sobol, quasirandom.OPTIONS),
        Strategy("halton", quasirandom.propose_halton, quasirandom.OPTIONS),
        Strategy("lhs", quasirandom.propose_lhs, quasirandom.OPTIONS),
        Strategy("bayes", bayes.propose, bayes.OPTIONS, bayes.check),
        Strategy("evolution", evolution.propose, evolution.OPTIONS, evolution.check),
        Strategy(
            "replay", replay.propose, replay.OPTIONS, replay.check, refill=False, dedupe=False
        ),
        Strategy(
            "coarse_to_fine",
            coarse_to_fine.propose,
            coarse_to_fine.OPTIONS,
            coarse_to_fine.check,
            reports=True,
        ),
        # Multi-fidelity: rounds are rungs; propose draws a bracket's new configurations.
        Strategy(
            "successive_halving",
            multifidelity.propose_random,
            multifidelity.SH_OPTIONS,
            multifidelity.check,
            plan=multifidelity.plan_round,
        ),
        Strategy(
            "hyperband",
            multifidelity.propose_random,
            multifidelity.HYPERBAND_OPTIONS,
            multifidelity.check,
            plan=multifidelity.plan_round,
        ),
        Strategy(
            "bohb",
            multifidelity.propose_bohb,
            multifidelity.BOHB_ALL_OPTIONS,
            multifidelity.check_bohb,
            plan=multifidelity.plan_round,
        ),
    ]
}
STRATEGIES: tuple[str, ...] = tuple(_REGISTRY)

# Options every strategy accepts.
COMMON_OPTIONS: dict[str, Any] = {
    "strategy": "bayes",
    # Objective given to failed/diverged trials: "worst" (worst seen so far) or a number.
    "failure_penalty": "worst",
    # Finished trials of earlier sweeps (their trials.csv) that seed the optimiser.
    "warm_start": [],
}
ALL_OPTIONS: dict[str, Any] = {k: v for s in _REGISTRY.values() for k, v in s.options.items()}


def _strategy(name: Any) -> Strategy:
    if name not in _REGISTRY:
        raise ConfigError(
            "search.strategy", f"unknown strategy {name!r}", f"use one of {', '.join(STRATEGIES)}"
        )
    return _REGISTRY[name]


def search_options(search: str | Mapping[str, Any] | None) -> tuple[Strategy, dict[str, Any]]:
    """The strategy and its options with defaults filled in (raises ConfigError)."""
    if search is None:
        search = {}
    if isinstance(search, str):
        search = {"strategy": search}
    if not isinstance(search, Mapping):
        raise ConfigError(
            "search", "must be a strategy name or a mapping", "e.g. search: {strategy: bayes}"
        )
    strat = _strategy(search.get("strategy", COMMON_OPTIONS["strategy"]))
    allowed = {**COMMON_OPTIONS, **strat.options}
    # The schema fills in every option's default, whichever strategy uses it: an option of
    # another strategy is accepted at its default and dropped, and an error when set.
    search = dict(search)
    for key in list(search):
        if key in allowed or key not in ALL_OPTIONS:
            continue
        if search[key] == ALL_OPTIONS[key]:
            del search[key]
        else:
            users = [s.name for s in _REGISTRY.values() if key in s.options]
            raise ConfigError(
                f"search.{key}",
                f"option of {', '.join(users)}, not of strategy {strat.name!r}",
                f"remove it, or use strategy {users[0]}",
            )
    check_options(strat.name, search, allowed)
    opts = {**allowed, **search, "strategy": strat.name}
    pen = opts["failure_penalty"]
    if pen != "worst" and (
        isinstance(pen, bool) or not isinstance(pen, int | float) or not math.isfinite(pen)
    ):
        raise ConfigError(
            "search.failure_penalty",
            f"must be 'worst' or a finite number, got {pen!r}",
            "the optimiser cannot model an infinite or missing objective: use worst, or a "
            "number just past the worst value you expect",
        )
    ws = opts["warm_start"]
    if isinstance(ws, str):
        opts["warm_start"] = [ws]
    elif not isinstance(ws, list | tuple) or not all(isinstance(w, str) for w in ws):
        raise ConfigError("search.warm_start", "must be a path or a list of paths to trials.csv")
    return strat, opts


def warm_start_table(paths: list[str], space: Space) -> pd.DataFrame:
    """Finished trials of earlier sweeps whose parameters fit this space (others are skipped).

    Raises ConfigError for a missing file, or one without the space's parameters.
    """
    from pathlib import Path

    frames = []
    for i, path in enumerate(paths):
        key = f"search.warm_start[{i}]"
        if not Path(path).is_file():
            raise ConfigError(
                key, f"no such file: {path}", "give an earlier sweep's results/<sweep>/trials.csv"
            )
        table = read_table(path, key)
        missing = [c for c in [*space.tuned, "objective"] if c not in table.columns]
        if missing:
            raise ConfigError(
                key,
                f"{path} has no column {missing[0]!r}",
                "warm start needs a results table of a compatible space",
            )
        if "status" not in table.columns:
            table["status"] = "ok"
        frames.append(table)
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True)
    keep = []
    for rec in table[[n for n in space.names if n in table.columns]].to_dict("records"):
        clean = {k: v for k, v in rec.items() if not (isinstance(v, float) and v != v)}
        fits = all(space[k].contains(v) for k, v in clean.items() if space.active(clean, k))
        keep.append(fits)
    return table[keep].reset_index(drop=True)


def check_search(search: str | Mapping[str, Any] | None, space_mapping: Any) -> None:
    """Validate the `search:` config against the space; raise ConfigError naming the key."""
    space = parse_space(space_mapping)
    strat, opts = search_options(search)
    if strat.check is not None:
        strat.check(opts, space)
    # Like a search option of another strategy: grid points that this strategy would ignore.
    gridded = [name for name in space.tuned if space[name].grid is not None]
    if gridded and not strat.grids:
        users = [s.name for s in _REGISTRY.values() if s.grids]
        raise ConfigError(
            f"space.{gridded[0]}.grid",
            f"grid points are read by strategies {' and '.join(users)}; strategy "
            f"{strat.name!r} ignores them",
            f"remove it, or use strategy {users[0]}",
        )
    if opts["warm_start"]:
        warm_start_table(list(opts["warm_start"]), space)


def propose(
    search: str | Mapping[str, Any] | None,
    space: Any,
    history: pd.DataFrame | None,
    n: int,
    seed: int,
    direction: str = "minimize",
    info: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Propose n new configurations (complete parameter dicts) given the finished trials.

    `history` has one column per parameter, `objective` (NaN when failed) and `status`.
    Failed trials reach the strategy with the configured penalty; proposals that repeat an
    earlier trial (or each other) are replaced. A finite space or list (grid, replay) that is
    exhausted gives fewer than n. A strategy that narrows the space (coarse_to_fine) reports
    it in `info` when a dict is given, for the rounds file.
    """
    if direction not in ("minimize", "maximize"):
        raise ConfigError(
            "objective.direction", f"unknown direction {direction!r}", "use minimize or maximize"
        )
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    sp = parse_space(space)
    strat, opts = search_options(search)
    if strat.check is not None:
        strat.check(opts, sp)
    if n == 0:
        return []
    n_warm = 0
    if opts["warm_start"]:
        warm = warm_start_table(list(opts["warm_start"]), sp)
        n_warm = len(warm)
        if n_warm:
            history = (
                warm
                if history is None or not len(history)
                else pd.concat([warm, history], ignore_index=True)
            )
    obs = observations(sp, history, direction, opts["failure_penalty"])
    obs.n_warm = n_warm
    if n_warm and info is not None:
        info["warm_start_trials"] = n_warm
    if strat.reports:
        raw = strat.propose(sp, obs, n, int(seed), opts, info)  # type: ignore[call-arg]
    else:
        raw = strat.propose(sp, obs, n, int(seed), opts)
    proposals = [sp.complete(p) for p in raw]
    if not strat.dedupe:
        return proposals
    return dedupe(sp, proposals, obs.params, n, rng_for(seed, len(obs), 99), fill=strat.refill)


def plan_round(
    sweep: Sweep,
    history: pd.DataFrame,
    round_index: int,
    seed: int,
    info: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One round's entries, for every strategy: `params` each; multi-fidelity strategies add a
    `fidelity` record, and a promoted trial its parent's `seed`. What the workflow calls."""
    strat = _strategy(sweep.search.strategy)
    if strat.plan is not None:
        return strat.plan(strat, dict(sweep.search.options), sweep, history, round_index, seed)
    proposals = propose(
        sweep.search.options,
        sweep.space,
        history,
        sweep.budget["trials_per_round"],
        seed,
        sweep.objective.direction,
        info=info,
    )
    return [{"params": params} for params in proposals]
