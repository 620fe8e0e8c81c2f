"""Merge and delete moves for variational Bayes: a better optimum of the same ELBO.

Coordinate ascent (:func:`bayesmix._vb_core.cavi`) stops at the first local
optimum it meets.  Started from ``K`` pieces of a real table it keeps every
piece: splitting a cluster in two is a local optimum, because moving one row at
a time from one half to the other lowers the ELBO before the emptied half can
give its prior cost back.  The moves here jump between such optima (Ueda et al.
2000; Hughes & Sudderth 2013, the memoized merges and deletes of bnpy):

*merge* ``(j, k)``
    every row's responsibility for ``k`` is added to ``j``; ``k`` empties.
*delete* ``j``
    every row's responsibility for ``j`` is given to the other components in
    proportion to their expected densities (an E-step without ``j``).

A move proposes responsibilities ``r'``; the variational posterior ``q'``
optimal for them follows by the conjugate update, and the candidate is scored
by the exact ``ELBO(r', q')`` -- entropy, expected complete log-likelihood and
every KL term, no approximation.  The best candidate is accepted only when
this exceeds the current ``ELBO(q)`` (with optimal responsibilities); coordinate
ascent then runs from ``r'`` to convergence, which can only raise it further.
So every accepted move increases the ELBO, the final fit is never worse than
the fit without moves, and moves stop when no candidate improves it.

With missing cells the statistics of a merge are not the sums of the current
ones (each component holds its own conditional moments of the holes), so
:func:`refine_by_refit` scores a few candidates per round by coordinate ascent
run from each instead.

The statistics of a merge are sums of the current ones (moved to a common
centre), so scoring every pair costs no pass over the data; a delete costs
one E-step.  For a Dirichlet process the candidate's components are put in
decreasing order of expected count before scoring (the stick-breaking prior
favours large early sticks; relabelling is part of the optimisation).
Learned base-measure hyperparameters (:mod:`bayesmix._vb_hyper`) keep the
current fit's ``q(b) q(kappa0)`` in every candidate, which is still a member
of the variational family, so the score is still an exact ELBO; coordinate
ascent after the move updates them.

References
----------
Ueda, Nakano, Ghahramani & Hinton (2000), "SMEM algorithm for mixture
models", Neural Computation 12, 2109-2128.
Hughes & Sudderth (2013), "Memoized online variational inference for
Dirichlet process mixture models", NeurIPS 26.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import NamedTuple

import numpy as np

from . import _vb_core
from ._kernels import MixtureStats

__all__ = [
    "InMemoryRows",
    "Move",
    "delete_statistics",
    "entropy",
    "merge_pairs",
    "optimal_resp",
    "refine",
    "refine_by_refit",
    "refine_rows",
]

# A move must raise the ELBO by more than this, relative to the ELBO's size:
# gains below it are rounding, and accepting them could cycle.
_REL_GAIN = 1e-9


class Move(NamedTuple):
    """An accepted move: ``kind`` ("merge" or "delete"), the components it
    touched (indices before the move) and the ELBO before and after."""

    kind: str
    components: tuple
    elbo_before: float
    elbo_after: float


# Responsibilities below this are left out of entropies: each such term
# -r log r is positive, so leaving it out gives a lower bound, short of the
# truth by at most 4e-14 per row.  (It also keeps subnormal numbers, which
# underflowing responsibilities are full of, out of the arithmetic: they are
# slow.)
_TINY = 1e-15


def _xlogx(v):
    """``v log v`` elementwise, 0 where ``v < _TINY``."""
    out = np.zeros_like(v)
    big = v >= _TINY
    out[big] = v[big] * np.log(v[big])
    return out


def entropy(resp, w) -> float:
    """A lower bound on ``-sum_i w_i sum_k r_ik log r_ik``, exact up to the
    responsibilities below ``_TINY``."""
    return float(-np.dot(w, _xlogx(resp).sum(axis=1)))


def optimal_resp(Xt, w, post, stats):
    """The E-step under ``post``: responsibilities (n_samples, K) and
    ``ELBO(q) = sum_i w_i lse_i - KL(q)``; ``stats`` ends holding their
    statistics around ``post.means``."""
    resp = np.empty((Xt.shape[1], post.means.shape[0]))
    stats.e_step(Xt, w, post.means, post.prec, post.log_const, resp=resp)
    return resp, stats.log_likelihood - post.kl


def _ordered(nk, dp: bool):
    """The order of a candidate's components: by decreasing count for a DP."""
    if not dp:
        return np.arange(nk.size)
    return np.argsort(-nk, kind="stable")


