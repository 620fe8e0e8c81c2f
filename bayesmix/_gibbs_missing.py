"""Missing values (NaN cells, missing at random) in the collapsed Gibbs sampler.

Scheme: data augmentation with a marginalised allocation
---------------------------------------------------------
The missing cells of the training rows are latent variables, held in the
sampler's rows (the *completed* rows).  Every iteration first updates, for
each row with holes, the block ``(c_i, x_im)`` jointly
(:func:`~bayesmix._kernels._gibbs_missing.missing_sweep`): the cluster from
the collapsed Student-t predictive *marginalised over the row's missing
features* (its observed sub-vector and sub-matrix), then the missing cells
from the conditional Student-t given the observed ones and the cluster's
other rows.  The rest of the iteration is the complete-data transition on the
completed rows (hyperparameters, split-merge, the Gibbs sweep): each of those
is a valid update of the joint posterior ``p(c, x_mis | x_obs)`` given the
current draws of ``x_mis``, so the composition leaves it invariant, and its
partition margin is the posterior given the observed cells alone.

Why this scheme:

* plain data augmentation (draw ``x_mis`` given the partition, then the
  partition given the completed rows) mixes worse: a row's drawn cells tie it
  to its current cluster, so it moves only when its observed cells alone
  would have to overcome that pull;
* marginalising the missing cells everywhere (no draws) keeps every move
  exact but breaks the conjugate cluster statistics: a cluster whose rows
  observe different features has no closed-form sufficient statistic, so each
  predictive would cost a pass over the cluster's rows;
* the joint block keeps the cluster statistics conjugate (completed rows) and
  removes the pull of the row's own drawn cells from its allocation.

Complete data never come here (``Model.missing is None``): their draws are
bit for bit those of a sampler without this module.

The imputed cells of every kept draw are stored (standardised units, the
sampler's rows); a kept draw's cluster parameters are drawn given its
partition and its completed rows, and :meth:`DirichletProcessMixture.impute`
reads them.

References
----------
Tanner & Wong (1987), JASA 82, 528-540; Neal (2000), JCGS 9, 249-265; Little
& Rubin (2002), *Statistical analysis with missing data*, ch. 10; Murphy
(2007), *Conjugate Bayesian analysis of the Gaussian distribution*.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._components import log_det_prec, student_t_log_norm
from ._data import Patterns
from ._kernels import log_prob_pass
from ._kernels._gibbs import prior_log_predictive
from ._kernels._gibbs_missing import missing_sweep

__all__ = [
    "Holes",
    "fill_start",
    "holes_of",
    "impute",
    "imputed_cells",
    "marginal_pass",
    "predictive_impute",
    "update_missing",
]


class Holes(NamedTuple):
    """Where the latent cells of the sampler's rows are."""

    rows: np.ndarray  # (n_holes,) int64, rows with at least one missing cell
    cells: np.ndarray  # (n_cells,) int64, flat indices of the missing cells in X.ravel()


