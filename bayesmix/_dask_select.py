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

from . import _dask
from ._grid import check_grid, choose, empty_row, fail_row, fill_row
from ._process_state import capturing_warnings, warning_sink
from ._validation import check_random_state
from .em import GaussianMixture

__all__ = ["select"]


def _cell(X, w, ct, k, seed, params):
    """One grid cell as a lone Dask fit: ``(row dict, model or None)``; never raises."""
    row = empty_row(ct, k)
    sink: list[str] = []
    begin = time.perf_counter()
    model = None
    with warning_sink(sink):
        try:
            cell = dict(params, n_components=k, covariance_type=ct, random_state=seed)
            model = fill_row(row, GaussianMixture(**cell).fit(X, sample_weight=w))
        except Exception as exc:  # a failed fit is a row, never an exception
            fail_row(row, f"{type(exc).__name__}: {exc}")
            model = None
    row["fit_time"] = time.perf_counter() - begin
    row["warnings"] = " | ".join(dict.fromkeys(sink))
    return row, model


def select(X, n_components, covariance_types, criterion, *, sample_weight, random_state, params):
    """:func:`bayesmix.select_model` for Dask input (see the module docstring):
    ``(best, best_params, table, models)``."""
    if not _dask.is_dask(X):  # weights in chunks, X in memory: chunk X like them
        X, sample_weight = _dask._as_dask_pair(X, sample_weight, allow_missing=True)
    X = _dask._check_dask_X(X)
    grid = check_grid(n_components, covariance_types, criterion, X.shape[1], params)
    if criterion == "cv":
        raise ValueError(
            "criterion='cv' needs the rows in memory (its folds index them); with a Dask "
            "array use criterion='bic', 'aic' or 'icl'."
        )
    rng = check_random_state(random_state)
    seed = int(rng.integers(0, 2**63 - 1))  # as in memory: one seed for the grid

    results = []
    with capturing_warnings():
        for ct in grid.cts:
            for k in grid.ks:
                results.append(_cell(X, sample_weight, ct, k, seed, grid.params))
    rows = [r[0] for r in results]
    models = {(r[0]["covariance_type"], r[0]["n_components"]): r[1] for r in results if r[1]}

    def refit(refined):
        with capturing_warnings(), warning_sink([]):
            return GaussianMixture(**refined).fit(X, sample_weight=sample_weight)

    return choose(grid, rows, models, refit, stacklevel=3)
