"""When mean-field intervals are too narrow: the missing information of the
mixture weights.

The mean-field posterior ``q(z) q(pi) q(mu, Sigma)`` treats the allocations as
independent of the parameters.  Asymptotically its covariance of the weights
is the inverse of the *complete-data* information, while the true posterior
covariance is the inverse of the *observed-data* information, which is smaller
by the information the unobserved allocations carry (Wang & Titterington
2005; Bishop 2006 §10.1.2).  With well-separated components the allocations
are almost known and the two agree; with overlapping components the mean-field
intervals are too narrow.

For the weights, with the other parameters held at their fitted values, the
fraction of missing information (Louis 1982; Dempster, Laird & Rubin 1977
§3.9) is the largest eigenvalue ``lambda`` of::

    J_c^-1 J_m = (1/N) sum_i w_i (diag(r_i) - r_i r_i^T) diag(1/pi)

with ``r_i`` the responsibilities of row ``i``, ``N = sum_i w_i`` and
``pi_k = sum_i w_i r_ik / N``.  The mean-field standard deviation of the worst
contrast of the weights is then too small by ``1 / sqrt(1 - lambda)``, and its
nominal 90% interval covers about ``2 Phi(1.645 sqrt(1 - lambda)) - 1``.  This
is a lower bound on the problem: the means and covariances lose information to
the allocations too.

References
----------
Wang & Titterington (2005), "Inadequacy of interval estimates corresponding
to variational Bayesian approximations", AISTATS 2005, 373-380.
Louis (1982), "Finding the observed information matrix when using the EM
algorithm", JRSS B 44, 226-233.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import ndtr, ndtri

from .exceptions import MeanFieldWarning

__all__ = [
    "COVERAGE_WARN",
    "MeanFieldWarning",
    "interval_coverage",
    "missing_information",
    "missing_information_from_sums",
    "warn_if_too_narrow",
]

# Warn when a nominal 90% interval of the weights covers less than this.
COVERAGE_WARN = 0.85


def missing_information(resp, w) -> float:
    """The fraction of missing information of the mixture weights, in [0, 1).

    Parameters
    ----------
    resp : (n_samples, n_components)
        Responsibilities of the components (rows sum to 1).
    w : (n_samples,)
        Frequency weights.

    Returns
    -------
    float
        The largest eigenvalue of ``J_c^-1 J_m`` (module docstring): 0 when
        every row belongs to one component for sure, near 1 when the
        responsibilities say nothing.
    """
    resp = np.asarray(resp, dtype=float)
    w = np.asarray(w, dtype=float)
    total = float(w.sum())
    pi = np.dot(w, resp) / total
    keep = pi > 0
    if keep.sum() < 2:
        return 0.0
    r = resp[:, keep]
    return _largest_eigenvalue(pi[keep], (r * w[:, None]).T @ r / total)


def _largest_eigenvalue(pi, gram) -> float:
    root = np.sqrt(pi)
    # S = I - D^-1/2 (R^T W R / N) D^-1/2 is symmetric and similar to J_c^-1 J_m
    sym = np.eye(root.size) - gram / np.outer(root, root)
    lam = float(np.linalg.eigvalsh(0.5 * (sym + sym.T)).max())
    return min(max(lam, 0.0), 1.0 - 1e-12)


def missing_information_from_sums(w_resp, gram, total) -> float:
    """:func:`missing_information` from the sums over rows it reads, so row
    chunks can be summed first: ``w_resp = sum_i w_i r_i`` (K,), ``gram =
    sum_i w_i r_i r_i^T`` (K, K) and ``total = sum_i w_i``."""
    total = float(total)
    pi = w_resp / total
    keep = pi > 0
    if keep.sum() < 2:
        return 0.0
    return _largest_eigenvalue(pi[keep], gram[np.ix_(keep, keep)] / total)


def interval_coverage(lam: float, level: float = 0.9) -> float:
    """The asymptotic coverage of a nominal ``level`` mean-field interval whose
    standard deviation is too small by ``1 / sqrt(1 - lam)``."""
    z = ndtri(0.5 + 0.5 * level)
    return float(2.0 * ndtr(z * np.sqrt(1.0 - lam)) - 1.0)


def warn_if_too_narrow(lam: float, *, stacklevel: int = 2) -> None:
    """A :class:`MeanFieldWarning` when a nominal 90% interval of the weights
    covers less than :data:`COVERAGE_WARN` (``lam`` > about 0.24)."""
    coverage = interval_coverage(lam)
    if coverage >= COVERAGE_WARN:
        return
    warnings.warn(
        f"The components overlap (fraction of missing information of the weights "
        f"{lam:.2f}): mean-field intervals are too narrow here; a nominal 90% interval of "
        f"the weights covers about {coverage:.0%} (Wang & Titterington 2005), and those of "
        "the means and covariances are too narrow as well.  For honest intervals use "
        "GaussianMixture(...).posterior(X) (bootstrap) or DirichletProcessMixture "
        "(Gibbs).  The estimate is posterior.attrs['mean_field_coverage_90'].",
        MeanFieldWarning,
        stacklevel=stacklevel + 1,
    )
