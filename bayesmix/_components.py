"""The one constructor of the kernels' component arrays.

Every kernel pass (:func:`bayesmix._kernels.log_prob_pass`, the EM/VB
E-step) reads a mixture as four arrays:

``means`` (K, D)
    Component centres.
``prec`` (K, P, D)
    Upper-triangular factors ``U_k`` with ``Sigma_k^-1 = U_k U_k^T``
    (``P = D``), or the square roots of diagonal precisions (``P = 1``).
``log_const`` (K,)
    Everything in ``log pi_k + log p_k(x)`` that does not depend on ``x``.
``dof`` (K,) or None
    Student-t degrees of freedom (None: Gaussian components).

Whatever an engine's components are -- plug-in Gaussians (EM, the
hierarchical start, posterior draws, plots), expected log-densities (VB's
E-step) or Student-t predictives (VB and Gibbs) -- the arrays are built here,
so the normalising constants exist once.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._kernels import precision_cholesky

__all__ = [
    "Components",
    "from_covariances",
    "gaussian",
    "gaussian_log_const",
    "log_det_prec",
    "student_t",
    "student_t_log_norm",
    "student_t_per_feature",
]

LOG_2PI = float(np.log(2.0 * np.pi))


class Components(NamedTuple):
    """Kernel arrays of one mixture (see the module docstring)."""

    means: np.ndarray
    prec: np.ndarray
    log_const: np.ndarray
    dof: np.ndarray | None = None


def log_det_prec(prec: np.ndarray) -> np.ndarray:
    """``log |U_k|`` (..., K) of kernel precision factors (..., K, P, D)."""
    if prec.shape[-2] == 1:
        return np.log(prec[..., 0, :]).sum(axis=-1)
    return np.log(np.diagonal(prec, axis1=-2, axis2=-1)).sum(axis=-1)


def gaussian_log_const(log_weights, log_det, n_features: int):
    """``log pi_k + log|U_k| - D/2 log 2 pi``: the additive part of ``log pi_k N(x)``."""
    return log_weights + log_det - 0.5 * n_features * LOG_2PI


def _log(weights):
    with np.errstate(divide="ignore"):
        return np.log(weights)


def gaussian(weights, means, prec) -> Components:
    """Gaussian components from kernel precision factors ``prec`` (K, P, D)."""
    prec = np.ascontiguousarray(prec)
    return Components(
        means, prec, gaussian_log_const(_log(weights), log_det_prec(prec), means.shape[-1])
    )


def upper_precision_factors(covariances: np.ndarray) -> np.ndarray:
    """``U`` (..., D, D) upper triangular with ``U U^T = Sigma^-1`` for a stack of
    positive-definite covariances (..., D, D); raises ``LinAlgError`` otherwise."""
    chol = np.linalg.cholesky(covariances)
    flat = np.ascontiguousarray(chol.reshape(-1, *chol.shape[-2:]))
    prec = np.empty_like(flat)
    # one compiled call for the whole stack: no BLAS threads, no per-matrix overhead
    precision_cholesky(flat, prec)
    return prec.reshape(chol.shape)


def from_covariances(weights, means, covariances) -> Components:
    """Gaussian components from full covariance matrices.

    ``weights`` (..., K), ``means`` (..., K, D), ``covariances`` (..., K, D, D):
    any leading batch axes (e.g. one set of components per posterior draw) are
    kept.  Raises ``numpy.linalg.LinAlgError`` when a covariance is not
    positive definite.
    """
    prec = upper_precision_factors(np.asarray(covariances, dtype=float))
    return Components(
        np.asarray(means, dtype=float),
        np.ascontiguousarray(prec),
        gaussian_log_const(_log(weights), log_det_prec(prec), prec.shape[-1]),
    )


def student_t_log_norm(dof, n_features: int):
    """``log Gamma((dof + D)/2) - log Gamma(dof/2) - D/2 log(dof pi)``: the part of
    a D-variate Student-t log density that depends on neither the point nor the
    scale, elementwise in ``dof``."""
    from scipy.special import gammaln  # on use: ~0.2 s of import an EM fit does not need

    return (
        gammaln(0.5 * (dof + n_features))
        - gammaln(0.5 * dof)
        - 0.5 * n_features * np.log(dof * np.pi)
    )


def student_t(log_weights, means, prec, dof) -> Components:
    """Multivariate Student-t components: ``prec`` (K, P, D) are the kernel
    factors of the inverse *scale* matrices, ``dof`` (K,)."""
    prec = np.ascontiguousarray(prec)
    log_const = log_weights + student_t_log_norm(dof, means.shape[-1]) + log_det_prec(prec)
    return Components(np.ascontiguousarray(means), prec, log_const, dof)


def student_t_per_feature(log_weights, means, inv_scale, dof) -> Components:
    """Products of univariate Student-t densities (VB's "diag" predictive):
    ``inv_scale`` (K, D) per-feature inverse scales, ``dof`` (K,).  The kernels'
    Student-t is multivariate, so these components are evaluated one feature at
    a time."""
    d = means.shape[-1]
    log_const = log_weights + d * student_t_log_norm(dof, 1) + np.log(inv_scale).sum(axis=1)
    return Components(means, inv_scale, log_const, dof)


def expected_gaussian(e_log_weights, means, prec, e_log_det, kappa) -> Components:
    """VB's E-step components: ``E_q[log pi_k] + E_q[log N(x | mu_k, Lambda_k)]``
    as a Gaussian log-density in ``x`` (Bishop 2006 eq. 10.64-10.67).

    ``prec`` (K, P, D) are the kernel factors of ``E_q[Lambda_k]``,
    ``e_log_det`` (K,) is ``E_q[log |Lambda_k|]`` and ``kappa`` (K,) the
    posterior mean precisions: the mean's uncertainty adds ``-D / (2 kappa_k)``.
    """
    prec = np.ascontiguousarray(prec)
    d = means.shape[-1]
    log_const = e_log_weights + 0.5 * e_log_det - 0.5 * d * LOG_2PI - 0.5 * d / kappa
    return Components(means, prec, log_const)
