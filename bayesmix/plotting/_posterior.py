"""Figures of a posterior: the density with its credible band, the number of
occupied components, co-clustering and assignment uncertainty."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._common import _as_X, _axes, _call, _colour, _feature_label, _hist, _padded_range

__all__ = [
    "plot_coclustering",
    "plot_density_band",
    "plot_n_components",
    "plot_posterior_density",
    "plot_uncertainty",
]


def plot_density_band(
    grid,
    mean,
    lower=None,
    upper=None,
    *,
    data=None,
    ax=None,
    label: str | None = "posterior mean",
    color: str = "C0",
):
    """A 1-D density with a shaded credible band.

    Parameters
    ----------
    grid : array-like, shape (n_points,)
        Points where the density was evaluated.
    mean : array-like, shape (n_points,)
        Posterior mean (or point estimate) of the density.
    lower, upper : array-like, shape (n_points,), optional
        Pointwise credible band, e.g. from ``MixturePosterior.density(grid, ci=0.9)``.
    data : array-like, shape (n_samples,) or (n_samples, 1), optional
        Drawn as a density histogram and a rug.
    ax : matplotlib Axes, optional
    label : str, optional
        Legend entry of the mean curve.
    color : str, default="C0"

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    grid = np.asarray(grid, dtype=float).ravel()
    mean = np.asarray(mean, dtype=float).ravel()
    if mean.shape != grid.shape:
        raise ValueError(f"mean has shape {mean.shape} but grid has {grid.shape}; they must match.")
    if data is not None:
        x = _as_X(data)[:, 0]
        _hist(ax, x)
        ax.plot(x, np.zeros_like(x), "|", color="0.3", ms=8)
    if (lower is None) != (upper is None):
        raise ValueError("give both lower and upper for a band, or neither.")
    if lower is not None:
        lower = np.asarray(lower, dtype=float).ravel()
        upper = np.asarray(upper, dtype=float).ravel()
        if lower.shape != grid.shape or upper.shape != grid.shape:
            raise ValueError("lower and upper must have the shape of grid.")
        ax.fill_between(grid, lower, upper, color=color, alpha=0.3, lw=0, label="credible band")
    ax.plot(grid, mean, color=color, lw=1.8, label=label)
    ax.set_ylabel("density")
    ax.set_ylim(bottom=0)
    if label is not None or lower is not None:
        ax.legend(frameon=False)
    return ax


def plot_posterior_density(
    posterior,
    data=None,
    ax=None,
    *,
    grid=None,
    ci: float = 0.9,
    color: str = "C0",
):
    """Posterior mean density of a one-feature mixture with its credible band.

    Calls ``posterior.density(grid, ci=ci)`` and draws it with
    :func:`plot_density_band`.

    Parameters
    ----------
    posterior : MixturePosterior
        Of a model fitted to one feature.
    data : array-like, shape (n_samples,) or (n_samples, 1), optional
        Drawn as a histogram and a rug; defaults to the posterior's own data.
    ax : matplotlib Axes, optional
    grid : array-like, shape (n_points,), optional
        Default: 400 points over the data's range, widened by 10% each side.
    ci : float in (0, 1), default=0.9
        Probability of the pointwise equal-tailed band.
    color : str, default="C0"

    Returns
    -------
    matplotlib.axes.Axes
    """
    if posterior.n_features != 1:
        raise ValueError(
            f"plot_posterior_density draws one feature, the posterior has "
            f"{posterior.n_features}; use plot_density for a fitted model's contours."
        )
    if data is None:
        data = posterior.X
    if grid is None:
        if data is None:
            raise ValueError("give grid (or data to take its range from).")
        grid = np.linspace(*_padded_range(_as_X(data)[:, 0]), 400)
    grid = np.asarray(grid, dtype=float).ravel()
    band = posterior.density(grid[:, None], ci=ci)
    ax = plot_density_band(grid, band.mean, band.lower, band.upper, data=data, ax=ax, color=color)
    handles, labels = ax.get_legend_handles_labels()
    labels = [f"{ci:.0%} credible band" if lab == "credible band" else lab for lab in labels]
    ax.legend(handles, labels, frameon=False)
    names = getattr(posterior, "feature_names", None)
    ax.set_xlabel(names[0] if names else "feature 0")
    return ax


