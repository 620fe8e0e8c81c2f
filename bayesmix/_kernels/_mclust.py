"""The inner iterations of mclust's iterative M-steps (VEI, VEE, VEV, EVE, VVE).

Each function runs one M-step's alternation to convergence on small
arrays -- K scatter matrices of D x D -- where numpy's per-call overhead
(tens of microseconds) would cost more than the arithmetic.  The maths, the
objective and the references are in :mod:`bayesmix._mclust_models`; these
are its loops, compiled.

Shapes: ``W`` (K, D) diagonals or eigenvalues, or (K, D, D) scatter
matrices; ``nk`` (K,) weighted counts; volumes ``lam`` (K,); a shape (D,) of
determinant one; an orientation (D, D) orthogonal.  Each function returns
the number of passes it made (``max_iter`` when it did not converge).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["common_orientation", "vee_fixed_point", "volume_shape_fixed_point"]


@njit(cache=True, nogil=True)
def _rel_change(new, old):
    out = 0.0
    for i in range(new.size):
        den = abs(old.flat[i])
        if den < 1e-300:
            den = 1e-300
        c = abs(new.flat[i] - old.flat[i]) / den
        if c > out:
            out = c
    return out


@njit(cache=True, nogil=True)
def volume_shape_fixed_point(W, nk, lam, max_iter, tol):
    """Sigma_k = lam_k diag(shape) fitted to diagonal scatters ``W`` (K, D):
    the shape given the volumes, then the volumes given the shape (Celeux &
    Govaert 1995, VEI; VEV on the eigenvalues).  ``lam`` (K,) is the start.
    Returns ``(lam, shape, n_passes)``."""
    k, d = W.shape
    lam = lam.copy()
    shape = np.ones(d)
    for it in range(max_iter):
        b = np.zeros(d)
        for i in range(k):
            for j in range(d):
                b[j] += W[i, j] / lam[i]
        log_g = 0.0
        for j in range(d):
            log_g += math.log(b[j])
        g = math.exp(log_g / d)
        new_shape = b / g
        new_lam = np.empty(k)
        for i in range(k):
            s = 0.0
            for j in range(d):
                s += W[i, j] / new_shape[j]
            new_lam[i] = s / (nk[i] * d)
        change = max(_rel_change(new_lam, lam), _rel_change(new_shape, shape))
        lam, shape = new_lam, new_shape
        if change < tol:
            return lam, shape, it + 1
    return lam, shape, max_iter


@njit(cache=True, nogil=True)
def vee_fixed_point(W, nk, lam, max_iter, tol):
    """Sigma_k = lam_k C with |C| = 1 fitted to scatters ``W`` (K, D, D): C
    given the volumes, then the volumes given C (Celeux & Govaert 1995, VEE).
    Returns ``(lam, C, n_passes)``."""
    k, d = W.shape[0], W.shape[1]
    lam = lam.copy()
    c = np.eye(d)
    for it in range(max_iter):
        s = np.zeros((d, d))
        for i in range(k):
            s += W[i] / lam[i]
        _, logdet = np.linalg.slogdet(s)
        new_c = s / math.exp(logdet / d)
        c_inv = np.linalg.inv(new_c)
        new_lam = np.empty(k)
        for i in range(k):
            new_lam[i] = np.sum(W[i] * c_inv) / (nk[i] * d)  # tr(W_k C^-1), both symmetric
        scale = np.max(np.abs(c))
        change = max(_rel_change(new_lam, lam), np.max(np.abs(new_c - c)) / scale)
        lam, c = new_lam, new_c
        if change < tol:
            return lam, c, it + 1
    return lam, c, max_iter


@njit(cache=True, nogil=True)
def _given_orientation(W, nk, orient, equal_volume):
    """Closed-form lam_k a_kj (K, D) of EVE / VVE given the orientation."""
    k, d = W.shape[0], W.shape[1]
    m = np.empty((k, d))
    for i in range(k):
        wd = W[i] @ orient
        for j in range(d):
            s = 0.0
            for r in range(d):
                s += orient[r, j] * wd[r, j]
            m[i, j] = max(s, 1e-300)
    if not equal_volume:
        for i in range(k):
            m[i] /= nk[i]
        return m
    g = np.empty(k)
    for i in range(k):
        log_g = 0.0
        for j in range(d):
            log_g += math.log(m[i, j])
        g[i] = math.exp(log_g / d)
    lam = g.sum() / nk.sum()
    for i in range(k):
        m[i] *= lam / g[i]
    return m


@njit(cache=True, nogil=True)
def _jacobi_sweep(W, orient, var):
    """One cyclic sweep of plane rotations of ``orient``'s columns, each the
    exact minimiser of ``sum_k tr(D^T W_k D C_k)`` (C_k = diag(1 / var_k) held
    fixed) in its plane: with ``B_k = D^T W_k D`` and ``c = C_k``, turning
    columns i, j by theta changes the objective by ``alpha cos 2 theta + beta
    sin 2 theta`` + const, ``alpha = sum_k (c_ki - c_kj)(B_k,ii - B_k,jj) / 2``,
    ``beta = sum_k (c_ki - c_kj) B_k,ij`` (the plane rotations of Flury &
    Gautschi 1986's common-principal-component algorithm).  Returns the
    largest angle turned."""
    k, d = W.shape[0], W.shape[1]
    B = np.empty((k, d, d))
    for i in range(k):
        B[i] = orient.T @ W[i] @ orient
    largest = 0.0
    for p in range(d - 1):
        for q in range(p + 1, d):
            alpha = 0.0
            beta = 0.0
            for i in range(k):
                dc = 1.0 / var[i, p] - 1.0 / var[i, q]
                alpha += 0.5 * dc * (B[i, p, p] - B[i, q, q])
                beta += dc * B[i, p, q]
            if alpha == 0.0 and beta == 0.0:
                continue
            theta = 0.5 * math.atan2(-beta, -alpha)
            if abs(theta) > largest:
                largest = abs(theta)
            c, s = math.cos(theta), math.sin(theta)
            for r in range(d):
                a, b = orient[r, p], orient[r, q]
                orient[r, p] = c * a + s * b
                orient[r, q] = -s * a + c * b
            for i in range(k):
                for r in range(d):  # columns p, q of B_k
                    a, b = B[i, r, p], B[i, r, q]
                    B[i, r, p] = c * a + s * b
                    B[i, r, q] = -s * a + c * b
                for r in range(d):  # then rows p, q
                    a, b = B[i, p, r], B[i, q, r]
                    B[i, p, r] = c * a + s * b
                    B[i, q, r] = -s * a + c * b
    return largest


@njit(cache=True, nogil=True)
def common_orientation(W, nk, orient, equal_volume, max_iter, tol):
    """EVE (``equal_volume``) / VVE: Sigma_k = lam_(k) D A_k D^T fitted to
    scatters ``W`` (K, D, D) from the orientation ``orient`` (D, D), by the
    two minorise-maximise steps of Browne & McNicholas (2014) in turn, each
    followed by the closed-form volumes and shapes.  Returns ``(orient, var,
    n_passes)`` with ``var`` (K, D) the variances ``lam_k a_kj`` along
    ``orient``'s columns."""
    k, d = W.shape[0], W.shape[1]
    top = np.empty(k)
    for i in range(k):
        top[i] = np.linalg.eigvalsh(W[i])[d - 1]
    orient = orient.copy()
    var = _given_orientation(W, nk, orient, equal_volume)
    for it in range(max_iter):
        g = np.zeros((d, d))
        if it % 2 == 0:
            # sum_k (w_k I - W_k) D C_k, C_k = diag(1 / var_k)
            for i in range(k):
                wd = W[i] @ orient
                for r in range(d):
                    for j in range(d):
                        g[r, j] += (top[i] * orient[r, j] - wd[r, j]) / var[i, j]
            u, _, vt = np.linalg.svd(g)
            new_orient = u @ vt
        else:
            # sum_k (c_k I - C_k) D^T W_k, c_k = max_j C_k[j, j]
            for i in range(k):
                c_top = 0.0
                for j in range(d):
                    c_top = max(c_top, 1.0 / var[i, j])
                dw = orient.T @ W[i]
                for j in range(d):
                    f = c_top - 1.0 / var[i, j]
                    for r in range(d):
                        g[j, r] += f * dw[j, r]
            u, _, vt = np.linalg.svd(g)
            new_orient = (u @ vt).T.copy()
        # The MM step crawls when the scatters are ill-conditioned (its majoriser
        # is as loose as W_k's largest eigenvalue is large); a sweep of exact
        # plane rotations does not, and lowers the same objective.
        mid_var = _given_orientation(W, nk, new_orient, equal_volume)
        _jacobi_sweep(W, new_orient, mid_var)
        new_var = _given_orientation(W, nk, new_orient, equal_volume)
        change = max(np.max(np.abs(new_orient - orient)), _rel_change(new_var, var))
        orient, var = new_orient, new_var
        if change < tol:
            return orient, var, it + 1
    return orient, var, max_iter
