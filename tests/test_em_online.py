"""GaussianMixture.partial_fit: stepwise EM (bayesmix._em_online)."""

import numpy as np
import pytest

from bayesmix import GaussianMixture, load
from bayesmix._em_online import step_size


def _two_components(n, seed=1):
    rng = np.random.default_rng(seed)
    z = rng.random(n) < 0.4
    a = rng.normal([0.0, 0.0], 1.0, (n, 2))
    b = rng.normal([2.5, 1.0], [1.0, 0.6], (n, 2))
    return np.where(z[:, None], a, b)


def _sorted(gm):
    order = np.argsort(gm.means_[:, 0])
    cov = gm.covariances_ if gm.covariance_type == "tied" else gm.covariances_[order]
    return gm.weights_[order], gm.means_[order], cov


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "VEV", "EVE"])
def test_batches_cycled_converge_to_the_batch_fit(covariance_type):
    X = _two_components(20_000)
    batch = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    online = GaussianMixture(2, covariance_type=covariance_type, random_state=0)
    rng = np.random.default_rng(0)
    batches = np.array_split(rng.permutation(X.shape[0]), 40)
    for _ in range(5):
        for rows in batches:
            online.partial_fit(X[rows])
    assert online.n_steps_ == 5 * 40 - 1  # the first batch was a fit
    for got, want in zip(_sorted(online), _sorted(batch), strict=True):
        # the batch fit's standard errors here are about 0.01-0.02
        np.testing.assert_allclose(got, want, atol=0.02)


def test_first_call_is_fit_and_fit_resets_the_stream():
    X = _two_components(600)
    a = GaussianMixture(2, random_state=3).partial_fit(X)
    b = GaussianMixture(2, random_state=3).fit(X)
    for got, want in zip(_sorted(a), _sorted(b), strict=True):
        np.testing.assert_array_equal(got, want)
    assert a.n_steps_ == 0
    a.partial_fit(X[:300])
    assert a.n_steps_ == 1
    a.fit(X)
    assert a.n_steps_ == 0 and a._online is None


def test_a_batch_at_its_own_optimum_leaves_the_fit_where_it_is():
    # the running statistics start from the moments the parameters imply
    X = _two_components(2000)
    gm = GaussianMixture(2, tol=1e-13, max_iter=10_000, random_state=0).fit(X)
    before = [a.copy() for a in _sorted(gm)]
    gm.partial_fit(X)
    for got, want in zip(_sorted(gm), before, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5)
    # a different batch does move it
    gm.partial_fit(X[:1000] + 0.5)
    assert np.abs(_sorted(gm)[1] - before[1]).max() > 0.05


def test_weights_equal_repeated_rows():
    X = _two_components(800, seed=5)
    w = np.random.default_rng(2).integers(1, 4, 400).astype(float)
    a = GaussianMixture(2, random_state=0).fit(X[400:])
    b = GaussianMixture(2, random_state=0).fit(X[400:])
    a.partial_fit(X[:400], sample_weight=w)
    b.partial_fit(np.repeat(X[:400], w.astype(int), axis=0))
    for got, want in zip(_sorted(a), _sorted(b), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_step_sizes_follow_the_schedule():
    # Liang & Klein (2009): (k + 2) ** -alpha for the k-th update (k = 0, 1, ...)
    assert step_size(0, 0.6, 1.0) == pytest.approx(2.0**-0.6)
    assert step_size(9, 0.6, 1.0) == pytest.approx(11.0**-0.6)
    assert step_size(0, 1.0, 0.0) == 1.0


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"learning_decay": 0.5}, "learning_decay must be in"),
        ({"learning_decay": 1.5}, "learning_decay must be in"),
        ({"learning_offset": -1.0}, "learning_offset must be"),
        ({"learning_decay": "fast"}, "learning_decay must be a number"),
    ],
)
def test_bad_schedule_is_refused_before_anything_changes(params, match):
    X = _two_components(300)
    gm = GaussianMixture(2, random_state=0).fit(X)
    means = gm.means_.copy()
    gm.set_params(**params)
    with pytest.raises((ValueError, TypeError), match=match):
        gm.partial_fit(X)
    np.testing.assert_array_equal(gm.means_, means)


def test_changed_model_or_columns_are_refused():
    X = _two_components(300)
    gm = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="features"):
        gm.partial_fit(np.column_stack([X, X[:, 0]]))
    gm.set_params(n_components=3)
    with pytest.raises(ValueError, match="call fit"):
        gm.partial_fit(X)


def test_save_and_load_keep_the_stream(tmp_path):
    X = _two_components(1200)
    gm = GaussianMixture(2, random_state=0).fit(X[:400])
    gm.partial_fit(X[400:800])
    gm.save(tmp_path / "online.npz")
    back = load(tmp_path / "online.npz")
    assert back.n_steps_ == 1
    gm.partial_fit(X[800:])
    back.partial_fit(X[800:])
    for got, want in zip(_sorted(back), _sorted(gm), strict=True):
        np.testing.assert_array_equal(got, want)
