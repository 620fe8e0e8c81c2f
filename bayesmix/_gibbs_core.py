"""The collapsed Gibbs sampler of a Dirichlet-process mixture as pure
functions: a chain's state is a small NamedTuple, :func:`init` starts a chain
and :func:`step` does one iteration, with the randomness passed in (a numpy
Generator per chain).  :func:`run_chains` runs the chains (on a thread pool,
bit for bit the same whatever the number of threads) and stores the kept
draws.

One iteration is, when the base measure has hyperpriors, one update of its
hyperparameters (``_gibbs_hyper``), then ``n_proposals`` split-merge
proposals (Jain & Neal 2004), one Gibbs sweep over every row (Neal 2000,
algorithm 3), both one jitted call of ``_kernels/_gibbs.py``, then, when the
concentration is learned, one Escobar & West (1995) update of it.

References
----------
Neal (2000), JCGS 9, 249-265; Jain & Neal (2004), JCGS 13, 158-182; Escobar &
West (1995), JASA 90, 577-588.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

from ._gibbs_hyper import Hyper, HyperState, draw_hyper, initial_state, log_hyperprior, model_at
from ._gibbs_model import Model, SamplerRows, label_dtype
from ._init import _assign, kmeans_plusplus
from ._kernels import _n_threads
from ._kernels._gibbs import canonical_labels, gibbs_sweep, split_merge
from .priors import Gamma

__all__ = [
    "LAUNCH_SCANS",
    "ChainState",
    "Draws",
    "StepInfo",
    "escobar_west",
    "init",
    "initial_labels",
    "log_joint",
    "run_chains",
    "step",
]

LAUNCH_SCANS = 5  # intermediate restricted Gibbs scans per split-merge launch state


class ChainState(NamedTuple):
    """Where one chain is: a partition, the concentration and, with hyperpriors
    on the base measure, its hyperparameters and the model they give."""

    labels: np.ndarray  # (n_samples,) int64, compact: 0 .. n_clusters - 1
    n_clusters: int
    alpha: float
    hyper: HyperState | None = None
    model: Model | None = None  # the model at ``hyper`` (None: the fit's fixed model)


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


def initial_labels(Xs: np.ndarray, alpha: float, rng) -> np.ndarray:
    """A k-means++ partition of the rows ``Xs`` (n_samples, n_features) into about
    the prior expected number of clusters, ``alpha log(1 + n / alpha)`` (its random
    seeding makes the chains start apart)."""
    n = Xs.shape[0]
    k0 = int(np.clip(round(alpha * math.log1p(n / alpha)), 1, n))
    Xt = np.ascontiguousarray(Xs.T)
    w = np.ones(n)
    labels = _assign(Xt, w, kmeans_plusplus(Xt, w, k0, rng))[0]
    _, labels = np.unique(labels, return_inverse=True)  # drop empty clusters
    return np.ascontiguousarray(labels, dtype=np.int64)


def init(model: Model, concentration, rng, hyper: Hyper | None = None) -> ChainState:
    """A chain's first state: the concentration (drawn from its Gamma hyperprior
    when learned, else the fixed value), a k-means++ partition and, with
    hyperpriors, the starting hyperparameters of ``model``."""
    if isinstance(concentration, Gamma):
        alpha = float(rng.gamma(concentration.shape, 1.0 / concentration.rate))
    else:
        alpha = float(concentration)
    labels = initial_labels(model.X, alpha, rng)
    if hyper is None:
        return ChainState(labels, int(labels.max()) + 1, alpha)
    return ChainState(labels, int(labels.max()) + 1, alpha, initial_state(model, hyper), model)


def step(
    model: Model,
    state: ChainState,
    rng,
    concentration,
    n_proposals: int,
    want_log_joint: bool = False,
    hyper: Hyper | None = None,
) -> tuple[ChainState, StepInfo]:
    """One iteration: a hyperparameter update (with ``hyper``), split-merge
    proposals, a Gibbs sweep, a concentration update.

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
    n_clusters, alpha = state.n_clusters, state.alpha
    hs = state.hyper
    if hyper is not None:
        hs = draw_hyper(rng, state.model, hyper, hs, labels, n_clusters)
        model = model_at(model, hyper, hs)
    log_alpha = math.log(alpha)
    counts = np.zeros(4, dtype=np.int64)
    kernel_prior = model.kernel_prior
    if n_proposals:
        seed = int(rng.integers(0, 2**63))
        n_clusters = split_merge(
            model.X,
            labels,
            n_clusters,
            kernel_prior,
            log_alpha,
            n_proposals,
            LAUNCH_SCANS,
            seed,
            counts,
        )
    seed = int(rng.integers(0, 2**63))
    n_clusters, part = gibbs_sweep(
        model.X,
        labels,
        n_clusters,
        model.log_prior_pred,
        kernel_prior,
        log_alpha,
        seed,
        want_log_joint,
    )
    if isinstance(concentration, Gamma):
        alpha = escobar_west(rng, alpha, n_clusters, model.X.shape[0], concentration)
    lj = float("nan")
    if want_log_joint:
        n = model.X.shape[0]
        lj = log_joint(part, n_clusters, alpha, n, concentration) + model.log_jacobian
        if hyper is not None:
            lj += log_hyperprior(hyper, hs)
    new_model = model if hyper is not None else None
    return ChainState(labels, n_clusters, alpha, hs, new_model), StepInfo(lj, counts)


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

    Chains run on a thread pool of up to ``_n_threads()`` threads (the kernels
    release the GIL); each chain has its own stream and output slots, so the
    draws do not depend on the number of threads.  ``tick`` is called after
    every iteration of every chain (from the chains' threads).  With ``hyper``
    the base measure's hyperparameters are sampled too and kept per draw.
    """
    n_chains = len(streams)
    n = model.X.shape[0]
    n_rows = rows.present.size
    n_kept = kept.size
    work_dtype = label_dtype(n - 1)
    labels_out = np.full((n_chains, n_kept, n_rows), -1, dtype=work_dtype)
    full_out = np.empty((n_chains, n_kept, n), dtype=work_dtype)
    n_clusters = np.empty((n_chains, n_kept), dtype=np.int64)
    log_joints = np.empty((n_chains, n_kept))
    alphas = np.empty((n_chains, n_kept))
    sm_counts = np.zeros((n_chains, 4), dtype=np.int64)
    hyper_b = np.full((n_chains, n_kept), np.nan)
    hyper_kappa = np.full((n_chains, n_kept), np.nan)
    present, row_pos = rows.present, rows.row_pos

    def run_chain(c: int) -> None:
        rng = np.random.Generator(np.random.PCG64(streams[c]))
        state = init(model, concentration, rng, hyper)
        canon = np.empty(n, dtype=np.int64)
        row_canon = np.empty(row_pos.size, dtype=np.int64)
        map_work = np.empty(n, dtype=np.int64)
        s = 0
        for it in range(n_iter):
            keep = s < n_kept and it == kept[s]
            state, info = step(model, state, rng, concentration, n_proposals, keep, hyper)
            sm_counts[c] += info.split_merge
            if keep:
                canonical_labels(state.labels, canon, map_work)
                full_out[c, s] = canon
                canonical_labels(canon[row_pos], row_canon, map_work)
                labels_out[c, s, present] = row_canon
                n_clusters[c, s] = state.n_clusters
                alphas[c, s] = state.alpha
                log_joints[c, s] = info.log_joint
                if hyper is not None:
                    hyper_b[c, s], hyper_kappa[c, s] = state.hyper
                s += 1
            tick()

    n_threads = min(n_chains, _n_threads())
    if n_threads > 1:
        with ThreadPoolExecutor(n_threads, thread_name_prefix="bayesmix-gibbs") as pool:
            for fut in [pool.submit(run_chain, c) for c in range(n_chains)]:
                fut.result()
    else:
        for c in range(n_chains):
            run_chain(c)
    if hyper is None:
        return Draws(labels_out, full_out, n_clusters, log_joints, alphas, sm_counts)
    return Draws(
        labels_out, full_out, n_clusters, log_joints, alphas, sm_counts, hyper_b, hyper_kappa
    )
