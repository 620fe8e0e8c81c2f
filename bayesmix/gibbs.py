"""Dirichlet-process mixture of Gaussians by collapsed Gibbs sampling.

Orchestration only: one jitted call does one Gibbs sweep over the data, one
more does the split-merge proposals of an iteration (``_kernels/_gibbs.py``);
Python owns the iterations, the concentration updates, the chains, the
stored draws and the progress bar.

Model
-----
``alpha ~ Gamma(shape, rate)`` (or fixed), ``c ~ CRP(alpha)`` (the partition
of the rows induced by a Dirichlet process), and within each cluster
``(mu, Sigma) ~ NIW(mean, kappa, dof, scale)``, ``x_i ~ N(mu, Sigma)``.  The
component parameters are integrated out, so the chain moves over partitions
only; parameters are drawn afterwards, given each kept partition, by
:meth:`DirichletProcessMixture.posterior`.
"""

from __future__ import annotations

import hashlib
import math
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
from scipy.special import gammaln

from ._base import BaseMixture
from ._data import Standardiser
from ._init import _assign, kmeans_plusplus
from ._kernels import _n_threads, log_prob_pass
from ._kernels._cholesky import upper_inverse
from ._kernels._gibbs import (
    canonical_labels,
    cluster_posteriors,
    gibbs_sweep,
    partition_overlap,
    prior_log_predictive,
    split_merge,
)
from ._validation import (
    check_bool,
    check_fitted,
    check_int,
    check_predict_X,
    check_random_state,
    check_sample_weight,
    check_X,
)
from .exceptions import ConvergenceWarning
from .priors import DirichletProcess, Gamma, NormalInverseWishart

__all__ = ["DirichletProcessMixture"]

LAUNCH_SCANS = 5  # intermediate restricted Gibbs scans per split-merge launch state
RHAT_THRESHOLD = 1.01  # split R-hat of the log joint above which a fit is "not converged"
MAX_PREDICTIVE_DRAWS = 1000  # kept draws averaged by score_samples (evenly spaced)
_PROGRESS_AFTER = 2.0  # seconds: runs expected to be shorter show no progress bar
_CACHE_BYTES = 256 * 2**20  # predictive components cached up to this size
_DAHL_BUDGET = 10**8  # candidate x reference x row operations for the point partition


# --------------------------------------------------------------------------- helpers
def _niw_tables(n_max: int, n_features: int, kappa0: float, nu0: float, logdet0: float):
    """The (4, n_max + 1) table of ``_kernels._gibbs``: ``[log n + T(n), G(n), c_n,
    kappa_n / (kappa_n - 1)]`` for clusters of ``n = 0 .. n_max`` rows."""
    d = n_features
    n = np.arange(n_max + 1, dtype=np.float64)
    kn = kappa0 + n
    nun = nu0 + n
    c = kn / (kn + 1.0)
    log_pi = np.log(np.pi)
    T = gammaln(0.5 * (nun + 1.0)) - gammaln(0.5 * (nun + 1.0 - d)) - 0.5 * d * log_pi
    T += 0.5 * d * np.log(c)
    log_n = np.log(np.maximum(n, 1.0))
    G = -0.5 * d * n * log_pi + _mvgammaln(0.5 * nun, d) - _mvgammaln(np.array([0.5 * nu0]), d)
    G += 0.5 * nu0 * logdet0 + 0.5 * d * (np.log(kappa0) - np.log(kn))
    loo = np.zeros_like(n)
    loo[1:] = kn[1:] / (kn[1:] - 1.0)
    return np.ascontiguousarray(np.stack([T + log_n, G, c, loo]))


def _mvgammaln(a: np.ndarray, d: int) -> np.ndarray:
    """``log Gamma_d(a)`` elementwise (``scipy.special.multigammaln`` takes scalars)."""
    out = np.full(a.shape, 0.25 * d * (d - 1) * np.log(np.pi))
    for j in range(d):  # a loop over d keeps memory at O(len(a))
        out += gammaln(a - 0.5 * j)
    return out


def _escobar_west(rng, alpha: float, n_clusters: int, n_samples: int, prior: Gamma) -> float:
    """One draw of the concentration given the number of clusters (Escobar & West
    1995, §6): an auxiliary ``eta ~ Beta(alpha + 1, n)``, then a two-part Gamma
    mixture."""
    eta = rng.beta(alpha + 1.0, n_samples)
    rate = prior.rate - math.log(eta)
    odds = (prior.shape + n_clusters - 1.0) / (n_samples * rate)
    shape = prior.shape + n_clusters - (0.0 if rng.random() < odds / (1.0 + odds) else 1.0)
    return float(rng.gamma(shape, 1.0 / rate))


def _label_dtype(max_label: int):
    for dt in (np.int8, np.int16, np.int32):
        if max_label <= np.iinfo(dt).max:
            return dt
    return np.int64