class _Scorer:
    """``ELBO(r, q(r))`` of candidate responsibilities from their statistics,
    ``q(r)`` being the conjugate update (optimal for ``r``).

    It splits as ``H(r) + sum_k C_k + W(counts)``: the entropy, one term per
    component that depends on that component's statistics alone (its energy
    without the weights, minus the KL of its ``q(mu_k, Sigma_k)``; an empty
    component's is 0) and the weights' part (:func:`_vb_core.weight_elbo`).  So
    a merge rescores two components, not all K.  A shared (tied) covariance
    couples every component: then each candidate is scored whole.
    """

    def __init__(self, post, prior, structure, dp_order: bool):
        self.post, self.prior, self.structure = post, prior, structure
        self.dp_order = dp_order
        self.separable = not structure.shared

    def components(self, nk, s1, s2, shift):
        """``C_k`` (K,) of components with statistics ``nk, s1, s2`` around ``shift``."""
        stats = SimpleNamespace(nk=nk, s1=s1, s2=s2)
        prior, structure = self.prior, self.structure
        cand = _vb_core.expect(
            _vb_core.update(stats, shift, prior, structure, self.post), prior, structure
        )
        return _vb_core.energy_terms(cand, stats, shift) - nk * cand.e_log_pi - cand.kl_components

    def weights(self, nk) -> float:
        """The weights' part ``W(counts)``, plus the constant part of learned
        base-measure hyperparameters (``q(b) q(kappa0)`` stay those of the
        current fit in every candidate): each separable score adds it once."""
        order = _ordered(nk, self.dp_order)
        return _vb_core.weight_elbo(nk[order], self.prior, self.post) - self.post.kl_hyper

    def whole(self, nk, s1, s2, shift, ent) -> float:
        """The candidate's ELBO scored whole (any covariance type)."""
        order = _ordered(nk, self.dp_order)
        stats = SimpleNamespace(nk=nk[order], s1=s1[order], s2=s2[order])
        prior, structure = self.prior, self.structure
        cand = _vb_core.expect(
            _vb_core.update(stats, shift[order], prior, structure, self.post), prior, structure
        )
        return ent + _vb_core.energy(cand, stats, shift[order]) - cand.kl


def _merged_stats(stats, shift, j, k):
    """Statistics ``(nk, s1, s2)`` with component ``k`` added to ``j`` (around
    ``shift[j]``) and ``k`` emptied; ``shift`` is unchanged."""
    nk, s1, s2 = stats.nk.copy(), stats.s1.copy(), stats.s2.copy()
    delta = shift[k] - shift[j]
    # sum r (x - a)(x - a)^T = sum r (x - b)(x - b)^T + d s1^T + s1 d^T + n d d^T, d = b - a
    if stats.diagonal:
        s2[j] += s2[k] + 2.0 * delta * s1[k] + nk[k] * delta * delta
    else:
        outer = np.outer(delta, s1[k])
        s2[j] += s2[k] + outer + outer.T + nk[k] * np.outer(delta, delta)
    s1[j] += s1[k] + nk[k] * delta
    nk[j] += nk[k]
    nk[k] = 0.0
    s1[k] = 0.0
    s2[k] = 0.0
    return nk, s1, s2


def _entropy_changes(resp, w, pairs) -> np.ndarray:
    """A lower bound (n_pairs,) on ``H(r') - H(r)`` when column ``k`` of
    ``resp`` is added to column ``j``, for each ``(j, k)`` in ``pairs``.

    Merging lowers a row's entropy by ``s log s - a log a - b log b`` with
    ``s = a + b``, which lies in ``[0, s log 2]``: rows with ``a, b < _TINY``
    are charged the bound ``2 _TINY log 2`` instead of being computed, so the
    result is never above the truth.
    """
    cols = np.ascontiguousarray(resp.T)
    big = cols >= _TINY
    cols[~big] = 0.0  # no subnormal operands below
    own = _xlogx(cols)
    total = float(w.sum())
    out = np.empty(len(pairs))
    for p, (j, k) in enumerate(pairs):
        rows = np.flatnonzero(big[j] | big[k])
        wr = w[rows]
        # np.dot, not @: matmul of two long vectors can be far slower
        exact = np.dot(wr, own[j, rows] + own[k, rows] - _xlogx(cols[j, rows] + cols[k, rows]))
        out[p] = exact - 2.0 * _TINY * np.log(2.0) * max(total - wr.sum(), 0.0)
    return out


