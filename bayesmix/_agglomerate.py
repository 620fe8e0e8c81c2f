"""The model-based agglomeration of :mod:`bayesmix._kernels._hierarchical` in
numpy, for small problems: the same merges, without compiling that kernel.

The numba kernel ``agglomerate`` is large (fused blocks, a determinant lemma,
lazily rescanned rows) and costs 15-20 CPU seconds to compile, which a first
fit on a fresh install used to pay for a few hundred rows.  This module runs
the same algorithm with numpy arrays instead: every merge is a handful of
vectorised operations over the active clusters (O(n p^2) work, O(p^2) numpy
calls), after an O(n^2 p) first matrix.

It reproduces the kernel exactly, not approximately: every merge cost is
computed by the same floating-point operations in the same order (the
criterion's costs of a pair by the route the kernel takes for that pair:
the ``b`` term alone, the determinant lemma, the direct Cholesky
factorisation, or the logarithmic reference for determinants out of range),
the logarithm of the costs is the kernel's own polynomial one
(:func:`bayesmix._kernels.log_positive`, a small kernel), scalar logarithms
are the C library's (``math.log``, as numba's ``np.log``), and the nearest
cluster of every row is kept with the kernel's bookkeeping (lower bounds,
lazy rescans, ties to the lowest index).  So the merges, the parents and the
merge costs are bit for bit the kernel's (``tests/test_hierarchical_numpy.py``
checks it on many data sets, ties and duplicates included), and a fit does not
depend on which of the two ran.

Reference: Fraley, C. (1998). Algorithms for model-based Gaussian hierarchical
clustering. SIAM J. Sci. Comput. 20, 270-281.
"""

from __future__ import annotations

import math

import numpy as np

from ._kernels import log_positive
from ._kernels._hierarchical import LEMMA_PIVOT, TINY

__all__ = ["agglomerate_numpy"]


def _log(x: float) -> float:
    """The C library's ``log`` (numba's ``np.log``), with numpy's -inf and NaN."""
    if x > 0.0:
        return math.log(x)
    return -math.inf if x == 0.0 else math.nan


def _term(m, log_det, trace, alpha, beta):
    """The kernel's ``_term``: ``m log(exp(log_det) + beta (trace + alpha) / m)``."""
    b = beta * (trace + alpha) / m
    if log_det == -math.inf:
        return m * _log(b)
    if log_det > 0.0:
        return m * (log_det + math.log1p(math.exp(-log_det) * b))
    return m * _log(math.exp(log_det) + b)


def _det_parts(A, p):
    """The kernel's ``_det_parts`` on the lower triangle of the list-of-lists ``A``."""
    scale = 0.0
    for a in range(p):
        scale = max(scale, A[a][a])
    if scale <= 0.0:
        return 0.0, 0.0
    prod = 1.0
    log_rest = 0.0
    for j in range(p):
        s = A[j][j]
        for k in range(j):
            s -= A[j][k] * A[j][k]
        if s <= 1e-13 * scale:
            return 0.0, 0.0
        prod *= s
        if prod > 1e100 or prod < 1e-100:
            log_rest += _log(prod)
            prod = 1.0
        if j + 1 < p:
            inv_d = 1.0 / math.sqrt(s)
            for i in range(j + 1, p):
                t = A[i][j]
                for k in range(j):
                    t -= A[i][k] * A[j][k]
                A[i][j] = t * inv_d
    return prod, log_rest


