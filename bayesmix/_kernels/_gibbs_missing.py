# ruff: noqa: NPY002 - numba's own generator, seeded per call (as in _gibbs.py)
"""Rows with missing values (NaN cells) in the collapsed Gibbs sampler: one
jitted sweep over the rows with holes that draws each row's cluster and its
missing cells jointly.

Scheme
------
The missing cells are latent variables kept in ``X`` (the completed rows).
For a row ``i`` with observed features ``o`` (``p`` of them) and missing ones
``m``, the block ``(c_i, x_im)`` is drawn from its conditional given every
other row (completed) and ``x_io``:

1. ``c_i = k`` with probability proportional to ``n_k p(x_io | rows of k)``
   (``alpha p(x_io)`` for a new cluster), the Student-t predictive of the
   cluster *marginalised over the missing features*: with ``v = nu_n - D + 1``
   and ``c_n = kappa_n / (kappa_n + 1)``,
   ``log p(x_o) = lgamma((v + p)/2) - lgamma(v/2) - p/2 log(pi) + p/2 log(c_n)
   - 1/2 log|Psi_oo| - (v + p)/2 log(1 + c_n q)``, ``q = (x_o - m_o)^T
   Psi_oo^-1 (x_o - m_o)``;
2. ``x_im`` from the conditional Student-t of the same predictive given
   ``x_io``: ``v + p`` degrees of freedom, location ``m_m + Psi_mo Psi_oo^-1
   (x_o - m_o)``, scale ``(1 + c_n q) / ((v + p) c_n) (Psi_mm - Psi_mo
   Psi_oo^-1 Psi_om)`` (Murphy 2007; Kotz & Nadarajah 2004, §1.11);

then the completed row joins cluster ``k``'s statistics.  Since
``p(c_i, x_im | rest) = p(c_i | x_io, rest) p(x_im | x_io, c_i, rest)``, this
is an exact Gibbs block of the joint posterior of the partition and the
missing cells; its partition margin is the posterior given the observed cells
alone.  Statistics as in ``_gibbs.py`` (the same helpers); ``O(K D^3)`` per
row with holes.

References
----------
Murphy (2007), *Conjugate Bayesian analysis of the Gaussian distribution*;
Neal (2000), JCGS 9, algorithm 3; Tanner & Wong (1987), JASA 82 (data
augmentation); Kotz & Nadarajah (2004), *Multivariate t distributions*.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._gibbs import (
    _add_row,
    _categorical,
    _grow_int,
    _grow_stacks,
    _rebuild_slot,
    _remove_row,
    _stacks_of,
)

__all__ = ["missing_sweep", "observed_log_predictive"]


@njit(cache=True, nogil=True)
def _lower_chol(A, n):
    """In-place lower Cholesky factor of the leading ``n x n`` block of ``A``;
    returns ``log|A|`` (``-inf`` if not positive definite)."""
    logdet = 0.0
    for j in range(n):
        s = A[j, j]
        for t in range(j):
            s -= A[j, t] * A[j, t]
        if not s > 0.0:
            return -np.inf
        d = math.sqrt(s)
        A[j, j] = d
        logdet += 2.0 * math.log(d)
        for i in range(j + 1, n):
            s = A[i, j]
            for t in range(j):
                s -= A[i, t] * A[j, t]
            A[i, j] = s / d
    return logdet


@njit(cache=True, nogil=True)
def _predict(x, obs, p, mis, m, mean, Rk, kappa_n, nu_n, draw, out, work):
    """``log p(x_o)`` under the Student-t predictive of an NIW posterior
    ``(mean, kappa_n, nu_n, Psi = Rk^T Rk)``, ``Rk`` (D, D) upper; with ``draw``
    also write a draw of ``x_m | x_o`` into ``out`` (m,).  ``work`` is a (D,
    D + 2) scratch array."""
    n_features = mean.shape[0]
    # Psi restricted to (o, o) in work[:p, :p]; Psi[o, m] in work[:p, p:p+m]
    for a in range(p):
        fa = obs[a]
        for b in range(p + m):
            fb = obs[b] if b < p else mis[b - p]
            s = 0.0
            top = min(fa, fb)
            for j in range(top + 1):
                s += Rk[j, fa] * Rk[j, fb]
            work[a, b] = s
    logdet = _lower_chol(work, p)
    if logdet == -np.inf:
        return np.nan
    # y = L^-1 (x_o - m_o)
    y = work[:, n_features]
    for a in range(p):
        s = x[obs[a]] - mean[obs[a]]
        for t in range(a):
            s -= work[a, t] * y[t]
        y[a] = s / work[a, a]
    q = 0.0
    for a in range(p):
        q += y[a] * y[a]
    v = nu_n - n_features + 1.0
    cn = kappa_n / (kappa_n + 1.0)
    lp = (
        math.lgamma(0.5 * (v + p))
        - math.lgamma(0.5 * v)
        - 0.5 * p * math.log(math.pi)
        + 0.5 * p * math.log(cn)
        - 0.5 * logdet
        - 0.5 * (v + p) * math.log1p(cn * q)
    )
    if not draw:
        return lp
    # W = L^-1 Psi[o, m] in place (columns p .. p+m-1)
    for b in range(m):
        col = p + b
        for a in range(p):
            s = work[a, col]
            for t in range(a):
                s -= work[a, t] * work[t, col]
            work[a, col] = s / work[a, a]
    # location m_m + W^T y; Schur complement Psi_mm - W^T W into S (m, m)
    S = np.empty((m, m))
    for b in range(m):
        fb = mis[b]
        s = mean[fb]
        for a in range(p):
            s += work[a, p + b] * y[a]
        out[b] = s
        for b2 in range(b + 1):
            fc = mis[b2]
            top = min(fb, fc)
            s = 0.0
            for j in range(top + 1):
                s += Rk[j, fb] * Rk[j, fc]
            for a in range(p):
                s -= work[a, p + b] * work[a, p + b2]
            S[b, b2] = s
    if _lower_chol(S, m) == -np.inf:
        return np.nan
    dof = v + p
    factor = math.sqrt((1.0 + cn * q) / (dof * cn) * dof / (2.0 * np.random.gamma(0.5 * dof, 1.0)))
    z = np.empty(m)
    for b in range(m):
        z[b] = np.random.standard_normal()
    for b in range(m):
        s = 0.0
        for t in range(b + 1):
            s += S[b, t] * z[t]
        out[b] += factor * s
    return lp


@njit(cache=True, nogil=True)
def observed_log_predictive(x, obs, p, mean, Rk, kappa_n, nu_n):
    """``log p(x_o)`` of one row ``x`` (D,) with observed features ``obs[:p]``
    under the Student-t predictive of an NIW posterior (module docstring);
    ``Rk`` the upper Cholesky factor of ``Psi_n``."""
    n_features = mean.shape[0]
    work = np.empty((n_features, n_features + 2))
    mis = np.empty(0, np.int64)
    return _predict(x, obs, p, mis, 0, mean, Rk, kappa_n, nu_n, False, np.empty(0), work)


@njit(cache=True, nogil=True)
def missing_sweep(X, mult, labels, n_clusters, holes, missing, prior, log_alpha, seed):
    """One joint update of ``(c_i, x_im)`` for every row ``i`` of ``holes``
    (module docstring), in order.

    Parameters
    ----------
    X : (n_samples, n_features) float64, row-major, standardised; the missing
        cells hold the current draws and are overwritten
    mult : (n_samples,) int64, the copies each row holds (1 for a row with holes)
    labels : (n_samples,) int64, compact; updated in place and left compact
    n_clusters : int
    holes : (n_holes,) int64, the rows with at least one missing cell
    missing : (n_samples, n_features) bool, True where a cell is missing
    prior : tuple ``(mean0, psi0, R0, inv0, consts, tables)`` (``_gibbs.py``)
    log_alpha : float
    seed : int, seeds numba's generator for this call

    Returns
    -------
    n_clusters : int (-1 if a row's weights were not finite)
    """
    np.random.seed(seed)
    mean0, psi0, R0, inv0, consts, _ = prior
    n_samples, n_features = X.shape
    kappa0 = consts[0]
    nu0 = consts[1]
    counts, means, R, inv_diag, logdet = _stacks_of(X, mult, labels, n_clusters, prior)
    cap = counts.shape[0]
    active = np.arange(cap)
    pos = np.arange(cap)
    n_active = n_clusters
    lw = np.empty(cap + 1)
    work = np.empty((n_features, n_features + 2))
    vec = np.empty(n_features)
    obs = np.empty(n_features, np.int64)
    mis = np.empty(n_features, np.int64)
    drawn = np.empty(n_features)
    for h in range(holes.shape[0]):
        i = holes[h]
        p = 0
        m = 0
        for f in range(n_features):
            if missing[i, f]:
                mis[m] = f
                m += 1
            else:
                obs[p] = f
                p += 1
        x = X[i]
        # leave the current cluster
        a = labels[i]
        if counts[a] == 1:
            counts[a] = 0
            last = active[n_active - 1]
            pa = pos[a]
            active[pa] = last
            pos[last] = pa
            active[n_active - 1] = a
            pos[a] = n_active - 1
            n_active -= 1
        else:
            labels[i] = -1
            if not _remove_row(X, i, a, counts, means, R, inv_diag, logdet, kappa0, vec, 1):
                _rebuild_slot(
                    X, mult, labels, a, mean0, psi0, kappa0, counts, means, R, inv_diag, logdet
                )
        mx = -np.inf
        for t in range(n_active):
            k = active[t]
            n_k = counts[k]
            v = math.log(n_k) + _predict(
                x, obs, p, mis, m, means[k], R[k], kappa0 + n_k, nu0 + n_k, False, drawn, work
            )
            lw[t] = v
            if v > mx:
                mx = v
        v = log_alpha + _predict(x, obs, p, mis, m, mean0, R0, kappa0, nu0, False, drawn, work)
        lw[n_active] = v
        if v > mx:
            mx = v
        t = _categorical(lw, n_active + 1, mx)
        if t < 0:
            return -1
        if t == n_active:  # a new cluster, at the prior
            if n_active == cap:
                new_cap = 2 * cap
                counts, means, R, inv_diag, logdet = _grow_stacks(
                    counts, means, R, inv_diag, logdet, new_cap
                )
                active = _grow_int(active, new_cap)
                pos = _grow_int(pos, new_cap)
                for s in range(cap, new_cap):
                    active[s] = s
                    pos[s] = s
                lw = np.empty(new_cap + 1)
                cap = new_cap
            target = active[n_active]
            n_active += 1
            counts[target] = 0
            for f in range(n_features):
                means[target, f] = mean0[f]
                inv_diag[target, f] = inv0[f]
                for g in range(n_features):
                    R[target, f, g] = R0[f, g]
            lp = _predict(x, obs, p, mis, m, mean0, R0, kappa0, nu0, True, drawn, work)
        else:
            target = active[t]
            n_k = counts[target]
            lp = _predict(
                x,
                obs,
                p,
                mis,
                m,
                means[target],
                R[target],
                kappa0 + n_k,
                nu0 + n_k,
                True,
                drawn,
                work,
            )
        if not (lp == lp):
            return -1
        for b in range(m):
            X[i, mis[b]] = drawn[b]
        _add_row(X, i, target, counts, means, R, inv_diag, logdet, kappa0, vec, 1)
        labels[i] = target
    for t in range(n_active):
        pos[active[t]] = t
    for i in range(n_samples):
        labels[i] = pos[labels[i]]
    return n_active