def merge_pairs(nk, min_count):
    """The candidate merges ``(keep, gone)`` among the components of expected
    count at least ``min_count``: the larger absorbs the smaller (keeps its
    centre)."""
    used = np.flatnonzero(nk >= min_count)
    return [(j, k) if nk[j] >= nk[k] else (k, j) for a, j in enumerate(used) for k in used[a + 1 :]]


def _merges(rows, ent, stats, scorer, reference, min_count):
    """Greedy merges of disjoint pairs, each accepted only when it raises
    ``ELBO(r, q(r))`` above ``reference``: ``(elbo, [(keep, gone), ...])`` (an
    empty list when none does); ``rows.entropy_changes`` gives each pair's
    change of the entropy."""
    nk = stats.nk
    shift = scorer.post.means
    pairs = merge_pairs(nk, min_count)
    if not pairs:
        return reference, []
    d_ent = rows.entropy_changes(pairs)
    merged = [_merged_stats(stats, shift, j, k) for j, k in pairs]
    if not scorer.separable:
        values = [scorer.whole(*m, shift, ent + de) for m, de in zip(merged, d_ent, strict=True)]
        best = int(np.argmax(values))
        if not values[best] > reference:
            return reference, []
        keep, gone = pairs[best]
        return values[best], [(int(keep), int(gone))]

    comp = scorer.components(stats.nk, stats.s1, stats.s2, shift)
    keeps = np.array([j for j, _ in pairs])
    pair_comp = scorer.components(
        np.array([m[0][j] for m, j in zip(merged, keeps, strict=True)]),
        np.array([m[1][j] for m, j in zip(merged, keeps, strict=True)]),
        np.array([m[2][j] for m, j in zip(merged, keeps, strict=True)]),
        shift[keeps],
    )
    counts = nk.copy()
    value = reference
    # rank by the gain each pair would bring alone, then accept greedily
    alone = [
        ent + de + comp.sum() - comp[j] - comp[k] + pc + scorer.weights(m[0])
        for (j, k), de, pc, m in zip(pairs, d_ent, pair_comp, merged, strict=True)
    ]
    accepted, touched = [], set()
    for p in np.argsort(alone)[::-1]:
        j, k = pairs[p]
        if j in touched or k in touched or not alone[p] > value:
            continue
        counts_p = counts.copy()
        counts_p[j] += counts_p[k]
        counts_p[k] = 0.0
        comp_p = comp.copy()
        comp_p[j], comp_p[k] = pair_comp[p], 0.0
        ent_p = ent + d_ent[p]
        cand = ent_p + comp_p.sum() + scorer.weights(counts_p)
        if cand > value:
            value, counts, comp, ent = cand, counts_p, comp_p, ent_p
            accepted.append((int(j), int(k)))
            touched.update((j, k))
    return value, accepted


def _best_delete(candidates, scorer, reference):
    """The best deletion, if it raises ``ELBO(r, q(r))`` above ``reference``:
    ``(elbo, start, j)`` or None.  ``candidates`` yields, per component ``j``
    to delete, ``(j, nk, s1, s2, entropy, start)``: the statistics (around the
    current means) and entropy of the E-step without ``j``, and what
    coordinate ascent restarts from."""
    post = scorer.post
    best = None
    for j, d_nk, d_s1, d_s2, ent, start in candidates:
        if scorer.separable:
            comp = scorer.components(d_nk, d_s1, d_s2, post.means)
            value = ent + comp.sum() + scorer.weights(d_nk)
        else:
            value = scorer.whole(d_nk, d_s1, d_s2, post.means, ent)
        if value > reference and (best is None or value > best[0]):
            best = (value, start, int(j))
    return best


def delete_statistics(stats, Xt, w, post, j, resp):
    """The E-step under ``post`` without component ``j`` (``stats`` a
    :class:`~bayesmix._kernels.MixtureStats` workspace for ``Xt``, ``w``):
    ``(nk, s1, s2, entropy)``, ``resp`` (n_samples, K) filled with its
    responsibilities."""
    log_const = post.log_const.copy()
    log_const[j] = -np.inf  # an E-step in which j takes no row
    stats.e_step(Xt, w, post.means, post.prec, log_const, resp=resp)
    resp[:, j] = 0.0
    d_nk, d_s1, d_s2 = stats.nk.copy(), stats.s1.copy(), stats.s2.copy()
    d_nk[j], d_s1[j], d_s2[j] = 0.0, 0.0, 0.0
    return d_nk, d_s1, d_s2, entropy(resp, w)