class _State:
    """The clusters, by index, as the kernel holds them."""

    def __init__(self, means, mass, alpha, beta):
        n, p = means.shape
        self.n, self.p = n, p
        self.alpha, self.beta = float(alpha), float(beta)
        self.meanT = np.array(means.T, dtype=np.float64)  # (p, n): rows gather fast
        self.m = np.array(mass, dtype=np.float64)
        self.n_rows = np.ones(n, dtype=np.int64)
        self.scatter = np.zeros((n, p, p))
        self.trace = np.zeros(n)
        self.term = np.array([_term(mk, -math.inf, 0.0, self.alpha, self.beta) for mk in self.m])
        self.L = np.eye(p)

    def merged_term(self, i, k):
        """The kernel's ``_merged_term``: the logarithmic reference."""
        p, m_, mean = self.p, self.m, self.meanT
        m = m_[i] + m_[k]
        c = m_[i] * m_[k] / m
        tr = self.trace[i] + self.trace[k]
        for a in range(p):
            da = mean[a, i] - mean[a, k]
            tr += c * da * da
        b = self.beta * (tr + self.alpha) / m
        if self.n_rows[i] + self.n_rows[k] <= p:
            return m * _log(b)
        inv_m = 1.0 / m
        S = self.scatter
        work = [[0.0] * p for _ in range(p)]
        for a in range(p):
            da = mean[a, i] - mean[a, k]
            for e in range(a + 1):
                work[a][e] = (S[i, a, e] + S[k, a, e] + c * da * (mean[e, i] - mean[e, k])) * inv_m
        prod, log_rest = _det_parts(work, p)
        if log_rest == 0.0:
            return m * _log(prod + b)
        return _term(m, _log(prod) + log_rest, tr, self.alpha, self.beta)

    def lemma_factor(self, i):
        """The kernel's ``_lemma_factor`` of cluster ``i``'s scatter, into ``self.L``."""
        S = self.scatter[i]
        L = self.L
        p = self.p
        det = 1.0
        min_piv = math.inf
        scale = 0.0
        for j in range(p):
            scale = max(scale, S[j, j])
        for j in range(p):
            s = float(S[j, j])
            for q in range(j):
                s -= L[j, q] * L[j, q]
            if not s > LEMMA_PIVOT * S[j, j]:
                return 0.0, 0.0, scale
            det *= s
            min_piv = min(min_piv, s)
            inv_d = 1.0 / math.sqrt(s)
            L[j, j] = inv_d
            for r in range(j + 1, p):
                t = float(S[r, j])
                for q in range(j):
                    t -= L[r, q] * L[j, q]
                L[r, j] = t * inv_d
        if not 1e-200 <= det <= 1e200:
            return 0.0, 0.0, scale
        return det, min_piv, scale

    def costs(self, i, K, lemma=(0.0, 0.0, 0.0)):
        """Merge costs of cluster ``i`` with each cluster of the index array
        ``K``, each by the route and operations the kernel uses for that pair;
        ``i`` may be an index array like ``K`` (pairs ``(i[u], K[u])``) when
        ``lemma`` is not given."""
        p = self.p
        mi = self.m[i]
        mk = self.m[K]
        M = mi + mk
        inv = 1.0 / M
        C = mi * mk * inv
        x = self.meanT[:, i] if np.ndim(i) else self.meanT[:, i : i + 1]
        D = x - self.meanT[:, K]
        TR = self.trace[i] + self.trace[K]
        for a in range(p):
            TR += C * D[a] * D[a]
        B = self.beta * (TR + self.alpha) * inv
        nri = self.n_rows[i]
        nrk = self.n_rows[K]
        det_i, min_piv, scale_i = lemma
        if det_i > 0.0:  # cluster i has more rows than features: every pair has a determinant
            L = self.L
            Q = np.zeros(K.size)
            Y = []
            for j in range(p):
                y = D[j].copy()
                for q in range(j):
                    y -= L[j, q] * Y[q]
                y *= L[j, j]
                Q += y * y
                Y.append(y)
            DET = det_i * (1.0 + C * Q)
            for _ in range(p):
                DET *= inv
            redo = (nrk > 1) | (min_piv <= TINY * scale_i + TINY * TR)
            redo |= ~((DET >= 1e-280) & (DET <= 1e280))
            ARG = np.where(redo, B, DET + B)
            direct = np.flatnonzero(redo)
        else:
            ARG = B.copy()
            direct = np.flatnonzero(nri + nrk > p)
        ext = np.empty(0, dtype=np.int64)
        if direct.size:
            i_d = i[direct] if np.ndim(i) else i
            arg_d, ext_d = self._direct(i_d, K[direct], C[direct], inv[direct], D[:, direct])
            ARG[direct] += arg_d
            ext = direct[ext_d]
        log_positive(ARG, ARG.size)
        out = M * ARG - (self.term[i] + self.term[K])
        for u in ext:
            iu, k = (i[u] if np.ndim(i) else i), K[u]
            out[u] = self.merged_term(iu, k) - (self.term[iu] + self.term[k])
        return out

    def _direct(self, i, K, C, inv, D):
        """The kernel's direct route (``_block_direct``, ``_pair_direct``) for
        the pairs ``(i, K)``: the determinant of the merged scatter / m to add
        to ``b`` (0 when singular), and where it left [1e-100, 1e100]."""
        p = self.p
        S = self.scatter
        scattered = self.n_rows[K] > 1
        A = {}
        for a in range(p):
            for e in range(a + 1):
                s = S[i, a, e]
                if scattered.any():
                    s = np.where(scattered, s + S[K, a, e], s)
                A[a, e] = (s + C * D[a] * D[e]) * inv
        scale = np.zeros(K.size)
        for a in range(p):
            scale = np.maximum(scale, A[a, a])
        bad = scale <= 0.0
        prod = np.ones(K.size)
        ext = np.zeros(K.size, dtype=bool)
        for j in range(p):
            piv = A[j, j].copy()
            for q in range(j):
                piv -= A[j, q] * A[j, q]
            bad |= piv <= TINY * scale
            prod *= piv
            ext |= (prod > 1e100) | (prod < 1e-100)
            if j + 1 < p:
                inv_d = 1.0 / np.sqrt(piv)
                for r in range(j + 1, p):
                    t = A[r, j].copy()
                    for q in range(j):
                        t -= A[r, q] * A[j, q]
                    A[r, j] = t * inv_d
        return np.where(bad, 0.0, prod), ~bad & ext

    def merge(self, i, j, best):
        """Merge ``j`` into ``i`` as the kernel does (pooled mean and scatter)."""
        mean, m = self.meanT, self.m
        mi, mj = m[i], m[j]
        mij = mi + mj
        c = mi * mj / mij
        d = mean[:, i] - mean[:, j]
        cd = c * d
        tr = self.trace[i]
        for a in range(self.p):
            tr += cd[a] * d[a]
        self.trace[i] = tr + self.trace[j]
        self.scatter[i] += self.scatter[j] + cd[:, None] * d[None, :]
        mean[:, i] = (mi * mean[:, i] + mj * mean[:, j]) / mij
        m[i] = mij
        self.n_rows[i] += self.n_rows[j]
        self.term[i] = best + self.term[i] + self.term[j]


