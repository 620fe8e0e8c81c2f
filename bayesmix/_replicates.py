"""The EM bootstrap's replicates, whichever way their data are held.

One definition each of what the in-memory bootstrap
(:mod:`bayesmix._em_bootstrap`) and the Dask one (:mod:`bayesmix._dask_boot`)
share: a replicate's refit parameters, the refit itself from prepared data,
the matching of its components to the fit's, and the warning that sums up
failed or troubled replicates.  Both import this module; neither imports the
other at import time.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import _em_core as core
from ._relabel import apply_permutation, assign_labels
from ._validation import check_distinct_rows
from .covariance import get_structure
from .exceptions import ConvergenceWarning

__all__ = ["Replicate", "aligned", "refit", "replicate_params", "warn_troubles"]


def replicate_params(model) -> dict:
    """The parameters of every bootstrap replicate's refit of ``model``.

    Every replicate runs to its own optimum ("auto" stops there whatever the
    model's tol): a replicate stopped a few iterations after the full-data start
    would stay beside it, and the intervals would be far too narrow.  And it
    searches for its best optimum as the fit did (n_init="auto": the full-data
    fit replaces the hierarchical start, then four screened starts): on
    overlapping components a replicate's best optimum is often in another basin
    than the full-data fit's, and the warm start alone would miss that spread
    (90% intervals covered 83% of the time instead of 95%; bench_defaults.py).
    """
    params = model.get_params()
    params.update(
        weights_init=model.weights_,
        means_init=model.means_,
        precisions_init=model.precisions_,
        n_init="auto",
        tol="auto",
        max_iter=max(model.max_iter, 1000),
        warm_start=False,
        verbose=0,
    )
    return params


class Replicate:
    """One replicate's fit, in data units (full covariance matrices)."""

    def __init__(self, config, data, result):
        p, std = result.best.params, data.std
        k, d = p.means.shape
        self.best, self.messages = result.best, result.messages
        self.weights = p.weights.copy()
        self.means = p.means * std.scale + std.center
        self.covariances = config.structure.to_full(p.covariances * std.scale**2, k, d)


def refit(params: dict, prepare_data) -> Replicate:
    """EM fitted as ``n_init="auto"`` fits (four screened starts besides the
    first) with the initial parameters ``params["weights_init"]`` ... (the
    full-data fit) as the first start in place of the hierarchical one, on the
    data ``prepare_data(config, rng)`` returns (a replicate's weights already
    in them)."""
    config, rng = core.check_config(params)
    data = prepare_data(config, rng)
    check_distinct_rows(config.n_components, data.n_distinct)
    given = core.check_init_arrays(config, params, data.n_features)
    if config.n_components == 1:  # one optimum: no other start can find another
        return Replicate(config, data, core.fit(config, data, rng, given))
    ctx = core.context(data, config.reg_covar)
    start = core.initial_params(config, data, rng, given, ctx)
    return Replicate(config, data, core.fit(config, data, rng, {}, start=start))


def aligned(model, fits: list[Replicate]):
    """The replicates' ``(weights, means, covariances)`` (n_draws, K, ...), each
    replicate's components matched to the fit's: the assignment of least total
    Mahalanobis distance between replicate means and the fit's means, under the
    fit's covariances (replicates that ended in another basin than the fit's
    come in any order)."""
    weights = np.asarray([f.weights for f in fits])
    means = np.asarray([f.means for f in fits])
    covs = np.asarray([f.covariances for f in fits])
    k, d = model.means_.shape
    if k == 1:
        return weights, means, covs
    ref_prec = np.linalg.inv(get_structure(model.covariance_type).to_full(model.covariances_, k, d))
    diff = means[:, :, None, :] - model.means_[None, None, :, :]  # (draw, slot, label, D)
    cost = np.einsum("bsjd,jde,bsje->bsj", diff, ref_prec, diff, optimize=True)
    perm = assign_labels(cost)
    return (
        apply_permutation(weights, perm, axis=1),
        apply_permutation(means, perm, axis=1),
        apply_permutation(covs, perm, axis=1),
    )


def warn_troubles(model, n_boot: int, fits: list, caught: list[str], stacklevel: int) -> list:
    """The replicates that succeeded, after one ConvergenceWarning summing up
    those that failed (``fits`` holds their messages), stopped at ``max_iter``,
    needed regularisation or re-seeding, or raised warnings (``caught``);
    ValueError if every replicate failed."""
    failures = [f for f in fits if isinstance(f, str)]
    kept = [f for f in fits if not isinstance(f, str)]
    if not kept:
        raise ValueError(
            f"every bootstrap replicate failed (first reason: {failures[0]}); the model "
            "cannot be refitted to resampled data - lower n_components."
        )
    not_converged = sum(not f.best.converged and model.max_iter > 0 for f in kept)
    degenerate = sum(bool(f.messages) for f in kept)
    notes = []
    if failures:
        notes.append(f"{len(failures)} replicate(s) failed and were dropped ({failures[0]})")
    if not_converged:
        notes.append(f"{not_converged} replicate(s) stopped at max_iter={model.max_iter}")
    if degenerate:
        notes.append(f"{degenerate} replicate(s) needed regularisation or re-seeding")
    if caught:
        notes.append(f"the replicates raised {len(caught)} warning(s) ({caught[0]})")
    if notes:
        warnings.warn(
            f"Bootstrap of {n_boot} EM replicates: {'; '.join(notes)}. Intervals from "
            "such replicates are less reliable; consider fewer components or a larger "
            "max_iter.",
            ConvergenceWarning,
            stacklevel=stacklevel + 1,
        )
    return kept
