"""A sweep as one frozen, typed object: the validated config parsed once.

`load_sweep` validates a raw config (snakesweep/config.py: schema, defaults, the checks a schema
can't express) and returns a `Sweep`: the space parsed, the search strategy with its options,
the fidelity and pruning settings, and the sweep's files (`paths`). Every default is the
schema's, filled in once by load_config; what reads the Sweep applies none again.

The workflow (rules/common.smk), the scripts, the search (rounds, strategies), the trainer
(train/, trial.py, tabular.py, cluster.py), the report, tracking and plan/status read the Sweep.
`config` is the validated dict that Snakemake hands to each job (smk.config, or to a job run
as a shell command through its environment, `export_job_config`); `sweep_of` turns it into the
same Sweep without validating again. Only the validation (config.py, train/check.py,
tabular.check_tabular) and the warm worker's start read the dict itself.
"""

from __future__ import annotations

import base64
import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from snakesweep.fidelity import Fidelity, fidelity_of
from snakesweep.paths import RESULTS, SweepPaths
from snakesweep.pruning import pruning_of
from snakesweep.space import Space, parse_space


@dataclass(frozen=True)
class Objective:
    metric: str
    direction: str  # minimize | maximize


@dataclass(frozen=True)
class Search:
    strategy: str
    options: Mapping[str, Any]  # the strategy's options, defaults filled in

    @property
    def files(self) -> list[str]:
        """The files the strategy reads (warm-start tables, a replay list): propose's inputs."""
        listed = self.options.get("file")
        return [*self.options["warm_start"], *([str(listed)] if listed else [])]


@dataclass(frozen=True)
class Sweep:
    name: str
    seed: int
    task: str  # train | tabular
    objective: Objective
    budget: Mapping[str, Any]
    space: Space
    search: Search
    fidelity: Fidelity | None  # multi-fidelity strategies only
    pruning: Mapping[str, Any] | None  # None when pruning is off
    train: Mapping[str, Any]
    data: Mapping[str, Any]
    evaluate: Mapping[str, Any]
    tracking: Mapping[str, Any]
    model: Mapping[str, Any]
    limits: Mapping[str, Any]
    tabular: Mapping[str, Any]
    paths: SweepPaths
    config: Mapping[str, Any]  # the validated config, as the jobs receive it

    @property
    def rounds(self) -> int:
        return int(self.budget["rounds"])

    @property
    def folds(self) -> int:
        """k of k-fold cross-validation; 0 without it."""
        return int(self.evaluate["folds"] or 0)

    @property
    def on_gpu(self) -> bool:
        return self.train.get("accelerator") in ("gpu", "cuda")

    @property
    def evaluated(self) -> bool:
        """Whether the best configuration and the ensemble are tested after the search: not for
        a tabular sweep (metrics come from a table), a user's train.function (no model file) or
        evaluate.test_set false."""
        return (
            self.task == "train"
            and bool(self.evaluate["test_set"])
            and not self.train.get("function")
        )


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


def sweep_of(config: Mapping[str, Any], results: Path | str = RESULTS) -> Sweep:
    """The Sweep of a config that load_config has validated (e.g. a job's smk.config)."""
    from snakesweep.strategies import search_options

    strategy, options = search_options(config["search"])
    return Sweep(
        name=config["sweep"],
        seed=int(config["seed"]),
        task=config["task"],
        objective=Objective(config["objective"]["metric"], config["objective"]["direction"]),
        budget=_frozen(config["budget"]),
        space=parse_space(config["space"]),
        search=Search(strategy.name, _frozen(options)),
        fidelity=fidelity_of(config),
        pruning=pruning_of(config),
        train=_frozen(config["train"]),
        data=_frozen(config["data"]),
        evaluate=_frozen(config["evaluate"]),
        tracking=_frozen(config["tracking"]),
        model=_frozen(config["model"]),
        limits=_frozen(config["limits"]),
        tabular=_frozen(config["tabular"]),
        paths=SweepPaths.of(config["sweep"], results),
        config=_frozen(config),
    )


JOB_CONFIG = "SNAKESWEEP_CONFIG"  # the environment variable that carries it to shell jobs


def export_job_config(config: Mapping[str, Any]) -> None:
    """Hand the validated config to the jobs run as a shell command (a trial, a round's
    proposals) through this process's environment, which they inherit (so does a cluster job's
    own Snakemake, which exports its own). Never through a file: the config may hold a tracking
    server's password (snakesweep/redaction.py)."""
    os.environ[JOB_CONFIG] = base64.b64encode(pickle.dumps(dict(config), protocol=4)).decode()


def job_config() -> dict[str, Any]:
    """The config `export_job_config` handed to this job."""
    return pickle.loads(base64.b64decode(os.environ[JOB_CONFIG]))


def load_sweep(raw: Mapping[str, Any], results: Path | str = RESULTS) -> Sweep:
    """Validate a raw config (one ConfigError naming the key) and return its Sweep."""
    from snakesweep.config import load_config

    return sweep_of(load_config(dict(raw), Path(results)), results)
