"""EM on Dask arrays: the in-memory EM with its passes mapped over row chunks.

:class:`~bayesmix.GaussianMixture` hands a ``dask.array.Array`` (or a
``sample_weight`` given as one) to :func:`prepare`, which returns a
:class:`ChunkedData`.  :mod:`bayesmix._em_core` then runs exactly the EM it
runs in memory (the same start, M-step, stopping rule, jitter and re-seeding
policies, and messages) and reads the rows only through ``ChunkedData``:

* one reduction over the chunks standardises (weighted mean, variances and
  range, combined chunk by chunk with Chan, Golub & LeVeque's update), checks
  the values and draws the sample the start is computed on;
* each E-step maps :meth:`bayesmix._kernels.MixtureStats.e_step` over the
  chunks' standardised rows and sums the small arrays it returns (counts,
  first and second moments, log-likelihood, ICL term) in a binary tree: the
  data never sit in one process;
* re-seeding an empty component asks each chunk for its worst-explained rows.

Missing values (NaN, EM only: ``prepare(..., allow_missing=True)``) take the
in-memory missing-value EM, chunk by chunk.  The reduction's moments are per
feature over the observed cells (each feature's own total weight in the
update), giving the in-memory :class:`~bayesmix._data.Standardiser`; infinity,
a row with every feature missing and a column without an observed value are
refused with the in-memory messages.  The sample keeps its rows' NaN (the
starts see them mean-filled, as in memory).  Each E-step groups a chunk's rows
by pattern and returns :func:`bayesmix._missing.e_step`'s statistics (a chunk
without holes takes the complete-data pass); re-seeding judges rows by their
observed features' density per feature and returns them completed
(:func:`bayesmix._missing.expected_rows`).  Predictions score each block with
the model's in-memory method (:func:`bayesmix._missing.log_prob` for EM).
Without ``allow_missing`` (VB) NaN is refused.

The start.  ``init_params`` runs on a uniform sample of ``SAMPLE_ROWS`` rows of
positive weight (all of them when there are fewer), carrying their weights:
each row draws a uniform key from a generator seeded by a number drawn from
``random_state`` and by its chunk's position, and the rows with the smallest
keys are kept.  The sample, hence the fit, is the same for the same
``random_state`` and the same chunking (not for another chunking).  The
sample's seed is drawn from a copy of the fit's generator, so the start draws
what it draws in memory: when the sample holds every row, the fit is the
in-memory fit with the same ``random_state``, for any chunking (with missing
values too).

Files larger than memory: :func:`from_npy` reads a ``.npy`` file chunk by
chunk; ``dask.array.from_zarr`` reads zarr stores.

Predictions (and EM's ``impute(X)``) on a Dask array are lazy Dask arrays,
one block per row chunk.  Dask is imported only when such an input arrives.

References: Chan, Golub & LeVeque (1983) for combining variances;
Dempster, Laird & Rubin (1977).
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import numpy as np

from . import _missing
from ._dask_npy import from_npy  # the reader lives apart; re-exported here
from ._data import Data, Patterns, Standardiser, check_observed_columns, check_scale_range
from ._kernels import MixtureStats, log_prob_pass, serial_kernels
from ._validation import (
    as_feature_major,
    check_fitted,
    count_distinct_rows,
    empty_rows_error,
    infinity_error,
    row_keys,
)
from .covariance import get_structure

__all__ = [
    "SAMPLE_ROWS",
    "ChunkedData",
    "criteria_sums",
    "from_npy",
    "impute",
    "is_dask",
    "log_prob",
    "prepare",
    "refuse",
    "score",
]

#: Rows of positive weight the initialisation sees (the hierarchical start
#: clusters at most 2000 of them and then gives every sampled row its groups).
SAMPLE_ROWS = 10_000

_CURE = (
    "fit on a sample that fits in memory instead, e.g. X[:100_000].compute() or "
    "X[mask].compute(), or use GaussianMixture, which accepts Dask arrays"
)


def is_dask(obj) -> bool:
    """Whether ``obj`` is a Dask array (by its type's module: dask is not imported)."""
    return type(obj).__module__.startswith("dask.array")


def refuse(X, what: str, cure: str = _CURE) -> None:
    """TypeError for an estimator or function that does not take Dask arrays yet."""
    if is_dask(X):
        raise TypeError(f"{what} does not accept Dask arrays yet; {cure}.")


# ------------------------------------------------------------------ checking
def _check_dask_X(X, n_features: int | None = None):
    """X as a Dask array with one chunk across the columns; ValueError / TypeError
    for what can be seen without computing."""
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-D Dask array X of shape (n_samples, n_features), got {X.ndim} "
            "dimension(s); reshape it, e.g. X.reshape(-1, 1) for a single feature."
        )
    if X.dtype.kind not in "biuf":
        raise TypeError(
            f"X must contain real numbers, got a Dask array of dtype {X.dtype}; convert it "
            "with X.astype(float)."
        )
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError("X has unknown chunk sizes (rows); call X.compute_chunk_sizes() first.")
    if X.shape[1] == 0:
        raise ValueError("X has 0 features; pass at least one column.")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but the model is expecting {n_features} "
            "features as input; pass data with the columns used in fit."
        )
    if len(X.chunks[1]) > 1:  # every chunk holds whole rows
        X = X.rechunk({1: -1})
    return X


