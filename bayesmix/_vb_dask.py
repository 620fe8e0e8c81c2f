"""Variational Bayes on Dask arrays: the in-memory coordinate ascent with its
E-step mapped over row chunks.

:class:`~bayesmix.VariationalGaussianMixture` hands a ``dask.array.Array``
(or a ``sample_weight`` given as one) to :func:`prepare`, which reuses EM's
reduction (:func:`bayesmix._dask.prepare`: checks, the standardiser, the
per-feature variances and ranges, and the uniform sample the start is
computed on).  Coordinate ascent (:func:`bayesmix._vb_core.cavi`) then runs
unchanged: it reads the data only through an E-step workspace, and
:class:`ChunkStats` is that workspace for chunks -- each E-step maps the
compiled statistics pass over the chunks and sums the small arrays in a tree
(:meth:`bayesmix._dask.ChunkedData.e_step`), so the data never sit in one
process.  The updates of ``q``, the ELBO, the learned base-measure
hyperparameters (:mod:`bayesmix._vb_hyper`, which read only those sums) and
the relabelling of the sticks are the in-memory ones.

What differs:

* the start: ``init_params`` runs on the sample (all rows of positive weight
  when there are at most :data:`bayesmix._dask.SAMPLE_ROWS`), and the
  sample's statistics are scaled to the total weight, so the first ``q`` is
  as confident as one computed from every row;
* the data-driven prior defaults come from the chunked sums: the per-feature
  ranges and variances of every row, and, only when a default scale matrix is
  needed (``NormalInverseWishart(scale=None)``), one more pass for the
  weighted covariance;
* the merge and delete moves (:mod:`bayesmix._vb_moves`) read the
  responsibilities through :class:`ChunkRows`: each round one pass gives the
  E-step's statistics, its entropy and the entropy change of every candidate
  merge, and, only when no merge is accepted, one more pass the statistics of
  every candidate delete; coordinate ascent restarts from the accepted
  candidate's statistics.  The candidates and their scores are the in-memory
  ones (sums over chunks instead of over rows).

``effective_components_`` and ``missing_information_`` take two more passes.
Predictions on a Dask array are lazy (:func:`bayesmix._dask.log_prob`).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from . import _dask
from ._components import Components
from ._kernels import MixtureStats, log_prob_pass, serial_kernels
from ._validation import as_feature_major
from ._vb_core import predictive_log_prob
from ._vb_moves import _entropy_changes, _merged_stats, delete_statistics, entropy, merge_pairs
from ._vb_uncertainty import missing_information_from_sums

__all__ = ["ChunkRows", "ChunkStats", "DataSummary", "effective", "prepare"]


class DataSummary:
    """What :func:`bayesmix._vb_priors.resolve_priors` reads of chunked data, in
    standardised units: ``lo``, ``hi`` (D,) per-feature range, ``variances``
    (D,) and ``covariance()`` (D, D), computed on first use (one pass)."""

    def __init__(self, data):
        self._data = data
        std = data.std
        lo, hi = data.lo_hi
        self.lo, self.hi = (lo - std.center) / std.scale, (hi - std.center) / std.scale
        self.variances = data.variances
        self._cov = None

    def covariance(self) -> np.ndarray:
        if self._cov is None:
            import dask

            parts = self._data._map(_chunk_cross)
            total, cross = dask.compute(_dask._tree(parts, dask.delayed(_dask._add, pure=True)))[0]
            self._cov = cross / total
        return self._cov

    def proxy_rows(self):
        """``(rows (2 D, D), w (2 D,))`` with exactly the weighted mean 0 and the
        weighted covariance of the data: ``+- sqrt(D lambda_j) v_j`` for the
        eigenpairs of the covariance.  NormalInverseWishart.resolve reads only
        these two moments, so it resolves the chunked data's defaults from them."""
        cov = self.covariance()
        d = cov.shape[0]
        vals, vecs = np.linalg.eigh(0.5 * (cov + cov.T))
        half = (vecs * np.sqrt(d * np.maximum(vals, 0.0))).T  # (D, D), one point per row
        return np.vstack([half, -half]), np.full(2 * d, 1.0 / (2 * d))


def _chunk_cross(x, w, center, scale):
    """``(sum_i w_i, sum_i w_i y_i y_i^T)`` of one chunk's standardised rows."""
    x = np.asarray(x, dtype=np.float64)
    w = _dask._weights(x, w)
    y = (x - center) / scale
    return (float(w.sum()), (y * w[:, None]).T @ y)


