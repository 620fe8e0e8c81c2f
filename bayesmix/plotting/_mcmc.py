"""Iterations and chains: the objective per iteration, MCMC traces and rank
plots."""

from __future__ import annotations

import numpy as np

from ._common import _axes, _colour

__all__ = ["plot_convergence", "plot_rank", "plot_trace"]


def plot_convergence(source, ax=None, *, label: str | None = None):
    """The objective per iteration: EM's mean log-likelihood or VB's ELBO.

    Parameters
    ----------
    source : fitted estimator or sequence of float
        A model's ``lower_bounds_`` is drawn (EM: mean log-likelihood per
        unit weight; the variational engine: its ELBO trace), or the values
        given.
    ax : matplotlib Axes, optional
    label : str, optional
        y-axis label; by default it names the model's objective.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if hasattr(source, "lower_bounds_"):
        values = np.asarray(source.lower_bounds_, dtype=float)
        if label is None:
            label = "ELBO" if hasattr(source, "elbo_") else "mean log-likelihood"
    else:
        values = np.asarray(source, dtype=float).ravel()
    if values.size == 0:
        raise ValueError("there are no iterations to draw (max_iter=0?).")
    ax = _axes(ax, figsize=(5.0, 3.5))
    it = np.arange(1, values.size + 1)
    ax.plot(it, values, marker="o", ms=3, lw=1.2, color="C0")
    ax.set_xlabel("iteration")
    ax.set_ylabel(label or "objective")
    ax.xaxis.get_major_locator().set_params(integer=True)
    return ax


def _chains(samples) -> np.ndarray:
    arr = np.asarray(samples, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"samples must have shape (n_chains, n_draws), got {arr.shape}.")
    return arr


def plot_trace(samples, ax=None, *, name: str = "value"):
    """Draws of one scalar quantity against iteration, one line per chain.

    Parameters
    ----------
    samples : array-like, shape (n_chains, n_draws) or (n_draws,)
        For instance a Gibbs model's ``n_clusters_samples_`` or
        ``concentration_samples_``.
    ax : matplotlib Axes, optional
    name : str, default="value"
        y-axis label.

    Returns
    -------
    matplotlib.axes.Axes
    """
    arr = _chains(samples)
    ax = _axes(ax, figsize=(6.0, 3.0))
    for c, chain in enumerate(arr):
        ax.plot(
            np.arange(chain.size), chain, lw=0.8, alpha=0.8, color=_colour(c), label=f"chain {c}"
        )
    ax.set_xlabel("draw")
    ax.set_ylabel(name)
    if arr.shape[0] > 1:
        ax.legend(frameon=False, fontsize=8)
    return ax


def plot_rank(samples, ax=None, *, name: str = "value", n_bins: int | None = None):
    """Rank plot: histograms of each chain's ranks among all draws.

    Draws from chains that sample the same distribution have uniform ranks,
    so every step line should stay near the dashed line (inside the grey
    band, a 99% interval for a uniform histogram); a chain stuck in one mode
    shows as a tilted or humped line (Vehtari, Gelman, Simpson, Carpenter &
    Bürkner 2021, *Bayesian Analysis* 16, 667-718).  Ties (integer draws such
    as a number of clusters) are broken at random, with a fixed seed: tied
    draws are exchangeable when the chains mix, so the ranks stay uniform.

    Parameters
    ----------
    samples : array-like, shape (n_chains, n_draws)
    ax : matplotlib Axes, optional
    name : str, default="value"
        Title of the plot.
    n_bins : int, optional
        Default: about ``n_draws / 20``, between 5 and 30.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from scipy.stats import binom

    arr = _chains(samples)
    n_chains, n_draws = arr.shape
    tie_break = np.random.default_rng(0).random(arr.size)
    order = np.lexsort((tie_break, arr.ravel()))
    ranks = np.empty(arr.size)
    ranks[order] = np.arange(1, arr.size + 1)
    ranks = ranks.reshape(arr.shape)
    if n_bins is None:
        n_bins = int(np.clip(n_draws // 20, 5, 30))
    edges = np.linspace(0.5, arr.size + 0.5, n_bins + 1)
    ax = _axes(ax, figsize=(5.0, 3.5))
    expected = n_draws / n_bins
    lo, hi = binom.ppf([0.005, 0.995], n_draws, 1.0 / n_bins)
    ax.axhspan(lo, hi, color="0.9", lw=0)
    ax.axhline(expected, color="0.4", ls="--", lw=1)
    for c in range(n_chains):
        counts, _ = np.histogram(ranks[c], bins=edges)
        ax.stairs(counts, edges, baseline=None, color=_colour(c), lw=1.4, label=f"chain {c}")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("rank of draw among all chains")
    ax.set_ylabel("draws per bin")
    ax.set_title(name)
    if n_chains > 1:
        ax.legend(frameon=False, fontsize=8)
    return ax