def _as_dask_pair(X, sample_weight, allow_missing: bool = False):
    """``(X, w)`` as Dask arrays with the same row chunks; ``w`` None when no
    weights were given (``allow_missing``: NaN in an in-memory ``X`` is a
    missing value)."""
    import dask.array as da

    if not is_dask(X):  # X in memory, weights in chunks: chunk X like them
        from ._validation import check_X

        X = check_X(X, min_samples=2, allow_nan=allow_missing)[0]
        X = da.from_array(X, chunks=(sample_weight.chunks[0], -1))
    X = _check_dask_X(X)
    if X.shape[0] < 2:
        raise ValueError(f"X has {X.shape[0]} row(s), but at least 2 are needed; pass more data.")
    if sample_weight is None:
        return X, None
    if not is_dask(sample_weight):
        from ._validation import check_sample_weight

        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        return X, da.from_array(sample_weight, chunks=(X.chunks[0],))
    w = sample_weight
    if w.ndim != 1 or w.shape[0] != X.shape[0]:
        raise ValueError(
            f"sample_weight must have shape (n_samples,) = ({X.shape[0]},), got {w.shape}; "
            "pass one weight per row of X."
        )
    if w.dtype.kind not in "biuf":
        raise TypeError(f"sample_weight must contain real numbers, got dtype {w.dtype}.")
    if w.chunks[0] != X.chunks[0]:
        w = w.rechunk((X.chunks[0],))
    return X, w


def _blocks(X, w):
    """The row chunks of ``X`` and ``w`` as lists of dask delayed objects."""
    xs = list(X.to_delayed().ravel())
    ws = [None] * len(xs) if w is None else list(w.to_delayed().ravel())
    return xs, ws


def _tree(parts, combine):
    """Pairwise (binary-tree) reduction of delayed parts, left before right."""
    while len(parts) > 1:
        parts = [
            combine(parts[i], parts[i + 1]) if i + 1 < len(parts) else parts[i]
            for i in range(0, len(parts), 2)
        ]
    return parts[0]


def _delayed(func):
    import dask

    return dask.delayed(func, pure=True)


def _holding_client(X):
    """The distributed client whose workers hold every chunk of ``X`` (a
    persisted array), or None (distributed is not imported to find out)."""
    import sys

    if "distributed" not in sys.modules:
        return None
    from dask.core import flatten
    from distributed import futures_of

    futures = futures_of(X)
    if not futures:
        return None
    held = {f.key for f in futures}
    if not all(key in held for key in flatten(X.__dask_keys__())):
        return None
    return futures[0].client


def _compute(obj):
    import dask

    return dask.compute(obj)[0]


