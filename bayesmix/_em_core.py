"""EM for Gaussian mixtures as pure functions over prepared data.

:class:`~bayesmix.GaussianMixture`, :func:`~bayesmix.select_model` and the
bootstrap all fit through this module: a validated :class:`Config`, a
prepared :class:`~bayesmix._data.Data`, and

* :func:`initial_params` -- the ``init_params`` start (or user-given arrays);
* :func:`step` -- one EM iteration: one kernel pass (E-step with weighted
  sufficient statistics), the registry's M-step, re-seeding of empty
  components;
* :func:`run` -- :func:`step` until the mean log-likelihood changes by less
  than ``tol``, then a final E-step;
* :func:`fit` -- the best of ``n_init`` runs.

Everything here is in standardised units (see :class:`~bayesmix._data.Standardiser`).

References: Dempster, Laird & Rubin (1977); Bishop (2006) §9.2; McLachlan &
Peel (2000); Biernacki, Celeux & Govaert (2000) for ICL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import _components, _init
from ._data import Data, SortedRows, Standardiser
from ._fitting import best_run, describe_run
from ._init import INIT_METHODS
from ._kernels import MixtureStats, log_prob_pass
from ._validation import (
    check_bool,
    check_choice,
    check_int,
    check_random_state,
    check_real,
)
from .covariance import CovarianceStructure, get_structure

__all__ = [
    "Config",
    "Context",
    "Fit",
    "Params",
    "Run",
    "check_config",
    "check_init_arrays",
    "components",
    "context",
    "criteria",
    "fit",
    "initial_params",
    "m_step",
    "resp_stats",
    "run",
    "step",
]

EMPTY = 1e-10  # a component with less than this fraction of the weight is re-seeded


@dataclass
class Params:
    """Parameters in standardised units."""

    weights: np.ndarray  # (K,)
    means: np.ndarray  # (K, D)
    covariances: np.ndarray  # structure's shape
    prec_chol: np.ndarray  # structure's shape


@dataclass
class Run:
    """One EM run from one start."""

    params: Params
    lower_bounds: list  # mean log-likelihood per unit weight at every E-step
    converged: bool
    log_likelihood: float  # total, at the returned parameters
    events: list  # DegenerateDataWarning messages of this run
    collapsed: np.ndarray | None = None
    log_max_resp: float = np.nan  # sum_i w_i log max_k r_ik at the returned parameters


class Fit(NamedTuple):
    """The best of ``n_init`` runs, and what the fit of the data reports."""

    best: Run
    ctx: Context
    messages: list  # DegenerateDataWarning messages, in order, without repeats


@dataclass(frozen=True)
class Context:
    """What one fit's iterations share (standardised units)."""

    reg: float  # reg_covar
    scale: float  # data units per standardised unit
    nk_floor: float  # added to every count, so empty components stay finite


class Config(NamedTuple):
    """Validated estimator parameters."""

    n_components: int
    structure: CovarianceStructure
    tol: float
    reg_covar: float | str
    max_iter: int
    n_init: int
    init_params: str
    verbose: int


# ------------------------------------------------------------------- checking
def check_config(params: dict) -> tuple[Config, np.random.Generator]:
    """Validate :class:`~bayesmix.GaussianMixture` parameters (``get_params()``);
    returns the :class:`Config` and the random generator.  Nothing compiled runs."""
    n_components = check_int(params["n_components"], "n_components", low=1)
    structure = get_structure(params["covariance_type"])
    check_real(params["tol"], "tol", low=0.0)
    reg_covar = params["reg_covar"]
    if isinstance(reg_covar, str):
        if reg_covar != "auto":
            raise ValueError(
                f"reg_covar={reg_covar!r} is not supported; use 'auto' or a non-negative float."
            )
    else:
        check_real(reg_covar, "reg_covar", low=0.0)
    check_int(params["max_iter"], "max_iter", low=0)
    check_int(params["n_init"], "n_init", low=1)
    check_choice(params["init_params"], "init_params", INIT_METHODS)
    check_bool(params["warm_start"], "warm_start")
    verbose = params["verbose"]
    if not isinstance(verbose, (bool, np.bool_)):
        check_int(verbose, "verbose", low=0)
    config = Config(
        n_components,
        structure,
        params["tol"],
        reg_covar,
        params["max_iter"],
        params["n_init"],
        params["init_params"],
        verbose,
    )
    return config, check_random_state(params["random_state"])


