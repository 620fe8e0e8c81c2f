"""Matplotlib figures for fitted mixtures and their posteriors.

Every function takes ``ax=None`` (a new figure is made when it is ``None``)
and returns the :class:`matplotlib.axes.Axes` it drew on, so figures compose:
``plot_density(gm, X, ax=plot_components(gm, X))``.  Matplotlib is imported
only when a function is called.

The functions take a fitted model, a :class:`~bayesmix.posterior.MixturePosterior`
or plain arrays, so results from any engine (or computed elsewhere) can be
drawn the same way.

================================ ===================================================
function                         draws
================================ ===================================================
:func:`plot_components`          data coloured by hard label, component ellipses
:func:`plot_density`             density contours (2-D) or curve (1-D)
:func:`plot_density_band`        1-D density with a credible band, from arrays
:func:`plot_posterior_density`   the same from a ``MixturePosterior``
:func:`plot_criterion`           BIC / AIC / ICL against K, one line per covariance
:func:`plot_n_components`        posterior of the number of occupied components
:func:`plot_coclustering`        co-clustering matrix, ordered by a partition
:func:`plot_uncertainty`         assignment uncertainty ``1 - max_k p(k | x)``
:func:`plot_convergence`         log-likelihood or ELBO per iteration
:func:`plot_trace`               MCMC draws per chain
:func:`plot_rank`                rank plot of MCMC draws per chain
================================ ===================================================
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "plot_coclustering",
    "plot_components",
    "plot_convergence",
    "plot_criterion",
    "plot_density",
    "plot_density_band",
    "plot_n_components",
    "plot_posterior_density",
    "plot_rank",
    "plot_trace",
    "plot_uncertainty",
]

_CRITERIA = {"bic": "BIC", "aic": "AIC", "icl": "ICL"}
_COV_ORDER = ("spherical", "diag", "tied", "full")


# ----------------------------------------------------------------------- helpers
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
    """``covariances_`` of any engine as a (n_components, n_features, n_features) stack."""
    from .covariance import get_structure

    k, d = np.shape(model.means_)
    structure = getattr(model, "_structure", None)
    if structure is None:
        structure = get_structure(getattr(model, "covariance_type", "full"))
    return structure.to_full(np.asarray(model.covariances_), k, d)


def _visible(model, min_weight: float) -> np.ndarray:
    return np.flatnonzero(np.asarray(model.weights_) >= min_weight)


def _gaussian_mixture_density(weights, means, covs, points) -> np.ndarray:
    """Density of a Gaussian mixture at ``points`` (n, d), for the marginal plots."""
    dens = np.zeros(points.shape[0])
    for w, m, c in zip(weights, means, covs, strict=True):
        chol = np.linalg.cholesky(c)
        z = np.linalg.solve(chol, (points - m).T)
        log_det = 2.0 * np.log(np.diag(chol)).sum()
        dens += w * np.exp(-0.5 * (z * z).sum(0) - 0.5 * (log_det + len(m) * np.log(2 * np.pi)))
    return dens


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


# -------------------------------------------------------------------- components
def plot_components(
    model,
    X,
    ax=None,
    *,
    features: tuple[int, int] = (0, 1),
    n_std: Sequence[float] = (1.0, 2.0),
    labels: bool = True,
    min_weight: float = 0.005,
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
        keeps) are not drawn.

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
        sd = np.sqrt(covs[:, 0, 0])
        parts = (
            weights[:, None]
            * np.exp(-0.5 * ((grid[None, :] - means[:, :1]) / sd[:, None]) ** 2)
            / (sd[:, None] * np.sqrt(2 * np.pi))
        )
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
    ax.set_xlabel(_feature_label(model, i))
    ax.set_ylabel(_feature_label(model, j))
    return ax


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


# --------------------------------------------------------------- model selection
def _column(table, name):
    try:
        col = table[name]
    except (KeyError, IndexError, TypeError):
        return None
    return np.asarray(col.to_numpy() if hasattr(col, "to_numpy") else col)


def plot_criterion(table, criterion: str = "bic", ax=None):
    """Information criterion against the number of components, one line per
    covariance type (mclust's BIC plot, with bayesmix's sign: lower is better).

    Parameters
    ----------
    table : DataFrame, mapping of columns, or a ``select_model`` result
        Columns ``covariance_type``, ``n_components`` and ``criterion``, one
        row per fit (``select_model(...).table_``).  Fits that failed (NaN)
        leave a gap.
    criterion : {"bic", "aic", "icl"}, default="bic"
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        The best fit (the minimum) is circled.
    """
    if criterion not in _CRITERIA:
        raise ValueError(f"criterion must be one of {sorted(_CRITERIA)}, got {criterion!r}.")
    table = getattr(table, "table_", table)
    k = _column(table, "n_components")
    value = _column(table, criterion)
    if k is None or value is None:
        raise ValueError(
            f"table needs columns 'n_components' and {criterion!r} (select_model(...).table_)."
        )
    ctype = _column(table, "covariance_type")
    if ctype is None:
        ctype = np.full(k.shape, "model", dtype=object)
    value = value.astype(float)
    ax = _axes(ax)
    present = list(dict.fromkeys(ctype.tolist()))
    ordered = [c for c in _COV_ORDER if c in present] + [c for c in present if c not in _COV_ORDER]
    markers = "osD^vP*X"
    for n, name in enumerate(ordered):
        rows = np.flatnonzero(ctype == name)
        rows = rows[np.argsort(k[rows], kind="stable")]
        ax.plot(
            k[rows], value[rows], marker=markers[n % len(markers)], ms=5, lw=1.3, label=str(name)
        )
    if np.isfinite(value).any():
        best = int(np.nanargmin(value))
        ax.plot(k[best], value[best], "o", ms=14, mfc="none", mec="k", mew=1.5, label="best")
    ax.set_xlabel("number of components")
    ax.set_ylabel(f"{_CRITERIA[criterion]} (lower is better)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(title="covariance", frameon=False)
    return ax


# ------------------------------------------------------------ posterior summaries
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


# ------------------------------------------------------------ convergence, MCMC
def plot_convergence(source, ax=None, *, label: str | None = None):
    """The objective per iteration: EM's mean log-likelihood or VB's ELBO.

    Parameters
    ----------
    source : fitted estimator or sequence of float
        A model's ``lower_bounds_`` is drawn (EM: mean log-likelihood per
        unit weight; the variational engine: its ELBO trace), or the values
        given.
    ax : matplotlib Axes, optional
    label : str, optional
        y-axis label; by default it names the model's objective.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if hasattr(source, "lower_bounds_"):
        values = np.asarray(source.lower_bounds_, dtype=float)
        if label is None:
            label = "ELBO" if hasattr(source, "elbo_") else "mean log-likelihood"
    else:
        values = np.asarray(source, dtype=float).ravel()
    if values.size == 0:
        raise ValueError("there are no iterations to draw (max_iter=0?).")
    ax = _axes(ax, figsize=(5.0, 3.5))
    it = np.arange(1, values.size + 1)
    ax.plot(it, values, marker="o", ms=3, lw=1.2, color="C0")
    ax.set_xlabel("iteration")
    ax.set_ylabel(label or "objective")
    ax.xaxis.get_major_locator().set_params(integer=True)
    return ax