class InMemoryRows:
    """What the moves read of rows held in memory: every row's
    responsibilities; coordinate ascent restarts from responsibilities."""

    def __init__(self, Xt, w, diagonal, n_components, cavi_from):
        self.Xt, self.w, self.diagonal = Xt, w, diagonal
        self.total = float(w.sum())
        self.stats = MixtureStats(Xt.shape[1], n_components, Xt.shape[0], diagonal)
        self.cavi_from = cavi_from  # (resp, hyper) -> Run
        self.resp = None

    def survey(self, post, nk):
        """``(statistics, ELBO(q), entropy)`` of the E-step under ``post``."""
        self.resp, current = optimal_resp(self.Xt, self.w, post, self.stats)
        return self.stats, current, entropy(self.resp, self.w)

    def entropy_changes(self, pairs):
        return _entropy_changes(self.resp, self.w, pairs)

    def deletes(self, post, used):
        work = MixtureStats(self.Xt.shape[1], post.means.shape[0], self.Xt.shape[0], self.diagonal)
        for j in used:
            resp = np.empty((self.Xt.shape[1], post.means.shape[0]))
            yield (j, *delete_statistics(work, self.Xt, self.w, post, j, resp), resp)

    def merged_start(self, post, stats, pairs):
        new = self.resp.copy()
        for j, k in pairs:
            new[:, j] += new[:, k]
            new[:, k] = 0.0
        return new


def refine(Xt, w, run, prior, structure, *, max_iter, tol, reorder=True, max_moves=None):
    """Improve a converged run by merge and delete moves (module docstring).

    Parameters
    ----------
    Xt : (n_features, n_samples) standardised data
    w : (n_samples,) frequency weights
    run : :class:`bayesmix._vb_core.Run`
        The result of coordinate ascent; returned unchanged unless it
        converged.
    prior, structure : the resolved prior and covariance structure
    max_iter, tol : coordinate ascent after each round of accepted moves
    reorder : bool
        Relabel DP sticks by size (in coordinate ascent and in candidates).
    max_moves : int, optional
        At most this many rounds of accepted moves (default: ``K``).

    Returns
    -------
    run : Run
        The refined run: its ``lower_bounds`` are the input's followed by the
        ELBO after each round of accepted moves (non-decreasing); ``converged``
        is that of the last coordinate ascent.
    moves : list of Move
    """

    def cavi_from(resp, hyper):
        return _vb_core.cavi(
            Xt, w, resp, prior, structure, max_iter, tol, reorder=reorder, hyper=hyper
        )

    n_components = run.post.means.shape[0]
    rows = InMemoryRows(Xt, w, structure.diagonal, n_components, cavi_from)
    return refine_rows(rows, run, prior, structure, reorder=reorder, max_moves=max_moves)


def refine_rows(rows, run, prior, structure, *, reorder=True, max_moves=None):
    """:func:`refine` over any view of the data: ``rows`` has ``total`` (the
    total weight), ``survey(post, nk)``, ``entropy_changes(pairs)``,
    ``deletes(post, used)``, ``merged_start(post, stats, pairs)`` and
    ``cavi_from(start, hyper)`` (:class:`InMemoryRows`;
    :class:`bayesmix._vb_dask.ChunkRows` for Dask chunks)."""
    n_components = run.post.means.shape[0]
    # moves start from an optimum: an unconverged run (max_iter reached) is
    # returned as it is, with its ConvergenceWarning
    if n_components < 2 or not run.converged or not np.isfinite(run.elbo):
        return run, []
    max_moves = n_components if max_moves is None else max_moves
    # a component below this expected count is already empty: nothing to move
    min_count = 1e-6 * rows.total
    lower_bounds = list(run.lower_bounds)
    moves = []
    for _ in range(max_moves):
        stats, current, ent = rows.survey(run.post, run.nk)
        scorer = _Scorer(run.post, prior, structure, prior.dp and reorder)
        # ELBO(r, q(r)) >= ELBO(q) = current: a move must beat the better of the two
        if scorer.separable:
            comp = scorer.components(stats.nk, stats.s1, stats.s2, run.post.means)
            here = ent + comp.sum() + scorer.weights(stats.nk)
        else:
            here = scorer.whole(stats.nk, stats.s1, stats.s2, run.post.means, ent)
        reference = max(here, current)
        reference += _REL_GAIN * max(abs(reference), 1.0)
        _, merged = _merges(rows, ent, stats, scorer, reference, min_count)
        found = [Move("merge", pair, float(current), float("nan")) for pair in merged]
        if found:
            start = rows.merged_start(run.post, stats, merged)
        else:
            used = np.flatnonzero(stats.nk >= min_count)
            if used.size < 2:
                break
            deleted = _best_delete(rows.deletes(run.post, used), scorer, reference)
            if deleted is None:
                break
            _, start, j = deleted
            found = [Move("delete", (j,), float(current), float("nan"))]
        new = rows.cavi_from(start, run.post if prior.learned else None)
        if not new.elbo > current:  # cannot happen: coordinate ascent keeps the gain
            break
        moves.extend(Move(m.kind, m.components, m.elbo_before, float(new.elbo)) for m in found)
        lower_bounds.append(new.elbo)
        run = _vb_core.Run(new.post, lower_bounds, new.elbo, new.nk, new.converged)
    return run, moves


