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

How it is made fast
-------------------
* A merge writes the merged cluster's row of the matrix and not its column (a
  column costs a cache miss per entry): the cost of a pair sits in the row of
  whichever of the two was merged last, as ``updated`` tells.  The first
  matrix is computed below the diagonal, every row's nearest cluster found on
  the way, then mirrored.
* The active clusters are also kept side by side in the positional array
  ``P`` (weight, term, trace, rows, mean), so that a row of costs is a run of
  loops over consecutive clusters, ``BLOCK`` at a time with the cluster
  innermost: the arithmetic vectorises, and so does the logarithm (the
  polynomial one of :mod:`._mixture`, within a few ulp of ``np.log``).  With
  at most 4 features all of a pair is one loop, intermediates in registers.
* Most merges join a singleton to a cluster ``i`` with more rows than
  features, and then ``det(W_i + c d d^T) = det(W_i) (1 + c d^T W_i^-1 d)``:
  one forward substitution with the Cholesky factor of ``W_i``, computed once
  per step, instead of a factorisation per pair.  It serves only when that
  factor is well conditioned (every pivot above ``LEMMA_PIVOT`` of its
  diagonal entry) and the merged matrix cannot be singular by the test below.
  The other pairs are factorised directly, a block at a time or, when a block
  has only a few, one at a time (:func:`_pair_direct`), by the same
  operations either way: how a pair is computed depends on that pair alone,
  so pairs that are equal cost exactly the same.
* A determinant is the product of the Cholesky pivots; a pivot at most
  ``TINY`` times the largest diagonal entry makes it 0 (singular), and one
  whose partial products leave [1e-100, 1e100] is taken in logarithms by
  :func:`_merged_term`, the one-pair-at-a-time reference.

The costs agree with that reference to about 1e-12 relative (the lemma, the
polynomial logarithm and multiplying by ``1 / m`` rather than dividing change
the last bits), so the merge sequence is the reference's except where two
merges tie to within rounding.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._mixture import _log, log_positive


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
def _det_parts(A, p):
    """In-place Cholesky of the symmetric p x p ``A`` (lower triangle read);
    returns ``(prod, log_rest)`` with ``det A = prod * exp(log_rest)``, and
    ``(0, 0)`` when ``A`` is not numerically positive definite.

    The pivots are multiplied rather than logged one by one: ``log_rest``
    takes the product over only when it leaves ``[1e-100, 1e100]``, so the
    usual case needs no logarithm here at all.
    """
    tiny = 1e-13
    scale = 0.0
    for a in range(p):
        scale = max(scale, A[a, a])
    if scale <= 0.0:
        return 0.0, 0.0
    prod = 1.0
    log_rest = 0.0
    for j in range(p):
        s = A[j, j]
        for k in range(j):
            s -= A[j, k] * A[j, k]
        if s <= tiny * scale:
            return 0.0, 0.0
        prod *= s
        if prod > 1e100 or prod < 1e-100:
            log_rest += np.log(prod)
            prod = 1.0
        if j + 1 < p:
            inv_d = 1.0 / np.sqrt(s)
            for i in range(j + 1, p):
                t = A[i, j]
                for k in range(j):
                    t -= A[i, k] * A[j, k]
                A[i, j] = t * inv_d
    return prod, log_rest


@njit(cache=True, nogil=True)
def _merged_term(i, k, mass, n_rows, mean, scatter, trace, alpha, beta, work):
    """Cost term of the union of clusters ``i`` and ``k`` (``work``: p x p
    scratch), one pair at a time: the reference, and the route of determinants
    out of range."""
    p = mean.shape[1]
    m = mass[i] + mass[k]
    c = mass[i] * mass[k] / m
    tr = trace[i] + trace[k]
    for a in range(p):
        da = mean[i, a] - mean[k, a]
        tr += c * da * da
    b = beta * (tr + alpha) / m
    if n_rows[i] + n_rows[k] <= p:  # too few rows: singular scatter, det taken as 0
        return m * np.log(b)
    inv_m = 1.0 / m
    for a in range(p):
        da = mean[i, a] - mean[k, a]
        for e in range(a + 1):
            work[a, e] = (
                scatter[i, a, e] + scatter[k, a, e] + c * da * (mean[i, e] - mean[k, e])
            ) * inv_m
    prod, log_rest = _det_parts(work, p)
    if log_rest == 0.0:  # det = prod, neither huge nor tiny (or 0: singular)
        return m * np.log(prod + b)
    return _term(m, np.log(prod) + log_rest, tr, alpha, beta)


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


