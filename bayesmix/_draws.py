"""Draws of a Gaussian mixture as the posterior layer receives them: the checks
every engine's draws pass, and the kernel arrays of every draw.

Shapes: ``weights`` (n_chains, n_draws, K), ``means`` (n_chains, n_draws, K, D),
``covariances`` (n_chains, n_draws, K, D, D) full matrices whatever the
engine's covariance type.  A slot with weight 0 or NaN, or NaN in its mean or
covariance, is *unused* (a Gibbs slot beyond a draw's number of clusters, an
engine's spare capacity).

The kernel arrays are built by :func:`bayesmix._components.from_covariances`,
the one constructor of component arrays, with the draws flattened to one batch
axis ``n_flat = n_chains * n_draws``; the passes below run
:func:`bayesmix._kernels.log_prob_pass` once per draw over the data's
:class:`Rows`: feature-major (n_features, n_samples), centred on ``center``
(n_features,).

Missing values
--------------
NaN in ``X`` is a missing value (missing at random): every per-row quantity
of a draw is that of the row's observed features ``o``, the marginal mixture
``sum_k pi_k N(x_o | mu_k[o], Sigma_k[o, o])`` and its responsibilities
(Little & Rubin 2002, ch. 11).  :func:`rows_of` splits the rows once: the
complete ones take the complete-data pass above (data without NaN take it
exactly as before, the same arrays and kernel, so the same bits); the rows
with holes go through EM's missing-data machinery,
:func:`bayesmix._missing.expected_rows` (one pass per missingness pattern
for a few patterns, the one-pass kernel :mod:`bayesmix._kernels._incomplete`
for many), with each draw's weights, means and full covariances
(:class:`FullDraws`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _missing
from ._components import Components, from_covariances
from ._data import Patterns
from ._kernels import log_prob_pass
from ._relabel import apply_permutation
from ._validation import check_sample_weight, check_X
from .covariance import get_structure

__all__ = [
    "CheckedData",
    "CheckedDraws",
    "FullDraws",
    "Rows",
    "as_float",
    "check_concentration",
    "check_data",
    "check_draws",
    "check_labels",
    "check_sample_stats",
    "data_center",
    "densities",
    "evaluate",
    "full_draws",
    "keep_components",
    "kernel_components",
    "log_prob",
    "permute_components",
    "relabelling_probabilities",
    "rows_of",
]


class CheckedDraws(NamedTuple):
    """Parameter draws after :func:`check_draws`: weights normalised per draw,
    unused slots zero weight and NaN parameters; ``unused`` (C, S, K) bool."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    unused: np.ndarray


class CheckedData(NamedTuple):
    """The data the draws describe after :func:`check_data` (all None without X)."""

    X: np.ndarray | None
    sample_weight: np.ndarray | None
    feature_names: list[str] | None


