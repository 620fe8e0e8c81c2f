"""Missing values (NaN) in EM: marginal densities, conditional moments, imputation.

Under missing at random (Rubin 1976) the likelihood of a row with observed
features ``o`` is the mixture of the components' marginals over ``o``,

    p(x_o) = sum_k pi_k N(x_o | mu_k[o], Sigma_k[o, o]),

and EM's E-step completes the sufficient statistics with the conditional
moments of the missing features ``m`` given the observed ones under each
component (Ghahramani & Jordan 1994; Little & Rubin 2002, ch. 11):

    E[x_m | x_o, k]   = mu_k[m] + B_k (x_o - mu_k[o]),   B_k = Sigma_k[m, o] Sigma_k[o, o]^-1
    Cov[x_m | x_o, k] = C_k = Sigma_k[m, m] - B_k Sigma_k[o, m].

Rows are grouped by pattern (:class:`bayesmix._data.Patterns`).  For each
pattern the E-step is one call of the compiled pass
(:class:`bayesmix._kernels.MixtureStats`) on the observed sub-matrix, with the
marginal components; its statistics about ``mu_k[o]`` are exactly what the
missing blocks need, because ``E[x_m | x_o, k] - mu_k[m]`` is linear in
``x_o - mu_k[o]``:

    s1[m]    = B s1[o]
    s2[m, o] = B s2[o, o]
    s2[m, m] = B s2[o, o] B^T + n_k C.

So the cost per pattern is one pass over its rows plus O(K D^3), and data
without NaN never come here (they take the complete-data kernel pass).

Everything is in standardised units (see :class:`bayesmix._data.Standardiser`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _components
from ._data import Patterns
from ._kernels import MixtureStats, incomplete_e_step, log_prob_pass

__all__ = ["MissingStats", "e_step", "expected_rows", "impute", "log_prob"]


class MissingStats(NamedTuple):
    """What :func:`e_step` returns: the fields of
    :class:`~bayesmix._kernels.MixtureStats` that EM reads."""

    nk: np.ndarray  # (K,)
    s1: np.ndarray  # (K, D) sum_i w_i r_ik (E[x_i] - shift_k)
    s2: np.ndarray  # (K, P, D) second moments about shift_k, conditional covariances included
    log_likelihood: float  # observed-data, see e_step
    icl_term: float  # sum_i w_i log max_k r_ik


class _Pattern(NamedTuple):
    """One pattern's marginal components and regressions (standardised units)."""

    comps: _components.Components  # over the observed features
    B: np.ndarray  # (K, m, q) regression of the missing on the observed features
    C: np.ndarray  # (K, m, m) conditional covariances of the missing features


def _full_covariances(structure, params) -> np.ndarray:
    k, d = params.means.shape
    full = structure.to_full(params.covariances, k, d)
    return np.broadcast_to(full, (k, d, d))


def _pattern(weights, means, cov, obs, mis) -> _Pattern:
    """Marginal components over ``obs`` and the conditional moments of ``mis``."""
    s_oo = np.ascontiguousarray(cov[:, obs][:, :, obs])
    prec = _components.upper_precision_factors(s_oo)
    comps = _components.gaussian(weights, np.ascontiguousarray(means[:, obs]), prec)
    k = means.shape[0]
    if mis.size == 0:
        return _Pattern(comps, np.zeros((k, 0, obs.size)), np.zeros((k, 0, 0)))
    s_mo = cov[:, mis][:, :, obs]
    # Sigma_oo^-1 = U U^T with the kernels' upper factors U
    B = s_mo @ (prec @ np.swapaxes(prec, 1, 2))
    C = cov[:, mis][:, :, mis] - B @ np.swapaxes(s_mo, 1, 2)
    C = 0.5 * (C + np.swapaxes(C, 1, 2))
    return _Pattern(comps, B, C)


