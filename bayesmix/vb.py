"""Variational Bayes for Gaussian mixtures: Dirichlet or Dirichlet-process
weights, Normal-Inverse-Wishart components.

Orchestration only.  Coordinate-ascent variational inference (Bishop 2006
§10.2; Blei & Jordan 2006 for the stick-breaking weights) alternates

* an **E-step** through the shared kernel: ``E_q[log pi_k] + E_q[log N(x | mu_k,
  Sigma_k)]`` is a Gaussian log-density whose additive part goes into
  ``log_const`` and whose quadratic form uses ``E_q[Sigma_k^-1]``, so one
  kernel pass gives the responsibilities, ``sum_i w_i log sum_k exp(...)`` and
  the weighted sufficient statistics;
* an **update of the variational posteriors** from those statistics (closed
  form: conjugate updates in O(K D^3), no further pass over the data).

The full evidence lower bound is assembled from the same statistics; see
:class:`VariationalGaussianMixture` for what is included.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
from scipy.special import betaln, digamma, gammaln

from . import _init
from ._base import BaseMixture
from ._data import Standardiser
from ._init import INIT_METHODS
from ._kernels import MixtureStats, log_prob_pass
from ._validation import (
    check_choice,
    check_fitted,
    check_int,
    check_predict_X,
    check_random_state,
    check_real,
    check_sample_weight,
    check_X,
    count_distinct_rows,
)
from .covariance import get_structure
from .exceptions import ConvergenceWarning, DegenerateDataWarning
from .priors import Dirichlet, DirichletProcess, Gamma, NormalInverseWishart

__all__ = ["VariationalGaussianMixture"]

EFFECTIVE_COUNT = 1.0  # a component is effective when its expected count reaches this
_LOG_2PI = np.log(2.0 * np.pi)
_LOG_PI = np.log(np.pi)


# ----------------------------------------------------------------- special functions
def _mvdigamma(a, p: int):
    """Multivariate digamma ``sum_{i<p} digamma(a - i/2)``, elementwise in ``a``."""
    a = np.asarray(a, dtype=float)
    return sum(digamma(a - 0.5 * i) for i in range(p))


def _mvgammaln(a, p: int):
    """Log multivariate gamma function ``log Gamma_p(a)``, elementwise in ``a``."""
    a = np.asarray(a, dtype=float)
    return 0.25 * p * (p - 1) * _LOG_PI + sum(gammaln(a - 0.5 * i) for i in range(p))


def _wishart_kl(n_q, logdet_q, n_p, logdet_p, trace, p: int):
    """KL(q || p) between Wishart laws of a p x p precision, ``W(n, Psi^-1)``.

    ``logdet_*`` are ``log|Psi|`` of the inverse-Wishart scales and ``trace`` is
    ``tr(Psi_p Psi_q^-1)``.  With ``p = 1`` this is the KL between
    ``Gamma(n_q/2, psi_q/2)`` and ``Gamma(n_p/2, psi_p/2)``.
    """
    return (
        0.5 * (n_q - n_p) * _mvdigamma(0.5 * n_q, p)
        - _mvgammaln(0.5 * n_q, p)
        + _mvgammaln(0.5 * n_p, p)
        + 0.5 * n_p * (logdet_q - logdet_p)
        + 0.5 * n_q * (trace - p)
    )


def _gamma_kl(shape_q, rate_q, shape_p, rate_p):
    """KL(Gamma(shape_q, rate_q) || Gamma(shape_p, rate_p)), rate parameterisation."""
    return (
        (shape_q - shape_p) * digamma(shape_q)
        - gammaln(shape_q)
        + gammaln(shape_p)
        + shape_p * (np.log(rate_q) - np.log(rate_p))
        + shape_q * (rate_p - rate_q) / rate_q
    )


# ------------------------------------------------------------ precision families
#
# Every covariance type is a set of independent Wishart "blocks" on the
# precision: "full" has K blocks of size D, "tied" one block of size D, "diag"
# K x D blocks of size 1 and "spherical" K blocks of size 1 shared by the D
# features (a 1 x 1 Wishart W(n, 1/psi) is Gamma(n/2, psi/2)).  The state of a
# component is the NIW-style (kappa, m, nu, Psi); the block degrees of freedom
# are nu for full/tied, nu - D + 1 per feature for diag (the marginal of a
# diagonal entry of an inverse Wishart) and D (nu - D + 1) for spherical, so
# all four types coincide when D = 1.


class _Family:
    """How one covariance type turns statistics into a precision posterior.

    ``scale`` is the posterior inverse-Wishart scale in the type's own shape
    (full (K, D, D), tied (D, D), diag (K, D) diagonals, spherical (K,)
    traces) and ``dof`` (K,) the NIW degrees of freedom ``nu_k``.
    """

    name: str
    structure_name: str  # covariance registry entry used for the kernel arrays
    predictive_name: str | None  # registry entry of the Student-t predictive (None: per feature)
    block_size: int  # p: size of one Wishart block
    multiplicity: int  # precision blocks per component, times features they cover

    def __init__(self, n_features: int):
        self.n_features = n_features
        self.structure = get_structure(self.structure_name)

    def prior_scale(self, psi0):
        """The prior scale (D, D) in this type's shape (without the K axis)."""
        raise NotImplementedError  # pragma: no cover - interface

    def update(self, psi0, nu0, nk, incr):
        """``(dof (K,), scale)`` from the prior and the scatter increments
        ``incr`` (K, D, D) or, for the diagonal types, (K, D)."""
        raise NotImplementedError  # pragma: no cover - interface

    def block_dof(self, dof):
        """Wishart degrees of freedom of each component's precision block(s)."""
        raise NotImplementedError  # pragma: no cover - interface

    def expected_covariance(self, dof, scale):
        """``E_q[Lambda]^-1`` in the registry's shape for this type."""
        return scale / self.block_dof(dof).reshape(dof.shape + (1,) * (scale.ndim - 1))

    def kl(self, dof, scale, log_det_u, e_prec, nu0, psi0) -> float:
        """Sum of KL(q || prior) over the precision blocks."""
        raise NotImplementedError  # pragma: no cover - interface

    def predictive(self, dof, scale, kappa):
        """Student-t degrees of freedom (K,) and squared scales of the predictive,
        in the shape of ``predictive_name``'s covariances (diag: (K, D))."""
        raise NotImplementedError  # pragma: no cover - interface

    def to_full(self, scale, n_components):
        """``scale`` as a (K, D, D) stack."""
        raise NotImplementedError  # pragma: no cover - interface

    def elogdet_correction(self, dof):
        """``E[log|Lambda_k|] - log|E[Lambda_k]|`` (K,); depends on the dof only."""
        n, p = self.block_dof(dof), self.block_size
        return self.multiplicity * (_mvdigamma(0.5 * n, p) - p * np.log(0.5 * n))