def fill_start(X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``X`` (n, D, data units) with each missing cell at its feature's observed
    mean (the chains' starting completion, from which the prior is resolved:
    means and ranges of the observed cells), and the mask of missing cells
    (None when there are none)."""
    mask = np.isnan(X)
    if not mask.any():
        return X, None
    filled = X.copy()
    col_mean = np.nanmean(X, axis=0)
    filled[mask] = np.broadcast_to(col_mean, X.shape)[mask]
    return filled, mask


def holes_of(mask: np.ndarray) -> Holes:
    """The :class:`Holes` of a missing-cell mask (n, D)."""
    rows = np.flatnonzero(mask.any(axis=1)).astype(np.int64)
    return Holes(rows, np.flatnonzero(mask.ravel()).astype(np.int64))


def update_missing(
    X, mult, labels, n_clusters, holes: Holes, mask, prior, log_alpha, seed, log_prior_pred, sq_dist
) -> int:
    """One :func:`missing_sweep`, then the per-row arrays that depend on the
    completed rows refreshed for the rows with holes: ``log_prior_pred`` (n,)
    under ``prior`` (the kernels' tuple) and, when given, ``sq_dist`` (n,) as a
    callable's output (``sq_dist(rows_X) -> (n_rows,)``, see ``_gibbs_hyper``:
    ``(x - m0)^T A^-1 (x - m0)``).  Returns the number of clusters."""
    K = missing_sweep(X, mult, labels, n_clusters, holes.rows, mask, prior, log_alpha, seed)
    if K < 0:
        return K
    rows_X = np.ascontiguousarray(X[holes.rows])
    out = np.empty(holes.rows.size)
    prior_log_predictive(rows_X, prior, out)
    log_prior_pred[holes.rows] = out
    if sq_dist is not None:
        target, fn = sq_dist
        target[holes.rows] = fn(rows_X)
    return K


# ------------------------------------------------------------------ predictions
def _marginal(comps, obs):
    """Student-t components ``(means, prec, log_const, dof)`` marginalised onto
    the features ``obs``; also their scale matrices (K, D, D)."""
    means, prec, log_const, dof = comps
    d = means.shape[1]
    inv = np.linalg.inv(prec)  # prec = U^-1, scale = U^T U
    scale = np.swapaxes(inv, 1, 2) @ inv
    sub = scale[:, obs[:, None], obs[None, :]]
    L = np.linalg.cholesky(sub)
    prec_o = np.swapaxes(np.linalg.inv(L), 1, 2)  # upper, prec_o prec_o^T = sub^-1
    p = obs.size
    lc = log_const - student_t_log_norm(dof, d) - log_det_prec(prec)
    lc = lc + student_t_log_norm(dof, p) + log_det_prec(prec_o)
    marg = (np.ascontiguousarray(means[:, obs]), np.ascontiguousarray(prec_o), lc, dof)
    return marg, scale


def marginal_pass(chunks, Xt: np.ndarray, patterns: Patterns, want_resp: bool = False):
    """Log of the posterior-mean predictive density of each row's observed
    features, standardised units, over the predictive chunks (iterable of
    ``(means, prec, log_const, dof)``); ``Xt`` (D, n) feature-major.

    Returns ``row_lse`` (n,) and, with ``want_resp``, a list per chunk of
    ``(chunk_lse (n,), resp (n, K_chunk))``."""
    n = Xt.shape[1]
    total = np.full(n, -np.inf)
    per_chunk = []
    for comps in chunks:
        lse = np.empty(n)
        resp = np.empty((n, comps[0].shape[0])) if want_resp else None
        for obs, _, rows in patterns.groups:
            marg, _ = _marginal(comps, obs)
            sub = np.ascontiguousarray(Xt[np.ix_(obs, rows)])
            r_lse = np.empty(rows.size)
            r_resp = np.empty((rows.size, comps[0].shape[0])) if want_resp else None
            log_prob_pass(sub, marg[0], marg[1], marg[2], row_lse=r_lse, resp=r_resp, dof=marg[3])
            lse[rows] = r_lse
            if want_resp:
                resp[rows] = r_resp
        total = np.logaddexp(total, lse)
        if want_resp:
            per_chunk.append((comps, lse, resp))
    return total, per_chunk


def _conditionals(comps, scale, obs, mis, x_obs):
    """Per component and row: the conditional Student-t of ``x_m`` given
    ``x_o``: location (K, n_p, m), scale factor (K, n_p), shape matrix factor
    (K, m, m) and dof (K,)."""
    means, _, _, dof = comps
    S_oo = scale[:, obs[:, None], obs[None, :]]
    S_mo = scale[:, mis[:, None], obs[None, :]]
    S_mm = scale[:, mis[:, None], mis[None, :]]
    B = S_mo @ np.linalg.inv(S_oo)  # (K, m, p)
    delta = x_obs[None, :, :] - means[:, None, obs]  # (K, n_p, p)
    loc = means[:, None, mis] + delta @ np.swapaxes(B, 1, 2)
    q = np.einsum("knp,kpq,knq->kn", delta, np.linalg.inv(S_oo), delta)
    p = obs.size
    factor = (dof[:, None] + q) / (dof[:, None] + p)
    schur = S_mm - B @ np.swapaxes(S_mo, 1, 2)
    vals, vecs = np.linalg.eigh(schur)
    root = vecs * np.sqrt(np.maximum(vals, 0.0))[:, None, :]
    return loc, factor, root, dof + p


def predictive_impute(chunks, Xt, patterns: Patterns, n_draws, rng):
    """Missing cells of the rows ``Xt`` (D, n, standardised) under the posterior
    predictive mixture (chunks of Student-t components, each kept draw's
    predictive weighted equally).

    ``n_draws=None``: the conditional expectation ``E[x_m | x_o]``, a (D, n)
    array.  Otherwise (n_draws, D, n): per imputation and row, a component of
    the pooled mixture drawn with probability proportional to its weight times
    its marginal density at ``x_o``, then ``x_m`` from its conditional
    Student-t (so over the posterior draws and the conditional distribution).
    """
    total, per_chunk = marginal_pass(chunks, Xt, patterns, want_resp=True)
    d, n = Xt.shape
    if n_draws is None:
        out = Xt.copy()
        for comps, lse, resp in per_chunk:
            share = np.exp(lse - total)  # this chunk's part of the mixture
            for obs, mis, rows in patterns.groups:
                if mis.size == 0:
                    continue
                _, scale = _marginal(comps, obs)
                x_obs = Xt[np.ix_(obs, rows)].T
                loc = _conditionals(comps, scale, obs, mis, x_obs)[0]
                w = resp[rows] * share[rows, None]  # (n_p, K)
                contrib = np.einsum("nk,knm->mn", w, loc)
                block = out[np.ix_(mis, rows)]
                first = np.isnan(block)
                block[first] = 0.0
                out[np.ix_(mis, rows)] = block + contrib
        return out
    out = np.broadcast_to(Xt, (n_draws, d, n)).copy()
    u_chunk = rng.random((n_draws, n))
    acc = np.zeros(n)
    chosen = np.full((n_draws, n), -1)
    for j, (_, lse, _) in enumerate(per_chunk):
        acc = acc + np.exp(lse - total)
        chosen[(chosen < 0) & (u_chunk < acc[None, :])] = j
    chosen[chosen < 0] = len(per_chunk) - 1
    for j, (comps, _, resp) in enumerate(per_chunk):
        for obs, mis, rows in patterns.groups:
            if mis.size == 0:
                continue
            sel = chosen[:, rows] == j  # (n_draws, n_p)
            if not sel.any():
                continue
            _, scale = _marginal(comps, obs)
            x_obs = Xt[np.ix_(obs, rows)].T
            loc, factor, root, dof_c = _conditionals(comps, scale, obs, mis, x_obs)
            cum = np.cumsum(resp[rows], axis=1)
            draw_idx, row_idx = np.nonzero(sel)
            u = rng.random(draw_idx.size) * cum[row_idx, -1]
            k = np.minimum((u[:, None] >= cum[row_idx]).sum(axis=1), cum.shape[1] - 1)
            z = rng.standard_normal((draw_idx.size, mis.size))
            g = rng.chisquare(dof_c[k])
            mult = np.sqrt(factor[k, row_idx] * dof_c[k] / g)
            vals = loc[k, row_idx] + mult[:, None] * np.einsum("tmj,tj->tm", root[k], z)
            out[draw_idx[:, None], mis[None, :], rows[row_idx][:, None]] = vals
    return out


def impute(X, n_draws, rng, std, chunks, train=None) -> np.ndarray:
    """``X`` (n, D, data units) with its missing cells filled: for the training
    rows, from the sampler's draws of them; for other rows (and training rows
    of zero weight), from the posterior predictive (:func:`predictive_impute`).

    ``chunks()`` yields the predictive chunks; ``train`` is None or ``(fill_at,
    row_pos, present, (n_chains, n_kept))``: ``fill_at(c, s)`` the sampler's
    rows completed by kept draw ``s`` of chain ``c`` (``(None, None)``: the
    posterior means), ``row_pos`` each present row's first copy.  Returns an
    array like ``X``, or (n_draws, n, D); observed cells as given."""
    missing = np.isnan(X)
    shape = X.shape if n_draws is None else (n_draws, *X.shape)
    out = np.broadcast_to(X, shape).copy()
    todo = missing.any(axis=1)
    if not todo.any():
        return out
    if train is not None:
        fill_at, row_pos, present, (n_chains, n_kept) = train
        if n_draws is None:
            picks = [(None, None)]
        else:  # kept draws spread evenly over all chains (repeated if too few)
            flat = np.arange(n_draws) * (n_chains * n_kept) // n_draws
            picks = list(zip(*np.divmod(flat, n_kept), strict=True))
        for j, (c, s) in enumerate(picks):
            rows = fill_at(c, s)[row_pos] * std.scale + std.center
            tgt = out if n_draws is None else out[j]
            tgt[present] = np.where(missing[present], rows, X[present])
        todo = todo & ~present
        if not todo.any():
            return out
    Xp = X[todo]
    filled = predictive_impute(chunks(), std.transform(Xp), Patterns(Xp), n_draws, rng)
    filled = np.swapaxes(filled, -1, -2) * std.scale + std.center
    miss = missing[todo]
    if n_draws is None:
        out[todo] = np.where(miss, filled, Xp)
    else:
        out[:, todo] = np.where(miss[None], filled, Xp[None])
    return out


def imputed_cells(X_fit, cells, imputed, row_pos, std) -> np.ndarray:
    """The kept draws ``imputed`` (n_chains, n_kept, n_cells; standardised, the
    sampler's rows) of the missing cells of the caller's present rows (their
    first copies), in data units, row-major over those rows' NaN cells."""
    n, d = X_fit.shape
    full = np.full((*imputed.shape[:2], n * d), np.nan)
    full[..., cells] = imputed
    full = full.reshape(*imputed.shape[:2], n, d)[:, :, row_pos]
    mask = np.zeros((n, d), dtype=bool)
    mask.ravel()[cells] = True
    full = full * std.scale + std.center
    return full[:, :, mask[row_pos]]
