"""The training data as variational Bayes reads them: complete rows in memory,
rows with missing cells (:mod:`bayesmix._vb_missing`), or Dask chunks
(:mod:`bayesmix._vb_dask`).  :func:`prepare` returns one :class:`VBData`
whichever they are, so the estimator shell asks the same questions of each:
the rows the start reads, the E-step workspace of coordinate ascent, the
Jacobian of the standardisation, the effective components.  Complete data in
memory take exactly the path they took before the other two existed.
"""

from __future__ import annotations

import numpy as np

from . import _dask, _vb_core, _vb_dask, _vb_missing
from ._data import prepare as prepare_data

__all__ = ["VBData", "prepare"]


class VBData:
    """One fit's view of its data (standardised units).

    Attributes
    ----------
    Xt, w : (n_features, n_rows), (n_rows,)
        The rows coordinate ascent is handed: all of them in memory (NaN where
        missing), the start's sample for chunks (whose E-step reads the chunks).
    start_X : (n_features, n_rows)
        What the initialisations cluster: ``Xt``, mean-filled when cells are
        missing.
    total : float
        The total weight of the data (every chunk).
    std, names, n_distinct :
        As for :class:`bayesmix._data.Data`.
    holes : Patterns or None
        The missingness patterns (None: complete data).
    chunked : ChunkedData or None
    summary : DataSummary or None
        What the prior's defaults read of chunked data.
    moves : bool
        Complete data in memory: the merge and delete moves score candidates
        from every row's responsibilities (:func:`bayesmix._vb_moves.refine`);
        chunks read them through sums (:class:`bayesmix._vb_dask.ChunkRows`),
        missing cells by refits (:func:`bayesmix._vb_moves.refine_by_refit`).
    """

    def __init__(self, data, chunked: bool, summary=None):
        self.std, self.names, self.n_distinct = data.std, data.names, data.n_distinct
        self.summary = summary
        if chunked:
            self.chunked, self.holes = data, None
            self.Xt, self.w = data.sample.Xt, data.sample.w
            self.start_X, self.total = self.Xt, data.total
        else:
            self.chunked, self.holes = None, data.missing
            self.Xt, self.w = data.Xt, data.w
            self.start_X, self.total = data.filled, data.w.sum()
        self._data = data
        self.moves = self.holes is None and self.chunked is None

    @property
    def n_features(self) -> int:
        return self.Xt.shape[0]

    def variances(self) -> np.ndarray:
        """Per-feature (uncentred, about the centre) variances (n_features,)."""
        if self.moves:
            return (self.Xt * self.Xt) @ self.w / self.w.sum()
        return self._data.variances

    def stats(self, n_components: int, diagonal: bool):
        """A fresh E-step workspace for :func:`bayesmix._vb_core.cavi`: None (the
        kernels' own) for complete data in memory."""
        if self.chunked is not None:
            return _vb_dask.ChunkStats(self.chunked, diagonal)
        if self.holes is not None:
            return _vb_missing.PatternStats(self.holes, self.start_X, n_components, diagonal)
        return None

    def log_jacobian(self) -> float:
        """``log |dXt / dX|`` of the data, weight included: each row's density
        is over its observed features only."""
        if self.holes is None:
            return self.total * self.n_features * self.std.log_scale
        return float(self.w @ self.holes.n_observed) * self.std.log_scale

    def effective(self, post, predictive, structure):
        """``(effective (K,) bool, missing information)`` of
        :func:`bayesmix._vb_core.effective`."""
        if self.chunked is not None:
            return _vb_dask.effective(self.chunked, post, predictive)
        proba = None
        if self.holes is not None:
            _, proba = _vb_missing.predictive_log_prob_missing(
                self.Xt, predictive, self.holes, True
            )
        stats = self.stats(post.means.shape[0], structure.diagonal)
        return _vb_core.effective(
            self.Xt, self.w, post, predictive, structure, proba=proba, stats=stats
        )


def prepare(X, sample_weight, n_components: int, rng) -> VBData:
    """Check and standardise the data once (nothing compiled runs): Dask input
    through :func:`bayesmix._vb_dask.prepare` (``rng`` seeds its sample), the
    rest through :func:`bayesmix._data.prepare`, NaN cells as missing values.
    Rows of zero weight are kept in memory: they take no part in the
    statistics, and keeping them keeps the initialisations' draws those of the
    full data."""
    if _dask.is_dask(X) or _dask.is_dask(sample_weight):
        data, summary = _vb_dask.prepare(X, sample_weight, n_components, rng)
        return VBData(data, True, summary)
    data = prepare_data(X, sample_weight, n_components, keep_zero_weight=True, allow_missing=True)
    return VBData(data, False)
