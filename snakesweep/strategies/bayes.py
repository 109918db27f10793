"""`bayes`: Bayesian optimisation with a scikit-optimize surrogate, rebuilt from the finished
trials every round.

- The first `initial_points` trials come from a quasi-random design continued across rounds,
  so a rebuilt optimiser never restarts its design and re-proposes earlier points.
- Inputs live on the unit cube (log ranges already log-scaled by the space); categoricals are
  one-hot; discrete values are snapped to their cells; an inactive conditional parameter is
  set to a constant so it doesn't mislead the model.
- Failed trials get the penalty (worst seen by default), the objective is transformed
  (`y_transform`) before the surrogate sees it.
- The surrogate is skopt's GaussianProcessRegressor (Matern 5/2, ARD, fitted noise) with
  priors on its hyperparameters (fitted by maximum a posteriori, so a few trials don't give a
  spiky model), or skopt's RF / ET / GBRT regressors; the acquisition (log-EI, log-PI, LCB
  or a gp_hedge portfolio) is maximised over global quasi-random candidates plus local
  perturbations of the best points, refined in shrinking steps.
- A batch is chosen one point at a time by constant liar (`cl_min`, `cl_mean`, `cl_max`). In a
  batch of 4 or more with the GP below the trust-region regime, the first point is the GP
  mean's minimum (the model's best guess; EI alone keeps exploring until the last round).
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from snakesweep.space import Param, Space
from snakesweep.strategies._base import Observations, choose, number, positive_int, rng_for
from snakesweep.strategies.quasirandom import unit_design

NAME = "bayes"
ESTIMATORS = ("GP", "RF", "ET", "GBRT")
ACQUISITIONS = ("EI", "PI", "LCB", "gp_hedge")
LIARS = ("cl_min", "cl_mean", "cl_max")
DESIGNS = ("sobol", "halton", "lhs", "random")
TRANSFORMS = ("auto", "none", "log", "rank")
OPTIONS: dict[str, Any] = {
    "base_estimator": "GP",
    "acq_func": "EI",
    "liar": "cl_min",
    "initial_points": None,  # None: max(10, batch size, number of tuned params + 1)
    "initial_design": "sobol",
    "y_transform": "auto",
    "candidates": 2000,
    "xi": 0.0,
    "kappa": 1.96,
}


# Internal settings, measured in benchmarks/search (see its README for what each changed).
LS_BOUNDS = (1e-2, 2e1)  # Matern length scales, in unit-cube widths
NOISE_BOUNDS = (1e-6, 1e-1)  # white noise, in units of the standardised objective variance
# Candidates concentrated in a TuRBO-like box around the best trial, from this many tuned
# parameters on.
TRUST_REGION_MIN_DIM = 8
EXPLOIT_MIN_BATCH = 4  # from this batch size on, one point of each batch exploits
TR_INIT = 0.8  # starting side of the trust region, in unit-cube widths
TR_COORDS = 20.0  # a trust-region candidate moves about this many coordinates off the centre
PERTURB_COORDS = 5.0  # a local candidate moves about this many coordinates of its centre
LOG_SCALE = 0.1  # y_transform log: log1p(gap to best / (LOG_SCALE * median gap))
HYPER_SUBSET = 100  # GP hyperparameters are fitted on at most this many trials (the best
# quarter plus a random rest), then the GP is conditioned on all of them: fitting is cubic.
# y_transform auto with a GP: candidate transforms (kind, log scale), chosen by the GP's
# marginal likelihood in the units of y.
AUTO_TRANSFORMS = (("none", 0.0), ("log", LOG_SCALE))


def check(options: dict[str, Any], space: Space) -> None:
    choose("search.base_estimator", options["base_estimator"], ESTIMATORS)
    choose("search.acq_func", options["acq_func"], ACQUISITIONS)
    choose("search.liar", options["liar"], LIARS)
    choose("search.initial_design", options["initial_design"], DESIGNS)
    choose("search.y_transform", options["y_transform"], TRANSFORMS)
    positive_int("search.initial_points", options["initial_points"], 1, allow_none=True)
    positive_int("search.candidates", options["candidates"], 100)
    number("search.xi", options["xi"], 0.0)
    number("search.kappa", options["kappa"], 0.0)


def n_initial(options: dict[str, Any], space: Space, n: int) -> int:
    if options["initial_points"] is not None:
        return int(options["initial_points"])
    # At least 10: a GP fitted to fewer points misleads the first rounds (measured on the
    # tuning half of benchmarks/search's suite; d + 1 alone left 4 points in 2-3 dimensions).
    return max(10, n, len(space.tuned) + 1)


def initial_design(space: Space, kind: str, n: int, seed: int, skip: int) -> list[dict]:
    d = len(space.tuned)
    if kind == "random":
        u = rng_for(seed, skip, 5).random((n, d))
    else:
        u = unit_design(kind, d, n, seed, skip)
    return [space.from_unit(x) for x in u]


# ---- encoding: unit cube -> model features -----------------------------------------------
@dataclass
class _Column:
    param: Param
    kind: str  # "cont", "cells" (n equal cells), "intlog", "cat"
    cells: int = 0
    neutral_u: float = 0.5


class Encoder:
    """Vectorised map from unit-cube candidates to snapped points and model features."""

    def __init__(self, space: Space) -> None:
        self.space = space
        self.cols: list[_Column] = []
        for name in space.tuned:
            p = space[name]
            nu = p.to_unit(p.neutral)
            if p.type == "categorical":
                self.cols.append(_Column(p, "cat", len(p.choices), nu))
            elif p.stepped:
                self.cols.append(_Column(p, "cells", len(p.steps()), nu))
            elif p.type == "int" and not p.log:
                self.cols.append(_Column(p, "cells", int(p.high - p.low + 1), nu))  # type: ignore[operator]
            elif p.type == "int":
                self.cols.append(_Column(p, "intlog", 0, nu))
            else:
                self.cols.append(_Column(p, "cont", 0, nu))
        self.index = {c.param.name: j for j, c in enumerate(self.cols)}
        self.continuous = np.array([c.kind == "cont" for c in self.cols])
        self.cell_width = np.array(
            [1.0 / c.cells if c.kind in ("cells", "cat") else 0.0 for c in self.cols]
        )

    def snap(self, U: np.ndarray) -> np.ndarray:
        """Move discrete coordinates to the centre of their cell (the value they decode to)."""
        S = np.clip(U, 0.0, 1.0).copy()
        for j, c in enumerate(self.cols):
            if c.kind in ("cells", "cat"):
                idx = np.minimum(np.floor(S[:, j] * c.cells), c.cells - 1)
                S[:, j] = (idx + 0.5) / c.cells
            elif c.kind == "intlog":
                lo, hi = float(c.param.low), float(c.param.high)  # type: ignore[arg-type]
                span = math.log(hi + 1) - math.log(lo)
                v = np.clip(np.floor(np.exp(math.log(lo) + S[:, j] * span)), lo, hi)
                S[:, j] = (np.log(v + 0.5) - math.log(lo)) / span
        return S

    def _values(self, S: np.ndarray, name: str) -> np.ndarray:
        """Decoded values of one parameter (for `when:` checks), from snapped points."""
        p = self.space[name]
        if p.type == "fixed":
            return np.full(len(S), p.value, dtype=object)
        c = self.cols[self.index[name]]
        u = S[:, self.index[name]]
        if c.kind == "cat":
            idx = np.minimum(np.floor(u * c.cells), c.cells - 1).astype(int)
            return np.asarray(p.choices, dtype=object)[idx]
        return np.asarray([p.from_unit(x) for x in u], dtype=object)

    def active(self, S: np.ndarray) -> np.ndarray:
        """Boolean (n, d) mask of active tuned parameters."""
        n = len(S)
        act: dict[str, np.ndarray] = {}

        def resolve(name: str) -> np.ndarray:
            if name in act:
                return act[name]
            p = self.space[name]
            m = np.ones(n, dtype=bool)
            for dep, values in p.when.items():
                vals = self._values(S, dep)
                allowed = {str(v) for v in values}
                ok = np.array([str(v) in allowed for v in vals], dtype=bool)
                m &= resolve(dep) & ok
            act[name] = m
            return m

        return np.column_stack([resolve(c.param.name) for c in self.cols])

    def features(self, S: np.ndarray) -> np.ndarray:
        """Model inputs: unit coordinates, one-hot categoricals, constants when inactive."""
        act = self.active(S) if self.space.conditional else np.ones(S.shape, dtype=bool)
        out = []
        for j, c in enumerate(self.cols):
            u = np.where(act[:, j], S[:, j], c.neutral_u)
            if c.kind == "cat" and c.cells > 2:
                idx = np.minimum(np.floor(u * c.cells), c.cells - 1).astype(int)
                out.append(np.eye(c.cells)[idx])
            elif c.kind == "cat":
                out.append((u >= 0.5).astype(float)[:, None])
            else:
                out.append(u[:, None])
        return np.hstack(out)


# ---- objective transform -------------------------------------------------------------------
def _tail_rule(y: np.ndarray) -> str:
    """`log` when the values have a heavy right tail (a few huge values), else `none`."""
    med, q_hi = np.median(y), np.quantile(y, 0.9)
    spread = max(np.median(np.abs(y - med)), 1e-12)
    return "log" if (np.max(y) - med) > 5 * spread or (q_hi - med) > 3 * spread else "none"


def _log_transform(y: np.ndarray, scale: float) -> tuple[np.ndarray, float]:
    """log1p(gap to best / c) with c = `scale` x the median gap, and the log-Jacobian
    sum(log dz/dy) of the map (to compare models of z and of y on the same footing)."""
    gap = y - y.min()
    c = scale * max(np.quantile(gap, 0.5), 1e-12 * max(1.0, abs(y.min())))
    return np.log1p(gap / c), -float(np.sum(np.log(c + gap)))


def transform_y(y: np.ndarray, kind: str) -> np.ndarray:
    """Make the objective friendlier to a GP; monotone, so the optimum doesn't move.
    (`auto` here is the cheap tail rule; with a GP, `propose` decides `auto` by likelihood.)"""
    y = np.asarray(y, dtype=float)
    if len(y) < 2 or np.ptp(y) == 0:
        return y - (y.mean() if len(y) else 0.0)
    if kind == "auto":
        kind = _tail_rule(y)
    if kind == "log":
        return _log_transform(y, LOG_SCALE)[0]
    if kind == "rank":
        from scipy.stats import norm  # scipy.stats on first use: the workflow's parse stays light

        ranks = np.argsort(np.argsort(y, kind="stable"), kind="stable")
        return norm.ppf((ranks + 0.5) / len(y))
    return y


def _gp_auto(X: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, _Model, str]:
    """`auto` with a GP: fit the GP to each candidate transform of y and keep the one whose
    marginal likelihood, taken back to the units of y (Jacobian of the transform and of the
    GP's standardisation included), is highest - a Box-Cox-like choice by evidence."""
    y = np.asarray(y, dtype=float)
    if len(y) < 2 or np.ptp(y) == 0:
        z = transform_y(y, "none")
        return z, _Model("GP", X, z, seed), "none"
    best = None
    for kind, scale in AUTO_TRANSFORMS:
        if kind == "none":
            z, logjac = y, 0.0
        else:
            z, logjac = _log_transform(y, scale)
        model = _Model("GP", X, z, seed)
        # the GP models (z - mean) / std: its density in units of z divides by std^n
        lml = model.m.log_marginal_likelihood_value_ - len(y) * math.log(model.std)
        score = lml + logjac
        label = kind if kind == "none" else f"log{scale:g}"
        if best is None or score > best[0]:
            best = (score, z, model, label)
    assert best is not None
    return best[1], best[2], best[3]


# ---- acquisition ---------------------------------------------------------------------------
_C1 = 0.5 * math.log(2 * math.pi)
_C2 = 0.5 * math.log(math.pi / 2)


def log_h(z: np.ndarray) -> np.ndarray:
    """log(z Phi(z) + phi(z)) without underflow (the log-EI of Ament et al. 2023)."""
    from scipy.special import erfcx
    from scipy.stats import norm

    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    hi = z > -1.0
    zh = z[hi]
    out[hi] = np.log(zh * norm.cdf(zh) + norm.pdf(zh))
    zl = z[~hi]
    # phi(z) * (1 - |z| * erfcx(-z/sqrt2) * sqrt(pi/2)) for z <= -1
    t = np.log(erfcx(-zl / math.sqrt(2)) * np.abs(zl)) + _C2
    out[~hi] = -0.5 * zl**2 - _C1 + np.log(-np.expm1(np.minimum(t, -1e-12)))
    return out


def acquisition(
    kind: str, mu: np.ndarray, sd: np.ndarray, best: float, xi: float, kappa: float
) -> np.ndarray:
    """Higher is better, for minimisation (`mean`: the model's mean alone)."""
    sd = np.maximum(sd, 1e-9)
    if kind == "mean":
        return -mu
    if kind == "LCB":
        return -(mu - kappa * sd)
    z = (best - xi - mu) / sd
    if kind == "PI":
        from scipy.special import log_ndtr

        return log_ndtr(z)
    return log_h(z) + np.log(sd)


# ---- surrogate ---------------------------------------------------------------------------
def _log_prior(kernel, theta: np.ndarray) -> tuple[float, np.ndarray]:
    """Log prior density of the kernel hyperparameters and its gradient in theta (their
    logs): Gamma(2, 1) on the signal variance, Gamma(1.1, 30) on the noise variance, and
    -(0.1 l^2 + 0.1 / l^2) on each length scale l (the priors of Optuna's GPSampler). They
    keep a GP fitted to a few trials smooth and nearly noise-free."""
    val, grad, i = 0.0, np.zeros_like(theta), 0
    for h in kernel.hyperparameters:
        if h.fixed:
            continue
        k = h.n_elements
        v = np.exp(theta[i : i + k])
        if h.name.endswith("constant_value"):
            val += float(np.sum(np.log(v) - v))
            grad[i : i + k] = 1.0 - v
        elif h.name.endswith("noise_level"):
            val += float(np.sum(0.1 * np.log(v) - 30.0 * v))
            grad[i : i + k] = 0.1 - 30.0 * v
        elif h.name.endswith("length_scale"):
            val -= float(np.sum(0.1 * v**2 + 0.1 / v**2))
            grad[i : i + k] = -0.2 * v**2 + 0.2 / v**2
        i += k
    return val, grad


@functools.cache
def _prior_gp_class():
    from skopt.learning import GaussianProcessRegressor

    class PriorGP(GaussianProcessRegressor):
        """skopt's GP whose hyperparameters maximise the posterior (likelihood x prior)."""

        def log_marginal_likelihood(self, theta=None, eval_gradient=False, clone_kernel=True):
            out = super().log_marginal_likelihood(theta, eval_gradient, clone_kernel)
            if theta is None:
                return out
            lp, dlp = _log_prior(self.kernel_, np.asarray(theta))
            if eval_gradient:
                return out[0] + lp, out[1] + dlp
            return out + lp

    return PriorGP


def _fit_gp(X: np.ndarray, z: np.ndarray, seed: int, kernel=None):
    """A GP on standardised values z; hyperparameters fitted unless `kernel` is given."""
    from skopt.learning import GaussianProcessRegressor
    from skopt.learning.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    if kernel is None:
        d = X.shape[1]
        kernel = ConstantKernel(1.0, (1e-2, 1e2)) * Matern(
            length_scale=np.full(d, 0.5), length_scale_bounds=LS_BOUNDS, nu=2.5
        ) + WhiteKernel(1e-4, NOISE_BOUNDS)
        gp = _prior_gp_class()(kernel=kernel, optimizer=_Screened(seed), random_state=seed)
    else:
        gp = GaussianProcessRegressor(kernel=kernel, optimizer=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gp.fit(X, z)
    return gp


def _fit_trees(kind: str, X: np.ndarray, y: np.ndarray, seed: int):
    from skopt.learning import (
        ExtraTreesRegressor,
        GradientBoostingQuantileRegressor,
        RandomForestRegressor,
    )

    if kind == "RF":
        model = RandomForestRegressor(n_estimators=100, min_samples_leaf=3, random_state=seed)
    elif kind == "ET":
        model = ExtraTreesRegressor(n_estimators=100, min_samples_leaf=3, random_state=seed)
    else:
        model = GradientBoostingQuantileRegressor(random_state=seed)
    model.fit(X, y)
    return model


class _Screened:
    """Hyperparameter optimiser for the GP: screen a few random starting points by their
    likelihood (cheap, no gradient), then one L-BFGS-B run from the best. As good as several
    full restarts here at a fraction of the cost."""

    def __init__(self, seed: int, screen: int = 12) -> None:
        self.seed, self.screen = seed, screen

    def __call__(self, obj_func, initial_theta, bounds):
        from scipy.optimize import minimize

        rng = np.random.default_rng(self.seed)
        b = np.asarray(bounds)
        starts = [np.asarray(initial_theta)]
        starts += list(rng.uniform(b[:, 0], b[:, 1], (self.screen, len(b))))
        vals = [obj_func(t, eval_gradient=False) for t in starts]
        x0 = starts[int(np.argmin(vals))]
        res = minimize(
            obj_func, x0, jac=True, method="L-BFGS-B", bounds=b, options={"maxiter": 200}
        )
        return res.x, res.fun


class _Model:
    """A fitted surrogate; a GP models the standardised objective (mean / std kept here)."""

    def __init__(self, kind: str, X: np.ndarray, y: np.ndarray, seed: int) -> None:
        self.kind, self.seed = kind, seed
        self.mean = float(np.mean(y))
        self.std = float(np.std(y)) or 1.0
        if kind != "GP":
            self.m = _fit_trees(kind, X, y, seed)
            return
        z = (y - self.mean) / self.std
        if len(X) > HYPER_SUBSET:
            rng = np.random.default_rng(seed)
            order = np.argsort(y)
            best = order[: HYPER_SUBSET // 4]
            rest = rng.choice(order[HYPER_SUBSET // 4 :], HYPER_SUBSET - len(best), replace=False)
            idx = np.concatenate([best, rest])
            hyper = _fit_gp(X[idx], z[idx], seed)
            self.m = _fit_gp(X, z, seed, kernel=hyper.kernel_)
        else:
            self.m = _fit_gp(X, z, seed)

    def refit(self, X: np.ndarray, y: np.ndarray) -> _Model:
        """The model with extra (pending) data; a GP keeps its fitted hyperparameters and the
        standardisation they were fitted under (with the priors, better on the tuning half of
        the suite than standardising again with the pending values; see benchmarks/search)."""
        new = object.__new__(_Model)
        new.kind, new.seed, new.mean, new.std = self.kind, self.seed, self.mean, self.std
        if self.kind == "GP":
            new.m = _fit_gp(X, (y - self.mean) / self.std, self.seed, kernel=self.m.kernel_)
        else:
            new.m = _fit_trees(self.kind, X, y, self.seed)
        return new

    def predict(self, F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "GP":
            return self._predict_gp(F)
        if self.kind == "GBRT":
            # skopt's own predict(return_std=True) calls np.in1d, gone in numpy 2.4: the same
            # estimate from its quantile regressors (sd = (q84 - q16) / 2).
            q = self.m.predict(F, return_quantiles=True)
            qs = list(self.m.quantiles)
            lo, mid, hi = (q[:, qs.index(v)] for v in (0.16, 0.5, 0.84))
            return np.asarray(mid, dtype=float), np.asarray((hi - lo) / 2.0, dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mu, sd = self.m.predict(F, return_std=True)
        return np.asarray(mu, dtype=float), np.asarray(sd, dtype=float)

    def _predict_gp(self, F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The GP's posterior mean and sd with BLAS products (skopt's predict evaluates the
        variance with a three-operand einsum that is ~10x slower for thousands of points)."""
        from scipy.linalg import solve_triangular

        m = self.m
        K = m.kernel_(F, m.X_train_)
        mu = K @ m.alpha_
        v = solve_triangular(m.L_, K.T, lower=True, check_finite=False)
        var = np.maximum(m.kernel_.diag(F) - np.einsum("ij,ij->j", v, v), 1e-12)
        return mu * self.std + self.mean, np.sqrt(var) * self.std


# ---- acquisition optimisation --------------------------------------------------------------
def _perturb(
    rng: np.random.Generator, centres: np.ndarray, count: int, sigma: float, enc: Encoder
) -> np.ndarray:
    """Local candidates: Gaussian steps from the centres on a random subset of coordinates
    (about min(d, 5) of them, as in TuRBO / BoTorch's local search), discrete coordinates
    jumping to a neighbouring or random cell."""
    d = centres.shape[1]
    base = centres[rng.integers(len(centres), size=count)]
    prob = min(1.0, PERTURB_COORDS / d)
    mask = rng.random((count, d)) < prob
    none = ~mask.any(axis=1)
    mask[none, rng.integers(d, size=none.sum())] = True
    step = rng.normal(0.0, sigma, (count, d))
    # Discrete coordinates: move at least one cell when chosen.
    w = enc.cell_width
    disc = w > 0
    if disc.any():
        jump = np.sign(step[:, disc]) * np.maximum(np.abs(step[:, disc]), w[disc])
        step[:, disc] = jump
    out = np.clip(base + mask * step, 0.0, 1.0)
    return enc.snap(out)


def _maximise(
    score,
    enc: Encoder,
    rng: np.random.Generator,
    global_u: np.ndarray,
    centres: np.ndarray,
    n_local: int,
    taboo: set,
) -> np.ndarray:
    """The best point found for `score` (a function of snapped unit points)."""
    cand = np.vstack(
        [
            global_u,
            _perturb(rng, centres, n_local, 0.1, enc),
            _perturb(rng, centres, n_local // 2, 0.02, enc),
        ]
    )
    vals = score(cand)
    for sigma in (0.05, 0.01, 0.002):
        top = cand[np.argsort(-vals)[:5]]
        local = _perturb(rng, top, max(n_local // 4, 50), sigma, enc)
        cand = np.vstack([cand, local])
        vals = np.concatenate([vals, score(local)])
    for i in np.argsort(-vals):
        key = tuple(np.round(enc.features(cand[i : i + 1])[0], 9))
        if key not in taboo:
            return cand[i]
    return cand[int(np.argmax(vals))]


def trust_length(y_min_oriented: np.ndarray, n0: int, n: int, d: int) -> float:
    """Side of the trust region (unit-cube widths), replayed from the trials so far: doubled
    after 2 improving batches in a row, halved after max(2, d / n) batches without, reset
    to the start when it collapses (TuRBO's rule, made stateless)."""
    length, lo, hi = TR_INIT, 0.5**6, 1.6
    succ = fail = 0
    best = float(np.min(y_min_oriented[:n0])) if n0 else np.inf
    patience = max(2, math.ceil(d / max(n, 1)))
    for start in range(n0, len(y_min_oriented), max(n, 1)):
        batch = y_min_oriented[start : start + n]
        if len(batch) == 0:
            break
        b = float(np.min(batch))
        if b < best - 1e-3 * abs(best):
            succ, fail = succ + 1, 0
        else:
            succ, fail = 0, fail + 1
        best = min(best, b)
        if succ >= 2:
            length, succ = min(2 * length, hi), 0
        if fail >= patience:
            length, fail = length / 2, 0
        if length < lo:
            length = TR_INIT
    return length


def _trust_candidates(
    rng, enc: Encoder, centre: np.ndarray, length: float, count: int, seed: int
) -> np.ndarray:
    """Quasi-random points in the box of side `length` around `centre`; like TuRBO, each
    point moves only a random subset of about 20 coordinates away from the centre."""
    d = len(centre)
    lo = np.clip(centre - length / 2, 0.0, 1.0)
    hi = np.clip(centre + length / 2, 0.0, 1.0)
    pts = lo + (hi - lo) * unit_design("sobol", d, count, seed, 0)
    prob = min(1.0, TR_COORDS / d)
    mask = rng.random((count, d)) < prob
    none = ~mask.any(axis=1)
    mask[none, rng.integers(d, size=none.sum())] = True
    return enc.snap(np.where(mask, pts, centre))


def propose(
    space: Space, obs: Observations, n: int, seed: int, options: dict[str, Any]
) -> list[dict[str, Any]]:
    from threadpoolctl import threadpool_limits

    # The matrices are small: BLAS threads only cost (3-5x slower on 2 shared cores).
    with threadpool_limits(1):
        return _propose(space, obs, n, seed, options)


def _propose(
    space: Space, obs: Observations, n: int, seed: int, options: dict[str, Any]
) -> list[dict[str, Any]]:
    n0 = n_initial(options, space, n)
    ok = int(obs.ok.sum())
    if len(obs) < n0 or ok < 2:
        return initial_design(space, options["initial_design"], n, seed, len(obs))
    rng = rng_for(seed, len(obs), 7)
    enc = Encoder(space)
    U = enc.snap(obs.unit(space))
    X = enc.features(U)
    estimator = options["base_estimator"]
    model_seed = int(rng.integers(2**31 - 1))
    d = len(space.tuned)
    use_trust = d >= TRUST_REGION_MIN_DIM
    # auto by likelihood needs a GP and enough trials per dimension to trust the evidence; in
    # the trust-region regime (few trials for many dimensions) the tail rule did better.
    if options["y_transform"] == "auto" and estimator == "GP" and not use_trust:
        y, model, _ = _gp_auto(X, obs.y, model_seed)
    else:
        y = transform_y(obs.y, options["y_transform"])
        model = _Model(estimator, X, y, model_seed)
    # Candidate scoring grows with the trials; past 100 of them, use fewer candidates.
    n_cand = int(options["candidates"] * min(1.0, math.sqrt(100 / len(obs))))
    taboo = {tuple(np.round(x, 9)) for x in X}
    liar = {"cl_min": np.min, "cl_mean": np.mean, "cl_max": np.max}[options["liar"]](y)
    acqs = ["EI", "PI", "LCB"] if options["acq_func"] == "gp_hedge" else [options["acq_func"]]
    order = np.argsort(y)
    centres = U[order[: max(1, min(5, len(U) // 4))]]
    Xb, yb, chosen = X, y, []
    length = trust_length(obs.y, n0, n, d) if use_trust else 1.0
    for _ in range(n):
        global_u = enc.snap(unit_design("sobol", d, n_cand // 2, int(rng.integers(2**31)), 0))
        if use_trust and length < 1.0:
            best_u = U[int(np.argmin(y))]
            trust = _trust_candidates(
                rng, enc, best_u, length, n_cand // 2, int(rng.integers(2**31))
            )
            global_u = np.vstack([global_u[: n_cand // 4], trust])
        best_y = float(np.min(yb))
        picks = []
        # The first point of a batch of EXPLOIT_MIN_BATCH or more (GP, below the trust-region
        # regime) minimises the model's mean: its best guess, refined where EI explores.
        greedy = not chosen and n >= EXPLOIT_MIN_BATCH and not use_trust and estimator == "GP"
        for acq in ["mean"] if greedy else acqs:

            def score(C, acq=acq, model=model, best_y=best_y):
                mu, sd = model.predict(enc.features(C))
                return acquisition(acq, mu, sd, best_y, options["xi"], options["kappa"])

            picks.append(_maximise(score, enc, rng, global_u, centres, n_cand // 4, taboo))
        if len(picks) > 1:
            # gp_hedge as a one-step portfolio: prefer the acquisition whose pick the model
            # expects to be best (softmax of minus its predicted mean).
            mu, _ = model.predict(enc.features(np.vstack(picks)))
            g = -(mu - mu.min()) / (np.std(yb) + 1e-12)
            p = np.exp(g - g.max())
            u = picks[int(rng.choice(len(picks), p=p / p.sum()))]
        else:
            u = picks[0]
        chosen.append(u)
        f = enc.features(u[None, :])
        taboo.add(tuple(np.round(f[0], 9)))
        if len(chosen) < n:
            Xb = np.vstack([Xb, f])
            yb = np.append(yb, liar)
            model = model.refit(Xb, yb)
    return [space.from_unit(u) for u in chosen]