class _Full(_Family):
    name = structure_name = predictive_name = "full"
    multiplicity = 1

    @property
    def block_size(self):
        return self.n_features

    def prior_scale(self, psi0):
        return psi0

    def update(self, psi0, nu0, nk, incr):
        return nu0 + nk, psi0[None] + incr

    def block_dof(self, dof):
        return dof

    def kl(self, dof, scale, log_det_u, e_prec, nu0, psi0):
        d = self.n_features
        logdet_q = d * np.log(dof) - 2.0 * log_det_u  # log|Psi| = log|nu E[Lambda]^-1|
        logdet_p = np.linalg.slogdet(psi0)[1]
        trace = np.einsum("ij,kij->k", psi0, e_prec) / dof
        return float(_wishart_kl(dof, logdet_q, nu0, logdet_p, trace, d).sum())

    def predictive(self, dof, scale, kappa):
        d = self.n_features
        dof_t = dof - d + 1.0
        full = np.broadcast_to(scale, (kappa.shape[0], d, d))
        return dof_t, full * ((kappa + 1.0) / (kappa * dof_t))[:, None, None]

    def to_full(self, scale, n_components):
        return scale


class _Tied(_Full):
    """One inverse-Wishart covariance shared by every component (``dof`` holds
    its single value K times)."""

    name = structure_name = "tied"

    def update(self, psi0, nu0, nk, incr):
        return np.full(nk.shape, nu0 + nk.sum()), psi0 + incr.sum(axis=0)

    def expected_covariance(self, dof, scale):
        return scale / dof[0]

    def kl(self, dof, scale, log_det_u, e_prec, nu0, psi0):
        return super().kl(dof[:1], scale, log_det_u[:1], e_prec[:1], nu0, psi0)

    def to_full(self, scale, n_components):
        return np.broadcast_to(scale, (n_components, *scale.shape))


class _Diag(_Family):
    """Independent per-feature precisions, Gamma((nu - D + 1)/2, Psi_dd/2)."""

    name = structure_name = "diag"
    predictive_name = None  # a product of univariate Student-t densities
    block_size = 1

    @property
    def multiplicity(self):
        return self.n_features

    def prior_scale(self, psi0):
        return np.diag(psi0).copy()

    def update(self, psi0, nu0, nk, incr):
        return nu0 + nk, psi0[None] + incr

    def block_dof(self, dof):
        return dof - self.n_features + 1.0

    def kl(self, dof, scale, log_det_u, e_prec, nu0, psi0):
        n_q = self.block_dof(dof)[:, None]
        n_p = self.block_dof(nu0)
        return float(_wishart_kl(n_q, np.log(scale), n_p, np.log(psi0), psi0 / scale, 1).sum())

    def predictive(self, dof, scale, kappa):
        dof_t = self.block_dof(dof)
        return dof_t, scale * ((kappa + 1.0) / (kappa * dof_t))[:, None]

    def to_full(self, scale, n_components):
        return scale[:, :, None] * np.eye(self.n_features)


class _Spherical(_Diag):
    """One precision per component shared by the D features,
    Gamma(D (nu - D + 1)/2, tr(Psi)/2)."""

    name = structure_name = predictive_name = "spherical"

    def prior_scale(self, psi0):
        return float(np.trace(psi0))

    def update(self, psi0, nu0, nk, incr):
        return nu0 + nk, psi0 + incr.sum(axis=1)

    def block_dof(self, dof):
        return self.n_features * (dof - self.n_features + 1.0)

    def kl(self, dof, scale, log_det_u, e_prec, nu0, psi0):
        n_q, n_p = self.block_dof(dof), self.block_dof(nu0)
        return float(_wishart_kl(n_q, np.log(scale), n_p, np.log(psi0), psi0 / scale, 1).sum())

    def predictive(self, dof, scale, kappa):
        dof_t = self.block_dof(dof)
        return dof_t, scale * (kappa + 1.0) / (kappa * dof_t)

    def to_full(self, scale, n_components):
        return scale[:, None, None] * np.eye(self.n_features)


_FAMILIES = {f.name: f for f in (_Full, _Tied, _Diag, _Spherical)}


def _family(name: str, n_features: int) -> _Family:
    get_structure(name)  # the registry's error message for unknown names
    return _FAMILIES[name](n_features)


# ------------------------------------------------------------------------ state
@dataclass
class _Prior:
    """The resolved prior in standardised units."""

    mean: np.ndarray  # (D,)
    kappa: float
    dof: float
    scale: np.ndarray  # (D, D)
    scale_t: object  # prior scale in the family's shape
    dp: bool
    concentration: float  # Dirichlet concentration, or the fixed / prior-mean DP one
    gamma: Gamma | None  # hyperprior of the DP concentration when learned