def _as_float_array(value, name):
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers.") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity; pass finite values.")
    return arr


def check_init_arrays(config: Config, params: dict, n_features: int) -> dict:
    """Validate user-given initial parameters (``weights_init``, ``means_init``,
    ``precisions_init`` in ``params``); returns them as arrays keyed
    ``weights`` / ``means`` / ``precisions``."""
    k, d = config.n_components, n_features
    structure = config.structure
    out = {}
    if params["weights_init"] is not None:
        w = _as_float_array(params["weights_init"], "weights_init")
        if w.shape != (k,):
            raise ValueError(
                f"weights_init must have shape (n_components,) = ({k},), got {w.shape}; "
                "pass one weight per component."
            )
        if (w < 0).any() or not np.isclose(w.sum(), 1.0, rtol=0, atol=1e-6):
            raise ValueError(
                "weights_init must be non-negative and sum to 1, got sum "
                f"{w.sum():.6g}; normalise it with w / w.sum()."
            )
        out["weights"] = w / w.sum()
    if params["means_init"] is not None:
        m = _as_float_array(params["means_init"], "means_init")
        if m.shape != (k, d):
            raise ValueError(
                f"means_init must have shape (n_components, n_features) = ({k}, {d}), "
                f"got {m.shape}; pass one row of means per component."
            )
        out["means"] = m
    if params["precisions_init"] is not None:
        p = _as_float_array(params["precisions_init"], "precisions_init")
        shape = structure.shape(k, d)
        if p.shape != shape:
            raise ValueError(
                f"precisions_init must have shape {shape} for covariance_type="
                f"{structure.name!r} (n_components={k}, n_features={d}), got {p.shape}."
            )
        full = structure.to_full(p, k, d)
        if not np.allclose(full, np.swapaxes(full, -1, -2), rtol=1e-10, atol=0):
            raise ValueError(
                "precisions_init must be symmetric; symmetrise it, e.g. with "
                "(P + P.swapaxes(-1, -2)) / 2."
            )
        if not (np.linalg.eigvalsh(full) > 0).all():
            raise ValueError(
                "precisions_init must be positive definite (every eigenvalue > 0; for "
                "covariance_type 'diag' or 'spherical' every value > 0); pass inverse "
                "covariances."
            )
        out["precisions"] = p
    return out


# ------------------------------------------------------------------ the steps
def internal_reg(reg_covar, std: Standardiser) -> float:
    """``reg_covar`` in standardised units (``"auto"``: 1e-6 of the mean variance)."""
    if isinstance(reg_covar, str):
        if std.mean_variance == 0.0:
            return 1e-6
        return 1e-6 * std.mean_variance / std.scale**2
    return float(reg_covar) / std.scale**2


def context(data: Data, reg_covar) -> Context:
    std, w = data.std, data.w
    return Context(
        reg=internal_reg(reg_covar, std),
        scale=std.scale,
        # sklearn's 10 eps guard on the counts, in units of the mean weight so that
        # scaling every weight by a constant changes nothing.
        nk_floor=10.0 * np.finfo(float).eps * float(w.sum()) / w.shape[0],
    )


def resp_stats(data: Data, resp, ctx: Context, diagonal: bool) -> MixtureStats:
    """Weighted statistics of responsibilities, accumulated around the
    partition's own means (``stats.shift``)."""
    Xt, w = data.Xt, data.w
    k, d = resp.shape[1], Xt.shape[0]
    stats = MixtureStats(Xt.shape[1], k, d, diagonal)
    # Two passes: the second accumulates around the partition's own means,
    # so the covariances do not lose digits to cancellation.
    stats.from_resp(Xt, w, resp, np.zeros((k, d)))
    shift = stats.s1 / (stats.nk + ctx.nk_floor)[:, None]
    stats.from_resp(Xt, w, resp, shift)
    stats.shift = shift
    return stats