# ----------------------------------------------------- chunk functions (pure)
def _weights(x, w):
    return np.ones(x.shape[0]) if w is None else np.asarray(w, dtype=np.float64)


def _smallest(keys, *arrays, n: int):
    """The ``n`` entries with the smallest finite keys (stable: ties keep their
    order); ``arrays`` are indexed along their last axis."""
    keep = np.argsort(keys, kind="stable")[:n]
    keep = keep[np.isfinite(keys[keep])]
    return (keys[keep], *(a[..., keep] for a in arrays))


def _merge_smallest(a, b, n: int):
    keys = np.concatenate([a[0], b[0]])
    arrays = [np.concatenate([x, y], axis=-1) for x, y in zip(a[1:], b[1:], strict=True)]
    return _smallest(keys, *arrays, n=n)


class _Reduced(NamedTuple):
    """What :func:`prepare`'s reduction keeps of a chunk, or of several combined."""

    bad_x: int  # non-finite cells (infinite ones only, when NaN is a missing value)
    first_inf: tuple | None  # (row, column) of the first infinite cell
    empty_rows: tuple  # (the first ten rows with every feature missing, how many)
    n_missing: int  # missing cells in the rows of positive weight
    bad_w: int
    n_pos: int
    moments: tuple  # (total, mass, mean, sq, lo, hi), see _chunk_moments
    sample: tuple


def _chunk_moments(x, w, seed: int, index: int, offset: int, n_sample: int, allow_missing: bool):
    """Checks, moments and sample candidates of one chunk whose first row is
    row ``offset`` of the data.

    The moments of the rows of positive weight are per feature, over the
    observed cells: ``(total weight, observed weight (D,), mean (D,), sum of
    squared deviations (D,), min (D,), max (D,))``; without missing cells every
    feature's observed weight is the total."""
    x = np.asarray(x, dtype=np.float64)
    w = _weights(x, w)
    d = x.shape[1]
    finite = np.isfinite(x)
    missing = np.isnan(x) if allow_missing else np.zeros_like(finite)
    bad = ~(finite | missing)
    bad_x = int(np.count_nonzero(bad))
    first_inf = None
    if bad_x and allow_missing:
        row, col = map(int, np.argwhere(bad)[0])
        first_inf = (row + offset, col)
    empty = np.flatnonzero(missing.all(axis=1)) if allow_missing else np.zeros(0, int)
    bad_w = int(w.size - np.count_nonzero(np.isfinite(w) & (w >= 0)))
    pos = w > 0
    moments = _empty_moments(d)
    n_missing = 0
    if not (bad_x or bad_w or empty.size) and pos.any():
        xp, wp = x[pos], w[pos]
        total = float(wp.sum())
        observed = ~missing[pos]
        n_missing = int(observed.size - np.count_nonzero(observed))
        if not n_missing:
            mean = wp @ xp / total
            dev = xp - mean
            moments = (total, np.full(d, total), mean, wp @ (dev * dev), xp.min(0), xp.max(0))
        else:  # each feature over its observed cells (Standardiser._init_missing)
            mass = wp @ observed
            mean = np.divide(wp @ np.where(observed, xp, 0.0), mass, np.zeros(d), where=mass > 0)
            dev = np.where(observed, xp - mean, 0.0)
            lo = np.where(observed, xp, np.inf).min(0)
            hi = np.where(observed, xp, -np.inf).max(0)
            moments = (total, mass, mean, wp @ (dev * dev), lo, hi)
    keys = np.random.default_rng([seed, index]).random(x.shape[0])
    keys[~pos] = np.inf
    sample = _smallest(keys, x.T, w, n=n_sample)
    empty_rows = ((empty[:10] + offset).tolist(), int(empty.size))
    n_pos = int(np.count_nonzero(pos))
    return _Reduced(bad_x, first_inf, empty_rows, n_missing, bad_w, n_pos, moments, sample)


def _empty_moments(d):
    zero = np.zeros(d)
    return (0.0, zero, zero, zero, np.full(d, np.inf), np.full(d, -np.inf))


