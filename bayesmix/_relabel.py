"""Undo label switching: one permutation of the component slots per draw.

A mixture's likelihood is invariant to permuting its components, so draws
from any engine may name the same component differently (a Gibbs sampler
moving between modes, bootstrap replicates started elsewhere).  Before
component-specific quantities are summarised, every draw is permuted to a
common labelling:

* :func:`stephens` (data-based, the default when data are available):
  Stephens' (2000) algorithm on allocation probabilities, started from a
  pivot draw; each step is one Hungarian assignment per draw
  (:func:`scipy.optimize.linear_sum_assignment`).
* :func:`match_parameters` (no data): iterative pivot matching on the
  component means, with the Mahalanobis distance under the pivot's
  covariances (Celeux 1998; Marin, Mengersen & Robert 2005, §4.2).

A permutation ``perm`` (n_draws, n_components) means: common label ``j`` of
draw ``s`` is that draw's slot ``perm[s, j]``.

References
----------
Stephens, M. (2000).  Dealing with label switching in mixture models.
JRSS B 62, 795-809.
Papastamoulis, P. (2016).  label.switching: An R package for dealing with
the label switching problem in MCMC outputs.  JSS 69(1).
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["apply_permutation", "assign_labels", "match_parameters", "stephens"]

_TINY = 1e-12


def assign_labels(cost: np.ndarray) -> np.ndarray:
    """Permutations minimising ``sum_j cost[s, perm[s, j], j]`` for each draw.

    cost : (n_draws, n_components, n_components), rows = draw slots,
    columns = common labels.
    """
    # scipy.optimize costs ~0.3 s to import: only pay it when relabelling
    from scipy.optimize import linear_sum_assignment

    n_draws, n_components, _ = cost.shape
    perm = np.empty((n_draws, n_components), dtype=np.int64)
    for s in range(n_draws):
        rows, cols = linear_sum_assignment(cost[s])
        perm[s, cols] = rows
    return perm


def _permute_last(probs: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """``out[s, :, j] = probs[s, :, perm[s, j]]``."""
    return np.take_along_axis(probs, perm[:, None, :], axis=2)


def stephens(probs: np.ndarray, pivot: int = 0, max_iter: int = 100) -> tuple[np.ndarray, bool]:
    """Stephens' relabelling algorithm, started from a pivot draw.

    Parameters
    ----------
    probs : (n_draws, n_rows, n_components)
        Allocation probabilities of (a subset of) the rows under each draw:
        responsibilities, or one-hot rows for sampled partitions.
    pivot : int
        Draw whose labelling defines the common labels (e.g. the draw of
        highest likelihood).
    max_iter : int
        Maximum relabel / re-estimate sweeps.

    Returns
    -------
    perm : (n_draws, n_components) int
        ``perm[s, j]`` is the slot of draw ``s`` that carries common label ``j``.
    converged : bool
        Whether a sweep changed no permutation.

    Notes
    -----
    Each sweep sets ``Q`` to the mean relabelled allocation matrix and then
    gives every draw the permutation minimising the Kullback-Leibler
    divergence ``sum_i sum_j p_i,perm(j) log(p_i,perm(j) / q_ij)``; only the
    cross term depends on the permutation, so each draw is one Hungarian
    assignment on ``-P_s^T log Q``.  The first sweep uses the pivot draw as
    ``Q``, which is the pivot-and-match method.
    """
    probs = np.asarray(probs, dtype=np.float64)
    n_draws, _, n_components = probs.shape
    if n_components == 1:
        return np.zeros((n_draws, 1), dtype=np.int64), True
    q = probs[pivot]
    perm = None
    converged = False
    for _ in range(max_iter):
        log_q = np.log(q + _TINY)
        cost = -np.einsum("sik,ij->skj", probs, log_q, optimize=True)
        new = assign_labels(cost)
        if perm is not None and np.array_equal(new, perm):
            converged = True
            break
        perm = new
        q = _permute_last(probs, perm).mean(axis=0)
    return perm, converged


def match_parameters(
    means: np.ndarray, covariances: np.ndarray, pivot: int = 0, max_iter: int = 100
) -> tuple[np.ndarray, bool]:
    """Relabel draws without data: match each draw's component means to a
    reference by Mahalanobis distance, the reference being re-estimated as the
    mean of the relabelled draws until no permutation changes.

    Parameters
    ----------
    means : (n_draws, n_components, n_features)
        NaN rows mark unused slots (they match whatever label is left).
    covariances : (n_draws, n_components, n_features, n_features)
    pivot : int
        Draw giving the first reference.

    Returns
    -------
    perm : (n_draws, n_components) int
    converged : bool
    """
    n_draws, n_components, _n_features = means.shape
    if n_components == 1:
        return np.zeros((n_draws, 1), dtype=np.int64), True
    used = np.isfinite(means).all(axis=2)
    ref_mean = means[pivot]
    ref_cov = covariances[pivot]
    perm = None
    converged = False
    for _ in range(max_iter):
        ref_mean, ref_prec = _reference(ref_mean, ref_cov, means, covariances, used)
        diff = means[:, :, None, :] - ref_mean[None, None, :, :]  # (S, slot, label, D)
        cost = np.einsum("skjd,jde,skje->skj", diff, ref_prec, diff, optimize=True)
        cost = np.where(np.isfinite(cost), cost, 0.0)
        new = assign_labels(cost)
        if perm is not None and np.array_equal(new, perm):
            converged = True
            break
        perm = new
        with warnings.catch_warnings():
            # a label no draw uses is all-NaN; _reference fills it in
            warnings.simplefilter("ignore", RuntimeWarning)
            ref_mean = np.nanmean(np.take_along_axis(means, perm[:, :, None], axis=1), axis=0)
            ref_cov = np.nanmean(
                np.take_along_axis(covariances, perm[:, :, None, None], axis=1), axis=0
            )
    return perm, converged


def _reference(ref_mean, ref_cov, means, covariances, used):
    """Fill labels never used (NaN) with the overall mean and covariance, and
    return the reference precisions."""
    ref_mean = np.array(ref_mean, dtype=np.float64)
    ref_cov = np.array(ref_cov, dtype=np.float64)
    missing = ~np.isfinite(ref_mean).all(axis=1) | ~np.isfinite(ref_cov).all(axis=(1, 2))
    if missing.any():
        ref_mean[missing] = means[used].mean(axis=0)
        ref_cov[missing] = covariances[used].mean(axis=0)
    return ref_mean, np.linalg.inv(ref_cov)


def apply_permutation(arr: np.ndarray, perm: np.ndarray, axis: int) -> np.ndarray:
    """Reorder the component axis ``axis`` of ``arr`` (n_draws, ...) by ``perm``
    (n_draws, n_components)."""
    arr = np.asarray(arr)
    axis = axis % arr.ndim
    shape = [perm.shape[0]] + [1] * (arr.ndim - 1)
    shape[axis] = perm.shape[1]
    return np.take_along_axis(arr, perm.reshape(shape), axis=axis)
