"""Warnings and errors raised by bayesmix."""

from __future__ import annotations

import functools
import importlib.abc
import sys

__all__ = [
    "ConvergenceWarning",
    "DegenerateDataWarning",
    "MeanFieldWarning",
    "NonFiniteStateError",
    "NotFittedError",
    "not_fitted_error",
]


class _Warning(UserWarning):
    # An intermediate Python class: __bases__ can be reassigned only between
    # bases of the same layout, and UserWarning (a C type) differs from
    # scikit-learn's ConvergenceWarning (a Python subclass of it).
    pass


class ConvergenceWarning(_Warning):
    """A fit stopped before its convergence criterion was met (the result is
    still returned); the message says what to change.

    Once scikit-learn is imported (before or after bayesmix) this class also
    subclasses ``sklearn.exceptions.ConvergenceWarning``, so a warnings filter
    written for scikit-learn's estimators catches bayesmix's too.  bayesmix
    never imports scikit-learn itself (it takes seconds).
    """


class DegenerateDataWarning(UserWarning):
    """The data forced a regularisation or re-seeding step; the message says
    what was done and to which component."""


class MeanFieldWarning(UserWarning):
    """Mean-field (variational) intervals are known to be too narrow for this
    fit: its components overlap.  The message says by how much and what to use
    instead (the EM bootstrap or the Gibbs sampler)."""


class NonFiniteStateError(ValueError):
    """A sampler's state became non-finite (NaN or infinite predictive densities):
    the compiled code stopped instead of reading past its arrays.  The message
    names the prior value that caused it."""


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


# ------------------------------------------- ConvergenceWarning and scikit-learn
def _adopt_sklearn_convergence_warning(module) -> None:
    """Make :class:`ConvergenceWarning` a subclass of ``module.ConvergenceWarning``."""
    sklearn_warning = getattr(module, "ConvergenceWarning", None)
    if (
        isinstance(sklearn_warning, type)
        and issubclass(sklearn_warning, UserWarning)
        and not issubclass(ConvergenceWarning, sklearn_warning)
    ):
        try:
            ConvergenceWarning.__bases__ = (sklearn_warning,)
        except TypeError:  # pragma: no cover - a future scikit-learn with another layout
            pass


class _LoaderThenAdopt(importlib.abc.Loader):
    """Wraps the loader of ``sklearn.exceptions``: runs it, then adopts."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _adopt_sklearn_convergence_warning(module)

    def __getattr__(self, name):  # get_resource_reader, get_source, ...
        return getattr(self._loader, name)


class _SklearnExceptionsWatcher(importlib.abc.MetaPathFinder):
    """A post-import hook for ``sklearn.exceptions`` (removes itself once used):
    scikit-learn imported after bayesmix still gets a subclass relation."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "sklearn.exceptions":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _LoaderThenAdopt(spec.loader)
                return spec
        return None


if "sklearn.exceptions" in sys.modules:
    _adopt_sklearn_convergence_warning(sys.modules["sklearn.exceptions"])
elif not any(isinstance(f, _SklearnExceptionsWatcher) for f in sys.meta_path):
    sys.meta_path.insert(0, _SklearnExceptionsWatcher())


def __getattr__(name: str):
    # Unpickling a scikit-learn-compatible error in a fresh process.
    if name == "_SklearnNotFittedError":
        from sklearn.exceptions import NotFittedError as sklearn_error

        return _sklearn_not_fitted_error(sklearn_error)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
