"""EM's floor: never return a fit worse than the one-component fit.

A mixture of ``K`` components contains the one-component fit: ``K`` copies
of it, each of weight ``1 / K``, have exactly its likelihood.  EM climbs from
its starts, and from a poor start on data without cluster structure (points
on a line in 10-D, say) it can settle at a local maximum below that level.
:func:`one_component_floor` computes the one-component fit (closed form: the
weighted mean and covariance, with the fit's own regularisation) and, when
the best run ended below it, returns those ``K`` copies instead, with a
message that says so.  The copies are a fixed point of EM (every
responsibility is ``1 / K``), so the returned fit is converged.

Reference: Dempster, Laird & Rubin (1977) (EM never decreases the
likelihood, so a run cannot fall below its start, but it can start below
the one-component level).
"""

from __future__ import annotations

import numpy as np

from . import _em_core as core
from ._data import Data

__all__ = ["one_component_floor"]


def _copies(structure, p1: core.Params, k: int, d: int) -> core.Params:
    """``k`` copies of the one-component parameters ``p1`` (weights ``1 / k``);
    a shared part (no component axis in ``structure.shape``) is kept once."""
    shared = tuple(structure.shape(k, d)) == tuple(structure.shape(1, d))

    def rep(a):
        return a if shared else np.repeat(a, k, axis=0)

    return core.Params(
        np.full(k, 1.0 / k), np.repeat(p1.means, k, axis=0), rep(p1.covariances), rep(p1.prec_chol)
    )


def _one_component(structure, data, n: int, d: int, ctx: core.Context) -> core.Params:
    """The one-component fit: in memory from the rows' statistics about their
    own mean (two passes); for a chunked source from one pass about the
    standardised origin, the data's weighted centre (all responsibilities are
    1 whatever the component).  Either way missing cells sit at their feature's
    observed mean (``Data.filled``)."""
    if isinstance(data, Data):
        stats = core.resp_stats(data, np.ones((n, 1)), ctx, structure.diagonal)
        return core.m_step(structure, stats, stats.shift, ctx)[0]
    covs, prec_chol, _ = structure.factorise(structure.from_full(np.eye(d)[None]))
    unit = core.Params(np.ones(1), np.zeros((1, d)), covs, prec_chol)
    # the rows with missing cells at their observed means, as resp_stats reads them
    stats = data.filled_e_step(core.components(structure, unit), structure.diagonal)
    return core.m_step(structure, stats, unit.means, ctx)[0]


def one_component_floor(config: core.Config, data, result: core.Fit) -> core.Fit:
    """``result``, or, if it converged to a log-likelihood below the
    one-component fit's, ``K`` copies of the one-component fit, with a message added to
    ``result.messages`` (published as a DegenerateDataWarning).

    Parameters
    ----------
    config : Config
    data : Data
        The training data the fit saw (standardised).
    result : Fit
        The best of the fit's runs.
    """
    k = config.n_components
    best = result.best
    if k == 1 or not best.converged:
        # a run stopped by max_iter is the iterate the caller asked for
        return result
    structure = config.structure
    n, d, total = core.sizes(data)
    p1 = _one_component(structure, data, n, d, result.ctx)
    floor = core.run(config._replace(max_iter=0), data, _copies(structure, p1, k, d), result.ctx)
    # the copies' likelihood equals the one-component fit's up to rounding in
    # the log-sum-exp over K equal terms: compare beyond that rounding
    slack = 1e-12 * max(abs(floor.log_likelihood), 1.0)
    if not (best.log_likelihood < floor.log_likelihood - slack):
        return result
    floor.lower_bounds = [floor.log_likelihood / total]
    floor.converged = True
    floor.collapsed = np.zeros(0, dtype=np.int64)
    message = (
        f"EM with n_components={k} ended at a log-likelihood {best.log_likelihood / total:.6g} "
        f"per unit weight, below the one-component fit's {floor.log_likelihood / total:.6g}; "
        f"returned the one-component fit as {k} identical components of weight 1/{k} instead "
        "(the data show no structure these starts could find: compare numbers of components "
        "with select_model, or try a larger n_init)"
    )
    return result._replace(best=floor, messages=[*result.messages, message])
