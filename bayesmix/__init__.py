"""bayesmix: Gaussian mixtures by EM, variational Bayes and collapsed Gibbs
sampling, on one set of numba kernels."""

from __future__ import annotations

from ._dask import from_npy  # dask itself is imported only when it is called
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

_LAZY_SUBMODULES = ("datasets", "plotting")  # plotting imports matplotlib: only on use


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    # The variational engine imports scipy.special (~0.1 s): a process that only
    # fits by EM should not pay for it (PEP 562 lazy attribute).
    if name == "VariationalGaussianMixture":
        from .vb import VariationalGaussianMixture

        return VariationalGaussianMixture
    if name == "DirichletProcessMixture":  # the Gibbs engine imports scipy.special too
        from .gibbs import DirichletProcessMixture

        return DirichletProcessMixture
    raise AttributeError(f"module 'bayesmix' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_LAZY_SUBMODULES})


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
    "datasets",
    "from_npy",
    "load",
    "plotting",
    "select_model",
]
