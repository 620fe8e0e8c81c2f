"""VariationalGaussianMixture.partial_fit: stochastic variational inference
(bayesmix._vb_online)."""

import numpy as np
import pytest

from bayesmix import Dirichlet, NormalInverseWishart, VariationalGaussianMixture, load
from bayesmix._vb_online import full_elbo, step_size


def _three_clusters(n, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    z = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    return centres[z] + rng.standard_normal((n, 2)) * [1.0, 0.7]


def _sorted(model):
    order = np.lexsort(model.means_.T[::-1])
    return model.weights_[order], model.means_[order]


def _stream(model, X, epochs, batch, seed=1):
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        perm = rng.permutation(X.shape[0])
        for start in range(0, X.shape[0], batch):
            model.partial_fit(X[perm[start : start + batch]])
    return model


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_a_stream_of_batches_converges_to_the_batch_fit(covariance_type):
    X = _three_clusters(3000)
    batch = VariationalGaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    online = VariationalGaussianMixture(
        3, covariance_type=covariance_type, random_state=0, total_samples=X.shape[0]
    )
    _stream(online, X, epochs=4, batch=500)
    assert online.n_steps_ == 4 * 6 - 1  # the first batch was a fit
    for got, want in zip(_sorted(online), _sorted(batch), strict=True):
        # the batch fit's standard errors here are about 0.01-0.03
        np.testing.assert_allclose(got, want, atol=0.02)
    # the ELBO of the streamed q on all rows is that of the batch fit's (to
    # about one nat in 3000 rows), and the batch fit's elbo_ is what full_elbo gives
    assert full_elbo(batch, X) == pytest.approx(batch.elbo_, rel=1e-12)
    assert abs(full_elbo(online, X) - batch.elbo_) < 1.0


def test_a_full_step_at_the_fixed_point_leaves_the_fit_where_it_is():
    # rho = 1, total_samples = n and the whole data as the batch: the step is
    # one CAVI update, and a converged fit (fixed prior) is its fixed point
    X = _three_clusters(1000, seed=2)
    model = VariationalGaussianMixture(
        3,
        weight_prior=Dirichlet(1.0),
        component_prior=NormalInverseWishart(),
        tol=1e-14,
        max_iter=5000,
        moves=False,
        random_state=0,
        total_samples=X.shape[0],
        learning_decay=1.0,
        learning_offset=0.0,
    ).fit(X)
    means, weights, cov = model.means_.copy(), model.weights_.copy(), model.covariances_.copy()
    model.partial_fit(X)
    np.testing.assert_allclose(model.means_, means, atol=1e-8)
    np.testing.assert_allclose(model.weights_, weights, atol=1e-10)
    np.testing.assert_allclose(model.covariances_, cov, atol=1e-8)
    # and its ELBO estimate is then exact
    assert model.elbo_ == pytest.approx(full_elbo(model, X), rel=1e-9)


def test_first_call_is_fit_and_the_state_saves(tmp_path):
    X = _three_clusters(900, seed=3)
    a = VariationalGaussianMixture(3, random_state=4, total_samples=900).partial_fit(X[:300])
    b = VariationalGaussianMixture(3, random_state=4, total_samples=900).fit(X[:300])
    np.testing.assert_array_equal(a.means_, b.means_)
    assert a.n_steps_ == 0
    a.partial_fit(X[300:600])
    a.save(tmp_path / "m.npz")
    c = load(tmp_path / "m.npz")
    assert c.n_steps_ == 1
    a.partial_fit(X[600:])
    c.partial_fit(X[600:])
    np.testing.assert_array_equal(a.means_, c.means_)
    np.testing.assert_array_equal(a.weights_, c.weights_)
    a.fit(X)
    assert a.n_steps_ == 0


def test_step_sizes_follow_the_schedule():
    # Hoffman et al. (2013): rho_t = (t + tau0) ** -kappa
    assert step_size(0, 0.7, 10.0) == pytest.approx(11.0**-0.7)
    assert step_size(9, 0.7, 10.0) == pytest.approx(20.0**-0.7)
    assert step_size(0, 1.0, 0.0) == 1.0


def test_refusals_are_clear():
    X = _three_clusters(400, seed=5)
    model = VariationalGaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"X has 3 features, but .* expecting 2"):
        model.partial_fit(np.ones((10, 3)))
    bad = X[:50].copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.partial_fit(bad)
    for name, value, match in [
        ("learning_decay", 0.5, r"\(0.5, 1\]"),
        ("learning_offset", -1.0, ">= 0"),
        ("total_samples", 0, "> 0"),
        ("total_samples", "many", "must be a number"),
    ]:
        model.set_params(**{name: value})
        with pytest.raises((ValueError, TypeError), match=match):
            model.partial_fit(X[:50])
        model.set_params(**{name: VariationalGaussianMixture().get_params()[name]})
    model.set_params(n_components=3)
    with pytest.raises(ValueError, match="call fit"):
        model.partial_fit(X[:50])
