"""Posterior summaries of partitions: co-clustering, expected Binder and
variation-of-information losses, and the partition minimising them.

Partitions are integer label vectors; only which rows share a label
matters, so every function here is label-invariant.  Draws of partitions are
an (n_draws, n_samples) integer array.

References
----------
Binder, D. A. (1978).  Bayesian cluster analysis.  Biometrika 65, 31-38.
Meilă, M. (2007).  Comparing clusterings - an information based distance.
J. Multivariate Anal. 98, 873-895.
Wade, S. & Ghahramani, Z. (2018).  Bayesian cluster analysis: point
estimation and credible balls.  Bayesian Analysis 13, 559-626.
Dahl, D. B., Johnson, D. J. & Müller, P. (2022).  Search algorithms and loss
functions for Bayesian clustering.  JCGS 31, 1189-1201 (the SALSO sweep).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "canonical",
    "coclustering",
    "expected_binder",
    "expected_vi",
    "minimise_loss",
    "modal_labels",
    "occupied",
]

_CHUNK = 4_000_000  # entries of the one-hot block multiplied at once


def canonical(labels: np.ndarray) -> np.ndarray:
    """Relabel a partition 0, 1, 2, ... in order of first appearance."""
    labels = np.asarray(labels)
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first, kind="stable"), kind="stable")
    return order[inverse.ravel()].astype(np.int64)


def _dense(draws: np.ndarray) -> tuple[np.ndarray, int]:
    """Labels of each draw mapped to 0..n_labels-1 (shared codes), n_labels."""
    values, codes = np.unique(draws, return_inverse=True)
    return codes.reshape(draws.shape).astype(np.int64), values.size


def coclustering(draws: np.ndarray) -> np.ndarray:
    """Posterior co-clustering matrix ``P[i, j]`` = fraction of draws in which
    rows ``i`` and ``j`` share a label, shape (n_samples, n_samples).

    Computed as one-hot products in blocks of draws (BLAS), so memory stays
    at O(n_samples^2 + block).
    """
    draws = np.asarray(draws)
    n_draws, n_samples = draws.shape
    codes, n_labels = _dense(draws)
    out = np.zeros((n_samples, n_samples))
    step = max(1, _CHUNK // max(1, n_samples * n_labels))
    rows = np.arange(n_samples)
    for lo in range(0, n_draws, step):
        block = codes[lo : lo + step]
        onehot = np.zeros((n_samples, block.shape[0], n_labels))
        for b in range(block.shape[0]):
            onehot[rows, b, block[b]] = 1.0
        flat = onehot.reshape(n_samples, -1)
        out += flat @ flat.T
    out /= n_draws
    return out


def occupied(draws: np.ndarray, n_components: int) -> np.ndarray:
    """``occ[s, k]``: whether draw ``s`` gives label ``k`` at least one row,
    (n_draws, n_components) bool, for draws (n_draws, n_samples) of labels in
    ``0 .. n_components - 1``."""
    occ = np.zeros((draws.shape[0], n_components), dtype=bool)
    np.put_along_axis(occ, draws, True, axis=1)
    return occ


def modal_labels(draws: np.ndarray, n_components: int) -> np.ndarray:
    """Each row's most frequent label over the draws (n_draws, n_samples), the
    smallest label on ties; meaningful for relabelled draws only."""
    votes = np.zeros((draws.shape[1], n_components))
    rows = np.arange(draws.shape[1])
    for row in draws:
        votes[rows, row] += 1.0
    return votes.argmax(axis=1)


def expected_binder(labels: np.ndarray, coclust: np.ndarray) -> float:
    """Posterior expected Binder loss (unit costs) per pair of rows:
    ``sum_{i<j} [1(c_i = c_j)(1 - P_ij) + 1(c_i != c_j) P_ij] / (n (n - 1) / 2)``."""
    labels = np.asarray(labels)
    n = labels.shape[0]
    if n < 2:
        return 0.0
    same = labels[:, None] == labels[None, :]
    total = np.where(same, 1.0 - coclust, coclust).sum() - np.trace(1.0 - coclust)
    return float(total / (n * (n - 1)))


def _xlogx(x):
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0)


def _contingency(labels, codes, n_labels):
    """Counts ``N[s, a, b]`` of rows with candidate label ``a`` and label ``b`` in
    draw ``s``: (n_draws, n_candidate_labels, n_labels)."""
    n_draws, _n_samples = codes.shape
    k = int(labels.max()) + 1
    flat = (np.arange(n_draws)[:, None] * k + labels[None, :]) * n_labels + codes
    counts = np.bincount(flat.ravel(), minlength=n_draws * k * n_labels)
    return counts.reshape(n_draws, k, n_labels).astype(np.float64)


def expected_vi(labels: np.ndarray, draws: np.ndarray) -> float:
    """Posterior expected variation of information (natural log) between the
    partition ``labels`` (n_samples,) and the draws (n_draws, n_samples):
    ``E[H(c) + H(C) - 2 I(c, C)]`` averaged exactly over the draws."""
    codes, n_labels = _dense(np.asarray(draws))
    return _expected_vi_codes(canonical(labels), codes, n_labels)


def _expected_vi_codes(labels, codes, n_labels):
    n_samples = codes.shape[1]
    counts = _contingency(labels, codes, n_labels)
    sizes_c = np.bincount(labels).astype(np.float64)
    sizes_draws = counts.sum(axis=1)  # (S, n_labels)
    value = (
        _xlogx(sizes_c).sum()
        + _xlogx(sizes_draws).sum(axis=1).mean()
        - 2.0 * _xlogx(counts).sum(axis=(1, 2)).mean()
    )
    return float(value / n_samples)


def _sweep_binder(labels, m, max_sweeps):
    """Greedy single-row moves for Binder's loss; ``m = 1 - 2 P`` with zero
    diagonal, so moving row i from a to b changes the loss by
    ``sum_{j in b} m_ij - sum_{j in a, j != i} m_ij``."""
    labels = labels.copy()
    n = labels.shape[0]
    for _ in range(max_sweeps):
        moved = False
        for i in range(n):
            k = int(labels.max()) + 1
            s = np.bincount(labels, weights=m[i], minlength=k)
            a = labels[i]
            gains = np.append(s, 0.0) - s[a]  # last entry: a new cluster of its own
            gains[a] = 0.0
            b = int(np.argmin(gains))
            if gains[b] < -1e-12:
                labels[i] = b
                labels = canonical(labels)
                moved = True
        if not moved:
            break
    return labels


def _sweep_vi(labels, codes, n_labels, max_sweeps):
    """Greedy single-row moves for the exact expected VI over the draws,
    updating the per-draw contingency tables in place."""
    labels = labels.copy()
    n_draws, n = codes.shape
    counts = _contingency(labels, codes, n_labels)
    sizes = np.bincount(labels).astype(np.float64)
    draw_idx = np.arange(n_draws)

    def f(x):
        return _xlogx(x)

    for _ in range(max_sweeps):
        moved = False
        for i in range(n):
            k = sizes.shape[0]
            a = labels[i]
            col = codes[:, i]
            n_sb = counts[draw_idx, :, col]  # (S, k): N_s[b, C_si]
            n_sb = np.concatenate([n_sb, np.zeros((n_draws, 1))], axis=1)
            size_b = np.append(sizes, 0.0)
            # change of sum_a n_a log n_a and of E sum_ab N log N when i moves a -> b
            d_size = f(size_b + 1) - f(size_b) + f(sizes[a] - 1) - f(sizes[a])
            n_sa = counts[draw_idx, a, col]
            d_joint = (f(n_sb + 1) - f(n_sb)).mean(axis=0) + (f(n_sa - 1) - f(n_sa)).mean()
            delta = d_size - 2.0 * d_joint
            delta[a] = 0.0
            b = int(np.argmin(delta))
            if delta[b] < -1e-12:
                if b == k:
                    counts = np.concatenate([counts, np.zeros((n_draws, 1, n_labels))], axis=1)
                    sizes = np.append(sizes, 0.0)
                counts[draw_idx, a, col] -= 1.0
                counts[draw_idx, b, col] += 1.0
                sizes[a] -= 1.0
                sizes[b] += 1.0
                labels[i] = b
                moved = True
                if sizes[a] == 0:  # drop the emptied cluster, keep labels dense
                    keep = np.flatnonzero(sizes > 0)
                    counts = counts[:, keep]
                    sizes = sizes[keep]
                    remap = np.full(k + 1, -1)
                    remap[keep] = np.arange(keep.size)
                    labels = remap[labels]
        if not moved:
            break
    return canonical(labels)


def _merge_split(labels, value, draws, max_splits):
    """The best single merge of two clusters, or split of one cluster along a
    draw's partition of its rows; returns ``(labels, value)`` of the best
    improvement, or the input when nothing improves.  Single-row moves cannot
    split a cluster under the VI loss (a lone row costs more than it gains), so
    the search needs these moves as well."""
    best, best_value = labels, value(labels)
    k = int(labels.max()) + 1
    for a in range(k):
        for b in range(a + 1, k):
            trial = canonical(np.where(labels == b, a, labels))
            v = value(trial)
            if v < best_value - 1e-12:
                best, best_value = trial, v
    step = max(1, draws.shape[0] // max_splits)
    for a in range(k):
        rows = labels == a
        if rows.sum() < 2:
            continue
        seen = set()
        for d in draws[::step]:
            sub = canonical(d[rows])
            key = sub.tobytes()
            if sub.max() == 0 or key in seen:
                continue
            seen.add(key)
            trial = labels.copy()
            trial[rows] = np.where(sub == 0, a, k + sub - 1)
            trial = canonical(trial)
            v = value(trial)
            if v < best_value - 1e-12:
                best, best_value = trial, v
    return best, best_value


def minimise_loss(
    draws: np.ndarray,
    loss: str,
    candidates: np.ndarray | None = None,
    coclust: np.ndarray | None = None,
    max_candidates: int = 100,
    max_sweeps: int = 20,
    max_splits: int = 20,
) -> tuple[np.ndarray, float]:
    """The partition minimising the posterior expected ``loss`` ("binder" or
    "vi"): the best of the candidate partitions (distinct draws, plus any
    given ``candidates``), improved by greedy single-row moves, merges of two
    clusters and splits of one cluster along a draw, until no move helps.

    Parameters
    ----------
    draws : (n_draws, n_samples) int
        Posterior draws of the partition.
    loss : {"binder", "vi"}
    candidates : (n_candidates, n_samples) int, optional
        Extra starting partitions.
    coclust : (n_samples, n_samples), optional
        Co-clustering matrix (computed from ``draws`` when needed and missing).
    max_candidates : int
        At most this many distinct draws (the most frequent) are scored.
    max_sweeps : int
        Sweeps of single-row moves per round.
    max_splits : int
        Draws tried as split proposals for each cluster per round.

    Returns
    -------
    labels : (n_samples,) int, canonical (0, 1, ... by first appearance)
    expected_loss : float
        Binder: per pair of rows; VI: in nats.
    """
    draws = np.asarray(draws)
    pool = np.array([canonical(d) for d in draws])
    uniq, counts = np.unique(pool, axis=0, return_counts=True)
    uniq = uniq[np.argsort(-counts, kind="stable")][:max_candidates]
    if candidates is not None and len(candidates):
        extra = np.array([canonical(c) for c in np.atleast_2d(candidates)])
        uniq = np.unique(np.concatenate([extra, uniq]), axis=0)
    if loss == "binder":
        if coclust is None:
            coclust = coclustering(draws)
        m = 1.0 - 2.0 * coclust
        np.fill_diagonal(m, 0.0)

        def value(c):
            return expected_binder(c, coclust)

        def sweep(c):
            return canonical(_sweep_binder(c, m, max_sweeps))

    else:
        codes, n_labels = _dense(draws)

        def value(c):
            return _expected_vi_codes(c, codes, n_labels)

        def sweep(c):
            return _sweep_vi(c, codes, n_labels, max_sweeps)

    scores = [value(c) for c in uniq]
    best = uniq[int(np.argmin(scores))]
    best_value = value(best)
    for _ in range(100):
        best = sweep(best)
        best_value = value(best)
        trial, trial_value = _merge_split(best, value, pool, max_splits)
        if trial_value >= best_value - 1e-12:
            break
        best, best_value = trial, trial_value
    return best, best_value