def _combine_moments(a, b, n_sample: int):
    """Two chunks' :func:`_chunk_moments` combined, per feature by Chan, Golub
    & LeVeque (1983); ``a`` holds the earlier rows."""
    (ta, na, ma, qa, lo_a, hi_a), (tb, nb, mb, qb, lo_b, hi_b) = a.moments, b.moments
    both = (na > 0) & (nb > 0)
    mass = na + nb
    safe = np.where(both, mass, 1.0)
    delta = mb - ma
    moments = (
        ta + tb,
        mass,
        np.where(both, ma + delta * (nb / safe), np.where(nb > 0, mb, ma)),
        np.where(both, qa + qb + delta * delta * (na * nb / safe), qa + qb),
        np.minimum(lo_a, lo_b),
        np.maximum(hi_a, hi_b),
    )
    shown = (a.empty_rows[0] + b.empty_rows[0])[:10]
    return _Reduced(
        a.bad_x + b.bad_x,
        a.first_inf if a.first_inf is not None else b.first_inf,
        (shown, a.empty_rows[1] + b.empty_rows[1]),
        a.n_missing + b.n_missing,
        a.bad_w + b.bad_w,
        a.n_pos + b.n_pos,
        moments,
        _merge_smallest(a.sample, b.sample, n_sample),
    )


def _chunk_standardised(x, w, center, scale):
    """One chunk's rows of positive weight, standardised and feature-major:
    ``(Xt (n_features, m), w (m,))`` (in memory, rows of zero weight are
    dropped too)."""
    x = np.asarray(x, dtype=np.float64)
    w = _weights(x, w)
    if not (w > 0).all():
        x, w = x[w > 0], w[w > 0]
    return as_feature_major(x, center, scale), w


def _chunk_part(x, w, center, scale, holes: bool):
    """:func:`_chunk_standardised` and ``patterns``, the rows grouped by
    missingness (:class:`~bayesmix._data.Patterns`) when the data have
    ``holes`` and this chunk has some, else None: ``(Xt, w, patterns)``."""
    Xt, w = _chunk_standardised(x, w, center, scale)
    return Xt, w, Patterns.of(Xt.T) if holes else None


def _pair_stats(part, means, prec, log_const, diagonal, missing):
    """Weighted sufficient statistics of one standardised chunk ``(Xt, w,
    patterns)`` at the given components: ``(nk, s1, s2, [log-likelihood, ICL
    term])``.

    ``missing`` is ``(covariance structure's name, Params, log scale)`` for the
    missing-value E-step of :func:`bayesmix._missing.e_step` on a chunk with
    missing cells; None takes the complete-data pass with missing cells at 0,
    their feature's observed mean (the starts' view, ``Data.filled``)."""
    Xt, w, patterns = part
    k, d = means.shape
    if Xt.shape[1] == 0:
        p = 1 if diagonal else d
        return (np.zeros(k), np.zeros((k, d)), np.zeros((k, p, d)), np.zeros(2))
    with serial_kernels():  # Dask already runs one chunk per thread or worker
        if patterns is not None and missing is not None:
            name, params, log_scale = missing
            st = _missing.e_step(get_structure(name), Xt, w, params, patterns, log_scale)
        else:
            if patterns is not None:
                Xt = np.where(np.isnan(Xt), 0.0, Xt)
            st = MixtureStats(Xt.shape[1], k, d, diagonal)
            st.e_step(Xt, w, means, prec, log_const)
    return (st.nk, st.s1, st.s2, np.array([st.log_likelihood, st.icl_term]))


def _chunk_stats(x, w, center, scale, holes, means, prec, log_const, diagonal, missing):
    """Weighted sufficient statistics of one chunk at the given components."""
    part = _chunk_part(x, w, center, scale, holes)
    return _pair_stats(part, means, prec, log_const, diagonal, missing)


def _add(a, b):
    return tuple(x + y for x, y in zip(a, b, strict=True))


