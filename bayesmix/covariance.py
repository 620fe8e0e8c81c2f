"""Covariance structures: one registry, no ``if covariance_type == ...`` ladders.

Each :class:`CovarianceStructure` turns weighted sufficient statistics into
covariances (the M-step), covariances into precision Cholesky factors, and
those into the arrays the shared kernels read.  Shapes follow scikit-learn:

========== ================================== ==============================
name        ``covariances_``                   kernel mode
========== ================================== ==============================
full        (n_components, n_features, n_features)  triangular
tied        (n_features, n_features)                triangular
diag        (n_components, n_features)              diagonal
spherical   (n_components,)                          diagonal
========== ================================== ==============================

mclust's volume/shape/orientation family grows here as further entries: an
engine only ever calls the methods below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._kernels import precision_cholesky

__all__ = ["COVARIANCE_TYPES", "CovarianceStructure", "get_structure"]

_LOG_2PI = np.log(2.0 * np.pi)


def _sym_cholesky_batch(covs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower Cholesky factors of a (K, D, D) stack.  A factor that fails is
    retried with a diagonal jitter growing tenfold from 1e-10 x its mean
    variance; returns the factors and the jitter added to each matrix."""
    jitter = np.zeros(covs.shape[0])
    try:
        return np.linalg.cholesky(covs), jitter
    except np.linalg.LinAlgError:
        pass
    out = np.empty_like(covs)
    eye = np.eye(covs.shape[1])
    for k, cov in enumerate(covs):
        cov = 0.5 * (cov + cov.T)
        base = max(float(np.mean(np.abs(np.diag(cov)))), np.finfo(float).tiny)
        amount = 0.0
        for step in range(40):
            try:
                out[k] = np.linalg.cholesky(cov + amount * eye)
                break
            except np.linalg.LinAlgError:
                amount = base * 1e-10 * 10.0**step
        else:  # pragma: no cover - a NaN matrix; validation prevents it
            raise np.linalg.LinAlgError(f"component {k}: covariance is not finite")
        jitter[k] = amount
    return out, jitter


