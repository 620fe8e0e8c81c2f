"""Model-selection figure: an information criterion against the number of
components, one line per covariance type."""

from __future__ import annotations

import numpy as np

from ._common import _axes

__all__ = ["plot_criterion"]

_CRITERIA = {"bic": "BIC", "aic": "AIC", "icl": "ICL"}
_COV_ORDER = ("spherical", "diag", "tied", "full")  # mclust's names come in the table's order


def _column(table, name):
    try:
        col = table[name]
    except (KeyError, IndexError, TypeError):
        return None
    return np.asarray(col.to_numpy() if hasattr(col, "to_numpy") else col)


# Kass & Raftery (1995): a BIC difference above 10 is "very strong" evidence.
_DECISIVE = 10.0


def _competitive_range(value, ctype, ordered):
    """The y range that shows the competitive models, or None for everything.

    It spans from the best value to the larger of ``best + 10`` (Kass &
    Raftery 1995's "very strong evidence" difference) and the best value of
    every covariance type, so each type's best model is on the plot while the
    poor fits (typically one component, or too few for the type) no longer
    squeeze the competitive ones into a flat band.  None (no clipping) when
    the worst value is within three times that span."""
    finite = np.isfinite(value)
    best = float(value[finite].min())
    family_best = sorted(
        float(np.nanmin(value[ctype == name]))
        for name in ordered
        if np.isfinite(value[ctype == name]).any()
    )
    top = max(best + _DECISIVE, family_best[-1])
    if float(value[finite].max()) - best <= 3.0 * (top - best):
        return None  # the full range squeezes little: show everything
    pad = 0.08 * (top - best)
    return best - pad, top + pad


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
        The best fit (the minimum) is circled.  The y axis shows the
        competitive models: from the minimum to the larger of ``minimum + 10``
        (a difference Kass & Raftery 1995 call very strong evidence) and the
        best value of every covariance type; when the worst fits lie more than
        three times that far, they run off the top (a note says so) rather
        than flattening the rest.
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
        limits = _competitive_range(value, ctype, ordered)
        if limits is not None:
            ax.set_ylim(*limits)
            ax.annotate(
                "worse fits continue above",
                (0.01, 0.99),
                xycoords="axes fraction",
                ha="left",
                va="top",
                fontsize=7,
                color="0.4",
            )
    ax.set_xlabel("number of components")
    ax.set_ylabel(f"{_CRITERIA[criterion]} (lower is better)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    # mclust's fourteen models: two columns, so the legend does not hide the curves
    many = len(ordered) > 7
    ax.legend(
        title="covariance", frameon=False, ncol=2 if many else 1, fontsize="small" if many else None
    )
    return ax