# ------------------------------------------------------------------ pair costs
# The active clusters also live side by side by position, in increasing order
# of index (removed ones leave gaps, closed now and then), so that the costs of
# a cluster against all others are loops over consecutive pairs.  Rows of the
# positional float array ``P``:
_P_MASS, _P_TERM, _P_TRACE, _P_ROWS, _P_NEAR_COST = range(5)
_P_MEAN = 5  # then max(p, 4) rows of the means, feature-major (zero padded)

BLOCK = 128  # pairs per batch
TINY = 1e-13  # a pivot at most TINY times the largest diagonal entry: singular
LEMMA_PIVOT = 1e-4  # the lemma wants cluster i's pivots above this fraction of their diagonal
REDO_MAX = 16  # more pairs of a block than this to redo one by one: the block goes direct

# Rows of the scratch ``W`` of the general path, after the p rows of mean
# differences and the p * p rows of a matrix per pair (lower triangle used):
_M, _INV_M, _C, _TR, _B, _SCALE, _PROD, _BAD, _EXT, _PIV, _Q, _REDO, _ARG = range(13)
_N_VEC = 13
# Rows of the flat scratch ``F`` (row r at F[r * BLOCK:]) of the path for p <= 4,
# whose results every block ends in:
_F_MK, _F_TRK, _F_NR, _F_X0, _F_M, _F_ARG, _F_REDO = 0, 1, 2, 3, 7, 8, 9
_N_F = 10


@njit(cache=True, nogil=True)
def _lemma_factor(S, L):
    """Cholesky factor ``L`` (lower, its diagonal stored inverted) of the scatter
    ``S`` of the merged cluster, for the determinant lemma of :func:`_pair_costs`.

    Returns ``(det S, smallest pivot, largest diagonal entry)``; the determinant
    is returned as 0 (no lemma: every pair takes the direct route) when a pivot
    is at most ``LEMMA_PIVOT`` times its diagonal entry, where the lemma would
    lose digits that the direct factorisation keeps, or when it leaves
    [1e-200, 1e200]."""
    p = S.shape[0]
    det = 1.0
    min_piv = np.inf
    scale = 0.0
    for j in range(p):
        scale = max(scale, S[j, j])
    for j in range(p):
        s = S[j, j]
        for q in range(j):
            s -= L[j, q] * L[j, q]
        if not s > LEMMA_PIVOT * S[j, j]:
            return 0.0, 0.0, scale
        det *= s
        min_piv = min(min_piv, s)
        inv_d = 1.0 / np.sqrt(s)
        L[j, j] = inv_d
        for r in range(j + 1, p):
            t = S[r, j]
            for q in range(j):
                t -= L[r, q] * L[j, q]
            L[r, j] = t * inv_d
    if not 1e-200 <= det <= 1e200:
        return 0.0, 0.0, scale
    return det, min_piv, scale