def _chunk_worst(x, w, center, scale, holes, means, prec, log_const, n, missing):
    """The ``n`` worst-explained rows of positive weight of one chunk:
    ``(row log-density, standardised rows (D, n), weights)``.  When the data
    have ``holes`` (``missing`` as in :func:`_pair_stats`), as
    ``bayesmix._em_core._worst_rows`` judges them in memory: every row by its
    observed features' log-density per observed feature, missing cells returned
    at their conditional expectation."""
    x = np.asarray(x, dtype=np.float64)
    w = _weights(x, w)
    Xt = as_feature_major(x, center, scale)
    patterns = Patterns.of(x) if holes else None
    with serial_kernels():
        if patterns is None:
            row_lse = np.empty(x.shape[0])
            log_prob_pass(Xt, means, prec, log_const, row_lse=row_lse)
            if holes:
                row_lse /= x.shape[1]
        else:
            name, params, _ = missing
            row_lse, _, Xt = _missing.expected_rows(get_structure(name), params, Xt, patterns)
            row_lse = row_lse / patterns.n_observed
    row_lse[w <= 0] = np.inf
    return _smallest(row_lse, Xt, w, n=n)


def _chunk_distinct(x, w, at_least):
    """Up to ``at_least`` distinct rows of positive weight of one chunk, as
    :func:`~bayesmix._validation.row_keys` (NaN cells in the same places match)."""
    x = np.asarray(x, dtype=np.float64)[_weights(x, w) > 0]
    return np.unique(row_keys(x))[:at_least]


def _union_distinct(a, b, at_least):
    return np.unique(np.concatenate([a, b]), axis=0)[:at_least]


# --------------------------------------------------------------- the source
class _Stats:
    """What :func:`bayesmix._em_core.step` reads of an E-step (see MixtureStats)."""

    def __init__(self, parts):
        self.nk, self.s1, self.s2, ll = parts
        self.log_likelihood, self.icl_term = float(ll[0]), float(ll[1])