def _chains(samples) -> np.ndarray:
    arr = np.asarray(samples, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"samples must have shape (n_chains, n_draws), got {arr.shape}.")
    return arr


def plot_trace(samples, ax=None, *, name: str = "value"):
    """Draws of one scalar quantity against iteration, one line per chain.

    Parameters
    ----------
    samples : array-like, shape (n_chains, n_draws) or (n_draws,)
        For instance a Gibbs model's ``n_clusters_samples_`` or
        ``concentration_samples_``.
    ax : matplotlib Axes, optional
    name : str, default="value"
        y-axis label.

    Returns
    -------
    matplotlib.axes.Axes
    """
    arr = _chains(samples)
    ax = _axes(ax, figsize=(6.0, 3.0))
    for c, chain in enumerate(arr):
        ax.plot(
            np.arange(chain.size), chain, lw=0.8, alpha=0.8, color=_colour(c), label=f"chain {c}"
        )
    ax.set_xlabel("draw")
    ax.set_ylabel(name)
    if arr.shape[0] > 1:
        ax.legend(frameon=False, fontsize=8)
    return ax


def plot_rank(samples, ax=None, *, name: str = "value", n_bins: int | None = None):
    """Rank plot: histograms of each chain's ranks among all draws.

    Draws from chains that sample the same distribution have uniform ranks,
    so every step line should stay near the dashed line (inside the grey
    band, a 99% interval for a uniform histogram); a chain stuck in one mode
    shows as a tilted or humped line (Vehtari, Gelman, Simpson, Carpenter &
    Bürkner 2021, *Bayesian Analysis* 16, 667-718).  Ties (integer draws such
    as a number of clusters) are broken at random, with a fixed seed: tied
    draws are exchangeable when the chains mix, so the ranks stay uniform.

    Parameters
    ----------
    samples : array-like, shape (n_chains, n_draws)
    ax : matplotlib Axes, optional
    name : str, default="value"
        Title of the plot.
    n_bins : int, optional
        Default: about ``n_draws / 20``, between 5 and 30.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from scipy.stats import binom

    arr = _chains(samples)
    n_chains, n_draws = arr.shape
    tie_break = np.random.default_rng(0).random(arr.size)
    order = np.lexsort((tie_break, arr.ravel()))
    ranks = np.empty(arr.size)
    ranks[order] = np.arange(1, arr.size + 1)
    ranks = ranks.reshape(arr.shape)
    if n_bins is None:
        n_bins = int(np.clip(n_draws // 20, 5, 30))
    edges = np.linspace(0.5, arr.size + 0.5, n_bins + 1)
    ax = _axes(ax, figsize=(5.0, 3.5))
    expected = n_draws / n_bins
    lo, hi = binom.ppf([0.005, 0.995], n_draws, 1.0 / n_bins)
    ax.axhspan(lo, hi, color="0.9", lw=0)
    ax.axhline(expected, color="0.4", ls="--", lw=1)
    for c in range(n_chains):
        counts, _ = np.histogram(ranks[c], bins=edges)
        ax.stairs(counts, edges, baseline=None, color=_colour(c), lw=1.4, label=f"chain {c}")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("rank of draw among all chains")
    ax.set_ylabel("draws per bin")
    ax.set_title(name)
    if n_chains > 1:
        ax.legend(frameon=False, fontsize=8)
    return ax