def use_row_kernel(patterns: Patterns, n_components: int) -> bool:
    """Whether the one-pass kernel (every row looks up its own pattern,
    :mod:`bayesmix._kernels._incomplete`) beats one pass per pattern.

    A pattern costs a kernel call and Python set-up of about as much as
    ``PATTERN_ROWS`` rows' extra cost in the one-pass kernel (measured with
    ``benchmarks/bench_em.py --missing``: about 0.2 ms per pattern against
    0.1 us per row at D = 8, K = 8), so many small patterns take the one-pass
    kernel and a few large ones keep the per-pattern path, which runs the
    complete-data kernel on each.  The one-pass kernel's tables hold
    ``K m (D + 1)`` numbers per pattern (``m`` missing cells); beyond
    ``TABLE_LIMIT`` numbers (every row its own pattern at large D) it is not
    used.
    """
    n_samples, n_features = patterns.n_observed.size, patterns.mis.shape[1]
    if len(patterns.groups) * PATTERN_ROWS <= n_samples:
        return False
    return n_components * int(patterns.n_mis.sum()) * (n_features + 1) <= TABLE_LIMIT


PATTERN_ROWS = 2000
TABLE_LIMIT = 2**22


class _Full(NamedTuple):
    """Every component over all features (standardised units)."""

    prec: np.ndarray  # (K, D, D) upper factors U, U U^T = Lambda
    lam: np.ndarray  # (K, D, D) precisions
    log_const: np.ndarray  # (K,)


def _full(structure, params) -> _Full:
    cov = _full_covariances(structure, params)
    prec = _components.upper_precision_factors(np.ascontiguousarray(cov))
    lam = prec @ np.swapaxes(prec, 1, 2)
    comps = _components.gaussian(params.weights, params.means, prec)
    return _Full(prec, lam, comps.log_const)


def _row_kernel_e_step(structure, Xt, w, params, patterns, log_scale) -> MissingStats:
    full = _full(structure, params)
    nk, s1, s2, ll, icl = incomplete_e_step(
        Xt, w, params.means, full.prec, full.lam, full.log_const, patterns
    )
    d = Xt.shape[0]
    ll += log_scale * float(np.sum(w * patterns.n_missing))  # no BLAS: its threads fight ours
    if structure.diagonal:
        idx = np.arange(d)
        s2 = s2[:, idx, idx][:, None, :].copy()
    return MissingStats(nk, s1, s2, ll, icl)


def _sub(Xt, obs, rows) -> np.ndarray:
    return np.ascontiguousarray(Xt[np.ix_(obs, rows)])


def e_step(structure, Xt, w, params, patterns: Patterns, log_scale: float) -> MissingStats:
    """One EM E-step over data with missing cells, statistics about ``params.means``.

    Parameters
    ----------
    structure : CovarianceStructure
    Xt : (n_features, n_samples)
        Standardised data, NaN where missing.
    w : (n_samples,)
    params : bayesmix._em_core.Params
    patterns : Patterns
        The rows of ``Xt`` grouped by pattern.
    log_scale : float
        Log of the standardiser's scale.

    Returns
    -------
    MissingStats
        ``s2`` is (K, 1, D) (diagonals) for a diagonal ``structure``, else
        (K, D, D).  ``log_likelihood`` is the observed-data log-likelihood in
        standardised units plus ``log_scale * sum_i w_i (D - q_i)`` (``q_i`` the
        row's observed features): EM converts a total to data units by
        subtracting ``D log_scale`` per unit weight, which leaves each row's
        own Jacobian, ``q_i log_scale``.
    """
    if use_row_kernel(patterns, params.means.shape[0]):
        return _row_kernel_e_step(structure, Xt, w, params, patterns, log_scale)
    return _pattern_e_step(structure, Xt, w, params, patterns, log_scale)