# refine_by_refit: merge candidates tried per round (best-ranked first), then one delete
REFIT_MERGES = 3


def refine_by_refit(Xt, w, run, stats, cavi_from, max_moves=None):
    """Merge and delete moves for data whose candidates cannot be scored from
    summed statistics (missing cells: each component holds its own conditional
    moments of the holes), each candidate scored by running coordinate ascent
    from its responsibilities to convergence and kept only when that ELBO
    beats the current one.  Every accepted move raises the ELBO, as in
    :func:`refine`; a round tries the ``REFIT_MERGES`` merges of the
    components that share most rows (overlap ``sum_i w_i r_ij r_ik /
    sqrt(N_j N_k)``), then the delete of the smallest component, and stops at
    the first gain; the moves stop when a round gains nothing.

    Parameters
    ----------
    Xt, w : the standardised data and weights
    run : :class:`bayesmix._vb_core.Run`, converged
    stats : the E-step workspace (``e_step`` with ``resp``), e.g.
        :class:`bayesmix._vb_missing.PatternStats`
    cavi_from : callable ``resp -> Run``, coordinate ascent from responsibilities
    max_moves : int, optional, at most this many accepted moves (default ``K``)

    Returns
    -------
    run, moves : as :func:`refine`
    """
    n_components = run.post.means.shape[0]
    if n_components < 2 or not run.converged or not np.isfinite(run.elbo):
        return run, []
    max_moves = n_components if max_moves is None else max_moves
    min_count = 1e-6 * float(w.sum())
    lower_bounds = list(run.lower_bounds)
    moves = []
    for _ in range(max_moves):
        post = run.post
        resp = np.empty((Xt.shape[1], n_components))
        stats.e_step(Xt, w, post.means, post.prec, post.log_const, resp)
        nk = w @ resp
        live = np.flatnonzero(nk > min_count)
        if live.size < 2:
            break
        wr = resp[:, live] * w[:, None]
        overlap = (wr.T @ resp[:, live]) / np.sqrt(np.outer(nk[live], nk[live]))
        pairs = [(overlap[a, b], live[a], live[b]) for a in range(live.size) for b in range(a)]
        pairs.sort(key=lambda t: -t[0])
        candidates = []
        for _, j, k in pairs[:REFIT_MERGES]:
            merged = resp.copy()
            merged[:, j] += merged[:, k]
            merged[:, k] = 0.0
            candidates.append(("merge", (int(j), int(k)), merged))
        smallest = int(live[np.argmin(nk[live])])
        without = post.log_const.copy()
        without[smallest] = without.min() - 1e4  # an E-step without it
        rest = np.empty_like(resp)
        stats.e_step(Xt, w, post.means, post.prec, without, rest)
        rest[:, smallest] = 0.0
        candidates.append(("delete", (smallest,), rest))
        threshold = run.elbo + _REL_GAIN * max(abs(run.elbo), 1.0)
        for kind, components, new_resp in candidates:
            new = cavi_from(new_resp)
            if new.converged and new.elbo > threshold:
                moves.append(Move(kind, components, float(run.elbo), float(new.elbo)))
                lower_bounds.append(new.elbo)
                run = _vb_core.Run(new.post, lower_bounds, new.elbo, new.nk, new.converged)
                break
        else:
            break
    return run, moves
