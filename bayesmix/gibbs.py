"""Dirichlet-process mixture of Gaussians by collapsed Gibbs sampling.

The estimator shell: parameters and their checks, the orchestration of a fit,
the stored draws, and predict / score / posterior.  The pieces it orchestrates
each live in one module:

``_gibbs_model``
    the sampler's rows (identical rows merged into rows of integer weight,
    whose copies a few rows hold; canonical order) and the standardised NIW
    model the kernels read;
``_gibbs_core``
    the chain as pure ``init`` / ``step`` functions and the chains' runner
    (one jitted call per Gibbs sweep, one per iteration's split-merge
    proposals, ``_kernels/_gibbs.py``);
``_gibbs_summary``
    the point partition, the posterior predictive and the parameter draws;
``_gibbs_missing``
    missing values (NaN cells): the joint update of a row's cluster and
    missing cells, scores on observed features, ``impute``;
``_progress``
    the progress bar.

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

import warnings

import numpy as np

from . import _compile
from . import _gibbs_missing as _gm
from ._base import BaseMixture
from ._data import Patterns, Standardiser
from ._diagnostics import RHAT_THRESHOLD, bulk_ess, rhat_limit, split_rhat
from ._gibbs_core import AUTO_MIN_ESS, Draws, run_auto, run_chains
from ._gibbs_hyper import prepare, prior_at, resolve_prior, summarise_hyper
from ._gibbs_model import data_key, label_dtype, reject_positional_seed, sampler_rows
from ._gibbs_summary import (
    MAX_PREDICTIVE_DRAWS,
    allocation_proba,
    draw_parameters,
    evenly_spaced,
    kept_per_chain,
    point_partition,
    point_summary,
    predictive_chunks,
    t_predictives,
)
from ._kernels import log_prob_pass
from ._kernels._gibbs import cluster_posteriors
from ._progress import Progress
from ._validation import (
    check_bool,
    check_fitted,
    check_frequency_counts,
    check_int,
    check_n_draws,
    check_predict_X,
    check_prior_against_data,
    check_random_state,
    check_sample_weight,
    check_weighted_rows,
    check_X,
    describe_prior_field,
)
from .exceptions import ConvergenceWarning, NonFiniteStateError
from .priors import DirichletProcess, Gamma, NormalInverseWishart

__all__ = ["DirichletProcessMixture"]

_CACHE_BYTES = 256 * 2**20  # predictive components cached up to this size
MAX_POSTERIOR_DRAWS = 1000  # kept draws per chain posterior() uses by default
AUTO_TIME_BUDGET = 60.0  # seconds of sampling an n_iter="auto" fit may take
AUTO_MAX_ITER = 20_000  # iterations per chain an n_iter="auto" fit may take


# ----------------------------------------------------------------------- estimator
def _copies_note(n_copies: int, n_rows: int) -> str:
    """What a warning about run length adds when the frequency weights of rows
    with missing cells made the sampler's rows many times the caller's."""
    if n_copies < 10 * n_rows:
        return ""
    return (
        f" Rows with missing cells are held once per copy (each copy's cells are drawn "
        f"apart): the weights make {n_copies} sampler rows of your {n_rows}, and an "
        f"iteration costs as much as {n_copies} rows."
    )


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
        Prior of each cluster's mean and covariance (the base measure).
        ``None`` (and every ``None`` field) means: mean the data mean,
        ``kappa = 0.01`` (Fraley & Raftery 2007), ``scale =``
        :class:`~bayesmix.priors.RandomScale` ``()`` -- ``scale = 2 b
        diag(R_f^2)``, ``R_f`` the range of feature ``f``, ``b ~ Gamma(0.2,
        10)``, learned with the partition (Richardson & Green 1997) -- and
        ``dof = n_features + 3`` (their ``sigma^-2 ~ Gamma(2, beta)``), or
        ``n_features + 2`` with an explicit scale.  ``kappa=Gamma(a, r)``
        learns ``kappa`` too (Escobar & West 1995 use ``Gamma(0.5, 50)``).
        Explicit values are used exactly; see ``docs/user_guide/priors.rst``.
    n_iter : int or "auto", default="auto"
        Iterations per chain, burn-in included.  One iteration is the
        hyperparameter update, the split-merge proposals, one Gibbs sweep over
        every row, and (when learned) one concentration update.  ``"auto"``
        runs the chains in blocks (``AUTO_FIRST_BLOCK = 50`` iterations, fewer
        if they would overrun the time budget, then half the iterations so
        far) and stops once the split R-hat of the log joint and of the
        number of clusters are at most 1.01 and the bulk ESS
        of the log joint over all chains is at least ``AUTO_MIN_ESS = 400``
        (Vehtari et al. 2021), or when ``AUTO_TIME_BUDGET = 60`` seconds of
        sampling (not counting the kernels' compilation on a first fit) or
        ``AUTO_MAX_ITER = 20000`` iterations are spent (then a
        :class:`~bayesmix.exceptions.ConvergenceWarning` gives the figures and
        the cure).  The first half of each chain is burn-in.  :attr:`n_iter_`
        says how long it ran.  The draws are reproducible from the seed unless
        the time budget ended the run.
    burn_in : int, optional
        Iterations discarded at the start of each chain; ``None`` means
        ``n_iter // 2`` (only ``None`` with ``n_iter="auto"``).
    thin : int, default=1
        Keep every ``thin``-th iteration after burn-in.
    n_chains : int, default=4
        Independent chains, each with its own random stream spawned from
        ``random_state``.  Chain ``c`` of ``C`` is given ``K_c = 1 + round((K0
        - 1) c / (C - 1))`` clusters, ``K0 = alpha log(1 + n / alpha)`` the
        prior expected number: the first starts from one cluster, each other
        from the most probable (``log p(c | X)``) of the k-means partitions
        into ``K_c .. K_c + K0`` clusters: apart, as Gelman & Rubin (1992)
        ask, mostly from below, because split moves repair too few clusters
        whereas merges rarely repair too many in high dimension, but not in a
        partition no split can leave (k-means pairing well-separated
        clusters; see the user guide's "choosing K").  With a
        learned scale, its hyperparameter is first drawn ``HYPER_WARMUP = 20``
        times given the starting partition.  Chains run on a thread pool over
        the available cores (``BAYESMIX_NUM_THREADS`` caps it); the result does
        not depend on the number of threads.
    split_merge : bool, int or "auto", default="auto"
        Split-merge proposals per iteration: ``"auto"`` is ``ceil(K / 2)`` for
        a state of ``K`` clusters (a proposal works on about ``2 n / K`` rows,
        so an iteration's proposals touch about ``n`` rows, and every pair of
        clusters keeps being proposed however many there are); ``True`` is
        one, ``False`` or 0 none, an integer that many.  Each launch state is
        drawn by sequential allocation of the two clusters' rows in a random
        order (Dahl 2005), then ``LAUNCH_SCANS = 1`` restricted Gibbs scan
        (Jain & Neal 2004).
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
        cluster of (the first group of) its ``w`` copies, which may be parted.
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
        The resolved prior, in data units; learned hyperparameters at their
        posterior means (the prior of :attr:`means_` and :attr:`covariances_`).
    scale_samples_ : (n_chains, n_kept, n_features) float
        Diagonal of the learned NIW ``scale`` of each kept draw, data units
        (only under a ``RandomScale``).
    kappa_samples_ : (n_chains, n_kept) float
        Only when ``kappa`` is learned.
    converged_ : bool
        The rank-normalised split R-hat of the log joint (Vehtari et al. 2021:
        bulk and folded draws; :func:`bayesmix._diagnostics.split_rhat`, the
        R-hat of the posterior layer too) is at most 1.01, or, for short runs,
        the larger value that independent draws would reach only by a
        four-sigma fluctuation.  A single chain is judged by its two halves.
        True when R-hat cannot be computed (fewer than 4 kept draws per chain,
        8 for a single chain, or a constant log joint).  Otherwise a
        :class:`~bayesmix.exceptions.ConvergenceWarning` says what to change.
    rhat_ : float
        That R-hat (NaN when it cannot be computed).
    ess_ : float
        Bulk effective sample size of the log joint over all chains (NaN when
        it cannot be computed).  Under ``n_iter="auto"``, ``converged_`` means
        every stopping criterion was met.
    n_iter_ : int
        Iterations run per chain, burn-in included.
    chain_restarts_ : (n_restarts, 3) float
        Under ``n_iter="auto"``: chains that, at a check the chains failed
        (their draws so far then become burn-in), explored a mode holding an
        estimated ``e^10`` times less posterior mass than the best chain's
        (``RESTART_GAP = 10`` nats: mean log joint plus the entropy of the
        partitions visited; or five of the chains' standard deviations of the
        log joint, if more), and so continued from that chain's state with
        their own random stream: ``[chain, chain it continued from, gap in
        nats]`` (on scikit-learn's breast cancer table one chain in four can
        settle about 22 nats below, in a mode no move leaves).  Empty when none
        was restarted, for an integer ``n_iter`` and for data with missing
        values.
    pieces_blocked_ : int
        Moves of a weighted row's copies left out because its copies already
        sat in ``MAX_PIECES = 32`` clusters (Notes, *Frequency weights*); 0
        unless a row of weight above 32 had its copies in 32 clusters at once.
    imputed_samples_ : (n_chains, n_kept, n_missing) float
        Draws of the training data's missing cells (NaN in ``X``), data units,
        one column per NaN cell of the rows of positive weight (row-major).
    n_features_in_, feature_names_in_ :
        As in scikit-learn.

    Notes
    -----
    *Cost.*  Every cluster keeps the upper Cholesky factor of its NIW
    posterior scale matrix; a row that changes cluster costs a rank-one
    downdate and a rank-one update, ``O(D^2)``, and evaluating the Student-t
    predictive of a row under ``K`` clusters costs ``K`` triangular solves.

    *Hyperpriors.*  Under the default prior each iteration first updates the
    learned hyperparameters given the partition (``_gibbs_hyper``): with
    ``kappa`` fixed, ``b`` is drawn from its conditional given the partition
    alone, the cluster parameters integrated out, by slice sampling (Neal
    2003); when ``kappa`` is learned too, the clusters' parameters are drawn
    from their NIW posteriors, then ``b`` and ``kappa`` from their conjugate
    conditionals; ``log_joint_samples_`` then
    includes ``log p(b)`` (and ``log p(kappa)``), and every kept draw's
    predictive and parameter draws use that draw's hyperparameters.

    *Missing values.*  NaN cells are missing at random: each iteration
    first draws, for every row with holes, its cluster from the predictive
    marginalised onto its observed features and then its missing cells from
    the conditional Student-t (one exact Gibbs block); the rest of the
    iteration runs on the completed rows (``_gibbs_missing``,
    ``docs/user_guide/missing_values.rst``).  Scores, predictions,
    :meth:`impute` and the per-row summaries of :meth:`posterior` use each
    row's observed features; :attr:`means_` and
    :attr:`covariances_` summarise the point partition's rows with their
    missing cells at their posterior means.  Complete data take the old
    path, bit for bit.

    *Frequency weights.*  ``sample_weight`` must hold non-negative integers:
    a row of weight ``w`` is ``w`` identical observations, so the model is
    exactly that of ``np.repeat(X, w, axis=0)``, and a row given twice or
    once with weight 2 gives the same draws for the same seed.  The chains
    run on the distinct rows in lexicographic order, so the draws do not
    depend on the order of the rows either.  Non-integer weights are
    rejected, since a fractional observation has no meaning in a partition.
    Copies are not repeated: a distinct row of weight ``w >= 2`` is held by
    ``min(w, MAX_PIECES = 32)`` sampler rows, each holding some of its copies
    in one cluster (the state is the number of its copies in each cluster),
    and each iteration moves them in groups (``_kernels._gibbs.piece_moves``:
    exact by enumeration against the repeated rows), so memory and time grow
    with the number of distinct rows, not with ``sum(w)`` (counted exactly up
    to ``2**53``).  A row's copies can sit in at most 32 clusters at once;
    :attr:`pieces_blocked_` counts the moves that this left out (none for
    weights up to 32).  Rows with missing cells are held once per copy (at
    most 1e8).  Exact copies favour
    clusters of their own (a Gaussian fits identical points best as narrow as
    the prior allows), so large weights give many clusters; see the user
    guide, "Sample weights".

    *Scores.*  :meth:`score_samples` is the log of the posterior mean of the
    predictive density, averaged over up to ``MAX_PREDICTIVE_DRAWS = 1000``
    evenly spaced kept draws: given a partition, the predictive of a new row
    is ``sum_k n_k / (n + alpha) t_k(x) + alpha / (n + alpha) t_0(x)`` with
    ``t_k`` the Student-t predictive of cluster ``k`` and ``t_0`` that of the
    prior.  :meth:`predict` returns :attr:`labels_` for the training data and
    otherwise assigns each row to the point-partition cluster of highest
    ``n_k t_k(x)``; :meth:`predict_proba` normalises those for new rows and,
    for the training rows, comes from the allocation draws.  :meth:`sample`
    draws from the Gaussian summary (``weights_``, ``means_``,
    ``covariances_``).

    References
    ----------
    Neal (2000), JCGS 9, 249-265, algorithm 3; Jain & Neal (2004), JCGS 13,
    158-182; Dahl (2005), *Sequentially-allocated merge-split sampler for
    conjugate and nonconjugate Dirichlet process mixture models*, Texas A&M
    tech. rep.; Escobar & West (1995), JASA 90, 577-588; Neal (2003), *Slice
    sampling*, Ann. Statist. 31, 705-767; Gelman & Rubin (1992), Statist. Sci.
    7, 457-472; Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021),
    Bayesian Analysis 16, 667-718; Dahl (2006); Murphy (2007), *Conjugate
    Bayesian analysis of the Gaussian distribution*.
    """

    def __init__(
        self,
        concentration: float | Gamma | DirichletProcess = 1.0,
        component_prior: NormalInverseWishart | None = None,
        *,
        n_iter: int | str = "auto",
        burn_in: int | None = None,
        thin: int = 1,
        n_chains: int = 4,
        split_merge: bool | int | str = "auto",
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
        burn_in = check_int(self.burn_in, "burn_in", low=0, allow_none=True)
        if isinstance(self.n_iter, str):
            if self.n_iter != "auto":
                raise TypeError(
                    f"n_iter must be a positive integer or 'auto', got {self.n_iter!r}."
                )
            if burn_in is not None:
                raise ValueError(
                    "burn_in applies to an integer n_iter; with n_iter='auto' the first half "
                    "of each chain is burn-in. Pass an integer n_iter, or leave burn_in=None."
                )
            n_iter = None
        else:
            n_iter = check_int(self.n_iter, "n_iter", low=1)
        if n_iter is not None and burn_in is None:
            burn_in = n_iter // 2
        if n_iter is not None and burn_in >= n_iter:
            raise ValueError(
                f"burn_in={burn_in} must be smaller than n_iter={n_iter}, so that some draws "
                "are kept; raise n_iter or lower burn_in."
            )
        thin = check_int(self.thin, "thin", low=1)
        check_int(self.n_chains, "n_chains", low=1)
        sm = self.split_merge
        if isinstance(sm, str):
            if sm != "auto":
                raise TypeError(
                    f"split_merge must be True, False, a non-negative integer or 'auto', "
                    f"got {sm!r}."
                )
            n_proposals = -1
        elif isinstance(sm, (bool, np.bool_)):
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
        X, names = check_X(X, min_samples=2, allow_nan=True)  # NaN: missing (_gibbs_missing)
        n_features = X.shape[1]
        w = check_sample_weight(sample_weight, X.shape[0])
        reps = check_frequency_counts(w, type(self).__name__, np.isnan(X).any(axis=1))
        Standardiser(X, w)  # refuses data outside the supported scale range, before the prior
        # One row of weight 3 is three observations, as np.repeat(X, w, axis=0)
        # would give; identical complete rows are merged, their copies held by
        # at most MAX_PIECES sampler rows (_gibbs_model.sampler_rows).
        rows = sampler_rows(X, reps)
        check_weighted_rows(np.ones(min(int(rows.mult.sum()), 2)))

        X_start, missing = _gm.fill_start(rows.X)  # missing cells start at feature means
        weighted = rows.atoms[0].size > 0
        expanded = int(reps[np.isnan(X).any(axis=1)].sum())  # copies of rows with holes
        prior_data = resolve_prior(prior, X_start, rows.mult if weighted else None)
        model, hyper = prepare(X_start, prior_data, rows)
        model = model._replace(missing=missing)
        check_prior_against_data(
            model.prior, self.component_prior, check_scale=hyper is None or hyper.scale is None
        )
        _compile.compile_first(_compile.GIBBS)
        n = model.X.shape[0]
        n_chains = self.n_chains
        root = check_random_state(self.random_state)
        streams = np.random.SeedSequence(int(root.integers(0, 2**63))).spawn(n_chains)
        auto = burn_in is None
        if auto:
            progress = Progress(
                None,
                bool(self.progress),
                note=f" (n_iter='auto': until R-hat <= {RHAT_THRESHOLD} and ESS >= "
                f"{AUTO_MIN_ESS}, at most {AUTO_TIME_BUDGET:.0f} s)",
            )
        else:
            progress = Progress(n_chains * self.n_iter, bool(self.progress))
        try:
            if auto:
                draws, report = run_auto(
                    model,
                    rows,
                    conc,
                    n_proposals,
                    thin,
                    streams,
                    progress.tick,
                    hyper,
                    AUTO_TIME_BUDGET,
                    AUTO_MAX_ITER,
                )
            else:
                kept = np.arange(burn_in, self.n_iter, thin)
                draws = run_chains(
                    model, rows, conc, n_proposals, self.n_iter, kept, streams, progress.tick, hyper
                )
                report = None
        except NonFiniteStateError as exc:
            raise NonFiniteStateError(
                f"{exc} Check {describe_prior_field(self.component_prior, 'mean')} and "
                f"{describe_prior_field(self.component_prior, 'scale')} against the scale of "
                "the data."
            ) from None
        finally:
            progress.close()

        dtype = label_dtype(int(draws.n_clusters.max()) - 1)
        learned = isinstance(conc, Gamma)
        self.labels_samples_ = draws.labels.astype(dtype, copy=False)
        self._labels_full = draws.labels_full.astype(dtype, copy=False)  # rows of self._X_fit
        # the copies each row of self._X_fit holds, per kept draw and at the start
        # (None: one each); the rows holding each weighted row's copies
        self._mult_full = draws.mult_full
        self._mult0 = model.mult
        self._atom_start, self._atom_len = model.layout[1]
        self.pieces_blocked_ = draws.pieces_blocked
        if self.pieces_blocked_:
            warnings.warn(
                f"{self.pieces_blocked_} moves of a weighted row's copies were left out: its "
                "copies already sat in MAX_PIECES = 32 clusters, the most a row's copies may "
                "occupy at once, so the draws are those of the posterior restricted to such "
                "partitions. Rows of weight above 32 spread this thin usually mean weights that "
                "are not counts of identical observations: see the user guide, Sample weights.",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.n_clusters_samples_ = draws.n_clusters
        self.log_joint_samples_ = draws.log_joint
        if learned:
            self.concentration_samples_ = draws.alphas
        elif hasattr(self, "concentration_samples_"):
            del self.concentration_samples_
        self._alphas = draws.alphas
        self.concentration_ = float(draws.alphas.mean()) if learned else float(conc)
        sm_counts = draws.split_merge
        self.split_merge_counts_ = sm_counts
        proposed = sm_counts[:, 0] + sm_counts[:, 2]
        accepted = sm_counts[:, 1] + sm_counts[:, 3]
        with np.errstate(invalid="ignore", divide="ignore"):
            self.split_merge_acceptance_ = np.where(proposed > 0, accepted / proposed, np.nan)

        present = rows.present
        self._standardiser = model.standardiser
        self._set_hyper(model, hyper, draws)
        self._X_fit = model.X  # completed at the start values where cells are missing
        # flat indices into _X_fit of the missing cells, drawn per kept draw in _imputed
        self._hole_cells = None if missing is None else _gm.holes_of(missing).cells
        self._imputed = draws.imputed
        self._X_rows = X[present]  # the rows with weight, in data units, for posterior()
        if missing is not None:  # ... complete: missing cells at their posterior means
            train = (self._fill_at, rows.row_pos, np.ones(self._X_rows.shape[0], bool), (1, 1))
            self._X_rows = _gm.impute(self._X_rows, None, None, model.standardiser, None, train)
        self._w_rows = reps[present].astype(np.float64)
        self._rows_present = present
        self._row_pos = rows.row_pos  # each present row's first copy among the rows of _X_fit
        self._n_fit = n
        self._train_key = data_key(X)
        self._predictive_cache = None
        self.n_features_in_ = n_features
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.rhat_ = split_rhat(draws.log_joint)
        limit = rhat_limit(*draws.log_joint.shape)
        self.converged_ = not (self.rhat_ > limit)
        self._set_point_partition(X)
        if report is not None:
            self.n_iter_ = report.n_iter
            self.ess_ = report.ess
            self.converged_ = report.converged
            self.chain_restarts_ = report.restarts
            if not report.converged:
                warnings.warn(
                    f"n_iter='auto' stopped after {report.n_iter} iterations per chain "
                    f"({report.seconds:.0f} s; budget AUTO_TIME_BUDGET = {AUTO_TIME_BUDGET:.0f} "
                    f"s, cap AUTO_MAX_ITER = {AUTO_MAX_ITER}) before the chains agreed: split "
                    f"R-hat of the log joint {report.rhat:.3f} and of the number of clusters "
                    f"{report.rhat_k:.3f} (want <= {RHAT_THRESHOLD}), bulk ESS of the log "
                    f"joint {report.ess:.0f} (want >= {AUTO_MIN_ESS}). Pass a larger integer "
                    f"n_iter (e.g. n_iter={4 * report.n_iter}) to run longer."
                    + _copies_note(expanded, int(present.sum())),
                    ConvergenceWarning,
                    stacklevel=2,
                )
            return self
        self.n_iter_ = self.n_iter
        self.chain_restarts_ = np.empty((0, 3))
        self.ess_ = bulk_ess(draws.log_joint)
        if not self.converged_:
            warnings.warn(
                f"The {n_chains} chain(s) disagree: split R-hat of the log joint is "
                f"{self.rhat_:.3f} > {limit:.3f}. Run longer (raise n_iter and burn_in), "
                "keep split_merge on, or check the prior (component_prior) against the scale "
                "of the data." + _copies_note(expanded, int(present.sum())),
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _set_hyper(self, model, hyper, draws):
        """The hyperparameter draws, the point summary's prior, ``component_prior_``."""
        for name in ("scale_samples_", "kappa_samples_"):
            if hasattr(self, name):
                delattr(self, name)
        self._hyper_b, self._hyper_kappa = draws.hyper_b, draws.hyper_kappa
        out = summarise_hyper(model, hyper, draws.hyper_b, draws.hyper_kappa)
        self._scale_base, self._prior, self.component_prior_, scale, kappa = out
        if scale is not None:
            self.scale_samples_ = scale
        if kappa is not None:
            self.kappa_samples_ = kappa

    def _prior_at(self, c, s):
        """The standardised prior of kept draw ``s`` of chain ``c``."""
        if getattr(self, "_hyper_kappa", None) is None:  # fixed prior (or a 0.1.0 file)
            return self._prior
        b = self._hyper_b[c, s]
        return prior_at(self._prior, self._scale_base, b, self._hyper_kappa[c, s])

    def _kept(self) -> Draws:
        """The stored draws, as the sampler returned them (no copies)."""
        return Draws(
            self.labels_samples_,
            self._labels_full,
            self.n_clusters_samples_,
            self.log_joint_samples_,
            self._alphas,
            self.split_merge_counts_,
            mult_full=getattr(self, "_mult_full", None),
        )

    def _mult_at(self, c, s) -> np.ndarray:
        """The copies each row of ``_X_fit`` holds in kept draw ``s`` of chain ``c``."""
        mult = getattr(self, "_mult_full", None)
        if mult is None:
            return np.ones(self._X_fit.shape[0], dtype=np.int64)
        return np.ascontiguousarray(mult[c, s], dtype=np.int64)

    def _start_mult(self) -> np.ndarray:
        """The copies each row of ``_X_fit`` stands for (all of a weighted row's on
        its first holder)."""
        mult = getattr(self, "_mult0", None)
        if mult is None:
            return np.ones(self._X_fit.shape[0], dtype=np.int64)
        return np.asarray(mult, dtype=np.int64)

    def _atoms(self):
        """``(atom_start, atom_len)`` of the weighted rows, or None."""
        start = getattr(self, "_atom_start", None)
        if start is None or start.size == 0:
            return None
        return start, self._atom_len

    def _collapsed(self, chains, draws) -> np.ndarray:
        """The kept draws' labels of ``_X_fit``'s rows (n_draws, n_fit), every
        holder of a weighted row's copies labelled with the cluster holding
        most of them (the point partition keeps a row's copies together)."""
        labels = self._labels_full[chains, draws].astype(np.int64)
        atoms = self._atoms()
        if atoms is None:
            return labels
        mult = self._mult_full[chains, draws]
        for start, length in zip(*atoms, strict=True):
            top = start + np.argmax(mult[:, start : start + length], axis=1)
            labels[:, start : start + length] = labels[np.arange(labels.shape[0]), top][:, None]
        return labels

    # -------------------------------------------------------------- summaries
    def _set_point_partition(self, X):
        """Dahl's (2006) least-squares draw and the NIW summaries of its clusters;
        ``X`` the caller's rows (rows of zero weight get their most probable
        cluster)."""
        self._point_full = None
        labels = self._point_full = self._point_labels()
        p = self._prior
        K = int(labels.max()) + 1
        Xs = self._fill_at(None, None)
        mult = self._start_mult()
        counts, mu, R, _ = cluster_posteriors(Xs, mult, labels, K, p.mean, p.scale, p.kappa)
        self.weights_, self.means_, self.covariances_ = point_summary(
            p, self._standardiser, counts, mu, R
        )
        self._point = (counts, mu, R)
        present = self._rows_present
        row_labels = np.empty(X.shape[0], dtype=np.int64)
        row_labels[present] = labels[self._row_pos]
        if not present.all():
            row_labels[~present] = self._point_proba(X[~present]).argmax(axis=1)
        self.labels_ = row_labels

    def _fill_at(self, c, s):
        """The sampler's rows (standardised) completed with the missing cells of
        kept draw ``s`` of chain ``c`` (``None``: their posterior means)."""
        if getattr(self, "_hole_cells", None) is None:
            return self._X_fit
        Xs = self._X_fit.copy()
        imp = self._imputed
        Xs.ravel()[self._hole_cells] = imp.mean(axis=(0, 1)) if c is None else imp[c, s]
        return Xs

    def _point_proba(self, X):
        """Probability of each point-partition cluster, proportional to ``n_k t_k(x)``,
        shape (n_rows, K); a row with NaN cells by its observed features."""
        counts, mu, R = self._point
        comps = t_predictives(self._prior, counts, mu, R, np.log(counts))
        means, prec, log_const, dof = comps
        Xt = self._standardiser.transform(X)
        patterns = Patterns.of(X)
        if patterns is not None:
            return _gm.marginal_pass([comps], Xt, patterns, want_resp=True)[1][0][2]
        resp = np.empty((X.shape[0], counts.size))
        log_prob_pass(Xt, means, prec, log_const, row_lse=None, resp=resp, dof=dof)
        return resp

    # ---------------------------------------------------------------- predictive
    def _predictive_chunks(self):
        """Yield kernel arrays of the posterior predictive mixture, chunk by chunk
        over up to ``MAX_PREDICTIVE_DRAWS`` kept draws (each draw weighted equally);
        kept for later calls when they fit in ``_CACHE_BYTES``."""
        if self._predictive_cache is not None:
            yield from self._predictive_cache
            return
        chains, draws = evenly_spaced(*self.n_clusters_samples_.shape, MAX_PREDICTIVE_DRAWS)
        chunks, nbytes = [], 0
        for chunk in predictive_chunks(
            self._prior_at,
            self._X_fit,
            self._labels_full,
            self.n_clusters_samples_,
            self._alphas,
            chains,
            draws,
            fill=self._fill_at,
            mult_at=self._mult_at,
        ):
            nbytes += chunk[1].nbytes
            chunks.append(chunk)
            yield chunk
        if nbytes <= _CACHE_BYTES:
            self._predictive_cache = chunks

    def score_samples(self, X) -> np.ndarray:
        """Log of the posterior mean predictive density at each row of ``X``,
        shape (n_samples,)."""
        X = check_predict_X(self, X, allow_nan=True)
        Xt = self._standardiser.transform(X)
        patterns = Patterns.of(X)
        if patterns is not None:  # the marginal of each row's observed features
            total = _gm.marginal_pass(self._predictive_chunks(), Xt, patterns)[0]
            return total - patterns.n_observed * self._standardiser.log_scale
        total = np.full(X.shape[0], -np.inf)
        row_lse = np.empty(X.shape[0])
        for means, prec, log_const, dof in self._predictive_chunks():
            log_prob_pass(Xt, means, prec, log_const, row_lse=row_lse, dof=dof)
            total = np.logaddexp(total, row_lse)
        return total - X.shape[1] * self._standardiser.log_scale

    def predict_proba(self, X) -> np.ndarray:
        """Probability of each point-partition cluster for each row, shape
        (n_samples, K).

        For the training data it comes from the allocation draws: row ``i``'s
        weight on cluster ``k`` is the posterior probability that ``i`` sits
        with a row of ``k``, averaged over the rows of ``k`` (co-clustering,
        over up to ``MAX_PREDICTIVE_DRAWS`` evenly spaced kept draws), then
        normalised over ``k``; so it is uncertain where the chains disagree.
        For other rows (and training rows of zero weight) it is the posterior
        predictive given :attr:`labels_`, proportional to ``n_k t_k(x)``.
        """
        X = check_predict_X(self, X, allow_nan=True)
        if data_key(X) != self._train_key:
            return self._point_proba(X)
        present = self._rows_present
        out = np.empty((X.shape[0], self.weights_.size))
        chains, draws = evenly_spaced(*self.n_clusters_samples_.shape, MAX_PREDICTIVE_DRAWS)
        mult = None if self._atoms() is None else self._mult_full[chains, draws]
        full = allocation_proba(
            self._labels_full[chains, draws],
            self._point_labels(),
            mult,
            self._start_mult(),
            self._atoms(),
        )
        out[present] = full[self._row_pos]
        if not present.all():
            out[~present] = self._point_proba(X[~present])
        return out

    def _point_labels(self):
        """The point partition over the sampler's rows."""
        labels = getattr(self, "_point_full", None)
        if labels is not None:
            return labels
        if self._atoms() is None:
            return point_partition(self._labels_full)
        n_chains, n_kept = self.n_clusters_samples_.shape
        chains = np.repeat(np.arange(n_chains), n_kept)
        draws = np.tile(np.arange(n_kept), n_chains)
        collapsed = self._collapsed(chains, draws).reshape(n_chains, n_kept, -1)
        return point_partition(collapsed, self._start_mult())

    def predict(self, X) -> np.ndarray:
        """:attr:`labels_` for the training data; otherwise the point-partition
        cluster of highest posterior predictive probability, shape (n_samples,)."""
        X = check_predict_X(self, X, allow_nan=True)
        if data_key(X) == self._train_key:
            return self.labels_.copy()
        return self._point_proba(X).argmax(axis=1)

    def fit_predict(self, X, y=None, sample_weight=None) -> np.ndarray:
        """Fit, then return :attr:`labels_` (the point partition)."""
        return self.fit(X, sample_weight=sample_weight).labels_.copy()

    def _sampling_components(self):
        return self.means_, self.covariances_

    # ---------------------------------------------------------------- posterior
    def posterior(self, X=None, *, n_draws=None, random_state=None):
        """The kept partitions, with component parameters drawn from the NIW
        posterior of each, wrapped in a :class:`~bayesmix.MixturePosterior`.

        Parameters
        ----------
        X : None or (n_samples, n_features) array-like
            The training data.  A Gibbs posterior describes the rows it was
            fitted to, so ``None`` (the stored training rows) and the ``X``
            given to :meth:`fit` are the same; any other ``X`` is an error.
        n_draws : int, optional
            Kept draws per chain, evenly spaced over the chain, first and last
            included.  ``None``: every kept draw up to
            ``MAX_POSTERIOR_DRAWS = 1000`` per chain (ArviZ's usual four chains
            of 1000; an ``n_iter="auto"`` run can keep ten times more, whose
            parameter draws and relabelling took longer than the fit), else
            1000 evenly spaced; pass an int for more.
        random_state : None, int or Generator, optional
            Seeds the parameter draws (``None``: this estimator's
            ``random_state``).  Keyword only.

        Returns
        -------
        MixturePosterior
            Rows of zero weight carry no information and are left out; a row of
            integer weight ``w`` enters once, with weight ``w`` and the label of
            its first copy.  Missing cells of the training rows stay NaN in its
            ``X``: the pointwise log-likelihood is of each row's observed
            features (the sampler's draws of the cells are
            :attr:`imputed_samples_`).
        """
        from .posterior import MixturePosterior

        reject_positional_seed(X)
        check_fitted(self)
        n_draws = check_int(n_draws, "n_draws", low=1, allow_none=True)
        if X is not None:
            X = check_predict_X(self, X, allow_nan=True)
            if data_key(X) != self._train_key:
                raise ValueError(
                    "X is not the data this DirichletProcessMixture was fitted to; a Gibbs "
                    "posterior describes the training rows: pass the X given to fit, or "
                    "nothing (posterior())."
                )
        rng = check_random_state(self.random_state if random_state is None else random_state)
        if n_draws is None:
            n_draws = MAX_POSTERIOR_DRAWS
        draws = self.posterior_draws(n_draws=n_draws, random_state=rng)
        present = self._rows_present
        return MixturePosterior.from_draws(
            draws["weights"],
            draws["means"],
            draws["covariances"],
            labels=np.ascontiguousarray(draws["labels"][:, :, present]),
            concentration=draws.get("concentration"),
            X=self._rows_with_holes(),
            sample_weight=self._w_rows,
            feature_names=getattr(self, "feature_names_in_", None),
            kind="gibbs",
            random_state=rng,
            sample_stats={"log_joint": draws["log_joint"]},
        )

    def _rows_with_holes(self) -> np.ndarray:
        """The training rows of :meth:`posterior` (data units) with their missing
        cells NaN again: the posterior layer's per-row summaries are then of
        each row's observed features, as for the other engines (``_X_rows``
        keeps the cells at their posterior means)."""
        cells = getattr(self, "_hole_cells", None)
        if cells is None:
            return self._X_rows
        missing = np.zeros(self._X_fit.size, dtype=bool)
        missing[cells] = True
        rows = self._X_rows.copy()
        rows[missing.reshape(self._X_fit.shape)[self._row_pos]] = np.nan
        return rows

    def posterior_draws(self, *, n_draws=None, random_state=None) -> dict:
        """Component parameters drawn from the NIW posterior of every kept partition.

        Parameters
        ----------
        n_draws : int, optional
            Kept draws per chain, evenly spaced over the chain, first and last
            included; ``None`` keeps every kept draw.
        random_state : None, int or Generator, optional
            Seeds the parameter draws (``None``: this estimator's ``random_state``).

        Returns
        -------
        dict of numpy arrays, with ``K`` the largest number of clusters of any
        returned draw; in a draw with ``K_s < K`` clusters the slots ``K_s ..``
        are unused (weight 0, NaN means and covariances).  Slot ``k`` is the
        cluster labelled ``k`` in ``labels``.

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
            :attr:`labels_samples_` (the array itself when every kept draw is
            returned).
        ``n_clusters``, ``log_joint`` (n_chains, n_draws)
        ``concentration`` (n_chains, n_draws)
            Only when the concentration is learned.
        """
        check_fitted(self)
        n_draws = check_int(n_draws, "n_draws", low=1, allow_none=True)
        rng = check_random_state(self.random_state if random_state is None else random_state)
        kept = self._kept()
        idx = kept_per_chain(kept.n_clusters.shape[1], n_draws)
        out = draw_parameters(
            rng,
            self._prior_at,
            self._standardiser,
            self._X_fit,
            kept,
            self._rows_present,
            self._row_pos,
            idx,
            fill=self._fill_at,
        )
        every = idx.size == kept.n_clusters.shape[1]
        out["labels"] = kept.labels if every else kept.labels[:, idx]
        out["n_clusters"] = kept.n_clusters if every else kept.n_clusters[:, idx]
        out["log_joint"] = kept.log_joint if every else kept.log_joint[:, idx]
        if hasattr(self, "concentration_samples_"):
            conc = self.concentration_samples_
            out["concentration"] = conc if every else conc[:, idx]
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # NaN is a missing value (see _gibbs_missing)
        return tags

    def impute(self, X, n_draws: int | None = None, random_state=None) -> np.ndarray:
        """Fill the missing (NaN) cells of ``X`` under the posterior.

        For the training data (the ``X`` given to :meth:`fit`) the sampler's own
        draws of the missing cells are used (:attr:`imputed_samples_`); for
        other rows, the posterior predictive: each kept draw's predictive
        mixture (:meth:`score_samples`) conditioned on the row's observed
        features, a mixture of conditional Student-t's (``_gibbs_missing``).

        Parameters
        ----------
        X : array-like or DataFrame, (n_samples, n_features)
            NaN marks a missing cell; every row needs an observed feature.
        n_draws : int, optional
            None: the posterior mean of the missing cells.  An int ``m``: ``m``
            multiple imputations (Rubin 1987), over the posterior draws and the
            conditional distribution (for the training data: kept draws
            evenly spaced over all chains).
        random_state : None, int or numpy Generator
            Seed of the draws (None: fresh entropy).

        Returns
        -------
        (n_samples, n_features) or (n_draws, n_samples, n_features) ndarray
            ``X`` with its missing cells filled; observed cells as given.
        """
        X = check_predict_X(self, X, allow_nan=True)
        if n_draws is not None:
            n_draws = check_n_draws(n_draws, X.shape[0] * X.shape[1], name="n_draws")
        rng = check_random_state(random_state)
        train = None
        if getattr(self, "_hole_cells", None) is not None and data_key(X) == self._train_key:
            train = (self._fill_at, self._row_pos, self._rows_present, self._imputed.shape[:2])
        return _gm.impute(X, n_draws, rng, self._standardiser, self._predictive_chunks, train)

    @property
    def imputed_samples_(self) -> np.ndarray:
        """Draws of the training data's missing cells, (n_chains, n_kept,
        n_missing) in data units: one column per NaN cell of the training rows
        of positive weight, in row-major order (``np.isnan(X[w > 0])``); a row of
        integer weight ``w > 1`` shows its first copy."""
        check_fitted(self)
        if getattr(self, "_hole_cells", None) is None:
            return np.empty((*self.n_clusters_samples_.shape, 0))
        return _gm.imputed_cells(
            self._X_fit, self._hole_cells, self._imputed, self._row_pos, self._standardiser
        )