class ChunkedData:
    """Training data held in Dask chunks, seen by :mod:`bayesmix._em_core` as it
    sees :class:`~bayesmix._data.Data` (see :func:`bayesmix._em_core.sizes`).

    Attributes
    ----------
    X, w : dask arrays (n_samples, n_features), (n_samples,) or None
    std : Standardiser
    variances : (n_features,)
        Weighted per-feature variances in standardised units.
    n_samples : int
        Rows of positive weight.
    n_features : int
    total : float
        Total weight.
    sample : Data
        The rows the initialisations cluster, in the same standardised units.
    n_distinct : int
        Distinct rows of positive weight, counted up to the ``at_least`` of
        :func:`prepare`.
    holes : bool
        Whether some row of positive weight has a missing (NaN) cell: the
        E-steps then take :mod:`bayesmix._missing`'s, chunk by chunk.
    """

    names = None

    def __init__(self, X, w, std, var_data, n_samples, total, sample, n_distinct, holes=False):
        self.X, self.w, self.std = X, w, std
        self._var_data = var_data
        self.variances = var_data / std.scale**2
        self.n_samples, self.n_features, self.total = n_samples, X.shape[1], total
        self.sample, self.n_distinct = sample, n_distinct
        self.holes = holes
        self._pairs = self._client = None  # see _held

    def restandardised(self, std: Standardiser) -> ChunkedData:
        """The same rows in the units of another fit (warm start)."""
        sample = self.sample.restandardised(std)
        return ChunkedData(
            self.X,
            self.w,
            std,
            self._var_data,
            self.n_samples,
            self.total,
            sample,
            self.n_distinct,
            self.holes,
        )

    def _map(self, func, *args):
        import dask

        xs, ws = _blocks(self.X, self.w)
        std = self.std
        call = dask.delayed(func, pure=True)
        return [call(x, w, std.center, std.scale, *args) for x, w in zip(xs, ws, strict=True)]

    def _missing(self, structure, params):
        """What a chunk's missing-value E-step needs (see :func:`_pair_stats`),
        or None for data without holes."""
        if not self.holes:
            return None
        return (structure.name, params, self.std.log_scale)

    def _held(self):
        """On a distributed cluster that holds every chunk of ``X`` in its
        workers' memory (a persisted array): the standardised chunks there, as
        futures ``[(Xt, w, patterns), ...]`` made once per fit (see
        :func:`_chunk_part`), and the client; else
        ``(None, None)``.

        Standardising a chunk (a transposed copy) costs about a quarter of its
        E-step, and a graph of delayed calls costs the client a few
        milliseconds per chunk to build and send: an iteration on persisted
        data re-did both every time.  The copies are made only when the data
        are in the workers' memory already (a file read chunk by chunk stays
        out of core), and they double what the workers hold -- as the
        in-memory fit holds the data and their standardised copy.
        """
        if self._pairs is None:
            self._pairs, self._client = (), None
            client = _holding_client(self.X)
            if client is not None:
                xs, ws = _blocks(self.X, self.w)
                call = _delayed(_chunk_part)
                std, holes = self.std, self.holes
                parts = [
                    call(x, w, std.center, std.scale, holes) for x, w in zip(xs, ws, strict=True)
                ]
                self._pairs, self._client = tuple(client.compute(parts)), client
        return (self._pairs, self._client) if self._client is not None else (None, None)

    def e_step(self, comps, diagonal: bool, structure=None, params=None) -> _Stats:
        """One E-step over every chunk, the statistics summed in a tree
        (``diagonal``: second moments of the diagonal only, as in MixtureStats).
        ``comps`` are the components (standardised units); when the data have
        ``holes``, ``structure`` and ``params`` (of which ``comps`` are the
        components) are needed too: a chunk with missing cells takes the
        missing-value E-step of :func:`bayesmix._missing.e_step`.

        The same tasks and the same tree either way, so the result is the same
        bit for bit on a cluster and on Dask's local schedulers."""
        return self._summed_stats(comps, diagonal, self._missing(structure, params))

    def filled_e_step(self, comps, diagonal: bool) -> _Stats:
        """:meth:`e_step` on the rows as the starts see them, missing cells at
        their feature's observed mean (``Data.filled``): the complete-data pass."""
        return self._summed_stats(comps, diagonal, None)

    def _summed_stats(self, comps, diagonal, missing) -> _Stats:
        import dask

        args = (comps.means, comps.prec, comps.log_const, diagonal, missing)
        pairs, client = self._held()
        if client is not None:
            # futures straight to the scheduler: the parameters (a few kB) travel
            # with each chunk's task, which runs where its chunk lives
            parts = [client.submit(_pair_stats, p, *args, pure=False) for p in pairs]
            total = _tree(parts, lambda a, b: client.submit(_add, a, b, pure=False))
            return _Stats(total.result())
        parts = self._map(_chunk_stats, self.holes, *args)
        return _Stats(_compute(_tree(parts, dask.delayed(_add, pure=True))))

    def worst_rows(self, comps, n: int, structure=None, params=None):
        """The ``n`` worst-explained rows of positive weight (ties: the earlier row):
        ``(Xt (n_features, n), w (n,))``, standardised (with holes, judged and
        completed as in memory: see :func:`_chunk_worst`)."""
        import dask

        missing = self._missing(structure, params)
        parts = self._map(
            _chunk_worst, self.holes, comps.means, comps.prec, comps.log_const, n, missing
        )
        merge = dask.delayed(_merge_smallest, pure=True)
        _, Xt, w = _compute(_tree(parts, lambda a, b: merge(a, b, n)))
        return Xt, w


