"""Maximum-likelihood Gaussian mixtures by expectation-maximisation.

Orchestration only: one kernel call per iteration reads the data once and
returns the log-likelihood and the weighted sufficient statistics; the
covariance registry turns those into parameters.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from . import _init
from ._base import BaseMixture
from ._data import Data, SortedRows, Standardiser, prepare
from ._init import INIT_METHODS
from ._kernels import MixtureStats, log_prob_pass
from ._validation import (
    check_bool,
    check_choice,
    check_distinct_rows,
    check_fitted,
    check_int,
    check_random_state,
    check_real,
)
from .covariance import gaussian_log_const, get_structure
from .exceptions import ConvergenceWarning, DegenerateDataWarning

__all__ = ["GaussianMixture"]

_EMPTY = 1e-10  # a component with less than this fraction of the weight is re-seeded


@dataclass
class _Params:
    """Parameters in standardised units."""

    weights: np.ndarray  # (K,)
    means: np.ndarray  # (K, D)
    covariances: np.ndarray  # structure's shape
    prec_chol: np.ndarray  # structure's shape


@dataclass
class _Run:
    params: _Params
    lower_bounds: list
    converged: bool
    log_likelihood: float
    events: list
    collapsed: np.ndarray | None = None
    log_max_resp: float = np.nan  # sum_i w_i log max_k r_ik at the returned parameters


@dataclass(frozen=True)
class _Context:
    """What one fit's iterations share (standardised units)."""

    reg: float  # reg_covar
    scale: float  # data units per standardised unit
    nk_floor: float  # added to every count, so empty components stay finite


def _resp_stats(data: Data, resp, ctx: _Context, diagonal: bool) -> MixtureStats:
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


class _EventLog:
    """Regularisation and re-seeding steps of one EM run, summarised into one
    message per kind for the DegenerateDataWarning."""

    def __init__(self, structure_name: str, scale: float):
        self._tied = structure_name == "tied"
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
                if self._tied
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


def _add_to_diagonal(structure, covs: np.ndarray, added: np.ndarray) -> np.ndarray:
    """``covs`` (this structure's shape) plus ``added`` (K,) (or (1,) for tied) on
    each component's diagonal."""
    if structure.diagonal:  # diag (K, D) or spherical (K,)
        return covs + added.reshape((-1,) + (1,) * (covs.ndim - 1))
    eye = np.eye(covs.shape[-1])
    if covs.ndim == 2:  # tied
        return covs + added[0] * eye
    return covs + added[:, None, None] * eye


