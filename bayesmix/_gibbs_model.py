"""The collapsed Gibbs sampler's rows and model, as the kernels read them.

Rows: a row of integer frequency weight ``w`` is ``w`` identical observations
(the model of ``np.repeat(X, w, axis=0)``), but its copies are not repeated:
identical complete rows are merged into one *atom* of weight ``w`` (the sum
of their weights).  An atom of weight 1 is one sampler row, moved by the Gibbs
sweep; an atom of weight ``w >= 2`` is held by ``min(w, MAX_PIECES)`` identical
sampler rows, each holding some of its copies (``mult``) in one cluster
(``_kernels._gibbs.piece_moves``), so memory and time grow with the number of
distinct rows, not with ``sum(w)``.  Rows with missing cells are not merged:
each copy's missing cells are drawn apart, so such a row of weight ``w`` is
``w`` sampler rows.  The atoms are in lexicographic order, so the draws
depend neither on the order of the caller's rows nor on whether a repeated
row is given once with a weight or ``w`` times (:func:`sampler_rows`).

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
    "MAX_PIECES",
    "TABLE_MIN",
    "Model",
    "SamplerRows",
    "data_key",
    "label_dtype",
    "niw_tables",
    "prepare_model",
    "reject_positional_seed",
    "sampler_rows",
    "table_g",
]

# Sampler rows that hold one weighted row's copies: its copies can sit in at most
# this many clusters at once (no limit for weights up to it).  A destination that
# would need more is left out of a move and counted (``pieces_blocked_``): it has
# never been met, since a row's copies part only where one cluster fits them
# about as well as another.
MAX_PIECES = 32
TABLE_MIN = 1 << 16  # cluster sizes tabulated at least (larger: computed, _kernels._gibbs._tab)


class SamplerRows(NamedTuple):
    """The sampler's rows and how they map back to the caller's."""

    X: np.ndarray  # (n, n_features) the sampler's rows, data units (module docstring)
    reps: np.ndarray  # (n_rows,) int64 copies of each caller's row (its weight)
    present: np.ndarray  # (n_rows,) bool, rows of positive weight
    row_pos: np.ndarray  # (n_present,) int64, the sampler row of each present row('s first copy)
    mult: np.ndarray  # (n,) int64 copies each sampler row holds at the start
    n_unit: int  # rows 0 .. n_unit - 1 hold one copy each, always
    atoms: tuple  # (atom_start, atom_len) int64: the rows holding each atom of weight >= 2


def _sorted(X: np.ndarray) -> np.ndarray:
    """The order that sorts the rows of ``X`` lexicographically (NaN last)."""
    return np.lexsort(X.T[::-1]) if X.shape[0] else np.empty(0, dtype=np.int64)


def sampler_rows(X: np.ndarray, reps: np.ndarray) -> SamplerRows:
    """The sampler's rows for the rows ``X`` (n_rows, n_features) of integer
    weights ``reps`` (n_rows,): first the atoms of weight 1 and the copies of
    rows with missing cells, sorted, then each atom of weight ``w >= 2``
    (sorted) as ``min(w, MAX_PIECES)`` identical rows, the first holding all
    ``w`` copies (module docstring)."""
    n_rows = X.shape[0]
    present = reps > 0
    holes = np.isnan(X).any(axis=1) & present
    complete = np.flatnonzero(present & ~holes)
    # atoms: the distinct complete rows (-0.0 and 0.0 alike), sorted
    Xc = X[complete] + 0.0
    order = _sorted(Xc)
    Xc = Xc[order]
    new = np.ones(Xc.shape[0], dtype=bool)
    new[1:] = np.any(Xc[1:] != Xc[:-1], axis=1)
    atom_of_row = np.empty(complete.size, dtype=np.int64)
    atom_of_row[order] = np.cumsum(new) - 1
    atom_X = Xc[new]
    atom_w = np.bincount(atom_of_row, weights=reps[complete], minlength=atom_X.shape[0])
    atom_w = np.rint(atom_w).astype(np.int64)
    single = atom_w == 1
    # rows with holes: one sampler row per copy
    hole_rows = np.flatnonzero(holes)
    Xh = np.repeat(X[hole_rows], reps[hole_rows], axis=0)
    unit = np.concatenate([atom_X[single], Xh])
    unit_order = _sorted(unit)
    n_unit = unit.shape[0]
    unit_pos = np.empty(n_unit, dtype=np.int64)
    unit_pos[unit_order] = np.arange(n_unit)
    heavy = np.flatnonzero(~single)
    atom_len = np.minimum(atom_w[heavy], MAX_PIECES).astype(np.int64)
    atom_start = (n_unit + np.cumsum(atom_len) - atom_len).astype(np.int64)
    rows_X = np.concatenate([unit[unit_order], np.repeat(atom_X[heavy], atom_len, axis=0)])
    mult = np.zeros(rows_X.shape[0], dtype=np.int64)
    mult[:n_unit] = 1
    mult[atom_start] = atom_w[heavy]
    # each present caller row's sampler row
    pos_of_atom = np.empty(atom_X.shape[0], dtype=np.int64)
    pos_of_atom[np.flatnonzero(single)] = unit_pos[: int(single.sum())]
    pos_of_atom[heavy] = atom_start
    where = np.empty(n_rows, dtype=np.int64)
    where[complete] = pos_of_atom[atom_of_row]
    first_copy = int(single.sum()) + np.cumsum(reps[hole_rows]) - reps[hole_rows]
    where[hole_rows] = unit_pos[first_copy]
    atoms = (atom_start, atom_len)
    return SamplerRows(
        np.ascontiguousarray(rows_X), reps, present, where[present], mult, int(n_unit), atoms
    )


def label_dtype(max_label: int):
    """The smallest signed integer type that holds labels ``0 .. max_label``."""
    for dt in (np.int8, np.int16, np.int32):
        if max_label <= np.iinfo(dt).max:
            return dt
    return np.int64


def table_length(n_copies: int, n_rows: int) -> int:
    """Cluster sizes ``0 .. length - 1`` that the tables hold: every size when the
    copies are few, else at least ``TABLE_MIN`` and the number of sampler rows."""
    return int(min(n_copies, max(n_rows, TABLE_MIN))) + 1


def table_g(tables: np.ndarray, consts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``G(n)`` (row 1 of ``tables``) at the cluster sizes ``counts``, computed
    past the table's end (as ``_kernels._gibbs._table_far``)."""
    counts = np.asarray(counts, dtype=np.int64)
    out = np.empty(counts.shape)
    near = counts < tables.shape[1]
    out[near] = tables[1][counts[near]]
    if not near.all():
        kappa0, nu0, logdet0, d = consts[0], consts[1], consts[2], int(consts[3])
        n = counts[~near].astype(np.float64)
        j = np.arange(d)
        far = -0.5 * n * d * np.log(np.pi) + 0.5 * nu0 * logdet0
        far += 0.5 * d * (np.log(kappa0) - np.log(kappa0 + n))
        far += (gammaln(0.5 * (nu0 + n[:, None] - j)) - gammaln(0.5 * (nu0 - j))).sum(axis=1)
        out[~near] = far
    return out


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
    consts: np.ndarray  # [kappa0, nu0, log|Psi0|, n_features]
    tables: np.ndarray  # (4, table_length), see _kernels/_gibbs.py
    R0: np.ndarray  # upper Cholesky factor of Psi0
    inv0: np.ndarray  # 1 / diag(R0)
    log_prior_pred: np.ndarray  # (n_samples,) log prior predictive of each row
    # (n_samples, n_features) bool, True where a cell is missing (latent, drawn
    # each sweep by _gibbs_missing); None for complete data
    missing: np.ndarray | None = None
    # the copies each row holds at the start, the rows of one copy, the atoms
    # (SamplerRows); None: every row one copy
    mult: np.ndarray | None = None
    n_unit: int = -1
    atoms: tuple | None = None

    @property
    def start_mult(self) -> np.ndarray:
        """The copies each sampler row holds at the start."""
        if self.mult is None:
            return np.ones(self.X.shape[0], dtype=np.int64)
        return self.mult

    @property
    def layout(self) -> tuple:
        """``(n_unit, atoms)`` as the kernels take them."""
        if self.atoms is None:
            empty = np.empty(0, dtype=np.int64)
            return self.X.shape[0], (empty, empty)
        return self.n_unit, self.atoms

    @property
    def n_copies(self) -> int:
        """The observations: ``sum(mult)``."""
        return int(self.start_mult.sum())

    @property
    def kernel_prior(self) -> tuple:
        """``(mean0, psi0, R0, inv0, consts, tables)``, the kernels' ``prior``."""
        p = self.prior
        return (p.mean, p.scale, self.R0, self.inv0, self.consts, self.tables)

    @property
    def log_jacobian(self) -> float:
        """``log |d standardised / d data|`` of all rows: turns a log density of the
        standardised rows into one of the rows in data units."""
        n_features = self.X.shape[1]
        return -self.n_copies * n_features * self.standardiser.log_scale


