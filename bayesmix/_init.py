"""Initial responsibilities for EM and VB: weighted k-means++, Lloyd's k-means,
random responsibilities and random data points.

Randomness comes from a numpy Generator passed in; the kernels receive only
its draws.
"""

from __future__ import annotations

import numpy as np

from ._kernels import n_tasks, nearest_centre, run_tasks, sq_dist_to_point

__all__ = ["initial_resp", "kmeans", "kmeans_plusplus"]


def kmeans_plusplus(Xt, w, n_components, rng) -> np.ndarray:
    """Greedy weighted k-means++ seeds (Arthur & Vassilvitskii 2007), shape (K, D).

    Each new seed is the best of ``2 + log K`` candidates drawn with
    probability proportional to ``w * D^2``.
    """
    d, n = Xt.shape
    n_trials = 2 + int(np.log(n_components))
    centres = np.empty((n_components, d))
    cum = np.cumsum(w)
    first = min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), n - 1)
    centres[0] = Xt[:, first]
    closest = np.empty(n)
    sq_dist_to_point(Xt, centres[0], closest)
    dist = np.empty(n)
    for c in range(1, n_components):
        cum = np.cumsum(w * closest)
        if cum[-1] <= 0:  # every weighted row already is a seed: duplicate one
            centres[c:] = centres[0]
            break
        draws = np.searchsorted(cum, rng.random(n_trials) * cum[-1], side="right")
        best_pot, best_row, best_dist = np.inf, -1, None
        for row in np.minimum(draws, n - 1):
            sq_dist_to_point(Xt, np.ascontiguousarray(Xt[:, row]), dist)
            cand = np.minimum(closest, dist)
            pot = float(w @ cand)
            if pot < best_pot:
                best_pot, best_row, best_dist = pot, row, cand
        centres[c] = Xt[:, best_row]
        closest = best_dist
    return centres


def _assign(Xt, w, centres):
    n = Xt.shape[1]
    k, d = centres.shape
    nt = n_tasks(n)
    labels = np.empty(n, dtype=np.int64)
    min_dist = np.empty(n)
    sums = np.empty((nt, k, d))
    counts = np.empty((nt, k))
    inertia = np.empty(nt)
    run_tasks(nearest_centre, (Xt, w, centres, labels, min_dist, sums, counts, inertia), nt)
    return labels, min_dist, sums.sum(axis=0), counts.sum(axis=0), float(inertia.sum())


def kmeans(Xt, w, n_components, rng, max_iter: int = 100, tol: float = 1e-4):
    """Weighted Lloyd iterations from k-means++ seeds; returns ``(centres, labels)``.

    Stops when no label changes or the centres move by less than ``tol``
    times the mean per-feature variance.  An emptied cluster takes the row
    farthest from its centre.
    """
    centres = kmeans_plusplus(Xt, w, n_components, rng)
    var = float(((Xt - (Xt @ w / w.sum())[:, None]) ** 2 @ w).sum() / (w.sum() * Xt.shape[0]))
    labels = None
    for _ in range(max_iter):
        new_labels, min_dist, sums, counts, _ = _assign(Xt, w, centres)
        if labels is not None and np.array_equal(new_labels, labels):
            break
        labels = new_labels
        new_centres = centres.copy()
        full = counts > 0
        new_centres[full] = sums[full] / counts[full, None]
        for j in np.flatnonzero(~full):
            far = int(np.argmax(w * min_dist))
            new_centres[j] = Xt[:, far]
            min_dist[far] = 0.0
        shift = float(((new_centres - centres) ** 2).sum())
        centres = new_centres
        if shift <= tol * var:
            labels = _assign(Xt, w, centres)[0]
            break
    return centres, labels


def _one_hot(labels, n_components):
    resp = np.zeros((labels.shape[0], n_components))
    resp[np.arange(labels.shape[0]), labels] = 1.0
    return resp


def initial_resp(method: str, Xt, w, n_components: int, rng) -> np.ndarray:
    """Initial responsibilities (n_samples, n_components) by ``method``."""
    n = Xt.shape[1]
    if method == "kmeans":
        labels = kmeans(Xt, w, n_components, rng)[1]
    elif method == "k-means++":
        labels = _assign(Xt, w, kmeans_plusplus(Xt, w, n_components, rng))[0]
    elif method == "random_from_data":
        rows = rng.choice(n, size=n_components, replace=False, p=w / w.sum())
        labels = _assign(Xt, w, np.ascontiguousarray(Xt[:, rows].T))[0]
    elif method == "random":
        resp = rng.uniform(size=(n, n_components))
        return resp / resp.sum(axis=1, keepdims=True)
    else:  # pragma: no cover - validated before
        raise ValueError(method)
    return _one_hot(labels, n_components)