@njit(cache=True, nogil=True, error_model="numpy")
def _block_fused4(P, t0, nb, x, mi, tri, alpha, beta, p, lemma, L, det_i, min_piv, scale_i, F):
    """The pairs of one block for ``p <= 4`` (zero padded to 4), in one loop with
    every intermediate in registers: rows ``_F_M`` and ``_F_ARG`` of ``F`` (the
    argument of the logarithm: ``b``, plus the lemma's determinant when
    ``lemma``) and, with ``lemma``, ``_F_REDO`` as in :func:`_block_lemma`;
    returns how many pairs are to be redone.
    The same operations in the same order as the general path, so the same
    numbers.  The inputs are first copied into ``F``: a loop that reads and
    writes one array at fixed offsets vectorises without aliasing checks."""
    MK = P[_P_MASS, t0 : t0 + nb]
    TRK = P[_P_TRACE, t0 : t0 + nb]
    NR = P[_P_ROWS, t0 : t0 + nb]
    for u in range(nb):
        F[_F_MK * BLOCK + u] = MK[u]
    for u in range(nb):
        F[_F_TRK * BLOCK + u] = TRK[u]
    for u in range(nb):
        F[_F_NR * BLOCK + u] = NR[u]
    for a in range(4):
        Ma = P[_P_MEAN + a, t0 : t0 + nb]
        for u in range(nb):
            F[(_F_X0 + a) * BLOCK + u] = Ma[u]
    x0, x1, x2, x3 = x[0], x[1], x[2], x[3]
    g0, g1, g2, g3 = L[0, 0], L[1, 1], L[2, 2], L[3, 3]
    l10, l20, l21, l30, l31, l32 = L[1, 0], L[2, 0], L[2, 1], L[3, 0], L[3, 1], L[3, 2]
    lim = TINY * scale_i
    n_redo = 0
    for u in range(nb):
        mk = F[_F_MK * BLOCK + u]
        m = mi + mk
        im = 1.0 / m
        c = mi * mk * im
        d0 = x0 - F[_F_X0 * BLOCK + u]
        d1 = x1 - F[(_F_X0 + 1) * BLOCK + u]
        d2 = x2 - F[(_F_X0 + 2) * BLOCK + u]
        d3 = x3 - F[(_F_X0 + 3) * BLOCK + u]
        tr = tri + F[_F_TRK * BLOCK + u]
        tr += c * d0 * d0
        tr += c * d1 * d1
        tr += c * d2 * d2
        tr += c * d3 * d3
        arg = beta * (tr + alpha) * im
        F[_F_M * BLOCK + u] = m
        if lemma:
            y0 = d0 * g0
            y1 = (d1 - l10 * y0) * g1
            y2 = ((d2 - l20 * y0) - l21 * y1) * g2
            y3 = (((d3 - l30 * y0) - l31 * y1) - l32 * y2) * g3
            q = y0 * y0 + y1 * y1 + y2 * y2 + y3 * y3
            det = det_i * (1.0 + c * q) * im
            det = det * im if p > 1 else det
            det = det * im if p > 2 else det
            det = det * im if p > 3 else det
            redo = (
                F[_F_NR * BLOCK + u] > 1.0
                or min_piv <= lim + TINY * tr
                or not 1e-280 <= det <= 1e280
            )
            F[_F_REDO * BLOCK + u] = 1.0 if redo else 0.0
            n_redo += 1 if redo else 0
            arg = det + arg
        F[_F_ARG * BLOCK + u] = arg
    return n_redo


