"""Warnings and errors raised by bayesmix."""

from __future__ import annotations

import functools
import sys

__all__ = [
    "ConvergenceWarning",
    "DegenerateDataWarning",
    "MeanFieldWarning",
    "NotFittedError",
    "not_fitted_error",
]


class ConvergenceWarning(UserWarning):
    """A fit stopped before its convergence criterion was met (the result is
    still returned); the message says what to change."""


class DegenerateDataWarning(UserWarning):
    """The data forced a regularisation or re-seeding step; the message says
    what was done and to which component."""


class MeanFieldWarning(UserWarning):
    """Mean-field (variational) intervals are known to be too narrow for this
    fit: its components overlap.  The message says by how much and what to use
    instead (the EM bootstrap or the Gibbs sampler)."""


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted model was called before ``fit``."""


@functools.cache
def _sklearn_not_fitted_error(sklearn_error: type) -> type:
    # A subclass of both errors, so that scikit-learn's tools (check_is_fitted,
    # meta-estimators, its estimator checks) recognise ours; it is built only
    # when scikit-learn is already imported, so bayesmix never imports it.
    cls = type(
        "_SklearnNotFittedError",
        (NotFittedError, sklearn_error),
        {"__module__": __name__, "__doc__": NotFittedError.__doc__},
    )
    globals()["_SklearnNotFittedError"] = cls  # so that instances pickle
    return cls


def not_fitted_error(message: str) -> NotFittedError:
    """A :class:`NotFittedError` carrying ``message``; when scikit-learn is
    already imported it is also a ``sklearn.exceptions.NotFittedError``."""
    sklearn_exceptions = sys.modules.get("sklearn.exceptions")
    if sklearn_exceptions is None:
        return NotFittedError(message)
    return _sklearn_not_fitted_error(sklearn_exceptions.NotFittedError)(message)


def __getattr__(name: str):
    # Unpickling a scikit-learn-compatible error in a fresh process.
    if name == "_SklearnNotFittedError":
        from sklearn.exceptions import NotFittedError as sklearn_error

        return _sklearn_not_fitted_error(sklearn_error)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