def m_step(structure: CovarianceStructure, stats, shift, ctx: Context):
    """Parameters from statistics accumulated around ``shift``; returns
    ``(params, jitter added or None)``."""
    nk = stats.nk + ctx.nk_floor
    means = shift + stats.s1 / nk[:, None]
    covs = structure.estimate(nk, stats.s1, stats.s2, ctx.reg)
    covs, prec_chol, jitter = structure.factorise(covs)
    return Params(nk / nk.sum(), means, covs, prec_chol), jitter


def components(structure: CovarianceStructure, params: Params) -> _components.Components:
    """The kernels' arrays of Gaussian components (standardised units)."""
    k, d = params.means.shape
    prec, _ = structure.kernel_arrays(params.prec_chol, k, d)
    return _components.gaussian(params.weights, params.means, prec)


def initial_resp(config: Config, rows: SortedRows, rng, init_index: int = 0) -> np.ndarray:
    """``init_params`` responsibilities (n_samples, n_components), computed on
    the rows in canonical order and returned in the caller's order."""
    resp = np.empty((rows.order.size, config.n_components))
    resp[rows.order] = _init.initial_resp(
        config.init_params, rows.Xt, rows.w, config.n_components, rng, init_index=init_index
    )
    return resp


def initial_params(config: Config, data: Data, rng, given: dict, ctx: Context, init_index=0):
    """Initial parameters (standardised units) and the jitter their
    factorisation needed (None if none)."""
    Xt, std = data.Xt, data.std
    k, d = config.n_components, Xt.shape[0]
    structure = config.structure
    jitter = None
    if not {"weights", "means", "precisions"} <= given.keys():
        resp = initial_resp(config, data.rows, rng, init_index)
        stats = resp_stats(data, resp, ctx, structure.diagonal)
        params, jitter = m_step(structure, stats, stats.shift, ctx)
    else:
        params = Params(np.full(k, 1.0 / k), np.zeros((k, d)), None, None)
    if "weights" in given:
        params.weights = given["weights"].copy()
    if "means" in given:
        params.means = (given["means"] - std.center) / std.scale
    if "precisions" in given:
        prec = given["precisions"] * std.scale**2
        cov_full = np.linalg.inv(structure.to_full(prec, k, d))
        covs = structure.from_full(cov_full)
        params.covariances, params.prec_chol, jitter = structure.factorise(covs)
    return params, jitter


def reseed(structure: CovarianceStructure, Xt, w, params: Params):
    """Move empty components to the worst-explained rows of positive weight,
    with the pooled covariance; returns ``(params, jitter or None)``."""
    comps = components(structure, params)
    n_samples = Xt.shape[1]
    row_lse = np.empty(n_samples)
    log_prob_pass(Xt, comps.means, comps.prec, comps.log_const, row_lse=row_lse)
    row_lse[w <= 0] = np.inf  # a row without weight cannot hold a component
    empty = np.flatnonzero(params.weights < EMPTY)
    worst = np.argsort(row_lse, kind="stable")[: empty.size]
    k, d = params.means.shape
    full = structure.to_full(params.covariances, k, d)
    pooled = np.einsum("k,kij->ij", params.weights, full)
    new_full = np.array(full)
    means = params.means.copy()
    weights = params.weights.copy()
    total = float(w.sum())
    for j, row in zip(empty, worst, strict=False):
        means[j] = Xt[:, row]
        new_full[j] = pooled
        weights[j] = max(w[row] / total, 1.0 / n_samples)
    weights /= weights.sum()
    covs, prec_chol, jitter = structure.factorise(structure.from_full(new_full))
    return Params(weights, means, covs, prec_chol), jitter


class State(NamedTuple):
    """What one EM iteration hands the next."""

    params: Params
    jitter: np.ndarray | None  # diagonal jitter the M-step's factorisation needed
    reseeded: np.ndarray  # components re-seeded after the M-step (indices)
    reseed_jitter: np.ndarray | None  # jitter the re-seeded parameters needed
    log_likelihood: float  # total at the parameters the step started from


