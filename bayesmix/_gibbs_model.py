"""The collapsed Gibbs sampler's rows and model, as the kernels read them.

Rows: a row of integer frequency weight ``w`` is ``w`` identical rows, so the
sampler runs on ``np.repeat(X, w, axis=0)``; those rows are sorted
lexicographically, so the draws depend neither on the order of the caller's
rows nor on whether a repeated row is given once with a weight or ``w`` times
(:func:`expand_rows`).

Model: the rows standardised with unit weights, the resolved NIW prior in the
same units, and the tables of ``_kernels/_gibbs.py`` (:func:`prepare_model`).
"""

from __future__ import annotations

import hashlib
import numbers
from typing import NamedTuple

import numpy as np
from scipy.special import gammaln

from ._conjugate import mvgammaln
from ._data import Standardiser
from ._kernels._gibbs import prior_log_predictive
from .priors import NormalInverseWishart

__all__ = [
    "Model",
    "SamplerRows",
    "data_key",
    "duplicate_runs",
    "expand_rows",
    "label_dtype",
    "niw_tables",
    "prepare_model",
    "reject_positional_seed",
]


class SamplerRows(NamedTuple):
    """The sampler's rows and how they map back to the caller's."""

    X: np.ndarray  # (n, n_features) copies of the weighted rows, sorted, data units
    reps: np.ndarray  # (n_rows,) int64 copies of each caller's row (its weight)
    present: np.ndarray  # (n_rows,) bool, rows of positive weight
    row_pos: np.ndarray  # (n_present,) int64, each present row's first copy in X


def expand_rows(X: np.ndarray, reps: np.ndarray) -> SamplerRows:
    """Repeat each row of ``X`` (n_rows, n_features) ``reps`` (n_rows,) times and
    sort the copies lexicographically."""
    Xe = np.repeat(X, reps, axis=0)
    n = Xe.shape[0]
    order = np.lexsort(Xe.T[::-1])
    internal = np.empty(n, dtype=np.int64)
    internal[order] = np.arange(n)
    present = reps > 0
    row_pos = internal[(np.cumsum(reps) - reps)[present]]  # first copy of each row
    return SamplerRows(Xe[order], reps, present, row_pos)


def duplicate_runs(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(run_start, run_len)`` int64: the runs of at least two identical
    consecutive rows of ``X`` (the sampler's rows are sorted, so a row's
    copies, and repeated rows, are consecutive)."""
    n = X.shape[0]
    if n < 2:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    new = np.ones(n, dtype=bool)
    new[1:] = np.any(X[1:] != X[:-1], axis=1)
    starts = np.flatnonzero(new)
    lengths = np.diff(np.append(starts, n))
    keep = lengths >= 2
    return starts[keep].astype(np.int64), lengths[keep].astype(np.int64)


def label_dtype(max_label: int):
    """The smallest signed integer type that holds labels ``0 .. max_label``."""
    for dt in (np.int8, np.int16, np.int32):
        if max_label <= np.iinfo(dt).max:
            return dt
    return np.int64


def niw_tables(n_max: int, n_features: int, kappa0: float, nu0: float, logdet0: float):
    """The (4, n_max + 1) table of ``_kernels._gibbs``: ``[log n + T(n), G(n), c_n,
    kappa_n / (kappa_n - 1)]`` for clusters of ``n = 0 .. n_max`` rows (see that
    module's docstring for ``T`` and ``G``; Murphy 2007)."""
    d = n_features
    n = np.arange(n_max + 1, dtype=np.float64)
    kn = kappa0 + n
    nun = nu0 + n
    c = kn / (kn + 1.0)
    log_pi = np.log(np.pi)
    T = gammaln(0.5 * (nun + 1.0)) - gammaln(0.5 * (nun + 1.0 - d)) - 0.5 * d * log_pi
    T += 0.5 * d * np.log(c)
    log_n = np.log(np.maximum(n, 1.0))
    G = -0.5 * d * n * log_pi + mvgammaln(0.5 * nun, d) - mvgammaln(np.array([0.5 * nu0]), d)
    G += 0.5 * nu0 * logdet0 + 0.5 * d * (np.log(kappa0) - np.log(kn))
    loo = np.zeros_like(n)
    # n = 1 (read by no kernel: a singleton leaves without a downdate) is
    # infinite once kappa0 is below the rounding of 1 + kappa0
    with np.errstate(divide="ignore"):
        loo[1:] = kn[1:] / (kn[1:] - 1.0)
    return np.ascontiguousarray(np.stack([T + log_n, G, c, loo]))


class Model(NamedTuple):
    """Everything the kernels read, in standardised units."""

    standardiser: Standardiser
    prior: NormalInverseWishart  # resolved and standardised
    X: np.ndarray  # (n_samples, n_features), row-major
    consts: np.ndarray  # [kappa0, nu0, log|Psi0|]
    tables: np.ndarray  # (4, n_samples + 1), see _kernels/_gibbs.py
    R0: np.ndarray  # upper Cholesky factor of Psi0
    inv0: np.ndarray  # 1 / diag(R0)
    log_prior_pred: np.ndarray  # (n_samples,) log prior predictive of each row
    # (n_samples, n_features) bool, True where a cell is missing (latent, drawn
    # each sweep by _gibbs_missing); None for complete data
    missing: np.ndarray | None = None

    @property
    def kernel_prior(self) -> tuple:
        """``(mean0, psi0, R0, inv0, consts, tables)``, the kernels' ``prior``."""
        p = self.prior
        return (p.mean, p.scale, self.R0, self.inv0, self.consts, self.tables)

    @property
    def log_jacobian(self) -> float:
        """``log |d standardised / d data|`` of all rows: turns a log density of the
        standardised rows into one of the rows in data units."""
        n, n_features = self.X.shape
        return -n * n_features * self.standardiser.log_scale


def prepare_model(X: np.ndarray, prior: NormalInverseWishart) -> Model:
    """Standardise ``X`` (n_samples, n_features) with unit weights, and a resolved
    ``prior`` with it, for the kernels."""
    n, n_features = X.shape
    std = Standardiser(X, np.ones(n))
    p = prior.standardised(std.center, std.scale)
    Xs = np.ascontiguousarray(std.transform(X).T)
    R0 = np.linalg.cholesky(p.scale).T.copy()
    inv0 = 1.0 / np.diag(R0)
    logdet0 = 2.0 * float(np.log(np.diag(R0)).sum())
    consts = np.array([p.kappa, p.dof, logdet0])
    tables = niw_tables(n, n_features, p.kappa, p.dof, logdet0)
    log_prior_pred = np.empty(n)
    prior_log_predictive(Xs, (p.mean, p.scale, R0, inv0, consts, tables), log_prior_pred)
    return Model(std, p, Xs, consts, tables, R0, inv0, log_prior_pred)


def reject_positional_seed(X) -> None:
    """``posterior(0)`` meant ``random_state=0`` before ``X`` came first: say so
    rather than reading a seed as data."""
    seeds = (numbers.Integral, np.random.Generator, np.random.RandomState, np.random.SeedSequence)
    if isinstance(X, seeds):
        shown = repr(X) if isinstance(X, numbers.Integral) else "rng"
        raise TypeError(
            f"posterior() takes random_state as a keyword argument; its first argument is X "
            f"(the training data, or None). Call posterior(random_state={shown})."
        )


def data_key(X: np.ndarray) -> str:
    """A digest of an array's shape and bytes (to recognise the training data)."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    h = hashlib.blake2b(digest_size=16)
    h.update(np.asarray(X.shape, dtype=np.int64).tobytes())
    h.update(X.tobytes())
    return h.hexdigest()
