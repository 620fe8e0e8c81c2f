"""bayesmix: Gaussian mixtures by EM, variational Bayes and collapsed Gibbs
sampling, on one set of numba kernels."""

from __future__ import annotations

from .em import GaussianMixture
from .exceptions import ConvergenceWarning, DegenerateDataWarning, NotFittedError

__version__ = "0.1.0"

__all__ = [
    "ConvergenceWarning",
    "DegenerateDataWarning",
    "GaussianMixture",
    "NotFittedError",
    "__version__",
]
