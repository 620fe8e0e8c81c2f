"""The default base measure of VariationalGaussianMixture: Richardson & Green's
random scale learned by its own conjugate factor q(b) (bayesmix._vb_hyper),
a learned kappa, the public ``moves`` switch, and the answers on real tables."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import digamma

from bayesmix import (
    Dirichlet,
    Gamma,
    NormalInverseWishart,
    RandomScale,
    VariationalGaussianMixture,
    io,
)
from bayesmix._conjugate import gamma_kl
from bayesmix.datasets import load_faithful, load_galaxies
from bayesmix.exceptions import ConvergenceWarning


def standardise(X):
    return (X - X.mean(axis=0)) / X.std(axis=0)


def blobs(seed, centres, n_per=100, scale=1.0):
    rng = np.random.default_rng(seed)
    centres = np.asarray(centres, dtype=float)
    X = np.vstack([c + scale * rng.standard_normal((n_per, centres.shape[1])) for c in centres])
    return X, np.repeat(np.arange(len(centres)), n_per)


def fit(X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return VariationalGaussianMixture(**kw).fit(X)


def n_b(covariance_type, k, d, dof):
    """``N_b`` of the docstring: half the Wishart dof times the block size, summed."""
    return {
        "full": k * dof * d / 2,
        "tied": dof * d / 2,
        "diag": k * d * (dof - d + 1) / 2,
        "spherical": k * d * (dof - d + 1) / 2,
    }[covariance_type]


# ------------------------------------------------------------ answers by default
@pytest.mark.slow
def test_wine_cultivars_by_default():
    from sklearn.datasets import load_wine
    from sklearn.metrics import adjusted_rand_score

    wine = load_wine()
    X = standardise(wine.data)
    for seed in (0, 1):
        vb = VariationalGaussianMixture(random_state=seed).fit(X)
        assert vb.n_effective_components_ in (3, 4)
        assert adjusted_rand_score(wine.target, vb.predict(X)) >= 0.8
        # the evidence bound prefers the learned scale to the data-covariance prior
        old = fit(X, component_prior=NormalInverseWishart(), random_state=seed)
        assert vb.elbo_ > old.elbo_


@pytest.mark.slow
def test_iris_species_by_default():
    from sklearn.datasets import load_iris
    from sklearn.metrics import adjusted_rand_score

    iris = load_iris()
    vb = VariationalGaussianMixture(random_state=0).fit(iris.data)
    assert vb.n_effective_components_ == 3
    assert adjusted_rand_score(iris.target, vb.predict(iris.data)) >= 0.8


@pytest.mark.slow
def test_default_starts_are_not_a_lottery():
    """Standardised iris: a single start ends in the 2-component optimum (0.8
    nats lower) from some seeds; the five starts of n_init="auto" reach the
    3-component one from every seed tried, and never a lower ELBO than their
    first start alone."""
    from sklearn.datasets import load_iris

    X = standardise(load_iris().data)
    one = [fit(X, n_init=1, random_state=s) for s in range(8)]
    auto = [fit(X, random_state=s) for s in range(8)]
    assert any(m.n_effective_components_ == 2 for m in one)
    assert all(m.n_effective_components_ == 3 for m in auto)
    for a, o in zip(auto, one, strict=True):
        assert a.elbo_ >= o.elbo_ - 1e-9 * abs(o.elbo_)
    assert max(a.elbo_ for a in auto) - min(a.elbo_ for a in auto) < 1e-6 * abs(auto[0].elbo_)


def test_default_prior_is_the_gibbs_base_measure():
    X = load_faithful()
    vb = VariationalGaussianMixture(random_state=0).fit(X)
    cp = vb.component_prior_
    d = X.shape[1]
    assert cp.dof == d + 3 and cp.kappa == 0.01
    np.testing.assert_allclose(cp.mean, X.mean(axis=0))
    base = 2.0 * np.ptp(X, axis=0) ** 2
    np.testing.assert_allclose(cp.scale, vb.scale_posterior_.mean * np.diag(base), rtol=1e-10)
    assert vb.scale_posterior_.shape == pytest.approx(0.2 + n_b("full", 10, d, d + 3))
    explicit = fit(X, component_prior=NormalInverseWishart(scale=RandomScale()), random_state=0)
    assert explicit.elbo_ == vb.elbo_
    # the scale is learned in units-free form: rescaling X rescales nothing else
    c = 1e3
    big = VariationalGaussianMixture(random_state=0).fit(X * c)
    assert big.scale_posterior_.mean == pytest.approx(vb.scale_posterior_.mean, rel=1e-8)
    jac = X.shape[0] * d * np.log(c)
    assert big.elbo_ == pytest.approx(vb.elbo_ - jac, rel=1e-9)


# ------------------------------------------------------------ the learned scale
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("learn_kappa", [False, True])
def test_elbo_never_decreases_with_learned_hyperparameters(covariance_type, learn_kappa):
    X = standardise(load_faithful())
    kappa = Gamma(0.5, 50.0) if learn_kappa else None
    for moves in (False, True):
        vb = fit(
            X,
            covariance_type=covariance_type,
            component_prior=NormalInverseWishart(kappa=kappa, scale=RandomScale()),
            moves=moves,
            random_state=1,
        )
        lb = np.asarray(vb.lower_bounds_)
        assert np.all(np.diff(lb) >= -1e-10 * np.abs(lb).max())
        assert vb.elbo_ >= lb[-1] - 1e-10 * abs(lb[-1])
        k, d = vb.means_.shape
        assert vb.scale_posterior_.shape == pytest.approx(0.2 + n_b(covariance_type, k, d, d + 3.0))
        if learn_kappa:
            assert vb.kappa_posterior_.shape == pytest.approx(0.5 + k * d / 2)
            assert vb.component_prior_.kappa == pytest.approx(vb.kappa_posterior_.mean)
        else:
            assert vb.kappa_posterior_ is None


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_elbo_is_the_fixed_scale_elbo_at_the_mean_plus_the_hyperprior_terms(covariance_type):
    """At its optimum, q(mu, Sigma) and q(z) are those of the fixed prior at
    b = E_q[b]: refitting with that fixed scale from the learned fit's
    responsibilities gives the ELBO without ``N_b (E log b - log E b) -
    KL(q(b) || p(b))``.  Many components in 6-D: q(b) is nearly a point mass and
    the two ELBOs nearly agree."""
    X = blobs(3, 6.0 * np.eye(3, 6), n_per=120)[0]
    k, d = 6, X.shape[1]
    learned = fit(
        X,
        n_components=k,
        covariance_type=covariance_type,
        weight_prior=Dirichlet(1.0),
        component_prior=NormalInverseWishart(scale=RandomScale()),
        moves=False,
        tol=1e-12,
        max_iter=5000,
        random_state=0,
    )
    q = learned.scale_posterior_
    cp = learned.component_prior_
    fixed = VariationalGaussianMixture(
        k,
        covariance_type=covariance_type,
        weight_prior=Dirichlet(1.0),
        component_prior=cp,
        moves=False,
        tol=1e-12,
        max_iter=5000,
    )
    fixed._fit(X, resp_init=learned.predict_proba(X))
    extra = n_b(covariance_type, k, d, cp.dof) * (digamma(q.shape) - np.log(q.shape))
    extra -= gamma_kl(q.shape, q.rate, 0.2, 10.0)
    assert learned.elbo_ == pytest.approx(fixed.elbo_ + extra, abs=1e-6 * abs(fixed.elbo_))
    if covariance_type == "full":  # nearly a point mass: the hyperprior costs little
        assert q.shape > 100 and abs(extra) < 0.01 * abs(fixed.elbo_)
    np.testing.assert_allclose(learned.means_, fixed.means_, atol=1e-3)


@pytest.mark.slow
def test_learned_scale_is_where_the_fixed_scale_evidence_peaks():
    """Brute force in one dimension: the fixed-scale ELBO over a grid of b, plus
    the hyperprior, is an unnormalised posterior of b; its peak in log b
    (``log p(X | b) + log p(b) + log b``, whose mode is the Gamma mean for a
    Gamma posterior) is where the learned E_q[b] sits."""
    X = blobs(8, [[0.0], [6.0], [12.0]], n_per=150)[0]
    kw = dict(n_components=5, weight_prior=Dirichlet(1.0), random_state=0)
    learned = fit(X, component_prior=NormalInverseWishart(scale=RandomScale()), **kw)
    e_b = learned.scale_posterior_.mean
    base = 2.0 * np.ptp(X, axis=0) ** 2
    grid = e_b * np.exp(np.linspace(-0.5, 0.5, 41))
    g = RandomScale().gamma
    values = []
    for b in grid:
        prior = NormalInverseWishart(kappa=0.01, dof=4.0, scale=np.diag(b * base))
        vb = fit(X, component_prior=prior, **kw)
        assert vb.n_effective_components_ == learned.n_effective_components_ == 3
        values.append(vb.elbo_ + (g.shape - 1.0) * np.log(b) - g.rate * b + np.log(b))
    best = grid[int(np.argmax(values))]
    assert 0 < np.argmax(values) < len(grid) - 1  # an interior peak
    assert abs(np.log(best / e_b)) <= 0.05  # two grid steps


def test_learned_scale_floors_on_coinciding_rows():
    X = blobs(4, [[0.0, 0.0], [5.0, 5.0]], n_per=50)[0]
    X[:, 1] = 3.0  # a constant column: the likelihood grows without bound as b -> 0
    with pytest.warns(UserWarning, match="constant"):
        vb = fit(X, random_state=0)
    assert np.isfinite(vb.elbo_) and np.all(np.isfinite(vb.score_samples(X)))
    assert vb.scale_posterior_.mean > 0


@pytest.mark.slow
def test_gibbs_and_vb_share_the_default_prior():
    from bayesmix import DirichletProcessMixture

    X = load_galaxies()
    vb = VariationalGaussianMixture(random_state=0).fit(X)
    gibbs = DirichletProcessMixture(n_iter=40, n_chains=1, random_state=0, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gibbs.fit(X)
    assert vb.component_prior_.dof == gibbs.component_prior_.dof
    np.testing.assert_allclose(vb.component_prior_.mean, gibbs.component_prior_.mean)
    assert 2 <= vb.n_effective_components_ <= 8


# ------------------------------------------------------------------ the moves switch
def test_moves_switch_is_a_checked_public_parameter():
    X = standardise(load_faithful())
    off = VariationalGaussianMixture(moves=False, random_state=0).fit(X)
    on = VariationalGaussianMixture(random_state=0).fit(X)
    assert off.moves_ == [] and on.get_params()["moves"] is True
    assert on.elbo_ >= off.elbo_
    with pytest.raises(TypeError, match="moves must be True"):
        VariationalGaussianMixture(moves="yes").fit(X)


def test_old_files_load_with_moves_off():
    from pathlib import Path

    path = Path(__file__).parent / "data" / "saved_0_1_0" / "vb_full.npz"
    model = io.load(path)
    assert model.get_params()["moves"] is False


# ------------------------------------------------------------------ posterior, files
def test_posterior_and_saved_model_with_the_learned_scale(tmp_path):
    X = blobs(6, [[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])[0]
    vb = VariationalGaussianMixture(
        component_prior=NormalInverseWishart(kappa=Gamma(0.5, 50.0), scale=RandomScale()),
        random_state=0,
    ).fit(X)
    post = vb.posterior(X, n_draws=50)
    assert post.weights.shape == (1, 50, vb.n_effective_components_)
    assert np.all(np.isfinite(post.means))
    draws = vb.posterior_draws(20)
    assert np.all(np.isfinite(draws["covariances"]))
    path = tmp_path / "vb.npz"
    io.save(vb, path)
    back = io.load(path)
    np.testing.assert_array_equal(back.predict_proba(X), vb.predict_proba(X))
    np.testing.assert_array_equal(back.score_samples(X), vb.score_samples(X))
    assert back.scale_posterior_ == vb.scale_posterior_
    assert back.kappa_posterior_ == vb.kappa_posterior_
    assert back.get_params()["component_prior"] == vb.get_params()["component_prior"]
