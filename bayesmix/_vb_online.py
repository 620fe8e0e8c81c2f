"""Stochastic variational inference: ``VariationalGaussianMixture.partial_fit``.

Hoffman, Blei, Wang & Paisley (2013), "Stochastic variational inference",
JMLR 14, 1303-1347.  The global factors whose conjugate updates read the data
-- the weights ``q(pi)`` (or the sticks ``q(v)``) and the components ``q(mu_k,
Sigma_k)`` -- have natural parameters that are linear in the expected
sufficient statistics.  One step from a mini-batch:

1. the batch's E-step at the current ``q`` (the shared kernel) gives its
   weighted statistics ``nk``, ``s1``, ``s2``;
2. scaled by ``total_samples / (batch weight)`` they are the statistics of a
   data set of ``total_samples`` rows that all looked like the batch, and
   their conjugate update is the intermediate posterior ``lambda_hat``;
3. the natural parameters move ``lambda <- (1 - rho_t) lambda + rho_t
   lambda_hat``, which is a step of size ``rho_t`` along the natural gradient
   of the ELBO (Hoffman et al., eq. 21-25), with
   ``rho_t = (t + learning_offset) ** -learning_decay``.

The natural parameters of a Normal-inverse-Wishart factor are ``kappa``,
``kappa m``, ``dof`` and ``Psi + kappa m m^T`` (for "diag" the diagonal of the
last; for "spherical" and "tied" the sum the conjugate update pools: the trace,
or the sum over components); the Dirichlet's and the sticks' are their
parameters.  A convex combination of valid natural parameters is valid, so
every step leaves each ``Psi`` positive definite.  The factors that read no data
-- a learned DP concentration ``q(alpha)``, the random prior scale ``q(b)`` and
``q(kappa0)`` -- are then set to their optimum for the new components (the
coordinate step CAVI takes; Hoffman et al. §3 allow any global update that
reads only global parameters).

For decays in (0.5, 1], ``sum rho_t = inf`` and ``sum rho_t^2 < inf`` (Robbins &
Monro 1951), so a stream drawn from a fixed data set converges to a local
optimum of that data set's ELBO when ``total_samples`` is its size.  The
defaults (decay 0.7, offset 10, ``total_samples`` 1e6) are those of
scikit-learn's ``LatentDirichletAllocation`` (Hoffman, Blei & Bach 2010 used
decay 0.5-1 and offsets 1-1024).

All arrays are in the standardised units of the model's first fit.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
from scipy.special import digamma

from . import _compile, _vb_core, _vb_hyper
from ._data import prepare
from ._fitting import publish_fit
from ._kernels import MixtureStats

__all__ = ["check_schedule", "full_elbo", "partial_fit", "step", "step_size"]


def check_schedule(total_samples, decay, offset) -> tuple[float, float, float]:
    """Validated ``total_samples`` > 0, ``learning_decay`` in (0.5, 1] and
    ``learning_offset`` >= 0."""
    for value, name in (
        (total_samples, "total_samples"),
        (decay, "learning_decay"),
        (offset, "learning_offset"),
    ):
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise TypeError(f"{name} must be a number, got {value!r}.")
    total_samples, decay, offset = float(total_samples), float(decay), float(offset)
    if not (np.isfinite(total_samples) and total_samples > 0.0):
        raise ValueError(
            f"total_samples must be a finite number > 0 (the number of rows the stream "
            f"stands for), got {total_samples}; the default is 1e6."
        )
    if not 0.5 < decay <= 1.0:
        raise ValueError(
            f"learning_decay must be in (0.5, 1] (the step sizes must sum to infinity and "
            f"their squares converge), got {decay}; the default is 0.7."
        )
    if not (np.isfinite(offset) and offset >= 0.0):
        raise ValueError(f"learning_offset must be a finite number >= 0, got {offset}.")
    return total_samples, decay, offset


def step_size(n_steps: int, decay: float, offset: float) -> float:
    """``rho_t = (t + offset) ** -decay`` for the ``t``-th step (t = n_steps + 1),
    at most 1."""
    return float(min(1.0, (n_steps + 1 + offset) ** -decay))


# ------------------------------------------------------------ natural parameters
def _quadratic(structure, kappa, means):
    """``pool(kappa_k m_k m_k^T)`` in the covariance type's shape: what the
    scale's natural parameter adds to ``Psi``."""
    if structure.diagonal:
        q = kappa[:, None] * means * means
    else:
        q = kappa[:, None, None] * means[:, :, None] * means[:, None, :]
    return structure.conjugate.pool(q)


def _blend(structure, old, new, rho: float):
    """The posterior whose natural parameters are ``(1 - rho) old + rho new``
    (weights, sticks and components; the hyperparameters' fields are ``old``'s)."""
    keep = 1.0 - rho

    def mix(a, b):
        return keep * a + rho * b

    kappa = mix(old.kappa, new.kappa)
    means = mix(old.kappa[:, None] * old.means, new.kappa[:, None] * new.means) / kappa[:, None]
    eta = mix(
        old.scale + _quadratic(structure, old.kappa, old.means),
        new.scale + _quadratic(structure, new.kappa, new.means),
    )
    scale = eta - _quadratic(structure, kappa, means)
    weight_b = None if old.weight_b is None else mix(old.weight_b, new.weight_b)
    return dataclasses.replace(
        old,
        weight_a=mix(old.weight_a, new.weight_a),
        weight_b=weight_b,
        kappa=kappa,
        means=means,
        dof=mix(old.dof, new.dof),
        scale=scale,
    )


