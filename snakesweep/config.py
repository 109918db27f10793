"""Loading and validating a sweep config: JSON Schema first, then the checks a schema can't express.

Every problem becomes a `ConfigError` naming the key, raised before any job starts.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from snakesweep.errors import ConfigError
from snakesweep.metrics import check_sense
from snakesweep.outputs import damaged_error, read_whole
from snakesweep.paths import SweepPaths
from snakesweep.space import single_values_fixed
from snakesweep.stopping import check_round_fits
from snakesweep.verify import check_expect

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"
SWEEP_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
# Keys whose change would mix incompatible trials into one sweep directory.
IDENTITY_KEYS = (
    "seed",
    "objective",
    "search",
    "space",
    "data",
    "model",
    "train",
    "task",
    "tabular",
    "pruning",
)
# How and where trials run, not what they learn: a sweep resumes on another machine, with other
# cores or GPUs (`warm_worker`, a top-level key, is not part of the identity either).
RUNTIME_TRAIN_KEYS = ("accelerator", "devices", "threads", "trials_per_gpu")


def load_schema(path: Path = SCHEMA_PATH) -> dict:
    return yaml.safe_load(path.read_text())


def _key(path: Any) -> str:
    return ".".join(str(part) for part in path) or "config"


# JSON Schema counts 2.0 as an integer; a count of rounds or trials must be written as one.
_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    ),
)


def validate_schema(config: dict, schema: dict) -> None:
    """Raise ConfigError for the most relevant schema violation, naming its key."""
    validator = _Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is None:
        return
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(known))
        key = _key([*error.absolute_path, extra[0]]) if extra else _key(error.absolute_path)
        close = difflib.get_close_matches(str(extra[0]), known, n=1) if extra else []
        guess = f"did you mean {close[0]}? " if close else ""
        raise ConfigError(key, "unknown key", f"{guess}known keys here: {', '.join(known)}")
    if error.validator in ("anyOf", "oneOf", "pattern"):
        # The schema's own words say which forms are allowed; its regular expression does not.
        problem = f"{error.instance!r} is not one of the forms this key takes"
        raise ConfigError(_key(error.absolute_path), problem, _description(error))
    raise ConfigError(_key(error.absolute_path), error.message, _type_fix(error) or _guess(error))


def _guess(error: jsonschema.ValidationError) -> str:
    """The allowed value closest to a misspelt one (`Bayes`, `minimise`, `relu6`)."""
    if error.validator != "enum" or not isinstance(error.instance, str):
        return ""
    allowed = {str(value).lower(): value for value in error.validator_value}
    typed = error.instance.lower()
    close = [name for name in allowed if typed and name.startswith(typed)][:1]
    close = close or difflib.get_close_matches(typed, allowed, n=1)
    return f"did you mean {allowed[close[0]]}?" if close else ""


def _description(error: jsonschema.ValidationError) -> str:
    """The description of the key that `error` is about (its own, or that of the anyOf it is
    a branch of), on one line."""
    node: jsonschema.ValidationError | None = error
    while node is not None and "description" not in node.schema:
        node = node.parent
    return " ".join(node.schema["description"].split()) if node is not None else ""


def _type_fix(error: jsonschema.ValidationError) -> str:
    """The fix for a whole number written as 2.0, or a number that YAML read as text: quoted, or
    written as 1e-3, which YAML 1.1 (PyYAML, Snakemake) reads as a string (no dot)."""
    text = error.instance
    if error.validator == "type" and isinstance(text, float) and text.is_integer():
        return f"write {int(text)}"
    if error.validator != "type" or not isinstance(text, str):
        return ""
    try:
        number = int(text) if text.strip().lstrip("+-").isdigit() else float(text)
    except ValueError:
        return ""
    if not math.isfinite(number):
        return ""
    if "e" in text.lower() and "." not in text:
        if "integer" in str(error.validator_value):  # a count: only a whole number will do
            whole = float(number).is_integer()
            return f"YAML reads {text} as text: write {int(number)}" if whole else ""
        return f"YAML reads {text} as text: write {number!r} or put a dot in it, e.g. 1.0e-3"
    return f"write {number!r} without quotes"


def _resolve_ref(node: dict, root: dict) -> dict:
    while "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def fill_defaults(config: dict, schema: dict, root: dict | None = None) -> dict:
    """A copy of `config` with the schema defaults filled in (recursively, objects only)."""
    root = root or schema
    schema = _resolve_ref(schema, root)
    resolved = dict(config)
    for name, sub in schema.get("properties", {}).items():
        sub = _resolve_ref(sub, root)
        if name not in resolved and "default" in sub:
            resolved[name] = copy.deepcopy(sub["default"])
        if isinstance(resolved.get(name), dict) and "properties" in sub:
            resolved[name] = fill_defaults(resolved[name], sub, root)
    return resolved


def check_sweep_name(name: str) -> None:
    if not SWEEP_NAME.match(name) or ".." in name:
        raise ConfigError(
            "sweep",
            f"{name!r} is not a valid sweep name",
            "use letters, digits, '_', '-' and '.', so that results stay inside results/",
        )


def identity(config: dict) -> dict:
    """The part of a config that defines which trials a sweep holds (runtime settings left out)."""
    return without_runtime_settings(
        {key: config.get(key) for key in IDENTITY_KEYS}
        | {"trials_per_round": config["budget"]["trials_per_round"]}
    )


def without_runtime_settings(recorded: dict) -> dict:
    """An identity without the train settings that say where trials run (RUNTIME_TRAIN_KEYS);
    sweeps frozen by an older snakesweep recorded them."""
    train = recorded.get("train")
    if not isinstance(train, dict):
        return recorded
    kept = {key: value for key, value in train.items() if key not in RUNTIME_TRAIN_KEYS}
    return recorded | {"train": kept}


def _first_difference(old: Any, new: Any, key: str) -> str | None:
    if isinstance(old, dict) and isinstance(new, dict):
        for name in sorted(set(old) | set(new)):
            found = _first_difference(old.get(name), new.get(name), f"{key}.{name}")
            if found:
                return found
        return None
    return None if old == new else f"{key} was {old!r}, now {new!r}"


def with_current_defaults(frozen: dict) -> dict:
    """A recorded identity with the defaults of today's schema filled in, so that a setting
    added with its default by a newer snakesweep does not count as a change of the sweep."""
    schema = load_schema()
    known = {
        key: value
        for key, value in frozen.items()
        if key in schema["properties"] and isinstance(value, dict)
    }
    filled = fill_defaults(known, schema)
    sections = set(schema["properties"])
    current = {
        key: filled.get(key, value)
        if key in sections and (value is None or key in known)
        else value
        for key, value in frozen.items()
    }
    # An identity key that a newer snakesweep added is recorded with its default.
    added = {key: filled[key] for key in IDENTITY_KEYS if key not in frozen and key in filled}
    return current | added


def check_consistent(config: dict, frozen_path: Path) -> None:
    """Refuse a config that differs from the one a sweep directory was started with."""
    if not frozen_path.exists():
        return
    recorded = yaml.safe_load(read_whole(frozen_path))
    if not isinstance(recorded, dict):
        raise damaged_error(frozen_path, "not a sweep's record (a mapping of its settings)")
    frozen = without_runtime_settings(with_current_defaults(recorded))
    if isinstance(frozen.get("space"), dict):  # recorded before one choice meant a fixed value
        frozen["space"] = single_values_fixed(frozen["space"])
    difference = _first_difference(frozen, identity(config), "config")
    if difference:
        sweep = config["sweep"]
        # The identity holds budget.trials_per_round at its top level.
        difference = difference.replace("config.trials_per_round", "budget.trials_per_round")
        key = difference.split(" ", 1)[0].removeprefix("config.")
        # Another search over the same space and objective can start from this sweep's trials.
        reuse = (
            f" and search.warm_start: [{frozen_path.parent / 'trials.csv'}] to start from this "
            "sweep's finished trials"
            if key.startswith(("search.", "budget."))
            else ""
        )
        raise ConfigError(
            key,
            f"results/{sweep} was started with another config: {difference}",
            f"give the changed sweep a new `sweep:` name{reuse}, or delete results/"
            f"{sweep} to start it again",
        )


def load_config(config: dict, results_dir: Path = Path("results")) -> dict:
    """Validate a raw config (schema, sweep name, space, search, training) and fill defaults."""
    from snakesweep.space import parse_space
    from snakesweep.strategies import check_search
    from snakesweep.tabular import check_tabular
    from snakesweep.train import check_training

    schema = load_schema()
    validate_schema(config, schema)
    resolved = fill_defaults(config, schema)
    check_sweep_name(resolved["sweep"])
    space = parse_space(resolved["space"])
    resolved["space"] = single_values_fixed(resolved["space"])
    check_search(resolved["search"], resolved["space"])
    if resolved["task"] == "tabular":
        check_tabular(resolved)
    else:
        check_training(resolved, space)
    check_expect(resolved)
    check_sense(resolved)
    check_round_fits(resolved["budget"], resolved["search"]["strategy"])
    from snakesweep.fidelity import fidelity_of
    from snakesweep.pruning import pruning_of

    fidelity_of(resolved)
    pruning_of(resolved)
    check_consistent(resolved, SweepPaths.of(resolved["sweep"], results_dir).sweep_yaml)
    return resolved
