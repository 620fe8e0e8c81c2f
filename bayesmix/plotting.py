"""Matplotlib figures.  Every function takes ``ax=None`` and returns the Axes;
matplotlib is imported only when a function is called."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_components"]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5.5, 4.5))
    return ax


def plot_components(model, X, ax=None, features=(0, 1), n_std=(1.0, 2.0), labels=True):
    """Scatter ``X`` coloured by hard labels, with one ellipse per component at
    ``n_std`` standard deviations (in the plane of ``features``).

    Parameters
    ----------
    model : fitted mixture with ``means_``, ``weights_`` and ``covariances_``
    X : (n_samples, n_features) array
    ax : matplotlib Axes, optional
    features : pair of column indices to draw
    n_std : radii of the ellipses in standard deviations
    labels : colour points by ``model.predict(X)``
    """
    from matplotlib.patches import Ellipse

    ax = _axes(ax)
    X = np.asarray(X, dtype=float)
    i, j = features
    k, d = model.means_.shape
    covs = model._structure.to_full(model.covariances_, k, d)
    colours = [f"C{c % 10}" for c in range(k)]
    if labels:
        lab = model.predict(X)
        ax.scatter(X[:, i], X[:, j], s=8, c=[colours[c] for c in lab], alpha=0.6, lw=0)
    else:
        ax.scatter(X[:, i], X[:, j], s=8, c="0.4", alpha=0.6, lw=0)
    for c in range(k):
        sub = covs[c][np.ix_([i, j], [i, j])]
        vals, vecs = np.linalg.eigh(sub)
        angle = np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1]))
        for r in n_std:
            w, h = 2 * r * np.sqrt(np.maximum(vals[::-1], 0))
            ax.add_patch(
                Ellipse(
                    model.means_[c, [i, j]], w, h, angle=angle, fill=False,
                    ec=colours[c], lw=1.5 if r == n_std[0] else 0.8,
                )
            )
        ax.plot(*model.means_[c, [i, j]], marker="x", color="k", ms=7)
        ax.annotate(
            f"{model.weights_[c]:.2f}", model.means_[c, [i, j]], xytext=(4, 4),
            textcoords="offset points", fontsize=8,
        )
    names = getattr(model, "feature_names_in_", None)
    ax.set_xlabel(names[i] if names is not None else f"feature {i}")
    ax.set_ylabel(names[j] if names is not None else f"feature {j}")
    return ax
