"""One pass of a Gaussian mixture over rows with missing cells, each row with
its own pattern: marginal log-densities, responsibilities, completed rows and
the EM statistics, in the same read of ``X``.

Why one pass
------------
Grouping rows by missingness pattern (``bayesmix._missing``) costs one kernel
call and Python set-up per pattern: cheap for a few patterns, but cells
missing at random give up to ``2^D`` patterns of a few rows each, and the
calls then dominate (12-16x a complete-data iteration at D = 8).  Here one
pass reads every row once, each row looking up its own pattern in a table
built by :func:`pattern_table` (one compiled call per E-step).

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

(Ghahramani & Jordan 1994; Little & Rubin 2002, ch. 11).  Everything that
depends on the pattern and the component only -- ``B = -Lambda_mm^-1
Lambda_m.`` (zero on the missing columns), ``C = Lambda_mm^-1`` and
``log |Lambda_mm| / 2`` -- is tabulated once per (pattern, component) by
:func:`pattern_table`, ``O(P K (m^3 + m^2 D))``; per row and component what is
left is ``z_m = B x - B mu`` (``m D`` multiply-adds over a contiguous row),
the tiled quadratic form and statistics of the complete-data pass, and one add
to the pattern's sum of responsibilities, which meets ``C`` once per task.  A
first phase computes the log-densities and keeps ``z``; a second (after the
responsibilities) accumulates the statistics of the same completed vectors.

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


@njit(cache=True, nogil=True, error_model="numpy")
def pattern_table(lam, means, n_mis, mis):
    """Per pattern ``p`` and component ``k``, what the pass needs of ``Lambda_mm``.

    Parameters
    ----------
    lam : (K, D, D) precisions
    means : (K, D)
    n_mis : (P,) number of missing features of each pattern
    mis : (P, D) the missing features of each pattern (first ``n_mis[p]``, ascending)

    Returns
    -------
    T, T_off : flat tables, pattern after pattern: from ``T_off[p]``, a
        (D + 1, K m) matrix (``m = n_mis[p]``) whose column ``k m + a`` is
        ``[B_k[a], b_k[a]]``, ``B_k = -Lambda_mm^-1 Lambda_m.`` with zeros on
        the missing columns and ``b_k = -B_k mu_k``, so that
        ``z_m = B_k x + b_k`` with the missing entries of ``x`` at 0.  One
        row's pattern is one contiguous read, and the ``K m`` sums of a row
        run side by side (a single dot product of ``D`` terms is a chain of
        dependent adds: slow at small ``D``).
    C, C_off : from ``C_off[p]``, for each component ``Lambda_mm^-1`` (m x m),
        the conditional covariance
    hld : (P, K) ``log |Lambda_mm| / 2``
    """
    n_components, n_features = lam.shape[0], lam.shape[1]
    n_pat = n_mis.shape[0]
    T_off = np.zeros(n_pat + 1, dtype=np.int64)
    C_off = np.zeros(n_pat + 1, dtype=np.int64)
    mmax = 1
    for p in range(n_pat):
        nm = n_mis[p]
        mmax = max(mmax, nm)
        T_off[p + 1] = T_off[p] + n_components * nm * (n_features + 1)
        C_off[p + 1] = C_off[p] + n_components * nm * nm
    T = np.zeros(T_off[n_pat])
    C = np.zeros(C_off[n_pat])
    hld = np.zeros((n_pat, n_components))
    L = np.zeros((mmax, mmax))
    Li = np.zeros((mmax, mmax))
    Cpk = np.zeros((mmax, mmax))
    missing = np.zeros(n_features, dtype=np.bool_)
    for p in range(n_pat):
        nm = n_mis[p]
        if nm == 0:
            continue
        missing[:] = False
        for a in range(nm):
            missing[mis[p, a]] = True
        for k in range(n_components):
            lk = lam[k]
            for a in range(nm):  # lower Cholesky factor of Lambda_mm
                for b in range(a + 1):
                    s = lk[mis[p, a], mis[p, b]]
                    for c in range(b):
                        s -= L[a, c] * L[b, c]
                    if a == b:
                        L[a, a] = np.sqrt(s)
                        hld[p, k] += np.log(L[a, a])
                    else:
                        L[a, b] = s / L[b, b]
            for b in range(nm):  # L^-1, lower, column by column
                for a in range(b):
                    Li[a, b] = 0.0
                Li[b, b] = 1.0 / L[b, b]
                for a in range(b + 1, nm):
                    s = 0.0
                    for c in range(b, a):
                        s += L[a, c] * Li[c, b]
                    Li[a, b] = -s / L[a, a]
            c0 = C_off[p] + k * nm * nm
            for a in range(nm):  # C = L^-T L^-1
                for b in range(a, nm):
                    s = 0.0
                    for c in range(b, nm):
                        s += Li[c, a] * Li[c, b]
                    Cpk[a, b] = s
                    Cpk[b, a] = s
            for a in range(nm):
                for b in range(nm):
                    C[c0 + a * nm + b] = Cpk[a, b]
            width = n_components * nm
            for a in range(nm):
                at = T_off[p] + k * nm + a
                t = 0.0
                for f in range(n_features):
                    if missing[f]:
                        continue
                    s = 0.0
                    for b in range(nm):
                        s += Cpk[a, b] * lk[mis[p, b], f]
                    T[at + f * width] = -s
                    t += s * means[k, f]
                T[at + n_features * width] = t
    return T, T_off, C, C_off, hld


@njit(cache=True, nogil=True)
def _load_block(Xt, b0, m, xb):
    """Rows ``b0 .. b0+m`` into ``xb`` with missing cells (NaN) at 0."""
    for f in range(Xt.shape[0]):
        for i in range(m):
            v = Xt[f, b0 + i]
            xb[f, i] = v if v == v else 0.0


@njit(cache=True, nogil=True)
def _centre_block(xb, m, mu, diff):
    for f in range(xb.shape[0]):
        c = mu[f]
        for i in range(m):
            diff[f, i] = xb[f, i] - c


@njit(cache=True, nogil=True)
def _incomplete_rows(row_pattern, b0, m, n_mis, hmis, count, inc, pid, off):
    """The block's rows with a missing cell, ``inc`` (their patterns ``pid``,
    offsets ``off`` into the block's ``z``), ordered by their number of missing
    cells (a counting sort), so that the loops over the missing cells of
    consecutive rows run the same number of times.  ``hmis[i] = (D - q_i)/2
    log 2 pi``.  Returns their count."""
    count[:] = 0
    for i in range(m):
        nm = n_mis[row_pattern[b0 + i]]
        hmis[i] = _HALF_LOG_2PI * nm
        count[nm] += 1
    n_inc = m - count[0]
    start = 0
    for nm in range(1, count.shape[0]):  # count[nm] becomes the first slot of nm
        c = count[nm]
        count[nm] = start
        start += c
    for i in range(m):
        p = row_pattern[b0 + i]
        nm = n_mis[p]
        if nm > 0:
            j = count[nm]
            count[nm] = j + 1
            inc[j] = i
            pid[j] = p
    for j in range(n_inc):
        off[j + 1] = off[j] + n_mis[pid[j]]
    return n_inc


@njit(**_KERNEL)
def incomplete_pass(
    Xt, w, means, prec, log_const, row_pattern, n_mis, mis, T, T_off, C, C_off, hld, row_lse,
    resp, completed, s0, s1, s2, task_ll, task_lo, task_hi,
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
    log_const : (n_components,) ``log pi_k + log |U_k| - D/2 log 2 pi``
    row_pattern : (n_samples,) each row's pattern
    n_mis, mis : (P,), (P, D) the patterns' missing features
    T, T_off, C, C_off, hld : the tables of :func:`pattern_table`
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
    n_pat = n_mis.shape[0]
    mmax = 1
    for p in range(n_pat):
        mmax = max(mmax, n_mis[p])
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
    xb = np.zeros((n_pad, BLOCK))
    diff = np.zeros((n_pad, BLOCK))
    sdiff = np.zeros((n_pad, BLOCK))
    rdiff = np.zeros((n_pad, BLOCK))
    y = np.empty((TILE, BLOCK))
    lp = np.empty((n_components, BLOCK))
    e = np.empty((n_components, BLOCK))
    mx = np.empty(BLOCK)
    tot = np.empty(BLOCK)
    wll = np.empty(BLOCK)
    wicl = np.empty(BLOCK)
    hmis = np.empty(BLOCK)
    inv = np.empty(BLOCK)
    winv = np.empty(BLOCK)
    r = np.empty(BLOCK)
    inc = np.zeros(BLOCK, dtype=np.int64)
    pid = np.zeros(BLOCK, dtype=np.int64)
    off = np.zeros(BLOCK + 1, dtype=np.int64)
    count = np.zeros(n_features + 1, dtype=np.int64)
    # the block's missing cells, flat: feature, column, and z per component
    misf = np.zeros(BLOCK * mmax, dtype=np.int64)
    col = np.zeros(BLOCK * mmax, dtype=np.int64)
    zbuf = np.zeros((n_components, BLOCK * mmax))
    hb = np.zeros((n_components, BLOCK))
    hrow = np.zeros(BLOCK)
    zr = np.zeros(n_components * mmax)
    # per task: each pattern's sum of w r per component, and the patterns touched
    rp = np.zeros((n_components, n_pat)) if want_stats else np.zeros((n_components, 0))
    seen = np.zeros(n_pat if want_stats else 0, dtype=np.bool_)
    touched = np.zeros(min(n_pat, TASK) if want_stats else 0, dtype=np.int64)
    a0, a1, a2 = _accumulators(n_components, n_pad, False)
    for t in range(task_lo, task_hi):
        ll = 0.0
        icl = 0.0
        a0[:] = 0.0
        a1[:] = 0.0
        a2[:] = 0.0
        n_touched = 0
        r_end = min(n_samples, (t + 1) * TASK)
        for b0 in range(t * TASK, r_end, BLOCK):
            m = min(BLOCK, r_end - b0)
            _load_block(Xt, b0, m, xb)
            n_inc = _incomplete_rows(row_pattern, b0, m, n_mis, hmis, count, inc, pid, off)
            if want_stats:
                for j in range(n_inc):
                    p = pid[j]
                    if not seen[p]:
                        seen[p] = True
                        touched[n_touched] = p
                        n_touched += 1
            n_cells = off[n_inc]
            # z of every missing cell for every component: row by row, each row
            # reading its pattern's table in one contiguous sweep
            for j in range(n_inc):
                i = inc[j]
                p = pid[j]
                nm = n_mis[p]
                o = off[j]
                for a in range(nm):
                    misf[o + a] = mis[p, a]
                    col[o + a] = i
                base = T_off[p]
                width = n_components * nm
                last = base + n_features * width
                for c in range(width):
                    zr[c] = T[last + c]
                for f in range(n_features):
                    xf = xb[f, i]
                    at = base + f * width
                    for c in range(width):
                        zr[c] += T[at + c] * xf
                for k in range(n_components):
                    hb[k, j] = hld[p, k]
                    for a in range(nm):
                        zbuf[k, o + a] = zr[k * nm + a]
            for i in range(m):
                mx[i] = -np.inf
                hrow[i] = 0.0  # log |Lambda_mm| / 2 of the row's pattern, 0 if complete
            for k in range(n_components):
                _centre_block(xb, m, mu[k], diff)
                zk = zbuf[k]
                for q in range(n_cells):
                    diff[misf[q], col[q]] = zk[q]
                _quad_tiles(diff, m, up[k], y, lp[k])
                c = log_const[k]
                lpk = lp[k]
                hk = hb[k]
                for j in range(n_inc):
                    hrow[inc[j]] = hk[j]
                for i in range(m):
                    v = c - hrow[i] - 0.5 * lpk[i]
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
                v = mx[i] + lt + hmis[i]
                wi = w[b0 + i]
                wll[i] = wi * v if wi != 0.0 else 0.0
                wicl[i] = -wi * lt if wi != 0.0 else 0.0
                iv = 1.0 / tot[i]
                inv[i] = iv
                winv[i] = wi * iv
                hmis[i] = v
            ll += _sum(wll, m)
            icl += _sum(wicl, m)
            if want_lse:
                for i in range(m):
                    row_lse[b0 + i] = hmis[i]
            if want_resp:
                for i in range(m):
                    for k in range(n_components):
                        resp[b0 + i, k] = e[k, i] * inv[i]
            if not (want_stats or (want_completed and n_inc > 0)):
                continue
            for k in range(n_components):
                ek = e[k]
                zk = zbuf[k]
                if want_completed:
                    for q in range(n_cells):
                        f = misf[q]
                        i = col[q]
                        val = ek[i] * inv[i] * (mu[k, f] + zk[q])
                        if k == 0:
                            completed[f, b0 + i] = val
                        else:
                            completed[f, b0 + i] += val
                if not want_stats:
                    continue
                for i in range(m):
                    r[i] = ek[i] * winv[i]
                rk = _sum(r, m)
                if rk == 0.0:
                    continue
                # the completed rows of the E-step, in data units: _stats_full
                # centres them (x - mu_k differs from z only in the last bit)
                rpk = rp[k]
                muk = mu[k]
                for q in range(n_cells):
                    f = misf[q]
                    xb[f, col[q]] = muk[f] + zk[q]
                for j in range(n_inc):
                    rpk[pid[j]] += r[inc[j]]
                a0[k] += rk
                _stats_full(xb, m, r, muk, sdiff, rdiff, a1[k], a2[k])
        if want_stats:
            # the conditional covariances, once per pattern met in this task
            for q in range(n_touched):
                p = touched[q]
                seen[p] = False
                nm = n_mis[p]
                for k in range(n_components):
                    rpk = rp[k, p]
                    rp[k, p] = 0.0
                    c0 = C_off[p] + k * nm * nm
                    a2k = a2[k]
                    for a in range(nm):
                        for b in range(a, nm):
                            a2k[mis[p, a], mis[p, b]] += rpk * C[c0 + a * nm + b]
            _store_task(t, a0, a1, a2, s0, s1, s2)
        task_ll[t, 0] = ll
        task_ll[t, 1] = icl
