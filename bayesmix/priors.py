"""Priors shared by the variational and the Gibbs engines.

Parameterisation (the public contract):

* ``NormalInverseWishart(mean, kappa, dof, scale)``:
  ``Sigma ~ InvWishart(dof, scale)``, so ``E[Sigma] = scale / (dof - D - 1)``,
  and ``mu | Sigma ~ Normal(mean, Sigma / kappa)``.
* ``Dirichlet(concentration)``: symmetric Dirichlet on the weights of a
  finite mixture.
* ``DirichletProcess(concentration)``: a positive float (fixed) or a
  ``Gamma(shape, rate)`` hyperprior (learned).
* ``Gamma(shape, rate)``: density ``rate^shape x^(shape-1) e^(-rate x) / Gamma(shape)``.
* ``RandomScale(shape, rate)``: a hyperprior on the NIW ``scale`` (Richardson &
  Green 1997, generalised to ``D`` features): ``scale = 2 b diag(R_1^2, ..,
  R_D^2)`` with ``R_f`` the range of feature ``f`` and ``b ~ Gamma(shape,
  rate)``; sampled by :class:`~bayesmix.DirichletProcessMixture` and learned
  by :class:`~bayesmix.VariationalGaussianMixture` (its ``q(b)``).  A
  :class:`Gamma` given as the NIW ``kappa`` is likewise a hyperprior on it.

``None`` in a prior means a data-driven default chosen at fit time by
:meth:`NormalInverseWishart.resolve` (documented there); explicit values are
used exactly.  Every value is checked when the prior is built, so a bad prior
fails before any data are touched.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

__all__ = ["Dirichlet", "DirichletProcess", "Gamma", "NormalInverseWishart", "RandomScale"]


def _positive(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number, got {value!r}.")
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}.")
    return value


@dataclass(frozen=True)
class Gamma:
    """Gamma(shape, rate) distribution; mean ``shape / rate``."""

    shape: float
    rate: float

    def __post_init__(self):
        object.__setattr__(self, "shape", _positive(self.shape, "Gamma shape"))
        object.__setattr__(self, "rate", _positive(self.rate, "Gamma rate"))

    @property
    def mean(self) -> float:
        return self.shape / self.rate


@dataclass(frozen=True)
class RandomScale:
    """Hyperprior on the scale of a :class:`NormalInverseWishart`: a random scale
    as in Richardson & Green (1997), generalised to ``D`` features.

    ``scale = 2 b diag(R_1^2, .., R_D^2)`` with ``R_f`` the range of feature
    ``f`` in the data and ``b ~ Gamma(shape, rate)``.  In one dimension with
    ``dof = 4`` this is exactly Richardson & Green's ``sigma^-2 ~ Gamma(2,
    beta)``, ``beta ~ Gamma(g, h)`` with ``g = 0.2`` and ``h = 10 / R^2``
    (``beta = b R^2``).  ``b`` is shared by the features, so the prior keeps
    the features' relative ranges and learns one overall width; since the
    NIW scale is conjugate to ``b`` (``b | Sigma_1..Sigma_K ~ Gamma(shape + K D
    dof / 2, rate + sum_k tr(A Sigma_k^-1) / 2)``, ``A = 2 diag(R^2)``) the
    Gibbs sampler draws it exactly.

    Parameters
    ----------
    shape : float > 0, default=0.2
        Richardson & Green's ``g``.
    rate : float > 0, default=10.0
        Richardson & Green's ``h R^2`` (dimensionless).

    References
    ----------
    Richardson & Green (1997), *On Bayesian analysis of mixtures with an
    unknown number of components*, JRSS B 59, 731-792, §2.3.
    """

    shape: float = 0.2
    rate: float = 10.0

    def __post_init__(self):
        object.__setattr__(self, "shape", _positive(self.shape, "RandomScale shape"))
        object.__setattr__(self, "rate", _positive(self.rate, "RandomScale rate"))

    @property
    def gamma(self) -> Gamma:
        """The hyperprior of ``b``."""
        return Gamma(self.shape, self.rate)

    @staticmethod
    def base(X) -> np.ndarray:
        """``A = 2 diag(R_f^2)`` of ``X`` (n_samples, n_features) as its diagonal
        (n_features,); a constant feature borrows the mean squared range of the
        others (1 when every feature is constant), so the scale stays positive
        definite."""
        X = np.asarray(X, dtype=np.float64)
        r2 = np.ptp(X, axis=0) ** 2
        pos = r2 > 0
        fill = r2[pos].mean() if pos.any() else 1.0
        return 2.0 * np.where(pos, r2, fill)


@dataclass(frozen=True)
class Dirichlet:
    """Symmetric Dirichlet prior on the weights of a finite mixture.

    ``concentration=None`` means ``1 / n_components`` (scikit-learn's default),
    which lets unneeded components empty out.
    """

    concentration: float | None = None

    def __post_init__(self):
        if self.concentration is not None:
            object.__setattr__(
                self, "concentration", _positive(self.concentration, "Dirichlet concentration")
            )

    def resolve(self, n_components: int) -> float:
        return 1.0 / n_components if self.concentration is None else self.concentration


@dataclass(frozen=True)
class DirichletProcess:
    """Dirichlet-process prior on the weights (stick-breaking).

    ``concentration`` is a positive float held fixed, or a :class:`Gamma`
    hyperprior under which it is learned.
    """

    concentration: float | Gamma = 1.0

    def __post_init__(self):
        if not isinstance(self.concentration, Gamma):
            object.__setattr__(
                self,
                "concentration",
                _positive(self.concentration, "DirichletProcess concentration"),
            )

    @property
    def learned(self) -> bool:
        return isinstance(self.concentration, Gamma)


@dataclass(frozen=True)
class NormalInverseWishart:
    """Conjugate prior of a Gaussian component.

    ``Sigma ~ InvWishart(dof, scale)`` (``E[Sigma] = scale / (dof - D - 1)``)
    and ``mu | Sigma ~ Normal(mean, Sigma / kappa)``.

    Parameters
    ----------
    mean : (n_features,) array, optional
    kappa : float > 0 or Gamma, optional
        A :class:`Gamma` is a hyperprior under which
        :class:`~bayesmix.DirichletProcessMixture` samples ``kappa`` and
        :class:`~bayesmix.VariationalGaussianMixture` learns it (e.g.
        ``Gamma(0.5, 50)``, Escobar & West 1995's ``1/tau ~ Gamma(w/2, W/2)``
        with ``w = 1``, ``W = 100``).
    dof : float > D - 1, optional
    scale : (n_features, n_features) symmetric positive-definite array or RandomScale, optional
        A :class:`RandomScale` is a hyperprior under which
        :class:`~bayesmix.DirichletProcessMixture` samples the scale and
        :class:`~bayesmix.VariationalGaussianMixture` learns it.

    ``None`` values are filled by :meth:`resolve` at fit time (the Gibbs
    sampler's and the variational engine's default ``scale`` is
    ``RandomScale()``, see their docstrings).
    Hyperpriors are sampled by the Gibbs engine and learned, each by its own
    conjugate variational factor, by the variational engine.
    """

    mean: np.ndarray | None = None
    kappa: float | Gamma | None = None
    dof: float | None = None
    scale: np.ndarray | RandomScale | None = None

    @property
    def learned(self) -> bool:
        """True when ``kappa`` or ``scale`` is a hyperprior."""
        return isinstance(self.kappa, Gamma) or isinstance(self.scale, RandomScale)

    def __post_init__(self):
        if self.kappa is not None and not isinstance(self.kappa, Gamma):
            object.__setattr__(self, "kappa", _positive(self.kappa, "kappa"))
        if self.dof is not None:
            if isinstance(self.dof, bool) or not isinstance(self.dof, numbers.Real):
                raise TypeError(f"dof must be a number > n_features - 1, got {self.dof!r}.")
            object.__setattr__(self, "dof", float(self.dof))
            if not np.isfinite(self.dof):
                raise ValueError(f"dof must be finite, got {self.dof}.")
        if self.mean is not None:
            mean = np.array(self.mean, dtype=np.float64, ndmin=1)
            if mean.ndim != 1 or not np.isfinite(mean).all():
                raise ValueError("mean must be a finite 1-D array of length n_features.")
            object.__setattr__(self, "mean", mean)
        if self.scale is not None and not isinstance(self.scale, RandomScale):
            scale = np.array(self.scale, dtype=np.float64, ndmin=2)
            if scale.ndim != 2 or scale.shape[0] != scale.shape[1]:
                raise ValueError(
                    f"scale must be a square (n_features, n_features) matrix, got shape "
                    f"{scale.shape}."
                )
            if not np.isfinite(scale).all() or not np.allclose(scale, scale.T, rtol=1e-10):
                raise ValueError("scale must be finite and symmetric.")
            if not (np.linalg.eigvalsh(scale) > 0).all():
                raise ValueError("scale must be positive definite (all eigenvalues > 0).")
            object.__setattr__(self, "scale", scale)
        dims = {v.shape[0] for v in (self.mean, self.scale) if isinstance(v, np.ndarray)}
        if len(dims) > 1:
            raise ValueError(
                f"mean has length {self.mean.shape[0]} but scale is "
                f"{self.scale.shape}; both must match n_features."
            )
        if self.dof is not None and dims:
            self.check_dof(dims.pop())

    def check_dof(self, n_features: int) -> None:
        if self.dof is not None and not self.dof > n_features - 1:
            raise ValueError(
                f"dof must be > n_features - 1 = {n_features - 1}, got {self.dof}; use at "
                f"least n_features + 2 = {n_features + 2} for a prior with a finite mean "
                "covariance."
            )

    def resolve(self, X, sample_weight=None, n_components: int = 1) -> NormalInverseWishart:
        """Fill ``None`` values from the data (mclust's default conjugate prior,
        Fraley & Raftery 2007):

        * ``mean``: the weighted mean of ``X``;
        * ``kappa``: 0.01, so the prior on each mean is 10 component widths wide;
        * ``dof``: ``D + 2``, the smallest value with a finite ``E[Sigma]``;
        * ``scale``: ``S / n_components^(2/D)``, ``S`` the weighted covariance of
          ``X`` (its diagonal mean when it is singular), so ``E[Sigma]`` is the
          covariance of one of ``n_components`` equal-volume pieces of the data.

        Explicit values are kept exactly.  Returns a new prior.  Hyperpriors
        (a :class:`Gamma` ``kappa``, a :class:`RandomScale` ``scale``) are
        handled by the engines themselves (the Gibbs sampler draws them, the
        variational engine learns them), so they are refused here.
        """
        if self.learned:
            raise ValueError(
                "This engine uses fixed prior values, but component_prior has a hyperprior "
                f"(kappa={self.kappa!r}, scale={self.scale!r}); hyperpriors are sampled by "
                "DirichletProcessMixture only. Give kappa as a float and scale as an array "
                "(or None for the data-driven default)."
            )
        X = np.asarray(X, dtype=np.float64)
        n_features = X.shape[1]
        w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
        for name, v in (("mean", self.mean), ("scale", self.scale)):
            if isinstance(v, np.ndarray) and v.shape[0] != n_features:
                raise ValueError(
                    f"prior {name} has {v.shape[0]} features but X has {n_features}; give a "
                    "prior of matching size or None for the data-driven default."
                )
        self.check_dof(n_features)
        mean = self.mean
        if mean is None:
            mean = (w @ X) / w.sum()
        scale = self.scale
        dof = n_features + 2.0 if self.dof is None else self.dof
        if scale is None:
            centred = X - (w @ X) / w.sum()
            cov = (centred * w[:, None]).T @ centred / w.sum()
            if not (np.linalg.eigvalsh(cov) > 1e-12 * max(np.trace(cov), 1e-300)).all():
                cov = np.eye(n_features) * max(np.trace(cov) / n_features, 1e-300)
            scale = cov / n_components ** (2.0 / n_features)
        kappa = 0.01 if self.kappa is None else self.kappa
        return NormalInverseWishart(mean=mean, kappa=kappa, dof=dof, scale=scale)

    def standardised(self, center, scale_factor: float) -> NormalInverseWishart:
        """The same prior for ``(X - center) / scale_factor`` (resolved priors only)."""
        return NormalInverseWishart(
            mean=(self.mean - center) / scale_factor,
            kappa=self.kappa,
            dof=self.dof,
            scale=self.scale / scale_factor**2,
        )
