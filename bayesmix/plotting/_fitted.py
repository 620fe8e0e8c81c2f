"""Figures of a fitted model: component ellipses and density contours."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._common import (
    _as_X,
    _axes,
    _call,
    _colour,
    _component_densities,
    _feature_label,
    _full_covariances,
    _gaussian_mixture_density,
    _hard_labels,
    _hist,
    _padded_range,
    _visible,
)

__all__ = ["plot_components", "plot_density"]


def plot_components(
    model,
    X,
    ax=None,
    *,
    features: tuple[int, int] = (0, 1),
    n_std: Sequence[float] = (1.0, 2.0),
    labels: bool = True,
    min_weight: float = 0.005,
    legend: bool = True,
):
    """Data coloured by hard label, with each component drawn as ellipses.

    In 2-D and above, each component ``k`` gets ellipses at ``n_std``
    standard deviations of its covariance restricted to ``features``, a cross
    at its mean and its weight as text.  With one feature, a histogram of
    ``X`` is drawn with each weighted component density and the mixture
    density.

    Parameters
    ----------
    model : fitted estimator
        Any bayesmix engine (``weights_``, ``means_``, ``covariances_``,
        ``predict``); for the Bayesian engines these are posterior means.
    X : array-like, shape (n_samples, n_features)
    ax : matplotlib Axes, optional
    features : pair of int, default=(0, 1)
        Columns drawn on the x and y axes (ignored for one feature).
    n_std : sequence of float, default=(1, 2)
        Radii of the ellipses, in standard deviations.
    labels : bool, default=True
        Colour points by ``model.predict(X)``; grey otherwise.
    min_weight : float, default=0.005
        Components with a smaller weight (the empty ones a variational fit
        keeps) are not drawn, nor are a variational fit's components outside
        ``effective_components_`` (the most probable for no training row).
    legend : bool, default=True
        Name the ellipses in a legend: ``r`` standard deviations, and the
        share ``1 - exp(-r^2 / 2)`` of the component's mass (in the plane of
        ``features``) that the ellipse holds.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.patches import Ellipse

    ax = _axes(ax)
    X = _as_X(X)
    covs = _full_covariances(model)
    means = np.asarray(model.means_)
    weights = np.asarray(model.weights_)
    lab = _hard_labels(model, X) if labels else None
    shown = _visible(model, min_weight)

    if means.shape[1] == 1:
        x = X[:, 0]
        _hist(ax, x)
        grid = np.linspace(*_padded_range(x), 400)
        parts = _component_densities(weights, means, covs, grid[:, None])
        for k in shown:
            ax.fill_between(grid, parts[k], color=_colour(k), alpha=0.3, lw=0)
            ax.plot(grid, parts[k], color=_colour(k), lw=1.0, label=f"component {k}")
        ax.plot(grid, parts.sum(0), color="k", lw=1.8, label="mixture")
        colours = [_colour(c) for c in lab] if labels else "0.3"
        ax.scatter(x, np.zeros_like(x), marker="|", s=60, c=colours, lw=1)
        ax.set_xlabel(_feature_label(model, 0))
        ax.set_ylabel("density")
        return ax

    i, j = features
    if labels:
        ax.scatter(X[:, i], X[:, j], s=8, c=[_colour(c) for c in lab], alpha=0.6, lw=0)
    else:
        ax.scatter(X[:, i], X[:, j], s=8, c="0.4", alpha=0.6, lw=0)
    for c in shown:
        sub = covs[c][np.ix_([i, j], [i, j])]
        vals, vecs = np.linalg.eigh(sub)
        angle = np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1]))
        for r in n_std:
            w, h = 2 * r * np.sqrt(np.maximum(vals[::-1], 0))
            ax.add_patch(
                Ellipse(
                    means[c, [i, j]],
                    w,
                    h,
                    angle=angle,
                    fill=False,
                    ec=_colour(c),
                    lw=1.5 if r == n_std[0] else 0.8,
                )
            )
        ax.plot(*means[c, [i, j]], marker="x", color="k", ms=7)
        ax.annotate(
            f"{weights[c]:.2f}",
            means[c, [i, j]],
            xytext=(4, 4),
            textcoords="offset points",
            fontsize=8,
        )
    if legend and len(n_std) and len(shown):
        ax.legend(handles=_ellipse_handles(n_std), title="ellipses", frameon=False, fontsize=8)
    ax.set_xlabel(_feature_label(model, i))
    ax.set_ylabel(_feature_label(model, j))
    return ax