def as_float(value, name: str, ndim: int, shape_hint: str) -> np.ndarray:
    """``value`` as a float64 array (a copy) of ``ndim`` axes, or an error naming
    the expected shape ``shape_hint`` and the cure."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers {shape_hint}.") from None
    if arr.ndim != ndim:
        cure = (
            "add a chain axis with arr[None] for a single chain"
            if arr.ndim == ndim - 1 and name != "covariances"
            else "pass one value per chain and draw"
        )
        if name == "covariances":
            cure = "pass full matrices (expand diag, spherical or tied types)"
        raise ValueError(
            f"{name} must have shape {shape_hint}, got an array of shape {arr.shape}; {cure}."
        )
    return arr


def check_draws(weights, means, covariances) -> CheckedDraws:
    """Check the shapes and values of raw parameter draws (see the module
    docstring) and mark the unused slots.

    Returns
    -------
    CheckedDraws
        Weights sum to 1 in each draw; unused slots have weight 0 and NaN
        means and covariances.
    """
    weights = as_float(weights, "weights", 3, "(n_chains, n_draws, n_components)")
    n_chains, n_draws, n_components = weights.shape
    if n_chains < 1 or n_draws < 1 or n_components < 1:
        raise ValueError(
            f"weights has shape {weights.shape}; every axis needs length >= 1 "
            "(at least one chain, one draw and one component)."
        )
    means = as_float(means, "means", 4, "(n_chains, n_draws, n_components, n_features)")
    if means.shape[:3] != weights.shape:
        raise ValueError(
            f"means has shape {means.shape}; its first three axes must match weights "
            f"{weights.shape}."
        )
    n_features = means.shape[3]
    covariances = as_float(
        covariances,
        "covariances",
        5,
        "(n_chains, n_draws, n_components, n_features, n_features)",
    )
    if covariances.shape != (*means.shape, n_features):
        raise ValueError(
            f"covariances must have shape {(*means.shape, n_features)} (full matrices; "
            f"expand diagonal, spherical or tied types), got {covariances.shape}."
        )

    unused = (
        ~np.isfinite(weights)
        | (weights == 0)
        | ~np.isfinite(means).all(axis=3)
        | ~np.isfinite(covariances).all(axis=(3, 4))
    )
    if (weights[~unused] < 0).any():
        raise ValueError("weights must be non-negative.")
    weights = np.where(unused, 0.0, weights)
    totals = weights.sum(axis=2, keepdims=True)
    if (totals <= 0).any():
        c, s = map(int, np.argwhere(totals[..., 0] <= 0)[0])
        raise ValueError(
            f"draw (chain {c}, draw {s}) has no used component (all weights zero or NaN)."
        )
    weights = weights / totals
    means[unused] = np.nan
    covariances[unused] = np.nan
    return CheckedDraws(weights, means, covariances, unused)


def check_concentration(concentration, n_chains: int, n_draws: int) -> np.ndarray | None:
    """Draws of a learned concentration, (n_chains, n_draws), or None."""
    if concentration is None:
        return None
    concentration = as_float(concentration, "concentration", 2, "(n_chains, n_draws)")
    if concentration.shape != (n_chains, n_draws):
        raise ValueError(
            f"concentration must have shape {(n_chains, n_draws)}, got {concentration.shape}."
        )
    return concentration


def check_data(X, sample_weight, feature_names, n_features: int, has_labels: bool) -> CheckedData:
    """The data ``X`` (n_samples, n_features) the draws describe, its frequency
    weights and feature names (taken from a DataFrame ``X`` when not given).
    NaN cells of ``X`` are missing values; infinity and a row with every
    feature missing are errors naming the rows."""
    if X is not None:
        # NaN cells are missing values; inf and rows with nothing observed are refused
        X, names = check_X(X, allow_nan=True)
        if X.shape[1] != n_features:
            raise ValueError(
                f"X has {X.shape[1]} features but the draws have {n_features}; pass the "
                "data the engine was fitted to."
            )
        if feature_names is None and names is not None:
            feature_names = names
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
    elif has_labels or sample_weight is not None:
        raise ValueError("labels and sample_weight describe rows of X; pass X as well.")
    if feature_names is not None:
        feature_names = [str(f) for f in feature_names]
        if len(feature_names) != n_features:
            raise ValueError(
                f"feature_names has {len(feature_names)} entries but there are "
                f"{n_features} features."
            )
    return CheckedData(X, sample_weight, feature_names)


def check_labels(labels, unused: np.ndarray, n_samples: int) -> np.ndarray | None:
    """Sampled partitions (n_chains, n_draws, n_samples) as int64; every row must
    be given a used slot of its draw (``unused`` (C, S, K))."""
    if labels is None:
        return None
    n_chains, n_draws, n_components = unused.shape
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError("labels must be an integer array.")
    if labels.shape != (n_chains, n_draws, n_samples):
        raise ValueError(
            f"labels must have shape {(n_chains, n_draws, n_samples)} "
            f"(n_chains, n_draws, n_samples), got {labels.shape}."
        )
    if labels.min() < 0 or labels.max() >= n_components:
        raise ValueError(f"labels must index components, 0 <= label < {n_components}.")
    slot_unused = np.take_along_axis(unused, labels, axis=2)
    if slot_unused.any():
        raise ValueError(
            "labels assign rows to a component slot with zero weight or NaN "
            "parameters; every labelled slot must be a used component."
        )
    return labels.astype(np.int64)


def check_sample_stats(sample_stats: dict | None, n_chains: int, n_draws: int) -> dict:
    """Engine statistics per draw, each with leading shape (n_chains, n_draws)."""
    out = {}
    for name, value in (sample_stats or {}).items():
        arr = np.asarray(value)
        if arr.shape[:2] != (n_chains, n_draws):
            raise ValueError(
                f"sample_stats[{name!r}] must have leading shape {(n_chains, n_draws)} "
                f"(chain, draw), got {arr.shape}."
            )
        out[str(name)] = arr
    return out


def kernel_components(draws: CheckedDraws) -> Components:
    """Kernel arrays of every draw, flattened to (n_flat, K, ...).

    Unused slots get a zero mean and an identity covariance (their weight is
    0, so they never contribute); the arrays stay in the units of the draws.

    Raises
    ------
    ValueError
        If a used covariance is not symmetric or not positive definite (the
        message names the chain, draw and component).
    """
    _n_chains, n_draws, n_components, n_features = draws.means.shape
    unused = draws.unused.reshape(-1, n_components)
    means = draws.means.reshape(-1, n_components, n_features).copy()
    covs = draws.covariances.reshape(-1, n_components, n_features, n_features).copy()
    means[unused] = 0.0
    covs[unused] = np.eye(n_features)
    if not np.allclose(covs, np.swapaxes(covs, -1, -2), rtol=1e-8, atol=1e-12):
        raise ValueError("covariances must be symmetric matrices.")
    try:
        return from_covariances(draws.weights.reshape(-1, n_components), means, covs)
    except np.linalg.LinAlgError:
        bad = np.linalg.eigvalsh(covs)[..., 0] <= 0
        flat, k = map(int, np.argwhere(bad)[0])
        c, s = divmod(flat, n_draws)
        raise ValueError(
            f"covariance of component {k} in chain {c}, draw {s} is not positive definite."
        ) from None


def permute_components(kernel: Components, perm: np.ndarray) -> Components:
    """Kernel arrays with the components of draw ``s`` reordered by ``perm[s]``."""
    means, prec, log_const, _ = kernel
    return Components(
        apply_permutation(means, perm, axis=1),
        np.ascontiguousarray(apply_permutation(prec, perm, axis=1)),
        apply_permutation(log_const, perm, axis=1),
    )


def keep_components(kernel: Components, keep: np.ndarray) -> Components:
    """Kernel arrays of the components ``keep`` (K,) bool of every draw."""
    means, prec, log_const, _ = kernel
    return Components(means[:, keep], np.ascontiguousarray(prec[:, keep]), log_const[:, keep])


def data_center(X, n_features: int) -> np.ndarray:
    """The centre of the passes: each feature's mean over its observed cells
    (zeros without data, and for a feature never observed); the plain mean
    for data without NaN."""
    if X is None:
        return np.zeros(n_features)
    observed = ~np.isnan(X)
    if observed.all():
        return X.mean(axis=0)
    count = observed.sum(axis=0)
    total = np.where(observed, X, 0.0).sum(axis=0)
    return np.divide(total, count, out=np.zeros(n_features), where=count > 0)


class Rows(NamedTuple):
    """Rows of ``X`` as the passes read them (see :func:`rows_of`): centred on
    ``center``, feature-major, the complete rows apart from those with holes."""

    Xt: np.ndarray  # (D, n_complete) the complete rows
    center: np.ndarray  # (D,)
    n_samples: int
    complete: np.ndarray | None  # (n_complete,) their row numbers; None: no NaN, Xt is X
    holes: np.ndarray | None  # (D, n_holes) the rows with a missing cell, NaN kept
    holey: np.ndarray | None  # (n_holes,) their row numbers
    patterns: Patterns | None  # the missingness patterns of ``holes``


def rows_of(X: np.ndarray, center: np.ndarray) -> Rows:
    """``X`` (n_samples, n_features), NaN where missing, split for the passes.

    Without NaN, ``Rows.Xt`` is ``(X - center).T`` (contiguous) and nothing
    else is set: the complete-data pass, as before missing values existed.
    """
    has_hole = np.isnan(X).any(axis=1)
    if not has_hole.any():
        return Rows(np.ascontiguousarray((X - center).T), center, X.shape[0], *(None,) * 4)
    complete, holey = np.flatnonzero(~has_hole), np.flatnonzero(has_hole)
    X_holes = X[holey]
    return Rows(
        np.ascontiguousarray((X[complete] - center).T),
        center,
        X.shape[0],
        complete,
        np.ascontiguousarray((X_holes - center).T),
        holey,
        Patterns(X_holes),
    )


class FullDraws(NamedTuple):
    """Every draw's mixture, flattened to (n_flat, K, ...), as the
    missing-data passes read it: full covariances, unused slots with weight
    0, a zero mean and an identity covariance (as in :func:`kernel_components`)."""

    weights: np.ndarray  # (n_flat, K)
    means: np.ndarray  # (n_flat, K, D)
    covariances: np.ndarray  # (n_flat, K, D, D)


def full_draws(weights, means, covariances) -> FullDraws:
    """:class:`FullDraws` of checked draws ``weights`` (C, S, K), ``means``
    (C, S, K, D), ``covariances`` (C, S, K, D, D), unused slots NaN."""
    n_components, n_features = means.shape[2:]
    weights = weights.reshape(-1, n_components)
    means = means.reshape(-1, n_components, n_features).copy()
    covs = covariances.reshape(-1, n_components, n_features, n_features).copy()
    unused = (weights == 0) | ~np.isfinite(means).all(axis=2) | ~np.isfinite(covs).all(axis=(2, 3))
    means[unused] = 0.0
    covs[unused] = np.eye(n_features)
    return FullDraws(np.where(unused, 0.0, weights), means, covs)


class _DrawParams(NamedTuple):
    """One draw as :func:`bayesmix._missing.expected_rows` reads EM's parameters."""

    weights: np.ndarray  # (K,)
    means: np.ndarray  # (K, D), centred
    covariances: np.ndarray  # (K, D, D)


