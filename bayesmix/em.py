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
from ._base import BaseMixture, Standardiser
from ._kernels import MixtureStats
from ._validation import (
    check_bool,
    check_choice,
    check_fitted,
    check_int,
    check_random_state,
    check_real,
    check_sample_weight,
    check_X,
    count_distinct_rows,
)
from .covariance import gaussian_log_const, get_structure
from .exceptions import ConvergenceWarning, DegenerateDataWarning

__all__ = ["GaussianMixture"]

INIT_METHODS = ("kmeans", "k-means++", "random", "random_from_data")
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
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default="kmeans"
        How initial responsibilities are made: weighted k-means (k-means++
        seeding then Lloyd iterations), k-means++ seeds with each row given
        to its nearest seed, random responsibilities, or randomly chosen rows
        as seeds with nearest-seed assignment.
    weights_init, means_init, precisions_init : array-like, optional
        User-given initial parameters (scikit-learn shapes); they replace the
        corresponding part of the ``init_params`` initialisation.
    random_state : None, int or numpy Generator
        Seed; the same seed gives the same fit bit for bit, whatever the
        number of threads.
    warm_start : bool, default=False
        Start the next ``fit`` from this fit's parameters (``n_init`` is then 1).
    verbose : int, default=0
        Print the log-likelihood every iteration when >= 2, per init when 1.

    Attributes
    ----------
    weights_ : (n_components,)
    means_ : (n_components, n_features)
    covariances_, precisions_, precisions_cholesky_ :
        scikit-learn shapes for ``covariance_type``.
    converged_ : bool
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
    *Degenerate data never crash a fit.*  Every covariance carries
    ``reg_covar`` on its diagonal, so a component that collapses onto one
    point, onto duplicated rows, or onto a subspace (constant or collinear
    columns) keeps a positive-definite covariance; a
    :class:`~bayesmix.exceptions.DegenerateDataWarning` names the component.
    Should a Cholesky factorisation still fail, a growing jitter is added and
    reported.  A component whose weight falls below 1e-10 of the total is
    re-seeded at the worst-explained row with the pooled covariance, also with
    a warning.  The data are internally centred and scaled by a power of two,
    so values near 1e150 or 1e-150 fit as well as values near 1.

    ``sample_weight`` are frequency weights: integer weights give the same fit
    as repeated rows (initialisation included), and multiplying all weights by
    a constant changes nothing.

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
        init_params: str = "kmeans",
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
        check_int(self.n_components, "n_components", low=1)
        self._structure = get_structure(self.covariance_type)
        check_real(self.tol, "tol", low=0.0)
        if not (isinstance(self.reg_covar, str) and self.reg_covar == "auto"):
            if isinstance(self.reg_covar, str):
                raise ValueError(
                    f"reg_covar={self.reg_covar!r} is not supported; use 'auto' or a "
                    "non-negative float."
                )
            check_real(self.reg_covar, "reg_covar", low=0.0)
        check_int(self.max_iter, "max_iter", low=0)
        check_int(self.n_init, "n_init", low=1)
        check_choice(self.init_params, "init_params", INIT_METHODS)
        check_bool(self.warm_start, "warm_start")
        check_int(self.verbose, "verbose", low=0)
        check_random_state(self.random_state)

    def _check_init_arrays(self, n_features: int):
        """Validate user-given initial parameters; returns them as arrays (or None)."""
        k, d = self.n_components, n_features
        out = {}
        if self.weights_init is not None:
            w = _as_float_array(self.weights_init, "weights_init")
            if w.shape != (k,):
                raise ValueError(f"weights_init must have shape ({k},), got {w.shape}.")
            if (w < 0).any() or not np.isclose(w.sum(), 1.0, rtol=0, atol=1e-6):
                raise ValueError(
                    "weights_init must be non-negative and sum to 1, got sum "
                    f"{w.sum():.6g}; normalise it with w / w.sum()."
                )
            out["weights"] = w / w.sum()
        if self.means_init is not None:
            m = _as_float_array(self.means_init, "means_init")
            if m.shape != (k, d):
                raise ValueError(f"means_init must have shape ({k}, {d}), got {m.shape}.")
            out["means"] = m
        if self.precisions_init is not None:
            p = _as_float_array(self.precisions_init, "precisions_init")
            shape = self._structure.shape(k, d)
            if p.shape != shape:
                raise ValueError(
                    f"precisions_init must have shape {shape} for covariance_type="
                    f"{self.covariance_type!r}, got {p.shape}."
                )
            full = self._structure.to_full(p, k, d)
            if not np.allclose(full, np.swapaxes(full, -1, -2), rtol=1e-10, atol=0):
                raise ValueError("precisions_init must be symmetric.")
            if not (np.linalg.eigvalsh(full) > 0).all():
                raise ValueError(
                    "precisions_init must be positive definite (every eigenvalue > 0); "
                    "for diag/spherical types every value must be > 0."
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
        self._check_params()
        X, names = check_X(X, min_samples=2)
        w = check_sample_weight(sample_weight, X.shape[0])
        n_samples, n_features = X.shape
        k = self.n_components
        if (w > 0).sum() < 2:
            raise ValueError(
                "sample_weight gives positive weight to fewer than 2 rows; a mixture needs "
                "at least 2 weighted samples."
            )
        distinct = count_distinct_rows(X, w, k)
        if distinct < k:
            raise ValueError(
                f"n_components={k} is larger than the number of distinct rows with positive "
                f"weight ({distinct}); lower n_components to at most {distinct}."
            )
        init_arrays = self._check_init_arrays(n_features)

        warm = self.warm_start and hasattr(self, "_params") and self.n_features_in_ == n_features
        if warm:
            std = self._standardiser
        else:
            std = Standardiser(X, w)
        Xt = std.transform(X)
        reg = self._internal_reg(std)
        rng = check_random_state(self.random_state)

        events = []
        if std.mean_variance == 0.0:
            events.append("every feature of X is constant; covariances are reg_covar * I")
        else:
            var = (w @ (X - std.center) ** 2) / w.sum()
            const = np.flatnonzero(var <= 1e-24 * var.max())
            if const.size:
                events.append(
                    f"feature(s) {const.tolist()} of X are constant; their variances are "
                    "reg_covar"
                )

        best = None
        n_init = 1 if warm else self.n_init
        for init in range(n_init):
            if warm:
                start = self._params
            else:
                start = self._initial_params(Xt, w, reg, rng, init_arrays, std)
            run = self._em(Xt, w, start, reg)
            if self.verbose:
                print(
                    f"init {init}: log-likelihood {run.log_likelihood:.6f} after "
                    f"{len(run.lower_bounds)} iterations, converged={run.converged}"
                )
            if best is None or run.log_likelihood > best.log_likelihood:
                best = run

        self._standardiser = std
        self._reg = reg
        self._params = best.params
        self.converged_ = best.converged
        self.n_iter_ = len(best.lower_bounds)
        log_jac = n_features * std.log_scale
        self.lower_bounds_ = [lb - log_jac for lb in best.lower_bounds]
        self.lower_bound_ = self.lower_bounds_[-1] if self.lower_bounds_ else -np.inf
        self.log_likelihood_ = best.log_likelihood - w.sum() * log_jac
        self.n_features_in_ = n_features
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self._set_public_params()

        for msg in events + best.events + self._collapse_messages():
            warnings.warn(msg, DegenerateDataWarning, stacklevel=2)
        if not best.converged and self.max_iter > 0:
            last = (
                abs(best.lower_bounds[-1] - best.lower_bounds[-2])
                if len(best.lower_bounds) > 1
                else float("nan")
            )
            warnings.warn(
                f"EM did not converge within max_iter={self.max_iter} iterations (last change "
                f"of the mean log-likelihood {last:.3g} > tol={self.tol}). Increase max_iter, "
                "raise tol, or start better: more n_init, or init_params='kmeans'.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _internal_reg(self, std: Standardiser) -> float:
        if isinstance(self.reg_covar, str):
            if std.mean_variance == 0.0:
                return 1e-6
            return 1e-6 * std.mean_variance / std.scale**2
        return float(self.reg_covar) / std.scale**2

    def _initial_params(self, Xt, w, reg, rng, given, std) -> _Params:
        k, d = self.n_components, Xt.shape[0]
        if not {"weights", "means", "precisions"} <= given.keys():
            resp = _init.initial_resp(self.init_params, Xt, w, k, rng)
            stats = MixtureStats(Xt.shape[1], k, d, self._structure.diagonal)
            stats.from_resp(Xt, w, resp, np.zeros((k, d)))
            params = self._m_step(stats, np.zeros((k, d)), reg)[0]
        else:
            params = _Params(np.full(k, 1.0 / k), np.zeros((k, d)), None, None)
        if "weights" in given:
            params.weights = given["weights"].copy()
        if "means" in given:
            params.means = (given["means"] - std.center) / std.scale
        if "precisions" in given:
            prec = given["precisions"] * std.scale**2
            cov_full = np.linalg.inv(self._structure.to_full(prec, k, d))
            params.covariances = self._structure.from_full(cov_full)
            params.prec_chol, _ = self._structure.precision_cholesky(params.covariances)
        return params

    def _m_step(self, stats: MixtureStats, shift, reg):
        """Parameters from statistics accumulated around ``shift``; returns
        ``(params, events)``."""
        nk = stats.nk + 10 * np.finfo(float).eps
        means = shift + stats.s1 / nk[:, None]
        covs = self._structure.estimate(nk, stats.s1, stats.s2, reg)
        prec_chol, jitter = self._structure.precision_cholesky(covs)
        events = []
        if (jitter > 0).any():
            events.append(
                f"covariance of component(s) {np.flatnonzero(jitter > 0).tolist()} was not "
                f"positive definite; added up to {jitter.max() * 1.0:.3g} (standardised units) "
                "to its diagonal"
            )
        return _Params(nk / nk.sum(), means, covs, prec_chol), events

    def _arrays(self, params: _Params):
        k, d = params.means.shape
        prec, log_det = self._structure.kernel_arrays(params.prec_chol, k, d)
        with np.errstate(divide="ignore"):
            log_w = np.log(params.weights)
        return params.means, prec, gaussian_log_const(log_w, log_det, d)

    def _em(self, Xt, w, params: _Params, reg) -> _Run:
        k, d = params.means.shape
        stats = MixtureStats(Xt.shape[1], k, d, self._structure.diagonal)
        total = w.sum()
        lower_bounds = []
        events = []
        converged = False
        for it in range(self.max_iter):
            means, prec, log_const = self._arrays(params)
            stats.e_step(Xt, w, means, prec, log_const)
            lower_bounds.append(stats.log_likelihood / total)
            params, ev = self._m_step(stats, means, reg)
            events.extend(ev)
            if (params.weights < _EMPTY).any():
                params = self._reseed(Xt, params, reg)
                events.append(f"a component emptied at iteration {it + 1} and was re-seeded")
            if self.verbose >= 2:
                print(f"  iteration {it + 1}: mean log-likelihood {lower_bounds[-1]:.8f}")
            if it > 0 and abs(lower_bounds[-1] - lower_bounds[-2]) < self.tol:
                converged = True
                break
        means, prec, log_const = self._arrays(params)
        stats.e_step(Xt, w, means, prec, log_const)
        return _Run(params, lower_bounds, converged, stats.log_likelihood, sorted(set(events)))

    def _reseed(self, Xt, params: _Params, reg) -> _Params:
        """Move empty components to the worst-explained rows, with the pooled covariance."""
        from ._kernels import log_prob_pass

        means, prec, log_const = self._arrays(params)
        row_lse = np.empty(Xt.shape[1])
        log_prob_pass(Xt, means, prec, log_const, row_lse=row_lse)
        empty = np.flatnonzero(params.weights < _EMPTY)
        worst = np.argsort(row_lse, kind="stable")[: empty.size]
        k, d = params.means.shape
        full = self._structure.to_full(params.covariances, k, d)
        pooled = np.einsum("k,kij->ij", params.weights, full)
        new_full = np.array(full)
        means = params.means.copy()
        weights = params.weights.copy()
        for j, row in zip(empty, worst):
            means[j] = Xt[:, row]
            new_full[j] = pooled
            weights[j] = 1.0 / Xt.shape[1]
        weights /= weights.sum()
        covs = self._structure.from_full(new_full)
        prec_chol, _ = self._structure.precision_cholesky(covs)
        return _Params(weights, means, covs, prec_chol)

    def _collapse_messages(self) -> list[str]:
        """Components whose covariance is reg_covar in some direction: they sit on a
        point or a subspace, so only the regularisation keeps them finite."""
        p = self._params
        k, d = p.means.shape
        full = self._structure.to_full(p.covariances, k, d)
        low = np.linalg.eigvalsh(full)[..., 0]
        if self._structure.name == "tied":
            low = np.repeat(low[:1], k)
        flagged = np.flatnonzero(low <= self._reg * (1 + 1e-6) + 1e-12 * np.abs(low).max())
        if flagged.size == 0 or self._reg == 0:
            return []
        return [
            f"component(s) {flagged.tolist()} collapsed onto a point or a lower-dimensional set "
            "(duplicated rows, or constant or collinear columns); their covariance was "
            f"regularised by reg_covar={self._reg * self._standardiser.scale**2:.3g} on the "
            "diagonal"
        ]

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
        X_arr, _ = check_X(X)
        w = check_sample_weight(sample_weight, X_arr.shape[0])
        row_lse, resp = self._log_prob(X, want_resp=True)
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


def _as_float_array(value, name):
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers.") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity; pass finite values.")
    return arr