def _prec_chol_from_full(covs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    chol, jitter = _sym_cholesky_batch(covs)
    prec = np.empty_like(chol)
    # one compiled call for the whole stack: no BLAS threads, no per-component overhead
    precision_cholesky(np.ascontiguousarray(chol), prec)
    return prec, jitter


@dataclass(frozen=True)
class CovarianceStructure:
    """How one covariance type is estimated, stored and handed to the kernels."""

    name: str
    diagonal: bool  # kernel mode: second moments needed on the diagonal only
    n_cov_parameters: Callable[[int, int], int]
    _estimate: Callable  # (nk, centred second moments (K, P, D), reg) -> covariances
    _prec_chol: Callable  # covariances -> (precision Cholesky, jitter (K,))
    _kernel_prec: Callable  # (prec_chol, K, D) -> (K, P, D)
    _to_full: Callable  # (covariances-or-precisions, K, D) -> (K, D, D)
    _from_full: Callable  # (K, D, D) -> this type's parameterisation
    shape: Callable[[int, int], tuple]

    def n_parameters(self, n_components: int, n_features: int) -> int:
        """Free parameters: covariances + means + weights."""
        return (
            self.n_cov_parameters(n_components, n_features)
            + n_components * n_features
            + n_components
            - 1
        )

    def estimate(self, nk, s1, s2, reg_covar: float) -> np.ndarray:
        """Covariances from statistics accumulated around the old means.

        ``nk`` (K,), ``s1`` (K, D) = sum r (x - shift), ``s2`` (K, P, D) =
        sum r (x - shift)(x - shift)^T (only its diagonal when P = 1).  The
        second moments about the *new* means are ``s2 - s1 s1^T / nk``.
        """
        if self.diagonal:
            centred = s2[:, 0, :] - s1 * s1 / nk[:, None]
            centred = np.maximum(centred, 0.0)[:, None, :]
        else:
            centred = s2 - s1[:, :, None] * s1[:, None, :] / nk[:, None, None]
        return self._estimate(nk, centred, reg_covar)

    def precision_cholesky(self, covariances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Precision Cholesky factors (scikit-learn's ``precisions_cholesky_``)
        and the extra jitter each component needed (0 normally)."""
        return self._prec_chol(covariances)

    def kernel_arrays(self, prec_chol, n_components: int, n_features: int):
        """``prec`` (K, P, D) for the kernels and ``log|U_k|`` (K,)."""
        prec = np.ascontiguousarray(self._kernel_prec(prec_chol, n_components, n_features))
        if prec.shape[1] == 1:
            log_det = np.log(prec[:, 0, :]).sum(axis=1)
        else:
            log_det = np.log(np.diagonal(prec, axis1=1, axis2=2)).sum(axis=1)
        return prec, log_det

    def to_full(self, arr, n_components: int, n_features: int) -> np.ndarray:
        """Covariances (or precisions) of this type as a (K, D, D) stack."""
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

    # TEMPORARY shim until the registry lands (H1): the jitter policy and collapse test
    @property
    def shared(self) -> bool:
        return self.name == "tied"

    @property
    def isotropic(self) -> bool:
        return self.name == "spherical"

    def factorise(self, covs):
        prec_chol, failed = self.precision_cholesky(covs)
        bad = failed > 0
        if not bad.any():
            return covs, prec_chol, None
        amount = 1e-10
        for _ in range(40):
            added = np.where(bad, amount, 0.0)
            if self.diagonal:
                trial = covs + added.reshape((-1,) + (1,) * (covs.ndim - 1))
            elif covs.ndim == 2:
                trial = covs + added[0] * np.eye(covs.shape[-1])
            else:
                trial = covs + added[:, None, None] * np.eye(covs.shape[-1])
            prec_chol, failed = self.precision_cholesky(trial)
            if not (failed > 0).any():
                return trial, prec_chol, added
            amount *= 10.0
        raise FloatingPointError("not finite")

    def collapsed(self, covariances, n_components, n_features, reg):
        full = self.to_full(covariances, n_components, n_features)
        low = np.linalg.eigvalsh(full)[..., 0]
        if self.shared:
            low = low[:1]
        return np.flatnonzero(low <= reg * (1 + 1e-6) + 1e-10)

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


def _tied_prec_chol(cov):
    prec, jitter = _prec_chol_from_full(cov[None])
    return prec[0], jitter


def _diag_prec_chol(cov):
    jitter = np.zeros(cov.shape[0])
    bad = ~(cov > 0)
    if bad.any():
        scale = np.where(np.isfinite(cov), np.abs(cov), 0).max(initial=0.0) or 1.0
        fixed = np.where(bad, scale * 1e-10, cov)
        jitter = (fixed - np.where(bad, 0.0, cov)).reshape(cov.shape[0], -1).max(axis=1)
        cov = fixed
    return 1.0 / np.sqrt(cov), jitter


def _tile_full(arr, k, d):
    return np.broadcast_to(arr, (k, d, d))


COVARIANCE_TYPES: dict[str, CovarianceStructure] = {
    s.name: s
    for s in (
        CovarianceStructure(
            "full",
            diagonal=False,
            n_cov_parameters=lambda k, d: k * d * (d + 1) // 2,
            _estimate=_full_estimate,
            _prec_chol=_prec_chol_from_full,
            _kernel_prec=lambda p, k, d: p,
            _to_full=lambda a, k, d: a,
            _from_full=lambda f: f,
            shape=lambda k, d: (k, d, d),
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
        ),
    )
}


def get_structure(name: str) -> CovarianceStructure:
    try:
        return COVARIANCE_TYPES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"covariance_type={name!r} is not supported; use one of {sorted(COVARIANCE_TYPES)}."
        ) from None


def gaussian_log_const(log_weights, log_det_prec, n_features):
    """``log pi_k + log|U_k| - D/2 log 2 pi`` — the additive part of log p_k(x)."""
    return log_weights + log_det_prec - 0.5 * n_features * _LOG_2PI