def prepare_model(
    X: np.ndarray, prior: NormalInverseWishart, rows: SamplerRows | None = None
) -> Model:
    """Standardise the sampler's rows ``X`` (n_samples, n_features), each row
    counted as the copies it holds (``rows.mult``; one each without ``rows``),
    and a resolved ``prior`` with it, for the kernels."""
    n, n_features = X.shape
    mult = None if rows is None or rows.atoms[0].size == 0 else rows.mult
    w = np.ones(n) if mult is None else mult.astype(np.float64)
    std = Standardiser(X, w)
    p = prior.standardised(std.center, std.scale)
    Xs = np.ascontiguousarray(std.transform(X).T)
    R0 = np.linalg.cholesky(p.scale).T.copy()
    inv0 = 1.0 / np.diag(R0)
    logdet0 = 2.0 * float(np.log(np.diag(R0)).sum())
    consts = np.array([p.kappa, p.dof, logdet0, n_features])
    n_copies = n if mult is None else int(mult.sum())
    tables = niw_tables(table_length(n_copies, n) - 1, n_features, p.kappa, p.dof, logdet0)
    log_prior_pred = np.empty(n)
    prior_log_predictive(Xs, (p.mean, p.scale, R0, inv0, consts, tables), log_prior_pred)
    model = Model(std, p, Xs, consts, tables, R0, inv0, log_prior_pred)
    if mult is not None:
        model = model._replace(mult=mult, n_unit=rows.n_unit, atoms=rows.atoms)
    return model


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
