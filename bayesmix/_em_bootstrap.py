"""The EM bootstrap: intervals for a maximum-likelihood fit.

Each replicate refits EM (through :mod:`bayesmix._em_core`, as
:meth:`GaussianMixture.fit <bayesmix.GaussianMixture.fit>` does) to the data
with bootstrap frequency weights, and the replicates become the draws of a
:class:`~bayesmix.MixturePosterior`.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._dask import is_dask
from ._data import prepare
from ._kernels import _n_threads, serial_kernels
from ._process_state import capturing_warnings, single_threaded_blas, warning_sink
from ._replicates import Replicate, aligned, refit, replicate_params, warn_troubles
from ._validation import (
    check_choice,
    check_fitted,
    check_int,
    check_random_state,
    check_sample_weight,
    check_X,
)
from .posterior import MixturePosterior

__all__ = ["bootstrap_em"]


def _bootstrap_weights(rng, w, method):
    """One replicate's frequency weights, keeping the total weight."""
    total = w.sum()
    counts_like = np.all(w == np.round(w))
    if method == "nonparametric":
        if counts_like:
            return rng.multinomial(round(total), w / total).astype(np.float64)
        n = w.shape[0]
        return rng.multinomial(n, w / total) * (total / n)
    # weighted likelihood bootstrap: Dirichlet weights of the (expanded) rows
    g = rng.standard_gamma(w) if counts_like else w * rng.standard_exponential(w.shape[0])
    return g * (total / g.sum())


def bootstrap_em(
    model,
    X,
    n_boot: int = 200,
    method: str = "nonparametric",
    sample_weight=None,
    random_state=None,
) -> MixturePosterior:
    """Bootstrap a fitted :class:`~bayesmix.GaussianMixture` into draws.

    Each replicate refits EM to the data with bootstrap frequency weights
    the way the model was fitted: it searches for its own best optimum as
    ``n_init="auto"`` does, with the full-data fit as its first start (as
    mclust's ``MclustBootstrap`` starts there) and four screened k-means++ /
    random starts besides, and runs to that optimum (``tol="auto"``, at least
    1000 iterations, whatever the model's own stopping rule).  Each
    replicate's components are then matched to the fit's (least total
    Mahalanobis distance between the means).  On overlapping components a
    replicate's best optimum is often in another basin than the full-data
    fit's; started only from the fit, 90% intervals covered the truth 83% of
    the time on such data, and with the screened starts 95% (Efron &
    Tibshirani 1993, §6: a replicate repeats the whole estimation procedure).

    Parameters
    ----------
    model : fitted GaussianMixture
    X : (n_samples, n_features)
        The data the model was fitted to; NaN cells are missing values (each
        replicate resamples rows with their holes; the posterior's per-row
        summaries are of each row's observed features).
    n_boot : int, default=200
        Number of replicates (draws).
    method : {"nonparametric", "weighted"}
        ``"nonparametric"``: rows resampled with replacement (multinomial
        counts).  ``"weighted"``: the weighted-likelihood (Bayesian) bootstrap,
        Dirichlet(1, ..., 1) weights times ``n`` (Newton & Raftery 1994).
        With ``sample_weight`` the weights multiply: integer weights count
        repeated rows exactly; other weights resample ``n_samples`` rows.
    sample_weight : (n_samples,), optional
        Frequency weights used for the original fit.
    random_state : None, int or Generator

    A Dask array ``X`` (or ``sample_weight``) draws each replicate's weights
    chunk by chunk -- the Poisson bootstrap for "nonparametric", exact
    Dirichlet weights for "weighted" -- and refits through the Dask EM
    (:mod:`bayesmix._dask_boot`); the posterior then carries no observed data.

    Returns
    -------
    MixturePosterior
        ``kind="bootstrap"``, one chain of ``n_boot`` draws (replicates that
        fail are left out, with a warning).

    References
    ----------
    Efron & Tibshirani (1993); Newton & Raftery (1994) JRSS B 56, 3-48;
    O'Hagan, Murphy, Scrucca & Gormley (2019) Comput. Stat. 34, 1739-1760.
    """
    if is_dask(X) or is_dask(sample_weight):  # weights drawn chunk by chunk
        from ._dask_boot import bootstrap

        return bootstrap(model, X, n_boot, method, sample_weight, random_state)
    check_fitted(model)
    n_boot = check_int(n_boot, "n_boot", low=1)
    check_choice(method, "method", ("nonparametric", "weighted"))
    # NaN cells are missing values, as in the fit: a replicate resamples rows
    # with their holes and refits EM on the observed-data likelihood
    X_arr, names = check_X(X, min_samples=2, allow_nan=True)
    if X_arr.shape[1] != model.n_features_in_:
        raise ValueError(
            f"X has {X_arr.shape[1]} features, but the model was fitted with "
            f"{model.n_features_in_}; pass the data used in fit."
        )
    w = check_sample_weight(sample_weight, X_arr.shape[0])
    rng = check_random_state(random_state)
    params = replicate_params(model)
    seeds = rng.integers(0, 2**63 - 1, size=n_boot)
    replicates = [_bootstrap_weights(rng, w, method) for _ in range(n_boot)]

    caught: list[str] = []

    def one(b: int):
        """Replicate ``b`` (its own seed and weights: the same whichever thread)."""
        serial = serial_kernels() if n_threads > 1 else contextlib.nullcontext()
        with serial, warning_sink(caught):
            try:
                return _refit({**params, "random_state": int(seeds[b])}, X_arr, replicates[b])
            except (ValueError, np.linalg.LinAlgError) as exc:
                return str(exc)

    # Replicates are independent fits: they run on the kernels' threads, one
    # replicate per thread (BLAS on one thread each), in order of b.
    n_threads = min(_n_threads(), n_boot)
    # shared, not catch_warnings: overlapping bootstraps in threads restore once
    with capturing_warnings(), single_threaded_blas():
        if n_threads == 1:
            fits = [one(b) for b in range(n_boot)]
        else:
            with ThreadPoolExecutor(n_threads, thread_name_prefix="bayesmix-boot") as pool:
                fits = list(pool.map(one, range(n_boot)))
    weights, means, covs = aligned(model, warn_troubles(model, n_boot, fits, caught, 2))
    return MixturePosterior.from_draws(
        weights[None],
        means[None],
        covs[None],
        # NaN cells stay missing: the per-row summaries are of each row's
        # observed features, as the replicates' likelihood was
        X=X_arr,
        # Aligned to the fit's labels above; a data-based relabelling on top would
        # pull overlapping replicates together and narrow the intervals.
        relabel=False,
        sample_weight=sample_weight,
        feature_names=names if names is not None else getattr(model, "feature_names_in_", None),
        kind="bootstrap",
        random_state=rng,
        attrs={"bootstrap_method": method, "n_boot": n_boot},
    )


def _refit(params: dict, X, sample_weight) -> Replicate:
    """A replicate's refit (:func:`bayesmix._replicates.refit`) on ``X`` with
    the replicate's weights ``sample_weight``."""

    def prepare_data(config, rng):
        return prepare(
            X, sample_weight, config.n_components, rescale_weights=True, allow_missing=True
        )

    return refit(params, prepare_data)
