"""Missing values (NaN) beyond one EM fit: model selection, the EM bootstrap
(``GaussianMixture.posterior``) and stepwise EM (``partial_fit``)."""

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import bayesmix._em_bootstrap as boot
from bayesmix import GaussianMixture, select_model


def _blobs(n, rate, seed):
    """Two separated 3-D Gaussian clusters with ``rate`` of the cells missing
    completely at random (no row left empty)."""
    rng = np.random.default_rng(seed)
    cov = np.array([[1.0, 0.5, 0.1], [0.5, 1.2, -0.2], [0.1, -0.2, 0.7]])
    X = np.vstack(
        [
            rng.multivariate_normal([0.0, 0.0, 0.0], cov, n - n // 3),
            rng.multivariate_normal([5.0, 4.0, -3.0], 0.6 * cov, n // 3),
        ]
    )
    X = X[rng.permutation(n)]
    holes = rng.random(X.shape) < rate
    holes[holes.all(axis=1), 0] = False
    X[holes] = np.nan
    return X


def _observed_loglik(X, weights, means, covs):
    """Observed-data log-likelihood, pattern by pattern with scipy's marginals."""
    observed = ~np.isnan(X)
    total = 0.0
    for pattern in np.unique(observed, axis=0):
        rows = (observed == pattern).all(axis=1)
        terms = [
            np.log(w)
            + multivariate_normal(m[pattern], c[np.ix_(pattern, pattern)]).logpdf(
                X[rows][:, pattern]
            )
            for w, m, c in zip(weights, means, covs, strict=True)
        ]
        total += logsumexp(np.atleast_2d(np.array(terms).T), axis=1).sum()
    return total


@pytest.fixture(scope="module")
def holes():
    return _blobs(300, 0.2, seed=4)


def test_select_model_with_holes_uses_the_observed_data_likelihood(holes):
    sel = select_model(
        holes, n_components=[1, 2, 3], covariance_types=("VVV", "EII", "VEI"), random_state=0
    )
    table = sel.table_
    assert (table["error"] == "").all() and np.isfinite(table["bic"]).all()
    assert sel.best_params_["n_components"] == 2
    n = holes.shape[0]
    for row in table.to_dict("records"):
        model = sel.models_[(row["covariance_type"], row["n_components"])]
        assert np.all(np.diff(model.lower_bounds_) >= -1e-10)  # EM never goes down
        # the criteria of the table are those of the model's observed-data likelihood
        np.testing.assert_allclose(row["bic"], model.bic(holes), rtol=1e-9)
        p = row["n_parameters"]
        np.testing.assert_allclose(
            row["bic"], -2 * row["log_likelihood"] + p * np.log(n), rtol=1e-12
        )
    best = sel.best_
    assert best.covariances_.shape == (2, 3, 3)  # mclust's names: full matrices
    ll = _observed_loglik(holes, best.weights_, best.means_, best.covariances_)
    np.testing.assert_allclose(best.log_likelihood_, ll, rtol=1e-9)


def test_bootstrap_resamples_rows_with_their_holes(holes, monkeypatch):
    gm = GaussianMixture(2, random_state=0).fit(holes)
    seen = []
    refit = boot._refit

    def spy(params, X, sample_weight):
        seen.append((np.isnan(X).sum(), sample_weight.copy()))
        return refit(params, X, sample_weight)

    monkeypatch.setattr(boot, "_refit", spy)
    post = gm.posterior(holes, n_draws=6, random_state=1)
    assert post.means.shape == (1, 6, 2, 3)
    assert post.log_likelihood.shape == (1, 6, holes.shape[0])  # per-row summaries kept
    assert len(seen) == 6
    with_holes = np.isnan(holes).any(axis=1)
    for n_nan, w in seen:
        assert n_nan == np.isnan(holes).sum()  # the rows keep their holes
        assert w.sum() == pytest.approx(holes.shape[0])  # multinomial counts
        assert (w[with_holes] > 0).any() and (w == 0).any()  # holey rows drawn, others not
    # the replicates centre on the fit (components matched to it)
    np.testing.assert_allclose(post.means[0].mean(axis=0), gm.means_, atol=0.3)


def test_partial_fit_on_a_stream_with_holes_lands_near_the_batch_fit():
    X = _blobs(6000, 0.2, seed=9)
    batch = GaussianMixture(2, random_state=0, tol=1e-8).fit(X)
    online = GaussianMixture(2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):  # epochs over 20 batches of 300 rows
            for chunk in np.array_split(X, 20):
                online.partial_fit(chunk)
    order = np.argsort(online.means_[:, 0])
    ref = np.argsort(batch.means_[:, 0])
    np.testing.assert_allclose(online.means_[order], batch.means_[ref], atol=0.08)
    np.testing.assert_allclose(online.weights_[order], batch.weights_[ref], atol=0.02)
    np.testing.assert_allclose(online.covariances_[order], batch.covariances_[ref], atol=0.1)
    assert online.n_steps_ == 59
    # the batch's reported likelihood is its observed-data likelihood
    assert np.isfinite(online.log_likelihood_)


def test_partial_fit_statistics_with_holes_are_the_missing_data_e_step(holes):
    """One step of size 1 from a fitted model is one EM iteration: it equals
    a fit continued by one iteration (warm start, max_iter=1)."""
    gm = GaussianMixture(2, random_state=0, max_iter=5, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(holes)
        one = GaussianMixture(2, random_state=0, max_iter=5, tol=0.0).fit(holes)
        one.set_params(warm_start=True, max_iter=1)
        one.fit(holes)
    gm.set_params(learning_offset=0.0, learning_decay=1.0)
    gm.partial_fit(holes)  # rho = 1: the batch's statistics replace the running ones
    np.testing.assert_allclose(gm.means_, one.means_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(gm.covariances_, one.covariances_, rtol=1e-6, atol=1e-9)
