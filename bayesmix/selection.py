"""Model selection over the number of components and the covariance structure.

:func:`select_model` fits :class:`~bayesmix.GaussianMixture` on every cell of
a ``covariance_types x n_components`` grid, in parallel threads (the kernels
release the GIL), and ranks the fits by BIC, AIC, ICL or the k-fold
cross-validated held-out log-likelihood.  As in R's mclust, a fit that fails
becomes a table row with NaN criteria and the reason; it never raises.

Criteria follow scikit-learn's sign (lower is better):
``bic = -2 log L + p log n``, ``aic = -2 log L + 2 p``,
``icl = bic - 2 sum_i w_i log max_k p(k | x_i)`` (Biernacki, Celeux & Govaert
2000), with ``n`` the total sample weight.  mclust reports ``-bic``.
"""

from __future__ import annotations

import contextlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from . import _compile, _init
from . import _em_core as em_core
from . import io as _io
from ._dask import is_dask
from ._data import prepare
from ._grid import check_grid, choose, empty_row, fail_row, fill_row
from ._kernels import serial_kernels
from ._process_state import capturing_warnings, single_threaded_blas, thread_state, warning_sink
from ._validation import (
    check_distinct_rows,
    check_int,
    check_random_state,
    check_sample_weight,
    check_X,
)
from .covariance import COVARIANCE_TYPES, get_structure
from .em import GaussianMixture, fit_prepared

__all__ = ["ModelSelection", "select_model"]

_local = thread_state  # .sink: the warnings of the grid cell this thread fits


@dataclass
class ModelSelection:
    """Result of :func:`select_model`.

    Attributes
    ----------
    best_ : GaussianMixture or None
        The fitted model with the best criterion (None only if every fit failed).
    best_params_ : dict
        ``{"covariance_type": ..., "n_components": ...}`` of ``best_``.
    table_ : pandas.DataFrame
        One row per grid cell, in grid order: covariance_type, n_components,
        log_likelihood, n_parameters, bic, aic, icl, cv_log_likelihood (NaN
        unless ``criterion="cv"``), converged, n_iter, fit_time (seconds),
        warnings (messages the fit raised, joined) and error (why a fit failed,
        empty otherwise).
    models_ : dict
        ``(covariance_type, n_components) -> fitted GaussianMixture`` for every
        fit that succeeded.
    criterion : str
    """

    best_: object
    best_params_: dict
    table_: object
    models_: dict = field(repr=False)
    criterion: str = "bic"

    # what bayesmix.io looks for in a result it saves
    _bayesmix_result = True

    def __repr__(self) -> str:
        return f"ModelSelection(criterion={self.criterion!r}, best={self.best_params_})"

    def save(self, path) -> None:
        """Write this selection (its table and every fitted model) to ``path``
        (npz + JSON metadata, no pickle, as models are saved); read it back
        with :func:`bayesmix.load` or :meth:`ModelSelection.load`."""
        _io.save(self, path)

    @classmethod
    def load(cls, path) -> ModelSelection:
        """Read a selection written by :meth:`save` (TypeError for another kind of file)."""
        return _io.load_as(path, cls)

    def _after_load(self) -> None:
        # best_ is one of models_ (the file holds two copies): one object again
        key = (self.best_params_.get("covariance_type"), self.best_params_.get("n_components"))
        if self.best_ is not None and key in self.models_:
            self.models_[key] = self.best_


def _folds(n_samples: int, n_folds: int, rng) -> list[np.ndarray]:
    order = rng.permutation(n_samples)
    return np.array_split(order, n_folds)