def step(structure: CovarianceStructure, data: Data, stats: MixtureStats, params, ctx) -> State:
    """One EM iteration from ``params``: E-step (one kernel pass filling
    ``stats``), M-step, and re-seeding of components left without weight."""
    Xt, w = data.Xt, data.w
    comps = components(structure, params)
    stats.e_step(Xt, w, comps.means, comps.prec, comps.log_const)
    log_likelihood = stats.log_likelihood
    new, jitter = m_step(structure, stats, comps.means, ctx)
    empty = np.flatnonzero(new.weights < EMPTY)
    reseed_jitter = None
    if empty.size:
        new, reseed_jitter = reseed(structure, Xt, w, new)
    return State(new, jitter, empty, reseed_jitter, log_likelihood)


def run(config: Config, data: Data, params: Params, ctx: Context, jitter=None) -> Run:
    """:func:`step` from ``params`` until converged or ``max_iter``, then a
    final E-step, so ``log_likelihood`` belongs to the returned parameters."""
    structure = config.structure
    Xt, w = data.Xt, data.w
    k, d = params.means.shape
    stats = MixtureStats(Xt.shape[1], k, d, structure.diagonal)
    total = w.sum()
    lower_bounds = []
    log = EventLog(structure, ctx.scale)
    log.jitter(jitter, 0)
    converged = False
    for it in range(config.max_iter):
        state = step(structure, data, stats, params, ctx)
        params = state.params
        lower_bounds.append(state.log_likelihood / total)
        log.jitter(state.jitter, it + 1)
        if state.reseeded.size:
            log.reseed(state.reseeded, it + 1)
            log.jitter(state.reseed_jitter, it + 1)
        if config.verbose >= 2:
            print(f"  iteration {it + 1}: mean log-likelihood {lower_bounds[-1]:.8f}")
        # An iteration that re-seeded moved the parameters: not a fixed point.
        if (
            it > 0
            and not state.reseeded.size
            and abs(lower_bounds[-1] - lower_bounds[-2]) < config.tol
        ):
            converged = True
            break
    # A final E-step: log_likelihood_ belongs to the returned parameters, and
    # fit_predict(X) equals fit(X).predict(X).
    comps = components(structure, params)
    stats.e_step(Xt, w, comps.means, comps.prec, comps.log_const)
    return Run(
        params,
        lower_bounds,
        converged,
        stats.log_likelihood,
        log.messages(),
        log_max_resp=stats.icl_term,
    )


def fit(
    config: Config,
    data: Data,
    rng,
    given: dict,
    *,
    warm: Params | None = None,
    start=None,
) -> Fit:
    """The best of ``n_init`` runs (one from ``warm`` parameters when given).

    ``start`` (``(params, jitter)`` in standardised units) replaces the first
    initialisation: :func:`~bayesmix.select_model` passes the shared start of
    its grid.  A run with a collapsed component sits on a spike of the
    (unbounded) likelihood: it is a degenerate solution, not a better fit, so
    any proper run beats it (mclust reports such fits as singular).
    """
    structure = config.structure
    ctx = context(data, config.reg_covar)
    events = constant_feature_messages(structure, data, ctx.reg)
    total = float(data.w.sum())
    log_jac = data.Xt.shape[0] * data.std.log_scale

    def run_init(init: int) -> Run:
        if warm is not None:
            start_params, jitter = warm, None
        elif start is not None and init == 0:
            start_params, jitter = start
        else:
            start_params, jitter = initial_params(config, data, rng, given, ctx, init)
        result = run(config, data, start_params, ctx, jitter)
        k, d = result.params.means.shape
        result.collapsed = structure.collapsed(result.params.covariances, k, d, ctx.reg)
        return result

    best = best_run(
        1 if warm is not None else config.n_init,
        run_init,
        key=lambda r: (r.collapsed.size, -r.log_likelihood),
        describe=lambda r: describe_run(
            "log-likelihood",
            r.log_likelihood - total * log_jac,
            len(r.lower_bounds),
            r.converged,
        ),
        verbose=config.verbose,
    )
    messages = events + best.events + collapse_messages(structure, best.collapsed, ctx)
    return Fit(best, ctx, list(dict.fromkeys(messages)))


