"""From the kept partitions of a collapsed Gibbs run to what users read: the
point partition and its cluster summaries, the posterior predictive mixture,
and component parameters drawn given each kept partition.

Given a partition, each cluster's NIW posterior ``(counts, m_n, R_n)`` (``R_n``
the upper Cholesky factor of ``Psi_n``) comes from one kernel call,
``_kernels._gibbs.cluster_posteriors``; everything here is numpy on those.

References
----------
Dahl (2006), least-squares point partition; Murphy (2007), *Conjugate
Bayesian analysis of the Gaussian distribution* (NIW posterior and its
Student-t predictive); Neal (2000), JCGS 9 (predictive of a new row under the
Chinese restaurant process).
"""

from __future__ import annotations

import math

import numpy as np

from ._components import Components, student_t
from ._conjugate import draw_inverse_wishart
from ._data import Standardiser
from ._gibbs_core import Draws
from ._kernels._cholesky import upper_inverse
from ._kernels._gibbs import cluster_posteriors, partition_overlap
from .priors import NormalInverseWishart

__all__ = [
    "MAX_PREDICTIVE_DRAWS",
    "allocation_proba",
    "draw_parameters",
    "evenly_spaced",
    "kept_per_chain",
    "point_partition",
    "point_summary",
    "predictive_chunks",
    "t_predictives",
]

MAX_PREDICTIVE_DRAWS = 1000  # kept draws averaged by score_samples (evenly spaced)
_DAHL_BUDGET = 10**8  # candidate x reference x row operations for the point partition
_CHUNK_BYTES = 32 * 2**20  # precision factors per chunk of predictive components


def evenly_spaced(n_chains: int, n_kept: int, max_draws: int):
    """Indices ``(chain, draw)`` of up to ``max_draws`` evenly spaced kept draws,
    counted over all chains one after the other."""
    total = n_chains * n_kept
    flat = np.unique(np.linspace(0, total - 1, min(total, max_draws)).round().astype(int))
    return np.divmod(flat, n_kept)


def kept_per_chain(n_kept: int, n_draws: int | None) -> np.ndarray:
    """``n_draws`` evenly spaced indices among ``n_kept`` draws of a chain, first
    and last included (all of them when ``n_draws`` is None or at least
    ``n_kept``; the last one when ``n_draws`` is 1)."""
    if n_draws is None or n_draws >= n_kept:
        return np.arange(n_kept)
    if n_draws == 1:
        return np.array([n_kept - 1])
    # integer arithmetic: steps of at least one draw, so no two indices coincide
    return np.arange(n_draws) * (n_kept - 1) // (n_draws - 1)