class _SharedStarts:
    """One initialisation per number of components, shared by the covariance types.

    The ``init_params`` partition for ``k`` is what a lone fit with the grid's
    seed starts from (the hierarchical agglomeration runs once and is cut at
    every ``k``, as mclust's ``hc`` serves every G); each type's start is the
    M-step of its own structure from that partition, which is exactly the
    first M-step of a lone fit of that type.  :meth:`compute` may run for
    several ``k`` in parallel threads.
    """

    def __init__(self, data, cts, seed, params):
        self.data, self.seed, self.params = data, seed, params
        self.structures = {ct: get_structure(ct) for ct in cts}
        rows = data.rows
        self.partitions = _init.FirstPartitions(
            params.get("init_params", "auto"), rows.Xt, rows.w, seed
        )
        self.starts: dict = {}

    def compute(self, k) -> None:
        """``starts[k]``: ``{covariance_type: (params, jitter)}``, or an
        ``(error message, warnings)`` pair if the initialisation failed."""
        data, rows = self.data, self.data.rows
        sink: list[str] = []
        _local.sink = sink
        try:
            config, _ = em_core.check_config(
                GaussianMixture(n_components=k, random_state=self.seed, **self.params).get_params()
            )
            check_distinct_rows(k, data.n_distinct)
            resp = np.empty((rows.order.size, k))
            resp[rows.order] = self.partitions.resp(k)
            ctx = em_core.context(data, config.reg_covar)
            stats = em_core.resp_stats(data, resp, ctx, diagonal=False)
            diagonal = _DiagonalView(stats)
            starts = {}
            for ct, structure in self.structures.items():
                view = diagonal if structure.diagonal else stats
                starts[ct] = em_core.m_step(structure, view, stats.shift, ctx)
            self.starts[k] = starts
        except Exception as exc:
            self.starts[k] = (f"{type(exc).__name__}: {exc}", sink)
        finally:
            _local.sink = None

    def get(self, k, ct):
        start = self.starts[k]
        return start if isinstance(start, tuple) else start[ct]


class _DiagonalView:
    """Full-covariance statistics seen as a diagonal structure's: the diagonal
    of the second moments, shape (K, 1, D)."""

    def __init__(self, stats):
        self.nk, self.s1 = stats.nk, stats.s1
        self.s2 = np.diagonal(stats.s2, axis1=1, axis2=2)[:, None, :].copy()


def _fit_cell(data, ct, k, seed, params, criterion, folds, start=None, cv_data=None):
    """Fit one grid cell; returns ``(row dict, model or None)``.  Never raises.

    ``start`` is this cell's shared initialisation: ``(params, jitter)``, an
    ``(error, warnings)`` pair when that initialisation failed, or None for
    the estimator's own ``init_params``.
    """
    row = empty_row(ct, k)
    sink: list[str] = []
    _local.sink = sink
    begin = time.perf_counter()
    model = None
    try:
        if start is not None and isinstance(start[0], str):  # the shared start failed
            sink.extend(start[1])
            raise _InitFailed(start[0])
        cell = dict(params, n_components=k, covariance_type=ct, random_state=seed)
        model = fill_row(row, fit_prepared(cell, data, start=start))
        if model is not None and criterion == "cv":
            X, w = cv_data  # the caller's rows, which the folds index
            held_out = 0.0
            for test in folds:
                train = np.ones(X.shape[0], dtype=bool)
                train[test] = False
                fold_model = GaussianMixture(**cell).fit(X[train], sample_weight=w[train])
                held_out += float(w[test] @ fold_model.score_samples(X[test]))
            row["cv_log_likelihood"] = held_out
    except _InitFailed as exc:
        row["error"] = str(exc)
        model = None
    except Exception as exc:  # a failed fit is a row, never an exception
        fail_row(row, f"{type(exc).__name__}: {exc}")
        model = None
    finally:
        _local.sink = None
    row["fit_time"] = time.perf_counter() - begin
    row["warnings"] = " | ".join(dict.fromkeys(sink))
    return row, model


class _InitFailed(Exception):
    """The shared initialisation of a cell's number of components failed."""


def _n_jobs(n_jobs) -> int:
    if n_jobs is None or n_jobs == -1:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - not Linux
            return max(1, os.cpu_count() or 1)
    return check_int(n_jobs, "n_jobs", low=1)