def _pattern_e_step(structure, Xt, w, params, patterns, log_scale) -> MissingStats:
    """:func:`e_step` one kernel pass per pattern (few patterns)."""
    means, weights = params.means, params.weights
    k, d = means.shape
    cov = _full_covariances(structure, params)
    nk, s1, s2 = np.zeros(k), np.zeros((k, d)), np.zeros((k, d, d))
    ll = icl = 0.0
    for (obs, mis, rows), (sub, w_p) in zip(patterns.groups, patterns.blocks(Xt, w), strict=True):
        pat = _pattern(weights, means, cov, obs, mis)
        c = pat.comps
        st = MixtureStats(rows.size, k, obs.size, False)
        st.e_step(sub, w_p, c.means, c.prec, c.log_const)
        nk += st.nk
        ll += st.log_likelihood + log_scale * (d - obs.size) * float(w_p.sum())
        icl += st.icl_term
        oo = np.ix_(obs, obs)
        s1[:, obs] += st.s1
        s2[:, oo[0], oo[1]] += st.s2
        if mis.size:
            Bs = pat.B @ st.s2  # (K, m, q)
            s1[:, mis] += np.einsum("kmq,kq->km", pat.B, st.s1)
            mo = np.ix_(mis, obs)
            s2[:, mo[0], mo[1]] += Bs
            s2[:, mo[1].T, mo[0].T] += np.swapaxes(Bs, 1, 2)
            mm = np.ix_(mis, mis)
            s2[:, mm[0], mm[1]] += Bs @ np.swapaxes(pat.B, 1, 2) + st.nk[:, None, None] * pat.C
    if structure.diagonal:
        idx = np.arange(d)
        s2 = s2[:, idx, idx][:, None, :].copy()
    return MissingStats(nk, s1, s2, ll, icl)


def expected_rows(structure, params, Xt, patterns: Patterns, want_moments: bool = False):
    """Per-row marginal log-density, responsibilities and completed rows.

    Parameters
    ----------
    structure, params
        The fitted mixture (standardised units).
    Xt : (n_features, n_samples)
        Standardised rows, NaN where missing (no row entirely missing).
    patterns : Patterns
    want_moments : bool
        Also return, per pattern, the component-wise conditional means
        (K, n_p, m) and covariances (K, m, m) for drawing imputations.

    Returns
    -------
    row_lse : (n_samples,)
        ``log p(x_o)`` in standardised units (no Jacobian).
    resp : (n_samples, K)
        ``p(k | x_o)``.
    completed : (n_features, n_samples)
        ``Xt`` with each missing cell at ``E[x_m | x_o]`` (over components).
    moments : list of (rows, mis, cond_means, cond_covs), only with ``want_moments``.
    """
    means, weights = params.means, params.weights
    k = means.shape[0]
    n = Xt.shape[1]
    if not want_moments and use_row_kernel(patterns, k):
        full = _full(structure, params)
        row_lse, resp, completed = np.empty(n), np.empty((n, k)), Xt.copy()
        incomplete_e_step(
            Xt, np.ones(n), means, full.prec, full.lam, full.log_const, patterns,
            row_lse=row_lse, resp=resp, completed=completed, stats=False,
        )  # fmt: skip
        return row_lse, resp, completed
    cov = _full_covariances(structure, params)
    row_lse = np.empty(n)
    resp = np.empty((n, k))
    completed = Xt.copy()
    moments = []
    for obs, mis, rows in patterns.groups:
        pat = _pattern(weights, means, cov, obs, mis)
        c = pat.comps
        sub = _sub(Xt, obs, rows)
        lse_p, resp_p = np.empty(rows.size), np.empty((rows.size, k))
        log_prob_pass(sub, c.means, c.prec, c.log_const, row_lse=lse_p, resp=resp_p)
        row_lse[rows], resp[rows] = lse_p, resp_p
        if mis.size:
            centred = sub.T[None, :, :] - c.means[:, None, :]  # (K, n_p, q)
            cond = means[:, None, mis] + centred @ np.swapaxes(pat.B, 1, 2)  # (K, n_p, m)
            completed[np.ix_(mis, rows)] = np.einsum("nk,knm->mn", resp_p, cond)
            if want_moments:
                moments.append((rows, mis, cond, pat.C))
    if want_moments:
        return row_lse, resp, completed, moments
    return row_lse, resp, completed


