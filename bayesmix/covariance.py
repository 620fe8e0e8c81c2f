"""Covariance structures: one registry, no ``if covariance_type == ...`` ladders.

Each :class:`CovarianceStructure` turns weighted sufficient statistics into
covariances (the EM M-step), covariances into precision Cholesky factors (with
the one jitter policy, :meth:`~CovarianceStructure.factorise`), and those into
the arrays the shared kernels read; its :class:`Conjugate` part holds the
Normal-Inverse-Wishart pieces of the Bayesian engines (prior scale, conjugate
update, expected covariance, KL, Student-t predictive, draws).  Shapes follow
scikit-learn:

========== ======================================== ===========
name        ``covariances_``                         kernel mode
========== ======================================== ===========
full        (n_components, n_features, n_features)   triangular
tied        (n_features, n_features)                 triangular
diag        (n_components, n_features)               diagonal
spherical   (n_components,)                          diagonal
========== ======================================== ===========

An entry is plain data: two flags (``diagonal``, ``shared``), the shape and
parameter count, and a handful of one-line functions.  Every method below is
written once for all entries, so mclust's volume/shape/orientation models
(EII ... VVV) are added as further entries; an engine only ever calls the
methods, never compares a type name.

The conjugate view (Bishop 2006 §10.2; Gelman et al. 2013 §3.6): every type
is a set of independent Wishart *blocks* on the precision -- "full" has K
blocks of size D, "tied" one block of size D, "diag" K x D blocks of size 1,
"spherical" K blocks of size 1 shared by the D features (a 1 x 1 Wishart
``W(n, 1/psi)`` is ``Gamma(n/2, psi/2)``).  A component's state is the
NIW-style ``(kappa, m, nu, Psi)``; the block degrees of freedom are ``nu``
for full/tied, ``nu - D + 1`` per feature for diag (the marginal of a
diagonal entry of an inverse Wishart) and ``D (nu - D + 1)`` for spherical,
so all four types coincide when D = 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import _components, _mclust_models
from ._components import Components, gaussian_log_const, upper_precision_factors
from ._conjugate import draw_inverse_wishart, mvdigamma, wishart_kl
from ._kernels import precision_cholesky

__all__ = [
    "ALIASES",
    "COVARIANCE_TYPES",
    "MCLUST_MODELS",
    "MCLUST_MODELS_1D",
    "Conjugate",
    "CovarianceStructure",
    "gaussian_log_const",
    "get_structure",
    "mclust_name",
]

_JITTER_START = 1e-10  # standardised units, where the data's variance is about 1
_JITTER_STEPS = 40


# ------------------------------------------------------------------ factorisation
def _full_prec_chol(covs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upper precision factors of a (K, D, D) stack and which matrices failed
    (their factors are NaN).  No jitter: that policy is :meth:`factorise`'s."""
    failed = np.zeros(covs.shape[0], dtype=bool)
    try:
        return upper_precision_factors(covs), failed
    except np.linalg.LinAlgError:
        pass
    chol = np.empty_like(covs)
    eye = np.eye(covs.shape[-1])
    for k, cov in enumerate(covs):
        try:
            chol[k] = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            chol[k], failed[k] = eye, True
    prec = np.empty_like(chol)
    precision_cholesky(np.ascontiguousarray(chol), prec)
    prec[failed] = np.nan
    return prec, failed


def _tied_prec_chol(cov):
    prec, failed = _full_prec_chol(cov[None])
    return prec[0], failed