def select_model(
    X,
    n_components=range(1, 10),
    covariance_types="all",
    criterion: str = "bic",
    *,
    sample_weight=None,
    n_folds: int = 5,
    n_jobs: int | None = None,
    random_state=None,
    **params,
) -> ModelSelection:
    """Fit a Gaussian mixture for every number of components and covariance
    type, and pick the best by ``criterion``.

    Parameters
    ----------
    X : array-like or DataFrame, (n_samples, n_features), or dask array
        NaN marks a missing value (missing at random): every cell is fitted
        by EM on the observed-data likelihood (see
        :meth:`GaussianMixture.fit <bayesmix.GaussianMixture.fit>`), and its
        BIC, AIC and ICL use that likelihood, with ``n`` the number (total
        weight) of rows.  Every covariance model takes missing values.
        A Dask array (or ``sample_weight`` given as one) fits every cell
        through the Dask EM, one after another (:mod:`bayesmix._dask_select`);
        ``criterion="cv"`` then is refused.
    n_components : iterable of int, default=range(1, 10)
    covariance_types : "all" or iterable of covariance type names, default="all"
        ``"all"``: mclust's fourteen models, "EII", "VII", "EEI", "VEI", "EVI",
        "VVI", "EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV" (with
        one feature, "E" and "V"), what R's ``Mclust(X)`` compares; the table
        shows mclust's names.  Otherwise any names
        :class:`~bayesmix.GaussianMixture` accepts, e.g. scikit-learn's four,
        ``("spherical", "diag", "tied", "full")`` (mclust's VII, VVI, EEE and
        VVV), which cost about a third of the fourteen.  With one feature
        every model is "E" or "V" ("full", "diag" and "spherical" are "V",
        "tied" is "E"): only the first given of each is fitted, so the table
        shows each model once.
    criterion : {"bic", "aic", "icl", "cv"}, default="bic"
        Information criteria are minimised; "cv" maximises the
        ``n_folds``-fold cross-validated held-out log-likelihood (each cell
        is fitted ``n_folds`` more times; the reported model is the full-data
        fit).
    sample_weight : (n_samples,), optional
        Frequency weights; ``n`` in BIC is their total.
    n_folds : int, default=5
    n_jobs : int, optional
        Threads fitting grid cells at once (default: the available cores).
    random_state : None, int or Generator
        One seed is drawn from it and shared by every cell, so every type
        starts from the same initialisation and the hierarchical start is
        computed once for all K (mclust does the same); the result does not depend on ``n_jobs``.
    **params
        Further :class:`~bayesmix.GaussianMixture` parameters (``tol``,
        ``max_iter``, ``n_init``, ``init_params``, ``reg_covar``...).  ``tol``
        defaults to 1e-4 here (scikit-learn's rule on the mean log-likelihood:
        enough to rank the cells, and over-fitted cells, whose likelihood
        creeps up for thousands of iterations, stop early), after which the
        cells within 10 of the best criterion are continued to their optimum
        (``tol="auto"``), and a cell whose log-likelihood is below its type's
        cell with one component fewer is continued and, if still below,
        refitted from a split of that cell (so each type's log-likelihoods
        do not fall as K grows; where no refit finds a better proper optimum,
        that row's ``warnings`` says so); their rows of ``table_`` are updated.  Pass
        ``tol`` to use it everywhere, without these steps.  ``n_init``
        defaults to 1: every cell starts
        from the grid's one hierarchical agglomeration, cut at each K, as
        mclust does (Fraley & Raftery 2002); pass ``n_init="auto"`` or a
        number for restarts in every cell.

    Returns
    -------
    ModelSelection
        ``best_``, ``best_params_``, ``table_`` (pandas DataFrame) and ``models_``.

    Notes
    -----
    The data are checked, standardised and put in canonical order once for
    the whole grid, and each number of components gets one initialisation
    shared by the covariance types; every cell is still exactly the fit a
    lone ``GaussianMixture(..., random_state=seed)`` makes, ``seed`` being
    the one number drawn from ``random_state``.

    Warnings raised by individual fits (non-convergence, regularised
    components) are recorded in the ``warnings`` column rather than shown;
    a :class:`~bayesmix.exceptions.ConvergenceWarning` is issued only when the
    selected model itself did not converge.

    Examples
    --------
    >>> from bayesmix import select_model
    >>> from bayesmix.datasets import load_faithful
    >>> sel = select_model(load_faithful(), n_components=range(1, 5), random_state=0)
    >>> sel.best_params_
    {'covariance_type': 'EEE', 'n_components': 3}
    """
    if is_dask(X) or is_dask(sample_weight):  # every cell through the Dask EM
        from ._dask_select import select

        return ModelSelection(
            *select(
                X,
                n_components,
                covariance_types,
                criterion,
                sample_weight=sample_weight,
                random_state=random_state,
                params=params,
            ),
            criterion,
        )
    # NaN cells are missing values: every cell's EM marginalises them
    X_arr, names = check_X(X, min_samples=2, allow_nan=True)
    w = check_sample_weight(sample_weight, X_arr.shape[0])
    grid = check_grid(n_components, covariance_types, criterion, X_arr.shape[1], params)
    ks, cts, params = grid.ks, grid.cts, grid.params
    n_folds = check_int(n_folds, "n_folds", low=2)
    if criterion == "cv" and n_folds > X_arr.shape[0]:
        raise ValueError(
            f"n_folds={n_folds} is larger than the number of rows ({X_arr.shape[0]}); "
            "lower n_folds."
        )
    n_jobs = _n_jobs(n_jobs)
    rng = check_random_state(random_state)
    # One seed for the whole grid, as mclust clusters once for every G: the
    # hierarchical start (and its subsample) is then computed once and cut at each K.
    seed = int(rng.integers(0, 2**63 - 1))
    folds = _folds(X_arr.shape[0], n_folds, rng) if criterion == "cv" else None

    cells = [(ct, k) for ct in cts for k in ks]
    # Largest models first, so the slowest fits do not end up alone at the end.
    order = sorted(
        range(len(cells)),
        key=lambda i: -COVARIANCE_TYPES[cells[i][0]].n_parameters(cells[i][1], X_arr.shape[1]),
    )
    results: list = [None] * len(cells)
    n_threads = 1 if n_jobs == 1 else min(n_jobs, len(cells))
    # The data are checked, standardised and sorted once for the whole grid.
    data = prepare(X_arr, w, max(ks), rescale_weights=True, allow_missing=True)
    holes = data.missing is not None
    _compile.compile_first(_compile.EM, data.Xt.shape[0], data.n_distinct, holes)
    # One initialisation per number of components, shared by the covariance
    # types (what each would compute from the same seed anyway), unless the
    # user asked for several random starts or gave initial parameters.
    share = params.get("n_init", 1) == 1 and not (
        {"weights_init", "means_init", "precisions_init", "warm_start"} & params.keys()
    )
    shared = _SharedStarts(data, cts, seed, params) if share else None

    def run(i):
        ct, k = cells[i]
        start = shared.get(k, ct) if share else None
        with serial_kernels() if n_threads > 1 else contextlib.nullcontext():
            results[i] = _fit_cell(
                data, ct, k, seed, params, criterion, folds, start, cv_data=(X_arr, w)
            )

    # shared, not catch_warnings: overlapping selections in threads restore once
    with capturing_warnings(), single_threaded_blas():
        if n_jobs == 1 or len(cells) == 1:
            if share:
                for k in sorted(ks, reverse=True):
                    shared.compute(k)
            for i in order:
                run(i)
        else:
            with ThreadPoolExecutor(max_workers=min(n_jobs, len(cells))) as pool:
                if share:
                    list(pool.map(shared.compute, sorted(ks, reverse=True)))
                list(pool.map(run, order))

    rows = [r[0] for r in results]
    models = {(r[0]["covariance_type"], r[0]["n_components"]): r[1] for r in results if r[1]}
    if names is not None:  # the fits saw an array; the user's models know the columns
        for model in models.values():
            model.feature_names_in_ = names

    def refit(refined):
        # the grid stops every cell at a change of 1e-4 in the mean
        # log-likelihood, enough to rank them but not to report them;
        # discarded through the shared capture, not catch_warnings: a selection
        # in another thread may open or close its capture meanwhile
        with (
            capturing_warnings(),
            warning_sink([]),
            serial_kernels() if n_threads > 1 else contextlib.nullcontext(),
        ):
            more = fit_prepared(refined, data)
        if names is not None:
            more.feature_names_in_ = names
        return more

    def map_(func, jobs):
        if n_threads == 1 or len(jobs) < 2:
            return list(map(func, jobs))
        with single_threaded_blas(), ThreadPoolExecutor(min(n_threads, len(jobs))) as pool:
            return list(pool.map(func, jobs))

    return ModelSelection(*choose(grid, rows, models, refit, stacklevel=2, map_=map_), criterion)
