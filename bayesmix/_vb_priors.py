"""Prior resolution for variational Bayes: the public priors (``None``
fields filled from the data, hyperpriors kept) and the standardised
:class:`~bayesmix._vb_core.Prior` the coordinate ascent reads."""

from __future__ import annotations

import numpy as np

from ._vb_core import Prior
from .priors import Dirichlet, Gamma, NormalInverseWishart, RandomScale

__all__ = ["resolve_priors"]


def resolve_priors(n_components: int, structure, Xt, w, std, wp, cp, summary=None):
    """Resolved priors: ``(weight prior, component prior in data units (public),
    Prior in standardised units, structure)``.

    Defaults are computed on the standardised data ``Xt`` (so data near
    1e+-150 do not overflow) and are the same, up to rounding, as
    :meth:`NormalInverseWishart.resolve` on ``X``; explicit values are
    kept exactly.  A :class:`~bayesmix.priors.RandomScale` ``scale`` and a
    :class:`~bayesmix.priors.Gamma` ``kappa`` are hyperpriors
    (:mod:`bayesmix._vb_hyper`); with a ``RandomScale`` the default ``dof``
    is ``D + 3`` (Richardson & Green's ``sigma^-2 ~ Gamma(2, beta)`` in one
    dimension), as for the Gibbs sampler.  The public prior then holds the
    starting values; the fit replaces them by their posterior means.

    Chunked data (:mod:`bayesmix._vb_dask`) pass ``Xt = w = None`` and their
    ``summary`` (ranges, variances, covariance) instead.
    """
    n_features = std.center.shape[0]
    k = n_components
    c, s = std.center, std.scale
    holes = False
    if summary is not None:
        # two rows with each feature's extremes: the same ranges, and all zero
        # only when every column is constant (the centre lies between them)
        rows = np.vstack([summary.lo, summary.hi])
    else:
        observed = ~np.isnan(Xt)
        holes = not observed.all()
    if holes:
        # Missing cells at their feature's observed mean (0 in these units): the
        # ranges and the mean are those of the observed cells exactly; the
        # covariance is rescaled to the observed variances below.
        Xt = np.where(observed, Xt, 0.0)
    if summary is None:
        rows = Xt[:, w > 0].T
    random_scale = cp.scale if isinstance(cp.scale, RandomScale) else None
    kappa_gamma = cp.kappa if isinstance(cp.kappa, Gamma) else None
    if random_scale is not None or kappa_gamma is not None:
        dof = cp.dof
        if dof is None and random_scale is not None:
            dof = n_features + 3.0
        cp = NormalInverseWishart(
            cp.mean,
            kappa_gamma.mean if kappa_gamma is not None else cp.kappa,
            dof,
            None if random_scale is not None else cp.scale,
        )
    if not np.any(rows) and cp.scale is None:
        # All columns constant: any scale is arbitrary; the identity keeps the fit finite.
        cp = NormalInverseWishart(cp.mean, cp.kappa, cp.dof, np.eye(n_features))
    # One component's prior must not depend on how many components are allowed
    # (K is only a truncation level for a DP), or ELBOs would not compare across K.
    # This call also checks the explicit values against the data dimension.
    if summary is None:
        defaults = cp.resolve(Xt.T, w, n_components=1)
    elif cp.scale is None:
        defaults = cp.resolve(*summary.proxy_rows(), n_components=1)
    else:  # only the mean (0 in these units) is read
        defaults = cp.resolve(np.zeros((1, n_features)), np.ones(1), n_components=1)
    if holes and cp.scale is None:
        defaults = _observed_variances(defaults, Xt, w, observed)
    mean = defaults.mean if cp.mean is None else (cp.mean - c) / s
    scale = defaults.scale if cp.scale is None else cp.scale / s**2
    base = b_start = None
    if random_scale is not None:
        base = RandomScale.base(rows)
        # start where E[Sigma] is about the data's per-feature variance (as the Gibbs sampler)
        if summary is not None:
            var = summary.variances
        else:
            var = (Xt * Xt) @ w / ((observed @ w) if holes else w.sum())
        var = np.where(var > 0, var, base / 2.0)
        b_start = max(defaults.dof - n_features - 1.0, 1.0) * float(np.mean(var / base))
        scale = np.diag(b_start * base)
    public = NormalInverseWishart(
        mean=mean * s + c if cp.mean is None else cp.mean,
        kappa=defaults.kappa,
        dof=defaults.dof,
        scale=scale * s**2 if cp.scale is None else cp.scale,
    )
    if isinstance(wp, Dirichlet):
        weight_prior = Dirichlet(wp.resolve(k))
        conc, gamma, dp = weight_prior.concentration, None, False
    else:
        weight_prior = wp
        gamma = wp.concentration if wp.learned else None
        conc = gamma.mean if gamma is not None else wp.concentration
        dp = True
    prior = Prior(
        mean=mean,
        kappa=defaults.kappa,
        dof=defaults.dof,
        scale=scale,
        scale_t=structure.prior_scale(scale),
        dp=dp,
        concentration=conc,
        gamma=gamma,
        scale_gamma=None if random_scale is None else random_scale.gamma,
        base=base,
        b_start=b_start,
        kappa_gamma=kappa_gamma,
    )
    return weight_prior, public, prior, structure


def _observed_variances(defaults: NormalInverseWishart, filled, w, observed):
    """``defaults`` with its scale rescaled so that its diagonal follows the
    observed cells' variances: the mean-filled covariance shrinks feature
    ``f``'s variance by its observed fraction ``p_f``; ``D S D`` with ``D =
    diag(p_f^-1/2)`` undoes that and stays positive definite."""
    frac = (observed @ w) / w.sum()
    root = 1.0 / np.sqrt(frac)
    scale = defaults.scale * root[:, None] * root[None, :]
    return NormalInverseWishart(defaults.mean, defaults.kappa, defaults.dof, scale)