_FULL = get_structure("full")


def log_prob(kernel: Components, flat: int, rows: Rows, row_lse=None, resp=None, full=None) -> None:
    """One pass of draw ``flat`` over ``rows``: fill ``row_lse`` (n,) with the log
    density of each row's observed features and/or ``resp`` (n, K) with the
    responsibilities given them.

    Rows with missing cells need ``full`` (:class:`FullDraws`, the same draws
    as ``kernel``): they take :func:`bayesmix._missing.expected_rows`, the
    marginal over each row's observed features.  Complete rows take the
    complete-data kernel pass with ``kernel``'s arrays.
    """
    means, prec, log_const, _ = kernel
    direct = rows.complete is None  # no NaN anywhere: the complete-data pass, in place
    if direct or rows.complete.size:
        n_c, n_components = rows.Xt.shape[1], log_const.shape[1]
        lse_c = row_lse if direct or row_lse is None else np.empty(n_c)
        resp_c = resp if direct or resp is None else np.empty((n_c, n_components))
        log_prob_pass(
            rows.Xt,
            np.ascontiguousarray(means[flat] - rows.center),
            prec[flat],
            np.ascontiguousarray(log_const[flat]),
            row_lse=lse_c,
            resp=resp_c,
        )
        if direct:
            return
        if row_lse is not None:
            row_lse[rows.complete] = lse_c
        if resp is not None:
            resp[rows.complete] = resp_c
    params = _DrawParams(full.weights[flat], full.means[flat] - rows.center, full.covariances[flat])
    lse_h, resp_h, _ = _missing.expected_rows(_FULL, params, rows.holes, rows.patterns)
    if row_lse is not None:
        row_lse[rows.holey] = lse_h
    if resp is not None:
        resp[rows.holey] = resp_h


