"""Missing values (NaN) in variational Bayes: the E-step, the predictive and
imputation over each row's observed features.

Under missing at random the missing cells ``x_m`` of a row are latent
variables.  The variational family is extended by ``q(x_m | z = k)``; with
``q(mu_k, Lambda_k)`` Normal-Wishart, the optimal factor is

    log q(x_m | z = k) = E_q[log N(x | mu_k, Lambda_k^-1)] + const
                       = log N(x | m_k, Sbar_k) + const,    Sbar_k = E_q[Lambda_k]^-1,

because ``E_q[(x - mu_k)^T Lambda_k (x - mu_k)] = (x - m_k)^T E_q[Lambda_k]
(x - m_k) + D / kappa_k`` (Bishop 2006 eq. 10.64).  So the VB E-step is EM's
E-step (:func:`bayesmix._missing.e_step`, Ghahramani & Jordan 1994) for the
Gaussian mixture with covariances ``Sbar_k`` and log-weights ``c_k =
E_q[log pi_k] + (E_q[log|Lambda_k|] - log|E_q[Lambda_k]|) / 2 - D / (2
kappa_k)``:

* integrating ``exp(E_q[log pi_k N(x)])`` over ``x_m`` leaves ``exp(c_k) N(x_o
  | m_k[o], Sbar_k[o, o])``, so each row's ``log sum_k`` is the optimum of its
  part of the ELBO over ``q(z_i) q(x_m | z_i)``, entropy of ``q(x_m | z)``
  included (Murphy 2012 §11.6 for the EM form);
* the expected sufficient statistics add the conditional means and the
  conditional covariances of ``x_m`` under ``q(x_m | z = k)``.

The rest of coordinate ascent (:mod:`bayesmix._vb_core`) reads only these
statistics and ``sum_i w_i log sum_k``, so its ELBO, ``ELBO = sum_i w_i lse_i -
energy(q_old) + energy(q_new) - KL``, stays exact -- now including ``H(q(x_m |
z))`` -- and never decreases.  :class:`PatternStats` is that E-step behind the
interface of :class:`bayesmix._kernels.MixtureStats`.

Predictions use the Student-t posterior predictive: the marginal of a
multivariate Student-t over the observed features is a Student-t with the same
degrees of freedom and the sub-block of the scale matrix; for ``"diag"`` the
predictive is a product of univariate t's, whose marginal drops the missing
factors.  The conditional mean of ``x_m`` given ``x_o`` under a component is
the same regression ``m_k[m] + S_mo S_oo^-1 (x_o - m_k[o])`` for the Student-t
(Kotz & Nadarajah 2004, §1.10) as for the Gaussian.

Everything is in standardised units (:class:`bayesmix._data.Standardiser`).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from . import _missing
from ._components import (
    LOG_2PI,
    log_det_prec,
    student_t,
    student_t_log_norm,
    student_t_per_feature,
    upper_precision_factors,
)
from ._data import Patterns
from ._kernels import MixtureStats
from ._vb_core import draw_parameters, predictive_log_prob
from .covariance import get_structure

__all__ = [
    "PatternStats",
    "gaussian_params",
    "impute",
    "impute_draws",
    "log_prob",
    "predictive_log_prob_missing",
]

_FULL = get_structure("full")

# Log-weights more than this below the largest are clipped: exp() of them
# underflows, and such a component's responsibility (below 1e-304) is nil.
_LOG_FLOOR = -700.0


def _scale_from_factors(prec: np.ndarray) -> np.ndarray:
    """``(U U^T)^-1`` (K, D, D) from kernel factors ``prec`` (K, P, D): upper
    triangular ``U`` (P = D) or the square roots of a diagonal (P = 1)."""
    _, p, d = prec.shape
    if p == 1:
        return np.eye(d) / (prec[:, 0, :, None] ** 2)
    u_inv = np.linalg.inv(prec)
    cov = np.swapaxes(u_inv, 1, 2) @ u_inv  # U^-T U^-1
    return 0.5 * (cov + np.swapaxes(cov, 1, 2))


def gaussian_params(means, prec, log_const):
    """The Gaussian mixture whose EM E-step is VB's E-step (module docstring):
    ``(params, c_max)``, ``params`` with ``means`` (K, D), full ``covariances``
    ``Sbar_k`` (K, D, D) and ``weights`` ``exp(c_k - c_max)`` (K,)."""
    d = means.shape[1]
    c = log_const - (log_det_prec(prec) - 0.5 * d * LOG_2PI)
    c_max = float(c.max())
    weights = np.exp(np.maximum(c - c_max, _LOG_FLOOR))
    params = SimpleNamespace(means=means, weights=weights, covariances=_scale_from_factors(prec))
    return params, c_max


class PatternStats:
    """VB's E-step over data with missing cells, with the interface of
    :class:`bayesmix._kernels.MixtureStats` that :mod:`bayesmix._vb_core`
    reads (``e_step``, ``from_resp``, ``nk``, ``s1``, ``s2``,
    ``log_likelihood``, ``diagonal``).

    Parameters
    ----------
    patterns : Patterns
        The rows of the training data grouped by missingness pattern.
    filled : (n_features, n_samples)
        The standardised data with missing cells at their feature's observed
        mean, read only by :meth:`from_resp` (the start).
    n_components : int
    diagonal : bool
        ``s2`` holds diagonals (K, 1, D) (the covariance type's mode).
    """

    def __init__(self, patterns: Patterns, filled, n_components: int, diagonal: bool):
        self.patterns = patterns
        self.filled = filled
        self.n_components = n_components
        self.diagonal = diagonal
        self.log_likelihood = 0.0

    def _take(self, nk, s1, s2):
        self.nk, self.s1 = nk, s1
        if self.diagonal and s2.shape[1] != 1:
            idx = np.arange(s2.shape[2])
            s2 = s2[:, idx, idx][:, None, :].copy()
        self.s2 = s2

    def from_resp(self, Xt, w, resp, shift):
        """Statistics of the mean-filled rows for initial responsibilities
        ``resp`` (only the start reads them; every iteration's E-step then
        completes the statistics properly)."""
        d, n = self.filled.shape
        st = MixtureStats(n, resp.shape[1], d, self.diagonal)
        st.from_resp(self.filled, w, resp, shift)
        self._take(st.nk, st.s1, st.s2)

    def e_step(self, Xt, w, means, prec, log_const, resp=None):
        """One E-step under VB's expected components ``(means, prec,
        log_const)`` (:func:`bayesmix._components.expected_gaussian`):
        statistics about ``means``, ``log_likelihood = sum_i w_i log sum_k
        exp(c_k) N(x_io | m_k[o], Sbar_k[o, o])``, and the responsibilities
        into ``resp`` (n_samples, K) when given."""
        params, c_max = gaussian_params(means, prec, log_const)
        out = _missing.e_step(_FULL, Xt, w, params, self.patterns, 0.0)
        self._take(out.nk, out.s1, out.s2)
        self.log_likelihood = out.log_likelihood + c_max * float(w.sum())
        if resp is not None:
            resp[...] = _missing.expected_rows(_FULL, params, Xt, self.patterns)[1]


def _marginal_predictive(comps, obs):
    """The Student-t predictive components ``comps`` marginalised to the
    features ``obs``: the same degrees of freedom, the sub-block of the scale
    (multivariate t) or the observed factors (products of univariate t's)."""
    means, prec, log_const, dof = comps
    d = means.shape[1]
    if prec.ndim == 2:  # per-feature inverse scales
        log_w = log_const - d * student_t_log_norm(dof, 1) - np.log(prec).sum(axis=1)
        return student_t_per_feature(
            log_w, np.ascontiguousarray(means[:, obs]), np.ascontiguousarray(prec[:, obs]), dof
        )
    log_w = log_const - student_t_log_norm(dof, d) - log_det_prec(prec)
    scale = _scale_from_factors(prec)
    sub = upper_precision_factors(np.ascontiguousarray(scale[:, obs][:, :, obs]))
    return student_t(log_w, np.ascontiguousarray(means[:, obs]), sub, dof)


def predictive_log_prob_missing(Xt, comps, patterns: Patterns, want_resp: bool):
    """``(row_lse (n_samples,), resp or None)`` of the Student-t predictive
    mixture ``comps`` at standardised rows ``Xt`` (D, n_samples) with NaN
    cells: each row scored on its observed features."""
    n = Xt.shape[1]
    k = comps.means.shape[0]
    row_lse = np.empty(n)
    resp = np.empty((n, k)) if want_resp else None
    for obs, _, rows in patterns.groups:
        sub = np.ascontiguousarray(Xt[np.ix_(obs, rows)])
        lse_p, resp_p = predictive_log_prob(sub, _marginal_predictive(comps, obs), want_resp)
        row_lse[rows] = lse_p
        if want_resp:
            resp[rows] = resp_p
    return row_lse, resp


def log_prob(comps, std, X, want_resp: bool):
    """``(row_lse, resp or None)`` of data-unit rows ``X`` (n_samples,
    n_features), NaN where missing, under the Student-t predictive ``comps``:
    the log-density in data units of each row's observed features.  Rows
    without NaN get exactly the complete-data pass."""
    Xt = std.transform(X)
    patterns = Patterns.of(X)
    if patterns is None:
        row_lse, resp = predictive_log_prob(Xt, comps, want_resp)
        row_lse -= X.shape[1] * std.log_scale
        return row_lse, resp
    row_lse, resp = predictive_log_prob_missing(Xt, comps, patterns, want_resp)
    row_lse -= patterns.n_observed * std.log_scale
    return row_lse, resp


def impute(comps, std, X):
    """``X`` (n_samples, n_features, data units) with each missing cell at its
    conditional expectation under the predictive mixture ``comps``:
    ``sum_k p(k | x_o) (m_k[m] + S_mo S_oo^-1 (x_o - m_k[o]))`` (module
    docstring); observed cells are returned as given."""
    patterns = Patterns.of(X)
    if patterns is None:
        return X.copy()
    Xt = std.transform(X)
    _, resp = predictive_log_prob_missing(Xt, comps, patterns, True)
    means, prec = comps.means, comps.prec
    per_feature = prec.ndim == 2
    scale = None if per_feature else _scale_from_factors(prec)
    out = X.copy()
    for obs, mis, rows in patterns.groups:
        if mis.size == 0:
            continue
        cond = np.broadcast_to(means[:, None, mis], (means.shape[0], rows.size, mis.size))
        if not per_feature:  # the features of a product of t's are independent
            s_oo = scale[:, obs][:, :, obs]
            s_mo = scale[:, mis][:, :, obs]
            centred = Xt[np.ix_(obs, rows)].T[None] - means[:, None, obs]  # (K, n_p, q)
            # B^T = S_oo^-1 S_om, one solve per component
            coef = np.linalg.solve(s_oo, np.swapaxes(s_mo, 1, 2))  # (K, q, m)
            cond = cond + centred @ coef
        expected = np.einsum("nk,knm->nm", resp[rows], cond)
        out[rows[:, None], mis[None, :]] = expected * std.scale + std.center[mis]
    return out


def impute_draws(post, structure, std, X, n_draws: int, rng):
    """``n_draws`` multiple imputations (n_draws, n_samples, n_features) of
    ``X``: for each, parameters ``theta`` drawn from ``q`` (``post``, every
    component, :func:`bayesmix._vb_core.draw_parameters`), then the missing
    cells from the Gaussian mixture ``p(x_m | x_o, theta)`` as
    :func:`bayesmix._missing.impute` does for EM.  So the draws carry the
    posterior uncertainty of the parameters as well as the conditional spread
    (proper multiple imputation, Rubin 1987)."""
    if Patterns.of(X) is None:
        return np.broadcast_to(X, (n_draws, *X.shape)).copy()
    k = post.means.shape[0]
    draws = draw_parameters(post, structure, n_draws, rng, np.ones(k, dtype=bool))
    out = np.empty((n_draws, *X.shape))
    for j in range(n_draws):
        params = SimpleNamespace(
            weights=draws["weights"][j],
            means=draws["means"][j],
            covariances=draws["covariances"][j],
        )
        out[j] = _missing.impute(_FULL, params, std, X, 1, rng)[0]
    return out