@njit(cache=True, nogil=True, error_model="numpy")
def _block_direct(i, nri, I, NR, nb, scatter, W):
    """Row ``_ARG`` of ``W``: ``det((S_i + S_k + c d d^T) / m) + b`` for the
    pairs of the block (after :func:`_block_prep`), the determinant the product
    of the Cholesky pivots, taken as 0 for too few rows or a pivot at most
    ``TINY`` times the largest diagonal entry; ``_REDO`` > 0 where a partial
    product of pivots left [1e-100, 1e100] (then :func:`_pair_direct` hands the
    pair to :func:`_merged_term`, which works in logarithms).

    Every loop runs over the pairs and writes one row, so that it vectorises."""
    p = scatter.shape[1]
    a0 = p
    v0 = p + p * p
    C = W[v0 + _C]
    INV_M = W[v0 + _INV_M]
    SCALE = W[v0 + _SCALE]
    PROD = W[v0 + _PROD]
    BAD = W[v0 + _BAD]
    EXT = W[v0 + _EXT]
    PIV = W[v0 + _PIV]
    B = W[v0 + _B]
    ARG = W[v0 + _ARG]
    REDO = W[v0 + _REDO]
    others_scattered = False
    for u in range(nb):
        others_scattered = others_scattered or NR[u] > 1.0
    for a in range(p):  # the lower triangle of the merged scatter / m
        Da = W[a]
        for e in range(a + 1):
            A = W[a0 + a * p + e]
            De = W[e]
            s_ie = scatter[i, a, e]
            if others_scattered:
                for u in range(nb):
                    A[u] = s_ie
                for u in range(nb):
                    if NR[u] > 1.0:
                        A[u] += scatter[I[u], a, e]
                for u in range(nb):
                    A[u] = (A[u] + C[u] * Da[u] * De[u]) * INV_M[u]
            else:  # singletons: S_k = 0
                for u in range(nb):
                    A[u] = (s_ie + C[u] * Da[u] * De[u]) * INV_M[u]
    for u in range(nb):
        SCALE[u] = 0.0
    for a in range(p):
        A = W[a0 + a * p + a]
        for u in range(nb):
            SCALE[u] = max(SCALE[u], A[u])
    for u in range(nb):
        PROD[u] = 1.0
    for u in range(nb):
        BAD[u] = 1.0 if SCALE[u] <= 0.0 else 0.0
    for u in range(nb):
        EXT[u] = 0.0
    for j in range(p):
        rj = a0 + j * p
        Ajj = W[rj + j]
        for u in range(nb):
            PIV[u] = Ajj[u]
        for q in range(j):
            Ajq = W[rj + q]
            for u in range(nb):
                PIV[u] -= Ajq[u] * Ajq[u]
        for u in range(nb):
            BAD[u] += 1.0 if PIV[u] <= TINY * SCALE[u] else 0.0
        for u in range(nb):
            PROD[u] *= PIV[u]
        for u in range(nb):
            EXT[u] += 1.0 if (PROD[u] > 1e100 or PROD[u] < 1e-100) else 0.0
        if j + 1 < p:
            for u in range(nb):
                PIV[u] = 1.0 / np.sqrt(PIV[u])
            for r in range(j + 1, p):
                rr = a0 + r * p
                Arj = W[rr + j]
                for q in range(j):
                    Arq = W[rr + q]
                    Ajq = W[rj + q]
                    for u in range(nb):
                        Arj[u] -= Arq[u] * Ajq[u]
                for u in range(nb):
                    Arj[u] *= PIV[u]
    for u in range(nb):
        ok = nri + NR[u] > p and BAD[u] == 0.0
        ARG[u] = (PROD[u] if ok else 0.0) + B[u]
    for u in range(nb):
        ok = nri + NR[u] > p and BAD[u] == 0.0
        REDO[u] = 1.0 if (ok and EXT[u] != 0.0) else 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def _block_lemma(NR, nb, p, L, det_i, min_piv, scale_i, W):
    """Row ``_ARG`` of ``W``: ``det((S_i + c d d^T) / m) + b`` by the lemma
    ``det S_i (1 + c |L^-1 d|^2) / m^p``; ``_REDO`` > 0 marks the pairs it does
    not serve (k not a singleton, the merged matrix possibly singular by the
    test of :func:`_det_parts`, or a determinant out of [1e-280, 1e280])."""
    a0 = p
    v0 = p + p * p
    INV_M = W[v0 + _INV_M]
    C = W[v0 + _C]
    TR = W[v0 + _TR]
    B = W[v0 + _B]
    Q = W[v0 + _Q]
    ARG = W[v0 + _ARG]
    REDO = W[v0 + _REDO]
    for u in range(nb):
        Q[u] = 0.0
    for j in range(p):  # y = L^-1 d by forward substitution, q = |y|^2
        Yj = W[a0 + j]
        Dj = W[j]
        for u in range(nb):
            Yj[u] = Dj[u]
        for q in range(j):
            Yq = W[a0 + q]
            ljq = L[j, q]
            for u in range(nb):
                Yj[u] -= ljq * Yq[u]
        g = L[j, j]
        for u in range(nb):
            Yj[u] *= g
        for u in range(nb):
            Q[u] += Yj[u] * Yj[u]
    for u in range(nb):
        ARG[u] = det_i * (1.0 + C[u] * Q[u])
    for _ in range(p):
        for u in range(nb):
            ARG[u] *= INV_M[u]
    for u in range(nb):
        REDO[u] = 0.0 if 1e-280 <= ARG[u] <= 1e280 else 1.0
    for u in range(nb):
        ARG[u] += B[u]
    # A rank-one update only raises the pivots, so the merged ones are at least
    # min_piv, and the merged diagonal is at most scale_i + c |d|^2 <= scale_i + TR.
    lim = TINY * scale_i
    for u in range(nb):
        if NR[u] > 1.0 or min_piv <= lim + TINY * TR[u]:
            REDO[u] = 1.0


