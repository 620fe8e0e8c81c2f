"""bayesmix: Gaussian mixtures by EM, variational Bayes and collapsed Gibbs
sampling, on one set of numba kernels."""

from __future__ import annotations

from ._em_bootstrap import bootstrap_em
from ._version import __version__
from .em import GaussianMixture
from .exceptions import (
    ConvergenceWarning,
    DegenerateDataWarning,
    MeanFieldWarning,
    NotFittedError,
)
from .io import load
from .posterior import MixturePosterior
from .priors import Dirichlet, DirichletProcess, Gamma, NormalInverseWishart, RandomScale
from .selection import ModelSelection, select_model


def __getattr__(name: str):
    # The variational engine imports scipy.special (~0.1 s): a process that only
    # fits by EM should not pay for it (PEP 562 lazy attribute).
    if name == "VariationalGaussianMixture":
        from .vb import VariationalGaussianMixture

        return VariationalGaussianMixture
    if name == "DirichletProcessMixture":  # the Gibbs engine imports scipy.special too
        from .gibbs import DirichletProcessMixture

        return DirichletProcessMixture
    raise AttributeError(f"module 'bayesmix' has no attribute {name!r}")


__all__ = [
    "ConvergenceWarning",
    "DegenerateDataWarning",
    "Dirichlet",
    "DirichletProcess",
    "DirichletProcessMixture",
    "Gamma",
    "GaussianMixture",
    "MeanFieldWarning",
    "MixturePosterior",
    "ModelSelection",
    "NormalInverseWishart",
    "NotFittedError",
    "RandomScale",
    "VariationalGaussianMixture",
    "__version__",
    "bootstrap_em",
    "load",
    "select_model",
]