def _first_min(v):
    """``(min, first index)`` of ``v`` ignoring NaN; ``(inf, -1)`` when nothing is below inf."""
    t = int(v.argmin()) if v.size else -1
    if t >= 0 and v[t] == v[t]:  # no NaN: argmin is the first minimum
        return (v[t], t) if v[t] < np.inf else (np.inf, -1)
    below = v < np.inf
    if not below.any():
        return np.inf, -1
    t = int(np.argmax(v == v[below].min()))
    return v[t], t


def agglomerate_numpy(means, mass, alpha, beta, n_clusters, parent, merges):
    """The kernel :func:`bayesmix._kernels._hierarchical.agglomerate`, in numpy:
    same arguments (``means`` (n, p) distinct rows, ``mass`` (n,) > 0,
    ``alpha > 0``, ``beta``, ``n_clusters``), same outputs written into
    ``parent`` (n,) int64 and ``merges`` (n - n_clusters, 3), bit for bit."""
    n = means.shape[0]
    parent[:] = np.arange(n)
    if n_clusters >= n:
        return
    with np.errstate(all="ignore"):  # as the kernel: inf and NaN flow, never raise
        _agglomerate(_State(means, mass, alpha, beta), n_clusters, parent, merges)


def _agglomerate(st, n_clusters, parent, merges):
    n, p = st.n, st.p
    dead = n
    # cost[i, k] holds the pair's cost when i's row was computed last
    # (updated[i] >= updated[k]), else cost[k, i]; column n (removed) is inf
    cost = np.empty((n, n + 1))
    cost[:, n] = np.inf
    # the first matrix, below the diagonal, in chunks of rows of about 2^19 pairs
    lo = 1
    while lo < n:
        hi = min(n, max(lo + 1, int(np.sqrt(lo * lo + 2.0**20))))
        il, jl = np.tril_indices(hi, -1)
        first = lo * (lo - 1) // 2
        il, jl = il[first:], jl[first:]
        cost[il, jl] = st.costs(il, jl)
        cost[jl, il] = cost[il, jl]
        lo = hi
    cost[np.arange(n), np.arange(n)] = np.inf
    full = cost[:, :n]
    clean = np.where(np.isnan(full), np.inf, full)
    near_cost = clean.min(axis=1)
    near = np.argmax(clean == near_cost[:, None], axis=1).astype(np.int64)
    near[~(near_cost < np.inf)] = -1
    near_cost = np.where(near_cost < np.inf, near_cost, np.inf)
    near_cost = np.append(near_cost, np.inf)  # index n: removed clusters point here
    fresh = np.ones(n, dtype=bool)
    updated = np.full(n + 1, -1, dtype=np.int64)
    updated[dead] = -2
    alive = np.ones(n, dtype=bool)
    act = np.arange(n)  # the active clusters, increasing

    for step in range(n - n_clusters):
        while True:
            top = act[0]
            if near_cost[top] == near_cost[top]:  # else NaN: kept, as the kernel does
                best, t = _first_min(near_cost[act])
                if t >= 0:
                    top = act[t]
            best = near_cost[top]
            if fresh[top]:
                break
            r = top
            row = np.where(updated[act] <= updated[r], cost[r, act], cost[act, r])
            c, t = _first_min(row)
            near_cost[r], near[r] = c, (act[t] if t >= 0 else -1)
            fresh[r] = True
        i = int(top)
        j = int(near[top])
        if j < i:
            i, j = j, i
        st.merge(i, j, best)
        parent[j] = i
        merges[step, 0] = i
        merges[step, 1] = j
        merges[step, 2] = best
        alive[j] = False
        near_cost[j] = np.inf
        act = act[act != j]

        lemma = (0.0, 0.0, 0.0)
        if st.n_rows[i] > p:
            lemma = st.lemma_factor(i)
        others = act[act != i]
        row = st.costs(i, others, lemma)
        near_cost_i, t_i = _first_min(row)
        updated[i] = step
        cost[i, others] = row
        # the other rows: a smaller cost is their exact minimum; a row whose
        # minimum was at i or j keeps a valid lower bound that may not be exact
        nk = near[others]
        hit = (nk == i) | (nk == j)
        ncost = near_cost[others]
        take = (row < ncost) | (hit & (row == ncost))
        near_cost[others] = np.where(take, row, ncost)
        near[others] = np.where(take, i, nk)
        fresh[others] = np.where(take, True, np.where(hit, False, fresh[others]))
        near_cost[i] = near_cost_i
        near[i] = others[t_i] if t_i >= 0 else -1
        fresh[i] = True
