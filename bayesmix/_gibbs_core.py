"""The collapsed Gibbs sampler of a Dirichlet-process mixture as pure
functions: a chain's state is a small NamedTuple, :func:`init` starts a chain
and :func:`step` does one iteration, with the randomness passed in (a numpy
Generator per chain).  :func:`run_chains` runs the chains (on a thread pool,
bit for bit the same whatever the number of threads) and stores the kept
draws.

With missing cells (``Model.missing``) an iteration starts with the joint
update of each row with holes' cluster and missing cells
(``_gibbs_missing``); each chain then owns a copy of the completed rows, and
the block kernel runs one iteration per call.

One iteration is, when the base measure has hyperpriors, one update of its
hyperparameters (``_gibbs_hyper``), then ``n_proposals`` split-merge
proposals (Jain & Neal 2004, launch states by Dahl's 2005 sequential
allocation; ``auto_proposals`` under ``split_merge="auto"``), one Gibbs sweep
over every row (Neal 2000, algorithm 3), both one jitted call of
``_kernels/_gibbs.py``, then, when the concentration is learned, one Escobar &
West (1995) update of it.  :func:`run_chains` runs a fixed number of
iterations; :func:`run_auto` runs blocks until the draws pass Vehtari et
al.'s (2021) checks or a time budget runs out.

Unless ``kappa0`` is learned, a chain does not go through :func:`step`: it
runs up to ``BLOCK_STEPS`` iterations per call of the kernel ``gibbs_block``, the
same transition with the prior arrays refreshed in place and the kept draws
written into preallocated arrays, so an iteration costs its numerical work
and the four chains run in parallel threads (the kernel releases the GIL).
Each call seeds numba's generator from the chain's stream, so the draws
depend on the seed only, not on the threads.

References
----------
Neal (2000), JCGS 9, 249-265; Jain & Neal (2004), JCGS 13, 158-182; Dahl
(2005), Texas A&M tech. rep.; Escobar & West (1995), JASA 90, 577-588; Gelman &
Rubin (1992), Statist. Sci. 7, 457-472; Vehtari et al. (2021), Bayesian
Analysis 16, 667-718.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

from ._diagnostics import RHAT_THRESHOLD, bulk_ess, split_rhat
from ._gibbs_hyper import (
    Hyper,
    HyperState,
    draw_hyper,
    initial_state,
    log_hyperprior,
    log_partition_posterior,
    model_at,
)
from ._gibbs_missing import holes_of, update_missing
from ._gibbs_model import Model, SamplerRows, label_dtype
from ._init import kmeans
from ._kernels import _n_threads
from ._kernels._gibbs import (
    canonical_labels,
    gibbs_block,
    gibbs_sweep,
    piece_moves,
    split_merge,
)
from .exceptions import NonFiniteStateError
from .priors import Gamma

__all__ = [
    "AUTO_FIRST_BLOCK",
    "AUTO_MIN_ESS",
    "BLOCK_STEPS",
    "ENTROPY_DRAWS",
    "HYPER_WARMUP",
    "LAUNCH_SCANS",
    "RESTART_GAP",
    "AutoReport",
    "ChainState",
    "Draws",
    "StepInfo",
    "auto_proposals",
    "block_kernel",
    "block_steps",
    "escobar_west",
    "init",
    "initial_labels",
    "log_joint",
    "partition_entropy",
    "restart_stranded",
    "run_auto",
    "run_chains",
    "step",
]

LAUNCH_SCANS = 1  # intermediate restricted Gibbs scans per split-merge launch state
HYPER_WARMUP = 20  # hyperparameter draws given a chain's starting partition
AUTO_FIRST_BLOCK = 50  # iterations of an n_iter="auto" run before its first check
AUTO_MIN_ESS = 400  # bulk ESS of the log joint an "auto" run asks for (Vehtari et al. 2021)
# An "auto" run restarts, at a failed check, a chain whose mode holds an estimated e^10
# (2e4) times less posterior mass than the best chain's (or e^(5 sd) of the log joint, if
# more): far past Kass & Raftery's (1995) "very strong" odds of 150, while the chain, left
# there, would give the mode a quarter of the draws.
RESTART_GAP = 10.0
ENTROPY_DRAWS = 100  # draws per chain read by partition_entropy
BLOCK_STEPS = 25  # iterations of a chain per call of the block kernel, at most


class ChainState(NamedTuple):
    """Where one chain is: a partition, the concentration and, with hyperpriors
    on the base measure, its hyperparameters and the model they give."""

    labels: np.ndarray  # (n_samples,) int64, compact: 0 .. n_clusters - 1
    n_clusters: int
    alpha: float
    hyper: HyperState | None = None
    model: Model | None = None  # the model at ``hyper`` (None: the fit's fixed model)
    mult: np.ndarray | None = None  # (n_samples,) int64 copies each row holds (Model.mult)


class StepInfo(NamedTuple):
    """What one iteration reports besides the new state."""

    log_joint: float  # log p(X, c | alpha) [+ log p(alpha)], data units; NaN if not asked
    split_merge: np.ndarray  # (4,) int64: splits proposed, accepted, merges proposed, accepted


class Draws(NamedTuple):
    """The kept draws of every chain, ``n_kept`` per chain."""

    labels: np.ndarray  # (n_chains, n_kept, n_rows): the caller's rows, -1 for zero weight
    labels_full: np.ndarray  # (n_chains, n_kept, n_samples): the sampler's rows
    n_clusters: np.ndarray  # (n_chains, n_kept) int64
    log_joint: np.ndarray  # (n_chains, n_kept)
    alphas: np.ndarray  # (n_chains, n_kept) concentration of each draw
    split_merge: np.ndarray  # (n_chains, 4) int64, summed over all iterations
    hyper_b: np.ndarray | None = None  # (n_chains, n_kept) Psi0 = b A of each draw
    hyper_kappa: np.ndarray | None = None  # (n_chains, n_kept) kappa0 of each draw
    # (n_chains, n_kept, n_cells) standardised draws of the missing cells
    # (Holes.cells of the sampler's rows), None for complete data
    imputed: np.ndarray | None = None
    # (n_chains, n_kept, n_samples) copies each sampler row holds in each draw,
    # None when every row holds one (no row of integer weight >= 2)
    mult_full: np.ndarray | None = None
    pieces_blocked: int = 0  # destinations of copies left out (_kernels._gibbs.piece_moves)


def _check_kernel_k(n_clusters: int) -> int:
    """The kernels return ``-1`` clusters when a categorical draw met weights that
    are NaN, all zero or infinite: raise rather than continue from that state."""
    if n_clusters < 0:
        raise NonFiniteStateError(
            "the Gibbs sampler met non-finite predictive densities (NaN or infinite "
            "weights in a draw): the component prior is outside what float64 can hold "
            "for these data."
        )
    return n_clusters


def auto_proposals(n_clusters: int) -> int:
    """Split-merge proposals per iteration under ``split_merge="auto"``:
    ``ceil(K / 2)`` for a state of ``K`` clusters.  A proposal works on the rows
    of one or two clusters, about ``2 n / K`` of them, so the proposals of an
    iteration touch about ``n`` rows in all, about the work of one Gibbs sweep
    at small ``K``, and every pair of clusters keeps being proposed for a merge
    (and every cluster for a split) however many clusters there are."""
    return max(1, (n_clusters + 1) // 2)


def escobar_west(rng, alpha: float, n_clusters: int, n_samples: int, prior: Gamma) -> float:
    """One draw of the concentration given the number of clusters (Escobar & West
    1995, §6): an auxiliary ``eta ~ Beta(alpha + 1, n)``, then a two-part Gamma
    mixture."""
    eta = rng.beta(alpha + 1.0, n_samples)
    rate = prior.rate - math.log(eta)
    odds = (prior.shape + n_clusters - 1.0) / (n_samples * rate)
    shape = prior.shape + n_clusters - (0.0 if rng.random() < odds / (1.0 + odds) else 1.0)
    return float(rng.gamma(shape, 1.0 / rate))


def log_joint(
    log_partition: float, n_clusters: int, alpha: float, n_samples: int, concentration
) -> float:
    """``log p(X, c | alpha)`` (plus ``log p(alpha)`` under a Gamma hyperprior) in
    standardised units, from the kernels' ``log_partition`` (the NIW marginal
    likelihoods and ``log Gamma(n_k)`` terms of the partition ``c``)."""
    lj = (
        log_partition
        + n_clusters * math.log(alpha)
        + math.lgamma(alpha)
        - math.lgamma(alpha + n_samples)
    )
    if isinstance(concentration, Gamma):
        lj += (
            concentration.shape * math.log(concentration.rate)
            - math.lgamma(concentration.shape)
            + (concentration.shape - 1.0) * math.log(alpha)
            - concentration.rate * alpha
        )
    return lj


def initial_labels(
    Xs: np.ndarray,
    alpha: float,
    rng,
    chain: int = 0,
    n_chains: int = 1,
    score=None,
    mult: np.ndarray | None = None,
) -> np.ndarray:
    """The starting partition of chain ``chain`` of ``n_chains``: k-means (Lloyd
    iterations from k-means++ seeds) of the rows ``Xs`` (n_samples, n_features)
    into ``K_c`` clusters, ``K_c`` spread evenly from 1 (the first chain) to the
    prior expected number of clusters ``K0 = alpha log(1 + n / alpha)`` (the
    last).  With ``score`` (a partition's ``log p(c | X)``,
    :func:`~bayesmix._gibbs_hyper.log_partition_posterior`, called as
    ``score(labels, n_clusters)``), a chain other than the first starts from
    the most probable of the k-means partitions into ``K_c .. K_c + K0``
    clusters.

    The chains start apart, as Gelman & Rubin (1992) ask of chains whose
    agreement is to be judged, and mostly from below: a split move finds a
    natural split of a cluster by sequential allocation, whereas a merge move
    must re-create the current split by chance, which in high dimension it
    almost never does, so a chain started with too many clusters can stay
    there.  But a start from below can be a trap too: k-means into 5 clusters of
    10 well-separated ones pairs them up, and in high dimension splitting any
    one pair lowers ``log p(c)`` (by about 50 nats for 1000 x 128 rows: the
    shared scale ``b`` fits the wide pairs), so such a chain never reaches the
    partition hundreds of nats more probable; hence the candidates above
    ``K_c``, judged by the posterior itself (which rarely prefers a k-means
    partition with too many clusters).

    ``mult`` (n_samples,): the copies each row stands for (k-means weights; rows
    of none take the cluster of an identical row that holds some).
    """
    n = Xs.shape[0]
    mult = np.ones(n, dtype=np.int64) if mult is None else mult
    n_points = int(np.count_nonzero(mult))
    n_copies = float(mult.sum())
    k0 = int(np.clip(round(alpha * math.log1p(n_copies / alpha)), 1, n_points))
    k = 1 if n_chains < 2 else 1 + round((k0 - 1) * chain / (n_chains - 1))
    if k == 1 and (chain == 0 or score is None):
        return np.zeros(n, dtype=np.int64)
    Xt = np.ascontiguousarray(Xs.T)

    weights = mult.astype(np.float64)

    def kmeans_labels(kc: int) -> np.ndarray:
        _, labels = np.unique(kmeans(Xt, weights, kc, rng)[1], return_inverse=True)
        return np.ascontiguousarray(labels, dtype=np.int64)  # empty clusters dropped

    if score is None:
        return kmeans_labels(k)
    candidates = (kmeans_labels(kc) for kc in range(k, min(k + k0, n_points) + 1))
    return max(candidates, key=lambda labels: score(labels, int(labels.max()) + 1))


def init(
    model: Model,
    concentration,
    rng,
    hyper: Hyper | None = None,
    chain: int = 0,
    n_chains: int = 1,
) -> ChainState:
    """A chain's first state: the concentration (drawn from its Gamma hyperprior
    when learned, else the fixed value), the partition of
    :func:`initial_labels` and, with hyperpriors, hyperparameters drawn
    ``HYPER_WARMUP`` times from their conditional given that partition (so the
    first sweeps do not run under the arbitrary starting scale)."""
    if isinstance(concentration, Gamma):
        alpha = float(rng.gamma(concentration.shape, 1.0 / concentration.rate))
    else:
        alpha = float(concentration)

    mult = model.start_mult.copy()

    def score(labels, n_clusters):
        return log_partition_posterior(model, hyper, labels, n_clusters, alpha, mult)

    labels = initial_labels(model.X, alpha, rng, chain, n_chains, score, mult)
    K = int(labels.max()) + 1
    if hyper is None:
        return ChainState(labels, K, alpha, mult=mult)
    hs = initial_state(model, hyper)
    for _ in range(HYPER_WARMUP):
        hs = draw_hyper(rng, model_at(model, hyper, hs), hyper, hs, labels, K, mult)
    return ChainState(labels, K, alpha, hs, model_at(model, hyper, hs), mult)


def step(
    model: Model,
    state: ChainState,
    rng,
    concentration,
    n_proposals: int,
    want_log_joint: bool = False,
    hyper: Hyper | None = None,
    blocked: np.ndarray | None = None,
) -> tuple[ChainState, StepInfo]:
    """One iteration: a hyperparameter update (with ``hyper``), split-merge
    proposals, the moves of the copies of rows of integer weight
    (:func:`~bayesmix._kernels._gibbs.piece_moves`; ``blocked`` (1,) counts
    the destinations they left out), a Gibbs sweep, a concentration update.

    Parameters
    ----------
    model : Model
    state : ChainState
        Not modified: the new state has its own labels.
    rng : numpy Generator
        The chain's stream; the kernels are seeded from it.
    concentration : float or Gamma
        Fixed ``alpha``, or its hyperprior (then ``alpha`` is resampled).
    n_proposals : int
        Split-merge proposals before the sweep (0: none).
    want_log_joint : bool
        Compute :attr:`StepInfo.log_joint` (costs one pass over the clusters).
    hyper : Hyper, optional
        Hyperpriors of the base measure; then ``model`` is the fit's template
        and ``state.model`` the model at the chain's hyperparameters.

    Returns
    -------
    ChainState, StepInfo
    """
    labels = state.labels.copy()
    mult = (state.mult if state.mult is not None else model.start_mult).copy()
    n_unit, atoms = model.layout
    n_copies = model.n_copies
    blocked = np.zeros(1, dtype=np.int64) if blocked is None else blocked
    n_clusters, alpha = state.n_clusters, state.alpha
    if model.missing is not None:  # rows with holes: (c_i, x_im) first, in place
        m = state.model if state.model is not None else model
        seed = int(rng.integers(0, 2**63))
        n_clusters = update_missing(
            m.X,
            mult,
            labels,
            n_clusters,
            holes_of(model.missing),
            model.missing,
            m.kernel_prior,
            math.log(alpha),
            seed,
            m.log_prior_pred,
            sq_dist_updater(model, hyper),
        )
        n_clusters = _check_kernel_k(n_clusters)
    hs = state.hyper
    if hyper is not None:
        hs = draw_hyper(rng, state.model, hyper, hs, labels, n_clusters, mult)
        model = model_at(model, hyper, hs)
    log_alpha = math.log(alpha)
    counts = np.zeros(4, dtype=np.int64)
    kernel_prior = model.kernel_prior
    if n_proposals:
        seed = int(rng.integers(0, 2**63))
        n_clusters = split_merge(
            model.X,
            mult,
            labels,
            n_clusters,
            kernel_prior,
            log_alpha,
            n_proposals,
            LAUNCH_SCANS,
            seed,
            counts,
            atoms,
        )
    if atoms[0].size:
        seed = int(rng.integers(0, 2**63))
        n_clusters = piece_moves(
            model.X, mult, labels, n_clusters, kernel_prior, log_alpha, atoms, seed, blocked
        )
        n_clusters = _check_kernel_k(n_clusters)
    seed = int(rng.integers(0, 2**63))
    n_clusters, part = gibbs_sweep(
        model.X,
        mult,
        n_unit,
        labels,
        n_clusters,
        model.log_prior_pred,
        kernel_prior,
        log_alpha,
        seed,
        want_log_joint,
    )
    n_clusters = _check_kernel_k(n_clusters)
    if isinstance(concentration, Gamma):
        alpha = escobar_west(rng, alpha, n_clusters, n_copies, concentration)
    lj = float("nan")
    if want_log_joint:
        lj = log_joint(part, n_clusters, alpha, n_copies, concentration) + model.log_jacobian
        if hyper is not None:
            lj += log_hyperprior(hyper, hs)
    new_model = model if hyper is not None else None
    new = ChainState(labels, n_clusters, alpha, hs, new_model, mult)
    return new, StepInfo(lj, counts)


def sq_dist_updater(model: Model, hyper: Hyper | None, target: np.ndarray | None = None):
    """``(target, fn)``: where the rows' ``sq_dist`` of ``hyper`` live and how to
    recompute them from completed rows (n_rows, D), or None without
    hyperpriors (rows with holes change their completed cells every iteration)."""
    if hyper is None:
        return None
    p = model.prior
    m0 = np.asarray(p.mean, dtype=np.float64)
    target = hyper.sq_dist if target is None else target
    if hyper.scale is not None:
        base = hyper.base
        return target, lambda Xr: ((Xr - m0) ** 2 / base).sum(axis=1)
    inv = np.linalg.inv(p.scale)
    return target, lambda Xr: np.einsum("ij,jk,ik->i", Xr - m0, inv, Xr - m0)


def block_steps(n_samples: int, n_features: int) -> int:
    """Iterations per call of the block kernel: ``BLOCK_STEPS`` for small data,
    fewer as an iteration costs more (about ``n D^2``), down to one from about
    twenty million ``n D^2`` (a second or so), so that the progress bar and the
    time budget of an ``n_iter="auto"`` run still hear from the chains every
    few seconds.  A function of the data's shape alone, so the draws stay a
    function of the seed."""
    return int(min(BLOCK_STEPS, max(1, 20_000_000 // (n_samples * (n_features**2 + 1)))))


def block_kernel(hyper: Hyper | None) -> bool:
    """Whether chains run in calls of :func:`~bayesmix._kernels._gibbs.gibbs_block`
    (a fixed base measure, or a learned scale with ``kappa0`` fixed, the
    default); otherwise (``kappa0`` learned) one :func:`step` at a time."""
    return hyper is None or (hyper.scale is not None and hyper.kappa is None)


class _Chain:
    """One chain run in blocks: its stream, state and the records of the
    iterations it keeps (``it``, canonical labels, K, alpha, log joint, b,
    kappa)."""

    def __init__(self, c, n_chains, model, concentration, stream, hyper, n_proposals):
        self.c, self.n_chains = c, n_chains
        self.model, self.concentration, self.hyper = model, concentration, hyper
        self.n_proposals = n_proposals
        self.rng = np.random.Generator(np.random.PCG64(stream))
        self.state = None
        self.it = 0
        self.records = []
        self.sm = np.zeros(4, dtype=np.int64)
        n = model.X.shape[0]
        self.canon = np.empty(n, dtype=np.int64)
        self.map_work = np.empty(n, dtype=np.int64)
        self.block = None  # the state gibbs_block keeps, once started (block_kernel)
        self.holes = None
        self.blocked = np.zeros(1, dtype=np.int64)  # destinations piece_moves left out
        self.weighted = model.atoms is not None  # some row holds several copies
        if model.missing is not None:
            # each chain completes the rows with its own draws of the missing cells
            self.model = model._replace(
                X=model.X.copy(), log_prior_pred=model.log_prior_pred.copy()
            )
            if hyper is not None:
                self.hyper = hyper._replace(sq_dist=hyper.sq_dist.copy())
            self.holes = holes_of(model.missing)

    def advance(self, n_steps: int, keep: Callable[[int], bool], tick) -> None:
        if self.state is None:
            self.state = init(
                self.model, self.concentration, self.rng, self.hyper, self.c, self.n_chains
            )
            if block_kernel(self.hyper):
                self._start_blocks()
        if self.block is not None:
            self._advance_blocks(n_steps, keep, tick)
            return
        for _ in range(n_steps):
            k = keep(self.it)
            n_prop = self.n_proposals
            if n_prop < 0:  # "auto"
                n_prop = auto_proposals(self.state.n_clusters)
            self.state, info = step(
                self.model,
                self.state,
                self.rng,
                self.concentration,
                n_prop,
                k,
                self.hyper,
                self.blocked,
            )
            self.sm += info.split_merge
            if k:
                st = self.state
                canonical_labels(st.labels, self.canon, self.map_work)
                b, kap = st.hyper if st.hyper is not None else (np.nan, np.nan)
                lab = self.canon.astype(label_dtype(st.n_clusters - 1))  # labels < K
                rec = (self.it, lab, st.n_clusters, st.alpha)
                mult = st.mult.copy() if self.weighted else None
                self.records.append((*rec, info.log_joint, b, kap, self._imputed(), mult))
            self.it += 1
            tick()

    def _imputed(self):
        """The current draws of the missing cells (None for complete data)."""
        if self.holes is None:
            return None
        return self.model.X.ravel()[self.holes.cells]

    def _start_blocks(self) -> None:
        """The chain's own copies of what :func:`gibbs_block` updates in place
        (labels, the prior at the current ``b``, the prior predictive of each
        row) and its packed hyperpriors."""
        st, hyper = self.state, self.hyper
        m = st.model if st.model is not None else self.model
        p = m.prior
        n, d = m.X.shape
        prior = (
            np.ascontiguousarray(p.mean, dtype=np.float64),
            np.array(p.scale, dtype=np.float64, order="C"),
            np.array(m.R0, dtype=np.float64, order="C"),
            np.array(m.inv0, dtype=np.float64),
            np.array(m.consts, dtype=np.float64),
            np.array(m.tables, dtype=np.float64, order="C"),
        )
        if hyper is not None:
            g = hyper.scale
            head = [1.0, g.shape, g.rate, hyper.b_min]
            scale_args = np.concatenate((head, hyper.base, hyper.sq_dist, hyper.tables0[1]))
        else:
            scale_args = np.zeros(4 + d + n + n + 1)
        conc = self.concentration
        if isinstance(conc, Gamma):
            conc_args = np.array([1.0, conc.shape, conc.rate])
        else:
            conc_args = np.array([0.0, 1.0, 1.0])
        self.block = {
            "labels": np.array(st.labels, dtype=np.int64),
            "mult": np.array(st.mult, dtype=np.int64),
            "prior": prior,
            "log_prior_pred": np.array(m.log_prior_pred, dtype=np.float64),
            "scale_args": np.ascontiguousarray(scale_args, dtype=np.float64),
            "conc_args": conc_args,
            "b": st.hyper.b if st.hyper is not None else 1.0,
            "kappa": st.hyper.kappa if st.hyper is not None else np.nan,
        }

    def _advance_blocks(self, n_steps: int, keep: Callable[[int], bool], tick) -> None:
        """``n_steps`` iterations in calls of :func:`gibbs_block`, ``BLOCK_STEPS``
        at a time (each seeded from the chain's stream)."""
        blk = self.block
        X = self.model.X
        n = X.shape[0]
        learned_b = self.hyper is not None
        n_prop = self.n_proposals
        K, alpha, b = self.state.n_clusters, self.state.alpha, blk["b"]
        steps = block_steps(*X.shape)
        holes = self.holes
        if holes is not None:
            # one iteration per call: the rows with holes are updated first
            steps = 1
            d = X.shape[1]
            sq = None
            if learned_b:
                sq = sq_dist_updater(self.model, self.hyper, blk["scale_args"][4 + d : 4 + d + n])
        n_unit, atoms = self.model.layout
        n_copies = self.model.n_copies
        while n_steps > 0:
            m = min(steps, n_steps)
            flags = np.array([keep(self.it + t) for t in range(m)], dtype=bool)
            n_keep = int(flags.sum())
            out_labels = np.empty((n_keep, n), dtype=np.int64)
            out_mult = np.empty((n_keep if self.weighted else 0, n), dtype=np.int64)
            out_values = np.empty((n_keep, 4))
            if holes is not None:
                seed = int(self.rng.integers(0, 2**63))
                K = update_missing(
                    X,
                    blk["mult"],
                    blk["labels"],
                    K,
                    holes,
                    self.model.missing,
                    blk["prior"],
                    math.log(alpha),
                    seed,
                    blk["log_prior_pred"],
                    sq,
                )
                K = _check_kernel_k(K)
            seed = int(self.rng.integers(0, 2**63))
            K, alpha, b = gibbs_block(
                X,
                blk["mult"],
                n_unit,
                n_copies,
                blk["labels"],
                K,
                alpha,
                b,
                blk["prior"],
                blk["log_prior_pred"],
                blk["scale_args"],
                blk["conc_args"],
                n_prop,
                LAUNCH_SCANS,
                self.model.log_jacobian,
                flags,
                seed,
                out_labels,
                out_mult,
                out_values,
                self.sm,
                atoms,
                self.blocked,
            )
            K = _check_kernel_k(K)
            kap = blk["kappa"]
            for r, t in enumerate(np.flatnonzero(flags)):
                Kr, ar, lj, br = out_values[r]
                lab = out_labels[r].astype(label_dtype(int(Kr) - 1))  # labels < K
                rec = (self.it + int(t), lab, int(Kr), float(ar), lj, br, kap)
                mult = out_mult[r].copy() if self.weighted else None
                self.records.append((*rec, self._imputed(), mult))
            self.it += m
            n_steps -= m
            for _ in range(m):
                tick()
        blk["b"] = b
        hs = HyperState(b, blk["kappa"]) if learned_b else None
        self.state = ChainState(blk["labels"], K, alpha, hs, None, blk["mult"])

    def drop_before(self, it: int) -> None:
        self.records = [r for r in self.records if r[0] >= it]

    def restart_from(self, other: _Chain) -> None:
        """Continue from ``other``'s current state (partition, concentration,
        hyperparameters) with this chain's own random stream; the records so
        far are dropped (they were burn-in)."""
        st = other.state
        self.state = st._replace(labels=st.labels.copy(), mult=st.mult.copy())
        self.records = []
        if self.block is not None:
            self._start_blocks()  # the block kernel's arrays, rebuilt at the new state


def _run_block(chains: list, n_steps: int, keep, tick) -> None:
    """Advance every chain ``n_steps`` iterations on a thread pool (each chain has
    its own stream and records, so the draws do not depend on the threads)."""
    n_threads = min(len(chains), _n_threads())
    if n_threads > 1:
        with ThreadPoolExecutor(n_threads, thread_name_prefix="bayesmix-gibbs") as pool:
            futures = [pool.submit(ch.advance, n_steps, keep, tick) for ch in chains]
            for fut in futures:
                fut.result()
    else:
        for ch in chains:
            ch.advance(n_steps, keep, tick)


def _draws(chains: list, rows: SamplerRows, learned_hyper: bool) -> Draws:
    """The records of every chain (the same number each) as :class:`Draws`;
    each chain's records are released once copied.

    Labels are held in the smallest integer type that holds the largest
    number of clusters drawn (a record holds its own draw's, ``int8`` below
    128 clusters), not the number of rows: four chains of 1 400 draws of
    50 000 rows are 280 MB in ``int8`` and were 1.1 GB in ``int32``."""
    n_chains = len(chains)
    n_kept = len(chains[0].records)
    n = chains[0].canon.size
    k_max = max((r[2] for ch in chains for r in ch.records), default=1)
    dtype = label_dtype(max(int(k_max), 1) - 1)
    n_rows = rows.present.size
    labels_out = np.full((n_chains, n_kept, n_rows), -1, dtype=dtype)
    full_out = np.empty((n_chains, n_kept, n), dtype=dtype)
    n_clusters = np.empty((n_chains, n_kept), dtype=np.int64)
    log_joints = np.empty((n_chains, n_kept))
    alphas = np.empty((n_chains, n_kept))
    hyper_b = np.full((n_chains, n_kept), np.nan)
    hyper_kappa = np.full((n_chains, n_kept), np.nan)
    present, row_pos = rows.present, rows.row_pos
    row_canon = np.empty(row_pos.size, dtype=np.int64)
    map_work = np.empty(n, dtype=np.int64)
    imputed = None
    if chains[0].holes is not None:
        imputed = np.empty((n_chains, n_kept, chains[0].holes.cells.size))
    mult_full = None
    if chains[0].weighted:
        mult_full = np.empty((n_chains, n_kept, n), dtype=label_dtype(rows.reps.max()))
    for c, ch in enumerate(chains):
        for s, (_, lab, K, alpha, lj, b, kap, imp, mult) in enumerate(ch.records):
            if imputed is not None:
                imputed[c, s] = imp
            if mult_full is not None:
                mult_full[c, s] = mult
            full_out[c, s] = lab
            canonical_labels(lab[row_pos], row_canon, map_work)
            labels_out[c, s, present] = row_canon
            n_clusters[c, s], alphas[c, s], log_joints[c, s] = K, alpha, lj
            hyper_b[c, s], hyper_kappa[c, s] = b, kap
        ch.records = []  # copied: the chain's own arrays go now, not with the chain
    sm_counts = np.stack([ch.sm for ch in chains])
    if not learned_hyper:
        hyper_b = hyper_kappa = None
    return Draws(
        labels_out,
        full_out,
        n_clusters,
        log_joints,
        alphas,
        sm_counts,
        hyper_b,
        hyper_kappa,
        imputed,
        mult_full,
        int(sum(int(ch.blocked[0]) for ch in chains)),
    )


def run_chains(
    model: Model,
    rows: SamplerRows,
    concentration,
    n_proposals: int,
    n_iter: int,
    kept: np.ndarray,
    streams: list,
    tick: Callable[[], None] = lambda: None,
    hyper: Hyper | None = None,
) -> Draws:
    """Run one chain per ``np.random.SeedSequence`` of ``streams`` for ``n_iter``
    iterations and keep the draws of the iterations ``kept`` (increasing).

    ``n_proposals`` split-merge proposals per iteration, or, when negative, as
    many as the chain has clusters.  Chains run on a thread pool of up to
    ``_n_threads()`` threads (the kernels release the GIL); each chain has its
    own stream and output slots, so the draws do not depend on the number of
    threads.  ``tick`` is called after every iteration of every chain (from the
    chains' threads).  With ``hyper`` the base measure's hyperparameters are
    sampled too and kept per draw.
    """
    n_chains = len(streams)
    chains = [
        _Chain(c, n_chains, model, concentration, streams[c], hyper, n_proposals)
        for c in range(n_chains)
    ]
    keep_set = frozenset(int(k) for k in kept)
    _run_block(chains, n_iter, keep_set.__contains__, tick)
    return _draws(chains, rows, hyper is not None)


class AutoReport(NamedTuple):
    """How an ``n_iter="auto"`` run ended."""

    n_iter: int  # iterations per chain, burn-in included
    converged: bool  # every criterion met
    rhat: float  # split R-hat of the log joint over the kept draws
    rhat_k: float  # split R-hat of the number of clusters (NaN: constant)
    ess: float  # bulk ESS of the log joint, all chains
    seconds: float
    restarts: np.ndarray  # (n_restarts, 3): [chain, chain it restarted from, log mass gap]


def partition_entropy(draws: list, max_draws: int = ENTROPY_DRAWS) -> float:
    """An estimate of the entropy (nats) of the partitions one chain visits,
    ``draws`` a list of label arrays (n_samples,): each draw's clusters are
    matched to those of its last draw (a cluster to the one it overlaps most),
    and the entropies of the rows' matched labels are summed (an upper bound of
    the joint entropy when the matching loses nothing, Cover & Thomas 2006,
    thm. 2.6.6); at most ``max_draws`` evenly spaced draws are read, one at a
    time (``O(n K)`` memory)."""
    pick = np.unique(np.linspace(0, len(draws) - 1, max_draws).astype(np.int64))
    ref = np.asarray(draws[pick[-1]], dtype=np.int64)
    n = ref.size
    K = int(ref.max()) + 1
    offset = np.arange(n, dtype=np.int64) * K
    counts = np.zeros(n * K, dtype=np.int64)  # row i's matched label k at i K + k
    for i in pick:
        lab = np.asarray(draws[i], dtype=np.int64)
        k = int(lab.max()) + 1
        overlap = np.bincount(lab * K + ref, minlength=k * K).reshape(k, K)
        counts += np.bincount(offset + overlap.argmax(axis=1)[lab], minlength=n * K)
    p = counts[counts > 0] / pick.size
    return float(-(p * np.log(p)).sum())


def restart_stranded(chains: list) -> np.ndarray:
    """Restart every chain whose mode is estimated to hold at least
    ``e^max(RESTART_GAP, 5 s)`` times less posterior mass than the best
    chain's (``s`` the chains' pooled within-chain sd of the log joint) from
    the best chain's state; returns ``[chain, source, gap]`` rows (``gap`` in
    nats).

    The log mass of the mode a chain explores is ``E[log p(c, X)] + H``, the
    mean log joint of its draws plus the entropy of the partitions it visits
    (exactly so for the posterior restricted to the mode), estimated by the
    chain's mean log joint and :func:`partition_entropy` (the spread of a
    learned scale ``b``, alike from mode to mode, is left out): a mode of many
    partitions, each less probable, can outweigh one of few.

    A chain can settle in a mode that no move of the sampler leaves: on
    scikit-learn's breast cancer table one chain in four holds three large
    clusters where the others hold two, its log joint 31 nats lower and its
    entropy 8 higher (21 against 13), so about ``e^22`` times less mass; no
    merge of two of its clusters comes within 470 nats.  Such a mode has
    negligible posterior mass, yet it makes R-hat fail for good; at a check of
    an "auto" run that the chains fail (its draws so far are then burn-in) its
    chain continues from the best chain's state with its own random stream,
    and the fit reports the restart (``chain_restarts_``).  Chains that
    disagree by less stay as they are, and R-hat judges them.
    """
    if len(chains) < 2:
        return np.empty((0, 3))
    lj = [np.array([r[4] for r in ch.records], dtype=float) for ch in chains]
    if any(x.size < 2 or not np.isfinite(x).all() for x in lj):
        return np.empty((0, 3))
    entropy = [partition_entropy([r[1] for r in ch.records]) for ch in chains]
    mass = np.array([x.mean() for x in lj]) + np.array(entropy)
    sd = math.sqrt(float(np.mean([x.var(ddof=1) for x in lj])))
    best = int(np.argmax(mass))
    need = max(RESTART_GAP, 5.0 * sd)
    out = []
    for c, ch in enumerate(chains):
        gap = float(mass[best] - mass[c])
        if c != best and gap > need:
            ch.restart_from(chains[best])
            out.append((c, best, gap))
    return np.array(out, dtype=float).reshape(-1, 3)


def _first_block(chains, n_steps, calls, keep, tick, t0, cold, budget):
    """The first block of an ``n_iter="auto"`` run: ``n_steps`` iterations, one
    kernel call (``calls`` iterations) at a time -- the calls of one
    :func:`_run_block` of ``n_steps``, so the same draws -- ending early when
    the next call would overrun ``budget`` seconds from ``t0``.  Where one
    iteration takes seconds (many rows, or frequency weights expanded into
    millions of copies) ``AUTO_FIRST_BLOCK`` iterations alone could take many
    times the budget.  When ``cold``, the first call compiles the kernels and
    the budget starts after it.  Returns the iterations run, the seconds per
    iteration and ``t0``."""
    done, timed, seconds = 0, 0, 0.0
    while done < n_steps:
        m = min(calls, n_steps - done)
        tc = time.perf_counter()
        _run_block(chains, m, keep, tick)
        done += m
        now = time.perf_counter()
        if cold and done == m:  # that call compiled the kernels: the budget starts now
            t0 = now
            if done == n_steps:
                seconds, timed = now - tc, m
            continue
        seconds += now - tc
        timed += m
        if now - t0 + seconds / timed * min(calls, n_steps - done) > budget:
            break
    return done, seconds / max(timed, 1), t0


def run_auto(
    model: Model,
    rows: SamplerRows,
    concentration,
    n_proposals: int,
    thin: int,
    streams: list,
    tick: Callable[[], None] = lambda: None,
    hyper: Hyper | None = None,
    budget: float = 60.0,
    max_iter: int = 20_000,
) -> tuple[Draws, AutoReport]:
    """Run the chains in blocks until their draws pass the checks of Vehtari et
    al. (2021), or until ``budget`` seconds or ``max_iter`` iterations.

    After each block the second half of every chain is kept (burn-in: the first
    half), every ``thin``-th iteration, and the run stops when the split R-hat
    of the log joint and of the number of clusters are at most
    ``RHAT_THRESHOLD = 1.01`` and the bulk ESS of the log joint over all chains
    is at least ``AUTO_MIN_ESS = 400`` (Vehtari et al.'s 100 per chain for four
    chains).  The first block is ``AUTO_FIRST_BLOCK`` iterations (fewer when
    they would overrun the budget: :func:`_first_block`), each later one half
    the iterations so far (shortened to what the time left allows).  The
    draws are deterministic given the seed unless the time budget ends the run.
    When the sampler's kernels are not compiled yet (a first fit after an
    install), the first block compiles them and the budget starts after it: it
    counts sampling, not compilation.
    """
    from ._compile import is_cached

    cold = not gibbs_block.signatures and not is_cached(gibbs_block)
    t0 = time.perf_counter()
    n_chains = len(streams)
    chains = [
        _Chain(c, n_chains, model, concentration, streams[c], hyper, n_proposals)
        for c in range(n_chains)
    ]

    def keep(it: int) -> bool:
        return it % thin == 0

    total = 0
    block = AUTO_FIRST_BLOCK
    restarts = np.empty((0, 3))
    calls = block_steps(*model.X.shape) if block_kernel(hyper) else 1
    while True:
        if total == 0:
            block, per_iter, t0 = _first_block(chains, block, calls, keep, tick, t0, cold, budget)
        else:
            tb = time.perf_counter()
            _run_block(chains, block, keep, tick)
            per_iter = (time.perf_counter() - tb) / block
        total += block
        for ch in chains:
            ch.drop_before(total // 2)
        n_kept = min(len(ch.records) for ch in chains)
        for ch in chains:  # the same kept iterations in every chain
            ch.records = ch.records[len(ch.records) - n_kept :]
        lj = np.array([[r[4] for r in ch.records] for ch in chains])
        ks = np.array([[r[2] for r in ch.records] for ch in chains], dtype=float)
        rhat, rhat_k, ess = split_rhat(lj), split_rhat(ks), bulk_ess(lj)
        converged = (
            total >= AUTO_FIRST_BLOCK  # not a first block the budget cut short
            and not (rhat > RHAT_THRESHOLD)
            and not (rhat_k > RHAT_THRESHOLD)
            and (ess >= AUTO_MIN_ESS or np.isnan(rhat))
        )
        elapsed = time.perf_counter() - t0
        left = min(budget - elapsed, per_iter * (max_iter - total))
        if not converged and model.missing is None and left >= per_iter * max(total // 2, 1):
            # a chain stranded far below the others continues from the best one's
            # state; the next block (all of it kept) then judges every chain afresh
            restarts = np.vstack((restarts, restart_stranded(chains)))
        if converged or left < per_iter or total >= max_iter:
            break
        block = int(min(max(total // 2, 1), left / max(per_iter, 1e-9)))
        if block < 1:
            break
    seconds = time.perf_counter() - t0
    report = AutoReport(total, bool(converged), rhat, rhat_k, ess, seconds, restarts)
    return _draws(chains, rows, hyper is not None), report
