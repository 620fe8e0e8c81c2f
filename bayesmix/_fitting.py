"""What the optimising engines (EM and VB) share around their iterations: the
restart loop that keeps the best of ``n_init`` runs, the attributes every
fitted engine publishes, and the ConvergenceWarning with its advice.

An engine supplies only what differs: how to run one initialisation, how to
rank two runs and how to describe one.  EM ranks "a run with a collapsed
component loses to any proper run, then the highest log-likelihood" with the
key ``(n_collapsed, -log_likelihood)``; VB ranks by the ELBO with ``-elbo``.
A warm start or a start shared by a model grid is the engine's ``run_init(0)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from .exceptions import ConvergenceWarning

__all__ = ["TIE", "best_run", "describe_run", "improves", "publish_fit", "warn_not_converged"]

Run = TypeVar("Run")


def best_run(
    n_init: int,
    run_init: Callable[[int], Run],
    key: Callable[[Run], object],
    *,
    describe: Callable[[Run], str] | None = None,
    verbose: int = 0,
) -> Run:
    """Run ``run_init(0) ... run_init(n_init - 1)`` and keep the best run.

    Parameters
    ----------
    n_init : int
        Initialisations to run (>= 1).
    run_init : callable ``(init_index) -> run``
        One initialisation and its iterations.
    key : callable ``(run) -> float or tuple``
        Lower is better; a later run replaces the best only when its key is
        lower by more than rounding (:func:`improves`), so runs that reach
        the same optimum keep the earliest: integer weights and repeated rows
        then give the same fit.
    describe : callable ``(run) -> str``, optional
        The text printed after ``"init {i}: "`` when ``verbose`` is true.
    verbose : int

    Returns
    -------
    The best run.
    """
    best = best_key = None
    for init in range(n_init):
        run = run_init(init)
        if verbose and describe is not None:
            print(f"init {init}: {describe(run)}")
        run_key = key(run)
        if best is None or improves(run_key, best_key):
            best, best_key = run, run_key
    return best


#: Relative change of an objective that two runs reaching the same optimum can
#: differ by (the sums run in another order, or over repeated rows)
TIE = 1e-9


def improves(new, best) -> bool:
    """Whether key ``new`` is lower than ``best`` by more than rounding: float
    keys by more than ``TIE`` relative (at least ``TIE`` absolute); tuple keys
    compare their leading entries exactly and their last as a float."""
    if isinstance(new, tuple):
        if new[:-1] != best[:-1]:
            return new[:-1] < best[:-1]
        new, best = new[-1], best[-1]
    return bool(new < best - TIE * max(abs(best), 1.0))


def describe_run(quantity: str, value: float, n_iter: int, converged: bool) -> str:
    """``"<quantity> <value> after <n_iter> iterations, converged=<converged>"``:
    the per-initialisation line of ``verbose=1``."""
    return f"{quantity} {value:.6f} after {n_iter} iterations, converged={converged}"


def publish_fit(
    estimator,
    *,
    n_features: int,
    feature_names,
    converged: bool,
    lower_bounds: Sequence[float],
    log_jacobian: float,
) -> None:
    """Set the attributes every fitted engine has.

    ``converged_``, ``n_iter_`` (the number of bounds), ``lower_bounds_`` and
    ``lower_bound_`` (the bounds of the standardised data minus
    ``log_jacobian``, so they are in the units of ``X``; ``-inf`` when no
    iteration ran), ``n_features_in_`` and ``feature_names_in_`` (set for
    DataFrame input, deleted otherwise, as scikit-learn does).
    """
    estimator.converged_ = converged
    estimator.n_iter_ = len(lower_bounds)
    estimator.lower_bounds_ = [lb - log_jacobian for lb in lower_bounds]
    estimator.lower_bound_ = estimator.lower_bounds_[-1] if estimator.lower_bounds_ else -np.inf
    estimator.n_features_in_ = n_features
    if feature_names is not None:
        estimator.feature_names_in_ = feature_names
    elif hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_


def warn_not_converged(
    method: str, max_iter: int, detail: str, advice: str, *, stacklevel: int = 2
) -> None:
    """Issue the :class:`~bayesmix.exceptions.ConvergenceWarning` of an engine:
    ``"<method> did not converge within max_iter=<max_iter> iterations
    (<detail>). <advice>"``.  ``stacklevel`` counts from the caller."""
    warnings.warn(
        f"{method} did not converge within max_iter={max_iter} iterations ({detail}). {advice}",
        ConvergenceWarning,
        stacklevel=stacklevel + 1,
    )
