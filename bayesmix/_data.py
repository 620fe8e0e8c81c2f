"""The one data preparation of every engine and of model selection.

:func:`prepare` validates ``X`` and ``sample_weight`` (every message comes
from :mod:`bayesmix._validation`), counts distinct rows, drops rows of zero
weight and standardises the data once; the :class:`Data` it returns is what
fits read before their first iteration, shareable by the fits of a model grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import (
    as_feature_major,
    check_sample_weight,
    check_weighted_rows,
    check_X,
    count_distinct_rows,
)

__all__ = [
    "SCALE_RANGE",
    "WEIGHT_TOTAL_RANGE",
    "Data",
    "Patterns",
    "SortedRows",
    "Standardiser",
    "check_observed_columns",
    "check_scale_range",
    "prepare",
    "weight_unit",
]

_ORDER_SEED = 20240601  # fixes the direction that puts rows in a canonical order


# The standardiser's scale s maps covariances back as s**2 and precisions as
# s**-2: both must stay finite with room for a component's own spread, so the
# data's spread about its centre must lie within about 1e-150 .. 1e150 (the
# documented range; its offset from zero may be anything finite).
SCALE_RANGE = (2.0**-500, 2.0**500)


def check_scale_range(scale: float, spread: float) -> None:
    """Refuse data whose spread (largest distance of a row from the centre)
    gives a standardiser ``scale`` outside ``SCALE_RANGE``: its covariances or
    precisions would overflow float64 in data units."""
    lo, hi = SCALE_RANGE
    if not (lo <= scale <= hi):
        raise ValueError(
            f"X has a scale of about {scale:.3g} (its rows lie up to {spread:.3g} from their "
            f"centre); bayesmix fits data whose scale lies between about {lo:.0e} and {hi:.0e} "
            "(the covariances, about the scale squared, must fit in float64). Rescale X "
            "first, e.g. X / X.std(), and scale the fitted means and covariances back."
        )


def check_observed_columns(mass: np.ndarray) -> None:
    """Refuse a column whose every value in the rows of positive weight is
    missing: ``mass`` (n_features,) is each column's observed weight."""
    if not (mass > 0).all():
        raise ValueError(
            f"X has column(s) {np.flatnonzero(mass <= 0).tolist()} with every value missing "
            "(NaN) in the rows of positive weight; the model cannot learn anything about "
            "them. Drop those columns first."
        )


