"""Hyperpriors on the base measure for variational Bayes: a learned scale
``Psi0 = b A`` and a learned ``kappa0``, each with its own conjugate factor.

The model is the Gibbs sampler's (:mod:`bayesmix._gibbs_hyper`): with a
:class:`~bayesmix.priors.RandomScale` the prior scale is ``Psi0 = b A``, ``A =
2 diag(R_f^2)`` (``R_f`` the range of feature ``f``) and ``b ~ Gamma(g, h)``
(Richardson & Green 1997, §2.3); with a :class:`~bayesmix.priors.Gamma`
``kappa``, ``kappa0 ~ Gamma(a, r)`` (Escobar & West 1995, §4).  The
variational family adds ``q(b) q(kappa0)`` to the mean-field factorisation
and every factor stays conjugate (Bishop 2006 §10.2 for the scheme):

* ``log p(Lambda_k | b)`` is linear in ``b`` and in ``log b``: a precision
  block of Wishart degrees of freedom ``n`` and size ``p`` contributes ``(n p
  / 2) log b - b tr(A_block Lambda_block) / 2``.  So ``q(b) = Gamma(g + N_b,
  h + sum_k tr(A E_q[Lambda_k]) / 2)`` with ``N_b`` the sum of ``n p / 2``
  over every block of the K truncation components (``K nu0 D / 2`` for
  ``"full"``, ``nu0 D / 2`` for ``"tied"``, ``K D (nu0 - D + 1) / 2`` for
  ``"diag"`` and ``"spherical"``), and ``q(Sigma_k)`` is the usual conjugate
  update with ``Psi0 = E_q[b] A``.  The family keeps ``E_q[b]`` at or above
  ``1e-6`` of its starting value (:func:`max_rate`), which binds only when
  rows coincide (the Gibbs sampler floors ``b`` at the same place).
* ``log p(mu_k | Sigma_k, kappa0)`` is linear in ``kappa0`` and ``log
  kappa0``: ``q(kappa0) = Gamma(a + K D / 2, r + sum_k E_q[(mu_k - m0)^T
  Lambda_k (mu_k - m0)] / 2)``, the expectation being ``D / kappa_k + (m_k -
  m0)^T E_q[Lambda_k] (m_k - m0)``, and ``q(mu_k | Sigma_k)`` is the usual
  update with ``kappa0 = E_q[kappa0]``.

Because the log-densities are linear in the hyperparameter and its log, the
ELBO is that of the fixed prior at ``b = E_q[b]`` (and ``kappa0 =
E_q[kappa0]``) plus, for each hyperparameter, ``N (E_q[log b] - log E_q[b])
- KL(q(b) || p(b))`` (:func:`kl`).  Each update is an exact coordinate step,
so the ELBO never decreases.

References
----------
Richardson & Green (1997), JRSS B 59, 731-792; Escobar & West (1995), JASA
90, 577-588; Bishop (2006), *Pattern Recognition and Machine Learning*, §10.2.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.special import digamma

from ._conjugate import gamma_kl
from .priors import Gamma, NormalInverseWishart

__all__ = [
    "B_FLOOR",
    "at",
    "kl",
    "max_rate",
    "publish",
    "scale_terms",
    "start",
    "update",
]


def scale_terms(structure, dof0: float, n_components: int, n_features: int) -> float:
    """``N_b``: the sum over the precision blocks of ``n p / 2`` (module docstring)."""
    n = float(structure.block_dof(np.asarray(dof0, dtype=float), n_features))
    per_component = 0.5 * n * (1 if structure.isotropic else n_features)
    return per_component * (1 if structure.shared else n_components)


def _mean(shape, rate):
    return shape / rate


def at(prior, post, structure):
    """``prior`` with its learned values at their current expectations under
    ``post`` (``E_q[b] A`` and ``E_q[kappa0]``); ``prior`` itself when nothing
    is learned."""
    if prior.scale_gamma is None and prior.kappa_gamma is None:
        return prior
    changes = {}
    if prior.scale_gamma is not None:
        scale = np.diag(_mean(post.b_shape, post.b_rate) * prior.base)
        changes.update(scale=scale, scale_t=structure.prior_scale(scale))
    if prior.kappa_gamma is not None:
        changes["kappa"] = _mean(post.k_shape, post.k_rate)
    return dataclasses.replace(prior, **changes)


def start(prior, structure, n_components: int, n_features: int) -> dict:
    """The initial ``q(b)``, ``q(kappa0)`` (fields of a Posterior): centred on
    the resolved starting values, with the shape of their conjugate update."""
    out = {"b_shape": None, "b_rate": None, "k_shape": None, "k_rate": None}
    if prior.scale_gamma is not None:
        shape = prior.scale_gamma.shape + scale_terms(
            structure, prior.dof, n_components, n_features
        )
        out.update(b_shape=shape, b_rate=shape / prior.b_start)
    if prior.kappa_gamma is not None:
        shape = prior.kappa_gamma.shape + 0.5 * n_components * n_features
        out.update(k_shape=shape, k_rate=shape / prior.kappa)
    return out


def update(post, prior, structure):
    """``post`` with ``q(b)`` and ``q(kappa0)`` updated from its ``q(mu, Sigma)``
    (it must hold its expectations, see :func:`bayesmix._vb_core.expect`)."""
    k, d = post.means.shape
    changes = {}
    e_prec = post.e_prec
    if structure.shared:
        e_prec = e_prec[:1]
    if prior.scale_gamma is not None:
        g = prior.scale_gamma
        a = prior.base
        if e_prec.ndim == 2:  # diagonals (K, D); spherical repeats one value D times
            trace = float((e_prec * a).sum())
        else:
            trace = float(np.einsum("kii,i->", e_prec, a))
        shape = g.shape + scale_terms(structure, prior.dof, k, d)
        changes.update(b_shape=shape, b_rate=min(g.rate + 0.5 * trace, max_rate(prior, shape)))
    if prior.kappa_gamma is not None:
        g = prior.kappa_gamma
        diff = post.means - prior.mean
        full = post.e_prec
        if full.ndim == 2:
            maha = (diff * diff * full).sum(axis=1)
        else:
            maha = np.einsum("ki,kij,kj->k", diff, full, diff)
        changes.update(
            k_shape=g.shape + 0.5 * k * d,
            k_rate=g.rate + 0.5 * float((d / post.kappa + maha).sum()),
        )
    return dataclasses.replace(post, **changes)


# The floor of E_q[b], relative to its start: rows that coincide (a constant
# column, a component on duplicated rows) make the ELBO grow without bound as
# b -> 0, as the likelihood does as a covariance collapses.  The Gibbs sampler
# floors its draws of b at the same place (1e-6 of the data's variance).
B_FLOOR = 1e-6


def max_rate(prior, shape: float) -> float:
    """The largest rate of ``q(b) = Gamma(shape, rate)`` in the variational
    family: ``E_q[b] >= B_FLOOR * b_start``.  For a fixed shape, ``KL(Gamma(shape,
    r) || Gamma(shape, R))`` grows with ``|log(r / R)|``, so the clamped rate
    ``min(R, max_rate)`` is the family's best: the update stays an exact
    coordinate step and the ELBO a lower bound."""
    return shape / (B_FLOOR * prior.b_start)


def kl(post, prior, structure) -> float:
    """``KL(q(b) || p(b)) - N_b (E_q[log b] - log E_q[b])`` plus the same for
    ``kappa0``: what the ELBO of the fixed prior at the expectations lacks
    (module docstring); 0 when nothing is learned."""
    k, d = post.means.shape
    out = 0.0
    if prior.scale_gamma is not None:
        g, shape, rate = prior.scale_gamma, post.b_shape, post.b_rate
        n_b = scale_terms(structure, prior.dof, k, d)
        gap = digamma(shape) - np.log(shape)  # E[log b] - log E[b]
        out += float(gamma_kl(shape, rate, g.shape, g.rate)) - n_b * gap
    if prior.kappa_gamma is not None:
        g, shape, rate = prior.kappa_gamma, post.k_shape, post.k_rate
        gap = digamma(shape) - np.log(shape)
        out += float(gamma_kl(shape, rate, g.shape, g.rate)) - 0.5 * k * d * gap
    return out


def publish(post, prior, structure, public: NormalInverseWishart, scale_factor: float):
    """``(q(b) or None, q(kappa0) or None, component prior)``: what a fit
    publishes about its base measure; the component prior ``public`` (data
    units) gets its learned values at their posterior means."""
    if not prior.learned:
        return None, None, public
    expected = at(prior, post, structure)
    q_b = q_kappa = None
    scale = public.scale
    if prior.scale_gamma is not None:
        q_b = Gamma(post.b_shape, post.b_rate)
        scale = expected.scale * scale_factor**2
    if prior.kappa_gamma is not None:
        q_kappa = Gamma(post.k_shape, post.k_rate)
    cp = NormalInverseWishart(public.mean, float(expected.kappa), public.dof, scale)
    return q_b, q_kappa, cp