@njit(cache=True, nogil=True, error_model="numpy")
def _block_prep(i, P, t0, nb, mean, mass, trace, alpha, beta, W):
    """What every pair of a block needs, for any ``p``, a loop per quantity:
    the rows of mean differences, ``_M``, ``_INV_M``, ``_C``, ``_TR`` and ``_B``
    (``b = beta (tr + alpha) / m``) of ``W``."""
    p = mean.shape[1]
    v0 = p + p * p
    M = W[v0 + _M]
    INV_M = W[v0 + _INV_M]
    C = W[v0 + _C]
    TR = W[v0 + _TR]
    B = W[v0 + _B]
    MK = P[_P_MASS, t0 : t0 + nb]
    TRK = P[_P_TRACE, t0 : t0 + nb]
    mi = mass[i]
    tri = trace[i]
    for a in range(p):
        Da = W[a]
        Ma = P[_P_MEAN + a, t0 : t0 + nb]
        x = mean[i, a]
        for u in range(nb):
            Da[u] = x - Ma[u]
    for u in range(nb):
        M[u] = mi + MK[u]
    for u in range(nb):
        INV_M[u] = 1.0 / M[u]
    for u in range(nb):
        C[u] = mi * MK[u] * INV_M[u]
    for u in range(nb):
        TR[u] = tri + TRK[u]
    for a in range(p):
        Da = W[a]
        for u in range(nb):
            TR[u] += C[u] * Da[u] * Da[u]
    for u in range(nb):
        B[u] = beta * (TR[u] + alpha) * INV_M[u]


@njit(cache=True, nogil=True, error_model="numpy")
def _pair_direct(i, k, mean, mass, n_rows, scatter, trace, term, alpha, beta, work):
    """The cost of merging clusters ``i`` and ``k`` by the operations of the
    direct route, :func:`_block_direct` (so the same number, to the last
    bit), for the pairs a block leaves to be done one by one."""
    p = mean.shape[1]
    mi = mass[i]
    mk = mass[k]
    m = mi + mk
    im = 1.0 / m
    c = mi * mk * im
    tr = trace[i] + trace[k]
    for a in range(p):
        da = mean[i, a] - mean[k, a]
        tr += c * da * da
    arg = beta * (tr + alpha) * im
    if n_rows[i] + n_rows[k] > p:
        for a in range(p):
            da = mean[i, a] - mean[k, a]
            for e in range(a + 1):
                s = scatter[i, a, e]
                if n_rows[k] > 1:
                    s += scatter[k, a, e]
                work[a, e] = (s + c * da * (mean[i, e] - mean[k, e])) * im
        scale = 0.0
        for a in range(p):
            scale = max(scale, work[a, a])
        bad = scale <= 0.0
        ext = False
        prod = 1.0
        for j in range(p):
            if bad:
                break
            piv = work[j, j]
            for q in range(j):
                piv -= work[j, q] * work[j, q]
            bad = piv <= TINY * scale
            prod *= piv
            ext = ext or prod > 1e100 or prod < 1e-100
            if j + 1 < p:
                inv_d = 1.0 / np.sqrt(piv)
                for r in range(j + 1, p):
                    t = work[r, j]
                    for q in range(j):
                        t -= work[r, q] * work[j, q]
                    work[r, j] = t * inv_d
        if not bad:
            if ext:  # a partial product out of [1e-100, 1e100]: in logarithms
                return _merged_term(i, k, mass, n_rows, mean, scatter, trace, alpha, beta, work) - (
                    term[i] + term[k]
                )
            arg = prod + arg
    return m * _log(arg) - (term[i] + term[k])