def _concentration(post, prior):
    """``q(alpha)`` at its optimum for the sticks of ``post`` (a learned DP
    concentration; :func:`bayesmix._vb_core.weight_posterior`'s update)."""
    if prior.gamma is None or post.weight_b is None:
        return post
    a, b = post.weight_a, post.weight_b
    e_log_1mv = digamma(b) - digamma(a + b)
    return dataclasses.replace(
        post,
        conc_shape=prior.gamma.shape + a.shape[0],
        conc_rate=prior.gamma.rate - float(e_log_1mv.sum()),
    )


def step(post, prior, structure, Xt, w, total_samples: float, rho: float):
    """One SVI step from the batch ``Xt`` (D, n), ``w`` (n,).

    Returns ``(posterior with its expectations, ELBO estimate at the posterior
    before the step, the batch's counts scaled to total_samples (K,))``; the ELBO
    estimate is ``total_samples / sum(w)`` times the batch's ``sum_i w_i log
    sum_k exp(...)`` minus ``KL(q || prior)``, unbiased for the ELBO of
    ``total_samples`` rows like the batch's.
    """
    k, d = post.means.shape
    stats = MixtureStats(Xt.shape[1], k, d, structure.diagonal)
    stats.e_step(Xt, w, post.means, post.prec, post.log_const)
    factor = total_samples / float(w.sum())
    scaled = SimpleNamespace(nk=stats.nk * factor, s1=stats.s1 * factor, s2=stats.s2 * factor)
    elbo = factor * stats.log_likelihood - post.kl
    # the statistics are about the current means, as in a CAVI step
    target = _vb_core.update(scaled, post.means, prior, structure, post)
    new = _concentration(_blend(structure, post, target, rho), prior)
    new = _vb_core.expect(new, prior, structure)
    if prior.learned:
        new = _vb_core.expect(_vb_hyper.update(new, prior, structure), prior, structure)
    return new, elbo, scaled.nk


def full_elbo(model, X, sample_weight=None) -> float:
    """The ELBO of a fitted model's ``q`` on data ``X`` (data units), with the
    responsibilities optimal for it: ``sum_i w_i log sum_k exp(...) - KL(q ||
    prior)``, as ``elbo_`` is after ``fit`` -- to compare a stream's result with
    the batch fit of the same rows."""
    data = prepare(X, sample_weight, 1, keep_zero_weight=True)
    data = data.restandardised(model._standardiser)
    post = model._post
    k, d = post.means.shape
    stats = MixtureStats(data.Xt.shape[1], k, d, model._structure.diagonal)
    stats.e_step(data.Xt, data.w, post.means, post.prec, post.log_const)
    log_jac = float(data.w.sum()) * d * model._standardiser.log_scale
    return float(stats.log_likelihood - post.kl - log_jac)


def partial_fit(model, X, sample_weight):
    """:meth:`VariationalGaussianMixture.partial_fit` (see its docstring)."""
    from . import _dask

    total_samples, decay, offset = check_schedule(
        model.total_samples, model.learning_decay, model.learning_offset
    )
    _dask.refuse(
        X,
        "partial_fit",
        "pass its blocks one by one: for block in X.blocks: model.partial_fit(block.compute())",
    )
    if not hasattr(model, "_post"):
        model.fit(X, sample_weight=sample_weight)
        model.n_steps_ = 0
        return model
    model._check_params()
    if (
        model.covariance_type != model._structure.name
        or model.n_components != model._post.means.shape[0]
    ):
        raise ValueError(
            "partial_fit continues the fitted model, but n_components or covariance_type "
            "changed since it was fitted; call fit(X) to start again."
        )
    data = prepare(X, sample_weight, 1, keep_zero_weight=True)
    if data.Xt.shape[0] != model.n_features_in_:
        raise ValueError(
            f"X has {data.Xt.shape[0]} features, but VariationalGaussianMixture is expecting "
            f"{model.n_features_in_} features as input (those it was fitted with); pass "
            "batches with the same columns."
        )
    _compile.compile_first(_compile.VB, data.Xt.shape[0])
    data = data.restandardised(model._standardiser)
    structure, prior = model._structure, model._prior
    n_steps = getattr(model, "n_steps_", 0)
    rho = step_size(n_steps, decay, offset)
    post, elbo, counts = step(model._post, prior, structure, data.Xt, data.w, total_samples, rho)
    d = data.Xt.shape[0]
    log_jac = total_samples * d * model._standardiser.log_scale
    model._post = post
    model._set_public_params()
    publish_fit(
        model,
        n_features=d,
        feature_names=data.names,
        converged=False,
        lower_bounds=[elbo],
        log_jacobian=log_jac,
    )
    model.n_steps_ = n_steps + 1
    model.elbo_ = elbo - log_jac
    model.counts_ = counts
    mask, model.missing_information_ = _vb_core.effective(
        data.Xt, data.w, post, model._predictive, structure
    )
    # a component the batch happens to miss stays effective while the stream
    # still expects rows of it
    model.effective_components_ = mask | (counts >= 1.0)
    model.n_effective_components_ = int(model.effective_components_.sum())
    return model