def point_partition(labels_full: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Dahl's (2006) least-squares draw among evenly spaced kept draws.

    Parameters
    ----------
    labels_full : (n_chains, n_kept, n_samples) integer
        Kept partitions of the sampler's rows.
    weights : (n_samples,), optional
        The copies each row stands for (the loss counts pairs of copies);
        ones when not given.

    Returns
    -------
    (n_samples,) int64
        The draw whose co-clustering matrix is closest (least squares) to the
        posterior co-clustering estimated from other kept draws, its clusters
        numbered by decreasing size.  The work is capped at ``_DAHL_BUDGET``
        row operations.
    """
    n_chains, n_kept, n = labels_full.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    n_total = n_chains * n_kept
    n_refs = int(min(n_total, 200, max(10, _DAHL_BUDGET // (100 * n))))
    n_cands = int(min(n_total, 100, max(5, _DAHL_BUDGET // (n_refs * n))))
    rc, rd = evenly_spaced(n_chains, n_kept, n_refs)
    cc, cd = evenly_spaced(n_chains, n_kept, n_cands)
    refs = np.ascontiguousarray(labels_full[rc, rd], dtype=np.int64)
    cands = np.ascontiguousarray(labels_full[cc, cd], dtype=np.int64)
    n_labels = int(max(refs.max(), cands.max())) + 1
    overlap = partition_overlap(cands, refs, n_labels, w)
    size_sq = np.array([np.sum(np.bincount(c, weights=w) ** 2) for c in cands])
    best = int(np.argmin(size_sq - 2.0 * overlap / refs.shape[0]))
    labels = cands[best]
    sizes = np.bincount(labels, weights=w)
    order = np.argsort(-sizes, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[labels]


def point_summary(prior: NormalInverseWishart, std: Standardiser, counts, mu, R):
    """Data-unit summary of clusters with NIW posteriors ``(counts, mu, R)``
    (standardised units, as from ``cluster_posteriors``).

    Returns
    -------
    weights : (K,) shares of the rows
    means : (K, n_features) posterior means ``m_n``
    covariances : (K, n_features, n_features)
        Posterior means ``Psi_n / (nu_n - D - 1)`` of the covariances, or the
        posterior modes ``Psi_n / (nu_n + D + 1)`` where the mean does not exist.
    """
    d = mu.shape[1]
    psi = np.swapaxes(R, 1, 2) @ R
    nun = prior.dof + counts
    denom = np.where(nun > d + 1, nun - d - 1, nun + d + 1)
    s, c = std.scale, std.center
    return counts / counts.sum(), mu * s + c, psi / denom[:, None, None] * s**2


def t_predictives(prior: NormalInverseWishart, counts, mu, R, log_weights) -> Components:
    """Kernel arrays of the Student-t posterior predictives of clusters with NIW
    posteriors ``(counts, mu, R)`` (standardised units), weighted by
    ``log_weights`` (K,): ``t_{nu_n - D + 1}(m_n, (kappa_n + 1) / (kappa_n
    (nu_n - D + 1)) Psi_n)`` (Murphy 2007, eq. 258)."""
    d = mu.shape[1]
    kn = prior.kappa + counts
    dof = prior.dof + counts - d + 1.0
    c = (kn + 1.0) / (kn * dof)  # t scale matrix = c Psi_n
    prec = np.empty(R.shape)
    upper_inverse(np.ascontiguousarray(R), prec)
    prec /= np.sqrt(c)[:, None, None]
    return student_t(log_weights, mu, prec, dof)


def predictive_chunks(
    prior_at, Xs, labels_full, n_clusters, alphas, chains, draws, fill=None, mult_at=None
):
    """Yield the kernel arrays ``(means, prec, log_const, dof)`` of the posterior
    predictive mixture over the kept draws ``(chains[j], draws[j])``, each draw
    weighted equally, in chunks of about ``_CHUNK_BYTES`` of precision factors.

    Given a partition of ``n`` rows, the predictive of a new row is
    ``sum_k n_k / (n + alpha) t_k(x) + alpha / (n + alpha) t_0(x)``, with ``t_0``
    the predictive of the prior.  ``prior_at(c, s)`` gives the (standardised)
    prior of draw ``s`` of chain ``c`` (the same one unless the base measure
    has hyperpriors); ``Xs`` (n, n_features) are the sampler's rows
    (standardised), ``labels_full``, ``n_clusters`` and ``alphas`` the kept draws;
    ``fill(c, s)``, when given, the rows completed with draw ``s`` of chain
    ``c``'s missing cells (``_gibbs_missing``); ``mult_at(c, s)`` the copies each
    sampler row holds in that draw (one each when not given).
    """
    n, d = Xs.shape
    ones = np.ones(n, dtype=np.int64)
    log_n_draws = math.log(chains.size)
    chunk_rows = max(1, _CHUNK_BYTES // (8 * d * d))
    buf = []
    for c, s in zip(chains, draws, strict=True):
        alpha = alphas[c, s]
        prior = prior_at(c, s)
        R0 = np.linalg.cholesky(prior.scale).T[None]
        labels = np.ascontiguousarray(labels_full[c, s], dtype=np.int64)
        K = int(n_clusters[c, s])
        X_cs = Xs if fill is None else fill(c, s)
        mult = ones if mult_at is None else mult_at(c, s)
        counts, mu, R, _ = cluster_posteriors(
            X_cs, mult, labels, K, prior.mean, prior.scale, prior.kappa
        )
        log_norm = math.log(counts.sum() + alpha) + log_n_draws
        buf.append(t_predictives(prior, counts, mu, R, np.log(counts) - log_norm))
        buf.append(
            t_predictives(
                prior, np.zeros(1), prior.mean[None], R0, np.array([math.log(alpha) - log_norm])
            )
        )
        if sum(b.means.shape[0] for b in buf) >= chunk_rows:
            yield tuple(np.concatenate(parts) for parts in zip(*buf, strict=True))
            buf = []
    if buf:
        yield tuple(np.concatenate(parts) for parts in zip(*buf, strict=True))


def draw_parameters(
    rng, prior_at, std: Standardiser, Xs, kept: Draws, present, row_pos, draws, fill=None
) -> dict:  # kept.mult_full: the copies each sampler row holds per draw (None: one)
    """Component parameters drawn from the NIW posterior of kept partitions.

    Parameters
    ----------
    rng : numpy Generator
    prior_at : callable
        ``prior_at(c, t)`` is the resolved prior of kept draw ``t`` of chain
        ``c``, in standardised units.
    std : Standardiser
    Xs : (n_samples, n_features)
        The sampler's rows, standardised.
    kept : Draws
        The kept draws of a fit (``labels``, ``labels_full``, ``n_clusters``,
        ``alphas`` are read).
    present : (n_rows,) bool
        The caller's rows of positive weight.
    row_pos : (n_present,) int
        Each present row's first copy among the sampler's rows.
    draws : (n_draws,) int
        Which kept draws of every chain.
    fill : callable, optional
        ``fill(c, t)``: the rows completed with kept draw ``t`` of chain ``c``'s
        missing cells (given the partition and the completed rows the NIW
        posterior is exact, so the pairs are joint posterior draws).

    Returns
    -------
    dict with ``weights`` (n_chains, n_draws, K), ``weight_unoccupied``
    (n_chains, n_draws), ``means`` (n_chains, n_draws, K, D) and ``covariances``
    (n_chains, n_draws, K, D, D) in data units, ``K`` the largest number of
    clusters among the draws; unused slots have weight 0 and NaN parameters.
    For each draw (chain by chain, draw by draw) the weights are drawn first,
    ``Dirichlet(n_1, .., n_K, alpha)``, then ``Sigma_k ~ InvWishart(nu_n, Psi_n)``
    (:func:`~bayesmix._conjugate.draw_inverse_wishart`) and ``mu_k | Sigma_k ~
    N(m_n, Sigma_k / kappa_n)``.
    """
    n_chains = kept.n_clusters.shape[0]
    n_draws = draws.size
    K = int(kept.n_clusters[:, draws].max())
    d = Xs.shape[1]
    s, centre = std.scale, std.center
    weights = np.zeros((n_chains, n_draws, K))
    rest = np.empty((n_chains, n_draws))
    means = np.full((n_chains, n_draws, K, d), np.nan)
    covs = np.full((n_chains, n_draws, K, d, d), np.nan)
    for c in range(n_chains):
        for j, t in enumerate(draws):
            k = int(kept.n_clusters[c, t])
            prior = prior_at(c, t)
            labels = np.ascontiguousarray(kept.labels_full[c, t], dtype=np.int64)
            # The sampler numbers clusters over its own (sorted, expanded) rows;
            # kept.labels renumbers them over the caller's rows.  Slot j of the
            # output is the cluster labelled j there.
            slot = np.full(k, -1, dtype=np.int64)
            slot[labels[row_pos]] = kept.labels[c, t, present]
            spare = np.setdiff1d(np.arange(k), slot[slot >= 0])
            slot[slot < 0] = spare  # clusters of repeated copies only
            mult = (
                np.ones(labels.size, dtype=np.int64)
                if kept.mult_full is None
                else np.ascontiguousarray(kept.mult_full[c, t], dtype=np.int64)
            )
            counts, mu, R, _ = cluster_posteriors(
                Xs if fill is None else fill(c, t),
                mult,
                labels,
                k,
                prior.mean,
                prior.scale,
                prior.kappa,
            )
            wt = rng.dirichlet(np.append(counts.astype(float), kept.alphas[c, t]))
            weights[c, j, slot] = wt[:k]
            rest[c, j] = wt[k]
            sigma, B = draw_inverse_wishart(rng, prior.dof + counts, R)
            z = rng.standard_normal((k, d, 1))
            mean = mu + (np.swapaxes(B, 1, 2) @ z)[..., 0] / np.sqrt(prior.kappa + counts)[:, None]
            means[c, j, slot] = mean * s + centre
            covs[c, j, slot] = sigma * s**2
    return {"weights": weights, "weight_unoccupied": rest, "means": means, "covariances": covs}


def allocation_proba(
    labels: np.ndarray,
    point: np.ndarray,
    mult: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    atoms: tuple | None = None,
) -> np.ndarray:
    """Probability of each point-partition cluster for each row, from draws.

    Parameters
    ----------
    labels : (n_draws, n_samples) integer
        Sampled partitions (compact labels per draw).
    point : (n_samples,) integer
        The point partition, clusters ``0 .. K - 1``.
    mult : (n_draws, n_samples) integer, optional
        The copies each row holds in each draw (one when not given).
    weights : (n_samples,), optional
        The copies each row holds in the point partition (``mult``'s total per
        distinct row on one of its rows; one when not given).
    atoms : ``(atom_start, atom_len)``, optional
        Rows that hold the copies of one distinct row: their sums are that
        row's, written on its first row (the others are then meaningless).

    Returns
    -------
    (n_samples, K) float
        ``p_ik`` proportional to ``pi_ik = mean_{j in k} P(c_i = c_j)``, the
        posterior co-clustering of (a copy of) row ``i`` with the copies of
        point cluster ``k`` (Dahl 2006); summed over the rows that hold a
        distinct row's copies, then normalised over ``k``.  Each row sits with
        itself, so ``pi_{i, point_i} > 0``.
    """
    n_draws, n = labels.shape
    K = int(point.max()) + 1
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    sizes = np.bincount(point, weights=w, minlength=K)
    acc = np.zeros((n, K))
    for s in range(n_draws):
        lab = labels[s].astype(np.int64)
        m = int(lab.max()) + 1
        if mult is None:
            # table[c, k]: rows of point cluster k in sampled cluster c
            table = np.bincount(lab * K + point, minlength=m * K).reshape(m, K)
            acc += table[lab]
        else:
            ms = mult[s].astype(np.float64)
            table = np.bincount(lab * K + point, weights=ms, minlength=m * K).reshape(m, K)
            acc += ms[:, None] * table[lab]
    if atoms is not None:
        for start, length in zip(*atoms, strict=True):
            acc[start] = acc[start : start + length].sum(axis=0)
            acc[start + 1 : start + length] = 1.0  # not read (first holder: row_pos)
    acc /= sizes
    return acc / acc.sum(axis=1, keepdims=True)