@dataclass
class _Posterior:
    """Variational parameters in standardised units."""

    weight_a: np.ndarray  # Dirichlet alpha_k, or the first Beta parameter of each stick
    weight_b: np.ndarray | None  # second Beta parameter of each stick (DP), else None
    conc_shape: float | None  # q(concentration) = Gamma(shape, rate) when learned
    conc_rate: float | None
    kappa: np.ndarray  # (K,)
    means: np.ndarray  # (K, D)
    dof: np.ndarray  # (K,)
    scale: np.ndarray  # family's shape
    # derived arrays (filled by _expectations)
    prec: np.ndarray = field(default=None, repr=False)
    log_det_u: np.ndarray = field(default=None, repr=False)
    e_prec: np.ndarray = field(default=None, repr=False)  # E[Lambda] (K,D,D) or diag (K,D)
    e_log_pi: np.ndarray = field(default=None, repr=False)
    log_const: np.ndarray = field(default=None, repr=False)
    kl: float = 0.0


@dataclass
class _Run:
    post: _Posterior
    lower_bounds: list
    elbo: float
    nk: np.ndarray
    converged: bool


# ---------------------------------------------------------------------- engine
class VariationalGaussianMixture(BaseMixture):
    """Gaussian mixture fitted by variational Bayes (mean-field CAVI).

    Model: weights ``pi ~ Dirichlet(c, ..., c)`` (finite, symmetric) or
    stick-breaking ``pi_k = v_k prod_{j<k} (1 - v_j)``, ``v_k ~ Beta(1,
    alpha)`` (Dirichlet process, ``alpha`` fixed or ``~ Gamma(shape,
    rate)``); component ``k`` has ``(mu_k, Sigma_k) ~
    NormalInverseWishart(mean, kappa, dof, scale)``; ``x_i | z_i = k ~ N(mu_k,
    Sigma_k)``.  The variational posterior factorises as ``q(z) q(pi or v)
    q(alpha) prod_k q(mu_k, Sigma_k)``, each factor in its conjugate family.

    Defaults: ``n_components=10`` (a truncation level), Dirichlet-process
    weights with concentration 1, the data-driven ``NormalInverseWishart``
    below, ``tol=1e-5`` per observation, ``max_iter=500``, k-means
    initialisation; a component is *effective* when its expected count is at
    least 1.

    Parameters
    ----------
    n_components : int, default=10
        Number of components K: the number of Dirichlet components, or the
        truncation level of the Dirichlet process.  Components the data do not
        need empty out; see ``n_effective_components_``.
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
        ``"full"``: an inverse-Wishart covariance per component; ``"tied"``:
        one inverse-Wishart covariance shared by all; ``"diag"``: independent
        per-feature variances ``sigma_d^2 ~ InvGamma((dof - D + 1)/2,
        scale_dd/2)`` (the marginal of a diagonal entry of the inverse
        Wishart); ``"spherical"``: ``sigma^2 ~ InvGamma(D (dof - D + 1)/2,
        tr(scale)/2)``.  The four coincide when ``n_features = 1``.
    weight_prior : Dirichlet or DirichletProcess, optional
        ``None`` means ``DirichletProcess(concentration=1.0)``.  A
        ``DirichletProcess(Gamma(shape, rate))`` learns the concentration.
        ``Dirichlet(None)`` uses concentration ``1 / n_components``.
    component_prior : NormalInverseWishart, optional
        ``None`` means ``NormalInverseWishart()``: every value data-driven,
        as documented in :meth:`NormalInverseWishart.resolve` with
        ``n_components=1`` — mean: the data mean; kappa: 0.01; dof: D + 2;
        scale: the data covariance, so ``E[Sigma]`` is the covariance of the
        whole data set.  The prior of a component does not depend on K, so the
        ELBO compares across K.  The resolved prior is ``component_prior_``.
    tol : float, default=1e-5
        Stop when the ELBO grows by less than ``tol`` per unit of sample weight
        (per observation) in one iteration — a change relative to the data
        size, so it does not depend on the units of ``X``.
    max_iter : int, default=500
        Maximum iterations per initialisation.
    n_init : int, default=1
        Initialisations to run; the one with the highest ELBO is kept.
    init_params : {"kmeans", "auto", "hierarchical", "k-means++", "random", "random_from_data"}, \
default="kmeans"
        Initial responsibilities, as for :class:`~bayesmix.GaussianMixture`
        (``"hierarchical"`` is mclust's model-based agglomeration).
    random_state : None, int or numpy Generator
        Seed for the initialisation, ``sample`` and ``posterior``; the same seed
        gives the same result bit for bit.
    verbose : int, default=0
        Print the ELBO every iteration when >= 2, per initialisation when 1.

    Attributes
    ----------
    weights_ : (n_components,)
        Posterior mean weights ``E_q[pi_k]`` (normalised over the K
        components; for a DP the stick mass beyond the truncation is spread
        proportionally).
    means_ : (n_components, n_features)
        Posterior means ``m_k`` of the component means.
    covariances_ : scikit-learn shape for ``covariance_type``
        ``E_q[Sigma_k^-1]^-1`` (``scale_k / dof_k`` for full and tied, as in
        scikit-learn); ``precisions_`` and ``precisions_cholesky_`` are
        ``E_q[Sigma_k^-1]`` and its Cholesky factor.
    mean_precision_ : (n_components,)
        Posterior ``kappa_k``.
    degrees_of_freedom_ : (n_components,)
        Posterior inverse-Wishart ``dof_k`` (for ``"tied"`` all equal).
    scales_ : covariance_type's shape
        Posterior inverse-Wishart scales ``Psi_k`` (full (K, D, D), tied (D, D),
        diag their diagonals (K, D), spherical their traces (K,)).
    weight_concentration_ : (n_components,) or tuple of two (n_components,)
        Dirichlet parameters, or the two Beta parameters of every stick (as in
        scikit-learn).
    concentration_ : float
        The DP concentration (its posterior mean when learned) or the
        Dirichlet concentration.
    concentration_posterior_ : Gamma or None
        ``q(concentration)`` when it is learned.
    weight_prior_, component_prior_ :
        The resolved priors (data units).
    elbo_ : float
        The evidence lower bound at the fitted variational posterior (with
        responsibilities optimal for it): every constant included, so it is
        a lower bound on ``log p(X)`` and compares across K, covariance types
        and priors.
    lower_bounds_ : list of float
        The ELBO after every iteration of the kept run (non-decreasing);
        ``elbo_ >= lower_bounds_[-1]``.  ``lower_bound_`` is its last value.
    counts_ : (n_components,)
        Expected (weighted) number of observations per component,
        ``sum_i w_i r_ik``.
    n_effective_components_ : int
        Components whose expected count ``counts_`` is at least 1 (one
        observation's worth of responsibility; the largest component always
        counts).  ``effective_components_`` is
        the boolean mask; ``predict`` only returns these labels (with their
        original indices).
    converged_, n_iter_, n_features_in_, feature_names_in_ :
        As in scikit-learn.

    Notes
    -----
    *The ELBO.*  ``E_q[log p(X, z, pi, mu, Sigma)] - E_q[log q]`` with all
    normalising constants: the data term uses ``E[log|Lambda|]`` (multivariate
    digamma) and ``-D/(2 kappa_k)``, the prior terms are full Dirichlet / Beta /
    Gamma and Wishart KL divergences.  For a DP the variational family is
    truncated (``q(z_i > K) = 0``) while the prior is the untruncated process,
    so the ELBO bounds the evidence of the DP mixture itself (Kurihara, Welling
    & Teh 2007); this is also scikit-learn's stick parameterisation.  Because
    that prior favours large early sticks, after each update the components
    are relabelled by decreasing expected count whenever this raises the ELBO
    (so the trace stays monotone and used components come first).  With
    ``n_components=1`` and a Dirichlet prior the ELBO equals the exact log
    marginal likelihood of the conjugate model.

    *Predictions.*  ``score_samples`` is the log posterior-predictive density
    under ``q``: a mixture of multivariate Student-t densities with weights
    ``weights_`` (for ``"diag"`` each component is a product of univariate
    Student-t densities).  ``predict_proba`` gives the membership
    probabilities of that predictive mixture and ``sample`` draws from it.
    ``posterior(n_draws)`` draws parameters from ``q``.

    ``sample_weight`` are frequency weights: integer weights give the same fit
    as repeated rows.  No ``reg_covar`` is needed: the prior scale keeps every
    covariance positive definite, whatever the data (duplicated rows,
    constant or collinear columns; constant columns are reported with a
    :class:`~bayesmix.exceptions.DegenerateDataWarning`, and when every column
    is constant the default prior scale is the identity).  The data are
    centred and scaled internally, so values near 1e+-150 fit as well as
    values near 1.

    References
    ----------
    Bishop (2006) §10.2; Blei & Jordan (2006), Bayesian Analysis 1, 121-144;
    Kurihara, Welling & Teh (2007), IJCAI.
    """

    def __init__(
        self,
        n_components: int = 10,
        *,
        covariance_type: str = "full",
        weight_prior: Dirichlet | DirichletProcess | None = None,
        component_prior: NormalInverseWishart | None = None,
        tol: float = 1e-5,
        max_iter: int = 500,
        n_init: int = 1,
        init_params: str = "kmeans",
        random_state=None,
        verbose: int = 0,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.weight_prior = weight_prior
        self.component_prior = component_prior
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        check_int(self.n_components, "n_components", low=1)
        get_structure(self.covariance_type)
        check_real(self.tol, "tol", low=0.0)
        check_int(self.max_iter, "max_iter", low=0)
        check_int(self.n_init, "n_init", low=1)
        check_choice(self.init_params, "init_params", INIT_METHODS)
        check_int(self.verbose, "verbose", low=0)
        check_random_state(self.random_state)
        wp = DirichletProcess(1.0) if self.weight_prior is None else self.weight_prior
        if not isinstance(wp, (Dirichlet, DirichletProcess)):
            raise TypeError(
                f"weight_prior must be a bayesmix.Dirichlet or bayesmix.DirichletProcess "
                f"(or None for DirichletProcess(1.0)), got {wp!r}."
            )
        cp = NormalInverseWishart() if self.component_prior is None else self.component_prior
        if not isinstance(cp, NormalInverseWishart):
            raise TypeError(
                "component_prior must be a bayesmix.NormalInverseWishart (or None for the "
                f"data-driven default), got {cp!r}."
            )
        return wp, cp

    def _resolve_priors(self, Xt, w, std, wp, cp):
        """Resolved priors in data units (public) and in standardised units.

        Defaults are computed on the standardised data ``Xt`` (so data near
        1e+-150 do not overflow) and are the same, up to rounding, as
        :meth:`NormalInverseWishart.resolve` on ``X``; explicit values are
        kept exactly.
        """
        n_features = Xt.shape[0]
        k = self.n_components
        c, s = std.center, std.scale
        if not np.any(Xt[:, w > 0]) and cp.scale is None:
            # All columns constant: any scale is arbitrary; the identity keeps the fit finite.
            cp = NormalInverseWishart(cp.mean, cp.kappa, cp.dof, np.eye(n_features))
        # One component's prior must not depend on how many components are allowed
        # (K is only a truncation level for a DP), or ELBOs would not compare across K.
        # This call also checks the explicit values against the data dimension.
        defaults = cp.resolve(Xt.T, w, n_components=1)
        mean = defaults.mean if cp.mean is None else (cp.mean - c) / s
        scale = defaults.scale if cp.scale is None else cp.scale / s**2
        public = NormalInverseWishart(
            mean=mean * s + c if cp.mean is None else cp.mean,
            kappa=defaults.kappa,
            dof=defaults.dof,
            scale=scale * s**2 if cp.scale is None else cp.scale,
        )
        if isinstance(wp, Dirichlet):
            weight_prior = Dirichlet(wp.resolve(k))
            conc, gamma, dp = weight_prior.concentration, None, False
        else:
            weight_prior = wp
            gamma = wp.concentration if wp.learned else None
            conc = gamma.mean if gamma is not None else wp.concentration
            dp = True
        fam = _family(self.covariance_type, n_features)
        prior = _Prior(
            mean=mean,
            kappa=defaults.kappa,
            dof=defaults.dof,
            scale=scale,
            scale_t=fam.prior_scale(scale),
            dp=dp,
            concentration=conc,
            gamma=gamma,
        )
        return weight_prior, public, prior, fam

    # --------------------------------------------------------------- fitting
    def fit(self, X, y=None, sample_weight=None):
        """Fit the variational posterior.

        Parameters
        ----------
        X : array-like or DataFrame, (n_samples, n_features)
        y : ignored
        sample_weight : array-like (n_samples,), optional
            Non-negative frequency weights.

        Returns
        -------
        self
        """
        return self._fit(X, sample_weight)

    def _fit(self, X, sample_weight=None, resp_init=None):
        wp, cp = self._check_params()
        X, names = check_X(X, min_samples=2)
        w = check_sample_weight(sample_weight, X.shape[0])
        n_features = X.shape[1]
        k = self.n_components
        if (w > 0).sum() < 2:
            raise ValueError(
                "sample_weight gives positive weight to fewer than 2 rows; a mixture needs "
                "at least 2 weighted samples."
            )
        distinct = count_distinct_rows(X, w, k)
        if distinct < k:
            raise ValueError(
                f"n_components={k} is larger than the number of distinct rows with positive "
                f"weight ({distinct}); lower n_components to at most {distinct}."
            )
        std = Standardiser(X, w)
        Xt = std.transform(X)
        weight_prior, component_prior, prior, fam = self._resolve_priors(Xt, w, std, wp, cp)
        rng = check_random_state(self.random_state)
        self._family = fam

        events = []
        var = (Xt * Xt) @ w / w.sum()  # standardised units: no underflow
        const = np.flatnonzero(var <= 1e-24 * max(var.max(), np.finfo(float).tiny))
        if const.size:
            events.append(
                f"feature(s) {const.tolist()} of X are constant; the prior scale keeps their "
                "variances positive"
            )

        best = None
        for init in range(self.n_init):
            if resp_init is not None:
                resp = np.ascontiguousarray(resp_init, dtype=float)
            else:
                resp = _init.initial_resp(self.init_params, Xt, w, k, rng)
            run = self._cavi(Xt, w, resp, prior, fam, self.max_iter, self.tol)
            if self.verbose:
                print(
                    f"init {init}: ELBO {run.elbo:.6f} after {len(run.lower_bounds)} "
                    f"iterations, converged={run.converged}"
                )
            if best is None or run.elbo > best.elbo:
                best = run

        log_jac = w.sum() * n_features * std.log_scale
        self._standardiser = std
        self._prior = prior
        self._post = best.post
        self.weight_prior_ = weight_prior
        self.component_prior_ = component_prior
        self.converged_ = best.converged
        self.n_iter_ = len(best.lower_bounds)
        self.lower_bounds_ = [lb - log_jac for lb in best.lower_bounds]
        self.lower_bound_ = self.lower_bounds_[-1] if self.lower_bounds_ else -np.inf
        self.elbo_ = best.elbo - log_jac
        self.counts_ = best.nk
        self.effective_components_ = best.nk >= EFFECTIVE_COUNT
        self.effective_components_[np.argmax(best.nk)] = True
        self.n_effective_components_ = int(self.effective_components_.sum())
        self.n_features_in_ = n_features
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self._set_public_params()

        for msg in events:
            warnings.warn(msg, DegenerateDataWarning, stacklevel=2)
        if not best.converged and self.max_iter > 0:
            lbs = best.lower_bounds
            last = (lbs[-1] - lbs[-2]) / w.sum() if len(lbs) > 1 else float("nan")
            warnings.warn(
                f"Variational Bayes did not converge within max_iter={self.max_iter} "
                f"iterations (last ELBO change per observation {last:.3g} > tol={self.tol}). "
                "Increase max_iter or tol, or start better: more n_init, or "
                "init_params='kmeans'.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _cavi(self, Xt, w, resp, prior, fam, max_iter, tol) -> _Run:
        """Coordinate ascent from initial responsibilities (standardised units)."""
        n_features = Xt.shape[0]
        k = resp.shape[1]
        stats = MixtureStats(Xt.shape[1], k, n_features, fam.structure.diagonal)
        shift = np.zeros((k, n_features))
        stats.from_resp(Xt, w, resp, shift)
        post = self._update(stats, shift, prior, fam, None)
        self._expectations(post, prior, fam)
        total = w.sum()
        lower_bounds = []
        converged = False
        for it in range(max_iter):
            old = post
            stats.e_step(Xt, w, old.means, old.prec, old.log_const)
            post = self._update(stats, old.means, prior, fam, old)
            self._expectations(post, prior, fam)
            # ELBO(r_t, q_t) = H(r_t) + energy of r_t under q_t - KL(q_t), where the
            # entropy H(r_t) = sum_i w_i lse_i - energy of r_t under q_{t-1}
            entropy = stats.log_likelihood - self._energy(old, stats, old.means)
            elbo = entropy + self._energy(post, stats, old.means) - post.kl
            if prior.dp and self._reorder:
                post, elbo = self._try_reorder(post, elbo, entropy, stats, old, prior, fam)
            lower_bounds.append(elbo)
            if self.verbose >= 2:
                print(f"  iteration {it + 1}: ELBO {lower_bounds[-1]:.8f}")
            if it > 0 and lower_bounds[-1] - lower_bounds[-2] < tol * total:
                converged = True
                break
        # the fitted q with its optimal responsibilities: ELBO = sum_i w_i lse_i - KL(q)
        stats.e_step(Xt, w, post.means, post.prec, post.log_const)
        return _Run(post, lower_bounds, stats.log_likelihood - post.kl, stats.nk.copy(), converged)

    _reorder = True  # relabel DP sticks by size (off only to compare with scikit-learn)

    def _try_reorder(self, post, elbo, entropy, stats, old, prior, fam):
        """Relabel the components by decreasing expected count when that raises
        the ELBO: the stick-breaking prior favours large early sticks, and an
        emptied stick in front of a used one costs ELBO for nothing."""
        order = np.argsort(-stats.nk, kind="stable")
        if np.array_equal(order, np.arange(order.size)):
            return post, elbo
        permuted = SimpleNamespace(nk=stats.nk[order], s1=stats.s1[order], s2=stats.s2[order])
        shift = old.means[order]
        candidate = self._update(permuted, shift, prior, fam, old)
        self._expectations(candidate, prior, fam)
        cand_elbo = entropy + self._energy(candidate, permuted, shift) - candidate.kl
        if cand_elbo > elbo:
            return candidate, cand_elbo
        return post, elbo

    @staticmethod
    def _update(stats, shift, prior, fam, old) -> _Posterior:
        """Conjugate updates of q(pi) (and q(alpha)) and q(mu, Sigma) from the
        statistics accumulated around ``shift``."""
        nk = stats.nk
        s1 = stats.s1
        kappa = prior.kappa + nk
        m0 = prior.mean[None, :] - shift  # prior mean relative to the shift
        means = shift + (prior.kappa * m0 + s1) / kappa[:, None]
        c = (prior.kappa * nk / kappa)[:, None]
        if fam.structure.diagonal:
            incr = (
                stats.s2[:, 0, :]
                - s1 * s1 / kappa[:, None]
                + c * m0 * m0
                - 2.0 * prior.kappa * m0 * s1 / kappa[:, None]
            )
        else:
            cross = m0[:, :, None] * s1[:, None, :]
            incr = (
                stats.s2
                - s1[:, :, None] * s1[:, None, :] / kappa[:, None, None]
                + c[:, :, None] * m0[:, :, None] * m0[:, None, :]
                - prior.kappa * (cross + np.swapaxes(cross, 1, 2)) / kappa[:, None, None]
            )
            incr = 0.5 * (incr + np.swapaxes(incr, 1, 2))
        dof, scale = fam.update(prior.scale_t, prior.dof, nk, incr)

        conc_shape = conc_rate = None
        if prior.dp:
            if prior.gamma is not None:
                conc = prior.concentration if old is None else old.conc_shape / old.conc_rate
            else:
                conc = prior.concentration
            tail = np.concatenate((np.cumsum(nk[::-1])[-2::-1], [0.0]))
            weight_a, weight_b = 1.0 + nk, conc + tail
            if prior.gamma is not None:
                e_log_1mv = digamma(weight_b) - digamma(weight_a + weight_b)
                conc_shape = prior.gamma.shape + nk.shape[0]
                conc_rate = prior.gamma.rate - e_log_1mv.sum()
        else:
            weight_a, weight_b = prior.concentration + nk, None
        return _Posterior(weight_a, weight_b, conc_shape, conc_rate, kappa, means, dof, scale)

    @staticmethod
    def _expectations(post: _Posterior, prior: _Prior, fam: _Family) -> None:
        """Fill the kernel arrays, E[log pi], E[Lambda] and KL(q || prior)."""
        k, d = post.means.shape
        structure = fam.structure
        prec_chol, _ = structure.precision_cholesky(fam.expected_covariance(post.dof, post.scale))
        prec, log_det_u = structure.kernel_arrays(prec_chol, k, d)
        if structure.diagonal:
            e_prec = prec[:, 0, :] ** 2
        else:
            e_prec = prec @ np.swapaxes(prec, 1, 2)
        elogdet = 2.0 * log_det_u + fam.elogdet_correction(post.dof)

        # weights
        a, b = post.weight_a, post.weight_b
        if b is None:
            e_log_pi = digamma(a) - digamma(a.sum())
            alpha0 = prior.concentration
            kl_w = (
                gammaln(a.sum())
                - gammaln(a).sum()
                - gammaln(k * alpha0)
                + k * gammaln(alpha0)
                + ((a - alpha0) * e_log_pi).sum()
            )
        else:
            dab = digamma(a + b)
            e_log_v = digamma(a) - dab
            e_log_1mv = digamma(b) - dab
            e_log_pi = e_log_v + np.concatenate(([0.0], np.cumsum(e_log_1mv)[:-1]))
            if post.conc_shape is None:
                e_conc, e_log_conc, kl_conc = prior.concentration, np.log(prior.concentration), 0.0
            else:
                e_conc = post.conc_shape / post.conc_rate
                e_log_conc = digamma(post.conc_shape) - np.log(post.conc_rate)
                kl_conc = _gamma_kl(
                    post.conc_shape, post.conc_rate, prior.gamma.shape, prior.gamma.rate
                )
            # KL(q(v) || p(v | alpha)) with p(v | alpha) = Beta(1, alpha)
            e_log_q = -betaln(a, b) + (a - 1.0) * e_log_v + (b - 1.0) * e_log_1mv
            e_log_p = e_log_conc + (e_conc - 1.0) * e_log_1mv
            kl_w = float((e_log_q - e_log_p).sum()) + kl_conc

        # components: Wishart blocks + the Gaussian of each mean given its precision
        diff = post.means - prior.mean
        if structure.diagonal:
            maha = (diff * diff * e_prec).sum(axis=1)
        else:
            maha = np.einsum("ki,kij,kj->k", diff, e_prec, diff)
        ratio = prior.kappa / post.kappa
        kl_mean = 0.5 * (d * ratio - d - d * np.log(ratio) + prior.kappa * maha).sum()
        kl_prec = fam.kl(post.dof, post.scale, log_det_u, e_prec, prior.dof, prior.scale_t)

        post.prec = prec
        post.log_det_u = log_det_u
        post.e_prec = e_prec
        post.e_log_pi = e_log_pi
        post.log_const = e_log_pi + 0.5 * elogdet - 0.5 * d * _LOG_2PI - 0.5 * d / post.kappa
        post.kl = float(kl_w + kl_mean + kl_prec)

    @staticmethod
    def _energy(post: _Posterior, stats, shift) -> float:
        """``sum_ik w_i r_ik log_p_ik`` under ``post`` for the responsibilities
        whose statistics ``stats`` were accumulated around ``shift``."""
        nk = stats.nk
        dm = post.means - shift
        s1 = stats.s1
        if post.e_prec.ndim == 2:
            s2 = stats.s2[:, 0, :] - 2.0 * s1 * dm + nk[:, None] * dm * dm
            quad = (post.e_prec * s2).sum(axis=1)
        else:
            cross = s1[:, :, None] * dm[:, None, :]
            s2 = stats.s2 - cross - np.swapaxes(cross, 1, 2)
            s2 = s2 + nk[:, None, None] * dm[:, :, None] * dm[:, None, :]
            quad = (post.e_prec * s2).sum(axis=(1, 2))
        return float(nk @ post.log_const - 0.5 * quad.sum())

    # ---------------------------------------------------------------- output
    def _set_public_params(self):
        post, fam = self._post, self._family
        s, c = self._standardiser.scale, self._standardiser.center
        if post.weight_b is None:
            weights = post.weight_a / post.weight_a.sum()
            self.weight_concentration_ = post.weight_a.copy()
        else:
            frac = post.weight_a / (post.weight_a + post.weight_b)
            weights = frac * np.concatenate(([1.0], np.cumprod(1.0 - frac)[:-1]))
            weights = weights / weights.sum()
            self.weight_concentration_ = (post.weight_a.copy(), post.weight_b.copy())
        self.weights_ = weights
        self.means_ = post.means * s + c
        self.mean_precision_ = post.kappa.copy()
        self.degrees_of_freedom_ = post.dof.copy()
        self.scales_ = post.scale * s**2
        self.covariances_ = fam.expected_covariance(post.dof, post.scale) * s**2
        self.precisions_cholesky_, _ = fam.structure.precision_cholesky(self.covariances_)
        self.precisions_ = fam.structure.precisions(self.precisions_cholesky_)
        if post.conc_shape is not None:
            self.concentration_posterior_ = Gamma(post.conc_shape, post.conc_rate)
            self.concentration_ = post.conc_shape / post.conc_rate
        else:
            self.concentration_posterior_ = None
            self.concentration_ = float(self._prior.concentration)
        self._predictive = self._predictive_arrays()

    def _component_arrays(self):
        """E-step arrays (expected Gaussian log-density) in standardised units."""
        return self._post.means, self._post.prec, self._post.log_const

    def _predictive_arrays(self):
        """Student-t predictive components in standardised units: ``(means, prec,
        log_const, dof)`` for the kernel; for "diag", ``prec`` holds per-feature
        inverse scales and the components are products of univariate t's."""
        post, fam = self._post, self._family
        k, d = post.means.shape
        dof_t, cov_t = fam.predictive(post.dof, post.scale, post.kappa)
        log_w = np.log(self.weights_)
        if fam.predictive_name is None:
            inv_scale = 1.0 / np.sqrt(cov_t)  # (K, D)
            log_const = (
                log_w
                + d
                * (
                    gammaln(0.5 * (dof_t + 1.0))
                    - gammaln(0.5 * dof_t)
                    - 0.5 * np.log(dof_t * np.pi)
                )
                + np.log(inv_scale).sum(axis=1)
            )
            return post.means, inv_scale, log_const, dof_t
        structure = get_structure(fam.predictive_name)
        prec_chol, _ = structure.precision_cholesky(cov_t)
        prec, log_det_u = structure.kernel_arrays(prec_chol, k, d)
        log_const = (
            log_w
            + gammaln(0.5 * (dof_t + d))
            - gammaln(0.5 * dof_t)
            - 0.5 * d * np.log(dof_t * np.pi)
            + log_det_u
        )
        return post.means, prec, log_const, dof_t

    def _log_prob(self, X, want_resp: bool):
        X = check_predict_X(self, X)
        Xt = self._standardiser.transform(X)
        means, prec, log_const, dof_t = self._predictive
        n_samples = X.shape[0]
        if self._family.predictive_name is None:
            logp = _diag_student_logpdf(Xt, means, prec, log_const, dof_t)
            top = logp.max(axis=0)
            shifted = np.exp(logp - top)
            total = shifted.sum(axis=0)
            row_lse = top + np.log(total)
            resp = np.ascontiguousarray((shifted / total).T) if want_resp else None
        else:
            row_lse = np.empty(n_samples)
            resp = np.empty((n_samples, means.shape[0])) if want_resp else None
            log_prob_pass(Xt, means, prec, log_const, row_lse=row_lse, resp=resp, dof=dof_t)
        row_lse -= X.shape[1] * self._standardiser.log_scale
        return row_lse, resp

    def predict(self, X) -> np.ndarray:
        """Most probable *effective* component of each row, shape (n_samples,);
        labels are the original component indices."""
        proba = self.predict_proba(X)
        proba[:, ~self.effective_components_] = -1.0
        return proba.argmax(axis=1)

    def sample(self, n_samples: int = 1):
        """Draw ``n_samples`` points from the posterior predictive (a mixture of
        Student-t); returns ``(X, labels)``.

        Uses ``random_state``, so repeated calls with an integer seed repeat.
        """
        check_fitted(self)
        n_samples = check_int(n_samples, "n_samples", low=1)
        rng = check_random_state(self.random_state)
        post, fam = self._post, self._family
        k, d = post.means.shape
        dof_t, cov_t = fam.predictive(post.dof, post.scale, post.kappa)
        counts = rng.multinomial(n_samples, self.weights_)
        labels = np.repeat(np.arange(k), counts)
        z = rng.standard_normal((n_samples, d))
        per_feature = fam.predictive_name is None
        chi2 = rng.chisquare(dof_t[labels][:, None], size=(n_samples, d if per_feature else 1))
        z *= np.sqrt(dof_t[labels][:, None] / chi2)
        if per_feature:
            x = post.means[labels] + np.sqrt(cov_t)[labels] * z
        else:
            full = get_structure(fam.predictive_name).to_full(cov_t, k, d)
            chol = np.linalg.cholesky(full)
            x = post.means[labels] + np.einsum("nij,nj->ni", chol[labels], z)
        std = self._standardiser
        return x * std.scale + std.center, labels

    def posterior(self, n_draws: int = 1000, *, X=None, sample_weight=None, random_state=None):
        """Parameters drawn from the variational posterior ``q``, wrapped in a
        :class:`~bayesmix.MixturePosterior` (intervals, summaries, ArviZ).

        Parameters
        ----------
        n_draws : int, default=1000
        X : (n_samples, n_features), optional
            The training data; with it the posterior also carries the pointwise
            log-likelihood, sampled partitions and co-clustering.
        sample_weight : (n_samples,), optional
            The frequency weights of ``X``.
        random_state : None, int or Generator, optional
            ``None`` uses the estimator's ``random_state``.
        """
        from .posterior import MixturePosterior

        rng = check_random_state(self.random_state if random_state is None else random_state)
        draws = self.posterior_draws(n_draws, random_state=rng)
        return MixturePosterior.from_draws(
            draws["weights"],
            draws["means"],
            draws["covariances"],
            concentration=draws.get("concentration"),
            X=X,
            sample_weight=sample_weight,
            feature_names=getattr(self, "feature_names_in_", None),
            kind="variational",
            random_state=rng,
        )

    def posterior_draws(self, n_draws: int = 1000, *, random_state=None) -> dict:
        """Draw parameters from the variational posterior ``q`` as raw arrays.

        Parameters
        ----------
        n_draws : int, default=1000
        random_state : None, int or Generator, optional
            ``None`` uses the estimator's ``random_state``.

        Returns
        -------
        dict of arrays with a leading ``(chain, draw)`` = ``(1, n_draws)``:
        ``weights`` (1, n_draws, K), ``means`` (1, n_draws, K, D),
        ``covariances`` (1, n_draws, K, D, D) and, when the DP concentration is
        learned, ``concentration`` (1, n_draws).  DP weights are normalised over
        the K components.
        """
        check_fitted(self)
        n_draws = check_int(n_draws, "n_draws", low=1)
        rng = check_random_state(self.random_state if random_state is None else random_state)
        post, fam = self._post, self._family
        k, d = post.means.shape
        out = {}
        if post.weight_b is None:
            weights = rng.dirichlet(post.weight_a, size=n_draws)
        else:
            v = rng.beta(post.weight_a, post.weight_b, size=(n_draws, k))
            rest = np.cumprod(1.0 - v, axis=1)
            weights = v * np.concatenate((np.ones((n_draws, 1)), rest[:, :-1]), axis=1)
            weights /= weights.sum(axis=1, keepdims=True)
        covs = _draw_covariances(rng, fam, post, n_draws)  # (n_draws, K, D, D)
        chol = np.linalg.cholesky(covs)
        z = rng.standard_normal((n_draws, k, d))
        means = post.means + np.einsum("skij,skj->ski", chol, z) / np.sqrt(post.kappa)[:, None]
        std = self._standardiser
        out["weights"] = weights[None]
        out["means"] = (means * std.scale + std.center)[None]
        out["covariances"] = (covs * std.scale**2)[None]
        if post.conc_shape is not None:
            out["concentration"] = rng.gamma(post.conc_shape, 1.0 / post.conc_rate, n_draws)[None]
        return out


def _diag_student_logpdf(Xt, means, inv_scale, log_const, dof_t):
    """Log-density (K, n_samples) of the "diag" predictive: component ``k`` is a
    product of univariate Student-t densities with ``dof_t[k]`` degrees of
    freedom, centres ``means[k]`` and inverse scales ``inv_scale[k]``; its
    normalising constant (and log-weight) is ``log_const[k]``.

    The shared kernel's Student-t is multivariate, so each univariate factor is
    one kernel pass over one feature with one component (exact: no
    responsibilities to underflow).
    """
    n_features, n_samples = Xt.shape
    n_components = means.shape[0]
    logp = np.empty((n_components, n_samples))
    row = np.empty(n_samples)
    zero = np.zeros(1)
    for k in range(n_components):
        logp[k] = log_const[k]
        dof = np.array([dof_t[k]])
        for f in range(n_features):
            centre = np.array([[means[k, f]]])
            prec = np.array([[[inv_scale[k, f]]]])
            log_prob_pass(Xt[f : f + 1], centre, prec, zero, row_lse=row, dof=dof)
            logp[k] += row
    return logp


def _draw_covariances(rng, fam: _Family, post: _Posterior, n_draws: int) -> np.ndarray:
    """Covariance draws (n_draws, K, D, D) from q in standardised units."""
    k, d = post.means.shape
    if fam.predictive_name is None or fam.name == "spherical":
        n = fam.block_dof(post.dof)  # (K,)
        rate = 0.5 * (post.scale if fam.name == "diag" else post.scale[:, None])
        shape = np.broadcast_to(0.5 * n[:, None], rate.shape)
        lam = rng.gamma(shape, 1.0 / rate, size=(n_draws, *rate.shape))
        var = np.broadcast_to(1.0 / lam, (n_draws, k, d))
        return var[..., None] * np.eye(d)
    # inverse Wishart by Bartlett: Lambda = C^-T A A^T C^-1 ~ W(nu, Psi^-1) for
    # Psi = C C^T, so Sigma = (C A^-T)(C A^-T)^T.
    scale = fam.to_full(post.scale, k)
    dof = post.dof
    if fam.name == "tied":
        scale, dof = scale[:1], dof[:1]
    nb = scale.shape[0]
    chol = np.linalg.cholesky(scale)
    A = np.zeros((n_draws, nb, d, d))
    rows, cols = np.tril_indices(d, -1)
    A[..., rows, cols] = rng.standard_normal((n_draws, nb, rows.size))
    diag = np.sqrt(rng.chisquare(dof[:, None] - np.arange(d), size=(n_draws, nb, d)))
    A[..., np.arange(d), np.arange(d)] = diag
    B = np.swapaxes(np.linalg.solve(A, np.swapaxes(np.broadcast_to(chol, A.shape), -1, -2)), -1, -2)
    covs = B @ np.swapaxes(B, -1, -2)
    return np.broadcast_to(covs, (n_draws, k, d, d)).copy()
