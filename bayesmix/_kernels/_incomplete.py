"""One pass of a Gaussian mixture over rows with missing cells, each row with
its own pattern: marginal log-densities, responsibilities, completed rows and
the EM statistics, in the same read of ``X``.

Why one pass
------------
Grouping rows by missingness pattern (``bayesmix._missing``) costs one kernel
call and ``O(K D^3)`` of set-up per pattern: cheap for a few patterns, but
cells missing at random give up to ``2^D`` patterns of a few rows each, and
the set-up then dominates (12-16x a complete-data iteration at D = 8).  Here
every row is handled by itself, from the full precision matrices.

The algebra (per row, per component; ``o`` observed, ``m`` missing,
``Lambda = Sigma^-1 = U U^T``, ``delta_o = x_o - mu_o``)
------------------------------------------------------------------------
The conditional of the missing features given the observed ones is

    x_m | x_o ~ N(mu_m + z_m, Lambda_mm^-1),   Lambda_mm z_m = -Lambda_mo delta_o,

(the Schur complement: only an ``m x m`` factorisation per row, cheap when
few cells of a row are missing), and with ``z = (delta_o, z_m)`` completed

    z^T Lambda z = delta_o^T Sigma_oo^-1 delta_o,
    log |Sigma_oo| = log |Sigma| + log |Lambda_mm|,

because ``z_m`` minimises the full quadratic form over the missing entries.
So the marginal log-density over ``o`` is the complete-data quadratic form of
the completed vector, computed by the same vectorised 4 x 4 tiles as
:func:`bayesmix._kernels.mixture_pass`, plus ``-1/2 log|Lambda_mm|`` and
``(D - q)/2 log 2 pi``.  The E-step statistics about ``mu_k`` are those of the
completed vectors plus the conditional covariance on the missing block:

    s1 += w r z,    s2 += w r (z z^T + [Lambda_mm^-1 on (m, m)])

(Ghahramani & Jordan 1994; Little & Rubin 2002, ch. 11).  ``Lambda_mm`` is
factorised again in the statistics phase rather than stored: for the few
missing cells per row this pass is meant for, recomputing costs less than the
memory traffic of keeping ``K`` factors per row.

Layout and determinism are those of :mod:`bayesmix._kernels._mixture`:
feature-major ``Xt`` (NaN where missing), blocks of ``BLOCK`` rows, tasks of
``TASK`` rows each writing its own slot, reduced by the caller in task order,
so results do not depend on the number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._mixture import (
    _KERNEL,
    BLOCK,
    TASK,
    TILE,
    _accumulators,
    _exp,
    _log,
    _quad_tiles,
    _stats_full,
    _store_task,
    _sum,
)

_HALF_LOG_2PI = 0.9189385332046728


@njit(cache=True, nogil=True)
def _pad4(n_features):
    """Padded feature count: a multiple of ``TILE`` (at least one tile), what
    the tiled quadratic form and statistics read."""
    return max(TILE, -(-n_features // TILE) * TILE)


@njit(cache=True, nogil=True)
def _load_block(Xt, b0, m, xb, n_mis, mis, inc):
    """Rows ``b0 .. b0+m`` into ``xb`` with missing cells at 0; per row the
    number of missing cells ``n_mis`` and their features ``mis[i, :n_mis[i]]``
    (ascending); the rows with a missing cell in ``inc``.  Returns their count."""
    n_features = Xt.shape[0]
    for i in range(m):
        n_mis[i] = 0
    for f in range(n_features):
        for i in range(m):
            v = Xt[f, b0 + i]
            if v != v:
                xb[f, i] = 0.0
                mis[i, n_mis[i]] = f
                n_mis[i] += 1
            else:
                xb[f, i] = v
    n_inc = 0
    for i in range(m):
        if n_mis[i] > 0:
            inc[n_inc] = i
            n_inc += 1
    return n_inc


@njit(cache=True, nogil=True, error_model="numpy")
def _complete_row(diff, i, lam, mis_i, nm, L, g):
    """Replace the missing entries of column ``i`` of ``diff`` by ``z_m = -Lambda_mm^-1 Lambda_mo delta_o``; leave the lower Cholesky
    factor of ``Lambda_mm`` in ``L[:nm, :nm]``; return ``log |Lambda_mm| / 2``."""
    n_features = lam.shape[0]
    for a in range(nm):
        diff[mis_i[a], i] = 0.0
    for a in range(nm):
        fa = mis_i[a]
        s = 0.0
        for f in range(n_features):  # the missing entries of diff are 0 here
            s += lam[fa, f] * diff[f, i]
        g[a] = -s
        for b in range(a + 1):
            L[a, b] = lam[fa, mis_i[b]]
    half_log_det = 0.0
    for a in range(nm):  # Cholesky, lower, in place
        for b in range(a + 1):
            s = L[a, b]
            for c in range(b):
                s -= L[a, c] * L[b, c]
            if a == b:
                d = np.sqrt(s)
                L[a, a] = d
                half_log_det += np.log(d)
            else:
                L[a, b] = s / L[b, b]
    for a in range(nm):  # L y = g
        s = g[a]
        for c in range(a):
            s -= L[a, c] * g[c]
        g[a] = s / L[a, a]
    for a in range(nm - 1, -1, -1):  # L^T z = y
        s = g[a]
        for c in range(a + 1, nm):
            s -= L[c, a] * g[c]
        g[a] = s / L[a, a]
    for a in range(nm):
        diff[mis_i[a], i] = g[a]
    return half_log_det


@njit(cache=True, nogil=True, error_model="numpy")
def _add_cond_cov(L, nm, mis_i, r, a2k, Linv):
    """``a2k[mis, mis] += r Lambda_mm^-1`` (upper triangle) from the lower
    factor ``L`` of ``Lambda_mm``: ``Lambda_mm^-1 = L^-T L^-1``."""
    for a in range(nm):
        for b in range(nm):
            Linv[a, b] = 0.0
    for b in range(nm):  # columns of L^-1 by forward substitution
        Linv[b, b] = 1.0 / L[b, b]
        for a in range(b + 1, nm):
            s = 0.0
            for c in range(b, a):
                s += L[a, c] * Linv[c, b]
            Linv[a, b] = -s / L[a, a]
    for a in range(nm):
        for b in range(a, nm):
            s = 0.0
            for c in range(b, nm):
                s += Linv[c, a] * Linv[c, b]
            a2k[mis_i[a], mis_i[b]] += r * s


@njit(cache=True, nogil=True)
def _centre_block(xb, m, mu, diff):
    for f in range(xb.shape[0]):
        c = mu[f]
        for i in range(m):
            diff[f, i] = xb[f, i] - c


@njit(**_KERNEL)
def incomplete_pass(
    Xt, w, means, prec, lam, log_const, row_lse, resp, completed, s0, s1, s2, task_ll, task_lo,
    task_hi,
):  # fmt: skip
    """E-step of rows with missing cells (NaN), each row its own pattern, over
    tasks [task_lo, task_hi).

    Parameters
    ----------
    Xt : (n_features, n_samples) float64, C-contiguous, NaN where missing
        (no row entirely missing).
    w : (n_samples,) frequency weights
    means : (n_components, n_features)
    prec : (n_components, n_features, n_features) upper factors ``U``, ``U U^T = Lambda``
    lam : (n_components, n_features, n_features) the precisions ``Lambda``
    log_const : (n_components,) ``log pi_k + log |U_k| - D/2 log 2 pi``
    row_lse : (n_samples,) or (0,) output: ``log p(x_o)``
    resp : (n_samples, n_components) or (0, n_components) output: ``p(k | x_o)``
    completed : (n_features, n_samples) or (n_features, 0) output: ``E[x_m | x_o]``
        written into the missing cells only
    s0, s1, s2 : (n_tasks, K), (n_tasks, K, D), (n_tasks, K, D, D) or with 0
        tasks (no statistics): ``sum w r``, ``sum w r z`` and the upper
        triangle of ``sum w r (z z^T + C)`` (zeros below), about ``means``
    task_ll : (n_tasks, 2) output: ``sum w log p(x_o)``, ``sum w log max_k r``
    """
    n_features, n_samples = Xt.shape
    n_components = means.shape[0]
    want_stats = s0.shape[0] > 0
    want_lse = row_lse.shape[0] > 0
    want_resp = resp.shape[0] > 0
    want_completed = completed.shape[1] > 0
    n_pad = _pad4(n_features)
    mu = np.zeros((n_components, n_pad))
    up = np.zeros((n_components, n_pad, n_pad))
    for k in range(n_components):
        for f in range(n_features):
            mu[k, f] = means[k, f]
            for g in range(f, n_features):
                up[k, f, g] = prec[k, f, g]
    zero = np.zeros(n_pad)
    xb = np.zeros((n_pad, BLOCK))
    diff = np.zeros((n_pad, BLOCK))
    sdiff = np.zeros((n_pad, BLOCK))
    rdiff = np.zeros((n_pad, BLOCK))
    y = np.empty((TILE, BLOCK))
    lp = np.empty((n_components, BLOCK))
    e = np.empty((n_components, BLOCK))
    hld = np.empty(BLOCK)
    mx = np.empty(BLOCK)
    tot = np.empty(BLOCK)
    wll = np.empty(BLOCK)
    wicl = np.empty(BLOCK)
    inv = np.empty(BLOCK)
    winv = np.empty(BLOCK)
    r = np.empty(BLOCK)
    n_mis = np.zeros(BLOCK, dtype=np.int64)
    mis = np.zeros((BLOCK, max(n_features, 1)), dtype=np.int64)
    inc = np.zeros(BLOCK, dtype=np.int64)
    L = np.zeros((n_features, n_features))
    Linv = np.zeros((n_features, n_features))
    g = np.zeros(n_features)
    a0, a1, a2 = _accumulators(n_components, n_pad, False)
    for t in range(task_lo, task_hi):
        ll = 0.0
        icl = 0.0
        a0[:] = 0.0
        a1[:] = 0.0
        a2[:] = 0.0
        r_end = min(n_samples, (t + 1) * TASK)
        for b0 in range(t * TASK, r_end, BLOCK):
            m = min(BLOCK, r_end - b0)
            n_inc = _load_block(Xt, b0, m, xb, n_mis, mis, inc)
            for i in range(m):
                mx[i] = -np.inf
            for k in range(n_components):
                _centre_block(xb, m, mu[k], diff)
                for i in range(m):
                    hld[i] = 0.0
                for j in range(n_inc):
                    i = inc[j]
                    hld[i] = _complete_row(diff, i, lam[k], mis[i], n_mis[i], L, g)
                _quad_tiles(diff, m, up[k], y, lp[k])
                c = log_const[k]
                lpk = lp[k]
                for i in range(m):
                    v = c - hld[i] - 0.5 * lpk[i]
                    lpk[i] = v
                    if v > mx[i]:
                        mx[i] = v
            # Each row's own maximum: -1/2 log|Lambda_mm| is not bounded by
            # log_const, so mixture_pass's shared bound does not hold here.
            for i in range(m):
                tot[i] = 0.0
            for k in range(n_components):
                for i in range(m):
                    ev = _exp(lp[k, i] - mx[i])
                    e[k, i] = ev
                    tot[i] += ev
            for i in range(m):
                lt = _log(tot[i])
                v = mx[i] + lt + _HALF_LOG_2PI * n_mis[i]
                wi = w[b0 + i]
                wll[i] = wi * v if wi != 0.0 else 0.0
                wicl[i] = -wi * lt if wi != 0.0 else 0.0
                iv = 1.0 / tot[i]
                inv[i] = iv
                winv[i] = wi * iv
                if want_lse:
                    row_lse[b0 + i] = v
            ll += _sum(wll, m)
            icl += _sum(wicl, m)
            if want_resp:
                for i in range(m):
                    for k in range(n_components):
                        resp[b0 + i, k] = e[k, i] * inv[i]
            if not (want_stats or (want_completed and n_inc > 0)):
                continue
            for k in range(n_components):
                ek = e[k]
                for i in range(m):
                    r[i] = ek[i] * winv[i]
                rk = _sum(r, m)
                if want_stats and rk == 0.0 and not want_completed:
                    continue
                # the same completed vectors as in the E-step, bit for bit
                _centre_block(xb, m, mu[k], diff)
                for j in range(n_inc):
                    i = inc[j]
                    _complete_row(diff, i, lam[k], mis[i], n_mis[i], L, g)
                    if want_stats and r[i] != 0.0:
                        _add_cond_cov(L, n_mis[i], mis[i], r[i], a2[k], Linv)
                    if want_completed:
                        rr = ek[i] * inv[i]
                        for a in range(n_mis[i]):
                            f = mis[i, a]
                            val = rr * (mu[k, f] + diff[f, i])
                            if k == 0:
                                completed[f, b0 + i] = val
                            else:
                                completed[f, b0 + i] += val
                if want_stats and rk != 0.0:
                    a0[k] += rk
                    _stats_full(diff, m, r, zero, sdiff, rdiff, a1[k], a2[k])
        if want_stats:
            _store_task(t, a0, a1, a2, s0, s1, s2)
        task_ll[t, 0] = ll
        task_ll[t, 1] = icl
