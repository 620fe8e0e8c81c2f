"""Initial responsibilities for EM and VB: model-based hierarchical clustering
(mclust's start), weighted k-means++, Lloyd's k-means, random responsibilities
and random data points, and the "auto" strategy that combines them.

Randomness comes from a numpy Generator passed in; the kernels receive only
its draws.
"""

from __future__ import annotations

import threading

import numpy as np

from ._hierarchical import HierarchicalStart, hierarchical_resp, max_hierarchical_samples
from ._kernels import n_tasks, nearest_centre, run_tasks, sq_dist_to_point

INIT_METHODS = ("auto", "hierarchical", "kmeans", "k-means++", "random", "random_from_data")

__all__ = [
    "FirstPartitions",
    "hierarchical_suits",
    "initial_resp",
    "kmeans",
    "kmeans_plusplus",
    "random_rows",
]


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


def random_rows(Xt, w, n_components, rng) -> np.ndarray:
    """``n_components`` distinct points of the data drawn without replacement with
    probability proportional to their total weight, shape (K, D).

    Each draw inverts the cumulative weights (like the first k-means++ seed) and
    then removes every row equal to the drawn point, so a row of integer weight
    m meets the same draws as m repeated rows.
    """
    d, n = Xt.shape
    left = w.astype(np.float64, copy=True)
    centres = np.empty((n_components, d))
    for c in range(n_components):
        cum = np.cumsum(left)
        row = min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), n - 1)
        centres[c] = Xt[:, row]
        left[(Xt == centres[c][:, None]).all(axis=0)] = 0.0
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


#: Seeding schemes the restarts of "auto" draw from, one per restart.  They fail on
#: different data (k-means++ favours outlying rows, random rows favour dense
#: regions), so a mixture of the two needs fewer restarts to reach the best optima
#: than either alone; both give repeated rows and integer weights the same draws.
_AUTO_RESTART = ("k-means++", "random_from_data")


def _fresh(rng: np.random.Generator) -> bool:
    """True when nothing has been drawn from ``rng`` since it was seeded."""
    bit_gen = rng.bit_generator
    seed_seq = getattr(bit_gen, "seed_seq", None)
    if seed_seq is None:  # pragma: no cover - a bit generator without a seed sequence
        return False
    return type(bit_gen)(seed_seq).state == bit_gen.state


def hierarchical_suits(n_samples: int, n_features: int, n_components: int) -> bool:
    """Whether "auto" starts from the hierarchical partition.

    The unconstrained-covariance merge criterion sees a group's shape only once
    it holds more rows than features; the partition is worth having when the
    clustered rows (all of them, or the subsample) average at least
    ``2 * n_features`` per group.  Otherwise (many features, few rows per group)
    "auto" starts from k-means.
    """
    clustered = min(n_samples, max_hierarchical_samples(n_features))
    return n_features == 1 or clustered >= 2 * n_features * n_components


def initial_resp(
    method: str, Xt, w, n_components: int, rng, init_index: int | None = None
) -> np.ndarray:
    """Initial responsibilities (n_samples, n_components) by ``method``.

    Parameters
    ----------
    method : str
        "auto", "hierarchical", "kmeans", "k-means++", "random" or
        "random_from_data" (see ``GaussianMixture``).
    Xt : (n_features, n_samples)
        Standardised data, feature-major.
    w : (n_samples,)
        Frequency weights.
    n_components : int
    rng : numpy Generator
        The fit's only source of randomness.
    init_index : int, optional
        Which of the fit's ``n_init`` initialisations this is; only "auto"
        reads it.  ``None`` infers it from ``rng``: the first initialisation is
        the one that finds the generator fresh (nothing drawn since seeding, as
        at the start of every fit whose ``random_state`` is an int or None).

    Notes
    -----
    "auto" makes the first initialisation deterministic and mclust-like: the
    hierarchical partition (:func:`bayesmix._hierarchical.hierarchical_resp`),
    or k-means when :func:`hierarchical_suits` says the data have too many
    features for it.  It then draws one number from ``rng``, so later
    initialisations see a used generator; each of those uses a seeding scheme
    drawn from ``_AUTO_RESTART``.
    """
    n = Xt.shape[1]
    if method == "auto":
        first = _fresh(rng) if init_index is None else init_index == 0
        if first:
            if hierarchical_suits(n, Xt.shape[0], n_components):
                resp = hierarchical_resp(Xt, w, n_components, rng)
            else:
                resp = _one_hot(kmeans(Xt, w, n_components, rng)[1], n_components)
            rng.random()
            return resp
        method = _AUTO_RESTART[int(rng.integers(len(_AUTO_RESTART)))]
    if method == "hierarchical":
        return hierarchical_resp(Xt, w, n_components, rng)
    if method == "kmeans":
        labels = kmeans(Xt, w, n_components, rng)[1]
    elif method == "k-means++":
        labels = _assign(Xt, w, kmeans_plusplus(Xt, w, n_components, rng))[0]
    elif method == "random_from_data":
        labels = _assign(Xt, w, random_rows(Xt, w, n_components, rng))[0]
    elif method == "random":
        resp = rng.uniform(size=(n, n_components))
        return resp / resp.sum(axis=1, keepdims=True)
    else:  # pragma: no cover - validated before
        raise ValueError(method)
    return _one_hot(labels, n_components)


class FirstPartitions:
    """``initial_resp(method, Xt, w, k, default_rng(seed), init_index=0)`` for
    any ``k``, computed as a model grid should: every ``k`` starts from the same
    fresh generator, so the hierarchical partition (the same subsample for
    every ``k``) is agglomerated once and cut at each ``k``.  :meth:`resp` may
    be called from several threads at once."""

    def __init__(self, method: str, Xt, w, seed: int):
        self.method, self.Xt, self.w, self.seed = method, Xt, w, seed
        self._shared = None
        self._lock = threading.Lock()

    def resp(self, k: int) -> np.ndarray:
        Xt, w = self.Xt, self.w
        rng = np.random.default_rng(self.seed)
        if self.method == "hierarchical" or (
            self.method == "auto" and hierarchical_suits(Xt.shape[1], Xt.shape[0], k)
        ):
            with self._lock:
                if self._shared is None:
                    self._shared = HierarchicalStart(Xt, w, rng)
            return self._shared.resp(k)
        return initial_resp(self.method, Xt, w, k, rng, init_index=0)
