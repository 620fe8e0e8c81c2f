"""EM's posterior(): the bootstrap behind the signature every engine shares."""

import numpy as np
import pytest

from bayesmix import GaussianMixture, bootstrap_em
from bayesmix.datasets import load_faithful


@pytest.fixture(scope="module")
def fitted():
    X = load_faithful()
    return GaussianMixture(2, random_state=0).fit(X), X


def test_n_draws_is_the_number_of_replicates(fitted):
    gm, X = fitted
    post = gm.posterior(X, n_draws=7, random_state=0)
    assert post.weights.shape[:2] == (1, 7)
    assert post.kind == "bootstrap"


def test_n_boot_is_a_deprecated_alias_of_n_draws(fitted):
    gm, X = fitted
    with pytest.warns(FutureWarning, match="n_boot"):
        old = gm.posterior(X, n_boot=5, random_state=2)
    new = gm.posterior(X, n_draws=5, random_state=2)
    np.testing.assert_array_equal(old.means, new.means)
    with pytest.raises(TypeError, match="not both"):
        gm.posterior(X, n_draws=5, n_boot=5)


def test_posterior_says_it_needs_the_training_data(fitted):
    gm, _ = fitted
    with pytest.raises(ValueError, match="needs X"):
        gm.posterior()
    with pytest.raises(TypeError, match="n_draws="):
        gm.posterior(50)


@pytest.mark.parametrize("method", ["nonparametric", "weighted"])
def test_bootstrap_standard_error_of_a_mean(rng, method):
    """One component: the fitted mean is the sample mean, whose bootstrap
    standard deviation is sigma / sqrt(n)."""
    n, sigma = 400, np.array([1.0, 3.0])
    X = rng.normal(size=(n, 2)) * sigma
    gm = GaussianMixture(1, random_state=0).fit(X)
    post = bootstrap_em(gm, X, n_boot=300, method=method, random_state=1)
    assert post.kind == "bootstrap" and post.means.shape == (1, 300, 1, 2)
    sd = post.means[0, :, 0].std(axis=0, ddof=1)
    np.testing.assert_allclose(sd, X.std(axis=0) / np.sqrt(n), rtol=0.15)
    np.testing.assert_allclose(post.weights, 1.0)


def test_bootstrap_keeps_labels_and_is_reproducible():
    X = load_faithful()
    gm = GaussianMixture(2, random_state=0).fit(X)
    post = bootstrap_em(gm, X, n_boot=40, random_state=3)
    # every replicate keeps the full-data numbering
    assert np.abs(post.means[0] - gm.means_).max() < 0.2 * np.abs(gm.means_).max()
    np.testing.assert_array_equal(post.permutation[0], np.tile([0, 1], (40, 1)))
    again = bootstrap_em(gm, X, n_boot=40, random_state=3)
    # Same seeds, same replicates.  (Bit-identity is the EM fit's own contract and
    # is tested with it; here a last-digit difference would not be this layer's.)
    np.testing.assert_allclose(post.means, again.means, rtol=1e-13, atol=0)
    table = post.summary()
    lo, hi = table.loc["means[0, 0]", ["eti95_lb", "eti95_ub"]]
    assert lo < gm.means_[0, 0] < hi
    # classification uncertainty: partitions sampled per replicate
    assert post.n_components()[2] == pytest.approx(1.0)
    point = post.point_partition()
    assert (point == gm.predict(X)).mean() > 0.95 or (point != gm.predict(X)).mean() > 0.95


def test_bootstrap_with_integer_sample_weight_keeps_total_weight(rng):
    X = rng.normal(size=(50, 2))
    w = rng.integers(1, 4, size=50).astype(float)
    gm = GaussianMixture(1).fit(X, sample_weight=w)
    post = bootstrap_em(gm, X, n_boot=20, sample_weight=w, random_state=0)
    assert post.sample_weight is not None
    np.testing.assert_allclose(post.total_log_likelihood, post.log_likelihood @ w)
    with pytest.raises(ValueError, match="method"):
        bootstrap_em(gm, X, method="parametric")
    with pytest.raises(ValueError, match="features"):
        bootstrap_em(gm, X[:, :1])


def test_bootstrap_draws_do_not_depend_on_the_number_of_threads(monkeypatch):
    X = load_faithful()
    gm = GaussianMixture(2, random_state=0).fit(X)
    monkeypatch.setenv("BAYESMIX_NUM_THREADS", "2")
    threaded = bootstrap_em(gm, X, n_boot=12, random_state=5)
    monkeypatch.setenv("BAYESMIX_NUM_THREADS", "1")
    serial = bootstrap_em(gm, X, n_boot=12, random_state=5)
    np.testing.assert_array_equal(threaded.weights, serial.weights)
    np.testing.assert_array_equal(threaded.means, serial.means)
    np.testing.assert_array_equal(threaded.covariances, serial.covariances)


def test_bootstrap_replicates_search_beyond_the_full_data_basin():
    # Two overlapping components (n=300): some replicates' best optimum lies in
    # another basin than the full-data fit's, which a replicate started only
    # from the fit would miss; the spread of the weights shows it.
    rng = np.random.default_rng(10_003)
    z = (rng.random(300) >= 0.4).astype(int)
    X = rng.standard_normal((300, 2)) + np.array([[0.0, 0.0], [2.5, 0.0]])[z]
    gm = GaussianMixture(2, random_state=0).fit(X)
    post = bootstrap_em(gm, X, n_boot=60, random_state=0)
    import bayesmix._em_bootstrap as eb

    def warm_only(params, X, w):
        from bayesmix import _em_core as core
        from bayesmix._data import prepare

        config, r = core.check_config({**params, "n_init": 1})
        data = prepare(X, w, config.n_components)
        given = core.check_init_arrays(config, params, data.Xt.shape[0])
        return eb.Replicate(config, data, core.fit(config, data, r, given))

    orig = eb._refit
    eb._refit = warm_only
    try:
        warm = bootstrap_em(gm, X, n_boot=60, random_state=0)
    finally:
        eb._refit = orig
    assert post.weights[0].std(axis=0).min() > 1.2 * warm.weights[0].std(axis=0).min()