class Standardiser:
    """Centre and a power-of-two scale of the training data.

    Every engine fits ``(X - center) / scale``: sums of squares neither
    overflow for data near 1e150 nor underflow near 1e-150, and a power of two
    makes the scaling exact in floating point.  Parameters are mapped back to
    data units on the way out.
    """

    def __init__(self, X: np.ndarray, w: np.ndarray):
        if np.isnan(X).any():
            self._init_missing(X, w)
            return
        total = w.sum()
        pos = w > 0
        # rows of zero weight do not set the units (no copy when there are none)
        weighted, wp = (X, w) if pos.all() else (X[pos], w[pos])
        # Mean about a weighted row: exact when every row is the same point, and
        # no digits lost to a large common offset.
        center = weighted[0] + (w @ (X - weighted[0])) / total
        # the largest |x - center| from each feature's range: rounding is
        # monotonic, so this is max |x - center| exactly, without a copy of X
        spread = np.maximum(
            np.abs(weighted.max(axis=0) - center), np.abs(weighted.min(axis=0) - center)
        ).max()
        if not np.isfinite(spread) or spread == 0.0:
            self.center, self.scale, self.mean_variance = center, 1.0, 0.0
            return
        coarse = 2.0 ** np.floor(np.log2(spread))
        Y = weighted - center  # one temporary, squared in place
        Y /= coarse
        Y *= Y
        var_unit = float((wp @ Y).sum() / (total * X.shape[1]))
        del Y
        self.center = center
        self.scale = float(coarse * 2.0 ** np.round(0.5 * np.log2(var_unit)))
        check_scale_range(self.scale, spread)
        self.mean_variance = var_unit * coarse * coarse  # data units

    def _init_missing(self, X: np.ndarray, w: np.ndarray) -> None:
        """The same units from the observed cells only (NaN cells are missing):
        each feature's centre is the weighted mean of its observed values, the
        scale the power of two nearest the root mean square of the observed
        deviations.  Missing cells carry no information about the units, and
        filling them first would pull the scale towards the centre."""
        weighted = X[w > 0]
        wp = w[w > 0]
        observed = ~np.isnan(weighted)
        mass = wp @ observed
        check_observed_columns(mass)
        filled = np.where(observed, weighted, 0.0)
        center = (wp @ filled) / mass
        dev = np.where(observed, weighted - center, 0.0)
        spread = np.abs(dev).max()
        if not np.isfinite(spread) or spread == 0.0:
            self.center, self.scale, self.mean_variance = center, 1.0, 0.0
            return
        coarse = 2.0 ** np.floor(np.log2(spread))
        Y = dev / coarse
        var_unit = float((wp @ (Y * Y)).sum() / mass.sum())
        self.center = center
        self.scale = float(coarse * 2.0 ** np.round(0.5 * np.log2(var_unit)))
        check_scale_range(self.scale, spread)
        self.mean_variance = var_unit * coarse * coarse

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Feature-major standardised copy for the kernels."""
        return as_feature_major(X, self.center, self.scale)

    @property
    def log_scale(self) -> float:
        return float(np.log(self.scale))


@dataclass(frozen=True)
class SortedRows:
    """The rows in a canonical order (sorted along a fixed direction) for the
    initialisation: its random draws then do not depend on the order of the
    rows, and a row of integer weight m meets the same draws as m repeated
    rows, so shuffled or repeated data give the same fit."""

    Xt: np.ndarray  # (n_features, n_samples) sorted
    w: np.ndarray  # (n_samples,) sorted
    order: np.ndarray  # sorted position -> row of the caller's data

    @classmethod
    def of(cls, Xt: np.ndarray, w: np.ndarray) -> SortedRows:
        direction = np.random.default_rng(_ORDER_SEED).standard_normal(Xt.shape[0])
        order = np.argsort(direction @ Xt, kind="stable")
        return cls(np.ascontiguousarray(Xt[:, order]), w[order], order)


class Patterns:
    """Rows grouped by missingness pattern (which features they observe).

    ``groups`` is a list of ``(observed, missing, rows)`` index arrays, one per
    distinct pattern, in a fixed order (sorted by pattern); ``n_observed``
    (n_samples,) counts each row's observed features.
    Grouping lets an E-step handle every row of a pattern with the same
    marginal and conditional Gaussians: a table with few patterns costs little
    more than complete data (Ghahramani & Jordan 1994).
    """

    def __init__(self, X: np.ndarray):
        observed = ~np.isnan(X)
        if X.shape[1] <= 62:
            # one integer per pattern: sorting integers is far cheaper than rows
            codes = observed @ (np.int64(1) << np.arange(X.shape[1], dtype=np.int64))
            _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
            keys = observed[first]
        else:
            keys, inverse = np.unique(observed, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(keys.shape[0] + 1))
        self.groups = [
            (np.flatnonzero(key), np.flatnonzero(~key), order[bounds[g] : bounds[g + 1]])
            for g, key in enumerate(keys)
        ]
        self.n_observed = observed.sum(axis=1)
        self.n_missing_cells = int(X.size - self.n_observed.sum())
        # float: a float @ int64 product takes numpy's slow generic loop, not BLAS
        self.n_missing = (X.shape[1] - self.n_observed).astype(np.float64)
        # for the one-pass kernel: each row's pattern, each pattern's missing features
        self.row_pattern = inverse.astype(np.int64)
        self.n_mis = (~keys).sum(axis=1).astype(np.int64)
        self.mis = np.zeros((keys.shape[0], X.shape[1]), dtype=np.int64)
        for g, (_, mis, _) in enumerate(self.groups):
            self.mis[g, : mis.size] = mis
        self._blocks_of = None
        self._blocks = None

    def blocks(self, Xt: np.ndarray, w: np.ndarray) -> list:
        """Per pattern, the observed sub-matrix (q, n_p) of the feature-major
        ``Xt`` and the rows' weights, as contiguous copies: cut once and kept
        for the last ``(Xt, w)`` asked for, since every EM iteration reads
        the same ones."""
        if self._blocks_of is None or self._blocks_of[0] is not Xt or self._blocks_of[1] is not w:
            self._blocks = [
                (np.ascontiguousarray(Xt[np.ix_(obs, rows)]), np.ascontiguousarray(w[rows]))
                for obs, _, rows in self.groups
            ]
            self._blocks_of = (Xt, w)
        return self._blocks

    @classmethod
    def of(cls, X: np.ndarray) -> Patterns | None:
        """The patterns of ``X`` (n_samples, n_features), or None without NaN."""
        return cls(X) if np.isnan(X).any() else None


class Data:
    """Validated training data, standardised once: everything a fit reads
    before its first iteration, shareable by the fits of a model grid.

    Rows of zero weight are dropped (they are not data).  ``n_distinct``
    counts the distinct rows exactly up to the ``at_least`` it was prepared
    for (see :func:`prepare`).

    With NaN cells (missing values, see :func:`prepare`), ``missing`` holds
    the rows' :class:`Patterns` (None for complete data) and ``Xt`` keeps the
    NaN; ``filled`` is ``Xt`` with every missing cell at its feature's observed
    mean (0 in standardised units), which only the initialisations read.
    """

    def __init__(self, X, w, names, n_distinct: int, std: Standardiser | None = None):
        self.X, self.w, self.names, self.n_distinct = X, w, names, n_distinct
        self.w_unit = 1.0  # the caller's weights are w * w_unit (see prepare)
        self.std = Standardiser(X, w) if std is None else std
        self.Xt = self.std.transform(X)
        self.missing = Patterns.of(X)
        self._rows = None
        self._variances = None

    def restandardised(self, std: Standardiser) -> Data:
        """The same rows in the units of another fit (warm start)."""
        data = Data(self.X, self.w, self.names, self.n_distinct, std)
        data.w_unit = self.w_unit
        return data

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def filled(self) -> np.ndarray:
        """``Xt`` (n_features, n_samples) with missing cells at 0, the observed
        mean in standardised units: the initialisations' view of the data."""
        if self.missing is None:
            return self.Xt
        return np.where(np.isnan(self.Xt), 0.0, self.Xt)

    @property
    def rows(self) -> SortedRows:
        """The rows in canonical order, sorted once (for the initialisations)."""
        if self._rows is None:
            self._rows = SortedRows.of(self.filled, self.w)
        return self._rows

    @property
    def variances(self) -> np.ndarray:
        """Weighted per-feature variances (standardised units), of the observed
        cells when some are missing."""
        if self._variances is None:
            Xt, w = self.Xt, self.w
            if self.missing is None:
                centred = Xt - (Xt @ w / w.sum())[:, None]
                centred *= centred  # squared in place: one temporary, not two
                self._variances = centred @ w / w.sum()
            else:
                observed = ~np.isnan(Xt)
                mass = observed @ w
                filled = np.where(observed, Xt, 0.0)
                centred = np.where(observed, Xt - ((filled @ w) / mass)[:, None], 0.0)
                self._variances = (centred * centred) @ w / mass
        return self._variances


