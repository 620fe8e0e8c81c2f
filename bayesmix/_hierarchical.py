"""Model-based agglomerative hierarchical clustering for initialising EM.

This is the initialisation R's mclust uses by default (Banfield & Raftery
1993; Fraley 1998; Scrucca & Raftery 2015): the rows are mapped to mclust's
scaled principal-component coordinates (:func:`svd_scaled`), then merged
bottom-up by the unconstrained-covariance ("VVV") Gaussian classification
criterion (:mod:`bayesmix._kernels._hierarchical`), and the partition into
``n_components`` groups becomes the starting responsibilities.  Unlike k-means
it follows elongated and unequal groups, which is what lets EM reach the
optima mclust reports on real data.  For one feature mclust starts from
equal-weight quantile classes instead (:func:`quantile_labels`), and so does
this module.

Frequency weights are native: equal rows start as one cluster carrying their
total weight, so integer weights give exactly the partition of the repeated
rows; weights are taken in units of their median over the distinct rows, so
multiplying all of them by a constant changes nothing (and unit weights are
mclust's).  Rows are sorted before merging, so their order does not matter;
ties go to the lowest sorted rows (mclust breaks them by row position, which
is why its partition of data with duplicated rows, such as Old Faithful, can
differ from this one).

Small problems are agglomerated in numpy (:mod:`bayesmix._agglomerate`), which
gives the numba kernel's merges bit for bit without compiling it (15-20 CPU
seconds on a fresh install); larger ones by the kernel (:func:`uses_kernel`).

The pairwise merge costs take O(n^2) memory and about O(n^2 p^2) time, so when
the rows hold more than :func:`max_hierarchical_samples` distinct points (2000,
mclust's default ``subset``, up to 16 features) a weighted random subsample of
that size is clustered, and every row then takes the responsibilities of the
Gaussian groups fitted to the subsample (mclust does an M-step on its subset
and an E-step on all rows).

References
----------
Banfield, J. D. & Raftery, A. E. (1993). Model-based Gaussian and non-Gaussian
clustering. Biometrics 49, 803-821.
Fraley, C. (1998). Algorithms for model-based Gaussian hierarchical
clustering. SIAM J. Sci. Comput. 20, 270-281.
Scrucca, L. & Raftery, A. E. (2015). Improved initialisation of model-based
clustering using Gaussian hierarchical partitions. Adv. Data Anal. Classif.
9, 447-460.
"""

from __future__ import annotations

import hashlib
import threading

import numpy as np

from . import _components
from ._agglomerate import agglomerate_numpy
from ._kernels import log_prob_pass
from ._kernels._hierarchical import agglomerate

__all__ = [
    "Agglomeration",
    "HierarchicalStart",
    "hierarchical_labels",
    "hierarchical_resp",
    "max_hierarchical_samples",
    "quantile_labels",
    "svd_scaled",
    "uses_kernel",
]

#: Rows clustered without subsampling (mclust's default ``subset`` size).
MAX_SAMPLES = 2000


def max_hierarchical_samples(n_features: int) -> int:
    """Largest number of distinct rows clustered without subsampling.

    ``MAX_SAMPLES`` up to 16 features, then shrinking like ``p^-1.5`` (every
    merge cost of a group with more rows than features needs a p x p
    determinant) with a floor of 100, which keeps the clustering under about
    a second (0.35 s for 2000 rows of 2 or 8 features here).
    """
    if n_features <= 16:
        return MAX_SAMPLES
    return max(100, int(MAX_SAMPLES * (16.0 / n_features) ** 1.5))


#: Seconds the numpy agglomeration may take before the kernel is used instead:
#: about what loading the compiled kernel from numba's cache costs a fresh process.
NUMPY_SECONDS = 0.3


