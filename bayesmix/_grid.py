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
    "flag_below",
    "refine_cells",
    "refine_params",
    "split_starts",
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
    return _start(params, model, model.weights_, model.means_, model.precisions_)


def _start(params: dict, model, weights, means, precisions) -> dict:
    """``params`` for one fit of ``model``'s covariance type and seed from the
    given parameters, run to its optimum (``tol="auto"``)."""
    return dict(
        params,
        n_components=len(weights),
        covariance_type=model.covariance_type,
        random_state=model.random_state,
        tol="auto",
        n_init=1,
        weights_init=weights,
        means_init=means,
        precisions_init=precisions,
    )


def choose(grid: Grid, rows: list, models: dict, refit, stacklevel: int, map_=map):
    """The table and the best cell: ``(best, best_params, table, models)``.

    When ``grid.refine``, the competitive cells are first continued to their
    optimum and each type's log-likelihoods made non-decreasing in K (see
    :func:`refine_cells`).  ``refit(params)`` fits a model from explicit
    parameters (a start among them); ``map_`` maps a function over a list of
    jobs (a thread pool's map fits cells in parallel).  Warns when every cell
    failed (``best`` None) or the chosen one did not converge.
    """
    import pandas as pd  # a dependency of xarray, hence of arviz-base

    if grid.refine:
        refine_cells(grid, rows, models, refit, map_)
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
    if not best.converged_:
        warnings.warn(
            f"the selected model ({best_key[0]}, {best_key[1]} components) did not converge "
            f"within max_iter; increase max_iter (see table_['warnings']).",
            ConvergenceWarning,
            stacklevel=stacklevel + 1,
        )
    return best, {"covariance_type": best_key[0], "n_components": best_key[1]}, table, models


# Cells whose criterion is within this of the best are continued to their
# optimum: a BIC difference above 10 is "very strong" evidence (Kass & Raftery
# 1995), more than the few units a continuation moves a cell.
COMPETITIVE = 10.0
# Iterations each split start runs before the best of them is continued.
SPLIT_PROBE_ITER = 10


def refine_cells(grid: Grid, rows: list, models: dict, refit, map_=map) -> None:
    """Continue the cells that matter to their optimum and make each type's
    log-likelihoods non-decreasing in K; ``rows`` and ``models`` are updated in
    place.

    The grid stops its cells at a change of 1e-4 in the mean log-likelihood,
    enough to rank them but not to report them: EM crawls, and a cell stopped
    early can sit several log-likelihood units below its optimum and below the
    cell with one component fewer.  So, until nothing changes (at most three
    rounds):

    1. every cell whose criterion is within ``COMPETITIVE`` of the best (the
       best alone for ``criterion="cv"``, whose held-out score a continuation
       does not change) is continued from its own fit (``tol="auto"``);
    2. a cell that ends below its type's cell with one component fewer is
       continued too; a K-component model contains every (K-1)-component one,
       so if it is still below, it sits at a poorer local optimum and is
       refitted from that cell's fit with one component split in two (each
       component in turn, ``SPLIT_PROBE_ITER`` iterations each, then continued
       best first: :func:`split_starts`, the split move of Ueda et al. 2000's
       split-and-merge EM), keeping the first result that is better and has
       no collapsed component.

    A continuation that becomes singular marks its row failed.
    """
    row_of = {(r["covariance_type"], r["n_components"]): r for r in rows}
    done: set = set()

    def continued(key):
        model = models[key]
        more = refit(refine_params(model, grid.params))
        # the model keeps the user's parameters; only its fit moves to the optimum
        more.set_params(**model.get_params())
        more.n_iter_ = model.n_iter_ + more.n_iter_
        return more

    def continue_cells(keys):
        keys = [key for key in keys if key in models and key not in done]
        for key, model in zip(keys, map_(continued, keys), strict=True):
            _settle(key, model, row_of, models)
        done.update(keys)
        return bool(keys)

    for _ in range(3):
        changed = continue_cells(_competitive(grid, rows))
        # level by level in K (a refitted cell can leave the next one below
        # it), every type's cells of one level at once (map_ runs them in parallel)
        for k in grid.ks:
            below = [ct for ct in grid.cts if _below(models, (ct, k), (ct, k - 1))]
            if not below:
                continue
            changed |= continue_cells([(ct, k) for ct in below])
            below = [ct for ct in below if _below(models, (ct, k), (ct, k - 1))]
            cells = [(models[(ct, k - 1)], models[(ct, k)].log_likelihood_) for ct in below]
            for ct, better in zip(below, _split_fits(cells, grid.params, refit, map_), strict=True):
                if better is not None:
                    better.set_params(**models[(ct, k)].get_params())
                    _settle((ct, k), better, row_of, models)
                    changed = True
        if not changed:
            break
    flag_below(grid, models, row_of)


