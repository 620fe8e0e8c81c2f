# ruff: noqa: NPY002 - numba's own generator, seeded per call (see "Randomness" below)
"""Collapsed Gibbs sampling of a Dirichlet-process mixture of Gaussians with
conjugate Normal-Inverse-Wishart (NIW) components: one full sweep (Neal 2000,
algorithm 3), Jain & Neal (2004) split-merge proposals and the moves of the
copies of rows of integer weight (:func:`piece_moves`), each one jitted call.

State and statistics
--------------------
Between calls the state of a chain is its ``labels`` (n_samples,), compact in
``0 .. n_clusters - 1``, and ``mult`` (n_samples,), the copies each row
holds: 1 for the first ``n_unit`` rows (the sweep moves them one at a time);
the other rows hold the copies of rows of integer weight (several identical
rows per distinct row, ``atoms``), which :func:`piece_moves` moves in groups
and which count ``mult`` times in every statistic.  Each call rebuilds the NIW posterior of
every cluster it needs from the rows (two passes, so the statistics carry no
drift from earlier calls; :func:`gibbs_block` makes one such pass per
iteration, after the sweep, and its log joint, update of ``b``, split-merge
proposals and next sweep all start from it), then keeps them current point
by point:

``counts[k]``
    copies in cluster ``k``;
``means[k]`` (D,)
    posterior location ``m_n = (kappa0 m0 + n xbar) / (kappa0 + n)``;
``R[k]`` (D, D), ``inv_diag[k]`` (D,), ``logdet[k]``
    upper Cholesky factor of the posterior scale matrix
    ``Psi_n = Psi0 + S + kappa0 n / (kappa0 + n) (xbar - m0)(xbar - m0)^T``
    (``S`` the scatter about ``xbar``), ``1 / diag(R)`` and ``log|Psi_n|``.

A row joining a cluster adds ``kappa_n / (kappa_n + 1) (x - m_n)(x - m_n)^T``
to ``Psi_n`` and leaving removes ``kappa_n / (kappa_n - 1) (x - m_n)(x - m_n)^T``:
rank-one updates of ``R`` (``_cholesky.py``), ``O(D^2)`` per move.

Predictive densities
--------------------
With ``kappa_n = kappa0 + n`` and ``nu_n = nu0 + n``, the posterior predictive
of a row ``x`` under a cluster of ``n`` other rows is (ratio of marginal
likelihoods, matrix determinant lemma)

``log p(x | cluster) = T(n) - 1/2 log|Psi_n| - (nu_n + 1)/2 log(1 + c_n q)``,

``q = (x - m_n)^T Psi_n^-1 (x - m_n)``, ``c_n = kappa_n / (kappa_n + 1)``,
``T(n) = lgamma((nu_n + 1)/2) - lgamma((nu_n + 1 - D)/2) - D/2 log(pi)
+ D/2 log(c_n)``: the multivariate Student-t with ``nu_n - D + 1`` degrees of
freedom of :func:`~bayesmix._components.student_t`, written so
that no factor needs rescaling.  For the cluster that holds ``x`` itself the
leave-one-out predictive follows from the same factor without removing ``x``:
with ``s = kappa_n / (kappa_n - 1) q`` (statistics including ``x``),

``log p(x | cluster without x) = T(n - 1) - 1/2 log|Psi_n| + (nu_n - 1)/2 log(1 - s)``,

so a row that stays where it is costs one triangular solve and no update.
The log marginal likelihood of a cluster of ``n`` rows is
``G(n) - nu_n / 2 log|Psi_n|`` with
``G(n) = -n D/2 log(pi) + log Gamma_D(nu_n / 2) - log Gamma_D(nu0 / 2)
+ nu0/2 log|Psi0| + D/2 log(kappa0 / kappa_n)``.

``T`` and ``G`` are tabulated over ``n = 0 .. L - 1`` by the caller in
``tables`` (4, L): ``[log n + T(n), G(n), c_n, kappa_n / (kappa_n - 1)]``
(``tables[0, 0] = T(0)``); larger clusters (of many copies) are computed
(:func:`_tab`).

The kernels receive the prior as one tuple
``prior = (mean0, psi0, R0, inv0, consts, tables)``: the prior mean (D,),
scale ``Psi0`` (D, D), its upper Cholesky factor and ``1 / diag`` of that
factor, ``consts = [kappa0, nu0, log|Psi0|, D]`` and ``tables``.

Randomness: each call seeds numba's (thread-local) generator from ``seed``,
drawn by the caller from the chain's numpy Generator, so a chain is
reproducible bit for bit whatever thread runs it.

References
----------
Neal (2000), *Markov chain sampling methods for Dirichlet process mixture
models*, JCGS 9, algorithm 3; Jain & Neal (2004), *A split-merge Markov chain
Monte Carlo procedure for the Dirichlet process mixture model*, JCGS 13;
Murphy (2007), *Conjugate Bayesian analysis of the Gaussian distribution*;
Dahl (2005), *Sequentially-allocated merge-split sampler for conjugate and
nonconjugate Dirichlet process mixture models*, Tech. rep., Texas A&M (launch
states); Dahl (2006), *Model-based clustering for expression data via a Dirichlet
process mixture model* (least-squares point partition).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._cholesky import chol_factor, log_det_chol, mahalanobis_sq

__all__ = [
    "canonical_labels",
    "cluster_posteriors",
    "gibbs_block",
    "gibbs_sweep",
    "hyper_statistics",
    "partition_overlap",
    "piece_moves",
    "prior_log_predictive",
    "scale_eigenvalues",
    "slice_log_b",
    "split_merge",
]

_TINY = 1e-300
# From this many features on, the triangular solve of ``_quad`` runs its inner
# loop as ``for t in range(D - j - 1)`` on offsets ``j + 1 + t``, which LLVM
# vectorises (``for i in range(j + 1, D)`` it does not): the same operations in
# the same order, so the same bits, about 2x faster from D = 32; below, the
# plain loop is quicker (a vectorised loop's set-up costs more than 8 entries).
_VEC_MIN = 16


# ----------------------------------------------------------------------- statistics
@njit(cache=True, nogil=True, inline="always")
def _niw_scale(n, xbar, mean0, psi0, kappa0, mean_out, R_out):
    """``R_out`` holds the scatter ``S`` (upper triangle) on entry; turn it into
    ``Psi_n`` (upper triangle) and ``xbar`` into ``m_n``."""
    n_features = xbar.shape[0]
    kn = kappa0 + n
    w = kappa0 * n / kn
    for f in range(n_features):
        df = xbar[f] - mean0[f]
        for g in range(f, n_features):
            R_out[f, g] += psi0[f, g] + w * df * (xbar[g] - mean0[g])
        mean_out[f] = (kappa0 * mean0[f] + n * xbar[f]) / kn


@njit(cache=True, nogil=True, inline="always")
def _factor(R_out, inv_out):
    """Factor ``Psi_n`` (upper triangle of ``R_out``) in place; ``log|Psi_n|``, NaN
    if the factorisation failed."""
    if not chol_factor(R_out, R_out, inv_out):
        return np.nan
    return log_det_chol(R_out)


@njit(cache=True, nogil=True)
def _finish_niw(n, xbar, mean0, psi0, kappa0, mean_out, R_out, inv_out):
    """``R_out`` holds the scatter ``S`` (upper triangle) on entry; turn it into the
    factor of ``Psi_n`` and ``xbar`` into ``m_n``; return ``log|Psi_n|``
    (NaN if the factorisation failed)."""
    _niw_scale(n, xbar, mean0, psi0, kappa0, mean_out, R_out)
    return _factor(R_out, inv_out)


@njit(cache=True, nogil=True, inline="always")
def _keep_upper(R, k, P):
    """``P[k] = `` the upper triangle of ``R[k]`` (``Psi_n`` before it is factored)."""
    n_features = R.shape[1]
    for f in range(n_features):
        for g in range(f, n_features):
            P[k, f, g] = R[k, f, g]


@njit(cache=True, nogil=True, inline="always")
def _scatter_add(R, X, i, centre, work, w):
    """``R += w (X[i] - centre)(X[i] - centre)^T`` on the upper triangle of ``R``
    (D, D) (the row indexed, not sliced: a slice costs reference counting)."""
    n_features = X.shape[1]
    for f in range(n_features):
        work[f] = X[i, f] - centre[f]
    for f in range(n_features):
        df = w * work[f]
        for g in range(f, n_features):
            R[f, g] += df * work[g]


@njit(cache=True, nogil=True, inline="always")
def _scatter_add_slot(R, k, X, i, xbar, work, w):
    """``R[k] += w (X[i] - xbar[k])(X[i] - xbar[k])^T`` on the upper triangle, for
    stacks ``R`` (K, D, D) and ``xbar`` (K, D) (``w = 1``: the same bits as
    without the factor)."""
    n_features = X.shape[1]
    for f in range(n_features):
        work[f] = X[i, f] - xbar[k, f]
    for f in range(n_features):
        df = w * work[f]
        for g in range(f, n_features):
            R[k, f, g] += df * work[g]


@njit(cache=True, nogil=True)
def _build_from_rows(X, mult, rows, m, mean0, psi0, kappa0, mean_out, R_out, inv_out, xbar, work):
    """NIW posterior of the rows ``X[rows[:m]]``, row ``i`` counted ``mult[i]``
    times (two passes); returns ``log|Psi_n|``."""
    n = _scatter_rows(X, mult, rows, m, R_out, xbar, work)
    return _finish_niw(n, xbar, mean0, psi0, kappa0, mean_out, R_out, inv_out)


@njit(cache=True, nogil=True, inline="always")
def _scatter_rows(X, mult, rows, m, R_out, xbar, work):
    """The mean ``xbar`` of the rows ``X[rows[:m]]`` (row ``i`` counted ``mult[i]``
    times) and their scatter about it in ``R_out`` (upper triangle;
    overwritten); returns the number of copies."""
    n_features = X.shape[1]
    xbar[:] = 0.0
    n = np.int64(0)
    for t in range(m):
        i = rows[t]
        w = mult[i]
        n += w
        for f in range(n_features):
            xbar[f] += w * X[i, f]
    for f in range(n_features):
        xbar[f] /= n
    for f in range(n_features):
        for g in range(n_features):
            R_out[f, g] = 0.0
    for t in range(m):
        i = rows[t]
        if mult[i] > 0:
            _scatter_add(R_out, X, i, xbar, work, float(mult[i]))
    return n


@njit(cache=True, nogil=True)
def _scatter_by_label(X, mult, labels, n_clusters, counts, xbar, R):
    """Per cluster of a compact labelling: ``counts[k]`` (row ``i`` counted
    ``mult[i]`` times), the mean ``xbar[k]`` (zeroed by the caller) and the
    scatter about it in ``R[k]`` (upper triangle, overwritten); two passes
    over ``X``."""
    n_samples, n_features = X.shape
    work = np.empty(n_features)
    for k in range(n_clusters):
        counts[k] = 0
        for f in range(n_features):
            for g in range(n_features):
                R[k, f, g] = 0.0
    for i in range(n_samples):
        k = labels[i]
        w = mult[i]
        counts[k] += w
        for f in range(n_features):
            xbar[k, f] += w * X[i, f]
    for k in range(n_clusters):
        for f in range(n_features):
            xbar[k, f] /= counts[k]
    for i in range(n_samples):
        if mult[i] > 0:
            _scatter_add_slot(R, labels[i], X, i, xbar, work, float(mult[i]))


@njit(cache=True, nogil=True)
def _build_all(
    X, mult, labels, n_clusters, mean0, psi0, kappa0, counts, means, R, inv_diag, logdet
):
    """NIW posterior of every cluster of a compact labelling (two passes over X)."""
    n_features = X.shape[1]
    xbar = np.zeros((n_clusters, n_features))
    _scatter_by_label(X, mult, labels, n_clusters, counts, xbar, R)
    for k in range(n_clusters):
        logdet[k] = _finish_niw(
            counts[k], xbar[k], mean0, psi0, kappa0, means[k], R[k], inv_diag[k]
        )


@njit(cache=True, nogil=True)
def _build_posteriors(X, mult, labels, n_clusters, mean0, psi0, kappa0, post):
    """:func:`_build_all` into ``post = (counts, means, R, inv_diag, logdet, P)``
    (stacks of at least ``n_clusters`` slots), keeping ``Psi_n`` (upper
    triangle) in ``P`` for the merge proposals; the same bits as ``_build_all``."""
    counts = post[0]
    R = post[2]
    xbar = np.zeros((n_clusters, X.shape[1]))
    _scatter_by_label(X, mult, labels, n_clusters, counts, xbar, R)
    _posteriors_of(counts, xbar, R, n_clusters, mean0, psi0, kappa0, post)


@njit(cache=True, nogil=True)
def _posteriors_of(sizes, xbar, S, n_clusters, mean0, psi0, kappa0, post):
    """:func:`_build_posteriors` from the clusters' sizes, means and scatters
    (``_scatter_by_label``; ``S`` may be ``post``'s ``R``, else it is not
    modified): the same bits."""
    counts, means, R, inv_diag, logdet, P = post
    n_features = xbar.shape[1]
    for k in range(n_clusters):
        counts[k] = sizes[k]
        for f in range(n_features):
            for g in range(f, n_features):
                R[k, f, g] = S[k, f, g]
        _niw_scale(counts[k], xbar[k], mean0, psi0, kappa0, means[k], R[k])
        _keep_upper(R, k, P)
        logdet[k] = _factor(R[k], inv_diag[k])


@njit(cache=True, nogil=True)
def _log_partition_of(sizes, xbar, S, n_clusters, mean0, psi0, kappa0, consts, tables):
    """``sum_k [log ML_k + lgamma(n_k)]`` (:func:`_log_ml_sum`) from the clusters'
    sizes, means and scatters (not modified): the bits of ``_build_all``
    followed by ``_log_ml_sum``."""
    n_features = xbar.shape[1]
    R = np.empty((n_features, n_features))
    inv = np.empty(n_features)
    mean = np.empty(n_features)
    logdet = np.empty(n_clusters)
    for k in range(n_clusters):
        for f in range(n_features):
            for g in range(f, n_features):
                R[f, g] = S[k, f, g]
        logdet[k] = _finish_niw(sizes[k], xbar[k], mean0, psi0, kappa0, mean, R, inv)
    return _log_ml_sum(sizes, logdet, n_clusters, consts, tables)


@njit(cache=True, nogil=True)
def _rebuild_posterior(X, mult, labels, slot, mean0, psi0, kappa0, post):
    """Slot ``slot`` of ``post`` (:func:`_build_posteriors`) from the rows labelled
    ``slot``, in row order (the bits ``_build_posteriors`` would give)."""
    counts, means, R, inv_diag, logdet, P = post
    n_samples, n_features = X.shape
    rows = np.empty(n_samples, np.int64)
    m = _rows_of(labels, slot, rows)
    xbar = np.empty(n_features)
    work = np.empty(n_features)
    n = _scatter_rows(X, mult, rows, m, R[slot], xbar, work)
    counts[slot] = n
    _niw_scale(n, xbar, mean0, psi0, kappa0, means[slot], R[slot])
    _keep_upper(R, slot, P)
    logdet[slot] = _factor(R[slot], inv_diag[slot])


@njit(cache=True, nogil=True)
def _empty_posteriors(cap, n_features):
    """Stacks ``(counts, means, R, inv_diag, logdet, P)`` of ``cap`` slots."""
    return (
        np.zeros(cap, np.int64),
        np.empty((cap, n_features)),
        np.empty((cap, n_features, n_features)),
        np.empty((cap, n_features)),
        np.empty(cap),
        np.empty((cap, n_features, n_features)),
    )


@njit(cache=True, nogil=True)
def cluster_posteriors(X, mult, labels, n_clusters, mean0, psi0, kappa0):
    """NIW posterior of each cluster of a compact labelling.

    Parameters
    ----------
    X : (n_samples, n_features) float64, row-major
    mult : (n_samples,) int64, how many copies each row stands for (>= 0)
    labels : (n_samples,) integer, values in ``0 .. n_clusters - 1``, each used
        by a row of positive ``mult``
    n_clusters : int
    mean0 : (n_features,) prior mean; psi0 : (n_features, n_features) prior scale
    kappa0 : float, prior mean precision factor

    Returns
    -------
    counts : (n_clusters,) int64
    means : (n_clusters, n_features) posterior locations ``m_n``
    R : (n_clusters, n_features, n_features) upper Cholesky factors of ``Psi_n``
    logdet : (n_clusters,) ``log|Psi_n|``
    """
    n_features = X.shape[1]
    counts = np.zeros(n_clusters, np.int64)
    means = np.empty((n_clusters, n_features))
    R = np.empty((n_clusters, n_features, n_features))
    inv_diag = np.empty((n_clusters, n_features))
    logdet = np.empty(n_clusters)
    _build_all(X, mult, labels, n_clusters, mean0, psi0, kappa0, counts, means, R, inv_diag, logdet)
    return counts, means, R, logdet


@njit(cache=True, nogil=True)
def prior_log_predictive(X, prior, out):
    """``out[i] = log p(x_i)`` under the prior predictive (a cluster of no rows).

    Parameters
    ----------
    X : (n_samples, n_features)
    prior : tuple ``(mean0, psi0, R0, inv0, consts, tables)`` (module docstring)
    out : (n_samples,) output
    """
    mean0, _, R0, inv0, consts, tables = prior
    n_samples, n_features = X.shape
    work = np.empty(n_features)
    nu0 = consts[1]
    base = tables[0, 0] - 0.5 * consts[2]
    c0 = tables[2, 0]
    for i in range(n_samples):
        x = X[i]
        for f in range(n_features):
            work[f] = x[f] - mean0[f]
        q = mahalanobis_sq(R0, inv0, work)
        out[i] = base - 0.5 * (nu0 + 1.0) * math.log1p(c0 * q)


# ------------------------------------------------------------------------ tables
@njit(cache=True, nogil=True)
def _table_far(consts, r, n):
    """Row ``r`` of ``tables`` (module docstring) at a cluster size ``n`` past its
    end, computed: rows of frequency weights make clusters of more copies than
    a table holds."""
    return _table_far_of(consts[0], consts[1], consts[2], consts[3], r, n)


@njit(cache=True, nogil=True)
def _table_far_of(kappa0, nu0, logdet0, d, r, n):
    """:func:`_table_far` from scalars (a call with an array argument costs
    reference counting in the sweep's hot loop even where it is not taken)."""
    kn = kappa0 + n
    nun = nu0 + n
    if r == 2:
        return kn / (kn + 1.0)
    if r == 3:
        return kn / (kn - 1.0)
    if r == 0:
        return (
            math.log(max(n, 1))
            + math.lgamma(0.5 * (nun + 1.0))
            - math.lgamma(0.5 * (nun + 1.0 - d))
            - 0.5 * d * math.log(math.pi)
            + 0.5 * d * math.log(kn / (kn + 1.0))
        )
    s = -0.5 * n * d * math.log(math.pi) + 0.5 * nu0 * logdet0
    s += 0.5 * d * (math.log(kappa0) - math.log(kn))
    for j in range(int(d)):
        s += math.lgamma(0.5 * (nun - j)) - math.lgamma(0.5 * (nu0 - j))
    return s


@njit(cache=True, nogil=True, inline="always")
def _tab(tables, consts, r, n):
    """``tables[r, n]``, computed when ``n`` is past the table's end."""
    if n < tables.shape[1]:
        return tables[r, n]
    return _table_far_of(consts[0], consts[1], consts[2], consts[3], r, n)


# ------------------------------------------------------------------ single moves
@njit(cache=True, nogil=True, inline="always")
def _quad(X, i, k, means, R, inv_diag, work):
    """``(x - m_k)^T Psi_k^-1 (x - m_k)`` for row ``x = X[i]`` and slot ``k`` of the
    stacked arrays (indexing the rows and the stacks, not slicing them: a slice
    costs two atomic reference-count updates, in the hottest loops)."""
    n_features = X.shape[1]
    for f in range(n_features):
        work[f] = X[i, f] - means[k, f]
    q = 0.0
    if n_features < _VEC_MIN:
        for j in range(n_features):
            z = work[j] * inv_diag[k, j]
            q += z * z
            for i in range(j + 1, n_features):
                work[i] -= R[k, j, i] * z
        return q
    for j in range(n_features):  # the same arithmetic, in a loop LLVM vectorises
        z = work[j] * inv_diag[k, j]
        q += z * z
        j1 = j + 1
        for t in range(n_features - j1):
            work[j1 + t] = work[j1 + t] - R[k, j, j1 + t] * z
    return q


@njit(cache=True, nogil=True, inline="always")
def _log_pred(X, i, k, means, R, inv_diag, logdet, n_k, nu0, tab, work):
    """``log n_k + log p(x | cluster k of n_k rows, not holding x)``, ``x = X[i]``,
    from the slot's table entries ``tab[k]`` (:func:`_slot_tab`)."""
    q = _quad(X, i, k, means, R, inv_diag, work)
    return _pred_of(q, k, logdet, n_k, nu0, tab)


@njit(cache=True, nogil=True, inline="always")
def _pred_of(q, k, logdet, n_k, nu0, tab):
    """:func:`_log_pred` from ``q = (x - m_n)^T Psi_n^-1 (x - m_n)``."""
    return tab[k, 0] - 0.5 * logdet[k] - 0.5 * (nu0 + n_k + 1.0) * math.log(1.0 + tab[k, 1] * q)


@njit(cache=True, nogil=True, inline="always")
def _log_loo(X, i, k, means, R, inv_diag, logdet, n_k, nu0, tab, work):
    """``log(n_k - 1) + log p(x | the other n_k - 1 rows)`` for a cluster ``k`` of
    ``n_k >= 2`` rows that holds ``x = X[i]`` (entries ``tab[k]`` likewise)."""
    q = _quad(X, i, k, means, R, inv_diag, work)
    return _loo_of(q, k, logdet, n_k, nu0, tab)


@njit(cache=True, nogil=True, inline="always")
def _loo_of(q, k, logdet, n_k, nu0, tab):
    """:func:`_log_loo` from ``q`` (at the statistics that include ``x``)."""
    om = 1.0 - tab[k, 2] * q
    if om < _TINY:  # rounding only: 1 - s = |Psi without x| / |Psi_n| > 0
        om = _TINY
    return tab[k, 3] - 0.5 * logdet[k] + 0.5 * (nu0 + n_k - 1.0) * math.log(om)


@njit(cache=True, nogil=True, inline="always")
def _slot_log_det(R, k):
    """``log|R_k^T R_k|`` of slot ``k`` (as ``log_det_chol(R[k])``, without the slice)."""
    s = 0.0
    for j in range(R.shape[1]):
        s += math.log(R[k, j, j])
    return 2.0 * s


@njit(cache=True, nogil=True, inline="always")
def _remove_row(X, i, k, counts, means, R, inv_diag, logdet, kappa0, work, m):
    """Take ``m`` copies of ``x = X[i]`` out of cluster ``k`` (which keeps at least
    one row); False when the downdate failed and the cluster must be rebuilt
    from its rows.  ``m`` copies take ``kappa_n m / (kappa_n - m) (x - m_n)(x -
    m_n)^T`` from ``Psi_n`` (one downdate; ``m = 1``: the same bits as a
    factor-free formula).

    The hyperbolic rotations of ``chol_downdate`` on slot ``k`` of the stacks,
    indexed rather than sliced (a slice costs reference counting per row).
    Inlined, as :func:`_add_row`: a call costs eight atomic reference-count
    updates of its array arguments, about a third of a 2-D move."""
    n_features = X.shape[1]
    kap = kappa0 + counts[k]
    fm = float(m)
    sc = math.sqrt(kap * fm / (kap - fm))
    inv = fm / (kap - fm)
    for f in range(n_features):
        u = X[i, f] - means[k, f]
        work[f] = u * sc
        means[k, f] -= u * inv
    counts[k] -= m
    for j in range(n_features):
        rjj = R[k, j, j]
        xj = work[j]
        r2 = (rjj - xj) * (rjj + xj)
        if not r2 > 0.0:
            return False
        r = math.sqrt(r2)
        c = r * inv_diag[k, j]
        s = xj * inv_diag[k, j]
        inv_c = 1.0 / c
        R[k, j, j] = r
        inv_diag[k, j] = 1.0 / r
        j1 = j + 1
        for t in range(n_features - j1):  # (offset loop: see _quad)
            rji = (R[k, j, j1 + t] - s * work[j1 + t]) * inv_c
            R[k, j, j1 + t] = rji
            work[j1 + t] = c * work[j1 + t] - s * rji
    logdet[k] = _slot_log_det(R, k)
    return True


@njit(cache=True, nogil=True, inline="always")
def _add_row(X, i, k, counts, means, R, inv_diag, logdet, kappa0, work, m):
    """Put ``m`` copies of ``x = X[i]`` into cluster ``k`` (adding ``kappa_n m /
    (kappa_n + m) (x - m_n)(x - m_n)^T`` to ``Psi_n``): the Givens rotations of
    ``chol_update`` on slot ``k`` of the stacks, indexed rather than sliced."""
    n_features = X.shape[1]
    kap = kappa0 + counts[k]
    fm = float(m)
    sc = math.sqrt(kap * fm / (kap + fm))
    inv = fm / (kap + fm)
    for f in range(n_features):
        v = X[i, f] - means[k, f]
        work[f] = v * sc
        means[k, f] += v * inv
    counts[k] += m
    for j in range(n_features):
        rjj = R[k, j, j]
        xj = work[j]
        r = math.sqrt(rjj * rjj + xj * xj)
        c = r * inv_diag[k, j]
        s = xj * inv_diag[k, j]
        inv_c = 1.0 / c
        R[k, j, j] = r
        inv_diag[k, j] = 1.0 / r
        j1 = j + 1
        for t in range(n_features - j1):  # (offset loop: see _quad)
            rji = (R[k, j, j1 + t] + s * work[j1 + t]) * inv_c
            R[k, j, j1 + t] = rji
            work[j1 + t] = c * work[j1 + t] - s * rji
    logdet[k] = _slot_log_det(R, k)


@njit(cache=True, nogil=True)
def _rows_of(labels, slot, rows):
    """The rows labelled ``slot``, in order, into ``rows``; returns how many."""
    m = np.int64(0)  # not a literal: a literal argument compiles a callee twice
    for i in range(labels.shape[0]):
        if labels[i] == slot:
            rows[m] = i
            m += 1
    return m


@njit(cache=True, nogil=True)
def _rebuild_slot(X, mult, labels, slot, mean0, psi0, kappa0, counts, means, R, inv_diag, logdet):
    """Recompute cluster ``slot`` from the rows labelled ``slot``."""
    n_features = X.shape[1]
    rows = np.empty(X.shape[0], np.int64)
    m = _rows_of(labels, slot, rows)
    xbar = np.empty(n_features)
    work = np.empty(n_features)
    counts[slot] = 0
    for t in range(m):
        counts[slot] += mult[rows[t]]
    logdet[slot] = _build_from_rows(
        X, mult, rows, m, mean0, psi0, kappa0, means[slot], R[slot], inv_diag[slot], xbar, work
    )


@njit(cache=True, nogil=True)
def _log_ml_sum(counts, logdet, n_clusters, consts, tables):
    """``sum_k [log ML_k + lgamma(n_k)]``: the log joint without the terms in alpha.

    The terms are summed in sorted order, so the same partition gives the same
    bits whatever the numbering of its clusters (rank-based R-hat sees ties).
    """
    terms = np.empty(n_clusters)
    nu0 = consts[1]
    for k in range(n_clusters):
        n_k = counts[k]
        terms[k] = _tab(tables, consts, 1, n_k) - 0.5 * (nu0 + n_k) * logdet[k] + math.lgamma(n_k)
    terms.sort()
    s = 0.0
    for k in range(n_clusters):
        s += terms[k]
    return s


# ------------------------------------------------------------------------ sweeps
@njit(cache=True, nogil=True, inline="always")
def _row_weights(X, i, a, active, n_active, counts, means, R, inv_diag, logdet, nu0, tab, work, lw):
    """``lw[t]``, ``t < n_active``: the log weight of row ``X[i]`` (now in slot ``a``)
    joining slot ``active[t]`` (its own: the leave-one-out predictive; -inf for a
    singleton, whose cluster the "new" choice covers); returns their maximum.
    ``tab`` (:func:`_slot_tab`) holds each slot's table entries."""
    n_a = counts[a]
    mx = -np.inf
    for t in range(n_active):
        k = active[t]
        if k == a:
            if n_a == 1:
                v = -np.inf
            else:
                v = _log_loo(X, i, k, means, R, inv_diag, logdet, n_a, nu0, tab, work)
        else:
            v = _log_pred(X, i, k, means, R, inv_diag, logdet, counts[k], nu0, tab, work)
        lw[t] = v
        if v > mx:
            mx = v
    return mx


@njit(cache=True, nogil=True, inline="always")
def _slot_tab(tab, k, n, consts, tables):
    """``tab[k]`` = the table entries the sweep reads for slot ``k`` of ``n``
    copies: ``[log n + T(n), c_n, kappa_n / (kappa_n - 1), log(n - 1) + T(n -
    1)]``, kept per slot so that the sweep's inner loop reads an array, not a
    table that a cluster of many copies would overrun (a branch there costs
    2.5x in two dimensions)."""
    tab[k, 0] = _tab(tables, consts, 0, n)
    tab[k, 1] = _tab(tables, consts, 2, n)
    if n >= 1:
        tab[k, 2] = _tab(tables, consts, 3, n)
        tab[k, 3] = _tab(tables, consts, 0, n - 1)


@njit(cache=True, nogil=True)
def _row_weights_call(
    X, i, a, active, n_active, counts, means, R, inv_diag, logdet, nu0, tab, work, lw
):
    """:func:`_row_weights` as a call of its own, for ``D >= _VEC_MIN``: inlined in
    the sweep, whose stacks are loop variables (they grow), LLVM does not
    vectorise the triangular solves (2x slower at D = 128); below ``_VEC_MIN``
    the call costs more than it saves."""
    return _row_weights(
        X, i, a, active, n_active, counts, means, R, inv_diag, logdet, nu0, tab, work, lw
    )


@njit(cache=True, nogil=True)
def _sweep(X, mult, n_unit, labels, n_clusters, log_prior_pred, prior, log_alpha, want_log_joint):
    """The body of :func:`gibbs_sweep`, drawing from numba's generator as it stands."""
    counts, means, R, inv_diag, logdet = _stacks_of(X, mult, labels, n_clusters, prior)
    return _sweep_post(
        X, mult, n_unit, labels, n_clusters, log_prior_pred, prior, log_alpha, want_log_joint,
        counts, means, R, inv_diag, logdet,
    )  # fmt: skip


@njit(cache=True, nogil=True)
def _sweep_post(
    X, mult, n_unit, labels, n_clusters, log_prior_pred, prior, log_alpha, want_log_joint,
    counts, means, R, inv_diag, logdet,
):  # fmt: skip
    """:func:`_sweep` from the clusters' posteriors already built (slots
    ``0 .. n_clusters - 1`` of the stacks, which may hold more slots; they
    are updated, or replaced when they must grow).  The rows ``0 .. n_unit -
    1`` (one copy each) move; the others (rows of frequency weights,
    :func:`piece_moves`) stay where they are and count ``mult`` times."""
    mean0, psi0, R0, inv0, consts, tables = prior
    n_samples, n_features = X.shape
    kappa0 = consts[0]
    cap = counts.shape[0]
    # active[:K] are the occupied slots, active[K:] the free ones; pos inverts it
    active = np.arange(cap)
    pos = np.arange(cap)
    n_active = n_clusters
    lw = np.empty(cap + 1)
    work = np.empty(n_features)
    nu0 = consts[1]
    tab = np.zeros((cap, 4))
    for k in range(n_clusters):
        _slot_tab(tab, k, counts[k], consts, tables)
    for i in range(n_unit):
        a = labels[i]
        n_a = counts[a]
        if n_features < _VEC_MIN:
            mx = _row_weights(
                X,
                i,
                a,
                active,
                n_active,
                counts,
                means,
                R,
                inv_diag,
                logdet,
                nu0,
                tab,
                work,
                lw,
            )
        else:
            mx = _row_weights_call(
                X,
                i,
                a,
                active,
                n_active,
                counts,
                means,
                R,
                inv_diag,
                logdet,
                nu0,
                tab,
                work,
                lw,
            )
        v = log_alpha + log_prior_pred[i]
        lw[n_active] = v
        if v > mx:
            mx = v
        # Draw t in [0, n_active] with probability exp(lw[t] - mx), written out
        # here: as an inlined function taking lw it cost two atomic reference-
        # count updates per row.  Weights that are not a distribution (NaN, all
        # zero, an infinite total: a non-finite state) give -1 clusters and the
        # caller raises (NonFiniteStateError) instead of walking off lw.
        m_w = n_active + 1
        tot = 0.0
        for t in range(m_w):
            e = math.exp(lw[t] - mx)
            lw[t] = e
            tot += e
        if not (tot > 0.0 and tot < np.inf):  # also False for NaN
            return -1, np.nan
        u = np.random.random() * tot
        t = 0
        acc = lw[0]
        while acc <= u and t < m_w - 1:
            t += 1
            acc += lw[t]
        while t > 0 and not (lw[t] > 0.0):  # u rounded onto the total: step back to a choice
            t -= 1
        if not (lw[t] > 0.0):
            return -1, np.nan
        new = t == n_active
        if new and n_a == 1:
            continue  # stays a singleton: the same state
        if not new and active[t] == a:
            continue
        target = -1 if new else active[t]
        # leave a
        if n_a == 1:
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
            if not _remove_row(X, i, a, counts, means, R, inv_diag, logdet, kappa0, work, 1):
                _rebuild_slot(
                    X, mult, labels, a, mean0, psi0, kappa0, counts, means, R, inv_diag, logdet
                )
            _slot_tab(tab, a, counts[a], consts, tables)
        # join target
        if new:
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
                tab = _grow(tab, new_cap)
                cap = new_cap
            target = active[n_active]
            n_active += 1
            counts[target] = 0
            for f in range(n_features):
                means[target, f] = mean0[f]
                inv_diag[target, f] = inv0[f]
                for g in range(n_features):
                    R[target, f, g] = R0[f, g]
        _add_row(X, i, target, counts, means, R, inv_diag, logdet, kappa0, work, 1)
        _slot_tab(tab, target, counts[target], consts, tables)
        labels[i] = target
    # compact labels in the order of the active list
    for t in range(n_active):
        pos[active[t]] = t
    for i in range(n_samples):
        labels[i] = pos[labels[i]]
    if not want_log_joint:
        return n_active, np.nan
    _build_all(X, mult, labels, n_active, mean0, psi0, kappa0, counts, means, R, inv_diag, logdet)
    return n_active, _log_ml_sum(counts, logdet, n_active, consts, tables)


@njit(cache=True, nogil=True)
def _stacks_of(X, mult, labels, n_clusters, prior):
    """``(counts, means, R, inv_diag, logdet)``: every cluster's posterior, built
    from the rows, in stacks with room for 16 more clusters."""
    mean0, psi0, _, _, consts, _ = prior
    n_features = X.shape[1]
    cap = n_clusters + 16
    counts = np.zeros(cap, np.int64)
    means = np.empty((cap, n_features))
    R = np.empty((cap, n_features, n_features))
    inv_diag = np.empty((cap, n_features))
    logdet = np.empty(cap)
    _build_all(
        X, mult, labels, n_clusters, mean0, psi0, consts[0], counts, means, R, inv_diag, logdet
    )
    return counts, means, R, inv_diag, logdet


@njit(cache=True, nogil=True)
def _grow(arr, new_cap):
    """A copy of ``arr`` (cap, m) with ``new_cap`` rows (explicit loops: generic
    slicing of n-d arrays costs seconds of compilation)."""
    out = np.empty((new_cap, arr.shape[1]))
    for k in range(arr.shape[0]):
        for f in range(arr.shape[1]):
            out[k, f] = arr[k, f]
    return out


@njit(cache=True, nogil=True)
def _grow_int(arr, new_cap):
    out = np.zeros(new_cap, np.int64)
    for k in range(arr.shape[0]):
        out[k] = arr[k]
    return out


# ------------------------------------------------------------------- split-merge
# The two launch clusters of a proposal are held like the clusters of a sweep,
# in a tuple ``launch = (counts, means, R, inv_diag, logdet, tab)`` of length-2 stacks
# (``tab``: each side's table entries, :func:`_slot_tab`).


@njit(cache=True, nogil=True, inline="always")
def _item_weight(X, w, i, side, means, R, inv_diag, logdet, counts, consts, tables, tab, work):
    """The log weight of the item ``i`` (``w`` copies of ``X[i]``) joining launch
    cluster ``side``, which does not hold it: :func:`_log_pred` for one copy
    (from the side's entries ``tab``), :func:`_block_log_weight` for more."""
    q = _quad(X, i, side, means, R, inv_diag, work)
    n_k = counts[side]
    if w == 1:
        return _pred_of(q, side, logdet, n_k, consts[1], tab)
    g_a = _tab(tables, consts, 1, n_k + w)
    g_b = _tab(tables, consts, 1, n_k)
    return _block_weight_of(n_k, w, logdet[side], q, consts[0], consts[1], g_a, g_b)


@njit(cache=True, nogil=True, inline="always")
def _item_loo(X, w, i, side, means, R, inv_diag, logdet, counts, consts, tables, tab, work):
    """The log weight of the item ``i`` (``w`` copies) staying on launch cluster
    ``side``, which holds it (:func:`_log_loo`, :func:`_block_log_loo`)."""
    q = _quad(X, i, side, means, R, inv_diag, work)
    n_k = counts[side]
    if w == 1:
        return _loo_of(q, side, logdet, n_k, consts[1], tab)
    g_a = _tab(tables, consts, 1, n_k)
    g_b = _tab(tables, consts, 1, n_k - w)
    return _block_loo_of(n_k, w, logdet[side], q, consts[0], consts[1], g_a, g_b)


@njit(cache=True, nogil=True)
def _rebuild_launch(X, mult, S, z, m, anchor, side, prior, launch):
    """Recompute launch cluster ``side`` from its anchor and the rows of ``S`` on it."""
    mean0, psi0, _, _, consts, tables = prior
    counts, means, R, inv_diag, logdet, tab = launch
    rows = np.empty(m + 1, np.int64)
    rows[0] = anchor
    c = np.int64(1)  # not a literal (see _rows_of)
    n = mult[anchor]
    for t in range(m):
        if z[t] == side:
            rows[c] = S[t]
            n += mult[S[t]]
            c += 1
    xbar = np.empty(X.shape[1])
    work = np.empty(X.shape[1])
    counts[side] = n
    logdet[side] = _build_from_rows(
        X, mult, rows, c, mean0, psi0, consts[0], means[side], R[side], inv_diag[side], xbar, work
    )
    _slot_tab(tab, side, n, consts, tables)


@njit(cache=True, nogil=True)
def _sequential_launch(X, mult, heavy, S, z, m, anchors, prior, launch, order, work):
    """Draw a launch state by sequential allocation (Dahl 2005): the launch
    clusters start as the two anchors, and the rows ``S[:m]``, in a uniformly
    random order, join side 0 or 1 with probability proportional to ``n_side
    p(x | rows already on that side)`` (for a row of ``w`` copies, the weight of
    the ``w`` copies joining together).

    The draw depends on the anchors, the set ``S`` and the rows' values only,
    not on how the current state splits ``S``, so it is a valid launch state
    for Jain & Neal's (2004) restricted Gibbs proposal; unlike a uniformly
    random one it already separates two distinct groups in high dimension,
    where a few restricted scans from a random split rarely do.

    ``heavy`` is ``mult`` when some row holds several copies, else None: the
    compiled scan then has no branch for them (as :func:`_restricted_scan`).
    """
    consts = prior[4]
    tables = prior[5]
    counts, means, R, inv_diag, logdet, tab = launch
    kappa0 = consts[0]
    for t in range(m):
        z[t] = -1
        order[t] = t
    for t in range(m - 1, 0, -1):  # Fisher-Yates
        u = np.random.randint(0, t + 1)
        v = order[t]
        order[t] = order[u]
        order[u] = v
    for side in range(2):
        _rebuild_launch(X, mult, S, z, m, anchors[side], side, prior, launch)
    for r in range(m):
        t = order[r]
        i = S[t]
        w = 1 if heavy is None else heavy[i]
        lw0 = _item_weight(
            X, w, i, 0, means, R, inv_diag, logdet, counts, consts, tables, tab, work
        )
        lw1 = _item_weight(
            X, w, i, 1, means, R, inv_diag, logdet, counts, consts, tables, tab, work
        )
        e = math.exp(min(lw1 - lw0, 700.0))
        side = 0 if np.random.random() * (1.0 + e) < 1.0 else 1
        z[t] = side
        _add_row(X, i, side, counts, means, R, inv_diag, logdet, kappa0, work, w)
        _slot_tab(tab, side, counts[side], consts, tables)
    for side in range(2):  # exact statistics for the scans
        _rebuild_launch(X, mult, S, z, m, anchors[side], side, prior, launch)


@njit(cache=True, nogil=True)
def _restricted_scan(X, mult, heavy, S, z, m, mode, original, anchors, prior, launch, work):
    """One restricted Gibbs scan of the rows ``S[:m]`` between the two launch
    clusters (side 0 holds ``anchors[0]``, side 1 ``anchors[1]``); a row of
    ``w`` copies moves as one item.  ``heavy``: ``mult``, or None when every
    row holds one copy (then no branch for heavier rows is compiled: it costs
    a third of a proposal in two dimensions).

    ``mode`` 0: sample; 1: sample and return the log probability of the
    choices; 2: move every row to its side in ``original`` (m,) and return the
    log probability of those choices.
    """
    consts = prior[4]
    tables = prior[5]
    counts, means, R, inv_diag, logdet, tab = launch
    kappa0 = consts[0]
    log_q = 0.0
    for t in range(m):
        i = S[t]
        own = z[t]
        oth = 1 - own
        w = 1 if heavy is None else heavy[i]
        lw_own = _item_loo(
            X, w, i, own, means, R, inv_diag, logdet, counts, consts, tables, tab, work
        )
        lw_oth = _item_weight(
            X, w, i, oth, means, R, inv_diag, logdet, counts, consts, tables, tab, work
        )
        d = lw_oth - lw_own  # log odds of moving
        if mode == 0:  # sampling only: one exp, no logs
            e = math.exp(min(d, 700.0))
            target = own if np.random.random() * (1.0 + e) < 1.0 else oth
        else:
            if d > 0.0:
                lp_oth = -math.log1p(math.exp(-d))
                lp_own = lp_oth - d
            else:
                lp_own = -math.log1p(math.exp(d))
                lp_oth = lp_own + d
            if mode == 2:
                target = original[t]
            else:
                target = own if np.random.random() < math.exp(lp_own) else oth
            log_q += lp_own if target == own else lp_oth
        if target != own:
            z[t] = target
            if not _remove_row(X, i, own, counts, means, R, inv_diag, logdet, kappa0, work, w):
                _rebuild_launch(X, mult, S, z, m, anchors[own], own, prior, launch)
            _add_row(X, i, oth, counts, means, R, inv_diag, logdet, kappa0, work, w)
            _slot_tab(tab, own, counts[own], consts, tables)
            _slot_tab(tab, oth, counts[oth], consts, tables)
    return log_q


@njit(cache=True, nogil=True)
def _launch_and_scan(
    X, mult, heavy, S, z, m, anchors, prior, launch, order, work, n_scans, split, original
):
    """A proposal's launch state (sequential allocation, then ``n_scans``
    restricted scans) and the log probability of its final scan (the split,
    or recreating the current split ``original`` for a merge)."""
    _sequential_launch(X, mult, heavy, S, z, m, anchors, prior, launch, order, work)
    mode = np.int64(0)  # not a literal: one compiled scan serves every mode
    for _scan in range(n_scans):
        _restricted_scan(X, mult, heavy, S, z, m, mode, original, anchors, prior, launch, work)
    mode = np.int64(1 if split else 2)
    return _restricted_scan(X, mult, heavy, S, z, m, mode, original, anchors, prior, launch, work)


@njit(cache=True, nogil=True)
def _log_split(n0, n1, ld0, ld1, ld, log_alpha, consts, tables):
    """log of [posterior of a split into clusters of ``n0`` and ``n1`` rows] /
    [posterior of their union], ``ld0``, ``ld1``, ``ld`` the log-determinants of
    the two clusters' and the union's ``Psi_n``."""
    nu0 = consts[1]
    return (
        log_alpha
        + math.lgamma(n0)
        + math.lgamma(n1)
        - math.lgamma(n0 + n1)
        + _tab(tables, consts, 1, n0)
        - 0.5 * (nu0 + n0) * ld0
        + _tab(tables, consts, 1, n1)
        - 0.5 * (nu0 + n1) * ld1
        - _tab(tables, consts, 1, n0 + n1)
        + 0.5 * (nu0 + n0 + n1) * ld
    )


@njit(cache=True, nogil=True)
def _merged_log_det(a, b, post, mean0, psi0, kappa0, M, inv_work, dv):
    """``log|Psi_n|`` of the union of clusters ``a`` and ``b`` from their posteriors
    ``post`` (:func:`_build_posteriors`), without their rows: with ``d = m_n - m0``
    and ``kappa_n d`` the sum of a cluster's rows about ``m0``,
    ``Psi_ab = Psi_a + Psi_b - Psi0 + kappa_a d_a d_a^T + kappa_b d_b d_b^T
    - kappa_ab d_ab d_ab^T`` (``Psi_n = Psi0 + sum x x^T + kappa0 m0 m0^T - kappa_n m_n m_n^T``);
    NaN if the factorisation fails.  ``M`` (D, D), ``inv_work`` (D,), ``dv``
    (3, D) workspace."""
    counts, means, _, _, _, P = post
    n_features = mean0.shape[0]
    ka = kappa0 + counts[a]
    kb = kappa0 + counts[b]
    kab = ka + kb - kappa0
    for f in range(n_features):
        da = means[a, f] - mean0[f]
        db = means[b, f] - mean0[f]
        dv[0, f] = da
        dv[1, f] = db
        dv[2, f] = (ka * da + kb * db) / kab
    for f in range(n_features):
        for g in range(f, n_features):
            M[f, g] = (
                P[a, f, g]
                + P[b, f, g]
                - psi0[f, g]
                + ka * dv[0, f] * dv[0, g]
                + kb * dv[1, f] * dv[1, g]
                - kab * dv[2, f] * dv[2, g]
            )
    return _factor(M, inv_work)


@njit(cache=True, nogil=True)
def _copy_posterior(post, src, dst):
    """Slot ``dst`` of ``post`` := slot ``src``."""
    counts, means, R, inv_diag, logdet, P = post
    n_features = means.shape[1]
    counts[dst] = counts[src]
    logdet[dst] = logdet[src]
    for f in range(n_features):
        means[dst, f] = means[src, f]
        inv_diag[dst, f] = inv_diag[src, f]
        for g in range(n_features):
            R[dst, f, g] = R[src, f, g]
            P[dst, f, g] = P[src, f, g]


@njit(cache=True, nogil=True)
def _categorical(lw, n, mx):
    """Draw ``t < n`` with probability ``exp(lw[t] - mx)`` (``lw`` overwritten);
    -1 when the weights are not a distribution (NaN, all zero, an infinite
    total).  The sweep writes the same draw out inline (a call there costs
    reference counting per row)."""
    tot = 0.0
    for t in range(n):
        e = math.exp(lw[t] - mx)
        lw[t] = e
        tot += e
    if not (tot > 0.0 and tot < np.inf):
        return -1
    u = np.random.random() * tot
    t = 0
    acc = lw[0]
    while acc <= u and t < n - 1:
        t += 1
        acc += lw[t]
    while t > 0 and not (lw[t] > 0.0):  # u rounded onto the total: step back to a choice
        t -= 1
    if not (lw[t] > 0.0):
        return -1
    return t


@njit(cache=True, nogil=True)
def _prior_quad(X, i, mean0, R0, inv0, work):
    """``(x - m0)^T Psi0^-1 (x - m0)`` for ``x = X[i]`` (``Psi0 = R0^T R0``)."""
    n_features = X.shape[1]
    for f in range(n_features):
        work[f] = X[i, f] - mean0[f]
    q = 0.0
    for j in range(n_features):
        z = work[j] * inv0[j]
        q += z * z
        for t in range(j + 1, n_features):
            work[t] -= R0[j, t] * z
    return q


@njit(cache=True, nogil=True)
def _block_log_weight(n_k, m, logdet_k, q, consts, tables):
    """``log [Gamma(n_k + m) / Gamma(n_k)] + log ML(cluster + m copies of x) -
    log ML(cluster)`` for a cluster of ``n_k >= 1`` rows (``q = (x - m_n)^T
    Psi_n^-1 (x - m_n)``): ``m`` identical rows add ``kappa_n m / (kappa_n + m)
    (x - m_n)(x - m_n)^T`` to ``Psi_n`` (no scatter among themselves), so
    ``log|Psi_n'| = log|Psi_n| + log(1 + kappa_n m / (kappa_n + m) q)``
    (matrix determinant lemma); with ``m = 1`` this is ``_log_pred``."""
    g_a = _tab(tables, consts, 1, n_k + m)
    g_b = _tab(tables, consts, 1, n_k)
    return _block_weight_of(n_k, m, logdet_k, q, consts[0], consts[1], g_a, g_b)


@njit(cache=True, nogil=True, inline="always")
def _block_weight_of(n_k, m, logdet_k, q, kappa0, nu0, g_a, g_b):
    """:func:`_block_log_weight` from scalars, ``g_a = G(n_k + m)``, ``g_b = G(n_k)``
    (a call with array arguments costs reference counting in the scans' loops)."""
    kn = kappa0 + n_k
    ld = logdet_k + math.log1p(kn * m / (kn + m) * q)
    return (
        math.lgamma(n_k + m)
        - math.lgamma(n_k)
        + g_a
        - g_b
        - 0.5 * (nu0 + n_k + m) * ld
        + 0.5 * (nu0 + n_k) * logdet_k
    )


@njit(cache=True, nogil=True)
def _block_log_loo(n_k, m, logdet_k, q, consts, tables):
    """``log [Gamma(n_k) / Gamma(n_k - m)] + log ML(cluster) - log ML(cluster
    without m copies of x)`` for a cluster of ``n_k > m`` rows that holds ``m``
    copies of ``x`` (``q = (x - m_n)^T Psi_n^-1 (x - m_n)`` at the cluster's own
    statistics): removing them takes ``kappa_n m / (kappa_n - m) (x - m_n)(x -
    m_n)^T`` from ``Psi_n``; with ``m = 1`` this is ``_log_loo``."""
    g_a = _tab(tables, consts, 1, n_k)
    g_b = _tab(tables, consts, 1, n_k - m)
    return _block_loo_of(n_k, m, logdet_k, q, consts[0], consts[1], g_a, g_b)


@njit(cache=True, nogil=True, inline="always")
def _block_loo_of(n_k, m, logdet_k, q, kappa0, nu0, g_a, g_b):
    """:func:`_block_log_loo` from scalars, ``g_a = G(n_k)``, ``g_b = G(n_k - m)``."""
    kn = kappa0 + n_k
    om = 1.0 - kn * m / (kn - m) * q
    if om < _TINY:  # rounding only (see _log_loo)
        om = _TINY
    ld = logdet_k + math.log(om)  # log|Psi| without the copies
    return (
        math.lgamma(n_k)
        - math.lgamma(n_k - m)
        + g_a
        - g_b
        - 0.5 * (nu0 + n_k) * logdet_k
        + 0.5 * (nu0 + n_k - m) * ld
    )


@njit(cache=True, nogil=True)
def _copy_slot(src, dst, counts, means, R, inv_diag, logdet):
    counts[dst] = counts[src]
    logdet[dst] = logdet[src]
    for f in range(means.shape[1]):
        means[dst, f] = means[src, f]
        inv_diag[dst, f] = inv_diag[src, f]
        for g in range(means.shape[1]):
            R[dst, f, g] = R[src, f, g]


@njit(cache=True, nogil=True)
def _grow_stacks(counts, means, R, inv_diag, logdet, new_cap):
    """The cluster stacks with ``new_cap`` slots (the first ones copied)."""
    cap, n_features = means.shape
    counts = _grow_int(counts, new_cap)
    means = _grow(means, new_cap)
    R = _grow(R.reshape(cap, n_features * n_features), new_cap).reshape(
        new_cap, n_features, n_features
    )
    inv_diag = _grow(inv_diag, new_cap)
    logdet = _grow(logdet.reshape(cap, 1), new_cap).reshape(new_cap)
    return counts, means, R, inv_diag, logdet


@njit(cache=True, nogil=True)
def _take_out(X, mult, labels, s, m, K, prior, counts, means, R, inv_diag, logdet, work):
    """Take ``m`` of the copies that row ``s`` holds out of its cluster
    (``mult[s] -= m``); a cluster left empty is replaced by the last one, so the
    labels stay compact.  Returns the number of clusters."""
    mean0, psi0, _, _, consts, _ = prior
    k = labels[s]
    mult[s] -= m
    if counts[k] == m:  # s held the whole cluster
        last = K - 1
        if k != last:
            _copy_slot(last, k, counts, means, R, inv_diag, logdet)
            for i in range(labels.shape[0]):
                if labels[i] == last:
                    labels[i] = k
        counts[last] = 0
        return K - 1
    if not _remove_row(X, s, k, counts, means, R, inv_diag, logdet, consts[0], work, m):
        _rebuild_slot(
            X, mult, labels, k, mean0, psi0, consts[0], counts, means, R, inv_diag, logdet
        )
    return K


@njit(cache=True, nogil=True)
def _new_cluster_weight(X, s, m, prior, log_alpha, work):
    """``log [alpha Gamma(m) ML(m copies of X[s])]``: the copies opening a cluster."""
    mean0, _, R0, inv0, consts, tables = prior
    kappa0 = consts[0]
    q0 = _prior_quad(X, s, mean0, R0, inv0, work)
    ld = consts[2] + math.log1p(kappa0 * m / (kappa0 + m) * q0)
    return log_alpha + math.lgamma(m) + _tab(tables, consts, 1, m) - 0.5 * (consts[1] + m) * ld


@njit(cache=True, nogil=True)
def _holder(mult, lo, hi, pick):
    """The ``pick``-th (from 0) of the rows ``lo .. hi - 1`` that hold copies."""
    for t in range(lo, hi):
        if mult[t] > 0:
            if pick == 0:
                return t
            pick -= 1
    return -1


@njit(cache=True, nogil=True)
def _pair_move(
    X, mult, labels, lo, hi, K, prior, log_alpha, counts, means, R, inv_diag, logdet, work
):
    """A Metropolis-Hastings move that joins two holders of one atom's copies (the
    rows ``lo .. hi - 1``) or parts one, proposals chosen so that each is the
    other's reverse: with probability 1/2 a join, an ordered pair of holders
    uniformly, the second's copies moving into the first's cluster; else a
    part, a holder uniformly, ``m`` uniform in ``1 .. n - 1`` of its ``n``
    copies moving to a cluster drawn uniformly among those holding none of the
    atom's copies and a new one.  Copies parted by the other moves (a few
    leave for a new cluster, the rest follow) would otherwise rejoin only
    when the copy move happens to pick exactly their number.  The stacks need
    one free slot; returns the number of clusters."""
    mean0, _, R0, inv0, consts, tables = prior
    kappa0 = consts[0]
    n_features = X.shape[1]
    P = np.int64(0)
    for t in range(lo, hi):
        if mult[t] > 0:
            P += 1
    if np.random.random() < 0.5:  # join
        if P < 2:
            return K
        i = np.random.randint(0, P)
        j = np.random.randint(0, P - 1)
        if j >= i:
            j += 1
        si = _holder(mult, lo, hi, i)
        sj = _holder(mult, lo, hi, j)
        m = mult[sj]
        a = labels[sj]
        b = labels[si]
        n_b = mult[si]
        q = _quad(X, sj, a, means, R, inv_diag, work)
        whole = counts[a] == m
        if whole:
            lose = _new_cluster_weight(X, sj, m, prior, log_alpha, work)
        else:
            lose = _block_log_loo(counts[a], m, logdet[a], q, consts, tables)
        q = _quad(X, sj, b, means, R, inv_diag, work)
        gain = _block_log_weight(counts[b], m, logdet[b], q, consts, tables)
        log_pi = gain - lose + math.lgamma(n_b + 1.0) + math.lgamma(m + 1.0)
        log_pi -= math.lgamma(n_b + m + 1.0)
        K_after = K - 1 if whole else K
        n_dest = K_after - (P - 1) + 1  # the part's destinations from the joined state
        log_fwd = -math.log(P * (P - 1.0))
        log_rev = -math.log(P - 1.0) - math.log(n_b + m - 1.0) - math.log(n_dest)
        if not math.log(np.random.random()) < log_pi + log_rev - log_fwd:
            return K
        K = _take_out(X, mult, labels, sj, m, K, prior, counts, means, R, inv_diag, logdet, work)
        b = labels[si]  # (renumbered if its cluster was the last)
        mult[si] += m
        _add_row(X, si, b, counts, means, R, inv_diag, logdet, kappa0, work, m)
        _mirror(mult, labels, lo, hi)
        return K
    # part
    if P == hi - lo:
        return K  # no holder left for the part
    s = _holder(mult, lo, hi, np.random.randint(0, P))
    n = mult[s]
    if n < 2:
        return K
    m = np.random.randint(1, n)
    a = labels[s]
    n_dest = K - P + 1
    r = np.random.randint(0, n_dest)
    b = K  # new
    if r < n_dest - 1:  # the r-th cluster holding none of the atom's copies
        for k in range(K):
            held = False
            for t in range(lo, hi):
                if mult[t] > 0 and labels[t] == k:
                    held = True
            if not held:
                if r == 0:
                    b = k
                    break
                r -= 1
    q = _quad(X, s, a, means, R, inv_diag, work)
    lose = _block_log_loo(counts[a], m, logdet[a], q, consts, tables)
    if b == K:
        gain = _new_cluster_weight(X, s, m, prior, log_alpha, work)
    else:
        q = _quad(X, s, b, means, R, inv_diag, work)
        gain = _block_log_weight(counts[b], m, logdet[b], q, consts, tables)
    log_pi = gain - lose + math.lgamma(n + 1.0) - math.lgamma(n - m + 1.0) - math.lgamma(m + 1.0)
    log_fwd = -math.log(P) - math.log(n - 1.0) - math.log(n_dest)
    log_rev = -math.log((P + 1.0) * P)
    if not math.log(np.random.random()) < log_pi + log_rev - log_fwd:
        return K
    K = _take_out(X, mult, labels, s, m, K, prior, counts, means, R, inv_diag, logdet, work)
    if b == K:  # a new cluster in slot K
        counts[K] = 0
        logdet[K] = consts[2]
        for f in range(n_features):
            means[K, f] = mean0[f]
            inv_diag[K, f] = inv0[f]
            for g in range(n_features):
                R[K, f, g] = R0[f, g]
        K += 1
    f = lo
    while mult[f] > 0:
        f += 1
    labels[f] = b
    mult[f] = m
    _add_row(X, s, b, counts, means, R, inv_diag, logdet, kappa0, work, m)
    _mirror(mult, labels, lo, hi)
    return K


@njit(cache=True, nogil=True)
def _log_pick(n_held, m, n_t):
    """``log`` of the probability that the copy move picks ``m`` copies of a
    holder of ``n_t``, among ``n_held`` holders: the holder uniformly, then all
    its copies or, as likely, a number uniform in ``1 .. n_t``."""
    p = 0.5 / n_t + (0.5 if m == n_t else 0.0)
    return math.log(p) - math.log(n_held)


@njit(cache=True, nogil=True)
def _mirror(mult, labels, lo, hi):
    """Rows ``lo .. hi - 1`` (one distinct row's) that hold no copies take the
    label of the first that does, so every label stays that of a cluster."""
    first = -1
    for t in range(lo, hi):
        if mult[t] > 0:
            first = labels[t]
            break
    for t in range(lo, hi):
        if mult[t] == 0:
            labels[t] = first


@njit(cache=True, nogil=True)
def _piece_moves_post(X, mult, labels, n_clusters, prior, log_alpha, atoms, stacks, blocked):
    """The moves of the copies of each row of integer weight ``w >= 2``.

    Such a row (an *atom*) is held by the rows ``atom_start[a] ..
    atom_start[a] + atom_len[a] - 1`` of ``X`` (identical; ``atom_len = min(w,
    MAX_PIECES)``): each holds ``mult`` of its copies, all in the cluster of
    its label, at most one per cluster; those holding none carry the label of
    the first that does (:func:`_mirror`).  The state is thus the number of
    copies ``n_ak`` of each atom in each cluster, whose posterior is that of
    the partitions of all the copies times ``prod_a w_a! / prod_k n_ak!`` (the
    partitions of the copies that give those numbers).

    Per atom, (1) a copy move: a holder ``t`` uniformly among those holding
    copies, then ``m`` of its copies (all of them with probability 1/2, else
    ``m`` uniform in ``1 .. mult[t]``) leave, and a destination is drawn from
    its conditional given the rest (weights ``Gamma(n_k + m) / Gamma(n_k)
    ML(k + copies) / ML(k) n_ak! / (n_ak + m)!``, a new cluster ``alpha
    Gamma(m) ML(copies) / m!``).  The move back, from the new state, meets the
    same conditional, so the destination is accepted with probability
    ``min(1, q_back / q)``, ``q`` the probability of picking those copies
    (Metropolis-Hastings; ``_log_pick``); it is how copies part and rejoin,
    and picking whole holders makes a row's parted copies rejoin in a few
    iterations, whatever their number.  (2) for every
    holder in turn, all its copies move together to their own cluster, a
    cluster holding none of the atom's copies or a new one (weights as above
    without the factorials, which do not change): the copies of a heavy row
    change cluster at once rather than against odds that grow with ``w``.
    Destinations that would need more holders than the atom has are left
    out (``blocked[0]`` counts them; never with ``w <= MAX_PIECES``).  Before
    them, :func:`_pair_move` joins parted copies (or parts them).

    ``stacks = (counts, means, R, inv_diag, logdet)`` hold the clusters'
    posteriors and grow as needed; returns ``(n_clusters, stacks)``, -1
    clusters for weights that are not finite.
    """
    mean0, _, R0, inv0, consts, tables = prior
    atom_start, atom_len = atoms
    n_features = X.shape[1]
    kappa0 = consts[0]
    counts, means, R, inv_diag, logdet = stacks
    cap = counts.shape[0]
    K = n_clusters
    work = np.empty(n_features)
    lw = np.empty(cap + 1)
    own = np.zeros(cap, np.int64)  # copies of the current atom per cluster
    for a in range(atom_start.shape[0]):
        lo = atom_start[a]
        hi = lo + atom_len[a]
        if hi - lo > 1:
            if K + 1 >= cap:
                new_cap = 2 * cap
                counts, means, R, inv_diag, logdet = _grow_stacks(
                    counts, means, R, inv_diag, logdet, new_cap
                )
                lw = np.empty(new_cap + 1)
                own = np.zeros(new_cap, np.int64)
                cap = new_cap
            K = _pair_move(
                X, mult, labels, lo, hi, K, prior, log_alpha, counts, means, R, inv_diag, logdet,
                work,
            )  # fmt: skip
        for move in range(hi - lo + 1):
            log_q = 0.0
            n_held = np.int64(0)
            if move == 0:  # the copy move: a holder, then m of its copies
                for t in range(lo, hi):
                    if mult[t] > 0:
                        n_held += 1
                pick = np.random.randint(0, n_held)
                s = lo
                for t in range(lo, hi):
                    if mult[t] > 0:
                        if pick == 0:
                            s = t
                            break
                        pick -= 1
                n_s = mult[s]
                m = n_s if np.random.random() < 0.5 else np.random.randint(1, n_s + 1)
                log_q = _log_pick(n_held, m, n_s)
            else:  # the whole-holder moves, holders in row order
                s = lo + move - 1
                m = mult[s]
                if m == 0:
                    continue
            origin = labels[s]
            K_before = K
            K = _take_out(X, mult, labels, s, m, K, prior, counts, means, R, inv_diag, logdet, work)
            if K < K_before:  # s held the whole cluster: "staying" is opening one
                origin = K
            free = -1
            for t in range(lo, hi):
                if mult[t] > 0:
                    own[labels[t]] = mult[t]
                elif free < 0:
                    free = t
            if move > 0:
                free = s  # the holder itself, now empty
            mx = -np.inf
            for k in range(K):
                if move > 0 and own[k] > 0:  # the atom's other holders' clusters
                    lw[k] = -np.inf
                    continue
                if own[k] == 0 and free < 0:  # no holder left to put there
                    lw[k] = -np.inf
                    blocked[0] += 1
                    continue
                q = _quad(X, s, k, means, R, inv_diag, work)
                v = _block_log_weight(counts[k], m, logdet[k], q, consts, tables)
                if move == 0:
                    n_ak = own[k]
                    v += math.lgamma(n_ak + 1.0) - math.lgamma(n_ak + m + 1.0)
                lw[k] = v
                if v > mx:
                    mx = v
            if free >= 0:
                v = _new_cluster_weight(X, s, m, prior, log_alpha, work)
                if move == 0:
                    v -= math.lgamma(m + 1.0)
            else:
                v = -np.inf
                blocked[0] += 1
            lw[K] = v
            if v > mx:
                mx = v
            t = _categorical(lw, K + 1, mx)
            if t < 0:
                return -1, (counts, means, R, inv_diag, logdet)
            if move == 0 and t != origin:
                # Metropolis-Hastings on the choice of the copies: the move back
                # picks the m copies from the destination's holder
                n_dest = m + (own[t] if t < K else 0)
                n_after = n_held - (1 if mult[s] == 0 else 0) + (1 if n_dest == m else 0)
                log_r = _log_pick(n_after, m, n_dest) - log_q
                if log_r < 0.0 and not math.log(np.random.random()) < log_r:
                    t = origin
            for k in range(K):
                own[k] = 0
            if t == K:  # a new cluster in slot K
                if K == cap:
                    new_cap = 2 * cap
                    counts, means, R, inv_diag, logdet = _grow_stacks(
                        counts, means, R, inv_diag, logdet, new_cap
                    )
                    lw = np.empty(new_cap + 1)
                    own = np.zeros(new_cap, np.int64)
                    cap = new_cap
                counts[K] = 0
                logdet[K] = consts[2]
                for f in range(n_features):
                    means[K, f] = mean0[f]
                    inv_diag[K, f] = inv0[f]
                    for g in range(n_features):
                        R[K, f, g] = R0[f, g]
                K += 1
            holder = free
            for r in range(lo, hi):
                if mult[r] > 0 and labels[r] == t:
                    holder = r
            labels[holder] = t
            mult[holder] += m
            _add_row(X, s, t, counts, means, R, inv_diag, logdet, kappa0, work, m)
        _mirror(mult, labels, lo, hi)
    return K, (counts, means, R, inv_diag, logdet)


@njit(cache=True, nogil=True)
def piece_moves(X, mult, labels, n_clusters, prior, log_alpha, atoms, seed, blocked):
    """:func:`_piece_moves_post` as one call from the labels (it builds the
    clusters' posteriors); ``labels`` and ``mult`` updated in place; returns
    the number of clusters (-1: non-finite weights)."""
    np.random.seed(seed)
    stacks = _stacks_of(X, mult, labels, n_clusters, prior)
    K, _ = _piece_moves_post(X, mult, labels, n_clusters, prior, log_alpha, atoms, stacks, blocked)
    return K


@njit(cache=True, nogil=True)
def _split_merge(X, mult, labels, n_clusters, prior, log_alpha, n_proposals, n_scans, stats, atoms):
    """The body of :func:`split_merge`, drawing from numba's generator as it stands."""
    mean0, psi0, _, _, consts, _ = prior
    post = _empty_posteriors(n_clusters + max(n_proposals, 0), X.shape[1])
    _build_posteriors(X, mult, labels, n_clusters, mean0, psi0, consts[0], post)
    return _split_merge_post(
        X, mult, labels, n_clusters, prior, log_alpha, n_proposals, n_scans, stats, post, atoms
    )


@njit(cache=True, nogil=True)
def _share_an_atom(mult, labels, a, b, atoms):
    """Whether some row of integer weight has copies in both clusters ``a`` and ``b``."""
    atom_start, atom_len = atoms
    for r in range(atom_start.shape[0]):
        in_a = False
        in_b = False
        for t in range(atom_start[r], atom_start[r] + atom_len[r]):
            if mult[t] > 0:
                in_a = in_a or labels[t] == a
                in_b = in_b or labels[t] == b
        if in_a and in_b:
            return True
    return False


@njit(cache=True, nogil=True)
def _split_merge_post(
    X, mult, labels, n_clusters, prior, log_alpha, n_proposals, n_scans, stats, post, atoms
):
    """:func:`_split_merge` from the clusters' posteriors ``post``
    (:func:`_build_posteriors`, at least ``n_clusters + n_proposals`` slots),
    which it keeps current: a merge is first judged from them (the union's
    ``Psi_n`` in closed form, :func:`_merged_log_det`), and the slots an
    accepted move changes are rebuilt from their rows (the same bits as
    rebuilding every cluster).

    A row holding ``w`` copies of a row of integer weight moves as one item
    (its copies stay together); an anchor holding none ends the proposal, and
    two clusters that share a weighted row's copies are not merged (a split
    never makes such a pair, and a cluster holds at most one holder per
    weighted row: :func:`_piece_moves_post`)."""
    mean0, psi0, _, _, consts, tables = prior
    n_samples, n_features = X.shape
    kappa0 = consts[0]
    atom_start, atom_len = atoms
    p_counts = post[0]
    p_logdet = post[4]
    launch = (
        np.zeros(2, np.int64),
        np.empty((2, n_features)),
        np.empty((2, n_features, n_features)),
        np.empty((2, n_features)),
        np.empty(2),
        np.zeros((2, 4)),
    )
    counts = launch[0]
    logdet = launch[4]
    S = np.empty(n_samples, np.int64)
    z = np.empty(n_samples, np.int64)
    original = np.empty(n_samples, np.int64)
    rows = np.empty(n_samples, np.int64)
    merged_mean = np.empty(n_features)
    merged_R = np.empty((n_features, n_features))
    merged_inv = np.empty(n_features)
    dv = np.empty((3, n_features))
    anchors = np.empty(2, np.int64)
    order = np.empty(n_samples, np.int64)
    xbar = np.empty(n_features)
    work = np.empty(n_features)
    K = n_clusters
    unit = atom_start.shape[0] == 0
    if n_samples < 2:
        return K
    for _ in range(n_proposals):
        i = np.random.randint(0, n_samples)
        j = np.random.randint(0, n_samples - 1)
        if j >= i:
            j += 1
        if mult[i] == 0 or mult[j] == 0:
            continue  # a holder of no copies is no item
        a = labels[i]
        b = labels[j]
        anchors[0] = i
        anchors[1] = j
        split = a == b
        stats[0 if split else 2] += 1
        log_u = math.log(np.random.random())  # the acceptance test's uniform
        m = np.int64(-1)  # S not gathered yet
        log_split = 0.0
        if not split:
            # A merge is accepted iff log u < log q - log_split with log q <= 0, so
            # when log u >= -log_split it is rejected whatever the launch state:
            # decide that first, from the current clusters, without building one.
            ld = _merged_log_det(a, b, post, mean0, psi0, kappa0, merged_R, merged_inv, dv)
            if not ld == ld:  # not positive definite in rounding: from the rows
                m = _gather(mult, labels, i, j, a, b, S, original, rows)
                ld = _build_from_rows(
                    X, mult, rows, m + 2, mean0, psi0, kappa0, merged_mean, merged_R, merged_inv,
                    xbar, work,
                )  # fmt: skip
            log_split = _log_split(
                p_counts[a], p_counts[b], p_logdet[a], p_logdet[b], ld, log_alpha, consts, tables
            )
            if log_u >= -log_split:
                continue
            if atom_start.shape[0] > 0 and _share_an_atom(mult, labels, a, b, atoms):
                continue
        if m < 0:
            m = _gather(mult, labels, i, j, a, b, S, original, rows)
        # launch state: sequential allocation, then restricted Gibbs scans
        if unit:  # (the scans compiled without the branch for rows of many copies)
            log_q = _launch_and_scan(
                X, mult, None, S, z, m, anchors, prior, launch, order, work, n_scans, split,
                original,
            )  # fmt: skip
        else:
            log_q = _launch_and_scan(
                X, mult, mult, S, z, m, anchors, prior, launch, order, work, n_scans, split,
                original,
            )  # fmt: skip
        if split:
            for side in range(2):  # exact statistics for the acceptance ratio
                _rebuild_launch(X, mult, S, z, m, anchors[side], side, prior, launch)
            log_split = _log_split(
                counts[0], counts[1], logdet[0], logdet[1], p_logdet[a], log_alpha, consts, tables
            )
        log_r = log_split - log_q if split else log_q - log_split
        if not log_u < log_r:
            continue
        stats[1 if split else 3] += 1
        if split:
            labels[j] = K
            for t in range(m):
                if z[t] == 1:
                    labels[S[t]] = K
            for r in range(atom_start.shape[0]):
                _mirror(mult, labels, atom_start[r], atom_start[r] + atom_len[r])
            _rebuild_posterior(X, mult, labels, a, mean0, psi0, kappa0, post)
            _rebuild_posterior(X, mult, labels, K, mean0, psi0, kappa0, post)
            K += 1
        else:  # b joins a; the last label takes b's place so labels stay compact
            K -= 1
            if a == K:
                a = b
            for k in range(n_samples):
                lk = labels[k]
                if lk == b or lk == K:
                    labels[k] = a if lk == b else b
            _rebuild_posterior(X, mult, labels, a, mean0, psi0, kappa0, post)
            if b != a and b < K:
                _copy_posterior(post, K, b)
    return K


@njit(cache=True, nogil=True)
def _gather(mult, labels, i, j, a, b, S, original, rows):
    """The rows other than ``i`` and ``j`` of clusters ``a`` and ``b`` that hold
    copies into ``S`` (their side, 0 for ``a``, in ``original``), and ``[i, j,
    S...]`` into ``rows``; returns how many in ``S``."""
    rows[0] = i
    rows[1] = j
    m = np.int64(0)  # not a literal (see _rows_of)
    for k in range(labels.shape[0]):
        if k != i and k != j and mult[k] > 0:
            lk = labels[k]
            if lk == a or lk == b:
                S[m] = k
                original[m] = 0 if lk == a else 1
                rows[m + 2] = k
                m += 1
    return m


# ------------------------------------------------------------- base-measure draws
@njit(cache=True, nogil=True)
def hyper_statistics(R, chi, normals, diff, z, sqrt_base):
    """Sufficient statistics of the base measure's hyperparameters from one draw
    of every cluster's precision and mean (``bayesmix._gibbs_hyper``).

    Parameters
    ----------
    R : (K, D, D) upper Cholesky factors of the clusters' ``Psi_n``
    chi : (K, D) square roots of the Bartlett chi-square variates,
        ``chi[k, j]^2 ~ chi2(nu_n - j)``
    normals : (K, D (D - 1) / 2) standard normals below the Bartlett diagonal
        (row by row)
    diff : (K, D) ``m_n - m0``
    z : (K, D) standard normals divided by ``sqrt(kappa_n)`` (zeros when the
        means are not needed)
    sqrt_base : (D,) square roots of the diagonal of ``A``

    Returns
    -------
    trace_sum : float, ``sum_k tr(A Lambda_k)``
    quad_sum : float, ``sum_k (mu_k - m0)^T Lambda_k (mu_k - m0)``

    With ``L`` lower triangular holding ``chi`` on its diagonal and ``normals``
    below, ``Lambda_k = C C^T`` for ``C = R_k^-1 L`` is a draw of
    ``Wishart(nu_n, Psi_n^-1)`` (Bartlett), and ``mu_k - m0 = diff_k + C^-T
    z_k`` one of the mean, so ``C^T (mu_k - m0) = C^T diff_k + z_k``.
    """
    K, D, _ = R.shape
    L = np.zeros((D, D))
    C = np.empty((D, D))
    w = np.empty(D)
    trace_sum = 0.0
    quad_sum = 0.0
    for k in range(K):
        t = 0
        for i in range(D):
            L[i, i] = chi[k, i]
            for j in range(i):
                L[i, j] = normals[k, t]
                t += 1
        # back substitution, R_k C = L, column by column
        for j in range(D):
            for i in range(D - 1, -1, -1):
                acc = L[i, j]
                for m in range(i + 1, D):
                    acc -= R[k, i, m] * C[m, j]
                C[i, j] = acc / R[k, i, i]
        for i in range(D):
            for j in range(D):
                v = sqrt_base[i] * C[i, j]
                trace_sum += v * v
        # w = R^-T diff (forward substitution), then C^T diff = L^T w
        for i in range(D):
            acc = diff[k, i]
            for m in range(i):
                acc -= R[k, m, i] * w[m]
            w[i] = acc / R[k, i, i]
        for j in range(D):
            acc = z[k, j]
            for i in range(j, D):
                acc += L[i, j] * w[i]
            quad_sum += acc * acc
    return trace_sum, quad_sum


@njit(cache=True, nogil=True)
def _log_b_density(u, head, rate, lam, weights):
    """``head u - rate e^u - sum_t weights[t] log(e^u + lam[t])``."""
    b = math.exp(u)
    out = head * u - rate * b
    for t in range(lam.shape[0]):
        out -= weights[t] * math.log(b + lam[t])
    return out


@njit(cache=True, nogil=True)
def _slice_log_b(u0, head, rate, lam, weights, lo_bound, width):
    """The body of :func:`slice_log_b`, drawing from numba's generator as it stands."""
    level = _log_b_density(u0, head, rate, lam, weights) + math.log(np.random.random())
    left = u0 - width * np.random.random()
    right = left + width
    for _ in range(64):
        if left <= lo_bound or _log_b_density(left, head, rate, lam, weights) < level:
            break
        left -= width
    for _ in range(64):
        if _log_b_density(right, head, rate, lam, weights) < level:
            break
        right += width
    if left < lo_bound:
        left = lo_bound
    for _ in range(200):
        u = left + (right - left) * np.random.random()
        if _log_b_density(u, head, rate, lam, weights) >= level:
            return math.exp(u)
        if u < u0:
            left = u
        else:
            right = u
    return math.exp(u0)


@njit(cache=True, nogil=True)
def _tridiagonalise(A, d, e):
    """Householder reduction of the symmetric ``A`` (n, n) (overwritten) to a
    tridiagonal matrix of diagonal ``d`` (n,) and off-diagonal ``e`` (n - 1,)
    with the same eigenvalues (Golub & Van Loan 2013, §8.3.1)."""
    n = A.shape[0]
    v = np.empty(n)
    p = np.empty(n)
    for k in range(n - 2):
        norm = 0.0
        for i in range(k + 1, n):
            norm += A[i, k] * A[i, k]
        norm = math.sqrt(norm)
        d[k] = A[k, k]
        x0 = A[k + 1, k]
        if norm == 0.0:
            e[k] = 0.0
            continue
        alpha = -norm if x0 >= 0.0 else norm
        e[k] = alpha
        vn = 0.0
        for i in range(k + 1, n):
            v[i] = A[i, k]
        v[k + 1] -= alpha
        for i in range(k + 1, n):
            vn += v[i] * v[i]
        if vn == 0.0:
            continue
        vn = 1.0 / math.sqrt(vn)
        for i in range(k + 1, n):
            v[i] *= vn
        # A <- H A H on the trailing block, H = I - 2 v v^T
        vp = 0.0
        for i in range(k + 1, n):
            acc = 0.0
            for j in range(k + 1, n):
                acc += A[i, j] * v[j]
            p[i] = acc
            vp += v[i] * acc
        for i in range(k + 1, n):
            p[i] -= vp * v[i]
        for i in range(k + 1, n):
            vi = 2.0 * v[i]
            pi = 2.0 * p[i]
            for j in range(k + 1, n):
                A[i, j] -= vi * p[j] + pi * v[j]
    if n >= 2:
        d[n - 2] = A[n - 2, n - 2]
        e[n - 2] = A[n - 1, n - 2]
    d[n - 1] = A[n - 1, n - 1]


@njit(cache=True, nogil=True)
def _tridiagonal_eigenvalues(d, e):
    """Eigenvalues of the symmetric tridiagonal matrix of diagonal ``d`` (n,)
    and off-diagonal ``e`` (n - 1,), into ``d`` (``e`` is overwritten): implicit
    symmetric QR steps with Wilkinson shifts and deflation (Golub & Van Loan
    2013, algorithm 8.3.2)."""
    n = d.shape[0]
    eps = 2.220446049250313e-16
    # an off-diagonal entry below eps |T| is dropped: an absolute error of that
    # size, which the reduction itself makes anyway
    floor = 0.0
    for k in range(n):
        floor = max(floor, abs(d[k]))
    for k in range(n - 1):
        floor = max(floor, abs(e[k]))
    floor *= eps
    hi = n - 1
    budget = 60 * n
    while hi > 0 and budget > 0:
        if abs(e[hi - 1]) <= max(floor, eps * (abs(d[hi - 1]) + abs(d[hi]))):
            e[hi - 1] = 0.0
            hi -= 1
            continue
        lo = hi - 1
        while lo > 0:
            if abs(e[lo - 1]) <= max(floor, eps * (abs(d[lo - 1]) + abs(d[lo]))):
                e[lo - 1] = 0.0
                break
            lo -= 1
        budget -= 1
        dd = 0.5 * (d[hi - 1] - d[hi])
        ee = e[hi - 1]
        h = math.sqrt(dd * dd + ee * ee)
        den = dd + (h if dd >= 0.0 else -h)
        # den is 0 only when dd and ee underflow when squared: no shift then
        mu = d[hi] - ee * ee / den if den != 0.0 else d[hi]
        x = d[lo] - mu
        z = e[lo]
        for k in range(lo, hi):
            r = math.sqrt(x * x + z * z)
            if r == 0.0:
                c = 1.0
                s = 0.0
            else:
                c = x / r
                s = -z / r
            if k > lo:
                e[k - 1] = r
            a = d[k]
            b = e[k]
            cc = d[k + 1]
            d[k] = c * c * a - 2.0 * c * s * b + s * s * cc
            e[k] = c * s * (a - cc) + (c * c - s * s) * b
            d[k + 1] = s * s * a + 2.0 * c * s * b + c * c * cc
            if k + 1 < hi:
                x = e[k]
                z = -s * e[k + 1]
                e[k + 1] *= c


@njit(cache=True, nogil=True)
def scale_eigenvalues(X, mult, labels, n_clusters, mean0, kappa0, base, counts, lam):
    """What the collapsed update of ``b`` (``Psi0 = b A``, ``A = diag(base)``)
    needs of a partition: ``counts[k]`` and the eigenvalues ``lam[k]`` (D,) of
    ``A^-1/2 B_k A^-1/2``, ``B_k = S_k + kappa0 n_k / (kappa0 + n_k) (xbar_k -
    m0)(xbar_k - m0)^T`` (``S_k`` the scatter of cluster ``k`` about its mean),
    clipped at 0.

    Built from the rows (two passes) and reduced by Householder
    tridiagonalisation and implicit QR steps in this thread, not by LAPACK:
    a threaded BLAS called from the chains' threads at once oversubscribes
    the cores (hundreds of times slower for 128 features on a loaded machine).
    """
    n_features = X.shape[1]
    B = np.zeros((n_clusters, n_features, n_features))
    xbar = np.zeros((n_clusters, n_features))
    _scatter_by_label(X, mult, labels, n_clusters, counts, xbar, B)
    _scale_eigenvalues_of(counts, xbar, B, n_clusters, mean0, kappa0, base, lam)


@njit(cache=True, nogil=True)
def _scale_eigenvalues_of(counts, xbar, B, n_clusters, mean0, kappa0, base, lam):
    """:func:`scale_eigenvalues` from the clusters' sizes, means and scatters
    (``_scatter_by_label``; not modified)."""
    n_features = xbar.shape[1]
    work = np.empty(n_features)
    isq = np.empty(n_features)
    for f in range(n_features):
        isq[f] = 1.0 / math.sqrt(base[f])
    M = np.empty((n_features, n_features))
    e = np.empty(max(n_features - 1, 1))
    for k in range(n_clusters):
        w = kappa0 * counts[k] / (kappa0 + counts[k])
        for f in range(n_features):
            work[f] = xbar[k, f] - mean0[f]
        for f in range(n_features):
            for g in range(f, n_features):
                v = (B[k, f, g] + w * work[f] * work[g]) * isq[f] * isq[g]
                M[f, g] = v
                M[g, f] = v
        if n_features == 1:
            lam[k, 0] = M[0, 0]
        else:
            _tridiagonalise(M, lam[k], e)
            _tridiagonal_eigenvalues(lam[k], e)
        for f in range(n_features):
            if not lam[k, f] > 0.0:
                lam[k, f] = 0.0


@njit(cache=True, nogil=True)
def gibbs_sweep(
    X, mult, n_unit, labels, n_clusters, log_prior_pred, prior, log_alpha, seed, want_log_joint
):
    """One collapsed Gibbs sweep over every row of one copy (Neal 2000, algorithm 3).

    Parameters
    ----------
    X : (n_samples, n_features) float64, row-major (standardised units)
    mult : (n_samples,) int64, the copies each row holds: 1 for the first
        ``n_unit`` rows, which the sweep moves; the others hold the copies of
        rows of integer weight (:func:`piece_moves`) and stay
    n_unit : int
    labels : (n_samples,) int64, compact labels; updated in place and left compact
    n_clusters : int, number of clusters in ``labels``
    log_prior_pred : (n_samples,) ``log p(x_i)`` under the prior predictive
        (:func:`prior_log_predictive`)
    prior : tuple ``(mean0, psi0, R0, inv0, consts, tables)`` (module docstring)
    log_alpha : float, log of the DP concentration
    seed : int, seeds numba's generator for this call
    want_log_joint : bool, rebuild the statistics after the sweep and return
        the alpha-free part of the log joint

    Returns
    -------
    n_clusters : int, -1 if a row's weights were not finite (the labels are
        then partly updated and must not be used)
    log_joint_part : float
        ``sum_k [log ML_k + lgamma(n_k)]`` (NaN unless ``want_log_joint``); the
        caller adds ``K log alpha + lgamma(alpha) - lgamma(alpha + n)``.

    Each row ``i`` in turn leaves its cluster and joins cluster ``k`` with
    probability proportional to ``n_k^{-i} p(x_i | rows of k)``, or a new
    cluster with probability proportional to ``alpha p(x_i)``.
    """
    np.random.seed(seed)
    return _sweep(
        X, mult, n_unit, labels, n_clusters, log_prior_pred, prior, log_alpha, want_log_joint
    )


@njit(cache=True, nogil=True)
def split_merge(
    X, mult, labels, n_clusters, prior, log_alpha, n_proposals, n_scans, seed, stats, atoms
):
    """Split-merge Metropolis-Hastings proposals with restricted Gibbs launch
    states (Jain & Neal 2004, conjugate case).

    Parameters
    ----------
    X : (n_samples, n_features) float64, row-major
    mult : (n_samples,) int64, the copies each row holds (:func:`piece_moves`)
    labels : (n_samples,) int64, compact; updated in place and left compact
    n_clusters : int
    prior : tuple ``(mean0, psi0, R0, inv0, consts, tables)`` (module docstring)
    log_alpha : float
    n_proposals : int, proposals in this call
    n_scans : int, intermediate restricted Gibbs scans that build each launch state
    seed : int
    stats : (4,) int64, incremented in place: splits proposed, splits
        accepted, merges proposed, merges accepted
    atoms : ``(atom_start, atom_len)`` int64, the rows holding each weighted
        row's copies (:func:`piece_moves`; empty: none)

    Returns
    -------
    n_clusters : int

    Each proposal picks two distinct rows ``i``, ``j``.  The other rows of their
    cluster(s), ``S``, are spread over two launch clusters anchored at ``i`` and
    ``j`` by sequential allocation in a random order (Dahl 2005,
    :func:`_sequential_launch`) and reshuffled by ``n_scans`` restricted Gibbs
    scans.  If
    ``i`` and ``j`` share a cluster, one more restricted scan proposes the split
    and its probability ``q`` enters the acceptance ratio
    ``alpha Gamma(n_i) Gamma(n_j) / Gamma(n_i + n_j) L_i L_j / L_ij / q``;
    otherwise the merge is proposed, with the inverse ratio and ``q`` the
    probability that a final restricted scan recreates the current split.  The
    acceptance uniform is drawn first, so a merge that would be rejected even
    with ``q = 1`` (most merges of distinct clusters) is rejected before any
    launch state is built.
    """
    np.random.seed(seed)
    return _split_merge(
        X, mult, labels, n_clusters, prior, log_alpha, n_proposals, n_scans, stats, atoms
    )


@njit(cache=True, nogil=True)
def slice_log_b(u0, head, rate, lam, weights, lo_bound, width, seed):
    """One slice-sampling update (Neal 2003: stepping out, then shrinkage) of
    ``u = log b`` under the log density ``head u - rate e^u - sum_t weights[t]
    log(e^u + lam[t])`` restricted to ``u >= lo_bound``; returns ``b``.

    Parameters
    ----------
    u0 : float, current ``log b``
    head, rate : float
    lam, weights : (m,) float64
    lo_bound : float (``-inf``: none)
    width : float, the stepping-out width
    seed : int, seeds numba's generator for this call
    """
    np.random.seed(seed)
    return _slice_log_b(u0, head, rate, lam, weights, lo_bound, width)


# ------------------------------------------------------------------ whole blocks
@njit(cache=True, nogil=True)
def _gamma_log_density(x, shape, rate):
    return shape * math.log(rate) - math.lgamma(shape) + (shape - 1.0) * math.log(x) - rate * x


@njit(cache=True, nogil=True)
def gibbs_block(
    X,
    mult,
    n_unit,
    n_copies,
    labels,
    n_clusters,
    alpha,
    b,
    prior,
    log_prior_pred,
    scale_args,
    conc_args,
    n_proposals,
    n_scans,
    log_jacobian,
    keep,
    seed,
    out_labels,
    out_mult,
    out_values,
    stats,
    atoms,
    blocked,
):
    """``keep.size`` iterations of one chain in one call, each: when the scale
    is learned, one collapsed draw of ``b`` (slice sampling, Neal 2003) and the
    prior refreshed at it; split-merge proposals (:func:`split_merge`); the
    moves of the copies of rows of integer weight (:func:`piece_moves`); one Gibbs sweep
    (:func:`gibbs_sweep`); when the concentration is learned, one
    Escobar & West (1995) draw of it; for a kept iteration, the log joint and
    the draw written out.  The same transition as ``_gibbs_core.step``.

    Parameters
    ----------
    X : (n_samples, n_features) standardised rows
    mult : (n_samples,) int64, the copies each row holds (:func:`piece_moves`);
        updated in place
    n_unit : int, the rows of one copy come first (:func:`gibbs_sweep`)
    n_copies : int, ``sum(mult)``: the observations
    labels : (n_samples,) int64, compact; updated in place
    n_clusters : int
    alpha : float, the concentration
    b : float, ``Psi0 = b diag(base)`` (unused unless the scale is learned)
    prior : tuple ``(mean0, psi0, R0, inv0, consts, tables)``; when the scale is
        learned ``psi0``, ``R0``, ``inv0``, ``consts[2]`` and ``tables[1]`` are
        kept at ``b`` in place (diagonal ``Psi0``)
    log_prior_pred : (n_samples,) kept at ``b`` in place likewise
    scale_args : float64 ``[learned, shape, rate, b_min, base (D,), sq_dist
        (n_samples,), G0 (n_samples + 1,)]``: whether ``b`` is learned, its
        Gamma hyperprior and floor, ``diag(A)``, the rows' ``(x - m0)^T A^-1
        (x - m0)`` and ``tables[1]`` at ``log|Psi0| = 0``
    conc_args : (3,) ``[learned, shape, rate]``, the Gamma hyperprior of alpha
    n_proposals : int, split-merge proposals per iteration (< 0: ``ceil(K / 2)``)
    n_scans : int, restricted scans per launch state
    log_jacobian : float, added to the log joint (data units)
    keep : (n_steps,) bool, iterations whose draw is written out
    seed : int, seeds numba's generator for this call
    out_labels : (n_kept, n_samples) int64, canonical labels of the kept draws
    out_mult : (n_kept, n_samples) int64, ``mult`` of the kept draws (0 rows:
        not written)
    out_values : (n_kept, 4) ``[n_clusters, alpha, log joint, b]`` of each
    stats : (4,) int64 split-merge counts, incremented in place
    atoms : ``(atom_start, atom_len)`` (:func:`piece_moves`; empty: none)
    blocked : (1,) int64, destinations of copies left out for lack of holders

    Returns
    -------
    n_clusters : int, -1 if a sweep met non-finite weights (as :func:`gibbs_sweep`)
    alpha : float
    b : float
    """
    np.random.seed(seed)
    mean0, psi0, R0, inv0, consts, tables = prior
    n_samples, n_features = X.shape
    kappa0 = consts[0]
    nu0 = consts[1]
    learn_b = scale_args[0] > 0.0
    g_shape = scale_args[1]
    g_rate = scale_args[2]
    b_min = scale_args[3]
    base = scale_args[4 : 4 + n_features]
    sq_dist = scale_args[4 + n_features : 4 + n_features + n_samples]
    tables0_1 = scale_args[4 + n_features + n_samples :]
    learn_alpha = conc_args[0] > 0.0
    a_shape = conc_args[1]
    a_rate = conc_args[2]
    lo_bound = math.log(b_min) if b_min > 0.0 else -np.inf
    map_work = np.empty(n_samples, np.int64)
    K = n_clusters
    s = 0
    # the clusters' sizes, means and scatters at the current labels: one pass over
    # the rows per iteration (after the sweep) serves the log joint, the next
    # update of b and the next iteration's posteriors
    sizes = np.zeros(K, np.int64)
    xbar = np.zeros((K, n_features))
    S = np.empty((K, n_features, n_features))
    _scatter_by_label(X, mult, labels, K, sizes, xbar, S)
    write_mult = out_mult.shape[0] > 0
    for step in range(keep.shape[0]):
        if learn_b:
            counts = sizes
            lam = np.empty((K, n_features))
            _scale_eigenvalues_of(sizes, xbar, S, K, mean0, kappa0, base, lam)
            head = g_shape + 0.5 * K * n_features * nu0
            weights = np.empty(K * n_features)
            for k in range(K):
                for f in range(n_features):
                    weights[k * n_features + f] = 0.5 * (nu0 + counts[k])
            width = 2.0 / math.sqrt(head)
            b = _slice_log_b(math.log(b), head, g_rate, lam.reshape(-1), weights, lo_bound, width)
            logdet0 = 0.0
            for f in range(n_features):
                v = b * base[f]
                psi0[f, f] = v
                R0[f, f] = math.sqrt(v)
                inv0[f] = 1.0 / R0[f, f]
                logdet0 += math.log(v)
            consts[2] = logdet0
            for t in range(tables.shape[1]):
                tables[1, t] = tables0_1[t] + 0.5 * nu0 * logdet0
            lp0 = tables[0, 0] - 0.5 * logdet0
            c0 = tables[2, 0]
            for i in range(n_samples):
                # log(1 + .), not log1p: 3x faster, the same to 1e-16 absolute
                log_prior_pred[i] = lp0 - 0.5 * (nu0 + 1.0) * math.log(1.0 + c0 * sq_dist[i] / b)
        log_alpha = math.log(alpha)
        n_prop = n_proposals
        if n_prop < 0:
            n_prop = max(1, (K + 1) // 2)
        # one build of the clusters' posteriors serves the proposals and the sweep
        post = _empty_posteriors(K + max(n_prop, 0) + 16, n_features)
        _posteriors_of(sizes, xbar, S, K, mean0, psi0, kappa0, post)
        if n_prop > 0:
            K = _split_merge_post(
                X, mult, labels, K, prior, log_alpha, n_prop, n_scans, stats, post, atoms
            )
        want = keep[step]
        counts, means, R, inv_diag, logdet, _ = post
        if atoms[0].shape[0] > 0:
            K, stacks = _piece_moves_post(
                X, mult, labels, K, prior, log_alpha, atoms, (counts, means, R, inv_diag, logdet),
                blocked,
            )  # fmt: skip
            if K < 0:
                return K, alpha, b
            counts, means, R, inv_diag, logdet = stacks
        K, _ = _sweep_post(
            X,
            mult,
            n_unit,
            labels,
            K,
            log_prior_pred,
            prior,
            log_alpha,
            False,
            counts,
            means,
            R,
            inv_diag,
            logdet,
        )
        if K < 0:  # non-finite state (see _sweep_post): the caller raises
            return K, alpha, b
        sizes = np.zeros(K, np.int64)
        xbar = np.zeros((K, n_features))
        S = np.empty((K, n_features, n_features))
        _scatter_by_label(X, mult, labels, K, sizes, xbar, S)
        if learn_alpha:
            eta = np.random.beta(alpha + 1.0, n_copies)
            rate = a_rate - math.log(eta)
            odds = (a_shape + K - 1.0) / (n_copies * rate)
            shape = a_shape + K - (0.0 if np.random.random() < odds / (1.0 + odds) else 1.0)
            alpha = np.random.gamma(shape, 1.0 / rate)
        if want:
            part = _log_partition_of(sizes, xbar, S, K, mean0, psi0, kappa0, consts, tables)
            lj = part + K * math.log(alpha) + math.lgamma(alpha) - math.lgamma(alpha + n_copies)
            if learn_alpha:
                lj += _gamma_log_density(alpha, a_shape, a_rate)
            lj += log_jacobian
            if learn_b:
                lj += _gamma_log_density(b, g_shape, g_rate)
            canonical_labels(labels, out_labels[s], map_work)
            if write_mult:
                for i in range(n_samples):
                    out_mult[s, i] = mult[i]
            out_values[s, 0] = K
            out_values[s, 1] = alpha
            out_values[s, 2] = lj
            out_values[s, 3] = b if learn_b else np.nan
            s += 1
    return K, alpha, b


# ----------------------------------------------------------------------- outputs
@njit(cache=True, nogil=True)
def canonical_labels(labels, out, map_work):
    """Relabel by order of first appearance into ``out`` (any integer dtype);
    returns the number of clusters.  ``map_work`` (>= n_clusters,) int64 workspace."""
    map_work[:] = -1
    K = 0
    for i in range(labels.shape[0]):
        k = labels[i]
        c = map_work[k]
        if c < 0:
            c = K
            map_work[k] = c
            K += 1
        out[i] = c
    return K


@njit(cache=True, nogil=True)
def partition_overlap(cands, refs, n_labels, weights):
    """``out[c] = sum_r sum_{k,l} m_kl^2`` with ``m`` the contingency table of
    candidate partition ``cands[c]`` against reference ``refs[r]``, row ``i``
    counted ``weights[i]`` times.

    Parameters
    ----------
    cands : (n_cands, n_samples) integer labels in ``[0, n_labels)``
    refs : (n_refs, n_samples) integer labels in ``[0, n_labels)``
    n_labels : int
    weights : (n_samples,) float64, whole numbers (the copies each row stands for)

    Returns
    -------
    (n_cands,) float64

    ``sum_{k,l} m_kl^2 = sum_{i,j} w_i w_j [c_i = c_j][r_i = r_j]``, so Dahl's
    (2006) least-squares loss ``sum_{i,j} w_i w_j ([c_i = c_j] - pi_ij)^2`` of a
    candidate against the co-clustering matrix ``pi`` estimated from the
    references is ``sum_k n_k^2 - 2 out[c] / n_refs`` up to a constant, without
    ever forming the ``n x n`` matrix.
    """
    n_cands, n_samples = cands.shape
    table = np.zeros((n_labels, n_labels))
    out = np.zeros(n_cands)
    for c in range(n_cands):
        cand = cands[c]
        tot = 0.0
        for r in range(refs.shape[0]):
            ref = refs[r]
            for i in range(n_samples):
                w = weights[i]
                v = table[cand[i], ref[i]]
                tot += (2.0 * v + w) * w
                table[cand[i], ref[i]] = v + w
            for i in range(n_samples):
                table[cand[i], ref[i]] = 0.0
        out[c] = tot
    return out
