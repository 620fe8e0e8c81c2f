"""Convergence diagnostics of draws, through arviz-stats: the one split R-hat
and the one threshold used by every engine and by the posterior layer.

References: Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021), "Rank-
normalization, folding, and localization: an improved R-hat", Bayesian
Analysis 16, 667-718.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

__all__ = ["RHAT_THRESHOLD", "bulk_ess", "draw_diagnostics", "rhat_limit", "split_rhat"]

# Vehtari et al. (2021) recommend trusting draws only when R-hat < 1.01.
RHAT_THRESHOLD = 1.01


def split_rhat(x: np.ndarray) -> float:
    """Rank-normalised split R-hat of one quantity's draws (n_chains, n_draws)
    (arviz-stats); one chain is judged by its two halves.  NaN when there is
    nothing to judge (fewer than 4 draws a chain, a non-finite draw, or a
    quantity constant up to rounding)."""
    from arviz_stats.base import array_stats

    x = np.asarray(x, dtype=float)
    if x.shape[0] == 1:  # arviz-stats needs two chains
        half = x.shape[1] // 2
        x = np.stack([x[0, :half], x[0, half : 2 * half]])
    if x.shape[1] < 4 or not np.isfinite(x).all():
        return float("nan")
    if np.ptp(x) <= 1e-9 * (1.0 + np.abs(x).max()):  # constant up to rounding
        return float("nan")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(array_stats.rhat(x, chain_axis=0, draw_axis=1))


def bulk_ess(x: np.ndarray) -> float:
    """Bulk effective sample size of one quantity's draws (n_chains, n_draws),
    all chains together (arviz-stats, Vehtari et al. 2021).  NaN when it cannot
    be computed (fewer than 4 draws a chain, non-finite or constant draws)."""
    from arviz_stats.base import array_stats

    x = np.asarray(x, dtype=float)
    if x.shape[1] < 4 or not np.isfinite(x).all() or np.ptp(x) == 0:
        return float("nan")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(array_stats.ess(x, chain_axis=0, draw_axis=1, method="bulk"))


def rhat_limit(n_chains: int, n_kept: int) -> float:
    """The R-hat above which chains are judged not converged: ``RHAT_THRESHOLD``,
    raised for short runs to four standard deviations of the split R-hat of
    independent draws, ``1 + 2 sqrt(2 / (m - 1)) / h`` with ``m = 2 n_chains``
    half-chains of ``h`` draws (so 30 draws on 2 chains are not flagged by noise)."""
    half = max(n_kept // 2, 1)
    return max(RHAT_THRESHOLD, 1.0 + 2.0 * math.sqrt(2.0 / (2 * n_chains - 1)) / half)


def draw_diagnostics(stack: np.ndarray) -> dict:
    """ess_bulk, ess_tail and rank-normalised R-hat of (n_rows, C, S) draws;
    one chain is split in two halves.  NaN where undefined."""
    from arviz_stats.base import array_stats

    n_rows, n_chains, n_draws = stack.shape
    arr = stack
    if n_chains == 1 and n_draws >= 8:
        half = n_draws // 2
        arr = np.stack([stack[:, 0, :half], stack[:, 0, half : 2 * half]], axis=1)
    out = {"ess_bulk": np.full(n_rows, np.nan), "ess_tail": np.full(n_rows, np.nan)}
    out["r_hat"] = np.full(n_rows, np.nan)
    if n_draws < 4:
        return out
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        for i in range(n_rows):
            row = stack[i]
            if not np.isfinite(row).all() or np.ptp(row) == 0:
                continue
            out["ess_bulk"][i] = array_stats.ess(row, chain_axis=0, draw_axis=1, method="bulk")
            out["ess_tail"][i] = array_stats.ess(
                row, chain_axis=0, draw_axis=1, method="tail", prob=0.05
            )
            if arr.shape[1] >= 2:
                out["r_hat"][i] = array_stats.rhat(arr[i], chain_axis=0, draw_axis=1)
    return out