def criteria(log_likelihood: float, log_max_resp: float, n_parameters: int, total: float):
    """``{"bic", "aic", "icl"}`` (scikit-learn's sign: lower is better) from the
    total log-likelihood, ICL's ``sum_i w_i log max_k p(k | x_i)``, the number
    of free parameters and the total weight ``n``."""
    bic = -2.0 * log_likelihood + n_parameters * np.log(total)
    return {
        "bic": bic,
        "aic": -2.0 * log_likelihood + 2.0 * n_parameters,
        "icl": bic - 2.0 * log_max_resp,
    }


# ------------------------------------------------------------------- messages
class EventLog:
    """Regularisation and re-seeding steps of one EM run, summarised into one
    message per kind for the DegenerateDataWarning."""

    def __init__(self, structure: CovarianceStructure, scale: float):
        self._shared = structure.shared
        self._scale2 = scale * scale
        self._jitter: dict[int, float] = {}
        self._jitter_iters: list[int] = []
        self._reseeds: dict[int, list[int]] = {}

    def jitter(self, added, iteration: int) -> None:
        if added is None:
            return
        for k in np.flatnonzero(added > 0).tolist():
            self._jitter[k] = max(self._jitter.get(k, 0.0), float(added[k]))
        self._jitter_iters.append(iteration)

    def reseed(self, components, iteration: int) -> None:
        for k in components.tolist():
            self._reseeds.setdefault(k, []).append(iteration)

    def messages(self) -> list[str]:
        out = []
        if self._jitter:
            which = (
                "the tied covariance"
                if self._shared
                else f"the covariance of component(s) {sorted(self._jitter)}"
            )
            iters = sorted(set(self._jitter_iters))
            out.append(
                f"{which} was not numerically positive definite (at iteration(s) "
                f"{_short_list(iters)}; 0 is the initialisation); added up to "
                f"{max(self._jitter.values()) * self._scale2:.3g} to its diagonal. Set "
                "reg_covar > 0 (e.g. 'auto') to regularise every component."
            )
        for k, iters in sorted(self._reseeds.items()):
            out.append(
                f"component {k} lost all its weight (at iteration(s) {_short_list(iters)}) "
                "and was re-seeded at the worst-explained row with the pooled covariance"
            )
        return out


def _short_list(values: list[int], limit: int = 8) -> str:
    if len(values) <= limit:
        return str(values)
    return f"{values[: limit // 2]} ... {values[-limit // 2 :]} ({len(values)} in all)"


def constant_feature_messages(structure: CovarianceStructure, data: Data, reg) -> list[str]:
    std = data.std
    reg_data = reg * std.scale**2
    if std.mean_variance == 0.0:
        return [
            "every row of X is the same point; the covariance is reg_covar * I with "
            f"reg_covar={reg_data:.3g}"
        ]
    var = data.variances
    const = np.flatnonzero(var <= 1e-24 * var.max())
    if const.size == 0:
        return []
    if structure.isotropic:
        effect = "they only shrink the spherical variances"
    else:
        effect = f"the variance along them is reg_covar={reg_data:.3g}"
    return [
        f"feature(s) {const.tolist()} of X are constant and carry no information about "
        f"the components; {effect}. Drop them to silence this warning."
    ]


def collapse_messages(structure: CovarianceStructure, collapsed, ctx: Context) -> list[str]:
    """Components whose covariance is (nearly) ``reg_covar`` in some direction:
    they sit on a point or a subspace, so only the regularisation keeps them
    finite."""
    if collapsed.size == 0:
        return []
    which = "the tied covariance" if structure.shared else f"component(s) {collapsed.tolist()}"
    reg_data = ctx.reg * ctx.scale**2
    if ctx.reg == 0:
        cure = "it is (nearly) singular; set reg_covar > 0 to regularise it"
    else:
        cure = f"the covariance was regularised by reg_covar={reg_data:.3g} on the diagonal"
    return [
        f"{which} collapsed onto a point or a lower-dimensional set (duplicated rows, a "
        f"singleton cluster, or constant or collinear columns); {cure}"
    ]
