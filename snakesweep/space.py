"""The search space: the config's `space:` mapping parsed into typed, validated parameters.

A parameter is a float or int range (optionally on a log scale, optionally on a step grid), an
ordered list of numbers (`values:`, e.g. batch sizes 16, 32, 64), a categorical choice, or a
fixed value, and may be conditional (`when: {optimizer: [sgd]}`): an
inactive parameter is not sent to the trial and is imputed with a constant for the optimiser.

Strategies work on the unit cube: `Space.from_unit(u)` maps a point of [0, 1]^d (one coordinate
per tuned parameter) to a complete parameter dict, `Space.to_unit(params)` maps it back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from snakesweep.errors import ConfigError

TYPES = ("float", "int", "categorical", "fixed")
# Columns of the results table; a parameter with one of these names would clash with them.
RESERVED = ("trial", "round", "seed", "status", "objective", "duration_s", "error", "params")
_COMMON_KEYS = {"type", "when", "default"}
_KEYS = {
    "float": _COMMON_KEYS | {"low", "high", "log", "step", "values", "grid"},
    "int": _COMMON_KEYS | {"low", "high", "log", "step", "values", "grid"},
    "categorical": _COMMON_KEYS | {"choices"},
    "fixed": {"type", "value", "when"},
}


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


@dataclass(frozen=True)
class Param:
    """One parameter of the space (see the module docstring)."""

    name: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    values: tuple | None = None  # ordered numbers; low and high are their ends
    choices: tuple = ()
    value: Any = None
    when: dict[str, tuple] = field(default_factory=dict)
    default: Any = None
    grid: tuple | int | None = None

    @property
    def tuned(self) -> bool:
        return self.type != "fixed"

    @property
    def numeric(self) -> bool:
        return self.type in ("float", "int")

    @property
    def stepped(self) -> bool:
        """Whether a numeric parameter takes an ordered list of values (`step` or `values`)."""
        return self.step is not None or self.values is not None

    @property
    def finite(self) -> bool:
        """Whether the parameter takes a finite, enumerable set of values."""
        return self.type in ("categorical", "fixed") or self.stepped or self.type == "int"

    # ---- values ---------------------------------------------------------------------------
    def steps(self) -> np.ndarray:
        """All values of a stepped float/int parameter, in ascending order."""
        if self.values is not None:
            return np.asarray(self.values, dtype=float)
        assert self.step is not None and self.low is not None and self.high is not None
        n = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        vals = self.low + self.step * np.arange(n)
        return vals

    def cast(self, v: Any) -> Any:
        """Python value of the right type (int for int params, float for floats)."""
        if self.type == "int":
            return int(round(float(v)))
        if self.type == "float":
            return float(v)
        return v

    def from_unit(self, u: float) -> Any:
        """Map u in [0, 1] to a value; equal-width cells for discrete parameters."""
        u = min(max(float(u), 0.0), 1.0)
        if self.type == "fixed":
            return self.value
        if self.type == "categorical":
            k = len(self.choices)
            return self.choices[min(int(u * k), k - 1)]
        lo, hi = float(self.low), float(self.high)  # type: ignore[arg-type]
        if self.stepped:
            vals = self.steps()
            i = min(int(u * len(vals)), len(vals) - 1)
            return self.cast(vals[i])
        if self.type == "int":
            if self.log:
                v = math.exp(math.log(lo) + u * (math.log(hi + 1) - math.log(lo)))
            else:
                v = lo + u * (hi - lo + 1)
            return int(min(max(math.floor(v), lo), hi))
        if self.log:
            return float(
                min(max(math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))), lo), hi)
            )
        return float(lo + u * (hi - lo))

    def to_unit(self, v: Any) -> float:
        """Inverse of `from_unit` (the centre of the value's cell for discrete parameters)."""
        if self.type == "fixed":
            return 0.5
        if self.type == "categorical":
            return (self.index(v) + 0.5) / len(self.choices)
        lo, hi = float(self.low), float(self.high)  # type: ignore[arg-type]
        x = float(v)
        if self.stepped:
            vals = self.steps()
            i = int(np.argmin(np.abs(vals - x)))
            return (i + 0.5) / len(vals)
        if self.type == "int":
            if self.log:
                u = (math.log(x + 0.5) - math.log(lo)) / (math.log(hi + 1) - math.log(lo))
            else:
                u = (x - lo + 0.5) / (hi - lo + 1)
        elif self.log:
            u = (math.log(max(x, lo)) - math.log(lo)) / (math.log(hi) - math.log(lo))
        else:
            u = (x - lo) / (hi - lo)
        return min(max(u, 0.0), 1.0)

    def index(self, v: Any) -> int:
        """Index of a categorical value; tolerant of values read back from CSV as strings."""
        for i, c in enumerate(self.choices):
            if c == v and type(c) is type(v):
                return i
        for i, c in enumerate(self.choices):
            if c == v or str(c) == str(v):
                return i
        raise ValueError(f"{v!r} is not one of {list(self.choices)}")

    def contains(self, v: Any) -> bool:
        """Whether v is a valid value of this parameter."""
        if self.type == "fixed":
            return v == self.value or str(v) == str(self.value)
        if self.type == "categorical":
            try:
                self.index(v)
            except ValueError:
                return False
            return True
        if not _is_number(v) and not isinstance(v, np.number):
            return False
        x = float(v)
        if not (self.low - 1e-12 * max(1.0, abs(self.low)) <= x):  # type: ignore[operator]
            return False
        if not (x <= self.high + 1e-12 * max(1.0, abs(self.high))):  # type: ignore[operator]
            return False
        if self.type == "int" and x != round(x):
            return False
        if self.stepped:
            return bool(np.min(np.abs(self.steps() - x)) <= 1e-9 * max(1.0, abs(x)))
        return True

    def normalise(self, v: Any) -> Any:
        """A value from a table (CSV strings, numpy scalars) as the value the space would give."""
        if self.type == "categorical":
            return self.choices[self.index(v)]
        if self.type == "fixed":
            return self.value
        return self.cast(v)

    @property
    def neutral(self) -> Any:
        """The value used for an inactive parameter when the optimiser needs a number."""
        if self.default is not None:
            return self.default
        if self.type == "categorical":
            return self.choices[0]
        if self.type == "fixed":
            return self.value
        return self.from_unit(0.5)


class Space:
    """An ordered set of parameters. Build with `parse_space`."""

    def __init__(self, params: list[Param]) -> None:
        self.params: dict[str, Param] = {p.name: p for p in params}

    def __getitem__(self, name: str) -> Param:
        return self.params[name]

    def __len__(self) -> int:
        return len(self.params)

    def __repr__(self) -> str:
        return f"Space({list(self.params)})"

    @property
    def names(self) -> list[str]:
        """All parameter names, tuned and fixed, in config order."""
        return list(self.params)

    @property
    def tuned(self) -> list[str]:
        """Names of the searched (non-fixed) parameters; one unit-cube coordinate each."""
        return [n for n, p in self.params.items() if p.tuned]

    @property
    def fixed(self) -> dict[str, Any]:
        """Fixed parameters and their values (including conditional ones)."""
        return {n: p.value for n, p in self.params.items() if not p.tuned}

    @property
    def conditional(self) -> bool:
        return any(p.when for p in self.params.values())

    def active(self, params: Mapping[str, Any], name: str) -> bool:
        """Whether `name` is active given the values in `params` (conditions chain)."""
        p = self.params[name]
        for dep, values in p.when.items():
            if not self.active(params, dep):
                return False
            dp = self.params[dep]
            v = dp.value if dp.type == "fixed" else params.get(dep)
            if v is None:
                return False
            if not any(v == w or str(v) == str(w) for w in values):
                return False
        return True

    def complete(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Add fixed values, drop inactive conditional parameters, order as in the config."""
        merged = {**self.fixed, **{k: v for k, v in params.items() if k in self.params}}
        return {n: merged[n] for n in self.params if n in merged and self.active(merged, n)}

    def from_unit(self, u: np.ndarray | list[float]) -> dict[str, Any]:
        """A complete parameter dict from one point of the unit cube (one coord per tuned)."""
        raw = {n: self.params[n].from_unit(x) for n, x in zip(self.tuned, u, strict=True)}
        return self.complete(raw)

    def to_unit(self, params: Mapping[str, Any]) -> np.ndarray:
        """The unit-cube point of a parameter dict; inactive parameters get their neutral value."""
        out = []
        for n in self.tuned:
            p = self.params[n]
            v = params.get(n)
            if v is None or _isnan(v) or not self.active(params, n):
                v = p.neutral
            out.append(p.to_unit(v))
        return np.asarray(out, dtype=float)

    def key(self, params: Mapping[str, Any]) -> tuple:
        """A hashable identity of a configuration, for duplicate detection."""
        out = []
        for n, v in self.complete(params).items():
            p = self.params[n]
            if p.type == "float" and not p.stepped:
                out.append((n, round(float(v), 12)))
            elif p.numeric:
                out.append((n, round(float(v), 9)))
            else:
                out.append((n, str(v)))
        return tuple(out)

    def contains(self, params: Mapping[str, Any]) -> bool:
        """Whether a complete parameter dict is valid: active params present and in range."""
        for n, p in self.params.items():
            act = self.active(params, n)
            if act != (n in params):
                return False
            if act and not p.contains(params[n]):
                return False
        return set(params) <= set(self.params)

    def size(self) -> float:
        """Number of distinct configurations (inf when a float range is continuous)."""
        total = 1.0
        for p in self.params.values():
            if p.type == "float" and not p.stepped:
                return math.inf
            if p.type == "categorical":
                total *= len(p.choices)
            elif p.stepped:
                total *= len(p.steps())
            elif p.type == "int":
                total *= p.high - p.low + 1  # type: ignore[operator]
        return total


def _isnan(v: Any) -> bool:
    try:
        return isinstance(v, float | np.floating) and math.isnan(v)
    except TypeError:
        return False


def _parse_param(name: str, spec: Any) -> Param:
    key = f"space.{name}"
    if not isinstance(spec, Mapping):
        if isinstance(spec, list | tuple):
            raise ConfigError(
                key, "a list is not a parameter spec", "use {type: categorical, choices: [...]}"
            )
        return Param(name=name, type="fixed", value=spec)
    spec = dict(spec)
    if "type" not in spec:
        raise ConfigError(
            key, "missing `type`", f"set type to one of {', '.join(TYPES)} (or give a plain value)"
        )
    kind = spec["type"]
    if kind not in TYPES:
        raise ConfigError(f"{key}.type", f"unknown type {kind!r}", f"use one of {', '.join(TYPES)}")
    unknown = sorted(set(spec) - _KEYS[kind])
    if unknown:
        raise ConfigError(
            f"{key}.{unknown[0]}",
            f"unknown key for a {kind} parameter",
            f"allowed keys: {', '.join(sorted(_KEYS[kind]))}",
        )
    when = spec.get("when") or {}
    if not isinstance(when, Mapping):
        raise ConfigError(
            f"{key}.when",
            "must map a parameter to a list of values",
            "e.g. when: {optimizer: [sgd, rmsprop]}",
        )
    when = {str(k): tuple(v) if isinstance(v, list | tuple) else (v,) for k, v in when.items()}
    for dep, values in when.items():
        if not values:
            raise ConfigError(
                f"{key}.when.{dep}", "empty list of values", "list at least one value"
            )

    if kind == "fixed":
        if "value" not in spec:
            raise ConfigError(f"{key}.value", "a fixed parameter needs a value", "add value: ...")
        return Param(name=name, type="fixed", value=spec["value"], when=when)

    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list | tuple) or len(choices) == 0:
            raise ConfigError(
                f"{key}.choices", "needs a non-empty list of choices", "e.g. choices: [relu, tanh]"
            )
        if len({str(c) for c in choices}) != len(choices):
            raise ConfigError(f"{key}.choices", "choices repeat a value", "list each choice once")
        for c in choices:
            if isinstance(c, Mapping | list):
                raise ConfigError(
                    f"{key}.choices",
                    f"choice {c!r} is not a scalar",
                    "use strings, numbers or booleans",
                )
        p = Param(
            name=name,
            type="categorical",
            choices=tuple(choices),
            when=when,
            default=spec.get("default"),
        )
        if p.default is not None and not p.contains(p.default):
            raise ConfigError(f"{key}.default", f"{p.default!r} is not one of the choices")
        if len(p.choices) == 1:  # nothing to search: the fixed value it is
            return Param(name=name, type="fixed", value=p.choices[0], when=when)
        return p

    # float / int
    values = _parse_values(key, kind, spec) if "values" in spec else None
    if values is not None and len(values) == 1:  # nothing to search: the fixed value it is
        if spec.get("default") not in (None, values[0]):
            raise ConfigError(
                f"{key}.default", f"{spec['default']!r} is not a value of this parameter"
            )
        return Param(name=name, type="fixed", value=values[0], when=when)
    if values is not None:
        spec.update(low=values[0], high=values[-1])
    for bound in ("low", "high"):
        if bound not in spec:
            raise ConfigError(
                f"{key}.{bound}", f"a {kind} parameter needs `{bound}`", f"add {bound}: <number>"
            )
        if not _is_number(spec[bound]):
            raise ConfigError(f"{key}.{bound}", f"must be a number, got {spec[bound]!r}")
        if kind == "int" and float(spec[bound]) != int(spec[bound]):
            raise ConfigError(
                f"{key}.{bound}",
                f"an int parameter needs an integer bound, got {spec[bound]!r}",
                "use type: float for a real-valued range",
            )
    low, high = spec["low"], spec["high"]
    if kind == "int":
        low, high = int(low), int(high)
    else:
        low, high = float(low), float(high)
    if low >= high:
        raise ConfigError(
            f"{key}.low",
            f"low ({low}) must be below high ({high})",
            "swap them, or use a fixed value",
        )
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{key}.log", f"must be true or false, got {log!r}")
    if log and low <= 0:
        raise ConfigError(
            f"{key}.low",
            f"a log-scale range needs low > 0, got {low}",
            "raise low or set log: false",
        )
    step = spec.get("step")
    if step is not None:
        if not _is_number(step) or step <= 0:
            raise ConfigError(f"{key}.step", f"must be a positive number, got {step!r}")
        if log:
            raise ConfigError(
                f"{key}.step",
                "step and log cannot be combined",
                "drop step, or list the values as a categorical",
            )
        if kind == "int" and int(step) != step:
            raise ConfigError(f"{key}.step", "an int parameter needs an integer step")
        if step > high - low:
            raise ConfigError(f"{key}.step", f"step {step} is larger than the range {low}..{high}")
    grid = spec.get("grid")
    if grid is not None:
        if isinstance(grid, bool) or not (
            (isinstance(grid, int) and grid >= 1) or isinstance(grid, list | tuple)
        ):
            raise ConfigError(
                f"{key}.grid", "must be a number of points (>= 1) or a list of values"
            )
        grid = tuple(grid) if isinstance(grid, list | tuple) else grid
    p = Param(
        name=name,
        type=kind,
        low=low,
        high=high,
        log=log,
        step=(int(step) if kind == "int" and step is not None else step),
        values=values,
        when=when,
        default=spec.get("default"),
        grid=grid,
    )
    if isinstance(grid, tuple):
        if not grid:
            raise ConfigError(f"{key}.grid", "empty list of grid values")
        for v in grid:
            if not p.contains(v):
                raise ConfigError(
                    f"{key}.grid",
                    f"grid value {v!r} is not a value of this parameter",
                    _values_hint(p),
                )
    if p.default is not None and not p.contains(p.default):
        raise ConfigError(
            f"{key}.default", f"{p.default!r} is not a value of this parameter", _values_hint(p)
        )
    return p


def _parse_values(key: str, kind: str, spec: dict[str, Any]) -> tuple:
    """The `values:` of a float/int parameter: distinct numbers, sorted (one is a fixed
    value)."""
    clash = sorted({"low", "high", "step", "log"} & set(spec))
    if clash:
        raise ConfigError(
            f"{key}.{clash[0]}",
            "`values` lists the parameter's values; it cannot be combined with low, high, "
            "step or log",
            f"remove {clash[0]}",
        )
    values = spec["values"]
    example = "e.g. values: [16, 32, 64, 128]"
    if not isinstance(values, list | tuple) or not values:
        raise ConfigError(f"{key}.values", "needs a non-empty list of numbers", example)
    for v in values:
        if not _is_number(v) or (kind == "int" and float(v) != int(v)):
            what = "an integer" if kind == "int" else "a number"
            raise ConfigError(f"{key}.values", f"{v!r} is not {what}", example)
    if len(set(values)) != len(values):
        raise ConfigError(f"{key}.values", "values repeat a number", "list each value once")
    cast = int if kind == "int" else float
    return tuple(sorted(cast(v) for v in values))


def parse_space(mapping: Mapping[str, Any] | Space) -> Space:
    """Parse and validate the config's `space:` mapping; raise ConfigError naming the key."""
    if isinstance(mapping, Space):
        return mapping
    if not isinstance(mapping, Mapping) or not mapping:
        raise ConfigError(
            "space",
            "must be a non-empty mapping of parameter name to spec",
            "e.g. space: {lr: {type: float, low: 1.0e-4, high: 0.1, log: true}}",
        )
    params = []
    for name, spec in mapping.items():
        if not isinstance(name, str) or not name:
            raise ConfigError("space", f"parameter name {name!r} must be a non-empty string")
        if name in RESERVED:
            raise ConfigError(
                f"space.{name}",
                "this name is reserved for a results-table column",
                "rename the parameter",
            )
        params.append(_parse_param(name, spec))
    space = Space(params)
    for p in params:
        for dep, values in p.when.items():
            key = f"space.{p.name}.when.{dep}"
            if dep == p.name:
                raise ConfigError(key, "a parameter cannot depend on itself")
            if dep not in space.params:
                raise ConfigError(
                    key,
                    f"unknown parameter {dep!r}",
                    f"use one of {', '.join(n for n in space.names if n != p.name)}",
                )
            dp = space.params[dep]
            if dp.type == "float" and not dp.stepped:
                raise ConfigError(
                    key, f"{dep!r} is a continuous float", "make it categorical, int or fixed"
                )
            for v in values:
                if not dp.contains(v):
                    raise ConfigError(key, f"{v!r} is not a value of {dep!r}", _values_hint(dp))
    # Reject cycles in `when:` chains.
    for p in params:
        seen, todo = set(), list(p.when)
        while todo:
            d = todo.pop()
            if d == p.name:
                raise ConfigError(
                    f"space.{p.name}.when",
                    "conditions form a cycle",
                    "make the dependencies one-directional",
                )
            if d not in seen:
                seen.add(d)
                todo.extend(space.params[d].when)
    if not space.tuned:
        raise ConfigError(
            "space",
            "no parameter is searched (all are fixed)",
            "give at least one parameter a type: float, int or categorical (with two values "
            "or choices or more: a single one is a fixed value)",
        )
    return space


def single_values_fixed(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """The `space:` mapping (validated by parse_space) with each categorical of one choice and
    each float/int of one value written as the fixed value it is, so that everything reading
    the config's space (the report, tracking, the plan) sees what the search sees."""
    out = {}
    for name, spec in mapping.items():
        single = _single_value(spec) if isinstance(spec, Mapping) else []
        if single:
            when = spec.get("when")
            spec = {"type": "fixed", "value": single[0], "when": when} if when else single[0]
        out[name] = spec
    return out


def _single_value(spec: Mapping[str, Any]) -> list:
    """[the value] of a categorical of one choice or a float/int of one value (as parse_space
    reads it), else []."""
    kind = spec.get("type")
    listed = spec.get("choices" if kind == "categorical" else "values")
    if kind not in ("categorical", "float", "int") or not isinstance(listed, list | tuple):
        return []
    if len(listed) != 1:
        return []
    cast = {"int": int, "float": float}.get(kind, lambda value: value)
    return [cast(listed[0])]


def _values_hint(p: Param) -> str:
    if p.type == "categorical":
        return f"choices are {list(p.choices)}"
    if p.type == "fixed":
        return f"its value is {p.value!r}"
    if p.values is not None:
        return f"its values are {list(p.values)}"
    steps = f" in steps of {p.step}" if p.step is not None else ""
    return f"its range is {p.low}..{p.high}{steps}"