class GaussianMixture(BaseMixture):
    """Gaussian mixture fitted by maximum likelihood (EM).

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components K.
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
        Structure of the covariances (scikit-learn's vocabulary; mclust's VVV,
        EEE, VVI and VII).
    tol : float, default=1e-3
        Stop when the mean log-likelihood per unit of weight changes by less.
    reg_covar : float or "auto", default="auto"
        Added to the diagonal of every covariance.  A float is absolute, in
        squared data units, exactly as in scikit-learn.  ``"auto"`` is
        ``1e-6`` times the average per-feature variance of the training data,
        so the fit is the same whatever the units of ``X``.
    max_iter : int, default=100
        Maximum EM iterations per initialisation.
    n_init : int, default=1
        Initialisations to run; the one with the highest final log-likelihood is kept.
    init_params : {"auto", "hierarchical", "kmeans", "k-means++", "random", \
"random_from_data"}, default="auto"
        How initial responsibilities are made.  "hierarchical" is mclust's
        start: model-based agglomerative clustering (Fraley 1998) of the rows in
        mclust's scaled SVD coordinates, or equal-weight quantile classes for a
        single feature; deterministic, exact up to 2000 distinct rows (fewer
        beyond 16 features), above which it clusters a weighted random
        subsample of that size (about 0.5 s for 1e6 rows of 8 features).
        "auto" uses it for the first initialisation (k-means instead when there
        would be fewer than ``2 * n_features`` clustered rows per component;
        "first" means the generator of ``random_state`` is still unused, as
        with an int or None) and, for each further one of ``n_init``,
        k-means++ or "random_from_data", drawn at random.  With ``n_init=20``
        it reaches at least R mclust's log-likelihood on the bundled data sets
        for every shared model and K (one start reaches all but two of them).
        The others: weighted k-means (k-means++ seeding then Lloyd iterations),
        k-means++ seeds with each row given to its nearest seed, random
        responsibilities, or distinct data points drawn with probability
        proportional to their weight as seeds with nearest-seed assignment.
        All but "random" give a row of integer weight m the same start as m
        repeated rows.
    weights_init, means_init, precisions_init : array-like, optional
        User-given initial parameters (scikit-learn shapes); they replace the
        corresponding part of the ``init_params`` initialisation.
    random_state : None, int or numpy Generator
        Seed; the same seed gives the same fit bit for bit, whatever the
        number of threads.
    warm_start : bool, default=False
        Start the next ``fit`` from this fit's parameters (``n_init`` is then 1)
        when it has the same ``n_components``, ``covariance_type`` and number
        of features; otherwise the next fit starts afresh.
    verbose : int, default=0
        Print the log-likelihood every iteration when >= 2, per init when 1.

    Attributes
    ----------
    weights_ : (n_components,)
    means_ : (n_components, n_features)
    covariances_, precisions_, precisions_cholesky_ :
        scikit-learn shapes for ``covariance_type``.
    converged_ : bool
    collapsed_components_ : (n_collapsed,) int array
        Components (``[0]`` for "tied") whose covariance collapsed onto a point
        or a subspace and is held only by ``reg_covar``: a degenerate solution.
        Among ``n_init`` runs, one without such a component is kept over a
        collapsed one whatever their log-likelihoods.
    n_iter_ : int
    lower_bound_ : float
        Mean log-likelihood per unit weight at the last E-step.
    lower_bounds_ : list of float
        ``lower_bound_`` at every iteration of the kept run.
    log_likelihood_ : float
        Total (weighted) log-likelihood of the training data at the fitted
        parameters.
    n_features_in_, feature_names_in_ :
        As in scikit-learn (names only for DataFrame input).

    Notes
    -----
    *Degenerate data never crash a fit* (the README's "Degenerate data"
    section says the same).  Every covariance carries ``reg_covar`` on its
    diagonal, so a component that collapses onto one point (a singleton
    cluster), onto duplicated rows, or onto a subspace (constant or collinear
    columns) keeps a positive-definite covariance, and a
    :class:`~bayesmix.exceptions.DegenerateDataWarning` names the components
    (or the tied covariance) and the ``reg_covar`` used.  Constant columns,
    and data whose rows are all the same point (then ``"auto"`` means
    ``reg_covar=1e-6``, there being no variance to be relative to), are
    reported too.  Should a covariance still not factorise (``reg_covar=0``),
    about ``1e-10`` times the data's average variance is added to its diagonal,
    growing tenfold until it does; the jitter is kept in ``covariances_`` and
    reported.  A component whose weight falls below 1e-10 of the total is
    re-seeded at the worst-explained row with the pooled covariance, also with
    a warning.  The data are internally centred and scaled by a power of two,
    so values near 1e150 or 1e-150 (or offset by 1e8) fit like values near 1:
    the fit of ``c * X`` (``c > 0``) is ``c`` times the fit of ``X``.

    ``sample_weight`` are frequency weights: rows of zero weight are dropped,
    integer weights give the same fit as repeated rows and multiplying all
    weights by a constant changes nothing.  The initialisation draws its
    random numbers with the rows in a canonical order (sorted along a fixed
    direction), so with ``init_params`` "kmeans" or "k-means++" the same
    ``random_state`` gives the same fit whatever the order of the rows and
    whether a row is repeated or weighted ("random" draws per row, so it
    cannot promise the latter).

    References
    ----------
    Dempster, Laird & Rubin (1977); Bishop (2006) §9.2; McLachlan & Peel (2000).
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float | str = "auto",
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "auto",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start: bool = False,
        verbose: int = 0,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        """Validate the constructor parameters (nothing is stored); returns the
        covariance structure and the random generator."""
        check_int(self.n_components, "n_components", low=1)
        structure = get_structure(self.covariance_type)
        check_real(self.tol, "tol", low=0.0)
        if isinstance(self.reg_covar, str):
            if self.reg_covar != "auto":
                raise ValueError(
                    f"reg_covar={self.reg_covar!r} is not supported; use 'auto' or a "
                    "non-negative float."
                )
        else:
            check_real(self.reg_covar, "reg_covar", low=0.0)
        check_int(self.max_iter, "max_iter", low=0)
        check_int(self.n_init, "n_init", low=1)
        check_choice(self.init_params, "init_params", INIT_METHODS)
        check_bool(self.warm_start, "warm_start")
        if not isinstance(self.verbose, (bool, np.bool_)):
            check_int(self.verbose, "verbose", low=0)
        return structure, check_random_state(self.random_state)

    def _check_init_arrays(self, structure, n_features: int) -> dict:
        """Validate user-given initial parameters; returns them as arrays."""
        k, d = self.n_components, n_features
        out = {}
        if self.weights_init is not None:
            w = _as_float_array(self.weights_init, "weights_init")
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
        if self.means_init is not None:
            m = _as_float_array(self.means_init, "means_init")
            if m.shape != (k, d):
                raise ValueError(
                    f"means_init must have shape (n_components, n_features) = ({k}, {d}), "
                    f"got {m.shape}; pass one row of means per component."
                )
            out["means"] = m
        if self.precisions_init is not None:
            p = _as_float_array(self.precisions_init, "precisions_init")
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

    # --------------------------------------------------------------- fitting
    def fit(self, X, y=None, sample_weight=None):
        """Fit the mixture by EM.

        Parameters
        ----------
        X : array-like or DataFrame, (n_samples, n_features)
        y : ignored
        sample_weight : array-like (n_samples,), optional
            Non-negative frequency weights.

        Returns
        -------
        self
        """
        # Every check runs before any compiled code, and nothing fitted is
        # touched until all of them passed.
        structure, rng = self._check_params()
        data = prepare(X, sample_weight, self.n_components)
        self._check_distinct(data)
        init_arrays = self._check_init_arrays(structure, data.Xt.shape[0])
        # warm_start continues only a fit of the same model on the same features.
        warm = (
            self.warm_start
            and hasattr(self, "_params")
            and self._structure.name == structure.name
            and self._params.means.shape == (self.n_components, data.Xt.shape[0])
        )
        if warm:
            data = data.restandardised(self._standardiser)
        return self._fit_prepared(data, structure, rng, init_arrays, warm=warm)

    def _check_distinct(self, data: Data) -> None:
        check_distinct_rows(self.n_components, data.n_distinct)

    def _context(self, data: Data) -> _Context:
        std, w = data.std, data.w
        return _Context(
            reg=self._internal_reg(std),
            scale=std.scale,
            # sklearn's 10 eps guard on the counts, in units of the mean weight so that
            # scaling every weight by a constant changes nothing.
            nk_floor=10.0 * np.finfo(float).eps * float(w.sum()) / w.shape[0],
        )

    def _fit_prepared(self, data: Data, structure, rng, init_arrays, warm=False, start=None):
        """EM on prepared data.  ``start`` (standardised :class:`_Params`, with
        ``n_init=1``) replaces the first initialisation: :func:`select_model`
        passes the shared start of its grid."""
        Xt, w, std, names = data.Xt, data.w, data.std, data.names
        n_features = Xt.shape[0]
        self._structure = structure
        ctx = self._context(data)
        reg = ctx.reg
        events = self._constant_feature_messages(data, reg)

        best = None
        n_init = 1 if warm else self.n_init
        for init in range(n_init):
            if warm:
                start_params, jitter = self._params, None
            elif start is not None and init == 0:
                start_params, jitter = start
            else:
                start_params, jitter = self._initial_params(data, rng, init_arrays, ctx, init)
            run = self._em(Xt, w, start_params, ctx, jitter)
            if self.verbose:
                ll = run.log_likelihood - float(w.sum()) * n_features * std.log_scale
                print(
                    f"init {init}: log-likelihood {ll:.6f} after {len(run.lower_bounds)} "
                    f"iterations, converged={run.converged}"
                )
            # A run with a collapsed component sits on a spike of the (unbounded)
            # likelihood: it is a degenerate solution, not a better fit, so any
            # proper run beats it (mclust reports such fits as singular).
            run.collapsed = self._collapsed(run.params, reg)
            if best is None or (run.collapsed.size, -run.log_likelihood) < (
                best.collapsed.size,
                -best.log_likelihood,
            ):
                best = run

        self._standardiser = std
        self._reg = reg
        self._params = best.params
        self.converged_ = best.converged
        self.n_iter_ = len(best.lower_bounds)
        # The kernels see (X - center) / scale: densities differ by the Jacobian.
        log_jac = n_features * std.log_scale
        self.lower_bounds_ = [lb - log_jac for lb in best.lower_bounds]
        self.lower_bound_ = self.lower_bounds_[-1] if self.lower_bounds_ else -np.inf
        self.log_likelihood_ = best.log_likelihood - float(w.sum()) * log_jac
        # sum_i w_i log max_k p(k | x_i) at the fitted parameters: ICL's entropy term
        self._train_log_max_resp = best.log_max_resp
        self.n_features_in_ = n_features
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self._set_public_params()
        self.collapsed_components_ = best.collapsed

        for msg in dict.fromkeys(events + best.events + self._collapse_messages()):
            warnings.warn(msg, DegenerateDataWarning, stacklevel=3)
        if not best.converged and self.max_iter > 0:
            lbs = best.lower_bounds
            if len(lbs) > 1:
                detail = (
                    f"the last change of the mean log-likelihood, {abs(lbs[-1] - lbs[-2]):.3g}, "
                    f"is above tol={self.tol}"
                )
            else:
                detail = "a single iteration cannot show convergence"
            warnings.warn(
                f"EM did not converge within max_iter={self.max_iter} iterations ({detail}). "
                f"Increase max_iter (e.g. max_iter={max(10, 4 * self.max_iter)}), raise tol, "
                "or start closer to the optimum: more n_init, another init_params, or "
                "continue this fit with warm_start=True.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _internal_reg(self, std: Standardiser) -> float:
        """``reg_covar`` in standardised units."""
        if isinstance(self.reg_covar, str):
            if std.mean_variance == 0.0:
                return 1e-6
            return 1e-6 * std.mean_variance / std.scale**2
        return float(self.reg_covar) / std.scale**2

    def _constant_feature_messages(self, data: Data, reg) -> list[str]:
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
        if self._structure.name == "spherical":
            effect = "they only shrink the spherical variances"
        else:
            effect = f"the variance along them is reg_covar={reg_data:.3g}"
        return [
            f"feature(s) {const.tolist()} of X are constant and carry no information about "
            f"the components; {effect}. Drop them to silence this warning."
        ]

    def _initial_params(self, data: Data, rng, given, ctx, init_index=0):
        """Initial parameters (standardised units) and the jitter their
        factorisation needed (None if none)."""
        Xt, std = data.Xt, data.std
        k, d = self.n_components, Xt.shape[0]
        structure = self._structure
        jitter = None
        if not {"weights", "means", "precisions"} <= given.keys():
            resp = self._initial_resp(data.rows, rng, init_index)
            params, jitter = self._params_from_resp(data, resp, ctx)
        else:
            params = _Params(np.full(k, 1.0 / k), np.zeros((k, d)), None, None)
        if "weights" in given:
            params.weights = given["weights"].copy()
        if "means" in given:
            params.means = (given["means"] - std.center) / std.scale
        if "precisions" in given:
            prec = given["precisions"] * std.scale**2
            cov_full = np.linalg.inv(structure.to_full(prec, k, d))
            covs = structure.from_full(cov_full)
            params.covariances, params.prec_chol, jitter = self._factorise(covs)
        return params, jitter

    def _params_from_resp(self, data: Data, resp, ctx):
        """The M-step of responsibilities (n_samples, K): ``(params, jitter)``."""
        stats = _resp_stats(data, resp, ctx, self._structure.diagonal)
        return self._m_step(stats, stats.shift, ctx)

    def _initial_resp(self, rows: SortedRows, rng, init_index: int = 0) -> np.ndarray:
        """``init_params`` responsibilities (n_samples, n_components), computed on
        the rows in canonical order and returned in the caller's order."""
        resp = np.empty((rows.order.size, self.n_components))
        resp[rows.order] = _init.initial_resp(
            self.init_params, rows.Xt, rows.w, self.n_components, rng, init_index=init_index
        )
        return resp

    def _factorise(self, covs):
        """``(covariances, precision Cholesky factors, jitter added)``.

        A covariance that is not numerically positive definite (only possible
        with ``reg_covar`` 0 or tiny) gets ``1e-10`` (standardised units, where
        the data's variance is about 1) on its diagonal, growing tenfold until
        it factorises.  The jitter stays in the returned covariances, so
        ``covariances_`` and ``precisions_`` remain inverses of each other.
        """
        structure = self._structure
        prec_chol, failed = structure.precision_cholesky(covs)
        bad = failed > 0
        if not bad.any():
            return covs, prec_chol, None
        amount = 1e-10
        for _ in range(40):
            added = np.where(bad, amount, 0.0)
            trial = _add_to_diagonal(structure, covs, added)
            prec_chol, failed = structure.precision_cholesky(trial)
            if not (failed > 0).any():
                return trial, prec_chol, added
            amount *= 10.0
        raise FloatingPointError(  # pragma: no cover - only non-finite covariances get here
            "a covariance could not be made positive definite; the data or the initial "
            "parameters are not finite."
        )

    def _m_step(self, stats: MixtureStats, shift, ctx):
        """Parameters from statistics accumulated around ``shift``; returns
        ``(params, jitter added or None)``."""
        nk = stats.nk + ctx.nk_floor
        means = shift + stats.s1 / nk[:, None]
        covs = self._structure.estimate(nk, stats.s1, stats.s2, ctx.reg)
        covs, prec_chol, jitter = self._factorise(covs)
        return _Params(nk / nk.sum(), means, covs, prec_chol), jitter

    def _arrays(self, params: _Params):
        k, d = params.means.shape
        prec, log_det = self._structure.kernel_arrays(params.prec_chol, k, d)
        with np.errstate(divide="ignore"):
            log_w = np.log(params.weights)
        return params.means, prec, gaussian_log_const(log_w, log_det, d)

    def _em(self, Xt, w, params: _Params, ctx, jitter=None) -> _Run:
        k, d = params.means.shape
        stats = MixtureStats(Xt.shape[1], k, d, self._structure.diagonal)
        total = w.sum()
        lower_bounds = []
        log = _EventLog(self._structure.name, ctx.scale)
        log.jitter(jitter, 0)
        converged = False
        for it in range(self.max_iter):
            means, prec, log_const = self._arrays(params)
            stats.e_step(Xt, w, means, prec, log_const)
            lower_bounds.append(stats.log_likelihood / total)
            params, jitter = self._m_step(stats, means, ctx)
            log.jitter(jitter, it + 1)
            empty = params.weights < _EMPTY
            if empty.any():
                params, jitter = self._reseed(Xt, w, params, ctx)
                log.reseed(np.flatnonzero(empty), it + 1)
                log.jitter(jitter, it + 1)
            if self.verbose >= 2:
                print(f"  iteration {it + 1}: mean log-likelihood {lower_bounds[-1]:.8f}")
            # An iteration that re-seeded moved the parameters: not a fixed point.
            if it > 0 and not empty.any() and abs(lower_bounds[-1] - lower_bounds[-2]) < self.tol:
                converged = True
                break
        # A final E-step: log_likelihood_ belongs to the returned parameters, and
        # fit_predict(X) equals fit(X).predict(X).
        means, prec, log_const = self._arrays(params)
        stats.e_step(Xt, w, means, prec, log_const)
        return _Run(
            params,
            lower_bounds,
            converged,
            stats.log_likelihood,
            log.messages(),
            log_max_resp=stats.icl_term,
        )

    def _reseed(self, Xt, w, params: _Params, ctx):
        """Move empty components to the worst-explained rows of positive weight,
        with the pooled covariance; returns ``(params, jitter or None)``."""
        means, prec, log_const = self._arrays(params)
        n_samples = Xt.shape[1]
        row_lse = np.empty(n_samples)
        log_prob_pass(Xt, means, prec, log_const, row_lse=row_lse)
        row_lse[w <= 0] = np.inf  # a row without weight cannot hold a component
        empty = np.flatnonzero(params.weights < _EMPTY)
        worst = np.argsort(row_lse, kind="stable")[: empty.size]
        k, d = params.means.shape
        full = self._structure.to_full(params.covariances, k, d)
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
        covs, prec_chol, jitter = self._factorise(self._structure.from_full(new_full))
        return _Params(weights, means, covs, prec_chol), jitter

    def _collapse_messages(self) -> list[str]:
        """Components whose covariance is (nearly) ``reg_covar`` in some direction:
        they sit on a point or a subspace, so only the regularisation keeps them
        finite."""
        flagged = self.collapsed_components_
        if flagged.size == 0:
            return []
        which = (
            "the tied covariance"
            if self._structure.name == "tied"
            else f"component(s) {flagged.tolist()}"
        )
        reg_data = self._reg * self._standardiser.scale**2
        if self._reg == 0:
            cure = "it is (nearly) singular; set reg_covar > 0 to regularise it"
        else:
            cure = f"the covariance was regularised by reg_covar={reg_data:.3g} on the diagonal"
        return [
            f"{which} collapsed onto a point or a lower-dimensional set (duplicated rows, a "
            f"singleton cluster, or constant or collinear columns); {cure}"
        ]

    def _collapsed(self, params: _Params, reg: float) -> np.ndarray:
        """Indices of the components (``[0]`` for a tied covariance) whose
        covariance is (nearly) ``reg_covar`` in some direction."""
        k, d = params.means.shape
        full = self._structure.to_full(params.covariances, k, d)
        low = np.linalg.eigvalsh(full)[..., 0]
        if self._structure.name == "tied":
            low = low[:1]
        # Standardised units: the data's variance is about 1, so 1e-10 is "nothing".
        return np.flatnonzero(low <= reg * (1 + 1e-6) + 1e-10)

    # ---------------------------------------------------------------- output
    def _set_public_params(self):
        p = self._params
        s, c = self._standardiser.scale, self._standardiser.center
        self.weights_ = p.weights.copy()
        self.means_ = p.means * s + c
        self.covariances_ = p.covariances * s**2
        self.precisions_cholesky_ = p.prec_chol / s
        self.precisions_ = self._structure.precisions(self.precisions_cholesky_)

    def _component_arrays(self):
        return self._arrays(self._params)

    def _sampling_components(self):
        k, d = self.means_.shape
        return self.means_, self._structure.to_full(self.covariances_, k, d)

    def _n_parameters(self) -> int:
        check_fitted(self)
        k, d = self.means_.shape
        return self._structure.n_parameters(k, d)

    def _criterion_parts(self, X, sample_weight):
        w = self._check_score_weight(X, sample_weight)
        row_lse, resp = self._log_prob(X, want_resp=True)
        if w is None:
            w = np.ones(row_lse.shape[0])
        with np.errstate(divide="ignore"):
            log_max = np.log(resp.max(axis=1))
        return float(w @ row_lse), float(w @ log_max), float(w.sum())

    def bic(self, X, sample_weight=None) -> float:
        """Bayesian information criterion, ``-2 log L + p log n`` (lower is better;
        ``n`` is the total weight)."""
        ll, _, n = self._criterion_parts(X, sample_weight)
        return -2.0 * ll + self._n_parameters() * np.log(n)

    def aic(self, X, sample_weight=None) -> float:
        """Akaike information criterion, ``-2 log L + 2 p`` (lower is better)."""
        ll, _, _ = self._criterion_parts(X, sample_weight)
        return -2.0 * ll + 2.0 * self._n_parameters()

    def icl(self, X, sample_weight=None) -> float:
        """Integrated completed likelihood, ``bic - 2 sum_i log max_k p(k | x_i)``
        (Biernacki, Celeux & Govaert 2000; lower is better)."""
        ll, log_max, n = self._criterion_parts(X, sample_weight)
        return -2.0 * ll + self._n_parameters() * np.log(n) - 2.0 * log_max

    def posterior(
        self,
        X,
        n_boot: int = 200,
        method: str = "nonparametric",
        sample_weight=None,
        random_state=None,
    ):
        """Bootstrap the fit into a :class:`~bayesmix.MixturePosterior`, so EM gets
        intervals too (see :func:`bayesmix.posterior.bootstrap_em`).

        Parameters
        ----------
        X : (n_samples, n_features)
            The data the model was fitted to.
        n_boot : int, default=200
            Bootstrap replicates (draws).
        method : {"nonparametric", "weighted"}
            Rows resampled with replacement, or Dirichlet weighted-likelihood bootstrap.
        sample_weight : (n_samples,), optional
            The frequency weights of the original fit.
        random_state : None, int or numpy Generator
        """
        from .posterior import bootstrap_em

        return bootstrap_em(
            self,
            X,
            n_boot=n_boot,
            method=method,
            sample_weight=sample_weight,
            random_state=random_state,
        )


def _as_float_array(value, name):
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers.") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity; pass finite values.")
    return arr
