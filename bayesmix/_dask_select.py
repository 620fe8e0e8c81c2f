"""``select_model`` on Dask arrays: every grid cell through the Dask EM.

:func:`bayesmix.select_model` hands Dask input (``X`` or ``sample_weight``) to
:func:`select`.  In memory every cell is exactly the fit a lone
``GaussianMixture(k, covariance_type=ct, random_state=seed, **params)`` makes,
``seed`` being one number drawn from ``random_state``; here every cell *is*
that lone fit, run on the Dask array (:mod:`bayesmix._dask`: one pass per
iteration, the start computed on a sample of at most
:data:`bayesmix._dask.SAMPLE_ROWS` rows).  The cells run one after another --
Dask already spreads each fit's passes over the workers -- and the table, the
choice of the best model and its continuation to ``tol="auto"`` are those of
the in-memory selection.  When the sample holds every row, the table equals
the in-memory one to rounding.

``criterion="cv"`` is refused: its folds index rows in memory.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from . import _dask
from ._process_state import capturing_warnings, warning_sink
from ._validation import check_choice, check_random_state
from .em import GaussianMixture, training_criteria
from .exceptions import ConvergenceWarning

__all__ = ["select"]


def _cell(X, w, ct, k, seed, params):
    """One grid cell as a lone Dask fit: ``(row dict, model or None)``; never raises."""
    from .selection import TABLE_COLUMNS

    row = {name: np.nan for name in TABLE_COLUMNS}
    row.update(covariance_type=ct, n_components=k, converged=False, warnings="", error="")
    sink: list[str] = []
    begin = time.perf_counter()
    model = None
    with warning_sink(sink):
        try:
            cell = dict(params, n_components=k, covariance_type=ct, random_state=seed)
            model = GaussianMixture(**cell).fit(X, sample_weight=w)
            row.update(
                **training_criteria(model), converged=bool(model.converged_), n_iter=model.n_iter_
            )
            if model.collapsed_components_.size:
                row["error"] = (
                    f"singular: component(s) {model.collapsed_components_.tolist()} collapsed "
                    "onto a point or a subspace in every restart"
                )
                for key in ("log_likelihood", "bic", "aic", "icl"):
                    row[key] = np.nan
                model = None
        except Exception as exc:  # a failed fit is a row, never an exception
            row["error"] = f"{type(exc).__name__}: {exc}"
            for key in ("log_likelihood", "bic", "aic", "icl"):
                row[key] = np.nan
            model = None
    row["fit_time"] = time.perf_counter() - begin
    row["warnings"] = " | ".join(dict.fromkeys(sink))
    return row, model


def _refine(model, X, w, params):
    """The selected cell continued from its parameters to ``tol="auto"`` (as
    ``selection._refine`` does in memory)."""
    from .selection import refine_params

    refined = refine_params(model, params)
    with capturing_warnings(), warning_sink([]):
        more = GaussianMixture(**refined).fit(X, sample_weight=w)
    more.set_params(**model.get_params())
    more.n_iter_ = model.n_iter_ + more.n_iter_
    return more


def select(X, n_components, covariance_types, criterion, *, sample_weight, random_state, params):
    """:func:`bayesmix.select_model` for Dask input (see the module docstring)."""
    import pandas as pd

    from . import selection as sel

    if not _dask.is_dask(X):  # weights in chunks, X in memory: chunk X like them
        X, sample_weight = _dask._as_dask_pair(X, sample_weight)
    X = _dask._check_dask_X(X)
    n_features = X.shape[1]
    ks = sel._check_components(n_components)
    cts = sel._check_covariance_types(covariance_types, n_features)
    cts = sel._distinct_models(cts, n_features)
    check_choice(criterion, "criterion", sel.CRITERIA)
    if criterion == "cv":
        raise ValueError(
            "criterion='cv' needs the rows in memory (its folds index them); with a Dask "
            "array use criterion='bic', 'aic' or 'icl'."
        )
    for bad in ("n_components", "covariance_type", "random_state"):
        if bad in params:
            raise TypeError(f"{bad} is set by select_model itself; do not pass it in **params.")
    refine = "tol" not in params
    params.setdefault("tol", 1e-4)
    params.setdefault("n_init", 1)
    GaussianMixture(**params)  # unknown parameter names fail here, before any fit
    rng = check_random_state(random_state)
    seed = int(rng.integers(0, 2**63 - 1))  # as in memory: one seed for the grid

    results = {}
    with capturing_warnings():
        for ct in cts:
            for k in ks:
                results[(ct, k)] = _cell(X, sample_weight, ct, k, seed, params)
    rows = [r[0] for r in results.values()]
    models = {key: r[1] for key, r in results.items() if r[1] is not None}
    table = pd.DataFrame(rows, columns=list(sel.TABLE_COLUMNS))
    table["n_components"] = table["n_components"].astype(int)
    table["converged"] = table["converged"].astype(bool)
    scores = table[criterion].to_numpy(dtype=float)
    if np.isnan(scores).all():
        reasons = "; ".join(dict.fromkeys(e for e in table["error"] if e))
        warnings.warn(
            f"every fit of the grid failed ({reasons}); best_ is None.",
            ConvergenceWarning,
            stacklevel=3,
        )
        return sel.ModelSelection(None, {}, table, models, criterion)
    at = int(np.nanargmin(scores))
    best_key = (table.iloc[at]["covariance_type"], int(table.iloc[at]["n_components"]))
    best = models[best_key]
    if refine:
        best = _refine(best, X, sample_weight, params)
        models[best_key] = best
        for key, value in training_criteria(best).items():
            table.loc[table.index[at], key] = value
        table.loc[table.index[at], ["converged", "n_iter"]] = [bool(best.converged_), best.n_iter_]
    if not best.converged_:
        warnings.warn(
            f"the selected model ({best_key[0]}, {best_key[1]} components) did not converge "
            f"within max_iter; increase max_iter (see table_['warnings']).",
            ConvergenceWarning,
            stacklevel=3,
        )
    best_params = {"covariance_type": best_key[0], "n_components": best_key[1]}
    return sel.ModelSelection(best, best_params, table, models, criterion)