def log_prob(structure, params, std, X, want_resp: bool):
    """``(row_lse, resp or None)`` of data-unit rows ``X`` (n_samples, n_features),
    NaN where missing: the log-density in data units of each row's observed
    features and ``p(k | x_o)``.  Rows without NaN get exactly the
    complete-data pass (the same arrays, the same kernel)."""
    Xt = std.transform(X)
    patterns = Patterns.of(X)
    k, d = params.means.shape
    if patterns is None:
        prec, _ = structure.kernel_arrays(params.prec_chol, k, d)
        comps = _components.gaussian(params.weights, params.means, prec)
        row_lse = np.empty(X.shape[0])
        resp = np.empty((X.shape[0], k)) if want_resp else None
        log_prob_pass(Xt, comps.means, comps.prec, comps.log_const, row_lse=row_lse, resp=resp)
        row_lse -= d * std.log_scale
        return row_lse, resp
    row_lse, resp, _ = expected_rows(structure, params, Xt, patterns)
    row_lse -= patterns.n_observed * std.log_scale
    return row_lse, (resp if want_resp else None)


def _sqrt_psd(C: np.ndarray) -> np.ndarray:
    """``L`` (K, m, m) with ``L L^T = C`` for positive semi-definite ``C``
    (eigen-decomposition: a conditional covariance may be singular when the
    fitted covariance is nearly so, where a Cholesky factorisation fails)."""
    vals, vecs = np.linalg.eigh(C)
    return vecs * np.sqrt(np.maximum(vals, 0.0))[:, None, :]


def impute(structure, params, std, X, n_draws, rng):
    """Missing cells of ``X`` (n_samples, n_features, data units) filled in.

    ``n_draws=None``: each missing cell at its conditional expectation
    ``E[x_m | x_o] = sum_k p(k | x_o) E[x_m | x_o, k]``, an array like ``X``.
    ``n_draws=m``: (m, n_samples, n_features) draws from the conditional
    distribution ``p(x_m | x_o)``, a mixture of Gaussians: a component drawn
    with probability ``p(k | x_o)``, then ``x_m ~ N(E[x_m | x_o, k], C_k)``,
    independently for every draw and row (multiple imputation, Rubin 1987).
    """
    X = np.asarray(X, dtype=np.float64)
    patterns = Patterns.of(X)
    if patterns is None:
        return X.copy() if n_draws is None else np.broadcast_to(X, (n_draws, *X.shape)).copy()
    Xt = std.transform(X)
    # Observed cells are returned as given (not mapped through the units and back).
    if n_draws is None:
        completed = expected_rows(structure, params, Xt, patterns)[2]
        out = X.copy()
        missing = np.isnan(X)
        out[missing] = (completed.T * std.scale + std.center)[missing]
        return out
    _, resp, _, moments = expected_rows(structure, params, Xt, patterns, want_moments=True)
    out = np.broadcast_to(X, (n_draws, *X.shape)).copy()
    for rows, mis, cond, C in moments:
        L = _sqrt_psd(C)
        cum = np.cumsum(resp[rows], axis=1)
        u = rng.random((n_draws, rows.size))
        labels = np.minimum((u[:, :, None] >= cum[None, :, :]).sum(axis=2), cond.shape[0] - 1)
        z = rng.standard_normal((n_draws, rows.size, mis.size))
        block = np.empty((n_draws, rows.size, mis.size))
        for j in range(cond.shape[0]):
            sel = labels == j
            block[sel] = cond[j][np.nonzero(sel)[1]] + z[sel] @ L[j].T
        out[:, rows[:, None], mis[None, :]] = block * std.scale + std.center[mis]
    return out