class ChunkStats:
    """The E-step workspace of :mod:`bayesmix._vb_core` over a
    :class:`bayesmix._dask.ChunkedData` (the interface of
    :class:`bayesmix._kernels.MixtureStats` that coordinate ascent reads)."""

    def __init__(self, data, diagonal: bool, start=None):
        self.data, self.diagonal = data, diagonal
        self.log_likelihood = 0.0
        self.start = start  # (nk, s1, s2) around 0 to start from, e.g. a move's

    def from_resp(self, Xt, w, resp, shift):
        """Statistics of the sample for its initial responsibilities ``resp``,
        scaled to the total weight (``Xt``, ``w``: the sample's); or the given
        ``start`` statistics (``shift`` must then be 0)."""
        if self.start is not None:
            self.nk, self.s1, self.s2 = (a.copy() for a in self.start)
            return
        st = MixtureStats(Xt.shape[1], resp.shape[1], Xt.shape[0], self.diagonal)
        st.from_resp(Xt, w, resp, shift)
        factor = self.data.total / float(w.sum())
        self.nk, self.s1, self.s2 = st.nk * factor, st.s1 * factor, st.s2 * factor

    def e_step(self, Xt, w, means, prec, log_const, resp=None):
        """One E-step over every chunk (``Xt``, ``w`` are not read: the chunks
        are the data)."""
        st = self.data.e_step(Components(means, prec, log_const), self.diagonal)
        self.nk, self.s1, self.s2 = st.nk, st.s1, st.s2
        self.log_likelihood = st.log_likelihood


def _chunk_survey(x, w, center, scale, means, prec, log_const, diagonal, pairs):
    """One chunk's part of a round of moves: the E-step statistics under the
    components ``(nk, s1, s2)``, ``[log-likelihood, entropy]`` of its
    responsibilities and the entropy change of each merge in ``pairs``."""
    Xt, w = _dask._chunk_standardised(x, w, center, scale)
    k, d = means.shape
    p = 1 if diagonal else d
    if Xt.shape[1] == 0:
        empty = (np.zeros(k), np.zeros((k, d)), np.zeros((k, p, d)))
        return (*empty, np.zeros(2), np.zeros(len(pairs)))
    resp = np.empty((Xt.shape[1], k))
    with serial_kernels():
        st = MixtureStats(Xt.shape[1], k, d, diagonal)
        st.e_step(Xt, w, means, prec, log_const, resp=resp)
    values = np.array([st.log_likelihood, entropy(resp, w)])
    return (st.nk, st.s1, st.s2, values, _entropy_changes(resp, w, pairs))


def _chunk_deletes(x, w, center, scale, comps, diagonal, used):
    """One chunk's part of the delete candidates: for each component ``j`` of
    ``used``, the statistics and entropy of the E-step without it, stacked
    ``(nk (J, K), s1 (J, K, D), s2 (J, K, p, D), entropy (J,))``."""
    Xt, w = _dask._chunk_standardised(x, w, center, scale)
    k, d = comps.means.shape
    p = 1 if diagonal else d
    out = (np.zeros((used.size, k)), np.zeros((used.size, k, d)), np.zeros((used.size, k, p, d)))
    ent = np.zeros(used.size)
    if Xt.shape[1] == 0:
        return (*out, ent)
    resp = np.empty((Xt.shape[1], k))
    with serial_kernels():
        st = MixtureStats(Xt.shape[1], k, d, diagonal)
        for a, j in enumerate(used):
            nk, s1, s2, ent[a] = delete_statistics(st, Xt, w, comps, j, resp)
            out[0][a], out[1][a], out[2][a] = nk, s1, s2
    return (*out, ent)


def _around_zero(nk, s1, s2, shift, diagonal: bool):
    """Statistics ``(nk, s1, s2)`` taken around ``shift`` (K, D) re-expressed
    around 0 (``sum r x x^T = sum r (x - a)(x - a)^T + a s1^T + s1 a^T + n a a^T``)."""
    s1_0 = s1 + nk[:, None] * shift
    if diagonal:
        s2_0 = s2 + (2.0 * shift * s1 + nk[:, None] * shift * shift)[:, None, :]
    else:
        outer = shift[:, :, None] * s1[:, None, :]
        s2_0 = s2 + outer + outer.transpose(0, 2, 1)
        s2_0 += nk[:, None, None] * shift[:, :, None] * shift[:, None, :]
    return nk.copy(), s1_0, s2_0


