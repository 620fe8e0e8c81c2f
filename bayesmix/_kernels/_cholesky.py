"""Cholesky factors that change one point at a time, and what is read through
them (Mahalanobis distances, log-determinants, triangular inverses).

Convention
----------
A symmetric positive-definite ``(D, D)`` matrix ``A`` is held as its *upper*
Cholesky factor ``R`` with ``A = R^T R`` (what ``scipy.linalg.cholesky``
returns by default), stored C-contiguous, so that row ``j`` of ``R`` (column
``j`` of the lower factor ``R^T``) is contiguous in memory: the rank-one
updates and the triangular solve below all walk rows, and their inner loops
vectorise.  ``inv_diag`` (D,) holds ``1 / R[j, j]`` so the hot loops multiply
instead of divide; every function that changes ``R`` refreshes it.

Cost: a rank-one update or downdate is ``O(D^2)`` (against ``O(D^3)`` for a
fresh factorisation), a quadratic form ``v^T A^-1 v`` is one triangular solve,
``O(D^2)``.  This is what makes a collapsed Gibbs move cost ``O(D^2)``: a
Normal-Inverse-Wishart scale matrix gains or loses the outer product of one
centred point when a point joins or leaves a cluster.

All functions are pure array kernels (``@njit(cache=True, nogil=True)``); any
engine may call them from its own kernels.

References
----------
Golub & Van Loan (2013), *Matrix Computations*, §6.5.4 (rank-one
modification of a Cholesky factor); Seeger (2004), *Low rank updates for the
Cholesky decomposition*; Murphy (2007), *Conjugate Bayesian analysis of the
Gaussian distribution*, §9 (the Student-t posterior predictive).
"""

from __future__ import annotations

import math

from numba import njit

__all__ = [
    "chol_downdate",
    "chol_factor",
    "chol_update",
    "log_det_chol",
    "mahalanobis_sq",
    "upper_inverse",
]


@njit(cache=True, nogil=True)
def chol_factor(A, R, inv_diag):
    """Upper Cholesky factor of ``A`` into ``R`` (``A = R^T R``); reads only the
    upper triangle of ``A``.  ``A`` and ``R`` may be the same array.

    Parameters
    ----------
    A : (D, D) float64, symmetric positive definite (upper triangle read)
    R : (D, D) float64 output, upper triangular (the strict lower triangle is zeroed)
    inv_diag : (D,) float64 output, ``1 / diag(R)``

    Returns
    -------
    ok : bool
        False when a pivot is not positive (``A`` not numerically positive
        definite); ``R`` is then incomplete.
    """
    n_features = A.shape[0]
    for j in range(n_features):
        for i in range(j):
            R[j, i] = 0.0
        s = A[j, j]
        for k in range(j):
            s -= R[k, j] * R[k, j]
        if not s > 0.0:
            return False
        r = math.sqrt(s)
        R[j, j] = r
        inv = 1.0 / r
        inv_diag[j] = inv
        for i in range(j + 1, n_features):
            t = A[j, i]
            for k in range(j):
                t -= R[k, j] * R[k, i]
            R[j, i] = t * inv
    return True


@njit(cache=True, nogil=True)
def chol_update(R, inv_diag, x):
    """Rank-one update in place: ``R^T R <- R^T R + x x^T``.

    Parameters
    ----------
    R : (D, D) float64, upper Cholesky factor, modified in place
    inv_diag : (D,) float64, ``1 / diag(R)``, refreshed in place
    x : (D,) float64, overwritten (used as workspace)

    Notes
    -----
    A sequence of Givens rotations (Golub & Van Loan §6.5.4); always
    succeeds, ``O(D^2)``.
    """
    n_features = R.shape[0]
    for k in range(n_features):
        rkk = R[k, k]
        xk = x[k]
        r = math.sqrt(rkk * rkk + xk * xk)
        c = r * inv_diag[k]
        s = xk * inv_diag[k]
        inv_c = 1.0 / c
        R[k, k] = r
        inv_diag[k] = 1.0 / r
        row = R[k]
        for i in range(k + 1, n_features):
            rki = (row[i] + s * x[i]) * inv_c
            row[i] = rki
            x[i] = c * x[i] - s * rki


