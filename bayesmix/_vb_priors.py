"""Prior resolution for variational Bayes: the public priors (``None``
fields filled from the data, hyperpriors kept) and the standardised
:class:`~bayesmix._vb_core.Prior` the coordinate ascent reads."""

from __future__ import annotations

import numpy as np

from ._vb_core import Prior
from .priors import Dirichlet, Gamma, NormalInverseWishart, RandomScale

__all__ = ["resolve_priors"]


def resolve_priors(n_components: int, structure, Xt, w, std, wp, cp):
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
    """
    n_features = Xt.shape[0]
    k = n_components
    c, s = std.center, std.scale
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
    defaults = cp.resolve(Xt.T, w, n_components=1)
    mean = defaults.mean if cp.mean is None else (cp.mean - c) / s
    scale = defaults.scale if cp.scale is None else cp.scale / s**2
    base = b_start = None
    if random_scale is not None:
        base = RandomScale.base(rows)
        # start where E[Sigma] is about the data's per-feature variance (as the Gibbs sampler)
        var = (Xt * Xt) @ w / w.sum()
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
