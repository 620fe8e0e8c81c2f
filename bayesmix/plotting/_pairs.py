"""A pairs plot: every pair of features (or those chosen) in one figure, for
tables with more than two columns (mclust's ``plot(..., what = ...)`` matrix)."""

from __future__ import annotations

import numpy as np

from ._common import _as_X, _call, _colour, _feature_label, _hard_labels
from ._fitted import plot_components
from ._posterior import plot_uncertainty

__all__ = ["plot_pairs"]

_KINDS = ("components", "classification", "uncertainty")


def _feature_indices(model, features, n_features: int) -> list[int]:
    if features is None:
        return list(range(n_features))
    names = getattr(model, "feature_names_in_", None)
    names = [str(n) for n in names] if names is not None else []
    out = []
    for f in features:
        if isinstance(f, str):
            if f not in names:
                raise ValueError(
                    f"features: no feature named {f!r}; the model's features are {names or None}."
                )
            out.append(names.index(f))
        elif isinstance(f, (int, np.integer)) and not isinstance(f, bool):
            if not 0 <= int(f) < n_features:
                raise ValueError(f"features: {f} is not a column index of X (0..{n_features - 1}).")
            out.append(int(f))
        else:
            raise TypeError(f"features must hold column names or indices, got {f!r}.")
    out = list(dict.fromkeys(out))
    if len(out) < 2:
        raise ValueError("features: a pairs plot needs at least two features.")
    return out


def plot_pairs(model, X, *, kind: str = "components", features=None, resp=None, figsize=None):
    """Every pair of features of ``X`` in a grid of panels.

    Below the diagonal, panel ``(r, c)`` draws feature ``c`` against feature
    ``r`` as :func:`plot_components` (``kind="components"``: points by hard
    label and component ellipses), the same without ellipses
    (``"classification"``) or :func:`plot_uncertainty` (``"uncertainty"``).
    The diagonal holds each feature's histogram, by hard label; the panels
    above it are left empty.

    Parameters
    ----------
    model : fitted estimator
    X : array-like, shape (n_samples, n_features)
    kind : {"components", "classification", "uncertainty"}, default="components"
    features : sequence of str or int, optional
        The features to show, by name (``feature_names_in_``) or column index
        (default: all of them).
    resp : array-like, shape (n_samples, n_components), optional
        Responsibilities for ``"uncertainty"`` (default: ``model.predict_proba``).
    figsize : pair of float, optional
        Default: 2.3 inches per feature.

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes, shape (n_shown, n_shown)
        ``axes[0, 0].figure`` is the figure.
    """
    import matplotlib.pyplot as plt

    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {list(_KINDS)}, got {kind!r}.")
    X = _as_X(X)
    shown = _feature_indices(model, features, X.shape[1])
    n = len(shown)
    size = figsize or (2.3 * n + 0.6, 2.3 * n + 0.3)
    fig, axes = plt.subplots(n, n, figsize=size, squeeze=False)
    if kind == "uncertainty" and resp is None:
        resp = _call(model, "predict_proba", X)
    labels = np.asarray(resp).argmax(axis=1) if resp is not None else _hard_labels(model, X)
    for r, fr in enumerate(shown):
        for c, fc in enumerate(shown):
            ax = axes[r, c]
            if c > r:
                ax.set_axis_off()
                continue
            if c == r:
                groups = [X[labels == k, fr] for k in np.unique(labels)]
                colours = [_colour(int(k)) for k in np.unique(labels)]
                ax.hist(groups, bins=20, stacked=True, color=colours, alpha=0.8)
                ax.set_yticks([])
            elif kind == "uncertainty":
                plot_uncertainty(model, X, ax=ax, resp=resp, features=(fc, fr))
                legend = ax.get_legend()
                if legend is not None and (r, c) != (n - 1, 0):
                    legend.remove()
            else:
                plot_components(
                    model,
                    X,
                    ax=ax,
                    features=(fc, fr),
                    n_std=(1.0, 2.0) if kind == "components" else (),
                    legend=(r, c) == (n - 1, 0),
                )
            # names on the outer panels only
            ax.set_xlabel(_feature_label(model, fc) if r == n - 1 else "")
            ax.set_ylabel(_feature_label(model, fr) if c == 0 and r > 0 else "")
            ax.tick_params(labelsize=7)
    fig.tight_layout()
    return axes