@njit(cache=True, nogil=True)
def chol_downdate(R, inv_diag, x):
    """Rank-one downdate in place: ``R^T R <- R^T R - x x^T``.

    Parameters
    ----------
    R : (D, D) float64, upper Cholesky factor, modified in place
    inv_diag : (D,) float64, ``1 / diag(R)``, refreshed in place
    x : (D,) float64, overwritten (used as workspace)

    Returns
    -------
    ok : bool
        False when the downdated matrix is not numerically positive definite;
        ``R`` is then partly modified and the caller must refactorise from
        scratch.

    Notes
    -----
    Hyperbolic rotations (Golub & Van Loan §6.5.4), ``O(D^2)``.  Removing a
    point that was added before is exact in exact arithmetic; in floating
    point it loses accuracy only when the matrix is badly conditioned, which
    the return value reports.
    """
    n_features = R.shape[0]
    for k in range(n_features):
        rkk = R[k, k]
        xk = x[k]
        r2 = (rkk - xk) * (rkk + xk)
        if not r2 > 0.0:
            return False
        r = math.sqrt(r2)
        c = r * inv_diag[k]
        s = xk * inv_diag[k]
        inv_c = 1.0 / c
        R[k, k] = r
        inv_diag[k] = 1.0 / r
        row = R[k]
        for i in range(k + 1, n_features):
            rki = (row[i] - s * x[i]) * inv_c
            row[i] = rki
            x[i] = c * x[i] - s * rki
    return True


@njit(cache=True, nogil=True)
def mahalanobis_sq(R, inv_diag, v):
    """``v^T (R^T R)^-1 v`` by one forward substitution with ``R^T``.

    Parameters
    ----------
    R : (D, D) float64, upper Cholesky factor
    inv_diag : (D,) float64, ``1 / diag(R)``
    v : (D,) float64, overwritten (used as workspace)

    Returns
    -------
    float
    """
    n_features = R.shape[0]
    q = 0.0
    for j in range(n_features):
        z = v[j] * inv_diag[j]
        q += z * z
        row = R[j]
        for i in range(j + 1, n_features):
            v[i] -= row[i] * z
    return q


@njit(cache=True, nogil=True)
def log_det_chol(R):
    """``log det(R^T R) = 2 sum_j log R[j, j]`` for an upper factor ``R`` (D, D)."""
    s = 0.0
    for j in range(R.shape[0]):
        s += math.log(R[j, j])
    return 2.0 * s


@njit(cache=True, nogil=True)
def upper_inverse(R, out):
    """Inverses of a stack of upper-triangular factors, by back substitution.

    Parameters
    ----------
    R : (K, D, D) float64, upper triangular with a positive diagonal
    out : (K, D, D) float64 output, ``R[k]^-1`` (upper triangular)

    Notes
    -----
    If ``A = R^T R`` then ``A^-1 = U U^T`` with ``U = R^-1``: the precision
    Cholesky factor that the mixture kernels read (``prec`` in ``_mixture.py``).
    ``O(D^3 / 3)`` per matrix, and no LAPACK call (whose thread pool costs
    more than the arithmetic for small matrices).
    """
    n_features = R.shape[1]
    for k in range(R.shape[0]):
        for j in range(n_features):
            for i in range(n_features):
                out[k, i, j] = 0.0
        for j in range(n_features - 1, -1, -1):
            inv = 1.0 / R[k, j, j]
            out[k, j, j] = inv
            for i in range(j - 1, -1, -1):
                s = 0.0
                for m in range(i + 1, j + 1):
                    s += R[k, i, m] * out[k, m, j]
                out[k, i, j] = -s / R[k, i, i]