def relabelling_probabilities(kernel: Components, rows: Rows, sample_weight, full=None):
    """Allocation probabilities ``probs`` (n_flat, n, K) of every draw, and its
    weighted log-likelihood ``score`` (n_flat,) (the pivot of relabelling)."""
    n_flat, n_components = kernel.log_const.shape
    n_samples = rows.n_samples
    probs = np.empty((n_flat, n_samples, n_components))
    score = np.empty(n_flat)
    row_lse = np.empty(n_samples)
    resp = np.empty((n_samples, n_components))
    for flat in range(n_flat):
        log_prob(kernel, flat, rows, row_lse=row_lse, resp=resp, full=full)
        score[flat] = sample_weight @ row_lse
        probs[flat] = resp
    return probs, score


def evaluate(kernel: Components, rows: Rows, seed: int, sample: bool, full=None):
    """Pointwise log-likelihood (n_flat, n) of every draw and, when ``sample``,
    a partition (n_flat, n) int drawn from each draw's responsibilities (one
    uniform per row from ``default_rng(seed)``, inverse-CDF); else None."""
    n_flat, n_components = kernel.log_const.shape
    n_samples = rows.n_samples
    lse = np.empty((n_flat, n_samples))
    alloc = np.empty((n_flat, n_samples), dtype=np.int64) if sample else None
    resp = np.empty((n_samples, n_components)) if sample else None
    rng = np.random.default_rng(seed)
    for flat in range(n_flat):
        log_prob(kernel, flat, rows, row_lse=lse[flat], resp=resp, full=full)
        if sample:
            u = rng.random(n_samples)
            cum = np.cumsum(resp, axis=1)
            alloc[flat] = np.minimum(
                (cum < (u * cum[:, -1])[:, None]).sum(axis=1), n_components - 1
            )
    return lse, alloc


def densities(kernel: Components, rows: Rows, full=None) -> np.ndarray:
    """Mixture density (n_flat, n) of every draw at ``rows`` (of each row's
    observed features)."""
    dens = np.empty((kernel.log_const.shape[0], rows.n_samples))
    for flat in range(dens.shape[0]):
        log_prob(kernel, flat, rows, row_lse=dens[flat], full=full)
    np.exp(dens, out=dens)
    return dens