def _ellipse_handles(n_std):
    """Legend entries naming each ellipse: its radius in standard deviations
    and the probability a 2-D Gaussian puts inside it, ``1 - exp(-r^2 / 2)``."""
    from matplotlib.lines import Line2D

    return [
        Line2D(
            [],
            [],
            color="0.3",
            lw=1.5 if r == n_std[0] else 0.8,
            label=f"{r:g} sd ({100 * (1 - np.exp(-0.5 * r * r)):.0f}%)",
        )
        for r in n_std
    ]


# ----------------------------------------------------------------------- density
def plot_density(
    model,
    X=None,
    ax=None,
    *,
    features: tuple[int, int] = (0, 1),
    grid_size: int = 120,
    levels: int = 10,
    filled: bool = False,
):
    """Density of a fitted mixture: contours in 2-D, a curve in 1-D.

    With exactly two features the density is ``exp(model.score_samples)``,
    the engine's own predictive density.  With more, the plane of
    ``features`` shows the marginal of the Gaussian mixture with the fitted
    ``weights_``, ``means_`` and ``covariances_`` (exact for EM; the
    plug-in of the posterior means for the Bayesian engines).

    Parameters
    ----------
    model : fitted estimator
    X : array-like, shape (n_samples, n_features), optional
        Drawn as points (a histogram in 1-D) and used for the plot range.
    ax : matplotlib Axes, optional
    features : pair of int, default=(0, 1)
    grid_size : int, default=120
        Grid points per axis.
    levels : int, default=10
        Number of contour levels.
    filled : bool, default=False
        Filled contours instead of lines.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    means = np.asarray(model.means_)
    n_features = means.shape[1]
    covs = _full_covariances(model)
    sd = np.sqrt(np.einsum("kii->ki", covs))
    if X is not None:
        X = _as_X(X)

    def axis_range(j):
        if X is not None:
            return _padded_range(X[:, j])
        return float((means[:, j] - 3 * sd[:, j]).min()), float((means[:, j] + 3 * sd[:, j]).max())

    if n_features == 1:
        grid = np.linspace(*axis_range(0), 4 * grid_size)
        if X is not None:
            _hist(ax, X[:, 0])
        ax.plot(grid, np.exp(_call(model, "score_samples", grid[:, None])), color="C0", lw=1.8)
        ax.set_xlabel(_feature_label(model, 0))
        ax.set_ylabel("density")
        return ax

    i, j = features
    gx = np.linspace(*axis_range(i), grid_size)
    gy = np.linspace(*axis_range(j), grid_size)
    xx, yy = np.meshgrid(gx, gy)
    points = np.column_stack([xx.ravel(), yy.ravel()])
    if n_features == 2 and (i, j) == (0, 1):
        dens = np.exp(_call(model, "score_samples", points))
    else:
        idx = [i, j]
        dens = _gaussian_mixture_density(
            np.asarray(model.weights_),
            means[:, idx],
            covs[:, idx][:, :, idx],
            points,
        )
    dens = dens.reshape(xx.shape)
    if X is not None:
        ax.scatter(X[:, i], X[:, j], s=6, c="0.35", alpha=0.5, lw=0)
    draw = ax.contourf if filled else ax.contour
    draw(xx, yy, dens, levels=levels, cmap="viridis", linewidths=None if filled else 1.0)
    ax.set_xlabel(_feature_label(model, i))
    ax.set_ylabel(_feature_label(model, j))
    return ax