def _n_components_distribution(source):
    """``(ks, probabilities)`` from the accepted inputs of :func:`plot_n_components`."""
    if hasattr(source, "n_components") and callable(source.n_components):
        source = source.n_components()
    if hasattr(source, "index") and hasattr(source, "to_numpy"):  # a pandas Series
        return np.asarray(source.index, dtype=int), np.asarray(source.to_numpy(), dtype=float)
    if isinstance(source, Mapping):
        ks = np.array(sorted(source), dtype=int)
        return ks, np.array([source[k] for k in ks], dtype=float)
    if isinstance(source, tuple) and len(source) == 2:
        return np.asarray(source[0], dtype=int), np.asarray(source[1], dtype=float)
    draws = np.asarray(source)
    if draws.dtype.kind == "f" and draws.ndim == 1:
        # probabilities indexed by K, as MixturePosterior.n_components() returns
        nonzero = np.flatnonzero(draws > 0)
        if nonzero.size == 0:
            raise ValueError("the probabilities of K are all zero.")
        ks = np.arange(nonzero[0], nonzero[-1] + 1)
        return ks, draws[ks]
    if draws.dtype.kind not in "iu":
        raise TypeError(
            "plot_n_components needs a MixturePosterior, probabilities indexed by K (a 1-D "
            "float array), integer draws of K, a mapping {K: probability}, a pandas Series "
            "indexed by K, or a (ks, probabilities) pair."
        )
    ks, counts = np.unique(draws.ravel(), return_counts=True)
    return ks, counts / counts.sum()