def _standardiser(moments, n_features: int, holes: bool) -> tuple[Standardiser, np.ndarray]:
    """The in-memory :class:`~bayesmix._data.Standardiser`'s centre and
    power-of-two scale, from the reduced moments (with ``holes``, of the
    observed cells, as ``Standardiser._init_missing``); and the per-feature
    variances in data units."""
    _, mass, mean, sq, lo, hi = moments
    check_observed_columns(mass)
    var = sq / mass
    std = Standardiser.__new__(Standardiser)  # the same object Data carries, built from sums
    spread = float(np.maximum(hi - mean, mean - lo).max())
    std.center = mean
    if not np.isfinite(spread) or spread == 0.0:
        std.scale, std.mean_variance = 1.0, 0.0
        return std, np.zeros(n_features)
    coarse = 2.0 ** np.floor(np.log2(spread))
    # with holes, the squared deviations of every observed cell over their count
    mean_variance = float(sq.sum() / mass.sum()) if holes else float(var.mean())
    var_unit = mean_variance / coarse**2
    std.scale = float(coarse * 2.0 ** np.round(0.5 * np.log2(var_unit)))
    check_scale_range(std.scale, spread)
    std.mean_variance = mean_variance
    return std, var


def prepare(X, sample_weight, at_least: int, rng, *, allow_missing: bool = False) -> ChunkedData:
    """Check Dask input (nothing compiled runs), standardise it and draw the
    start's sample, all in one reduction over the chunks.

    Parameters
    ----------
    X : dask array (n_samples, n_features), or an array-like when
        ``sample_weight`` is a dask array
    sample_weight : dask array or array-like (n_samples,), or None
    at_least : int
        Distinct rows are counted up to this number (``n_components``).
    rng : numpy Generator
        The fit's generator: the sample is seeded by the number it would draw
        next (a copy draws it; ``rng`` itself does not advance).
    allow_missing : bool, default=False
        NaN cells are missing values (EM), refused otherwise.  As in memory
        (:func:`bayesmix._data.prepare`), infinity, rows with every feature
        missing and columns with every value missing are refused either way,
        with the in-memory messages; the sample keeps its rows' NaN.

    Returns
    -------
    ChunkedData
    """
    import dask

    X, w = _as_dask_pair(X, sample_weight, allow_missing)
    d = X.shape[1]
    # The sample's seed comes from a copy of the fit's generator: the start then
    # draws what it draws in memory, so when the sample holds every row (at most
    # SAMPLE_ROWS of positive weight) the fit is the in-memory fit's, whatever
    # the chunking (the start sorts the rows canonically).
    seed = int(copy.deepcopy(rng).integers(2**63))
    xs, ws = _blocks(X, w)
    offsets = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).tolist()
    call = dask.delayed(_chunk_moments, pure=True)
    parts = [
        call(x, wc, seed, i, offsets[i], SAMPLE_ROWS, allow_missing)
        for i, (x, wc) in enumerate(zip(xs, ws, strict=True))
    ]
    combine = dask.delayed(_combine_moments, pure=True)
    reduced = _compute(_tree(parts, lambda a, b: combine(a, b, SAMPLE_ROWS)))
    if reduced.first_inf is not None:  # the in-memory messages (check_X)
        raise infinity_error("X", *reduced.first_inf)
    if reduced.bad_x:
        raise ValueError(
            f"X contains NaN or infinity ({reduced.bad_x} value(s)); on a Dask array only "
            "GaussianMixture takes NaN as a missing value. Drop those rows first, e.g. "
            "X[da.isfinite(X).all(axis=1)], or fit rows in memory (X.compute()), where NaN "
            "is a missing value."
        )
    if reduced.empty_rows[1]:
        raise empty_rows_error("X", *reduced.empty_rows)
    if reduced.bad_w:
        raise ValueError(
            f"sample_weight must be finite and non-negative; {reduced.bad_w} value(s) are not. "
            "Pass frequency weights >= 0."
        )
    n_pos, moments, sample = reduced.n_pos, reduced.moments, reduced.sample
    if n_pos == 0:
        raise ValueError("sample_weight is zero for every row; give some rows positive weight.")
    holes = reduced.n_missing > 0
    std, var = _standardiser(moments, d, holes)
    lo_hi = (moments[4], moments[5])  # per-feature range in data units (VB's prior)
    _, rows, row_w = sample
    rows = np.ascontiguousarray(rows.T)
    n_distinct = count_distinct_rows(rows, row_w, at_least)
    if n_distinct < at_least and rows.shape[0] < n_pos:  # the sample may miss some: count all
        call = dask.delayed(_chunk_distinct, pure=True)
        union = dask.delayed(_union_distinct, pure=True)
        parts = [call(x, wc, at_least) for x, wc in zip(xs, ws, strict=True)]
        n_distinct = int(_compute(_tree(parts, lambda a, b: union(a, b, at_least))).shape[0])
    sample_data = Data(rows, row_w, None, n_distinct, std)  # Patterns and .filled as in memory
    data = ChunkedData(X, w, std, var, n_pos, moments[0], sample_data, n_distinct, holes)
    data.lo_hi = lo_hi
    return data