def _split_rhat(x: np.ndarray) -> float:
    """Rank-normalised split R-hat (Vehtari et al. 2021) of (n_chains, n_draws)."""
    from scipy.stats import norm, rankdata

    half = x.shape[1] // 2
    if half < 2 or not np.isfinite(x).all():
        return float("nan")
    if np.ptp(x) <= 1e-9 * (1.0 + np.abs(x).max()):  # constant up to rounding
        return float("nan")
    x = np.concatenate([x[:, :half], x[:, half : 2 * half]], axis=0)
    z = norm.ppf((rankdata(x, axis=None).reshape(x.shape) - 0.375) / (x.size + 0.25))
    within = z.var(axis=1, ddof=1).mean()
    if within == 0:
        return float("nan")
    between = half * z.mean(axis=1).var(ddof=1)
    return float(np.sqrt(((half - 1) / half * within + between / half) / within))


def _rhat_limit(n_chains: int, n_kept: int) -> float:
    """The R-hat above which the chains are judged not converged: ``RHAT_THRESHOLD``,
    raised for short runs to four standard deviations of the split R-hat of
    independent draws, ``1 + 2 sqrt(2 / (m - 1)) / h`` with ``m = 2 n_chains``
    half-chains of ``h`` draws (so 30 draws on 2 chains are not flagged by noise)."""
    half = max(n_kept // 2, 1)
    return max(RHAT_THRESHOLD, 1.0 + 2.0 * math.sqrt(2.0 / (2 * n_chains - 1)) / half)


class _Model(NamedTuple):
    """Everything the kernels read, in standardised units."""

    standardiser: Standardiser
    prior: NormalInverseWishart  # resolved and standardised
    X: np.ndarray  # (n_samples, n_features), row-major
    consts: np.ndarray  # [kappa0, nu0, log|Psi0|]
    tables: np.ndarray  # (4, n_samples + 1), see _kernels/_gibbs.py
    R0: np.ndarray  # upper Cholesky factor of Psi0
    inv0: np.ndarray  # 1 / diag(R0)
    log_prior_pred: np.ndarray  # (n_samples,) log prior predictive of each row

    @property
    def kernel_prior(self) -> tuple:
        """``(mean0, psi0, R0, inv0, consts, tables)``, the kernels' ``prior``."""
        p = self.prior
        return (p.mean, p.scale, self.R0, self.inv0, self.consts, self.tables)


def _prepare(X: np.ndarray, prior: NormalInverseWishart) -> _Model:
    """Standardise ``X`` (n_samples, n_features) and a resolved ``prior`` for the kernels."""
    n, n_features = X.shape
    std = Standardiser(X, np.ones(n))
    p = prior.standardised(std.center, std.scale)
    Xs = np.ascontiguousarray(std.transform(X).T)
    R0 = np.linalg.cholesky(p.scale).T.copy()
    inv0 = 1.0 / np.diag(R0)
    logdet0 = 2.0 * float(np.log(np.diag(R0)).sum())
    consts = np.array([p.kappa, p.dof, logdet0])
    tables = _niw_tables(n, n_features, p.kappa, p.dof, logdet0)
    log_prior_pred = np.empty(n)
    prior_log_predictive(Xs, (p.mean, p.scale, R0, inv0, consts, tables), log_prior_pred)
    return _Model(std, p, Xs, consts, tables, R0, inv0, log_prior_pred)


class _Progress:
    """A plain-stderr progress bar over all chains, shown only for runs
    expected to last longer than ``_PROGRESS_AFTER`` seconds."""

    def __init__(self, total: int, enabled: bool, stream=None):
        self.total = total
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.start = time.perf_counter()
        self.last = 0.0
        self.shown = False
        self.lock = threading.Lock()
        try:
            self.tty = bool(self.stream.isatty())
        except (AttributeError, ValueError):
            self.tty = False

    def tick(self) -> None:
        if not self.enabled:
            return
        with self.lock:
            self.done += 1
            now = time.perf_counter()
            elapsed = now - self.start
            if self.done == 1:
                # The first sweep may include compiling the kernels (seconds, once
                # per install): the rate is measured from the end of it.
                self.first = now
                if self.done < self.total:
                    return
            rest = self.total - self.done
            per_sweep = (now - self.first) / (self.done - 1) if self.done > 1 else 0.0
            left = per_sweep * rest
            if not self.shown:
                if elapsed < 0.25 or elapsed + left < _PROGRESS_AFTER:
                    return
                self.shown = True
            elif now - self.last < (0.2 if self.tty else 5.0) and self.done < self.total:
                return
            self.last = now
            frac = self.done / self.total
            bar = "#" * int(25 * frac)
            end = "\r" if self.tty else "\n"
            self.stream.write(
                f"DirichletProcessMixture |{bar:<25}| {self.done}/{self.total} sweeps, "
                f"{elapsed:.1f} s, ~{left:.1f} s left{end}"
            )
            self.stream.flush()

    def close(self) -> None:
        if self.shown and self.tty:
            self.stream.write("\n")
            self.stream.flush()


# ----------------------------------------------------------------------- estimator
class DirichletProcessMixture(BaseMixture):
    """Dirichlet-process mixture of Gaussians sampled by collapsed Gibbs.

    Neal's (2000) algorithm 3 with conjugate Normal-Inverse-Wishart components,
    interleaved with Jain & Neal's (2004) split-merge moves; the answer is a
    posterior over partitions of the data and over the number of clusters.

    Parameters
    ----------
    concentration : float, Gamma or DirichletProcess, default=1.0
        The Dirichlet-process concentration ``alpha``: a positive float is held
        fixed; a :class:`~bayesmix.priors.Gamma` ``(shape, rate)`` is a
        hyperprior under which ``alpha`` is resampled every sweep (Escobar &
        West 1995).  A :class:`~bayesmix.priors.DirichletProcess` is unwrapped.
        Under a CRP prior the expected number of clusters among ``n`` rows is
        about ``alpha log(1 + n / alpha)``.
    component_prior : NormalInverseWishart, optional
        Prior of each cluster's mean and covariance.  ``None`` (and every
        ``None`` field) takes the data-driven defaults of
        :meth:`~bayesmix.priors.NormalInverseWishart.resolve` with one
        component: the prior mean is the data mean, ``kappa = 0.01``,
        ``dof = n_features + 2`` and ``scale`` is the data covariance, so
        ``E[Sigma]`` is the covariance of the whole data set and a cluster is
        a priori as wide as the data.  Give ``scale`` explicitly to expect
        narrower clusters.
    n_iter : int, default=1000
        Iterations per chain, burn-in included.  One iteration is the
        split-merge proposals, one Gibbs sweep over every row, and (when
        learned) one concentration update.
    burn_in : int, optional
        Iterations discarded at the start of each chain; ``None`` means
        ``n_iter // 2``.
    thin : int, default=1
        Keep every ``thin``-th iteration after burn-in.
    n_chains : int, default=4
        Independent chains, each with its own random stream spawned from
        ``random_state`` and its own k-means++ starting partition.  Chains run
        on a thread pool over the available cores (``BAYESMIX_NUM_THREADS``
        caps it); the result does not depend on the number of threads.
    split_merge : bool or int, default=True
        Split-merge proposals per iteration: ``True`` is one, ``False`` or 0
        none, an integer that many.  Each launch state is built by
        ``LAUNCH_SCANS = 5`` restricted Gibbs scans.
    random_state : None, int or numpy Generator
        The same seed gives the same draws bit for bit.
    progress : bool, default=True
        Show a progress bar on stderr for runs expected to last more than
        about two seconds.

    Attributes
    ----------
    labels_samples_ : (n_chains, n_kept, n_samples) integer array
        Sampled partitions, each relabelled by order of first appearance, in
        the smallest signed integer type that holds the labels.  A row of
        zero weight has label -1; a row of integer weight ``w > 1`` shows the
        cluster of one of its ``w`` copies.
    n_clusters_samples_ : (n_chains, n_kept) int
    concentration_samples_ : (n_chains, n_kept) float
        Only when the concentration is learned.
    log_joint_samples_ : (n_chains, n_kept) float
        ``log p(X, c | alpha)`` of each kept partition ``c`` (data units; plus
        ``log p(alpha)`` when the concentration is learned).
    split_merge_counts_ : (n_chains, 4) int
        Splits proposed, splits accepted, merges proposed, merges accepted.
    split_merge_acceptance_ : (n_chains,) float
        Accepted / proposed split-merge moves (NaN when none were proposed).
    labels_ : (n_samples,) int
        Point estimate of the partition (Dahl's 2006 least-squares draw),
        clusters numbered by decreasing size.
    weights_, means_, covariances_ : (K,), (K, D), (K, D, D)
        Summary of the point partition: cluster shares of the data, and the
        NIW posterior mean of each cluster's mean and covariance (the
        posterior mode of the covariance for a cluster too small for the mean
        to exist).
    concentration_ : float
        The fixed concentration, or its posterior mean.
    component_prior_ : NormalInverseWishart
        The resolved prior, in data units.
    converged_ : bool
        The rank-normalised split R-hat of the log joint is at most 1.01 (or,
        for short runs, the larger value that independent draws would reach
        only by a four-sigma fluctuation); True when R-hat cannot be computed
        (fewer than 4 kept draws per chain, or a constant log joint).
        Otherwise a :class:`~bayesmix.exceptions.ConvergenceWarning` says what
        to change.
    rhat_ : float
        That R-hat (NaN when it cannot be computed).
    n_iter_ : int
    n_features_in_, feature_names_in_ :
        As in scikit-learn.

    Notes
    -----
    *Cost.*  Every cluster keeps the upper Cholesky factor of its NIW
    posterior scale matrix; a row that changes cluster costs a rank-one
    downdate and a rank-one update, ``O(D^2)``, and evaluating the Student-t
    predictive of a row under ``K`` clusters costs ``K`` triangular solves.

    *Many features.*  The default prior is vague: with ``dof = D + 2`` a
    covariance drawn from it is typically far smaller than its mean (the mode
    is ``scale / (2 D + 3)``), and as each cluster has a full covariance to
    learn, in tens of dimensions the posterior can prefer many small clusters
    to a few large ones.  There, give an informative ``component_prior``, e.g.
    ``dof = 2 D`` and ``scale = (dof - D - 1) S_w`` for an expected
    within-cluster covariance ``S_w``.

    *Frequency weights.*  ``sample_weight`` must hold non-negative integers:
    a row of weight ``w`` is ``w`` identical observations, so the fit is
    exactly the fit to ``np.repeat(X, w, axis=0)`` (same draws for the same
    seed).  The chains run on the rows in lexicographic order, so the draws
    do not depend on the order of the rows either.  Non-integer weights are
    rejected, since a fractional observation has no meaning in a partition.
    Memory and time grow with ``sum(w)``.

    *Scores.*  :meth:`score_samples` is the log of the posterior mean of the
    predictive density, averaged over up to ``MAX_PREDICTIVE_DRAWS = 1000``
    evenly spaced kept draws: given a partition, the predictive of a new row
    is ``sum_k n_k / (n + alpha) t_k(x) + alpha / (n + alpha) t_0(x)`` with
    ``t_k`` the Student-t predictive of cluster ``k`` and ``t_0`` that of the
    prior.  :meth:`predict` returns :attr:`labels_` for the training data and
    otherwise assigns each row to the point-partition cluster of highest
    ``n_k t_k(x)``; :meth:`predict_proba` normalises those.  :meth:`sample`
    draws from the Gaussian summary (``weights_``, ``means_``,
    ``covariances_``).

    References
    ----------
    Neal (2000), JCGS 9, 249-265, algorithm 3; Jain & Neal (2004), JCGS 13,
    158-182; Escobar & West (1995), JASA 90, 577-588; Dahl (2006); Murphy
    (2007), *Conjugate Bayesian analysis of the Gaussian distribution*.
    """

    def __init__(
        self,
        concentration: float | Gamma | DirichletProcess = 1.0,
        component_prior: NormalInverseWishart | None = None,
        *,
        n_iter: int = 1000,
        burn_in: int | None = None,
        thin: int = 1,
        n_chains: int = 4,
        split_merge: bool | int = True,
        random_state=None,
        progress: bool = True,
    ):
        self.concentration = concentration
        self.component_prior = component_prior
        self.n_iter = n_iter
        self.burn_in = burn_in
        self.thin = thin
        self.n_chains = n_chains
        self.split_merge = split_merge
        self.random_state = random_state
        self.progress = progress

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        conc = self.concentration
        if isinstance(conc, DirichletProcess):
            conc = conc.concentration
        if not isinstance(conc, Gamma):
            conc = DirichletProcess(conc).concentration  # raises a clear error
        prior = self.component_prior
        if prior is None:
            prior = NormalInverseWishart()
        elif not isinstance(prior, NormalInverseWishart):
            raise TypeError(
                "component_prior must be a bayesmix.priors.NormalInverseWishart or None, got "
                f"{type(prior).__name__}."
            )
        n_iter = check_int(self.n_iter, "n_iter", low=1)
        burn_in = check_int(self.burn_in, "burn_in", low=0, allow_none=True)
        if burn_in is None:
            burn_in = n_iter // 2
        if burn_in >= n_iter:
            raise ValueError(
                f"burn_in={burn_in} must be smaller than n_iter={n_iter}, so that some draws "
                "are kept; raise n_iter or lower burn_in."
            )
        thin = check_int(self.thin, "thin", low=1)
        check_int(self.n_chains, "n_chains", low=1)
        sm = self.split_merge
        if isinstance(sm, (bool, np.bool_)):
            n_proposals = int(bool(sm))
        else:
            n_proposals = check_int(sm, "split_merge", low=0)
        check_bool(self.progress, "progress")
        check_random_state(self.random_state)
        return conc, prior, burn_in, thin, n_proposals

    # ------------------------------------------------------------------- fitting
    def fit(self, X, y=None, sample_weight=None):
        """Sample the posterior of the partition of ``X``.

        Parameters
        ----------
        X : array-like or DataFrame, (n_samples, n_features)
        y : ignored
        sample_weight : array-like (n_samples,) of non-negative integers, optional
            Frequency weights: a row of weight ``w`` counts as ``w`` identical rows.

        Returns
        -------
        self
        """
        conc, prior, burn_in, thin, n_proposals = self._check_params()
        X, names = check_X(X, min_samples=2)
        n_rows, n_features = X.shape
        w = check_sample_weight(sample_weight, n_rows)
        if sample_weight is not None and not np.array_equal(w, np.round(w)):
            bad = int(np.argmax(w != np.round(w)))
            raise ValueError(
                f"sample_weight must hold integer frequency counts for DirichletProcessMixture "
                f"(a row of weight w is w identical observations), got {w[bad]} at row {bad}; "
                "round the weights (np.round) or repeat the rows instead."
            )
        reps = w.astype(np.int64)
        if reps.sum() < 2:
            raise ValueError(
                "sample_weight gives positive weight to fewer than 2 rows; a mixture needs "
                "at least 2 weighted samples."
            )
        Xe = np.repeat(X, reps, axis=0)
        n = Xe.shape[0]
        # The chains run on the rows sorted lexicographically, so the draws do not
        # depend on the order of the rows (integer weights then equal repeated rows
        # in any order); results are mapped back to the rows of X.
        order = np.lexsort(Xe.T[::-1])
        Xe = Xe[order]
        internal = np.empty(n, dtype=np.int64)
        internal[order] = np.arange(n)
        present = reps > 0
        row_pos = internal[(np.cumsum(reps) - reps)[present]]  # first copy of each row

        prior_data = prior.resolve(Xe, None, n_components=1)
        m = _prepare(Xe, prior_data)
        std, p, Xs = m.standardiser, m.prior, m.X
        kernel_prior = m.kernel_prior

        n_chains = self.n_chains
        kept = np.arange(burn_in, self.n_iter, thin)
        n_kept = kept.size
        work_dtype = _label_dtype(n - 1)
        labels_out = np.full((n_chains, n_kept, n_rows), -1, dtype=work_dtype)
        full_out = np.empty((n_chains, n_kept, n), dtype=work_dtype)
        n_clusters = np.empty((n_chains, n_kept), dtype=np.int64)
        log_joint = np.empty((n_chains, n_kept))
        alphas = np.empty((n_chains, n_kept))
        sm_counts = np.zeros((n_chains, 4), dtype=np.int64)
        learned = isinstance(conc, Gamma)
        log_jac = -n * n_features * std.log_scale

        root = check_random_state(self.random_state)
        streams = np.random.SeedSequence(int(root.integers(0, 2**63))).spawn(n_chains)
        progress = _Progress(n_chains * self.n_iter, bool(self.progress))

        def run_chain(c: int) -> None:
            rng = np.random.Generator(np.random.PCG64(streams[c]))
            alpha = float(rng.gamma(conc.shape, 1.0 / conc.rate)) if learned else float(conc)
            labels = self._initial_labels(Xs, alpha, rng)
            K = int(labels.max()) + 1
            canon = np.empty(n, dtype=np.int64)
            row_canon = np.empty(row_pos.size, dtype=np.int64)
            map_work = np.empty(n, dtype=np.int64)
            s = 0
            for it in range(self.n_iter):
                keep = s < n_kept and it == kept[s]
                log_alpha = math.log(alpha)
                if n_proposals:
                    seed = int(rng.integers(0, 2**63))
                    K = split_merge(
                        Xs,
                        labels,
                        K,
                        kernel_prior,
                        log_alpha,
                        n_proposals,
                        LAUNCH_SCANS,
                        seed,
                        sm_counts[c],
                    )
                seed = int(rng.integers(0, 2**63))
                K, part = gibbs_sweep(
                    Xs, labels, K, m.log_prior_pred, kernel_prior, log_alpha, seed, keep
                )
                if learned:
                    alpha = _escobar_west(rng, alpha, K, n, conc)
                if keep:
                    canonical_labels(labels, canon, map_work)
                    full_out[c, s] = canon
                    canonical_labels(canon[row_pos], row_canon, map_work)
                    labels_out[c, s, present] = row_canon
                    n_clusters[c, s] = K
                    alphas[c, s] = alpha
                    lj = part + K * math.log(alpha) + math.lgamma(alpha) - math.lgamma(alpha + n)
                    if learned:
                        lj += (
                            conc.shape * math.log(conc.rate)
                            - math.lgamma(conc.shape)
                            + (conc.shape - 1.0) * math.log(alpha)
                            - conc.rate * alpha
                        )
                    log_joint[c, s] = lj + log_jac
                    s += 1
                progress.tick()

        n_threads = min(n_chains, _n_threads())
        try:
            if n_threads > 1:
                with ThreadPoolExecutor(n_threads, thread_name_prefix="bayesmix-gibbs") as pool:
                    for fut in [pool.submit(run_chain, c) for c in range(n_chains)]:
                        fut.result()
            else:
                for c in range(n_chains):
                    run_chain(c)
        finally:
            progress.close()

        max_label = int(n_clusters.max()) - 1
        dtype = _label_dtype(max_label)
        self.labels_samples_ = labels_out.astype(dtype, copy=False)
        self._labels_full = full_out.astype(dtype, copy=False)  # rows of self._X_fit
        self.n_clusters_samples_ = n_clusters
        self.log_joint_samples_ = log_joint
        if learned:
            self.concentration_samples_ = alphas
        elif hasattr(self, "concentration_samples_"):
            del self.concentration_samples_
        self._alphas = alphas
        self.concentration_ = float(alphas.mean()) if learned else float(conc)
        self.split_merge_counts_ = sm_counts
        proposed = sm_counts[:, 0] + sm_counts[:, 2]
        accepted = sm_counts[:, 1] + sm_counts[:, 3]
        with np.errstate(invalid="ignore", divide="ignore"):
            self.split_merge_acceptance_ = np.where(proposed > 0, accepted / proposed, np.nan)

        self._standardiser = std
        self._prior = p
        self.component_prior_ = prior_data
        self._X_fit = Xs
        self._X_rows = X[present]  # the rows with weight, in data units, for posterior()
        self._w_rows = reps[present].astype(np.float64)
        self._rows_present = present
        self._row_pos = row_pos  # each present row's first copy among the rows of _X_fit
        self._n_fit = n
        self._train_key = _data_key(X)
        self._predictive_cache = None
        self.n_features_in_ = n_features
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.n_iter_ = self.n_iter
        self.rhat_ = _split_rhat(log_joint)
        limit = _rhat_limit(n_chains, n_kept)
        self.converged_ = not (self.rhat_ > limit)
        self._set_point_partition(X, present, row_pos)
        if not self.converged_:
            warnings.warn(
                f"The {n_chains} chain(s) disagree: split R-hat of the log joint is "
                f"{self.rhat_:.3f} > {limit:.3f}. Run longer (raise n_iter and burn_in), "
                "keep split_merge on, or check the prior (component_prior) against the scale "
                "of the data.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _initial_labels(self, Xs, alpha, rng):
        """A k-means++ partition into about the prior expected number of clusters
        (its random seeding makes the chains start apart)."""
        n = Xs.shape[0]
        k0 = int(np.clip(round(alpha * math.log1p(n / alpha)), 1, n))
        Xt = np.ascontiguousarray(Xs.T)
        w = np.ones(n)
        labels = _assign(Xt, w, kmeans_plusplus(Xt, w, k0, rng))[0]
        _, labels = np.unique(labels, return_inverse=True)  # drop empty clusters
        return np.ascontiguousarray(labels, dtype=np.int64)

    # -------------------------------------------------------------- summaries
    def _partitions(self, max_draws: int):
        """Indices ``(chain, draw)`` of up to ``max_draws`` evenly spaced kept draws."""
        n_chains, n_kept = self.n_clusters_samples_.shape
        total = n_chains * n_kept
        flat = np.unique(np.linspace(0, total - 1, min(total, max_draws)).round().astype(int))
        return np.divmod(flat, n_kept)

    def _set_point_partition(self, X, present, row_pos):
        """Dahl's (2006) least-squares draw among evenly spaced kept draws, and
        the NIW summaries of its clusters."""
        n = self._n_fit
        n_total = self.n_clusters_samples_.size
        n_refs = int(min(n_total, 200, max(10, _DAHL_BUDGET // (100 * n))))
        n_cands = int(min(n_total, 100, max(5, _DAHL_BUDGET // (n_refs * n))))
        rc, rd = self._partitions(n_refs)
        cc, cd = self._partitions(n_cands)
        refs = np.ascontiguousarray(self._labels_full[rc, rd], dtype=np.int64)
        cands = np.ascontiguousarray(self._labels_full[cc, cd], dtype=np.int64)
        n_labels = int(max(refs.max(), cands.max())) + 1
        overlap = partition_overlap(cands, refs, n_labels)
        size_sq = np.array([np.sum(np.bincount(c).astype(float) ** 2) for c in cands])
        best = int(np.argmin(size_sq - 2.0 * overlap / refs.shape[0]))
        labels = cands[best]
        sizes = np.bincount(labels)
        order = np.argsort(-sizes, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        labels = rank[labels]
        K = order.size
        p = self._prior
        counts, mu, R, _ = cluster_posteriors(self._X_fit, labels, K, p.mean, p.scale, p.kappa)
        d = mu.shape[1]
        psi = np.swapaxes(R, 1, 2) @ R
        nun = p.dof + counts
        denom = np.where(nun > d + 1, nun - d - 1, nun + d + 1)
        s, c = self._standardiser.scale, self._standardiser.center
        self.weights_ = counts / counts.sum()
        self.means_ = mu * s + c
        self.covariances_ = psi / denom[:, None, None] * s**2
        self._point = (counts, mu, R)
        row_labels = np.empty(X.shape[0], dtype=np.int64)
        row_labels[present] = labels[row_pos]
        if not present.all():
            row_labels[~present] = self._point_proba(X[~present]).argmax(axis=1)
        self.labels_ = row_labels

    def _point_proba(self, X):
        """Probability of each point-partition cluster, proportional to ``n_k t_k(x)``,
        shape (n_rows, K)."""
        counts, mu, R = self._point
        means, prec, log_const, dof = self._t_components(counts, mu, R, np.log(counts))
        Xt = self._standardiser.transform(X)
        resp = np.empty((X.shape[0], counts.size))
        log_prob_pass(Xt, means, prec, log_const, row_lse=None, resp=resp, dof=dof)
        return resp

    def _t_components(self, counts, mu, R, log_weights):
        """Kernel arrays (``means, prec, log_const, dof``) of the Student-t
        predictives of clusters with NIW posteriors ``(counts, mu, R)``."""
        p = self._prior
        d = mu.shape[1]
        kn = p.kappa + counts
        dof = p.dof + counts - d + 1.0
        c = (kn + 1.0) / (kn * dof)  # t scale matrix = c Psi_n
        prec = np.empty(R.shape)
        upper_inverse(np.ascontiguousarray(R), prec)
        prec /= np.sqrt(c)[:, None, None]
        log_det_prec = np.log(np.diagonal(prec, axis1=1, axis2=2)).sum(axis=1)
        log_const = (
            log_weights
            + gammaln(0.5 * (dof + d))
            - gammaln(0.5 * dof)
            - 0.5 * d * np.log(dof * np.pi)
            + log_det_prec
        )
        return np.ascontiguousarray(mu), np.ascontiguousarray(prec), log_const, dof

    # ---------------------------------------------------------------- predictive
    def _predictive_chunks(self):
        """Yield kernel arrays of the posterior predictive mixture, chunk by chunk
        over up to ``MAX_PREDICTIVE_DRAWS`` kept draws (each draw weighted equally)."""
        if self._predictive_cache is not None:
            yield from self._predictive_cache
            return
        p = self._prior
        n = self._n_fit
        d = self._X_fit.shape[1]
        chains, draws = self._partitions(MAX_PREDICTIVE_DRAWS)
        log_n_draws = math.log(chains.size)
        R0 = np.linalg.cholesky(p.scale).T[None]
        chunk_rows = max(1, (32 * 2**20) // (8 * d * d))
        chunks, nbytes, buf = [], 0, []
        for c, s in zip(chains, draws, strict=True):
            alpha = self._alphas[c, s]
            labels = np.ascontiguousarray(self._labels_full[c, s], dtype=np.int64)
            K = int(self.n_clusters_samples_[c, s])
            counts, mu, R, _ = cluster_posteriors(self._X_fit, labels, K, p.mean, p.scale, p.kappa)
            log_norm = math.log(n + alpha) + log_n_draws
            buf.append(self._t_components(counts, mu, R, np.log(counts) - log_norm))
            buf.append(
                self._t_components(
                    np.zeros(1), p.mean[None], R0, np.array([math.log(alpha) - log_norm])
                )
            )
            if sum(b[0].shape[0] for b in buf) >= chunk_rows:
                chunk = tuple(np.concatenate(parts) for parts in zip(*buf, strict=True))
                buf = []
                nbytes += chunk[1].nbytes
                chunks.append(chunk)
                yield chunk
        if buf:
            chunk = tuple(np.concatenate(parts) for parts in zip(*buf, strict=True))
            nbytes += chunk[1].nbytes
            chunks.append(chunk)
            yield chunk
        if nbytes <= _CACHE_BYTES:
            self._predictive_cache = chunks

    def score_samples(self, X) -> np.ndarray:
        """Log of the posterior mean predictive density at each row of ``X``,
        shape (n_samples,)."""
        X = check_predict_X(self, X)
        Xt = self._standardiser.transform(X)
        total = np.full(X.shape[0], -np.inf)
        row_lse = np.empty(X.shape[0])
        for means, prec, log_const, dof in self._predictive_chunks():
            log_prob_pass(Xt, means, prec, log_const, row_lse=row_lse, dof=dof)
            total = np.logaddexp(total, row_lse)
        return total - X.shape[1] * self._standardiser.log_scale

    def predict_proba(self, X) -> np.ndarray:
        """Probability of each point-partition cluster for each row (posterior
        predictive given :attr:`labels_`), shape (n_samples, K)."""
        X = check_predict_X(self, X)
        return self._point_proba(X)

    def predict(self, X) -> np.ndarray:
        """:attr:`labels_` for the training data; otherwise the point-partition
        cluster of highest posterior predictive probability, shape (n_samples,)."""
        X = check_predict_X(self, X)
        if _data_key(X) == self._train_key:
            return self.labels_.copy()
        return self._point_proba(X).argmax(axis=1)

    def fit_predict(self, X, y=None, sample_weight=None) -> np.ndarray:
        """Fit, then return :attr:`labels_` (the point partition)."""
        return self.fit(X, sample_weight=sample_weight).labels_.copy()

    def _sampling_components(self):
        return self.means_, self.covariances_

    # ---------------------------------------------------------------- posterior
    def posterior(self, random_state=None):
        """The kept partitions, with component parameters drawn from the NIW
        posterior of each, wrapped in a :class:`~bayesmix.MixturePosterior`.

        Rows of zero weight carry no information and are left out; a row of
        integer weight ``w`` enters once, with weight ``w`` and the label of its
        first copy.
        """
        from .posterior import MixturePosterior

        rng = check_random_state(self.random_state if random_state is None else random_state)
        draws = self.posterior_draws(random_state=rng)
        present = self._rows_present
        return MixturePosterior.from_draws(
            draws["weights"],
            draws["means"],
            draws["covariances"],
            labels=np.ascontiguousarray(draws["labels"][:, :, present]),
            concentration=draws.get("concentration"),
            X=self._X_rows,
            sample_weight=self._w_rows,
            feature_names=getattr(self, "feature_names_in_", None),
            kind="gibbs",
            random_state=rng,
            sample_stats={"log_joint": draws["log_joint"]},
        )

    def posterior_draws(self, random_state=None) -> dict:
        """Component parameters drawn from the NIW posterior of every kept partition.

        Parameters
        ----------
        random_state : None, int or Generator, optional
            Seeds the parameter draws (``None``: this estimator's ``random_state``).

        Returns
        -------
        dict of numpy arrays, with ``K`` the largest number of clusters of any kept
        draw; in a draw with ``K_s < K`` clusters the slots ``K_s ..`` are unused
        (weight 0, NaN means and covariances).  Slot ``k`` is the cluster labelled
        ``k`` in ``labels``.

        ``weights`` (n_chains, n_draws, K)
            The occupied clusters' share of a draw from the posterior of the
            Dirichlet-process weights, ``Dirichlet(n_1, .., n_K, alpha)``; they sum
            to ``1 - weight_unoccupied``.
        ``weight_unoccupied`` (n_chains, n_draws)
            The total weight of all the clusters no row belongs to.
        ``means`` (n_chains, n_draws, K, n_features)
        ``covariances`` (n_chains, n_draws, K, n_features, n_features)
            ``Sigma_k ~ InvWishart(nu_n, Psi_n)``, ``mu_k | Sigma_k ~ N(m_n, Sigma_k / kappa_n)``,
            in data units.
        ``labels`` (n_chains, n_draws, n_samples)
            :attr:`labels_samples_`.
        ``n_clusters``, ``log_joint`` (n_chains, n_draws)
        ``concentration`` (n_chains, n_draws)
            Only when the concentration is learned.
        """
        check_fitted(self)
        rng = check_random_state(self.random_state if random_state is None else random_state)
        p = self._prior
        n_chains, n_kept = self.n_clusters_samples_.shape
        K = int(self.n_clusters_samples_.max())
        d = self._X_fit.shape[1]
        s, centre = self._standardiser.scale, self._standardiser.center
        weights = np.zeros((n_chains, n_kept, K))
        rest = np.empty((n_chains, n_kept))
        means = np.full((n_chains, n_kept, K, d), np.nan)
        covs = np.full((n_chains, n_kept, K, d, d), np.nan)
        tril = np.tril_indices(d, -1)
        present, row_pos = self._rows_present, self._row_pos
        for c in range(n_chains):
            for t in range(n_kept):
                k = int(self.n_clusters_samples_[c, t])
                labels = np.ascontiguousarray(self._labels_full[c, t], dtype=np.int64)
                # The sampler numbers clusters over its own (sorted, expanded) rows;
                # labels_samples_ renumbers them over the caller's rows.  Slot j of
                # the output is the cluster labelled j there.
                slot = np.full(k, -1, dtype=np.int64)
                slot[labels[row_pos]] = self.labels_samples_[c, t, present]
                spare = np.setdiff1d(np.arange(k), slot[slot >= 0])
                slot[slot < 0] = spare  # clusters of repeated copies only
                counts, mu, R, _ = cluster_posteriors(
                    self._X_fit, labels, k, p.mean, p.scale, p.kappa
                )
                wt = rng.dirichlet(np.append(counts.astype(float), self._alphas[c, t]))
                weights[c, t, slot] = wt[:k]
                rest[c, t] = wt[k]
                nun = p.dof + counts
                # Bartlett: Sigma^-1 = R^-1 A A^T R^-T ~ Wishart(nu, Psi^-1), so
                # Sigma = B^T B with B = A^-1 R.
                A = np.zeros((k, d, d))
                A[:, np.arange(d), np.arange(d)] = np.sqrt(
                    rng.chisquare(nun[:, None] - np.arange(d)[None, :])
                )
                A[:, tril[0], tril[1]] = rng.standard_normal((k, tril[0].size))
                B = np.linalg.solve(A, R)
                sigma = np.swapaxes(B, 1, 2) @ B
                z = rng.standard_normal((k, d, 1))
                mean = mu + (np.swapaxes(B, 1, 2) @ z)[..., 0] / np.sqrt(p.kappa + counts)[:, None]
                means[c, t, slot] = mean * s + centre
                covs[c, t, slot] = sigma * s**2
        out = {
            "weights": weights,
            "weight_unoccupied": rest,
            "means": means,
            "covariances": covs,
            "labels": self.labels_samples_,
            "n_clusters": self.n_clusters_samples_,
            "log_joint": self.log_joint_samples_,
        }
        if hasattr(self, "concentration_samples_"):
            out["concentration"] = self.concentration_samples_
        return out


def _data_key(X: np.ndarray) -> str:
    """A digest of an array's shape and bytes (to recognise the training data)."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    h = hashlib.blake2b(digest_size=16)
    h.update(np.asarray(X.shape, dtype=np.int64).tobytes())
    h.update(X.tobytes())
    return h.hexdigest()
