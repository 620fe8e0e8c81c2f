"""Helpers shared by the plotting modules: axes, colours, data coercion and
the densities drawn from a fitted model's parameters.

The densities are evaluated by the engines' kernel
(:func:`bayesmix._kernels.log_prob_pass`) on component arrays from
:func:`bayesmix._components.from_covariances`, so a plot computes a Gaussian
density the same way a fit does.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._components import from_covariances
from .._kernels import log_prob_pass
from ..covariance import get_structure


def _axes(ax, figsize=(5.5, 4.5)):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def _colour(k: int) -> str:
    return f"C{k % 10}"


def _as_X(X) -> np.ndarray:
    if hasattr(X, "to_numpy"):
        X = X.to_numpy()
    X = np.asarray(X, dtype=float)
    return X.reshape(-1, 1) if X.ndim == 1 else X


def _feature_label(model, j: int) -> str:
    names = getattr(model, "feature_names_in_", None)
    return str(names[j]) if names is not None else f"feature {j}"


def _full_covariances(model) -> np.ndarray:
    """``covariances_`` of any engine as a (n_components, n_features, n_features)
    stack (an engine without ``covariance_type`` holds full matrices)."""
    k, d = np.shape(model.means_)
    structure = get_structure(getattr(model, "covariance_type", "full"))
    return structure.to_full(np.asarray(model.covariances_), k, d)


def _visible(model, min_weight: float) -> np.ndarray:
    """The components to draw: weight at least ``min_weight`` and, for a
    variational fit, effective (the most probable for some training row:
    ``n_effective_components_``, the count that fit reports everywhere)."""
    keep = np.asarray(model.weights_) >= min_weight
    effective = getattr(model, "effective_components_", None)
    if effective is not None:
        keep &= np.asarray(effective, dtype=bool)
    return np.flatnonzero(keep)


def _kernel_inputs(means, covs, points):
    """Component arrays with unit weights, and the points feature-major, both
    centred on the mean of the component means (no precision lost to offsets)."""
    means = np.asarray(means, dtype=float)
    center = means.mean(axis=0)
    comps = from_covariances(np.ones(means.shape[0]), means - center, covs)
    Xt = np.ascontiguousarray((np.asarray(points, dtype=float) - center).T)
    return comps, Xt


def _gaussian_mixture_density(weights, means, covs, points) -> np.ndarray:
    """Density at ``points`` (n, d) of the Gaussian mixture with ``weights`` (K,),
    ``means`` (K, d) and full ``covs`` (K, d, d), for the marginal plots."""
    comps, Xt = _kernel_inputs(means, covs, points)
    with np.errstate(divide="ignore"):
        log_const = comps.log_const + np.log(np.asarray(weights, dtype=float))
    row_lse = np.empty(Xt.shape[1])
    log_prob_pass(Xt, comps.means, comps.prec, log_const, row_lse=row_lse)
    return np.exp(row_lse)


def _component_densities(weights, means, covs, points) -> np.ndarray:
    """``weights[k] * N(points | means[k], covs[k])``, (K, n): each component's
    share of the mixture density at ``points`` (n, d)."""
    comps, Xt = _kernel_inputs(means, covs, points)
    out = np.empty((comps.means.shape[0], Xt.shape[1]))
    for k in range(out.shape[0]):
        one = slice(k, k + 1)
        log_prob_pass(Xt, comps.means[one], comps.prec[one], comps.log_const[one], row_lse=out[k])
    return np.asarray(weights, dtype=float)[:, None] * np.exp(out)


def _padded_range(values, pad=0.1):
    lo, hi = float(np.min(values)), float(np.max(values))
    span = hi - lo if hi > lo else max(abs(lo), 1.0)
    return lo - pad * span, hi + pad * span


def _hist(ax, x):
    """Density histogram with at least 20 bins: the 'auto' rule is too coarse
    for the small samples that mixtures are often fitted to."""
    edges = np.histogram_bin_edges(x, bins="auto")
    if edges.size < 21:
        edges = np.linspace(edges[0], edges[-1], 21)
    ax.hist(x, bins=edges, density=True, color="0.87", edgecolor="0.6", lw=0.5)


def _call(model, method: str, X):
    """``model.method(X)`` on a plain array.  The columns of the arrays drawn
    here are the model's own, in order, so the warning a model fitted on a
    DataFrame gives for unnamed input says nothing useful and is silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return getattr(model, method)(X)


def _hard_labels(model, X, resp=None):
    if resp is not None:
        return np.asarray(resp).argmax(axis=1)
    return np.asarray(_call(model, "predict", X))