def flag_below(grid: Grid, models: dict, row_of: dict) -> None:
    """Say in its row's ``warnings`` when a cell still ends below its type's
    cell with one component fewer (every split refit collapsed or ended
    lower): the table then shows a log-likelihood that falls as K grows, and
    the row says why rather than leaving it unexplained."""
    for ct in grid.cts:
        for k in grid.ks:
            if _below(models, (ct, k), (ct, k - 1)):
                row = row_of[(ct, k)]
                note = (
                    f"log-likelihood below the {k - 1}-component {ct} fit's: continuing "
                    "this fit and refitting it from splits of that one found no better "
                    "proper optimum (more n_init may)"
                )
                row["warnings"] = " | ".join(x for x in (row["warnings"], note) if x)


def _competitive(grid: Grid, rows: list) -> list:
    if grid.criterion == "cv":
        scores = np.array([-r["cv_log_likelihood"] for r in rows], dtype=float)
        margin = 0.0
    else:
        scores = np.array([r[grid.criterion] for r in rows], dtype=float)
        margin = COMPETITIVE
    if np.isnan(scores).all():
        return []
    best = np.nanmin(scores)
    return [
        (r["covariance_type"], r["n_components"])
        for r, s in zip(rows, scores, strict=True)
        if s <= best + margin
    ]


def _below(models: dict, key, fewer) -> bool:
    if key not in models or fewer not in models:
        return False
    gap = models[fewer].log_likelihood_ - models[key].log_likelihood_
    return bool(gap > 1e-8 * abs(models[fewer].log_likelihood_))


def _split_fits(cells: list, params: dict, refit, map_) -> list:
    """For each ``(model, to_beat)``: a fit from ``model`` with one component
    split whose log-likelihood is above ``to_beat``, or None.  Each split runs
    ``SPLIT_PROBE_ITER`` iterations, then a cell's splits are continued to
    their optimum best first until one ends above ``to_beat`` without a
    collapsed component (all cells' probes, then each round of
    continuations, in one ``map_``)."""
    jobs = [
        (c, start)
        for c, (model, _) in enumerate(cells)
        for start in split_starts(model, dict(params, max_iter=SPLIT_PROBE_ITER))
    ]
    queues: list = [[] for _ in cells]
    for (c, _), probe in zip(jobs, map_(_quiet(refit), [j[1] for j in jobs]), strict=True):
        if probe is not None and not probe.collapsed_components_.size:
            queues[c].append(probe)
    for queue in queues:
        queue.sort(key=lambda p: -p.log_likelihood_)
    found: list = [None] * len(cells)
    while True:
        todo = [c for c, queue in enumerate(queues) if queue and found[c] is None]
        if not todo:
            return found
        heads = [queues[c].pop(0) for c in todo]
        fits = map_(_quiet(refit), [refine_params(p, params) for p in heads])
        for c, head, more in zip(todo, heads, fits, strict=True):
            if more is None or more.collapsed_components_.size:
                continue
            if more.log_likelihood_ > cells[c][1]:
                more.n_iter_ += head.n_iter_
                found[c] = more


def _quiet(refit):
    def fit(params):
        try:
            return refit(params)
        except (ValueError, FloatingPointError, np.linalg.LinAlgError):
            return None

    return fit


def _settle(key, model, row_of: dict, models: dict) -> None:
    """Put ``model`` in cell ``key``'s row (or mark the row failed when it is
    singular, and drop it from ``models``)."""
    if fill_row(row_of[key], model) is None:
        del models[key]
    else:
        models[key] = model


def split_starts(model, params: dict) -> list[dict]:
    """Starts for a fit with one component more than ``model``: for each
    component, the fit with that component split in two along its first
    principal axis (half its weight each, means half a standard deviation
    either side, its precision kept) -- one parameter set per component."""
    structure = COVARIANCE_TYPES[model.covariance_type]
    k, d = model.means_.shape
    covs = structure.to_full(model.covariances_, k, d)
    precs = structure.to_full(model.precisions_, k, d)
    starts = []
    for j in range(k):
        values, vectors = np.linalg.eigh(covs[j])
        delta = 0.5 * np.sqrt(max(values[-1], 0.0)) * vectors[:, -1]
        weights = np.append(model.weights_, model.weights_[j] / 2)
        weights[j] /= 2
        means = np.vstack([model.means_, model.means_[j] + delta])
        means[j] -= delta
        if structure.shared:
            prec = model.precisions_
        else:
            prec = structure.from_full(np.concatenate([precs, precs[j : j + 1]]))
        starts.append(_start(params, model, weights, means, prec))
    return starts


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