@njit(cache=True, nogil=True, error_model="numpy")
def _pair_costs(
    i, lo, hi, P, ids, mean, mass, n_rows, scatter, trace, term, alpha, beta,
    x, L, det_i, min_piv, scale_i, out, W, F, work,
):  # fmt: skip
    """``out[t]``, ``lo <= t < hi``: the cost of merging cluster ``i`` with the
    cluster at position ``t`` of the positional arrays ``P`` and ``ids``.

    A block of pairs at a time with the pair innermost, so that the arithmetic
    and the logarithms vectorise.  ``x``: the mean of ``i``, zero padded.  With
    ``det_i > 0`` (and ``L``, ``min_piv``, ``scale_i`` from
    :func:`_lemma_factor`), singletons take the determinant lemma; the pairs it
    does not serve, and without it every pair with enough rows, go through the
    direct factorisation, a whole block (:func:`_block_direct`) or, when only
    a few pairs of the block need it, one pair at a time (:func:`_pair_direct`)
    with the same operations: which way a pair goes depends on that pair
    alone, so equal pairs cost exactly the same.  Positions of removed
    clusters get meaningless values."""
    p = mean.shape[1]
    v0 = p + p * p
    mi = mass[i]
    nri = n_rows[i]
    tri = trace[i]
    ti = term[i]
    lemma = det_i > 0.0
    REDO = F[_F_REDO * BLOCK : (_F_REDO + 1) * BLOCK]
    for t0 in range(lo, hi, BLOCK):
        nb = min(BLOCK, hi - t0)
        # slices, not t0 + u: numba's negative-index check stops the vectoriser
        I = ids[t0 : t0 + nb]
        OUT = out[t0 : t0 + nb]
        TK = P[_P_TERM, t0 : t0 + nb]
        NR = P[_P_ROWS, t0 : t0 + nb]
        n_det = 0  # pairs with enough rows for a determinant
        for u in range(nb):
            n_det += 1 if nri + NR[u] > p else 0
        # mode 0: b alone, the few pairs with a determinant redone one by one;
        # 1: the lemma for singletons; 2: every determinant directly
        if n_det == 0 or (not lemma and n_det <= REDO_MAX):
            mode = 0
        else:
            mode = 1 if lemma else 2
        n_redo = 0
        for sweep in range(2):  # a second sweep when the lemma leaves many pairs
            if sweep == 0 and p <= 4 and mode < 2:
                n_redo = _block_fused4(
                    P, t0, nb, x, mi, tri, alpha, beta, p, mode == 1, L, det_i, min_piv,
                    scale_i, F,
                )  # fmt: skip
            else:
                # any p, a loop per quantity
                _block_prep(i, P, t0, nb, mean, mass, trace, alpha, beta, W)
                if mode == 0:
                    B = W[v0 + _B]
                    ARG_W = W[v0 + _ARG]
                    REDO_W = W[v0 + _REDO]
                    for u in range(nb):
                        ARG_W[u] = B[u]
                    for u in range(nb):
                        REDO_W[u] = 0.0
                elif mode == 1:
                    _block_lemma(NR, nb, p, L, det_i, min_piv, scale_i, W)
                else:
                    _block_direct(i, nri, I, NR, nb, scatter, W)
                M = W[v0 + _M]
                ARG_W = W[v0 + _ARG]
                REDO_W = W[v0 + _REDO]
                if sweep == 0:
                    for u in range(nb):
                        F[_F_M * BLOCK + u] = M[u]
                    for u in range(nb):
                        F[_F_ARG * BLOCK + u] = ARG_W[u]
                    n_redo = 0
                    for u in range(nb):
                        REDO[u] = REDO_W[u]
                        n_redo += 1 if REDO_W[u] != 0.0 else 0
                else:  # the direct values where the lemma did not serve
                    n_redo = 0
                    for u in range(nb):
                        if REDO[u] != 0.0:
                            F[_F_ARG * BLOCK + u] = ARG_W[u]
                            REDO[u] = REDO_W[u]
                            n_redo += 1 if REDO_W[u] != 0.0 else 0
            if sweep == 0 and mode == 1 and n_redo > REDO_MAX:
                mode = 2
            else:
                break
        if mode == 0 and n_det > 0:  # the few pairs with a determinant
            for u in range(nb):
                REDO[u] = 1.0 if nri + NR[u] > p else 0.0
            n_redo = n_det
        ARG = F[_F_ARG * BLOCK : _F_ARG * BLOCK + nb]
        log_positive(ARG, nb)
        for u in range(nb):
            OUT[u] = F[_F_M * BLOCK + u] * ARG[u] - (ti + TK[u])
        if n_redo > 0:  # one pair at a time
            for u in range(nb):
                if REDO[u] != 0.0 and I[u] < mean.shape[0]:
                    OUT[u] = _pair_direct(
                        i, I[u], mean, mass, n_rows, scatter, trace, term, alpha, beta, work
                    )