def prepare(
    X,
    sample_weight,
    at_least: int,
    *,
    keep_zero_weight: bool = False,
    rescale_weights: bool = False,
    allow_missing: bool = False,
) -> Data:
    """Check ``X`` and ``sample_weight`` (nothing compiled runs here) and
    standardise them for the kernels: the one data preparation of every engine
    and of :func:`~bayesmix.select_model`.

    Parameters
    ----------
    X : array-like or DataFrame, (n_samples, n_features)
    sample_weight : array-like (n_samples,) or None
    at_least : int
        Distinct rows of positive weight are counted exactly up to this
        number (the largest ``n_components`` the caller will fit).
    keep_zero_weight : bool, default=False
        Keep rows of zero weight (they are dropped otherwise: they are not data).
    rescale_weights : bool, default=False
        Divide weights whose total leaves ``WEIGHT_TOTAL_RANGE`` by their
        largest value (for engines whose parameters do not depend on the
        weights' scale); the divisor is ``Data.w_unit``.  Otherwise such weights
        are refused.
    allow_missing : bool, default=False
        NaN cells are missing values (the caller's engine marginalises them);
        otherwise NaN is refused.  Infinity, rows with every feature missing and
        columns with every value missing are refused either way.

    Returns
    -------
    Data
    """
    X, names = check_X(X, min_samples=2, allow_nan=allow_missing)
    w = check_sample_weight(sample_weight, X.shape[0])
    check_weighted_rows(w)
    unit = weight_unit(w, rescale_weights)
    if unit != 1.0:
        w = w / unit
    distinct = count_distinct_rows(X, w, at_least)
    if not keep_zero_weight and not (w > 0).all():
        X, w = X[w > 0], w[w > 0]
    data = Data(X, w, names, distinct)
    data.w_unit = unit
    return data


# Weighted sums of squares (s1 s1^T / nk and the like) overflow or underflow
# when the weights' total leaves this range.
WEIGHT_TOTAL_RANGE = (2.0**-200, 2.0**200)


def weight_unit(w: np.ndarray, rescale: bool) -> float:
    """1.0 for weights whose total lies in ``WEIGHT_TOTAL_RANGE``; otherwise,
    when ``rescale`` (an engine whose parameters depend on the weights' ratios
    only: EM), their largest value, by which the fit divides them (all-equal
    weights become exactly 1, so ``sample_weight`` all 1e300 fits like all 1);
    else a ValueError (VB counts each unit of weight as one observation)."""
    lo, hi = WEIGHT_TOTAL_RANGE
    biggest = float(w.max())
    total = float(np.sum(w / biggest)) * biggest  # no overflow on the way
    if lo <= total <= hi:
        return 1.0
    if rescale:
        return biggest
    raise ValueError(
        f"sample_weight sums to {total:.3g}; this engine counts each unit of weight as one "
        f"observation and supports totals between {lo:.0e} and {hi:.0e}. Divide the weights "
        "by a common factor (the posterior then describes that many fewer observations)."
    )