class ChunkRows:
    """What the merge and delete moves (:func:`bayesmix._vb_moves.refine_rows`)
    read of chunked data, one or two passes per round; ``cavi_from(start,
    hyper)`` runs coordinate ascent from statistics around 0."""

    def __init__(self, data, diagonal: bool, cavi_from):
        self.data, self.diagonal, self.cavi_from = data, diagonal, cavi_from
        self.total = float(data.total)
        self._d_ent = {}

    def _reduce(self, parts):
        import dask

        return _dask._compute(_dask._tree(parts, dask.delayed(_dask._add, pure=True)))

    def survey(self, post, nk):
        # the merges are among the components the last E-step left used (its
        # counts ``nk``); a few below the threshold are kept in case this
        # pass's sums round differently
        pairs = merge_pairs(nk, 0.5e-6 * self.total)
        self._post = post
        args = (post.means, post.prec, post.log_const, self.diagonal, pairs)
        s_nk, s1, s2, values, d_ent = self._reduce(self.data._map(_chunk_survey, *args))
        self._d_ent = {frozenset(pr): v for pr, v in zip(pairs, d_ent, strict=True)}
        stats = SimpleNamespace(nk=s_nk, s1=s1, s2=s2, diagonal=self.diagonal)
        return stats, float(values[0]) - post.kl, float(values[1])

    def entropy_changes(self, pairs):
        missing = [pr for pr in pairs if frozenset(pr) not in self._d_ent]
        if missing:  # not surveyed (a count rounded across the threshold): one more pass
            post = self._post
            args = (post.means, post.prec, post.log_const, self.diagonal, missing)
            d_ent = self._reduce(self.data._map(_chunk_survey, *args))[4]
            self._d_ent.update({frozenset(pr): v for pr, v in zip(missing, d_ent, strict=True)})
        return np.array([self._d_ent[frozenset(pr)] for pr in pairs])

    def deletes(self, post, used):
        comps = Components(post.means, post.prec, post.log_const)
        nk, s1, s2, ent = self._reduce(
            self.data._map(_chunk_deletes, comps, self.diagonal, np.asarray(used))
        )
        for a, j in enumerate(used):
            start = _around_zero(nk[a], s1[a], s2[a], post.means, self.diagonal)
            yield j, nk[a], s1[a], s2[a], float(ent[a]), start

    def merged_start(self, post, stats, pairs):
        cur = stats
        for j, k in pairs:
            nk, s1, s2 = _merged_stats(cur, post.means, j, k)
            cur = SimpleNamespace(nk=nk, s1=s1, s2=s2, diagonal=self.diagonal)
        return _around_zero(cur.nk, cur.s1, cur.s2, post.means, self.diagonal)


def prepare(X, sample_weight, at_least: int, rng):
    """:func:`bayesmix._dask.prepare` and the prior's :class:`DataSummary`."""
    data = _dask.prepare(X, sample_weight, at_least, rng)
    return data, DataSummary(data)


def _chunk_labels(x, w, center, scale, predictive):
    """Which components are the most probable for some row of positive weight (K,)."""
    x = np.asarray(x, dtype=np.float64)
    w = _dask._weights(x, w)
    seen = np.zeros(predictive.means.shape[0], dtype=bool)
    if (w > 0).any():
        with serial_kernels():
            _, proba = predictive_log_prob(
                as_feature_major(x[w > 0], center, scale), predictive, True
            )
        seen[np.unique(proba.argmax(axis=1))] = True
    return seen


def _chunk_resp_sums(x, w, center, scale, comps, mask):
    """``(sum_i w_i r_i, sum_i w_i r_i r_i^T, sum_i w_i)`` of the E-step
    responsibilities restricted to ``mask`` and renormalised."""
    x = np.asarray(x, dtype=np.float64)
    w = _dask._weights(x, w)
    x, w = x[w > 0], w[w > 0]
    k = int(mask.sum())
    if x.shape[0] == 0:
        return (np.zeros(k), np.zeros((k, k)), 0.0)
    resp = np.empty((x.shape[0], comps.means.shape[0]))
    with serial_kernels():
        log_prob_pass(as_feature_major(x, center, scale), *comps[:3], resp=resp)
    r = resp[:, mask]
    r /= r.sum(axis=1, keepdims=True)
    return (w @ r, (r * w[:, None]).T @ r, float(w.sum()))


def effective(data, post, predictive):
    """``(effective (K,) bool, missing information)`` as
    :func:`bayesmix._vb_core.effective` computes them in memory, in two
    passes over the chunks."""
    import dask

    tree = _dask._tree
    parts = data._map(_chunk_labels, predictive)
    mask = dask.compute(tree(parts, dask.delayed(np.logical_or, pure=True)))[0]
    comps = Components(post.means, post.prec, post.log_const)
    parts = data._map(_chunk_resp_sums, comps, mask)
    w_resp, gram, total = dask.compute(tree(parts, dask.delayed(_dask._add, pure=True)))[0]
    return mask, missing_information_from_sums(w_resp, gram, total)
