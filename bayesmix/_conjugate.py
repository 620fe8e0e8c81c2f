"""Normal-Inverse-Wishart, Wishart and Gamma maths shared by the Bayesian
engines (variational Bayes and collapsed Gibbs), in numpy.

Parameterisations follow :class:`bayesmix.NormalInverseWishart`:
``Sigma ~ InvWishart(dof, Psi)`` (``E[Sigma] = Psi / (dof - D - 1)``), so the
precision ``Lambda = Sigma^-1 ~ Wishart(dof, Psi^-1)``.

References: Bishop (2006) appendix B; Gelman et al. (2013) §3.6;
Murphy (2007), "Conjugate Bayesian analysis of the Gaussian distribution".
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "draw_inverse_wishart",
    "gamma_kl",
    "mvdigamma",
    "mvgammaln",
    "wishart_kl",
]

_LOG_PI = float(np.log(np.pi))


def mvgammaln(a, p: int) -> np.ndarray:
    """Log multivariate gamma function ``log Gamma_p(a)``, elementwise in ``a``
    (``scipy.special.multigammaln`` takes scalars only).  A loop over ``p``
    keeps memory at the size of ``a``."""
    from scipy.special import gammaln  # on use: ~0.2 s of import an EM fit does not need

    a = np.asarray(a, dtype=float)
    out = np.full(a.shape, 0.25 * p * (p - 1) * _LOG_PI)
    for j in range(p):
        out += gammaln(a - 0.5 * j)
    return out


def mvdigamma(a, p: int) -> np.ndarray:
    """Multivariate digamma ``sum_{i<p} digamma(a - i/2)``, elementwise in ``a``."""
    from scipy.special import digamma

    a = np.asarray(a, dtype=float)
    return sum(digamma(a - 0.5 * i) for i in range(p))


def wishart_kl(n_q, logdet_q, n_p, logdet_p, trace, p: int):
    """KL(q || p) between Wishart laws of a p x p precision, ``W(n, Psi^-1)``.

    ``logdet_*`` are ``log|Psi|`` of the inverse-Wishart scales and ``trace`` is
    ``tr(Psi_p Psi_q^-1)``.  With ``p = 1`` this is the KL between
    ``Gamma(n_q/2, psi_q/2)`` and ``Gamma(n_p/2, psi_p/2)``.
    """
    return (
        0.5 * (n_q - n_p) * mvdigamma(0.5 * n_q, p)
        - mvgammaln(0.5 * n_q, p)
        + mvgammaln(0.5 * n_p, p)
        + 0.5 * n_p * (logdet_q - logdet_p)
        + 0.5 * n_q * (trace - p)
    )


def gamma_kl(shape_q, rate_q, shape_p, rate_p):
    """KL(Gamma(shape_q, rate_q) || Gamma(shape_p, rate_p)), rate parameterisation."""
    from scipy.special import digamma, gammaln

    return (
        (shape_q - shape_p) * digamma(shape_q)
        - gammaln(shape_q)
        + gammaln(shape_p)
        + shape_p * (np.log(rate_q) - np.log(rate_p))
        + shape_q * (rate_p - rate_q) / rate_q
    )


def draw_inverse_wishart(rng, dof, R, shape: tuple = ()):
    """Draws ``Sigma ~ InvWishart(dof, Psi)`` by Bartlett's decomposition.

    Parameters
    ----------
    rng : numpy Generator
    dof : (B,) degrees of freedom, one per scale matrix
    R : (B, D, D) upper Cholesky factors of the scales, ``Psi = R^T R``
    shape : tuple
        Leading shape of independent draws, e.g. ``(n_draws,)``.

    Returns
    -------
    sigma : (*shape, B, D, D)
    B : (*shape, B, D, D)
        The factor with ``sigma = B^T B``; ``mean + B^T z / sqrt(kappa)`` with
        standard normal ``z`` draws the NIW mean given ``sigma``.

    Notes
    -----
    ``Lambda = R^-1 A A^T R^-T ~ Wishart(dof, Psi^-1)`` for lower-triangular
    ``A`` with ``A_jj^2 ~ chi2(dof - j)`` and standard normal entries below the
    diagonal, so ``Sigma = Lambda^-1 = B^T B`` with ``B = A^-1 R``.  The
    chi-square variates are drawn first, then the normals.
    """
    dof = np.asarray(dof, dtype=float)
    R = np.asarray(R, dtype=float)
    nb, d = R.shape[0], R.shape[-1]
    full = (*shape, nb)
    rows, cols = np.tril_indices(d, -1)
    A = np.zeros((*full, d, d))
    A[..., np.arange(d), np.arange(d)] = np.sqrt(
        rng.chisquare(dof[:, None] - np.arange(d)[None, :], size=(*full, d))
    )
    A[..., rows, cols] = rng.standard_normal((*full, rows.size))
    B = np.linalg.solve(A, np.broadcast_to(R, A.shape))
    return np.swapaxes(B, -1, -2) @ B, B
