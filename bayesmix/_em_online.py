"""Stepwise (online) EM: ``GaussianMixture.partial_fit``.

The model keeps running averages of its sufficient statistics per unit of
weight -- the components' weights ``nk``, first moments ``s1`` and second
moments ``s2`` about the origin of its standardised units -- and after each
batch moves them a step towards that batch's statistics at the current
parameters, then takes the ordinary M-step of its covariance structure:

    S_t = (1 - rho_t) S_{t-1} + rho_t s(batch_t; theta_{t-1}),
    theta_t = M-step(S_t),       rho_t = (t + learning_offset) ** -learning_decay

(Cappé & Moulines 2009, "On-line expectation-maximization algorithm for
latent data models", JRSS B 71, 593-613; the mini-batch form and the schedule
``(t + 2) ** -alpha`` with ``alpha`` in [0.5, 1] are Liang & Klein 2009,
"Online EM for unsupervised models", NAACL).  ``sum_t rho_t = inf`` and
``sum_t rho_t^2 < inf`` for decays in (0.5, 1], so a stream of batches from a
fixed distribution converges to a stationary point of its expected
log-likelihood; cycling over the batches of one data set converges to the
batch fit's optimum (within the noise the last steps leave).

The first ``partial_fit`` of an unfitted model is an ordinary ``fit`` of that
batch.  The running statistics then start from the moments the current
parameters imply (:func:`implied_moments`), so that continuing a fitted model
-- from ``fit`` or ``partial_fit`` -- starts where it stands: a batch at its
own optimum leaves the parameters where they are.

Moments about the origin in standardised units (the first batch's centre and
scale) lose about ``eps * |mu|^2 / sigma^2`` relative to moments about each
mean: nothing for components within a few hundred standard deviations of the
data's centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _em_core as core
from . import _missing
from ._kernels import MixtureStats

__all__ = ["OnlineState", "check_schedule", "implied_moments", "step", "step_size"]


@dataclass
class OnlineState:
    """Running sufficient statistics per unit weight (standardised units).

    nk : (K,) weights; s1 : (K, D) first moments ``E[r x]``; s2 : (K, P, D)
    second moments ``E[r x x^T]`` (P = D; only the diagonal, P = 1, for the
    diagonal structures); n_steps : batches averaged in so far.
    """

    nk: np.ndarray
    s1: np.ndarray
    s2: np.ndarray
    n_steps: int


def check_schedule(decay, offset) -> tuple[float, float]:
    """Validated ``learning_decay`` in (0.5, 1] and ``learning_offset`` >= 0."""
    for value, name in ((decay, "learning_decay"), (offset, "learning_offset")):
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
            raise TypeError(f"{name} must be a number, got {value!r}.")
    decay, offset = float(decay), float(offset)
    if not 0.5 < decay <= 1.0:
        raise ValueError(
            f"learning_decay must be in (0.5, 1] (the step sizes must sum to infinity and "
            f"their squares converge), got {decay}; the default is 0.6."
        )
    if not (np.isfinite(offset) and offset >= 0.0):
        raise ValueError(f"learning_offset must be a finite number >= 0, got {offset}.")
    return decay, offset


def step_size(n_steps: int, decay: float, offset: float) -> float:
    """``rho_t = (t + offset) ** -decay`` for the ``t``-th update (t = n_steps + 1),
    at most 1."""
    return float(min(1.0, (n_steps + 1 + offset) ** -decay))


def implied_moments(structure, params: core.Params, reg) -> OnlineState:
    """The statistics whose M-step gives ``params`` back: ``nk = weights``,
    ``s1 = w mu``, ``s2 = w (Sigma - reg + mu mu^T)`` (the M-step adds ``reg``
    to the covariances again).  Exact for full, tied, diag and spherical; for
    mclust's other models, which add ``reg`` to the scatter before imposing
    their structure, close to it (within about ``reg``)."""
    k, d = params.means.shape
    w, mu = params.weights, params.means
    full = structure.to_full(params.covariances, k, d).copy()
    idx = np.arange(d)
    full[:, idx, idx] -= np.broadcast_to(np.asarray(reg, dtype=float), (d,))
    second = w[:, None, None] * (full + mu[:, :, None] * mu[:, None, :])
    s2 = second[:, idx, idx][:, None, :] if structure.diagonal else second
    return OnlineState(w.copy(), w[:, None] * mu, s2, 0)


def _batch_moments(structure, data, params):
    """This batch's statistics per unit weight about the origin, and its mean
    log-likelihood per unit weight (standardised units, plus for rows with
    missing cells the Jacobian of their missing features, see
    :func:`bayesmix._missing.e_step`), at ``params``.  Rows with missing cells
    contribute the missing-data E-step's statistics (conditional means and
    covariances of their missing features, Ghahramani & Jordan 1994)."""
    k, d = params.means.shape
    Xt, w = data.Xt, data.w
    if data.missing is not None:
        stats = _missing.e_step(structure, Xt, w, params, data.missing, data.std.log_scale)
        mu = params.means
    else:
        comps = core.components(structure, params)
        stats = MixtureStats(Xt.shape[1], k, d, structure.diagonal)
        stats.e_step(Xt, w, comps.means, comps.prec, comps.log_const)
        mu = comps.means
    total = float(w.sum())
    nk, s1, s2 = stats.nk, stats.s1, stats.s2  # about the components' means
    raw1 = s1 + nk[:, None] * mu
    if structure.diagonal:
        raw2 = s2 + (2.0 * mu * s1 + nk[:, None] * mu * mu)[:, None, :]
    else:
        cross = s1[:, :, None] * mu[:, None, :]
        raw2 = (
            s2
            + cross
            + np.swapaxes(cross, 1, 2)
            + nk[:, None, None] * mu[:, :, None] * mu[:, None, :]
        )
    return nk / total, raw1 / total, raw2 / total, stats.log_likelihood / total


def step(structure, state: OnlineState, params, data, ctx: core.Context, rho: float):
    """One stepwise-EM update from the batch ``data`` (a
    :class:`bayesmix._data.Data` in the model's units; NaN cells missing).

    Returns ``(state, params, jitter or None, mean log-likelihood of the batch
    per unit weight at the parameters before the update)``."""
    nk, s1, s2, mean_ll = _batch_moments(structure, data, params)
    keep = 1.0 - rho
    new = OnlineState(
        keep * state.nk + rho * nk,
        keep * state.s1 + rho * s1,
        keep * state.s2 + rho * s2,
        state.n_steps + 1,
    )
    stats = _Moments(new.nk, new.s1, new.s2)
    shift = np.zeros_like(new.s1)
    # an iterative M-step (mclust's VEI ... VVE) starts from the current covariances
    params, jitter = core.m_step(structure, stats, shift, ctx, previous=params.covariances)
    return new, params, jitter, mean_ll


@dataclass
class _Moments:
    """The three statistics :func:`bayesmix._em_core.m_step` reads."""

    nk: np.ndarray
    s1: np.ndarray
    s2: np.ndarray
