"""Model-based agglomerative hierarchical clustering (Banfield & Raftery 1993;
Fraley 1998): the unconstrained-covariance ("VVV") criterion, frequency weights.

A cluster with total weight ``m``, ``q`` distinct rows and scatter matrix
``W = sum_i w_i (x_i - mean)(x_i - mean)^T`` (p x p) costs

    term(m, W) = m * log( det(W / m) + beta * (tr W + alpha) / m )

with ``det(W / m)`` taken as 0 when ``q <= p`` (W is singular then).  For a
large cluster this is ``m log det(W / m)``, which is -2 times its maximised
Gaussian classification log-likelihood up to a constant; the
``beta * (tr W + alpha)`` part keeps singletons and flat clusters finite, with
``alpha`` the scale below which a cluster counts as small (Fraley 1998, sec. 4,
as in mclust's ``hcVVV``).  Each step merges the pair whose union raises the
total cost least.

The merge costs of all pairs of current clusters live in an (n, n) matrix.
Every row also keeps a lower bound of its smallest cost and where it is;
after a merge only the merged cluster's row is recomputed, and a row whose
minimum pointed at a merged cluster is rescanned lazily, when its bound comes
to the top.  Ties go to the lowest indices, so the result is deterministic.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _log_det_or_zero(A, p):
    """In-place Cholesky of the symmetric p x p ``A``; returns ``log det A``, or
    ``-inf`` when ``A`` is not numerically positive definite."""
    tiny = 1e-13
    scale = 0.0
    for a in range(p):
        scale = max(scale, A[a, a])
    if scale <= 0.0:
        return -np.inf
    log_det = 0.0
    for j in range(p):
        s = A[j, j]
        for k in range(j):
            s -= A[j, k] * A[j, k]
        if s <= tiny * scale:
            return -np.inf
        d = np.sqrt(s)
        A[j, j] = d
        log_det += 2.0 * np.log(d)
        for i in range(j + 1, p):
            t = A[i, j]
            for k in range(j):
                t -= A[i, k] * A[j, k]
            A[i, j] = t / d
    return log_det


@njit(cache=True, nogil=True)
def _term(m, log_det, trace, alpha, beta):
    """``m * log(exp(log_det) + beta * (trace + alpha) / m)``, overflow-safe."""
    b = beta * (trace + alpha) / m
    if log_det == -np.inf:
        return m * np.log(b)
    if log_det > 0.0:
        return m * (log_det + np.log1p(np.exp(-log_det) * b))
    return m * np.log(np.exp(log_det) + b)


@njit(cache=True, nogil=True)
def _merged_term(i, k, mass, n_rows, mean, scatter, trace, alpha, beta, work):
    """Cost term of the union of clusters ``i`` and ``k`` (``work``: p x p scratch)."""
    p = mean.shape[1]
    m = mass[i] + mass[k]
    c = mass[i] * mass[k] / m
    tr = trace[i] + trace[k]
    for a in range(p):
        da = mean[i, a] - mean[k, a]
        tr += c * da * da
    log_det = -np.inf
    if n_rows[i] + n_rows[k] > p:
        inv_m = 1.0 / m
        for a in range(p):
            da = mean[i, a] - mean[k, a]
            for b in range(a + 1):
                db = mean[i, b] - mean[k, b]
                work[a, b] = (scatter[i, a, b] + scatter[k, a, b] + c * da * db) * inv_m
        log_det = _log_det_or_zero(work, p)
    return _term(m, log_det, tr, alpha, beta)


@njit(cache=True, nogil=True)
def _rescan(r, active, cost, n_init):
    best = np.inf
    arg = -1
    for k in range(n_init):
        if active[k] and k != r and cost[r, k] < best:
            best = cost[r, k]
            arg = k
    return best, arg


@njit(cache=True, nogil=True)
def _mirror_lower(a):
    """Copy the strict lower triangle of the square ``a`` onto its upper one, in
    tiles, so that neither side is walked down a column of a large matrix."""
    n = a.shape[0]
    tile = 64
    for r0 in range(0, n, tile):
        r1 = min(n, r0 + tile)
        for c0 in range(0, r0 + 1, tile):
            c1 = min(n, c0 + tile)
            for r in range(r0, r1):
                for c in range(c0, min(c1, r)):
                    a[c, r] = a[r, c]


@njit(cache=True, nogil=True)
def agglomerate(means, mass, alpha, beta, n_clusters, parent, merges):
    """Merge singleton clusters down to ``n_clusters`` by the criterion above.

    Parameters
    ----------
    means : (n_init, n_features) float64
        The starting clusters: distinct rows, each a single point.
    mass : (n_init,) float64, > 0
        Their frequency weights.
    alpha, beta : float
        The criterion's regularisation (module docstring); ``alpha > 0``.
    n_clusters : int
        Stop when this many clusters remain (``1 <= n_clusters <= n_init``).
    parent : (n_init,) int64 output
        ``parent[i]`` is the starting cluster that ``i`` was merged into
        (``i`` itself for the survivors); follow it to find each row's cluster.
    merges : (n_init - n_clusters, 3) float64 output
        Row ``s``: the two clusters merged at step ``s`` (lower index first, the
        merged cluster keeps it) and the increase of the criterion.
    """
    n_init, p = means.shape
    mean = means.copy()
    m = mass.copy()
    n_rows = np.ones(n_init, dtype=np.int64)
    scatter = np.zeros((n_init, p, p))
    trace = np.zeros(n_init)
    term = np.empty(n_init)
    for i in range(n_init):
        term[i] = _term(m[i], -np.inf, 0.0, alpha, beta)
        parent[i] = i
    active = np.ones(n_init, dtype=np.bool_)
    work = np.empty((p, p))
    cost = np.empty((n_init, n_init))
    for i in range(n_init):
        cost[i, i] = np.inf
        for k in range(i):
            c = _merged_term(i, k, m, n_rows, mean, scatter, trace, alpha, beta, work)
            cost[i, k] = c - (term[i] + term[k])
    _mirror_lower(cost)
    # near_cost[r] is a lower bound of row r's smallest merge cost, exact when
    # fresh[r]; stale rows are rescanned only when they reach the top, so rows
    # that merely lost their nearest cluster cost nothing until they matter.
    near = np.empty(n_init, dtype=np.int64)
    near_cost = np.empty(n_init)
    fresh = np.ones(n_init, dtype=np.bool_)
    for i in range(n_init):
        near_cost[i], near[i] = _rescan(i, active, cost, n_init)

    for step in range(n_init - n_clusters):
        while True:
            i = -1
            best = np.inf
            for r in range(n_init):
                if active[r] and (i < 0 or near_cost[r] < best):
                    best = near_cost[r]
                    i = r
            if fresh[i]:
                break
            near_cost[i], near[i] = _rescan(i, active, cost, n_init)
            fresh[i] = True
        j = near[i]
        if j < i:
            i, j = j, i
        # merge j into i: weighted pooled mean and scatter
        mi, mj = m[i], m[j]
        mij = mi + mj
        c = mi * mj / mij
        for a in range(p):
            da = mean[i, a] - mean[j, a]
            trace[i] += c * da * da
            for b in range(p):
                db = mean[i, b] - mean[j, b]
                scatter[i, a, b] += scatter[j, a, b] + c * da * db
        trace[i] += trace[j]
        for a in range(p):
            mean[i, a] = (mi * mean[i, a] + mj * mean[j, a]) / mij
        m[i] = mij
        n_rows[i] += n_rows[j]
        term[i] = cost[i, j] + term[i] + term[j]
        active[j] = False
        parent[j] = i
        merges[step, 0] = i
        merges[step, 1] = j
        merges[step, 2] = best
        near_cost[i] = np.inf
        near[i] = -1
        fresh[i] = True
        for k in range(n_init):
            if not active[k] or k == i:
                continue
            c = _merged_term(i, k, m, n_rows, mean, scatter, trace, alpha, beta, work)
            c -= term[i] + term[k]
            cost[i, k] = c
            cost[k, i] = c
            if c < near_cost[i]:
                near_cost[i] = c
                near[i] = k
            if c < near_cost[k] or ((near[k] == i or near[k] == j) and c == near_cost[k]):
                # below a lower bound of the rest of row k: the exact minimum
                near_cost[k] = c
                near[k] = i
                fresh[k] = True
            elif near[k] == i or near[k] == j:
                # the old minimum changed or left: the bound stays valid, not exact
                fresh[k] = False