def plot_n_components(source, ax=None, *, color: str = "C0"):
    """Posterior distribution of the number of occupied components, as bars.

    Parameters
    ----------
    source : MixturePosterior, array, mapping, Series or (ks, probabilities)
        Anything with an ``n_components()`` method; a 1-D float array
        ``probs`` with ``probs[k] = P(K = k)`` (what
        :meth:`MixturePosterior.n_components` returns); integer draws of ``K``
        of any shape (e.g. a Gibbs model's ``n_clusters_samples_``); a mapping
        ``{K: p}``; a pandas Series indexed by ``K``; or a pair of arrays.
    ax : matplotlib Axes, optional
    color : str, default="C0"

    Returns
    -------
    matplotlib.axes.Axes
    """
    ks, probs = _n_components_distribution(source)
    ax = _axes(ax, figsize=(5.0, 3.5))
    bars = ax.bar(ks, probs, color=color, width=0.7)
    mode = int(np.argmax(probs))
    bars[mode].set_edgecolor("k")
    bars[mode].set_linewidth(1.5)
    for b, p in zip(bars, probs, strict=True):
        if p >= 0.005:
            ax.annotate(
                f"{p:.2f}",
                (b.get_x() + b.get_width() / 2, p),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
    ax.set_xticks(ks)
    ax.set_xlabel("number of occupied components")
    ax.set_ylabel("posterior probability")
    ax.set_ylim(0, min(1.0, probs.max() * 1.15 + 0.02))
    return ax


def _partition_order(matrix: np.ndarray, partition: np.ndarray) -> np.ndarray:
    """Rows grouped by cluster (largest first); inside a cluster, the points
    most often together with their cluster first."""
    clusters, sizes = np.unique(partition, return_counts=True)
    order = []
    for c in clusters[np.argsort(-sizes, kind="stable")]:
        members = np.flatnonzero(partition == c)
        cohesion = matrix[np.ix_(members, members)].mean(axis=1)
        order.extend(members[np.argsort(-cohesion, kind="stable")])
    return np.asarray(order)


def plot_coclustering(source, partition=None, ax=None, *, cmap: str = "Greys"):
    """Posterior co-clustering probabilities as a heatmap.

    Entry ``(i, j)`` is the posterior probability that rows ``i`` and ``j``
    share a component.  Rows and columns are grouped by ``partition`` (a
    point estimate such as ``MixturePosterior.point_partition()``), with lines
    between its clusters: clean blocks mean a confident partition.

    Parameters
    ----------
    source : MixturePosterior or array-like, shape (n_samples, n_samples)
        With a posterior, ``coclustering()`` and (unless ``partition`` is
        given) ``point_partition()`` are called.
    partition : array-like of int, shape (n_samples,), optional
        Without one, rows keep their order.
    ax : matplotlib Axes, optional
    cmap : str, default="Greys"

    Returns
    -------
    matplotlib.axes.Axes
    """
    if hasattr(source, "coclustering"):
        matrix = np.asarray(source.coclustering(), dtype=float)
        if partition is None and hasattr(source, "point_partition"):
            partition = source.point_partition()
    else:
        matrix = np.asarray(source, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"the co-clustering matrix must be square, got shape {matrix.shape}.")
    n = matrix.shape[0]
    ax = _axes(ax, figsize=(5.0, 4.3))
    if partition is not None:
        partition = np.asarray(partition).ravel()
        if partition.shape != (n,):
            raise ValueError(f"partition must have shape ({n},), got {partition.shape}.")
        order = _partition_order(matrix, partition)
    else:
        order = np.arange(n)
    image = ax.imshow(
        matrix[np.ix_(order, order)],
        cmap=cmap,
        vmin=0.0,
        vmax=1.0,
        interpolation="nearest",
        extent=(-0.5, n - 0.5, n - 0.5, -0.5),
    )
    if partition is not None:
        sorted_labels = partition[order]
        for cut in np.flatnonzero(sorted_labels[1:] != sorted_labels[:-1]) + 0.5:
            ax.axhline(cut, color="C3", lw=0.8)
            ax.axvline(cut, color="C3", lw=0.8)
    ax.figure.colorbar(image, ax=ax, label="P(same component)", fraction=0.046, pad=0.04)
    ax.set_xlabel("observation (ordered by partition)" if partition is not None else "observation")
    ax.set_ylabel("observation")
    return ax


def plot_uncertainty(model, X, ax=None, *, resp=None, features: tuple[int, int] = (0, 1)):
    """Assignment uncertainty ``1 - max_k p(k | x_i)`` of every row (mclust's
    uncertainty plot).

    In 2-D, points are coloured by hard label and sized by their uncertainty,
    so the rows that could belong elsewhere stand out.  With one feature the
    uncertainty is drawn against the feature.

    Parameters
    ----------
    model : fitted estimator or None
        Supplies ``predict_proba(X)`` unless ``resp`` is given.
    X : array-like, shape (n_samples, n_features)
    ax : matplotlib Axes, optional
    resp : array-like, shape (n_samples, n_components), optional
        Responsibilities (e.g. a posterior's allocation probabilities).
    features : pair of int, default=(0, 1)

    Returns
    -------
    matplotlib.axes.Axes
    """
    X = _as_X(X)
    if resp is None:
        resp = _call(model, "predict_proba", X)
    resp = np.asarray(resp, dtype=float)
    if resp.ndim != 2 or resp.shape[0] != X.shape[0]:
        raise ValueError(
            f"resp must have shape (n_samples={X.shape[0]}, n_components), got {resp.shape}."
        )
    uncertainty = 1.0 - resp.max(axis=1)
    labels = resp.argmax(axis=1)
    colours = [_colour(c) for c in labels]
    worst = max(1.0 - 1.0 / resp.shape[1], 1e-12)  # largest possible uncertainty
    ax = _axes(ax)
    if X.shape[1] == 1:
        ax.scatter(X[:, 0], uncertainty, s=12, c=colours, lw=0)
        ax.set_xlabel(_feature_label(model, 0) if model is not None else "feature 0")
        ax.set_ylabel("assignment uncertainty")
        ax.set_ylim(-0.02, worst + 0.02)
        return ax
    i, j = features
    sizes = 3.0 + 120.0 * uncertainty / worst
    ax.scatter(X[:, i], X[:, j], s=sizes, c=colours, alpha=0.7, lw=0)
    for u in (0.05, 0.2, 0.4):
        if u < worst:
            ax.scatter([], [], s=3.0 + 120.0 * u / worst, c="0.4", lw=0, label=f"{u:.2f}")
    ax.legend(title="uncertainty", frameon=False, loc="best", fontsize=8)
    ax.set_xlabel(_feature_label(model, i) if model is not None else f"feature {i}")
    ax.set_ylabel(_feature_label(model, j) if model is not None else f"feature {j}")
    return ax
