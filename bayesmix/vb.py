"""Variational Bayes for Gaussian mixtures: Dirichlet or Dirichlet-process
weights, Normal-Inverse-Wishart components.

The estimator shell: parameters and checks, the ``fit`` orchestration
(one data preparation, the priors resolved once, the restart loop of
:mod:`bayesmix._fitting`), the published attributes, and predict / score /
sample / posterior.  The algorithm -- coordinate-ascent variational
inference (Bishop 2006 §10.2; Blei & Jordan 2006) -- is the pure functions
of :mod:`bayesmix._vb_core`; what depends on the covariance type is the
conjugate part of its :mod:`bayesmix.covariance` registry entry.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from . import (
    _compile,
    _dask,
    _init,
    _vb_core,
    _vb_dask,
    _vb_data,
    _vb_hyper,
    _vb_missing,
    _vb_moves,
    _vb_priors,
)
from ._base import BaseMixture
from ._components import Components
from ._data import SortedRows
from ._fitting import best_run, describe_run, publish_fit, warn_not_converged
from ._init import INIT_METHODS
from ._validation import (
    check_choice,
    check_distinct_rows,
    check_fitted,
    check_int,
    check_n_draws,
    check_predict_X,
    check_prior_against_data,
    check_random_state,
    check_real,
    check_sample_weight,
    check_X,
)
from ._vb_uncertainty import MeanFieldWarning, interval_coverage, warn_if_too_narrow
from .covariance import get_structure
from .exceptions import DegenerateDataWarning
from .priors import Dirichlet, DirichletProcess, Gamma, NormalInverseWishart, RandomScale

__all__ = ["MeanFieldWarning", "VariationalGaussianMixture"]

# n_init="auto": starts in memory, the best ELBO kept (see the n_init parameter).
AUTO_RESTARTS = 5


def _initial_resp(method, Xt, w, k, rng) -> np.ndarray:
    """``init_params`` responsibilities (n_rows, k) computed on the rows of
    positive weight in a canonical order (:class:`bayesmix._data.SortedRows`),
    as EM computes its own: the start, and so the fit, depends neither on the
    order of the rows nor on how a Dask array is chunked (its start's sample
    holds every row when there are few enough), and a Dask fit then starts
    where the in-memory one does."""
    pos = np.flatnonzero(w > 0)
    rows = SortedRows.of(np.ascontiguousarray(Xt[:, pos]), w[pos])
    resp = np.full((w.size, k), 1.0 / k)  # rows of zero weight: read by nothing
    resp[pos[rows.order]] = _init.initial_resp(method, rows.Xt, rows.w, k, rng)
    return resp


class VariationalGaussianMixture(BaseMixture):
    """Gaussian mixture fitted by variational Bayes (mean-field CAVI).

    Model: weights ``pi ~ Dirichlet(c, ..., c)`` (finite, symmetric) or
    stick-breaking ``pi_k = v_k prod_{j<k} (1 - v_j)``, ``v_k ~ Beta(1,
    alpha)`` (Dirichlet process, ``alpha`` fixed or ``~ Gamma(shape,
    rate)``); component ``k`` has ``(mu_k, Sigma_k) ~
    NormalInverseWishart(mean, kappa, dof, scale)``; ``x_i | z_i = k ~ N(mu_k,
    Sigma_k)``.  The scale may be random, ``scale = b A`` with ``b ~
    Gamma`` (:class:`~bayesmix.priors.RandomScale`, the default), and so may
    ``kappa``.  The variational posterior factorises as ``q(z) q(pi or v)
    q(alpha) q(b) q(kappa) prod_k q(mu_k, Sigma_k)``, each factor in its
    conjugate family.

    Defaults: ``n_components=10`` (a truncation level), Dirichlet-process
    weights with concentration 1, the base measure of the Gibbs sampler
    (Richardson & Green's random scale, below), ``tol=1e-5`` per
    observation, ``max_iter=500``, k-means
    initialisation followed by merge and delete moves accepted only when they
    raise the ELBO (Hughes & Sudderth 2013), so components the data do not
    support are emptied; a component is *effective* when it is the most
    probable one for at least one training row.

    Parameters
    ----------
    n_components : int, default=10
        Number of components K: the number of Dirichlet components, or the
        truncation level of the Dirichlet process.  Components the data do not
        need empty out; see ``n_effective_components_``.
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
        ``"full"``: an inverse-Wishart covariance per component; ``"tied"``:
        one inverse-Wishart covariance shared by all; ``"diag"``: independent
        per-feature variances ``sigma_d^2 ~ InvGamma((dof - D + 1)/2,
        scale_dd/2)`` (the marginal of a diagonal entry of the inverse
        Wishart); ``"spherical"``: ``sigma^2 ~ InvGamma(D (dof - D + 1)/2,
        tr(scale)/2)``.  The four coincide when ``n_features = 1``.
    weight_prior : Dirichlet or DirichletProcess, optional
        ``None`` means ``DirichletProcess(concentration=1.0)``.  A
        ``DirichletProcess(Gamma(shape, rate))`` learns the concentration.
        ``Dirichlet(None)`` uses concentration ``1 / n_components``.
    component_prior : NormalInverseWishart, optional
        ``None`` means ``NormalInverseWishart(scale=RandomScale())``, the
        :class:`~bayesmix.DirichletProcessMixture` default (Richardson & Green
        1997, §2.3, generalised to D features): mean the data mean; kappa
        0.01 (Fraley & Raftery 2007); dof ``D + 3`` (their ``sigma^-2 ~
        Gamma(2, beta)`` in one dimension); ``scale = b A`` with ``A = 2
        diag(R_1^2, .., R_D^2)``, ``R_f`` the range of feature ``f``, and
        ``b ~ Gamma(0.2, 10)`` learned by its own conjugate factor ``q(b)``
        (``scale_posterior_``).  ``kappa=Gamma(a, r)`` learns ``kappa`` too
        (``kappa_posterior_``; Escobar & West 1995 use ``Gamma(0.5, 50)``).
        Every field left ``None`` with an explicit array ``scale`` follows
        :meth:`NormalInverseWishart.resolve` (``NormalInverseWishart()``: the
        data covariance as scale, dof ``D + 2``).  The prior of a component
        does not depend on K, so the ELBO compares across K.  The resolved
        prior, learned values at their posterior means, is
        ``component_prior_``.
    tol : float, default=1e-5
        Stop when the ELBO grows by less than ``tol`` per unit of sample weight
        (per observation) in one iteration — a change relative to the data
        size, so it does not depend on the units of ``X``.
    max_iter : int, default=500
        Maximum iterations per initialisation.
    n_init : "auto" or int, default="auto"
        Initialisations to run; the one with the highest ELBO is kept.
        ``"auto"``: ``AUTO_RESTARTS = 5`` starts (``init_params`` with five
        seeds drawn from ``random_state``), each with its merge and delete
        moves.  The moves mend a start that split a component or kept a
        spare one, but not one that grouped the rows wrongly, and the ELBO
        of a start's first iterations does not tell which start will end
        best (on the seven real tables measured, the rank correlation of the
        ELBO after 20 iterations with the final one was -0.7 to 0.5), so
        every start runs to the end, as Biernacki, Celeux & Govaert (2003)
        advise for likelihoods with many local optima.  On 16 seeds of
        standardised iris one start ends in the 2-component optimum on 4
        (0.8 nats below the 3-component one); on breast cancer (569 x 30) a
        start ends 190 nats below the best of 16 on average, the best of five
        about 60.  Five starts cost five fits (300 000 x 10: 4 s a start).
        Dask input keeps one start (each costs passes over the data), as does
        a fit from given responsibilities.
    init_params : {"kmeans", "auto", "hierarchical", "k-means++", "random", "random_from_data"}, \
default="kmeans"
        Initial responsibilities, as for :class:`~bayesmix.GaussianMixture`
        (``"hierarchical"`` is mclust's model-based agglomeration).
    random_state : None, int or numpy Generator
        Seed for the initialisation, ``sample`` and ``posterior``; the same seed
        gives the same result bit for bit.  The initialisation draws its random
        numbers with the rows of positive weight in a canonical order (as
        ``GaussianMixture``'s does), so the fit depends neither on the order
        of the rows nor on whether a row is repeated or weighted, nor on how a
        Dask array is chunked.
    verbose : int, default=0
        Print the ELBO every iteration when >= 2, per initialisation when 1.
    moves : bool, default=True
        After coordinate ascent converges, try merge and delete moves and
        keep those that raise the ELBO (Notes).  ``False``: coordinate ascent
        alone (the behaviour of files saved before this parameter existed).
        On data with missing values a candidate cannot be scored from summed
        statistics (each component holds its own conditional moments of the
        holes), so each round tries the three merges of the components that
        share most rows and the delete of the smallest, each scored by
        coordinate ascent run from it (``_vb_moves.refine_by_refit``;
        airquality: 7 to 10 components without moves, 2 or 3 with, the ELBO
        40 to 80 nats higher).  On Dask input the candidates and scores are
        the in-memory ones, summed over chunks (one pass per round, one more
        when no merge is accepted; ``_vb_dask.ChunkRows``).
    total_samples : float, default=1e6
        The number of rows the stream of :meth:`partial_fit` stands for: each
        batch's statistics are scaled to this size (Hoffman et al. 2013; the
        default of scikit-learn's ``LatentDirichletAllocation``).  Set it to the
        data's size when the batches cycle over one data set.
    learning_decay : float in (0.5, 1], default=0.7
        :meth:`partial_fit`'s ``t``-th step has size ``(t + learning_offset) **
        -learning_decay`` (scikit-learn's LDA default).
    learning_offset : float >= 0, default=10.0
        Slows the early steps (scikit-learn's LDA default).

    Attributes
    ----------
    weights_ : (n_components,)
        Posterior mean weights ``E_q[pi_k]`` (normalised over the K
        components; for a DP the stick mass beyond the truncation is spread
        proportionally).
    means_ : (n_components, n_features)
        Posterior means ``m_k`` of the component means.
    covariances_ : scikit-learn shape for ``covariance_type``
        ``E_q[Sigma_k^-1]^-1`` (``scale_k / dof_k`` for full and tied, as in
        scikit-learn); ``precisions_`` and ``precisions_cholesky_`` are
        ``E_q[Sigma_k^-1]`` and its Cholesky factor.
    mean_precision_ : (n_components,)
        Posterior ``kappa_k``.
    degrees_of_freedom_ : (n_components,)
        Posterior inverse-Wishart ``dof_k`` (for ``"tied"`` all equal).
    scales_ : covariance_type's shape
        Posterior inverse-Wishart scales ``Psi_k`` (full (K, D, D), tied (D, D),
        diag their diagonals (K, D), spherical their traces (K,)).
    weight_concentration_ : (n_components,) or tuple of two (n_components,)
        Dirichlet parameters, or the two Beta parameters of every stick (as in
        scikit-learn).
    concentration_ : float
        The DP concentration (its posterior mean when learned) or the
        Dirichlet concentration.
    concentration_posterior_ : Gamma or None
        ``q(concentration)`` when it is learned.
    weight_prior_, component_prior_ :
        The resolved priors (data units); learned base-measure values at
        their posterior means.
    scale_posterior_ : Gamma or None
        ``q(b)`` when the scale is a :class:`~bayesmix.priors.RandomScale`
        (``component_prior_.scale`` is ``E_q[b] A``).
    kappa_posterior_ : Gamma or None
        ``q(kappa)`` when ``kappa`` is a :class:`~bayesmix.priors.Gamma`.
    elbo_ : float
        The evidence lower bound at the fitted variational posterior (with
        responsibilities optimal for it): every constant included, so it is
        a lower bound on ``log p(X)`` and compares across K, covariance types
        and priors.
    lower_bounds_ : list of float
        The ELBO after every iteration of the kept run's coordinate ascent,
        then after each round of accepted moves (non-decreasing);
        ``elbo_ >= lower_bounds_[-1]``.  ``lower_bound_`` is its last value
        and ``n_iter_`` the length of the list.
    counts_ : (n_components,)
        Expected (weighted) number of observations per component,
        ``sum_i w_i r_ik``.
    n_effective_components_ : int
        The number of components of the fit, the one count reported
        everywhere: components that are the most probable (``predict_proba``)
        for at least one training row.  ``effective_components_`` is the
        boolean mask; ``predict`` only returns these labels (with their
        original indices), so on the training data it uses exactly
        ``n_effective_components_`` labels, and :meth:`posterior` draws only
        these components, so its ``n_components()`` counts no other.
    moves_ : list of tuple
        The accepted merge and delete moves, in order, as ``(kind,
        components, elbo_before, elbo_after)``: ``"merge"`` with the indices
        ``(kept, emptied)`` or ``"delete"`` with ``(deleted,)`` (indices at
        the time of the move), and the ELBO of the standardised data before
        and after the move's round.
    missing_information_ : float
        The fraction of missing information of the weights at the fit, in
        [0, 1) (:mod:`bayesmix._vb_uncertainty`): 0 for well-separated
        components; when it exceeds about 0.24 :meth:`posterior` warns that
        the mean-field intervals are too narrow.
    converged_, n_iter_, n_features_in_, feature_names_in_ :
        As in scikit-learn.

    Notes
    -----
    *The ELBO.*  ``E_q[log p(X, z, pi, mu, Sigma)] - E_q[log q]`` with all
    normalising constants: the data term uses ``E[log|Lambda|]`` (multivariate
    digamma) and ``-D/(2 kappa_k)``, the prior terms are full Dirichlet / Beta /
    Gamma and Wishart KL divergences.  For a DP the variational family is
    truncated (``q(z_i > K) = 0``) while the prior is the untruncated process,
    so the ELBO bounds the evidence of the DP mixture itself (Kurihara, Welling
    & Teh 2007); this is also scikit-learn's stick parameterisation.  Because
    that prior favours large early sticks, after each update the components
    are relabelled by decreasing expected count whenever this raises the ELBO
    (so the trace stays monotone and used components come first).  With
    ``n_components=1``, a Dirichlet prior and a fixed component prior the ELBO
    equals the exact log marginal likelihood of the conjugate model.

    *Learned base measure.*  ``log p(Sigma_k | b)`` is linear in ``b`` and
    ``log b``, so ``q(b) = Gamma(g + N_b, h + sum_k tr(A E_q[Sigma_k^-1]) /
    2)``, the sum over all K components and ``N_b = K dof D / 2`` for
    ``"full"`` (``dof D / 2`` for ``"tied"``, ``K D (dof - D + 1) / 2`` for
    ``"diag"`` and ``"spherical"``); ``q(mu_k, Sigma_k)`` is the usual update
    with scale ``E_q[b] A``.  The ELBO is that of the fixed prior at ``b =
    E_q[b]`` plus ``N_b (E_q[log b] - log E_q[b]) - KL(q(b) || p(b))``
    (likewise for ``kappa``), so it stays a lower bound and never
    decreases.  ``E_q[b]`` is kept at or above ``1e-6`` of its starting
    value, which binds only when rows coincide (:mod:`bayesmix._vb_hyper`).

    *Moves.*  Coordinate ascent stops at the first local optimum; started from
    ``n_components`` pieces of a real table it keeps every piece, because
    moving rows one at a time from one piece of a cluster to another lowers
    the ELBO before the emptied piece can give its prior cost back.  So after
    it converges, merge moves (two components become one) and delete moves
    (a component's rows go to the others) are scored by their exact ELBO; the
    best is accepted only when it raises the ELBO, coordinate ascent runs to
    convergence again, and this repeats until no move helps (Ueda et al.
    2000; Hughes & Sudderth 2013, the merges and deletes of bnpy).  The
    result is a better optimum of the same objective: ``elbo_`` is never
    below that of coordinate ascent alone from the same start.  Moves start
    only from a converged run.

    *Predictions.*  ``score_samples`` is the log posterior-predictive density
    under ``q``: a mixture of multivariate Student-t densities with weights
    ``weights_`` (for ``"diag"`` each component is a product of univariate
    Student-t densities).  ``predict_proba`` gives the membership
    probabilities of that predictive mixture and ``sample`` draws from it.
    ``posterior(n_draws=...)`` draws parameters from ``q``.

    *Intervals.*  Mean-field intervals are too narrow when components overlap:
    ``q`` ignores the information lost to the unknown allocations (Wang &
    Titterington 2005).  :meth:`posterior` then issues a
    :class:`MeanFieldWarning` naming the bootstrap
    (``GaussianMixture(...).posterior(X)``) and the Gibbs sampler
    (:class:`~bayesmix.DirichletProcessMixture`); its ``attrs`` hold
    ``mean_field_missing_information`` and ``mean_field_coverage_90`` (the
    estimated coverage of a nominal 90% interval of the weights).

    ``sample_weight`` are frequency weights: integer weights give the same fit
    as repeated rows.  No ``reg_covar`` is needed: the prior scale keeps every
    covariance positive definite, whatever the data (duplicated rows,
    constant or collinear columns; constant columns are reported with a
    :class:`~bayesmix.exceptions.DegenerateDataWarning`, and when every column
    is constant the default prior scale is the identity).  The data are
    centred and scaled internally, so values near 1e+-150 fit as well as
    values near 1.

    References
    ----------
    Bishop (2006) §10.2; Blei & Jordan (2006), Bayesian Analysis 1, 121-144;
    Richardson & Green (1997), JRSS B 59, 731-792; Escobar & West (1995),
    JASA 90, 577-588; Fraley & Raftery (2007), J. Classification 24, 155-181;
    Kurihara, Welling & Teh (2007), IJCAI; Ueda, Nakano, Ghahramani & Hinton
    (2000), Neural Computation 12, 2109-2128; Hughes & Sudderth (2013),
    NeurIPS 26; Wang & Titterington (2005), AISTATS.
    """

    def __init__(
        self,
        n_components: int = 10,
        *,
        covariance_type: str = "full",
        weight_prior: Dirichlet | DirichletProcess | None = None,
        component_prior: NormalInverseWishart | None = None,
        tol: float = 1e-5,
        max_iter: int = 500,
        n_init: int | str = "auto",
        init_params: str = "kmeans",
        random_state=None,
        verbose: int = 0,
        moves: bool = True,
        total_samples: float = 1e6,
        learning_decay: float = 0.7,
        learning_offset: float = 10.0,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.weight_prior = weight_prior
        self.component_prior = component_prior
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.verbose = verbose
        self.moves = moves
        self.total_samples = total_samples
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        check_int(self.n_components, "n_components", low=1)
        get_structure(self.covariance_type)
        check_real(self.tol, "tol", low=0.0)
        check_int(self.max_iter, "max_iter", low=0)
        if isinstance(self.n_init, str):
            if self.n_init != "auto":
                raise ValueError(
                    f"n_init={self.n_init!r} is not supported; use 'auto' or an integer >= 1."
                )
        else:
            check_int(self.n_init, "n_init", low=1)
        check_choice(self.init_params, "init_params", INIT_METHODS)
        check_int(self.verbose, "verbose", low=0)
        check_random_state(self.random_state)
        if not isinstance(self.moves, (bool, np.bool_)):
            raise TypeError(
                f"moves must be True (merge and delete moves after coordinate ascent) or "
                f"False (coordinate ascent alone), got {self.moves!r}."
            )
        wp = DirichletProcess(1.0) if self.weight_prior is None else self.weight_prior
        if not isinstance(wp, (Dirichlet, DirichletProcess)):
            raise TypeError(
                f"weight_prior must be a bayesmix.Dirichlet or bayesmix.DirichletProcess "
                f"(or None for DirichletProcess(1.0)), got {wp!r}."
            )
        cp = self.component_prior
        if cp is None:
            cp = NormalInverseWishart(scale=RandomScale())
        if not isinstance(cp, NormalInverseWishart):
            raise TypeError(
                "component_prior must be a bayesmix.NormalInverseWishart (or None for the "
                f"data-driven default), got {cp!r}."
            )
        return wp, cp

    # --------------------------------------------------------------- fitting
    def fit(self, X, y=None, sample_weight=None):
        """Fit the variational posterior.

        Parameters
        ----------
        X : array-like or DataFrame, (n_samples, n_features)
            NaN marks a missing value (missing at random): the missing cells
            are latent variables of the variational posterior
            (:mod:`bayesmix._vb_missing`), so each row counts through its
            observed features and the ELBO bounds the observed-data evidence.
            Infinity, and rows or columns with every value missing, are errors.
            A Dask array (without missing values) is fitted chunk by chunk
            (:mod:`bayesmix._vb_dask`); ``sample_weight`` may be one too.
        y : ignored
        sample_weight : array-like (n_samples,), optional
            Non-negative frequency weights.

        Returns
        -------
        self
        """
        return self._fit(X, sample_weight)

    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the fit with one batch of rows: stochastic variational
        inference (Hoffman et al. 2013; :mod:`bayesmix._vb_online`).

        The first call on an unfitted model is ``fit(X)``; it fixes the units and
        the data-driven prior.  Each later call moves the natural parameters of
        ``q`` a step ``(t + learning_offset) ** -learning_decay`` towards the
        posterior of ``total_samples`` rows like this batch.  ``elbo_`` and
        ``lower_bound_`` then estimate the ELBO of ``total_samples`` rows from the
        batch (at ``q`` before the step), ``counts_`` are the batch's scaled to
        ``total_samples``, and ``n_steps_`` counts the steps since ``fit``.

        Parameters
        ----------
        X : array-like or DataFrame, (n_samples, n_features)
        y : ignored
        sample_weight : array-like (n_samples,), optional

        Returns
        -------
        self
        """
        from . import _vb_online

        return _vb_online.partial_fit(self, X, sample_weight)

    def _fit(self, X, sample_weight=None, resp_init=None):
        """``fit``, optionally from given responsibilities ``resp_init``
        (n_samples, n_components) instead of ``init_params``."""
        wp, cp = self._check_params()
        rng = check_random_state(self.random_state)
        # in memory, with missing cells, or in Dask chunks (bayesmix._vb_data)
        data = _vb_data.prepare(X, sample_weight, self.n_components, rng)
        check_distinct_rows(self.n_components, data.n_distinct)
        Xt, w, std = data.Xt, data.w, data.std
        n_features = data.n_features
        k = self.n_components
        weight_prior, component_prior, prior, structure = _vb_priors.resolve_priors(
            k,
            get_structure(self.covariance_type),
            None if data.chunked else Xt,
            None if data.chunked else w,
            std,
            wp,
            cp,
            summary=data.summary,
        )
        check_prior_against_data(prior, self.component_prior, check_scale=prior.base is None)
        _compile.compile_first(_compile.VB, n_features, data.n_distinct, data.holes is not None)
        self._structure = structure

        events = []
        var = data.variances()  # standardised units: no underflow
        const = np.flatnonzero(var <= 1e-24 * max(var.max(), np.finfo(float).tiny))
        if const.size:
            events.append(
                f"feature(s) {const.tolist()} of X are constant; the prior scale keeps their "
                "variances positive"
            )

        def run_init(init: int) -> _vb_core.Run:
            if resp_init is not None:
                resp = np.ascontiguousarray(resp_init, dtype=float)
            else:
                resp = _initial_resp(self.init_params, data.start_X, w, k, rng)
            stats = data.stats(k, structure.diagonal)
            run = self._cavi(
                Xt, w, resp, prior, structure, self.max_iter, self.tol, stats, data.total
            )
            if self.moves and data.chunked is not None:  # candidates scored from chunk sums

                def cavi_chunks(start, hyper):
                    st = _vb_dask.ChunkStats(data.chunked, structure.diagonal, start)
                    return _vb_core.cavi(
                        Xt,
                        w,
                        np.empty((0, k)),
                        prior,
                        structure,
                        self.max_iter,
                        self.tol,
                        reorder=self._reorder,
                        hyper=hyper,
                        stats=st,
                        total=data.total,
                    )

                rows = _vb_dask.ChunkRows(data.chunked, structure.diagonal, cavi_chunks)
                run, run.moves = _vb_moves.refine_rows(
                    rows, run, prior, structure, reorder=self._reorder
                )
            elif self.moves and data.moves:  # complete, in memory
                run, run.moves = _vb_moves.refine(
                    Xt,
                    w,
                    run,
                    prior,
                    structure,
                    max_iter=self.max_iter,
                    tol=self.tol,
                    reorder=self._reorder,
                )
            elif self.moves and data.holes is not None:  # candidates scored by refits

                def cavi_from(new_resp):
                    st = data.stats(k, structure.diagonal)
                    return self._cavi(
                        Xt, w, new_resp, prior, structure, self.max_iter, self.tol, st, data.total
                    )

                stats_ = data.stats(k, structure.diagonal)
                run, run.moves = _vb_moves.refine_by_refit(Xt, w, run, stats_, cavi_from)
            return run

        n_init = self.n_init
        if n_init == "auto":
            one_start = data.chunked is not None or resp_init is not None
            n_init = 1 if one_start else AUTO_RESTARTS
        best = best_run(
            n_init,
            run_init,
            key=lambda run: -run.elbo,
            describe=lambda run: describe_run(
                "ELBO", run.elbo, len(run.lower_bounds), run.converged
            ),
            verbose=self.verbose,
        )

        log_jac = data.log_jacobian()
        self._standardiser = std
        self._prior = prior
        self._post = best.post
        self.weight_prior_ = weight_prior
        self.component_prior_ = component_prior
        self.scale_posterior_, self.kappa_posterior_, self.component_prior_ = _vb_hyper.publish(
            best.post, prior, structure, component_prior, std.scale
        )
        publish_fit(
            self,
            n_features=n_features,
            feature_names=data.names,
            converged=best.converged,
            lower_bounds=best.lower_bounds,
            log_jacobian=log_jac,
        )
        self.elbo_ = best.elbo - log_jac
        self.counts_ = best.nk
        self.moves_ = [tuple(m) for m in best.moves]
        self._set_public_params()
        # One count everywhere: a component is effective when it is the most
        # probable (predict_proba's argmax) for at least one training row, so
        # predict on the training data uses exactly these labels, and
        # posterior() draws only these components.
        self.effective_components_, self.missing_information_ = data.effective(
            best.post, self._predictive, structure
        )
        self.n_effective_components_ = int(self.effective_components_.sum())
        self.n_steps_ = 0

        for msg in events:
            warnings.warn(msg, DegenerateDataWarning, stacklevel=2)
        if not best.converged and self.max_iter > 0:
            lbs = best.lower_bounds
            last = (lbs[-1] - lbs[-2]) / data.total if len(lbs) > 1 else float("nan")
            warn_not_converged(
                "Variational Bayes",
                self.max_iter,
                f"last ELBO change per observation {last:.3g} > tol={self.tol}",
                "Increase max_iter or tol, or start better: more n_init, or init_params='kmeans'.",
                stacklevel=2,
            )
        return self

    _reorder = True  # relabel DP sticks by size (off only to compare with scikit-learn)

    def _cavi(
        self, Xt, w, resp, prior, structure, max_iter, tol, stats=None, total=None
    ) -> _vb_core.Run:
        """Coordinate ascent from initial responsibilities (standardised units);
        ``stats`` and ``total`` as for :func:`bayesmix._vb_core.cavi`."""
        reorder, verbose = self._reorder, self.verbose
        return _vb_core.cavi(
            Xt,
            w,
            resp,
            prior,
            structure,
            max_iter,
            tol,
            reorder=reorder,
            verbose=verbose,
            stats=stats,
            total=total,
        )

    # ---------------------------------------------------------------- output
    def _set_public_params(self):
        post, structure = self._post, self._structure
        s, c = self._standardiser.scale, self._standardiser.center
        d = post.means.shape[1]
        if post.weight_b is None:
            self.weight_concentration_ = post.weight_a.copy()
        else:
            self.weight_concentration_ = (post.weight_a.copy(), post.weight_b.copy())
        self.weights_ = _vb_core.mean_weights(post)
        self.means_ = post.means * s + c
        self.mean_precision_ = post.kappa.copy()
        self.degrees_of_freedom_ = post.dof.copy()
        self.scales_ = post.scale * s**2
        self.covariances_ = structure.expected_covariance(post.dof, post.scale, d) * s**2
        _, self.precisions_cholesky_, _ = structure.factorise(self.covariances_)
        self.precisions_ = structure.precisions(self.precisions_cholesky_)
        if post.conc_shape is not None:
            self.concentration_posterior_ = Gamma(post.conc_shape, post.conc_rate)
            self.concentration_ = post.conc_shape / post.conc_rate
        else:
            self.concentration_posterior_ = None
            self.concentration_ = float(self._prior.concentration)
        # Student-t predictive components in standardised units
        self._predictive = structure.predictive(
            np.log(self.weights_), post.means, post.dof, post.scale, post.kappa
        )

    def _after_load(self):
        """Upgrade the private state of files saved by bayesmix 0.1.0: their
        ``_family`` (a second covariance registry, now folded into
        :mod:`bayesmix.covariance`) gives way to ``_structure``, and the
        predictive arrays become :class:`~bayesmix._components.Components`."""
        family = self.__dict__.pop("_family", None)
        if family is not None:
            self._structure = family.structure
        if getattr(self, "_predictive", None) is not None:
            self._predictive = Components(*self._predictive)

    def _component_arrays(self):
        """E-step arrays (expected Gaussian log-density) in standardised units."""
        return self._post.means, self._post.prec, self._post.log_const

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # NaN is a missing value (see fit)
        return tags

    # NaN cells are missing values: rows are scored on their observed features
    # (the marginal of the Student-t predictive); complete rows take the
    # complete-data pass unchanged.
    def _log_prob(self, X, want_resp: bool):
        if _dask.is_dask(X):  # lazy, one block per row chunk (no missing values)
            return _dask.log_prob(self, X, want_resp)
        X = check_predict_X(self, X, allow_nan=True)
        return _vb_missing.log_prob(self._predictive, self._standardiser, X, want_resp)

    def _check_score_weight(self, X, sample_weight):
        if sample_weight is None:
            return None
        check_fitted(self)
        return check_sample_weight(sample_weight, check_X(X, allow_nan=True)[0].shape[0])

    def impute(self, X, n_draws: int | None = None, random_state=None) -> np.ndarray:
        """Fill the missing (NaN) cells of ``X`` under the fit.

        ``n_draws=None``: each missing cell at its conditional expectation
        under the posterior predictive, ``E[x_m | x_o] = sum_k p(k | x_o)
        (m_k[m] + S_k[m, o] S_k[o, o]^-1 (x_o - m_k[o]))`` with the Student-t
        membership probabilities of ``predict_proba`` and the components'
        scale matrices ``S_k`` (the regression of a Student-t is that of a
        Gaussian; for ``"diag"`` the features of a component are independent
        and the regression vanishes).  An int ``m``: ``m`` multiple
        imputations (Rubin 1987), each with parameters drawn from the
        variational posterior ``q`` (all components), then the missing cells
        from the Gaussian mixture ``p(x_m | x_o, parameters)``, so the draws
        spread over the posterior of the parameters too.  Missing at random is
        assumed, as in ``fit``.

        Parameters
        ----------
        X : array-like or DataFrame, (n_samples, n_features)
            NaN marks a missing cell; every row needs at least one observed
            feature.
        n_draws : int, optional
        random_state : None, int or numpy Generator
            Seed of the draws (None: fresh entropy).

        Returns
        -------
        (n_samples, n_features) or (n_draws, n_samples, n_features) ndarray
            ``X`` with its missing cells filled; observed cells are returned
            as given.
        """
        X = check_predict_X(self, X, allow_nan=True)
        if n_draws is not None:
            n_draws = check_n_draws(n_draws, X.shape[0] * X.shape[1], name="n_draws")
        rng = check_random_state(random_state)
        std = self._standardiser
        if n_draws is None:
            return _vb_missing.impute(self._predictive, std, X)
        return _vb_missing.impute_draws(self._post, self._structure, std, X, n_draws, rng)

    def predict(self, X) -> np.ndarray:
        """Most probable *effective* component of each row, shape (n_samples,);
        labels are the original component indices."""
        proba = self.predict_proba(X)
        if _dask.is_dask(proba):  # lazy: no assignment into a Dask array
            return proba.map_blocks(_effective_argmax, self.effective_components_, drop_axis=1)
        return _effective_argmax(proba, self.effective_components_)

    def sample(self, n_samples: int = 1):
        """Draw ``n_samples`` points from the posterior predictive (a mixture of
        Student-t); returns ``(X, labels)``.

        Uses ``random_state``, so repeated calls with an integer seed repeat.
        """
        check_fitted(self)
        n_samples = check_int(n_samples, "n_samples", low=1)
        rng = check_random_state(self.random_state)
        x, labels = _vb_core.draw_predictive(
            self._post, self._structure, self.weights_, n_samples, rng
        )
        std = self._standardiser
        return x * std.scale + std.center, labels

    def posterior(self, X=None, *, n_draws: int = 1000, sample_weight=None, random_state=None):
        """Parameters drawn from the variational posterior ``q``, wrapped in a
        :class:`~bayesmix.MixturePosterior` (intervals, summaries, ArviZ).

        Parameters
        ----------
        X : (n_samples, n_features), optional
            The training data; with it the posterior also carries the pointwise
            log-likelihood, sampled partitions and co-clustering.  NaN cells are
            missing values: these per-row summaries are then of each row's
            observed features (the marginal of every drawn mixture).
        n_draws : int, default=1000
            Keyword only (``posterior(n_draws=500)``), as for every engine.
        sample_weight : (n_samples,), optional
            The frequency weights of ``X``.
        random_state : None, int or Generator, optional
            ``None`` uses the estimator's ``random_state``.
        """
        if isinstance(X, numbers.Integral) and not isinstance(X, bool):
            raise TypeError(
                f"posterior() takes the data X as its first argument, got the integer {int(X)}; "
                f"pass the number of draws by keyword: posterior(n_draws={int(X)})."
            )
        from .posterior import MixturePosterior

        rng = check_random_state(self.random_state if random_state is None else random_state)
        draws = self.posterior_draws(n_draws, random_state=rng)
        lam = getattr(self, "missing_information_", None)
        attrs = {}
        if lam is not None:
            attrs = {
                "mean_field_missing_information": lam,
                "mean_field_coverage_90": interval_coverage(lam),
            }
            warn_if_too_narrow(lam, stacklevel=2)
        return MixturePosterior.from_draws(
            draws["weights"],
            draws["means"],
            draws["covariances"],
            concentration=draws.get("concentration"),
            X=X,
            sample_weight=sample_weight,
            feature_names=getattr(self, "feature_names_in_", None),
            kind="variational",
            random_state=rng,
            attrs=attrs,
        )

    def posterior_draws(self, n_draws: int = 1000, *, random_state=None) -> dict:
        """Draw parameters from the variational posterior ``q`` as raw arrays.

        Parameters
        ----------
        n_draws : int, default=1000
        random_state : None, int or Generator, optional
            ``None`` uses the estimator's ``random_state``.

        Returns
        -------
        dict of arrays with a leading ``(chain, draw)`` = ``(1, n_draws)``:
        ``weights`` (1, n_draws, K), ``means`` (1, n_draws, K, D),
        ``covariances`` (1, n_draws, K, D, D) and, when the DP concentration is
        learned, ``concentration`` (1, n_draws).  Only the effective components
        (``effective_components_``) get weight: the others' weights are 0 (the
        posterior layer's unused slots; after the merge and delete moves their
        ``q`` is close to the prior and carries almost no mass), and the weights
        are normalised over the rest.
        """
        check_fitted(self)
        n_draws = check_int(n_draws, "n_draws", low=1)
        rng = check_random_state(self.random_state if random_state is None else random_state)
        k = self._post.means.shape[0]
        effective = getattr(self, "effective_components_", np.ones(k, dtype=bool))
        draws = _vb_core.draw_parameters(self._post, self._structure, n_draws, rng, effective)
        std = self._standardiser
        out = {
            "weights": draws["weights"][None],
            "means": (draws["means"] * std.scale + std.center)[None],
            "covariances": (draws["covariances"] * std.scale**2)[None],
        }
        if "concentration" in draws:
            out["concentration"] = draws["concentration"][None]
        return out


def _effective_argmax(proba, effective):
    """The most probable component among the ``effective`` ones (K,) per row."""
    proba = np.array(proba)
    proba[:, ~effective] = -1.0
    return proba.argmax(axis=1)
