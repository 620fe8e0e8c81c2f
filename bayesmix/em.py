"""Maximum-likelihood Gaussian mixtures by expectation-maximisation.

The estimator is a shell: parameters, checks, warm starts and output.  The
algorithm lives in :mod:`bayesmix._em_core` as pure functions over prepared
data, which :func:`~bayesmix.select_model` and the bootstrap
(:mod:`bayesmix._em_bootstrap`) call as well.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from . import _compile, _dask, _missing
from . import _em_core as core
from . import _em_online as online
from ._base import BaseMixture
from ._data import Data, prepare
from ._em_floor import one_component_floor
from ._fitting import publish_fit, warn_not_converged
from ._validation import (
    check_distinct_rows,
    check_fitted,
    check_init_scale,
    check_n_draws,
    check_predict_X,
    check_random_state,
    check_sample_weight,
    check_X,
)
from .exceptions import DegenerateDataWarning

__all__ = ["GaussianMixture", "fit_prepared", "training_criteria"]


class GaussianMixture(BaseMixture):
    """Gaussian mixture fitted by maximum likelihood (EM).

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components K.
    covariance_type : str, default="full"
        Structure of the covariances: scikit-learn's "full", "tied", "diag",
        "spherical" (mclust's VVV, EEE, VVI, VII: either name, scikit-learn's
        shapes), or one of mclust's fourteen models "EII", "VII", "EEI",
        "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE", "EEV", "VEV",
        "EVV", "VVV" ("E" / "V" with one feature; Celeux & Govaert 1995).
        The models other than the four store ``covariances_`` as (K, D, D)
        and add ``volumes_``, ``shapes_``, ``orientations_`` where they have
        them (see the user guide, "Covariance models").
    tol : "auto" or float, default="auto"
        When to stop.  ``"auto"`` stops at the optimum: when the Aitken
        estimate of the mean log-likelihood still to gain is below 1e-6 per
        unit of weight at three consecutive iterations, or the log-likelihood
        stops changing in floating point (Böhning et al. 1994; McNicholas et
        al. 2010), so a fit of n rows ends within about n * 1e-6 of the
        optimum its start leads to.  A float is
        scikit-learn's rule: stop when the mean log-likelihood per unit of
        weight changes by less (scikit-learn's default 1e-3 stops long before
        the optimum when EM is slow, as it is with overlapping components).
    reg_covar : float or "auto", default="auto"
        Added to the diagonal of every covariance.  A float is absolute, in
        squared data units, exactly as in scikit-learn.  ``"auto"`` adds
        ``1e-6`` times each feature's own variance to that feature's variance,
        so the fit is equivariant to rescaling any column (a constant column
        gets 1e-6 times the mean variance).
    max_iter : int, default=1000
        Maximum EM iterations per initialisation.
    n_init : "auto" or int, default="auto"
        Initialisations to run; the run with the highest final log-likelihood
        is kept.  ``"auto"``: the ``init_params`` start, then further starts
        (k-means++ or random rows), each screened by 20 EM iterations; those
        already within 0.01 (mean log-likelihood) of the best converged run
        are run to convergence too.  This is the "small EM" strategy of
        Biernacki, Celeux & Govaert (2003): multiple starts against EM's local
        optima, paid for in full only where promising.
    init_params : {"auto", "hierarchical", "kmeans", "k-means++", "random", \
"random_from_data"}, default="auto"
        How initial responsibilities are made.  "hierarchical" is mclust's
        start: model-based agglomerative clustering (Fraley 1998) of the rows in
        mclust's scaled SVD coordinates, or equal-weight quantile classes for a
        single feature; deterministic, exact up to 2000 distinct rows (fewer
        beyond 16 features), above which it clusters a weighted random
        subsample of that size (about 0.5 s for 1e6 rows of 8 features).
        "auto" uses it for the first initialisation (k-means instead when there
        would be fewer than ``2 * n_features`` clustered rows per component;
        "first" means the generator of ``random_state`` is still unused, as
        with an int or None) and, for each further one of ``n_init``,
        k-means++ or "random_from_data", drawn at random.  With ``n_init=20``
        it reaches at least R mclust's log-likelihood on the bundled data sets
        for every shared model and K (one start reaches all but two of them).
        The others: weighted k-means (k-means++ seeding then Lloyd iterations),
        k-means++ seeds with each row given to its nearest seed, random
        responsibilities, or distinct data points drawn with probability
        proportional to their weight as seeds with nearest-seed assignment.
        All but "random" give a row of integer weight m the same start as m
        repeated rows.
    weights_init, means_init, precisions_init : array-like, optional
        User-given initial parameters (scikit-learn shapes); they replace the
        corresponding part of the ``init_params`` initialisation.
    random_state : None, int or numpy Generator
        Seed; the same seed gives the same fit bit for bit, whatever the
        number of threads.
    warm_start : bool, default=False
        Start the next ``fit`` from this fit's parameters (``n_init`` is then 1)
        when it has the same ``n_components``, ``covariance_type`` and number
        of features; otherwise the next fit starts afresh.  A warm-started fit
        judges convergence on the log-likelihoods of the previous call and its
        own together, so repeated calls with a small ``max_iter`` converge
        (as in scikit-learn).
    verbose : int, default=0
        Print the log-likelihood every iteration when >= 2, per init when 1.
    learning_decay : float in (0.5, 1], default=0.6
        Step-size decay of :meth:`partial_fit`: the ``t``-th batch after the
        first moves the running statistics by ``(t + learning_offset) **
        -learning_decay`` (Liang & Klein 2009 recommend 0.5-0.7 for
        mini-batches).
    learning_offset : float >= 0, default=1.0
        Delays the decay of :meth:`partial_fit`'s step sizes (with 1, the
        batches after the first get steps 2^-0.6, 3^-0.6, ..., the schedule
        ``(k + 2) ** -alpha`` of Liang & Klein 2009).

    Attributes
    ----------
    weights_ : (n_components,)
    means_ : (n_components, n_features)
    covariances_, precisions_, precisions_cholesky_ :
        scikit-learn shapes for ``covariance_type``; (n_components,
        n_features, n_features) for mclust's models other than the four.
    volumes_ : (n_components,)
        mclust's models other than the four: ``|Sigma_k|^(1/D)``.
    shapes_ : (n_components, n_features)
        Where the model has a shape: the diagonal of ``A_k`` (determinant 1).
    orientations_ : (n_components, n_features, n_features)
        Where the model has an orientation: ``D_k``, columns going with ``shapes_``.
    converged_ : bool
    collapsed_components_ : (n_collapsed,) int array
        Components (``[0]`` for "tied") whose covariance collapsed onto a point
        or a subspace and is held only by ``reg_covar``: a degenerate solution.
        Among ``n_init`` runs, one without such a component is kept over a
        collapsed one whatever their log-likelihoods.  A run stops once the
        collapse has held for 50 iterations (``n_iter_`` tells).
    n_iter_ : int
        EM iterations of the kept run (of the last ``fit``).
    n_steps_ : int
        Batches averaged in by :meth:`partial_fit` since the last ``fit``
        (0 after ``fit``).
    lower_bound_ : float
        Mean log-likelihood per unit weight at the last E-step.
    lower_bounds_ : list of float
        ``lower_bound_`` at every iteration of the kept run.
    log_likelihood_ : float
        Total (weighted) log-likelihood of the training data at the fitted
        parameters.
    n_features_in_, feature_names_in_ :
        As in scikit-learn (names only for DataFrame input).

    Notes
    -----
    *Degenerate data never crash a fit* (the README's "Degenerate data"
    section says the same).  Every covariance carries ``reg_covar`` on its
    diagonal, so a component that collapses onto one point (a singleton
    cluster), onto duplicated rows, or onto a subspace (constant or collinear
    columns) keeps a positive-definite covariance, and a
    :class:`~bayesmix.exceptions.DegenerateDataWarning` names the components
    (or the tied covariance) and the ``reg_covar`` used.  Constant columns,
    and data whose rows are all the same point (then ``"auto"`` means
    ``reg_covar=1e-6``, there being no variance to be relative to), are
    reported too.  Should a covariance still not factorise (``reg_covar=0``),
    about ``1e-10`` times the data's average variance is added to its diagonal,
    growing tenfold until it does; the jitter is kept in ``covariances_`` and
    reported.  A component whose weight falls below 1e-10 of the total is
    re-seeded at the worst-explained row with the pooled covariance, also with
    a warning.  The data are internally centred and scaled by a power of two,
    so values near 1e150 or 1e-150 (or offset by 1e8) fit like values near 1:
    the fit of ``c * X`` (``c > 0``) is ``c`` times the fit of ``X``.

    ``sample_weight`` are frequency weights: rows of zero weight are dropped,
    integer weights give the same fit as repeated rows and multiplying all
    weights by a constant changes nothing.  The initialisation draws its
    random numbers with the rows in a canonical order (sorted along a fixed
    direction), so with ``init_params`` "kmeans" or "k-means++" the same
    ``random_state`` gives the same fit whatever the order of the rows and
    whether a row is repeated or weighted ("random" draws per row, so it
    cannot promise the latter).

    References
    ----------
    Dempster, Laird & Rubin (1977); Bishop (2006) §9.2; McLachlan & Peel (2000).
    Stopping: Böhning, Dietz, Schaub, Schlattmann & Lindsay (1994), Ann. Inst.
    Statist. Math. 46, 373-388; McNicholas, Murphy, McDaid & Frost (2010),
    Comput. Stat. Data Anal. 54, 711-723.  Restarts: Biernacki, Celeux &
    Govaert (2003), Comput. Stat. Data Anal. 41, 561-575.
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float | str = "auto",
        reg_covar: float | str = "auto",
        max_iter: int = 1000,
        n_init: int | str = "auto",
        init_params: str = "auto",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start: bool = False,
        verbose: int = 0,
        learning_decay: float = 0.6,
        learning_offset: float = 1.0,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset

    # --------------------------------------------------------------- fitting
    def fit(self, X, y=None, sample_weight=None):
        """Fit the mixture by EM.

        Parameters
        ----------
        X : array-like or DataFrame, (n_samples, n_features), or dask array
            NaN marks a missing value (missing at random): each row's
            likelihood is the mixture's marginal over its observed features,
            and the E-step fills in the conditional moments of the missing
            ones (see the user guide, "Missing values").  Infinity, and a row
            with every feature missing, are errors.  A Dask array, with or
            without missing values, is fitted chunk by chunk (see
            :mod:`bayesmix._dask` and the user guide's "When your data
            outgrow one machine"): each EM iteration maps the E-step (with
            holes, the missing-value E-step of each chunk's patterns) over
            the row chunks and sums the statistics, the start comes from a
            sample of 10 000 rows drawn from ``random_state`` and the
            chunking, and with the same ``weights_init``, ``means_init`` and
            ``precisions_init`` the fit equals the in-memory one up to
            rounding (with any start, when the sample holds every row).
        y : ignored
        sample_weight : array-like or dask array (n_samples,), optional
            Non-negative frequency weights.

        Returns
        -------
        self
        """
        # Every check runs before any compiled code, and nothing fitted is
        # touched until all of them passed.
        params = self.get_params()
        config, rng = core.check_config(params)
        if _dask.is_dask(X) or _dask.is_dask(sample_weight):
            # the same EM, its passes mapped over the chunks (bayesmix._dask)
            data = _dask.prepare(X, sample_weight, self.n_components, rng, allow_missing=True)
        else:
            data = prepare(
                X, sample_weight, self.n_components, rescale_weights=True, allow_missing=True
            )
        check_distinct_rows(self.n_components, data.n_distinct)
        n_features = core.sizes(data)[1]
        given = core.check_init_arrays(config, params, n_features)
        check_init_scale(given, data.std.center, data.std.scale)
        holes = data.missing is not None if isinstance(data, Data) else data.holes
        _compile.compile_first(_compile.EM, n_features, data.n_distinct, holes)
        # warm_start continues only a fit of the same model on the same features.
        warm = None
        if (
            self.warm_start
            and hasattr(self, "_params")
            and self._structure.name == config.structure.name
            and self._params.means.shape == (self.n_components, n_features)
        ):
            data = data.restandardised(self._standardiser)
            warm = self._params
        # Convergence is judged against the previous call too (scikit-learn's
        # rule), in the kernels' standardised units (see _publish).
        history = []
        if warm is not None:
            log_jac = n_features * self._standardiser.log_scale
            history = [lb + log_jac for lb in getattr(self, "lower_bounds_", ())]
        result = core.fit(config, data, rng, given, warm=warm, warm_history=history)
        self._publish(config, data, result)
        self._online = None
        self.n_steps_ = 0
        return self

    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the fit with one batch of rows: stepwise (online) EM.

        The first call on an unfitted model is ``fit(X)``.  Each later call
        moves the model's running sufficient statistics a step
        ``(t + learning_offset) ** -learning_decay`` towards those of this
        batch at the current parameters and takes the M-step (Cappé & Moulines
        2009; Liang & Klein 2009), so a stream of batches converges to the fit
        of the whole stream without holding it; a model fitted by ``fit``
        continues from where it stands.  Units (the centre and scale of the
        data, and ``reg_covar="auto"``) are those of the first batch.

        Parameters
        ----------
        X : array-like or DataFrame, (n_samples, n_features)
            One batch (at least 2 rows); NaN marks a missing value, as in
            :meth:`fit` (the batch's statistics come from the missing-data
            E-step).
        y : ignored
        sample_weight : array-like (n_samples,), optional
            Frequency weights of the batch's rows.

        Returns
        -------
        self

        Notes
        -----
        ``log_likelihood_`` and ``lower_bound_`` then describe the last batch
        at the parameters before its update; ``n_steps_`` counts the updates.
        Components are not re-seeded between batches: one whose weight decays
        to nothing stays empty.
        """
        decay, offset = online.check_schedule(self.learning_decay, self.learning_offset)
        _dask.refuse(
            X,
            "partial_fit",
            "fit(X) takes the whole Dask array, or pass its blocks one by one: "
            "for block in X.blocks: model.partial_fit(block.compute())",
        )
        if not hasattr(self, "_params"):
            return self.fit(X, y, sample_weight)
        params = self.get_params()
        config, _ = core.check_config(params)
        if (
            config.structure.name != self._structure.name
            or config.n_components != (self._params.means.shape[0])
        ):
            raise ValueError(
                "partial_fit continues the fitted model, but n_components or "
                "covariance_type changed since it was fitted; call fit(X) to start again."
            )
        data = prepare(X, sample_weight, 1, rescale_weights=True, allow_missing=True)
        unit = data.w_unit
        if data.Xt.shape[0] != self.n_features_in_:
            raise ValueError(
                f"X has {data.Xt.shape[0]} features, but GaussianMixture is expecting "
                f"{self.n_features_in_} features as input (those it was fitted with); pass "
                "batches with the same columns."
            )
        _compile.compile_first(_compile.EM, self.n_features_in_)
        data = data.restandardised(self._standardiser)
        state = getattr(self, "_online", None)
        if state is None:
            state = online.implied_moments(self._structure, self._params, self._reg)
        ctx = core.Context(
            reg=self._reg,
            scale=self._standardiser.scale,
            nk_floor=10.0 * np.finfo(float).eps / data.Xt.shape[1],
        )
        rho = online.step_size(state.n_steps, decay, offset)
        state, new, jitter, mean_ll = online.step(
            self._structure, state, self._params, data, ctx, rho
        )
        if jitter is not None:
            warnings.warn(
                f"partial_fit: covariance(s) {np.flatnonzero(jitter).tolist()} were not "
                "positive definite after the update and got jitter on their diagonal; "
                "raise reg_covar.",
                DegenerateDataWarning,
                stacklevel=2,
            )
        log_jac = data.Xt.shape[0] * self._standardiser.log_scale
        self._params = new
        self._online = state
        self.n_steps_ = state.n_steps
        self.lower_bound_ = mean_ll - log_jac
        self.log_likelihood_ = (mean_ll - log_jac) * float(data.w.sum()) * unit
        self._set_public_params()
        return self

    def _publish(self, config: core.Config, data: Data, result: core.Fit) -> None:
        """Set the fitted attributes from a :class:`bayesmix._em_core.Fit`, then warn."""
        result = one_component_floor(config, data, result)  # never below one component
        best, ctx = result.best, result.ctx
        std, names = data.std, data.names
        _, n_features, total = core.sizes(data)
        self._structure = config.structure
        self._standardiser = std
        self._reg = ctx.reg
        self._params = best.params
        # The kernels see (X - center) / scale: densities differ by the Jacobian.
        log_jac = n_features * std.log_scale
        publish_fit(
            self,
            n_features=n_features,
            feature_names=names,
            converged=best.converged,
            lower_bounds=best.lower_bounds,
            log_jacobian=log_jac,
        )
        unit = getattr(data, "w_unit", 1.0)  # weights rescaled by prepare: totals in the caller's
        self.log_likelihood_ = (best.log_likelihood - total * log_jac) * unit
        # sum_i w_i log max_k p(k | x_i) at the fitted parameters: ICL's entropy term
        self._train_log_max_resp = best.log_max_resp * unit
        self._train_weight = total * unit
        self._set_public_params()
        self.collapsed_components_ = best.collapsed

        for msg in result.messages:
            warnings.warn(msg, DegenerateDataWarning, stacklevel=3)
        # a run stopped on a collapse is not unconverged: DegenerateDataWarning said why
        if not best.converged and not best.stopped_collapsed and self.max_iter > 0:
            lbs = best.lower_bounds
            if len(lbs) < 2:
                detail = "a single iteration cannot show convergence"
            elif isinstance(self.tol, str):
                gain = core.aitken_gain(lbs, total)
                detail = (
                    f"the log-likelihood still grows: about {gain:.3g} more to gain"
                    if np.isfinite(gain)
                    else "the log-likelihood still grows irregularly"
                )
            else:
                detail = (
                    f"the last change of the mean log-likelihood, {abs(lbs[-1] - lbs[-2]):.3g}, "
                    f"is above tol={self.tol}"
                )
            warn_not_converged(
                "EM",
                self.max_iter,
                detail,
                f"Increase max_iter (e.g. max_iter={max(10, 4 * self.max_iter)}), raise tol, "
                "or start closer to the optimum: more n_init, another init_params, or "
                "continue this fit with warm_start=True.",
                stacklevel=3,
            )

    # ---------------------------------------------------------------- output
    def _set_public_params(self):
        p = self._params
        s, c = self._standardiser.scale, self._standardiser.center
        self.weights_ = p.weights.copy()
        self.means_ = p.means * s + c
        self.covariances_ = p.covariances * s**2
        self.precisions_cholesky_ = p.prec_chol / s
        self.precisions_ = self._structure.precisions(self.precisions_cholesky_)
        # mclust's models also report their volume / shape / orientation factors
        for name, value in self._structure.factors(self.covariances_).items():
            setattr(self, name, value)

    def _component_arrays(self):
        return core.components(self._structure, self._params)[:3]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # NaN is a missing value (see fit)
        return tags

    # NaN cells are missing values: rows are scored on their observed features
    # (complete rows take the complete-data pass unchanged).
    def _log_prob(self, X, want_resp: bool):
        if _dask.is_dask(X):  # lazy, chunk by chunk (no missing values)
            return super()._log_prob(X, want_resp)
        X = check_predict_X(self, X, allow_nan=True)
        return _missing.log_prob(self._structure, self._params, self._standardiser, X, want_resp)

    def _check_score_weight(self, X, sample_weight):
        if sample_weight is None:
            return None
        check_fitted(self)
        return check_sample_weight(sample_weight, check_X(X, allow_nan=True)[0].shape[0])

    def impute(self, X, n_draws: int | None = None, random_state=None) -> np.ndarray:
        """Fill the missing (NaN) cells of ``X`` under the fitted mixture.

        Each row's missing features ``m`` given its observed ones ``o`` follow
        the mixture ``sum_k p(k | x_o) N(E[x_m | x_o, k], C_k)`` with the
        Gaussian conditional moments of each component (Little & Rubin 2002,
        ch. 11).  Missing at random is assumed, as in ``fit``.

        Parameters
        ----------
        X : array-like or DataFrame, (n_samples, n_features), or dask array
            NaN marks a missing cell; every row needs at least one observed
            feature.  A Dask array gives a lazy Dask array, one block per row
            chunk (``n_draws=None`` only).
        n_draws : int, optional
            None: return the conditional expectation ``E[x_m | x_o]``.  An int
            ``m``: return ``m`` multiple imputations (Rubin 1987), drawn
            independently from the conditional distribution.
        random_state : None, int or numpy Generator
            Seed of the draws (None: fresh entropy).

        Returns
        -------
        (n_samples, n_features) or (n_draws, n_samples, n_features) ndarray
            ``X`` with its missing cells filled; observed cells are returned
            as given.
        """
        if _dask.is_dask(X):
            if n_draws is not None:
                raise TypeError(
                    "impute(X, n_draws=...) does not take a Dask array: its draws come from "
                    "one generator over all the rows. Draw on rows in memory, e.g. "
                    "impute(X.compute(), n_draws=...), or impute(X) for the conditional "
                    "expectations, chunk by chunk."
                )
            return _dask.impute(self, X)
        X = check_predict_X(self, X, allow_nan=True)
        if n_draws is not None:
            n_draws = check_n_draws(n_draws, X.shape[0] * X.shape[1], name="n_draws")
        rng = check_random_state(random_state)
        return _missing.impute(self._structure, self._params, self._standardiser, X, n_draws, rng)

    def _sampling_components(self):
        k, d = self.means_.shape
        return self.means_, self._structure.to_full(self.covariances_, k, d)

    @property
    def n_parameters_(self) -> int:
        """Free parameters of the fitted model: covariances, means and weights."""
        check_fitted(self)
        k, d = self.means_.shape
        return self._structure.n_parameters(k, d)

    def _criteria(self, X, sample_weight) -> dict:
        if _dask.is_dask(X):
            ll, log_max, total = _dask.criteria_sums(self, X, sample_weight)
            return core.criteria(ll, log_max, self.n_parameters_, total)
        w = self._check_score_weight(X, sample_weight)
        row_lse, resp = self._log_prob(X, want_resp=True)
        if w is None:
            w = np.ones(row_lse.shape[0])
        with np.errstate(divide="ignore"):
            log_max = np.log(resp.max(axis=1))
        return core.criteria(
            float(w @ row_lse), float(w @ log_max), self.n_parameters_, float(w.sum())
        )

    def bic(self, X, sample_weight=None) -> float:
        """Bayesian information criterion, ``-2 log L + p log n`` (lower is better;
        ``n`` is the total weight)."""
        return self._criteria(X, sample_weight)["bic"]

    def aic(self, X, sample_weight=None) -> float:
        """Akaike information criterion, ``-2 log L + 2 p`` (lower is better)."""
        return self._criteria(X, sample_weight)["aic"]

    def icl(self, X, sample_weight=None) -> float:
        """Integrated completed likelihood, ``bic - 2 sum_i log max_k p(k | x_i)``
        (Biernacki, Celeux & Govaert 2000; lower is better)."""
        return self._criteria(X, sample_weight)["icl"]

    def posterior(
        self,
        X=None,
        *,
        n_draws: int | None = None,
        method: str = "nonparametric",
        sample_weight=None,
        random_state=None,
        n_boot: int | None = None,
    ):
        """Bootstrap the fit into a :class:`~bayesmix.MixturePosterior`, so EM gets
        intervals too (see :func:`bayesmix.bootstrap_em`).

        Parameters
        ----------
        X : (n_samples, n_features)
            The data the model was fitted to.  Required: an EM fit keeps no
            copy of its training data, and the bootstrap refits to resamples of it.
            NaN cells are missing values: replicates resample rows with their
            holes, and the posterior's per-row summaries are of each row's
            observed features.
        n_draws : int, default=200
            Bootstrap replicates (draws).
        method : {"nonparametric", "weighted"}
            Rows resampled with replacement, or Dirichlet weighted-likelihood bootstrap.
        sample_weight : (n_samples,), optional
            The frequency weights of the original fit.
        random_state : None, int or numpy Generator
        n_boot : int, optional
            Deprecated alias of ``n_draws`` (the name every engine's
            ``posterior()`` shares); it will be removed in the next release.
        """
        from ._em_bootstrap import bootstrap_em

        if X is None:
            raise ValueError(
                "GaussianMixture.posterior needs X, the data the model was fitted to: the "
                "bootstrap refits EM to resamples of it (EM keeps no copy of its training "
                "data); call posterior(X)."
            )
        if isinstance(X, numbers.Number):
            raise TypeError(
                f"posterior's first argument is X, the training data, got {X!r}; pass the "
                "number of replicates by keyword: posterior(X, n_draws=...)."
            )
        if n_boot is not None:
            if n_draws is not None:
                raise TypeError("pass n_draws only (n_boot is its deprecated alias), not both.")
            warnings.warn(
                "posterior(n_boot=...) is deprecated and will be removed in the next release; "
                "use posterior(X, n_draws=...), the name every engine's posterior() shares.",
                FutureWarning,
                stacklevel=2,
            )
            n_draws = n_boot
        return bootstrap_em(
            self,
            X,
            n_boot=200 if n_draws is None else n_draws,
            method=method,
            sample_weight=sample_weight,
            random_state=random_state,
        )


def fit_prepared(params: dict, data: Data, *, start=None) -> GaussianMixture:
    """A :class:`GaussianMixture` with constructor parameters ``params``, fitted
    to data already prepared by :func:`bayesmix._data.prepare`.

    ``start`` (``(params, jitter)`` in the data's standardised units, with
    ``n_init=1``) replaces the first initialisation: :func:`~bayesmix.select_model`
    passes the start its grid shares.  Warnings are raised as by ``fit``.
    """
    model = GaussianMixture(**params)
    config, rng = core.check_config(model.get_params())
    check_distinct_rows(model.n_components, data.n_distinct)
    given = core.check_init_arrays(config, model.get_params(), data.Xt.shape[0])
    check_init_scale(given, data.std.center, data.std.scale)
    model._publish(config, data, core.fit(config, data, rng, given, start=start))
    return model


def training_criteria(model: GaussianMixture) -> dict:
    """``log_likelihood``, ``n_parameters``, ``bic``, ``aic`` and ``icl`` of a
    fitted model on its own training data (with its training weights), from
    the fit's last E-step: no further pass over the data."""
    check_fitted(model)
    ll, p = model.log_likelihood_, model.n_parameters_
    total = model._train_weight
    return {
        "log_likelihood": ll,
        "n_parameters": p,
        **core.criteria(ll, model._train_log_max_resp, p, total),
    }
