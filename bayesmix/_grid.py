"""The grid of :func:`bayesmix.select_model`, whichever way its cells are fitted.

One definition each of what the in-memory selection (:mod:`bayesmix.selection`,
cells fitted in threads on data prepared once) and the Dask selection
(:mod:`bayesmix._dask_select`, cells fitted through the Dask EM) share: the
checks of the grid, a table row, what a failed or singular cell reports, the
choice of the best cell and its continuation to its optimum.  Both import this
module; neither imports the other at import time.
"""

from __future__ import annotations

import warnings

import numpy as np

from ._validation import check_choice, check_int
from .covariance import COVARIANCE_TYPES, MCLUST_MODELS, MCLUST_MODELS_1D
from .em import GaussianMixture, training_criteria
from .exceptions import ConvergenceWarning

__all__ = [
    "CRITERIA",
    "TABLE_COLUMNS",
    "Grid",
    "check_grid",
    "choose",
    "empty_row",
    "fail_row",
    "fill_row",
    "refine_params",
]

CRITERIA = ("bic", "aic", "icl", "cv")
TABLE_COLUMNS = (
    "covariance_type",
    "n_components",
    "log_likelihood",
    "n_parameters",
    "bic",
    "aic",
    "icl",
    "cv_log_likelihood",
    "converged",
    "n_iter",
    "fit_time",
    "warnings",
    "error",
)
_SCORES = ("log_likelihood", "bic", "aic", "icl", "cv_log_likelihood")


class Grid:
    """The checked grid: numbers of components ``ks``, distinct covariance
    types ``cts``, the criterion, the cells' ``params`` (with the grid's
    defaults) and whether the chosen cell is continued to its optimum."""

    def __init__(self, ks, cts, criterion, params, refine):
        self.ks, self.cts, self.criterion = ks, cts, criterion
        self.params, self.refine = params, refine


def check_grid(n_components, covariance_types, criterion, n_features: int, params: dict) -> Grid:
    """Check the grid's arguments (ValueError / TypeError naming the argument)
    and set the cells' defaults: ``tol=1e-4`` and ``n_init=1`` unless given;
    the chosen cell is then continued to ``tol="auto"`` unless ``tol`` was
    given (see :func:`bayesmix.select_model`)."""
    ks = _check_components(n_components)
    cts = _distinct_models(_check_covariance_types(covariance_types, n_features), n_features)
    check_choice(criterion, "criterion", CRITERIA)
    for bad in ("n_components", "covariance_type", "random_state"):
        if bad in params:
            raise TypeError(f"{bad} is set by select_model itself; do not pass it in **params.")
    params = dict(params)
    refine = "tol" not in params
    params.setdefault("tol", 1e-4)
    params.setdefault("n_init", 1)
    GaussianMixture(**params)  # unknown parameter names fail here, before any fit
    return Grid(ks, cts, criterion, params, refine)


def empty_row(ct: str, k: int) -> dict:
    """A table row of cell ``(ct, k)`` before its fit: NaN scores, no message."""
    row = {name: np.nan for name in TABLE_COLUMNS}
    row.update(covariance_type=ct, n_components=k, converged=False, warnings="", error="")
    return row


def fill_row(row: dict, model):
    """Put a fitted cell's criteria into its ``row``; return the model, or None
    when the fit is singular (the row then says so and has no scores)."""
    row.update(**training_criteria(model), converged=bool(model.converged_), n_iter=model.n_iter_)
    if not model.collapsed_components_.size:
        return model
    # A spike on a point or subspace: the likelihood is unbounded there, so
    # the criterion means nothing (mclust reports such a fit as singular).
    fail_row(
        row,
        f"singular: component(s) {model.collapsed_components_.tolist()} collapsed onto a "
        "point or a subspace in every restart",
    )
    return None


def fail_row(row: dict, error: str) -> None:
    """Mark ``row`` failed with ``error``: no numbers for a fit that is not one."""
    row["error"] = error
    for key in _SCORES:
        row[key] = np.nan