def _diag_prec_chol(cov):
    bad = ~(cov > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = 1.0 / np.sqrt(cov)
    failed = bad.reshape(cov.shape[0], -1).any(axis=1)
    if failed.any():
        prec = np.where(bad, np.nan, prec)
    return prec, failed


# ---------------------------------------------------------------- conjugate part
@dataclass(frozen=True)
class Conjugate:
    """The Normal-Inverse-Wishart pieces of one covariance type (VB, Gibbs).

    ``scale`` below is the inverse-Wishart scale in the type's own shape (full
    (K, D, D), tied (D, D), diag (K, D) diagonals, spherical (K,) traces) and
    ``dof`` (K,) the NIW degrees of freedom ``nu_k``.
    """

    block_dof: Callable  # (dof, D) -> Wishart dof of each precision block
    prior_scale: Callable  # prior scale (D, D) -> this type's shape, without the K axis
    pool: Callable  # scatter increments (K, D, D) or diagonals (K, D) -> this type's shape
    t_scale: Callable  # (scale, kappa, dof_t) -> squared Student-t scales of the predictive


def _per_component(x, like):
    """``x`` (K,) reshaped to broadcast against ``like`` (K, ...)."""
    return x.reshape(x.shape + (1,) * (like.ndim - 1))


# ------------------------------------------------------------------------- entries
@dataclass(frozen=True)
class CovarianceStructure:
    """How one covariance type is estimated, stored and handed to the kernels."""

    name: str
    diagonal: bool  # kernel mode: second moments needed on the diagonal only
    n_cov_parameters: Callable[[int, int], int]
    _estimate: Callable  # (nk, centred second moments (K, P, D), reg) -> covariances
    _prec_chol: Callable  # covariances -> (precision Cholesky, failed (K,) bool)
    _kernel_prec: Callable  # (prec_chol, K, D) -> (K, P, D)
    _to_full: Callable  # (covariances-or-precisions, K, D) -> (K, D, D)
    _from_full: Callable  # (K, D, D) -> this type's parameterisation
    shape: Callable[[int, int], tuple]
    shared: bool = False  # one covariance for all components (its arrays have no K axis)
    # the D features are independent precision blocks of each component, so a
    # Student-t predictive is a product of univariate t's (diag)
    feature_blocks: bool = False
    isotropic: bool = False  # one variance for every feature of a component (spherical)
    conjugate: Conjugate | None = None
    per_component_name: str | None = None  # entry of one such matrix per component (tied: full)
    # covariances stored as a (K, D, D) stack whatever the kernel mode (mclust's models)
    dense: bool = False
    # the M-step is iterative and starts from the previous covariances when given
    warm: bool = False
    mclust_name: str | None = None  # the model's name in mclust (Fraley & Raftery 2002)
    n_features_only: int | None = None  # "E" and "V" are mclust's one-feature models

    # --------------------------------------------------------------- EM / shared
    def n_parameters(self, n_components: int, n_features: int) -> int:
        """Free parameters: covariances + means + weights."""
        return (
            self.n_cov_parameters(n_components, n_features)
            + n_components * n_features
            + n_components
            - 1
        )

    def estimate(self, nk, s1, s2, reg_covar: float, previous=None) -> np.ndarray:
        """Covariances from statistics accumulated around the old means.

        ``nk`` (K,), ``s1`` (K, D) = sum r (x - shift), ``s2`` (K, P, D) =
        sum r (x - shift)(x - shift)^T (only its diagonal when P = 1).  The
        second moments about the *new* means are ``s2 - s1 s1^T / nk``.
        ``previous`` (this type's shape), the covariances of the last
        iteration, is where an iterative M-step starts (see
        :mod:`bayesmix._mclust_models`); the others ignore it.
        """
        if self.diagonal:
            centred = s2[:, 0, :] - s1 * s1 / nk[:, None]
            centred = np.maximum(centred, 0.0)[:, None, :]
        else:
            centred = s2 - s1[:, :, None] * s1[:, None, :] / nk[:, None, None]
        if self.warm:
            return self._estimate(nk, centred, reg_covar, previous)
        return self._estimate(nk, centred, reg_covar)

    def flat_components(self, nk, s1, s2, unit=None) -> np.ndarray:
        """Components whose covariance only ``reg_covar`` keeps from being
        singular although :meth:`collapsed` cannot see it: mclust's models with
        variable shapes on a flat scatter (see
        :func:`bayesmix._mclust_models.flat_components`); statistics as in
        :meth:`estimate`, ``unit`` each feature's variance (or None)."""
        if not self.dense:
            return np.empty(0, dtype=np.intp)
        return _mclust_models.flat_components(self.mclust_name, self.diagonal, nk, s1, s2, unit)

    def check_n_features(self, n_features: int) -> None:
        """A ``ValueError`` when this model does not exist for ``n_features``."""
        if self.n_features_only is not None and n_features != self.n_features_only:
            raise ValueError(
                f"covariance_type={self.name!r} is mclust's model for one feature; the data "
                f"have {n_features}: use 'EII' (for 'E') or 'VII' (for 'V'), or another of "
                "mclust's names."
            )

    def factors(self, covariances) -> dict:
        """``{"volumes_", "shapes_", "orientations_"}`` of fitted covariances in
        this type's shape: the factors the model has (see
        :func:`bayesmix._mclust_models.factors`); empty for the four
        scikit-learn types, which keep scikit-learn's attributes only."""
        if not self.dense:
            return {}
        return _mclust_models.factors(self.mclust_name, covariances)

    def precision_cholesky(self, covariances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Precision Cholesky factors (scikit-learn's ``precisions_cholesky_``)
        and ``failed`` (K,) (``(1,)`` when shared): the matrices that are not
        numerically positive definite, whose factors are NaN.  No jitter is
        added here; :meth:`factorise` is the one regularisation policy."""
        return self._prec_chol(covariances)

    def add_to_diagonal(self, covs: np.ndarray, added: np.ndarray) -> np.ndarray:
        """``covs`` (this type's shape) plus ``added`` (K,) (``(1,)`` when shared)
        on each component's diagonal."""
        if self.diagonal and not self.dense:
            return covs + added.reshape((-1,) + (1,) * (covs.ndim - 1))
        eye = np.eye(covs.shape[-1])
        if self.shared:
            return covs + added[0] * eye
        return covs + added[:, None, None] * eye

    def factorise(self, covs: np.ndarray):
        """``(covariances, precision Cholesky factors, jitter added or None)``:
        the one jitter policy of every engine.

        A covariance that is not numerically positive definite (only possible
        with ``reg_covar`` 0 or tiny) gets ``1e-10`` (standardised units, where
        the data's variance is about 1) on its diagonal, growing tenfold until
        it factorises; the others are left alone.  The jitter stays in the
        returned covariances, so covariances and precisions remain inverses of
        each other.  ``added`` is (K,) (``(1,)`` when shared), or None when
        nothing was added.
        """
        prec_chol, failed = self.precision_cholesky(covs)
        if not failed.any():
            return covs, prec_chol, None
        amount = _JITTER_START
        for _ in range(_JITTER_STEPS):
            added = np.where(failed, amount, 0.0)
            trial = self.add_to_diagonal(covs, added)
            prec_chol, still = self.precision_cholesky(trial)
            if not still.any():
                return trial, prec_chol, added
            amount *= 10.0
        raise FloatingPointError(  # pragma: no cover - only non-finite covariances get here
            "a covariance could not be made positive definite; the data or the initial "
            "parameters are not finite."
        )

    def collapsed(self, covariances, n_components: int, n_features: int, reg):
        """Indices of the components (``[0]`` at most when shared) whose
        covariance is (nearly) ``reg`` in some direction: they sit on a point or
        a subspace and only the regularisation keeps them finite.

        ``reg`` is one value or one per feature (n_features,); per feature,
        the test is on the covariance in units of the regulariser,
        ``R^-1/2 Sigma R^-1/2``, whose smallest eigenvalue is 1 on a collapse.
        """
        full = self.to_full(covariances, n_components, n_features)
        reg = np.asarray(reg, dtype=float)
        if self.isotropic and reg.ndim:  # one variance: regularised by the mean
            reg = reg.mean()
        # Standardised units: the data's variance is about 1, so 1e-10 is "nothing".
        if reg.ndim == 0 or not (reg > 0).all():
            low = np.linalg.eigvalsh(full)[..., 0]
            flagged = low <= reg.max(initial=0.0) * (1 + 1e-6) + 1e-10
        else:
            inv_root = 1.0 / np.sqrt(reg)
            scaled = full * inv_root[:, None] * inv_root[None, :]
            # judged in each feature's own units only: an absolute test on
            # ``full`` would flag a column whose variance is below 1e-10 of the
            # largest one's (raw tables with columns of very different scales)
            flagged = np.linalg.eigvalsh(scaled)[..., 0] <= 1 + 1e-6
        if self.shared:
            flagged = flagged[:1]
        return np.flatnonzero(flagged)

    def kernel_arrays(self, prec_chol, n_components: int, n_features: int):
        """``prec`` (K, P, D) for the kernels and ``log|U_k|`` (K,)."""
        prec = np.ascontiguousarray(self._kernel_prec(prec_chol, n_components, n_features))
        return prec, _components.log_det_prec(prec)

    def to_full(self, arr, n_components: int, n_features: int) -> np.ndarray:
        """Covariances (or precisions, or inverse-Wishart scales) of this type as
        a (K, D, D) stack."""
        return self._to_full(np.asarray(arr, dtype=float), n_components, n_features)

    def precisions(self, prec_chol) -> np.ndarray:
        """Precision matrices in this type's shape, from Cholesky factors."""
        if prec_chol.ndim >= 2 and not self.diagonal:
            return prec_chol @ np.swapaxes(prec_chol, -1, -2)
        return prec_chol**2

    def from_full(self, full: np.ndarray) -> np.ndarray:
        """The closest matrix of this type to a (K, D, D) stack (its own
        parameterisation; ``tied`` averages, ``spherical`` averages the diagonal)."""
        return self._from_full(np.asarray(full, dtype=float))

    def per_component(self) -> CovarianceStructure:
        """The entry holding one matrix of this kind per component (itself unless
        shared): the shape of per-component quantities such as predictive scales."""
        return (
            self if self.per_component_name is None else COVARIANCE_TYPES[self.per_component_name]
        )

    # ------------------------------------------------------------ conjugate part
    def _conj(self) -> Conjugate:
        if self.conjugate is None:
            raise ValueError(
                f"covariance_type={self.name!r} is fitted by EM only (GaussianMixture, "
                "select_model): it has no conjugate (Bayesian) model here; for "
                "VariationalGaussianMixture use one of "
                f"{sorted(n for n, s in COVARIANCE_TYPES.items() if s.conjugate)}."
            )
        return self.conjugate

    def _block_size(self, n_features: int) -> int:
        return 1 if self.diagonal else n_features

    def block_dof(self, dof, n_features: int):
        """Wishart degrees of freedom of each precision block, from the NIW ``dof``."""
        return self._conj().block_dof(dof, n_features)

    def prior_scale(self, psi0: np.ndarray):
        """The prior inverse-Wishart scale (D, D) in this type's shape (no K axis)."""
        return self._conj().prior_scale(psi0)

    def conjugate_update(self, scale0, dof0: float, nk, incr):
        """``(dof (K,), scale)`` of the posterior from the prior scale ``scale0``
        (this type's shape), the prior ``dof0``, the counts ``nk`` (K,) and the
        scatter increments ``incr`` (K, D, D) or, in diagonal mode, (K, D).  A
        shared covariance pools every component (``dof`` holds its value K
        times)."""
        scale = scale0 + self._conj().pool(incr)
        if self.shared:
            return np.full(nk.shape, dof0 + nk.sum()), scale
        return dof0 + nk, scale

    def expected_covariance(self, dof, scale, n_features: int):
        """``E_q[Lambda]^-1`` in this type's shape."""
        n = self.block_dof(dof, n_features)
        if self.shared:
            return scale / n[0]
        return scale / _per_component(n, scale)

    def elogdet_correction(self, dof, n_features: int):
        """``E[log|Lambda_k|] - log|E[Lambda_k]|`` (K,); depends on the dof only."""
        n, p = self.block_dof(dof, n_features), self._block_size(n_features)
        return (n_features // p) * (mvdigamma(0.5 * n, p) - p * np.log(0.5 * n))

    def precision_kl(self, dof, scale, log_det_u, e_prec, dof0: float, scale0) -> float:
        """Sum over the precision blocks of KL(q || prior).

        ``log_det_u`` (K,) and ``e_prec`` (``E[Lambda]``: (K, D, D), or its
        diagonals (K, D) in diagonal mode) come from the expected covariance;
        ``dof0`` and ``scale0`` are the prior's (``scale0`` in this type's shape).
        """
        return float(self.precision_kl_terms(dof, scale, log_det_u, e_prec, dof0, scale0).sum())

    def precision_kl_terms(self, dof, scale, log_det_u, e_prec, dof0: float, scale0):
        """:meth:`precision_kl` per component, (K,) (a shared covariance has one
        block: (1,)).  VB's merge and delete moves score many candidate
        components at once from these terms."""
        d = e_prec.shape[-1]
        if self.diagonal:
            n_q = _per_component(self.block_dof(dof, d), scale)
            n_p = self.block_dof(dof0, d)
            kl = wishart_kl(n_q, np.log(scale), n_p, np.log(scale0), scale0 / scale, 1)
            return kl.reshape(kl.shape[0], -1).sum(axis=1)
        if self.shared:
            dof, log_det_u, e_prec = dof[:1], log_det_u[:1], e_prec[:1]
        n_q = self.block_dof(dof, d)
        logdet_q = d * np.log(n_q) - 2.0 * log_det_u  # log|Psi| = log|n E[Lambda]^-1|
        logdet_p = np.linalg.slogdet(scale0)[1]
        trace = np.einsum("ij,kij->k", scale0, e_prec) / n_q
        return wishart_kl(n_q, logdet_q, self.block_dof(dof0, d), logdet_p, trace, d)

    def predictive(self, log_weights, means, dof, scale, kappa) -> Components:
        """The posterior-predictive Student-t components (kernel arrays), built
        by :mod:`bayesmix._components`.  For ``feature_blocks`` their ``prec``
        holds per-feature inverse scales (K, D): products of univariate t's."""
        k, d = means.shape
        dof_t, cov_t = self.predictive_scale(dof, scale, kappa, d)
        if self.feature_blocks:
            return _components.student_t_per_feature(
                log_weights, means, 1.0 / np.sqrt(cov_t), dof_t
            )
        per = self.per_component()
        _, prec_chol, _ = per.factorise(cov_t)
        prec, _ = per.kernel_arrays(prec_chol, k, d)
        return _components.student_t(log_weights, means, prec, dof_t)

    def predictive_scale(self, dof, scale, kappa, n_features: int):
        """Student-t degrees of freedom (K,) and squared scales of the posterior
        predictive of each component, in :meth:`per_component`'s shape (for
        ``feature_blocks``, per-feature scales (K, D)).  The predictive dof is
        the block dof less the block size plus one (Murphy 2007 §8)."""
        n, p = self.block_dof(dof, n_features), self._block_size(n_features)
        dof_t = n if p == 1 else n - p + 1.0
        per = scale
        if self.shared:
            per = np.broadcast_to(scale, (kappa.shape[0], *scale.shape))
        return dof_t, self._conj().t_scale(per, kappa, dof_t)

    def draw_covariances(self, rng, dof, scale, n_draws: int, n_components: int, n_features: int):
        """Covariance draws (n_draws, K, D, D) from the inverse-Wishart (or, in
        diagonal mode, inverse-Gamma) posterior ``(dof, scale)``."""
        k, d = n_components, n_features
        n = self.block_dof(dof, d)
        if self.diagonal:
            rate = 0.5 * scale.reshape(k, -1)  # (K, D), or (K, 1) for one shared variance
            shape = np.broadcast_to(0.5 * n[:, None], rate.shape)
            lam = rng.gamma(shape, 1.0 / rate, size=(n_draws, *rate.shape))
            var = np.broadcast_to(1.0 / lam, (n_draws, k, d))
            return var[..., None] * np.eye(d)
        full = self.to_full(scale, k, d)
        if self.shared:
            full, n = full[:1], n[:1]
        upper = np.swapaxes(np.linalg.cholesky(full), -1, -2)
        covs, _ = draw_inverse_wishart(rng, n, upper, (n_draws,))
        return np.broadcast_to(covs, (n_draws, k, d, d)).copy()

    def __reduce__(self):
        # Registry entries hold lambdas, which do not pickle: a fitted model
        # pickles the structure by name and finds the same entry on loading.
        return (get_structure, (self.name,))


def _eye_add(covs, reg):
    d = covs.shape[-1]
    covs = covs.copy()
    idx = np.arange(d)
    covs[..., idx, idx] += reg
    return covs


def _full_estimate(nk, centred, reg):
    return _eye_add(centred / nk[:, None, None], reg)


def _tied_estimate(nk, centred, reg):
    return _eye_add(centred.sum(axis=0) / nk.sum(), reg)


def _diag_estimate(nk, centred, reg):
    return centred[:, 0, :] / nk[:, None] + reg


def _spherical_estimate(nk, centred, reg):
    return _diag_estimate(nk, centred, reg).mean(axis=1)


def _tile_full(arr, k, d):
    return np.broadcast_to(arr, (k, d, d))


def _t_scale(scale, kappa, dof_t):
    # (kappa + 1) / (kappa dof_t) Psi: the Student-t scale of the NIW predictive
    return scale * _per_component((kappa + 1.0) / (kappa * dof_t), scale)


_MATRIX_CONJUGATE = Conjugate(
    block_dof=lambda nu, d: nu,
    prior_scale=lambda psi0: psi0,
    pool=lambda incr: incr,
    t_scale=_t_scale,
)

COVARIANCE_TYPES: dict[str, CovarianceStructure] = {
    s.name: s
    for s in (
        CovarianceStructure(
            "full",
            diagonal=False,
            n_cov_parameters=lambda k, d: k * d * (d + 1) // 2,
            _estimate=_full_estimate,
            _prec_chol=_full_prec_chol,
            _kernel_prec=lambda p, k, d: p,
            _to_full=lambda a, k, d: a,
            _from_full=lambda f: f,
            shape=lambda k, d: (k, d, d),
            conjugate=_MATRIX_CONJUGATE,
        ),
        CovarianceStructure(
            "tied",
            diagonal=False,
            n_cov_parameters=lambda k, d: d * (d + 1) // 2,
            _estimate=_tied_estimate,
            _prec_chol=_tied_prec_chol,
            _kernel_prec=_tile_full,
            _to_full=_tile_full,
            _from_full=lambda f: f.mean(axis=0),
            shape=lambda k, d: (d, d),
            shared=True,
            conjugate=Conjugate(
                block_dof=lambda nu, d: nu,
                prior_scale=lambda psi0: psi0,
                pool=lambda incr: incr.sum(axis=0),
                t_scale=_t_scale,
            ),
            per_component_name="full",
        ),
        CovarianceStructure(
            "diag",
            diagonal=True,
            n_cov_parameters=lambda k, d: k * d,
            _estimate=_diag_estimate,
            _prec_chol=_diag_prec_chol,
            _kernel_prec=lambda p, k, d: p[:, None, :],
            _to_full=lambda a, k, d: a[:, :, None] * np.eye(d),
            _from_full=lambda f: np.diagonal(f, axis1=1, axis2=2).copy(),
            shape=lambda k, d: (k, d),
            feature_blocks=True,
            # sigma_d^2 ~ InvGamma((nu - D + 1)/2, Psi_dd/2): an inverse Wishart's marginal
            conjugate=Conjugate(
                block_dof=lambda nu, d: nu - d + 1.0,
                prior_scale=lambda psi0: np.diag(psi0).copy(),
                pool=lambda incr: incr,
                t_scale=_t_scale,
            ),
        ),
        CovarianceStructure(
            "spherical",
            diagonal=True,
            n_cov_parameters=lambda k, d: k,
            _estimate=_spherical_estimate,
            _prec_chol=_diag_prec_chol,
            _kernel_prec=lambda p, k, d: np.repeat(p[:, None], d, axis=1)[:, None, :],
            _to_full=lambda a, k, d: a[:, None, None] * np.eye(d),
            _from_full=lambda f: np.diagonal(f, axis1=1, axis2=2).mean(axis=1),
            shape=lambda k, d: (k,),
            isotropic=True,
            # sigma^2 ~ InvGamma(D (nu - D + 1)/2, tr(Psi)/2): one precision for D features
            conjugate=Conjugate(
                block_dof=lambda nu, d: d * (nu - d + 1.0),
                prior_scale=lambda psi0: float(np.trace(psi0)),
                pool=lambda incr: incr.sum(axis=1),
                t_scale=lambda scale, kappa, dof_t: scale * (kappa + 1.0) / (kappa * dof_t),
            ),
        ),
    )
}


def _dense_diag_prec_chol(covs):
    prec, failed = _diag_prec_chol(np.diagonal(covs, axis1=1, axis2=2))
    return prec[:, :, None] * np.eye(covs.shape[-1]), failed


def _mclust_entry(name: str) -> CovarianceStructure:
    """A model of :mod:`bayesmix._mclust_models`: covariances (K, D, D), the
    kernels' diagonal mode when its covariances are diagonal."""
    diagonal, step = _mclust_models.M_STEPS[name]

    def estimate(nk, centred, reg, previous=None):
        return step(nk, _mclust_models.scatter(nk, centred, reg, diagonal), previous)

    def from_full(full):
        w = np.diagonal(full, axis1=1, axis2=2) if diagonal else full
        return step(np.ones(full.shape[0]), w)

    return CovarianceStructure(
        name,
        diagonal=diagonal,
        n_cov_parameters=lambda k, d: _mclust_models.n_cov_parameters(name, k, d),
        _estimate=estimate,
        _prec_chol=_dense_diag_prec_chol if diagonal else _full_prec_chol,
        _kernel_prec=(
            (lambda p, k, d: np.diagonal(p, axis1=1, axis2=2)[:, None, :])
            if diagonal
            else (lambda p, k, d: p)
        ),
        _to_full=lambda a, k, d: a,
        _from_full=from_full,
        shape=lambda k, d: (k, d, d),
        isotropic=name in ("E", "V", "EII"),
        dense=True,
        warm=name in ("VEI", "VEE", "VEV", "EVE", "VVE"),
        mclust_name=name,
        n_features_only=1 if name in ("E", "V") else None,
    )


#: mclust's names of the four scikit-learn types: the same entries, the same shapes
ALIASES = {"VVV": "full", "EEE": "tied", "VVI": "diag", "VII": "spherical"}
#: mclust's 14 models for several features, in mclust's order
MCLUST_MODELS = (
    "EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE",
    "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV",
)  # fmt: skip
#: mclust's models for one feature
MCLUST_MODELS_1D = ("E", "V")
for _name in ("E", "V", *MCLUST_MODELS):
    if _name not in ALIASES:
        COVARIANCE_TYPES[_name] = _mclust_entry(_name)
for _alias, _name in ALIASES.items():
    COVARIANCE_TYPES[_alias] = COVARIANCE_TYPES[_name]
    object.__setattr__(COVARIANCE_TYPES[_name], "mclust_name", _alias)


def mclust_name(name: str) -> str:
    """mclust's name of covariance type ``name`` ("full" -> "VVV")."""
    return get_structure(name).mclust_name


def get_structure(name: str) -> CovarianceStructure:
    """The registry entry of ``name``; a ``ValueError`` naming the choices otherwise."""
    try:
        return COVARIANCE_TYPES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"covariance_type={name!r} is not supported; use one of {sorted(COVARIANCE_TYPES)}."
        ) from None