# -------------------------------------------------------------- predictions
def _check_predict(model, X):
    check_fitted(model)
    return _check_dask_X(X, model.n_features_in_)


def _block(x, block_info) -> np.ndarray:
    """A block of rows, refused as in memory (infinity; a row with every
    feature missing) with its rows numbered in the whole array."""
    x = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(x)
    if not finite.all():
        offset = block_info[0]["array-location"][0][0] if block_info else 0
        inf = np.isinf(x)
        if inf.any():
            row, col = map(int, np.argwhere(inf)[0])
            raise infinity_error("X", row + offset, col)
        empty = np.flatnonzero(~finite.any(axis=1))
        if empty.size:
            raise empty_rows_error("X", (empty[:10] + offset).tolist(), int(empty.size))
    return x


def _block_lse(x, model, block_info=None):
    return model._log_prob(_block(x, block_info), want_resp=False)[0]


def _block_resp(x, model, block_info=None):
    return model._log_prob(_block(x, block_info), want_resp=True)[1]


def _block_impute(x, model, block_info=None):
    return model.impute(_block(x, block_info))


def log_prob(model, X, want_resp: bool):
    """Lazy ``(row log-density (n_samples,), resp (n_samples, K) or None)`` of a
    fitted model on a Dask array, one block per row chunk.  NaN cells are
    missing values wherever the model takes them in memory (each block is
    scored by the model's in-memory method: for EM the marginal densities of
    :func:`bayesmix._missing.log_prob`)."""
    X = _check_predict(model, X)
    lse = X.map_blocks(_block_lse, model, drop_axis=1, dtype=np.float64)
    resp = None
    if want_resp:
        k = model.weights_.shape[0]
        resp = X.map_blocks(_block_resp, model, chunks=(X.chunks[0], (k,)), dtype=np.float64)
    return lse, resp


def impute(model, X):
    """Lazy ``model.impute(X)`` (conditional expectations) of a Dask array,
    one block per row chunk."""
    X = _check_predict(model, X)
    return X.map_blocks(_block_impute, model, dtype=np.float64)


def score(model, X, sample_weight) -> float:
    """Mean (weighted) log density per row of a Dask array: one pass."""
    lse = log_prob(model, X, want_resp=False)[0]
    if sample_weight is None:
        return float(_compute(lse.mean()))
    _, w = _as_dask_pair(X, sample_weight)
    num, den = _compute(((w * lse).sum(), w.sum()))
    return float(num / den)


def criteria_sums(model, X, sample_weight) -> tuple[float, float, float]:
    """``(sum_i w_i log p(x_i), sum_i w_i log max_k p(k | x_i), sum_i w_i)`` of a
    Dask array, for BIC / AIC / ICL: one computation."""
    import dask.array as da

    lse, resp = log_prob(model, X, want_resp=True)
    with np.errstate(divide="ignore"):
        log_max = da.log(resp.max(axis=1))
    if sample_weight is None:
        sums = _compute((lse.sum(), log_max.sum()))
        return float(sums[0]), float(sums[1]), float(X.shape[0])
    _, w = _as_dask_pair(X, sample_weight)
    sums = _compute(((w * lse).sum(), (w * log_max).sum(), w.sum()))
    return tuple(float(v) for v in sums)
