"""Matplotlib figures for fitted mixtures and their posteriors.

Every function takes ``ax=None`` (a new figure is made when it is ``None``)
and returns the :class:`matplotlib.axes.Axes` it drew on, so figures compose:
``plot_density(gm, X, ax=plot_components(gm, X))``.  Matplotlib is imported
only when a function is called.

The functions take a fitted model, a :class:`~bayesmix.posterior.MixturePosterior`
or plain arrays, so results from any engine (or computed elsewhere) can be
drawn the same way.

================================ ===================================================
function                         draws
================================ ===================================================
:func:`plot_components`          data coloured by hard label, component ellipses
:func:`plot_pairs`               every pair of features: components, labels, uncertainty
:func:`plot_density`             density contours (2-D) or curve (1-D)
:func:`plot_density_band`        1-D density with a credible band, from arrays
:func:`plot_posterior_density`   the same from a ``MixturePosterior``
:func:`plot_criterion`           BIC / AIC / ICL against K, one line per covariance
:func:`plot_n_components`        posterior of the number of occupied components
:func:`plot_coclustering`        co-clustering matrix, ordered by a partition
:func:`plot_uncertainty`         assignment uncertainty ``1 - max_k p(k | x)``
:func:`plot_convergence`         log-likelihood or ELBO per iteration
:func:`plot_trace`               MCMC draws per chain
:func:`plot_rank`                rank plot of MCMC draws per chain
================================ ===================================================

The figures live in modules by subject: ``_fitted`` (a fitted model),
``_pairs`` (a grid of the fitted-model figures over pairs of features),
``_posterior`` (a ``MixturePosterior``), ``_selection`` (a model grid) and
``_mcmc`` (iterations and chains); ``_common`` holds what they share.
"""

from __future__ import annotations

from ._fitted import plot_components, plot_density
from ._mcmc import plot_convergence, plot_rank, plot_trace
from ._pairs import plot_pairs
from ._posterior import (
    plot_coclustering,
    plot_density_band,
    plot_n_components,
    plot_posterior_density,
    plot_uncertainty,
)
from ._selection import plot_criterion

__all__ = [
    "plot_coclustering",
    "plot_components",
    "plot_convergence",
    "plot_criterion",
    "plot_density",
    "plot_density_band",
    "plot_n_components",
    "plot_pairs",
    "plot_posterior_density",
    "plot_rank",
    "plot_trace",
    "plot_uncertainty",
]