@njit(cache=True, nogil=True)
def _first_min(v, n):
    """``(min v[:n], first position of it)``, ``(inf, -1)`` when nothing is below
    inf; NaN is never picked.  Four running minima, then a search for the first
    equal entry: the same answer as a left-to-right scan, without its chain."""
    b0 = np.inf
    b1 = np.inf
    b2 = np.inf
    b3 = np.inf
    n4 = n - n % 4
    for t in range(0, n4, 4):
        b0 = v[t] if v[t] < b0 else b0
        b1 = v[t + 1] if v[t + 1] < b1 else b1
        b2 = v[t + 2] if v[t + 2] < b2 else b2
        b3 = v[t + 3] if v[t + 3] < b3 else b3
    for t in range(n4, n):
        b0 = v[t] if v[t] < b0 else b0
    b0 = b1 if b1 < b0 else b0
    b2 = b3 if b3 < b2 else b2
    best = b2 if b2 < b0 else b0
    if not best < np.inf:
        return np.inf, -1
    for t in range(n):
        if v[t] == best:
            return best, t
    return np.inf, -1


@njit(cache=True, nogil=True)
def _rescan(r, ids, n_pos, cost, updated, buf):
    """Smallest cost of row ``r`` over the active clusters, and where (the lowest
    index).  The cost of a pair sits in the row of the one updated later (the
    rows were equal until then); removed positions point at the column of
    infinities."""
    upd_r = updated[r]
    for t in range(n_pos):
        k = ids[t]
        buf[t] = cost[r, k] if updated[k] <= upd_r else cost[k, r]
    best, t = _first_min(buf, n_pos)
    return best, (ids[t] if t >= 0 else -1)


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
    for i in range(n_init):
        parent[i] = i
    if n_clusters >= n_init:
        return
    dead = n_init  # the id of removed positions, whose column in cost is inf
    # the clusters, by index
    mean = means.copy()
    m = mass.copy()
    n_rows = np.ones(n_init, dtype=np.int64)
    scatter = np.zeros((n_init, p, p))
    trace = np.zeros(n_init)
    term = np.empty(n_init)
    for i in range(n_init):
        term[i] = _term(m[i], -np.inf, 0.0, alpha, beta)
    # the active clusters, by position
    P = np.zeros((_P_MEAN + max(p, 4), n_init))
    for t in range(n_init):
        P[_P_MASS, t] = m[t]
        P[_P_TERM, t] = term[t]
        P[_P_ROWS, t] = 1.0
        for a in range(p):
            P[_P_MEAN + a, t] = mean[t, a]
    ids = np.arange(n_init)  # the cluster at each position, ``dead`` once merged away
    pos = np.arange(n_init)  # the position of each cluster
    n_pos = n_init
    n_dead = 0
    # near_cost[t] is a lower bound of the smallest merge cost of the cluster at
    # position t, exact when fresh[t]; stale rows are rescanned only when they
    # reach the top, so rows that merely lost their nearest cluster cost nothing
    # until they matter.  Removed positions hold inf.
    near_cost = P[_P_NEAR_COST]
    near = np.empty(n_init, dtype=np.int64)  # the cluster (index) it is attained at
    fresh = np.ones(n_init, dtype=np.bool_)

    W = np.empty((p + p * p + _N_VEC, BLOCK))
    F = np.empty(_N_F * BLOCK)
    work = np.empty((p, p))
    x = np.zeros(max(p, 4))  # the mean of the merged cluster, zero padded
    L = np.eye(max(p, 4))
    # The cost of merging active i and k is cost[i, k] when i's row was
    # computed last (updated[i] >= updated[k]: the step of its last merge) and
    # cost[k, i] otherwise: a merge writes its row, never its column.  One more
    # column, of infinities, for removed positions to point at.
    cost = np.empty((n_init, n_init + 1))
    updated = np.full(n_init + 1, -1, dtype=np.int64)
    updated[dead] = -2
    first = np.int64(0)  # not the literal 0: _pair_costs would be compiled for it alone
    for i in range(n_init):
        cost[i, i] = np.inf
        cost[i, dead] = np.inf
        for a in range(p):
            x[a] = mean[i, a]
        Ci = cost[i]
        _pair_costs(
            i, first, i, P, ids, mean, m, n_rows, scatter, trace, term, alpha, beta,
            x, L, 0.0, 0.0, 0.0, Ci, W, F, work,
        )  # fmt: skip
        # the nearest below i, then i as a candidate for those below (the
        # lowest index wins ties, as a scan of the whole row would find)
        near_cost[i], near[i] = _first_min(Ci, i)
        for k in range(i):
            if Ci[k] < near_cost[k]:
                near_cost[k] = Ci[k]
                near[k] = i
    _mirror_lower(cost[:n_init, :n_init])
    row = np.empty(n_init)

    for step in range(n_init - n_clusters):
        while True:
            top = 0
            while ids[top] == dead:
                top += 1
            if near_cost[top] == near_cost[top]:  # else NaN: kept, as a scan would
                best, t = _first_min(near_cost, n_pos)
                if t >= 0:
                    top = t
            best = near_cost[top]
            if fresh[top]:
                break
            near_cost[top], near[top] = _rescan(ids[top], ids, n_pos, cost, updated, row)
            fresh[top] = True
        i = ids[top]
        j = near[top]
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
        term[i] = best + term[i] + term[j]  # best = the cost of merging i and j
        parent[j] = i
        merges[step, 0] = i
        merges[step, 1] = j
        merges[step, 2] = best
        ti = pos[i]
        P[_P_MASS, ti] = m[i]
        P[_P_TERM, ti] = term[i]
        P[_P_TRACE, ti] = trace[i]
        P[_P_ROWS, ti] = n_rows[i]
        for a in range(p):
            P[_P_MEAN + a, ti] = mean[i, a]
            x[a] = mean[i, a]
        tj = pos[j]
        ids[tj] = dead
        near_cost[tj] = np.inf
        P[_P_ROWS, tj] = 1.0  # keeps the removed position off the direct route
        n_dead += 1

        # the new row of i
        det_i, min_piv, scale_i = 0.0, 0.0, 0.0
        if n_rows[i] > p:
            det_i, min_piv, scale_i = _lemma_factor(scatter[i], L)
        for lo, hi in ((0, ti), (ti + 1, n_pos)):
            _pair_costs(
                i, lo, hi, P, ids, mean, m, n_rows, scatter, trace, term, alpha, beta,
                x, L, det_i, min_piv, scale_i, row, W, F, work,
            )  # fmt: skip
        row[ti] = np.inf
        for t in range(n_pos):
            row[t] = np.inf if ids[t] == dead else row[t]
        near_cost_i, t_i = _first_min(row, n_pos)
        updated[i] = step
        Ci = cost[i]
        for t in range(n_pos):
            Ci[ids[t]] = row[t]
        for t in range(n_pos):
            c = row[t]
            if c < near_cost[t] or ((near[t] == i or near[t] == j) and c == near_cost[t]):
                # below a lower bound of the rest of row k: the exact minimum
                near_cost[t] = c
                near[t] = i
                fresh[t] = True
            elif near[t] == i or near[t] == j:
                # the old minimum changed or left: the bound stays valid, not exact
                fresh[t] = False
        near_cost[ti] = near_cost_i
        near[ti] = ids[t_i] if t_i >= 0 else -1
        fresh[ti] = True

        if 16 * n_dead > n_pos:  # close the gaps
            kept = 0
            for t in range(n_pos):
                k = ids[t]
                if k == dead:
                    continue
                if kept < t:
                    ids[kept] = k
                    near[kept] = near[t]
                    fresh[kept] = fresh[t]
                    for r in range(P.shape[0]):
                        P[r, kept] = P[r, t]
                pos[k] = kept
                kept += 1
            n_pos = kept
            n_dead = 0
