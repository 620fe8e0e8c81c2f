"""Warnings and errors raised by bayesmix."""

from __future__ import annotations

__all__ = ["ConvergenceWarning", "DegenerateDataWarning", "NotFittedError"]


class ConvergenceWarning(UserWarning):
    """A fit stopped before its convergence criterion was met (the result is
    still returned); the message says what to change."""


class DegenerateDataWarning(UserWarning):
    """The data forced a regularisation or re-seeding step; the message says
    what was done and to which component."""


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted model was called before ``fit``."""