def refine_params(model, params: dict) -> dict:
    """The parameters that continue the selected cell ``model`` from its fit to
    its optimum (``tol="auto"``)."""
    return dict(
        params,
        n_components=model.n_components,
        covariance_type=model.covariance_type,
        random_state=model.random_state,
        tol="auto",
        n_init=1,
        weights_init=model.weights_,
        means_init=model.means_,
        precisions_init=model.precisions_,
    )


def choose(grid: Grid, rows: list, models: dict, refit, stacklevel: int):
    """The table and the best cell: ``(best, best_params, table, models)``.

    ``refit(model, params)`` continues the chosen cell to its optimum (called
    only when ``grid.refine``); its row of the table is then updated.  Warns
    when every cell failed (``best`` None) or the chosen one did not converge.
    """
    import pandas as pd  # a dependency of xarray, hence of arviz-base

    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    table["n_components"] = table["n_components"].astype(int)
    table["converged"] = table["converged"].astype(bool)
    if grid.criterion == "cv":
        scores = -table["cv_log_likelihood"].to_numpy(dtype=float)
    else:
        scores = table[grid.criterion].to_numpy(dtype=float)
    if np.isnan(scores).all():
        reasons = "; ".join(dict.fromkeys(e for e in table["error"] if e))
        warnings.warn(
            f"every fit of the grid failed ({reasons}); best_ is None.",
            ConvergenceWarning,
            stacklevel=stacklevel + 1,
        )
        return None, {}, table, models
    at = int(np.nanargmin(scores))
    best_key = (table.iloc[at]["covariance_type"], int(table.iloc[at]["n_components"]))
    best = models[best_key]
    if grid.refine:
        refined = refit(best, refine_params(best, grid.params))
        # the model keeps the user's parameters; only its fit moves to the optimum
        refined.set_params(**best.get_params())
        refined.n_iter_ = best.n_iter_ + refined.n_iter_
        best = models[best_key] = refined
        for key, value in training_criteria(best).items():
            table.loc[table.index[at], key] = value
        table.loc[table.index[at], ["converged", "n_iter"]] = [bool(best.converged_), best.n_iter_]
    if not best.converged_:
        warnings.warn(
            f"the selected model ({best_key[0]}, {best_key[1]} components) did not converge "
            f"within max_iter; increase max_iter (see table_['warnings']).",
            ConvergenceWarning,
            stacklevel=stacklevel + 1,
        )
    return best, {"covariance_type": best_key[0], "n_components": best_key[1]}, table, models


def _check_components(n_components) -> list[int]:
    if isinstance(n_components, (int, np.integer)) and not isinstance(n_components, bool):
        n_components = [n_components]
    try:
        ks = list(n_components)
    except TypeError:
        raise TypeError(
            "n_components must be an iterable of positive integers, e.g. range(1, 10)."
        ) from None
    if not ks:
        raise ValueError("n_components is empty; pass at least one number of components.")
    ks = [check_int(k, "each n_components", low=1) for k in ks]
    return list(dict.fromkeys(ks))


def _distinct_models(cts: list[str], n_features: int) -> list[str]:
    """The covariance types that are distinct models for ``n_features``.

    With one feature a covariance is a variance, either one per component or
    one shared, so "full", "diag" and "spherical" are the same model (mclust's
    "V") and "tied" is mclust's "E".  The grid keeps the first type of each
    model, in the order given, so the table shows each model once.
    """
    if n_features != 1:
        return cts
    seen, keep = set(), []
    for ct in cts:
        # in 1-D two structures with the same number of parameters are one model
        key = COVARIANCE_TYPES[ct].n_parameters(2, 1)
        if key not in seen:
            seen.add(key)
            keep.append(ct)
    return keep


def _check_covariance_types(covariance_types, n_features: int) -> list[str]:
    if isinstance(covariance_types, str) and covariance_types == "all":
        return list(MCLUST_MODELS_1D if n_features == 1 else MCLUST_MODELS)
    if isinstance(covariance_types, str):
        covariance_types = [covariance_types]
    cts = list(covariance_types)
    if not cts:
        raise ValueError("covariance_types is empty; pass at least one covariance type.")
    for ct in cts:
        check_choice(ct, "covariance_types entry", tuple(COVARIANCE_TYPES))
    return list(dict.fromkeys(cts))