def numpy_seconds(n_rows: int, n_features: int) -> float:
    """Rough seconds of :func:`bayesmix._agglomerate.agglomerate_numpy` on
    ``n_rows`` distinct rows of ``n_features`` features (measured on 2 cores:
    0.3 ms per merge plus O(p^2) numpy calls, plus the O(n^2) first matrix)."""
    return n_rows * (3e-4 + 8e-6 * n_features * n_features) + 3e-7 * n_rows * n_rows


def uses_kernel(n_rows: int | None, n_features: int) -> bool:
    """Whether agglomerating ``n_rows`` distinct rows (None: unknown, as many
    as :func:`max_hierarchical_samples`) of ``n_features`` features runs the
    numba kernel rather than numpy: when numpy would take longer than
    ``NUMPY_SECONDS``, or when this process already holds the compiled
    kernel.  Both give the same merges, bit for bit."""
    cap = max_hierarchical_samples(n_features)
    n_rows = cap if n_rows is None else min(int(n_rows), cap)
    if getattr(agglomerate, "signatures", None):  # (a test may wrap it in a function)
        return True
    return numpy_seconds(n_rows, n_features) > NUMPY_SECONDS


def svd_scaled(Y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """mclust's "SVD" transformation of the rows ``Y`` (n, p) with weights ``w``.

    Centre, scale every column to unit (weighted, ``N - 1``) standard
    deviation, rotate to the principal axes and divide each axis by the
    square root of its singular value: the spread along an axis becomes
    proportional to the square root of its standard deviation, which tempers
    very unequal axes without whitening them away.  Constant columns and
    null directions are dropped.  Returns (n, q) with q <= p.
    """
    total = w.sum()
    centred = Y - (w @ Y) / total
    var = (w @ (centred * centred)) / (total - 1.0 if total > 2.0 else total)
    keep = var > 1e-24 * var.max()
    Z = centred[:, keep] / np.sqrt(var[keep])
    evals, evecs = np.linalg.eigh((Z * w[:, None]).T @ Z)
    keep = evals > 1e-12 * evals.max()
    return (Z @ evecs[:, keep]) / evals[keep] ** 0.25


class Agglomeration:
    """The whole model-based agglomeration of the rows of ``Y`` (n, p) with
    positive weights ``w`` (n,), ready to be cut into any number of groups.

    Equal rows are merged first; the distinct rows are transformed by
    :func:`svd_scaled` and agglomerated with mclust's ``alpha`` (the average
    per-axis variance of the transformed rows) and ``beta`` (1 by default).
    The greedy merge order does not depend on where one stops, so one
    agglomeration serves every K, as mclust's ``hc`` does for a grid over G.
    """

    def __init__(self, Y: np.ndarray, w: np.ndarray, *, beta: float = 1.0):
        distinct, inverse = np.unique(Y, axis=0, return_inverse=True)
        self.n_rows = Y.shape[0]
        self.n_distinct = distinct.shape[0]
        self._inverse = inverse.reshape(-1)
        self._distinct = distinct
        mass = np.bincount(self._inverse, weights=w, minlength=self.n_distinct)
        self._mass = mass / np.median(mass)  # weights in units of a typical row: scale-free
        self._beta = float(beta)
        self._merges = None
        self._lock = threading.Lock()

    def _merge_sequence(self) -> np.ndarray:
        with self._lock:
            return self._merges_locked()

    def _merges_locked(self) -> np.ndarray:
        if self._merges is None:
            Z = np.ascontiguousarray(svd_scaled(self._distinct, self._mass))
            mass = self._mass
            # mclust's alpha: the average per-axis variance of the transformed data.
            centred = Z - (mass @ Z) / mass.sum()
            alpha = float((mass @ (centred * centred)).sum() / (mass.sum() * Z.shape[1]))
            alpha = max(alpha, np.finfo(float).eps)
            self._merges = _merge_sequence(Z, mass, alpha, self._beta)
        return self._merges

    def labels(self, n_components: int) -> np.ndarray:
        """Labels (n,) in ``0 .. n_components - 1``, numbered by the smallest
        (lexicographically sorted) row of each group."""
        n = self.n_distinct
        if n < n_components:
            raise ValueError(
                f"Y has only {n} distinct rows for n_components={n_components}; lower n_components."
            )
        if n == n_components:
            return self._inverse.astype(np.int64)
        if n_components == 1:
            return np.zeros(self.n_rows, dtype=np.int64)
        # replay the first n - K merges of the full agglomeration
        root = np.arange(n)
        for i, j in self._merge_sequence()[: n - n_components, :2].astype(np.int64):
            root[j] = i
        while True:
            nxt = root[root]
            if np.array_equal(nxt, root):
                break
            root = nxt
        _, group = np.unique(root, return_inverse=True)
        return group.reshape(-1)[self._inverse].astype(np.int64)


def hierarchical_labels(
    Y: np.ndarray, w: np.ndarray, n_components: int, *, beta: float = 1.0
) -> np.ndarray:
    """Cluster the rows of ``Y`` (n, p) with positive weights ``w`` (n,) into
    ``n_components`` groups by model-based agglomeration (:class:`Agglomeration`).

    Returns labels (n,) in ``0 .. n_components - 1``, numbered by the smallest
    (lexicographically sorted) row of each group, so the result does not depend
    on the order of the rows.  Raises ``ValueError`` when there are fewer
    distinct rows than groups.
    """
    return Agglomeration(Y, w, beta=beta).labels(n_components)


_CACHE: dict[bytes, np.ndarray] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 8


def _merge_sequence(Z, mass, alpha: float, beta: float) -> np.ndarray:
    """The whole agglomeration of ``Z`` down to one cluster, (n - 1, 3) merges.

    The sequence is cached (keyed by a digest of the inputs), so that separate
    fits of the same data over K (a user's own loop) cluster once too.
    """
    h = hashlib.blake2b(digest_size=20)
    for arr in (Z, mass, np.array([alpha, beta])):
        h.update(np.ascontiguousarray(arr, dtype=np.float64).tobytes())
    h.update(np.asarray(Z.shape, dtype=np.int64).tobytes())
    key = h.digest()
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        return hit
    n = Z.shape[0]
    parent = np.empty(n, dtype=np.int64)
    merges = np.empty((n - 1, 3))
    run = agglomerate if uses_kernel(n, Z.shape[1]) else agglomerate_numpy
    run(Z, mass, alpha, beta, 1, parent, merges)
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = merges
    return merges


def warm_up(n_features: int = 2) -> None:
    """Compile the agglomeration kernel (run by :mod:`bayesmix._compile` in a
    worker process on a fresh install); one kernel serves every number of
    features above 1."""
    del n_features
    Z = np.random.default_rng(0).normal(size=(30, 2))
    agglomerate(Z, np.ones(30), 1.0, 1.0, 1, np.empty(30, dtype=np.int64), np.empty((29, 3)))


def _n_distinct_rows(Y: np.ndarray) -> int:
    """Distinct rows of ``Y`` (n, p), compared as raw bytes after mapping -0.0 to 0.0."""
    Y = np.ascontiguousarray(Y + 0.0)
    return int(np.unique(Y.view(np.dtype((np.void, Y.dtype.itemsize * Y.shape[1])))).size)


class HierarchicalStart:
    """The hierarchical partition of the feature-major data ``Xt``
    (n_features, n_samples), prepared once and cut at any number of components.

    With one feature the partition is mclust's equal-weight quantile classes
    (:func:`quantile_labels`) of all rows.  Otherwise the rows with positive
    weight are clustered (:class:`Agglomeration`) when they hold at most
    ``max_samples`` distinct rows (default :func:`max_hierarchical_samples`);
    beyond that, ``max_samples`` rows drawn from ``rng`` with probability
    proportional to their weight (with replacement, the repeat counts becoming
    weights) are clustered instead.  ``rng`` is used here, once, and only to
    draw that subsample, so below the cap the result is deterministic and
    :meth:`resp` draws nothing: a model grid over K builds one of these.
    """

    def __init__(self, Xt, w, rng, max_samples: int | None = None):
        n_features, n_samples = Xt.shape
        self._Xt, self._w = Xt, w
        self._positive = positive = np.flatnonzero(w > 0)
        self._one_feature = n_features == 1
        self._heaviest = None
        self._subsample_distinct = None
        if self._one_feature:
            # mclust's start in one dimension; sorting is cheap, so every row takes part
            return
        if max_samples is None:
            max_samples = max_hierarchical_samples(n_features)
        self._max_samples = max_samples
        # repeated rows cost nothing once merged: count the distinct rows first
        if positive.size <= max_samples or (
            positive.size <= 50 * max_samples and _n_distinct_rows(Xt[:, positive].T) <= max_samples
        ):
            rows, mass = positive, w[positive]
        else:
            # Weighted draws with replacement; the repeat counts are frequency weights.
            cum = np.cumsum(w)
            draws = np.searchsorted(cum, rng.random(max_samples) * cum[-1], side="right")
            rows, counts = np.unique(np.minimum(draws, n_samples - 1), return_counts=True)
            mass = counts.astype(np.float64)
            self._subsample_distinct = _n_distinct_rows(Xt[:, rows].T)
        self._rows, self._mass = rows, mass
        self._tree = None
        self._lock = threading.Lock()

    def _clustered(self, n_components: int):
        """Rows, their masses and the agglomeration that makes ``n_components`` groups."""
        with self._lock:
            return self._clustered_locked(n_components)

    def _clustered_locked(self, n_components: int):
        if self._subsample_distinct is not None and self._subsample_distinct < n_components:
            # a few points hold nearly all the weight: cluster the heaviest points
            if self._heaviest is None:
                Xt, w, positive = self._Xt, self._w, self._positive
                points, first, inverse = np.unique(
                    Xt[:, positive].T, axis=0, return_index=True, return_inverse=True
                )
                total = np.bincount(inverse.reshape(-1), weights=w[positive], minlength=len(points))
                keep = np.sort(np.argsort(-total, kind="stable")[: self._max_samples])
                rows, mass = positive[first[keep]], total[keep]
                Y = np.ascontiguousarray(Xt[:, rows].T)
                self._heaviest = (rows, mass, Agglomeration(Y, mass))
            return self._heaviest
        if self._tree is None:
            Y = np.ascontiguousarray(self._Xt[:, self._rows].T)
            self._tree = Agglomeration(Y, self._mass)
        return self._rows, self._mass, self._tree

    def resp(self, n_components: int) -> np.ndarray:
        """Initial responsibilities (n_samples, n_components).

        Rows in the clustered set get one-hot responsibilities; the others
        (zero-weight rows, the rows left out of a subsample) get the
        responsibilities of the groups' Gaussians.
        """
        Xt, w, positive = self._Xt, self._w, self._positive
        if self._one_feature:
            labels = quantile_labels(Xt[0, positive], w[positive], n_components)
            return _responsibilities(Xt, positive, w[positive], labels, n_components)
        rows, mass, tree = self._clustered(n_components)
        return _responsibilities(Xt, rows, mass, tree.labels(n_components), n_components)


def hierarchical_resp(Xt, w, n_components: int, rng, max_samples: int | None = None):
    """Initial responsibilities (n_samples, n_components) from the hierarchical
    partition of the feature-major data ``Xt`` (n_features, n_samples): see
    :class:`HierarchicalStart`, of which this is one cut."""
    return HierarchicalStart(Xt, w, rng, max_samples).resp(n_components)


def _responsibilities(Xt, rows, mass, labels, n_components):
    """One-hot ``labels`` on ``rows``; every other row gets the responsibilities
    of the groups' Gaussians (weights ``mass``), in (n_samples, n_components)."""
    n_samples = Xt.shape[1]
    resp = np.zeros((n_samples, n_components))
    if rows.size < n_samples:
        Y = np.ascontiguousarray(Xt[:, rows].T)
        comps = _cluster_gaussians(Y, mass, labels, n_components)
        log_prob_pass(Xt, comps.means, comps.prec, comps.log_const, resp=resp)
        resp[rows] = 0.0
    resp[rows, labels] = 1.0
    return resp


def _cluster_gaussians(Y, mass, labels, n_components) -> _components.Components:
    """Kernel arrays of the groups' Gaussians, each covariance shrunk towards
    the pooled one with ``n_features + 1`` pseudo-rows so small groups stay
    well conditioned."""
    n_features = Y.shape[1]
    counts = np.bincount(labels, weights=mass, minlength=n_components)
    means = np.zeros((n_components, n_features))
    np.add.at(means, labels, Y * mass[:, None])
    means /= counts[:, None]
    diff = Y - means[labels]
    scatter = np.zeros((n_components, n_features, n_features))
    np.add.at(scatter, labels, diff[:, :, None] * diff[:, None, :] * mass[:, None, None])
    pooled = scatter.sum(axis=0) / counts.sum()
    tr = np.trace(pooled) / n_features
    pooled += (1e-6 * tr if tr > 0 else 1e-6) * np.eye(n_features)
    prior = n_features + 1.0
    covs = (scatter + prior * pooled) / (counts + prior)[:, None, None]
    return _components.from_covariances(counts / counts.sum(), means, covs)


def quantile_labels(x: np.ndarray, w: np.ndarray, n_components: int) -> np.ndarray:
    """Equal-weight classes of one feature: mclust's start for one-dimensional data.

    The breakpoints are the (type 7, Hyndman & Fan 1996) quantiles at
    ``0, 1/K, ..., 1`` of the sample in which row ``i`` appears ``w_i``
    times, so integer weights give the classes of the repeated rows; class
    ``j`` holds ``q_j <= x < q_{j+1}``.  Tied breakpoints are resolved by
    using finer quantile grids and dropping the breakpoints that close the
    narrowest classes.  Returns labels (n,) in ``0 .. K - 1``, ordered by value.
    """
    values, inverse = np.unique(x, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.bincount(inverse, weights=w, minlength=values.size)
    counts /= np.median(counts)
    if values.size <= n_components:
        return inverse.astype(np.int64)
    cum = np.cumsum(counts)
    total = cum[-1]

    def quantiles(probs):
        # position h in the expanded sorted sample, interpolated as R's type 7
        h = (total - 1.0) * probs if total > 1.0 else np.zeros_like(probs)
        lo = np.floor(h)
        at = np.minimum(np.searchsorted(cum, lo, side="right"), values.size - 1)
        nxt = np.minimum(np.searchsorted(cum, lo + 1.0, side="right"), values.size - 1)
        return values[at] + (h - lo) * (values[nxt] - values[at])

    n_grid = n_components + 1
    breaks = np.unique(quantiles(np.linspace(0.0, 1.0, n_grid)))
    while breaks.size < n_components + 1 and n_grid < 20 * (n_components + 1):
        n_grid += 1
        breaks = np.unique(quantiles(np.linspace(0.0, 1.0, n_grid)))
    while breaks.size > n_components + 1:
        gaps = np.diff(breaks)
        g = int(np.argmin(gaps))
        breaks = np.delete(breaks, g + 1 if g + 1 < breaks.size - 1 else g)
    labels = np.searchsorted(breaks[1:-1], values, side="right")
    if breaks.size < n_components + 1 or np.unique(labels).size < n_components:
        # a few values hold nearly all the weight: equal numbers of distinct values
        labels = np.minimum(
            (np.arange(values.size) * n_components) // values.size, n_components - 1
        )
    return labels[inverse].astype(np.int64)
