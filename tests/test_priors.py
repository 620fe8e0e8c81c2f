"""The priors shared by the variational and the Gibbs engines: validation,
data-driven defaults, standardisation."""

import dataclasses

import numpy as np
import pytest

from bayesmix import Dirichlet, DirichletProcess, Gamma, NormalInverseWishart


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: Gamma(0.0, 1.0), ValueError, "shape"),
        (lambda: Gamma(1.0, -2.0), ValueError, "rate"),
        (lambda: Gamma(np.inf, 1.0), ValueError, "shape"),
        (lambda: Gamma("1", 1.0), TypeError, "shape"),
        (lambda: Dirichlet(0.0), ValueError, "concentration"),
        (lambda: Dirichlet(True), TypeError, "concentration"),
        (lambda: DirichletProcess(-1.0), ValueError, "concentration"),
        (lambda: DirichletProcess("a lot"), TypeError, "concentration"),
        (lambda: NormalInverseWishart(kappa=0.0), ValueError, "kappa"),
        (lambda: NormalInverseWishart(kappa=-1.0), ValueError, "kappa"),
        (lambda: NormalInverseWishart(dof="3"), TypeError, "dof"),
        (lambda: NormalInverseWishart(dof=np.inf), ValueError, "dof"),
        (lambda: NormalInverseWishart(dof=1.0, scale=np.eye(2)), ValueError, "dof"),
        (lambda: NormalInverseWishart(dof=2.0, mean=[0.0, 0.0, 0.0]), ValueError, "dof"),
        (
            lambda: NormalInverseWishart(scale=[[1.0, 2.0], [2.0, 1.0]]),
            ValueError,
            "positive definite",
        ),
        (lambda: NormalInverseWishart(scale=[[1.0, 0.5], [0.0, 1.0]]), ValueError, "symmetric"),
        (lambda: NormalInverseWishart(scale=np.ones((2, 3))), ValueError, "square"),
        (lambda: NormalInverseWishart(scale=[[np.nan]]), ValueError, "finite"),
        (lambda: NormalInverseWishart(mean=[[0.0, 1.0]]), ValueError, "1-D"),
        (lambda: NormalInverseWishart(mean=[0.0, np.inf]), ValueError, "finite"),
        (lambda: NormalInverseWishart(mean=[0.0, 0.0], scale=np.eye(3)), ValueError, "match"),
    ],
)
def test_invalid_values_name_the_parameter(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_valid_priors_keep_their_values():
    g = Gamma(2, 3)
    assert (g.shape, g.rate, g.mean) == (2.0, 3.0, pytest.approx(2 / 3))
    assert DirichletProcess(g).learned and not DirichletProcess(0.5).learned
    assert Dirichlet(0.25).resolve(10) == 0.25
    # dof just above D - 1 is a proper (if improper-mean) inverse Wishart
    niw = NormalInverseWishart(mean=[1, 2], kappa=3, dof=1.01, scale=[[2, 1], [1, 2]])
    assert niw.dof == 1.01 and niw.kappa == 3.0
    np.testing.assert_array_equal(niw.mean, [1.0, 2.0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        niw.kappa = 1.0


# ------------------------------------------------------------------ resolution
def test_resolve_defaults_are_the_documented_ones():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)) @ rng.normal(size=(3, 3)) + 5.0
    S = np.cov(X.T, bias=True)
    r = NormalInverseWishart().resolve(X)
    np.testing.assert_allclose(r.mean, X.mean(axis=0))
    assert r.kappa == 0.01
    assert r.dof == 3 + 2
    np.testing.assert_allclose(r.scale, S)
    # E[Sigma] = scale / (dof - D - 1) is the data covariance
    np.testing.assert_allclose(r.scale / (r.dof - 3 - 1), S)
    r4 = NormalInverseWishart().resolve(X, n_components=4)
    np.testing.assert_allclose(r4.scale, S / 4 ** (2 / 3))


def test_resolve_keeps_explicit_values_exactly():
    X = np.random.default_rng(1).normal(size=(50, 2))
    given = NormalInverseWishart(
        mean=[0.1, 0.2], kappa=0.3, dof=7.5, scale=[[2.0, 0.3], [0.3, 1.0]]
    )
    r = given.resolve(X, n_components=5)
    np.testing.assert_array_equal(r.mean, given.mean)
    np.testing.assert_array_equal(r.scale, given.scale)
    assert (r.kappa, r.dof) == (0.3, 7.5)
    partial = NormalInverseWishart(kappa=2.0).resolve(X)
    assert partial.kappa == 2.0 and partial.dof == 4.0


def test_resolve_uses_frequency_weights():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 2))
    w = rng.integers(0, 4, size=40)
    a = NormalInverseWishart().resolve(X, sample_weight=w)
    b = NormalInverseWishart().resolve(np.repeat(X, w, axis=0))
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-12)
    np.testing.assert_allclose(a.scale, b.scale, rtol=1e-12)


def test_resolve_singular_covariance_falls_back_to_mean_variance():
    X = np.random.default_rng(3).normal(size=(30, 1)) * np.array([[1.0, 2.0]])  # collinear
    r = NormalInverseWishart().resolve(X)
    var = np.trace(np.cov(X.T, bias=True)) / 2
    np.testing.assert_allclose(r.scale, np.eye(2) * var)
    assert np.all(np.linalg.eigvalsh(r.scale) > 0)


@pytest.mark.parametrize(
    "prior, match",
    [
        (NormalInverseWishart(mean=[0.0, 0.0, 0.0]), "mean has 3 features"),
        (NormalInverseWishart(scale=np.eye(1)), "scale has 1 features"),
        (NormalInverseWishart(dof=0.5), "dof must be > n_features - 1"),
    ],
)
def test_resolve_checks_the_data_dimension(prior, match):
    with pytest.raises(ValueError, match=match):
        prior.resolve(np.zeros((5, 2)))


def test_standardised_maps_the_prior_to_scaled_data():
    """For Y = (X - c) / s the prior on (mu, Sigma) maps to ((mu - c) / s,
    Sigma / s^2): means, kappa and dof are unchanged, the scale divides by s^2."""
    prior = NormalInverseWishart(
        mean=[3.0, -1.0], kappa=0.2, dof=5.0, scale=[[4.0, 1.0], [1.0, 2.0]]
    )
    c, s = np.array([1.0, 1.0]), 4.0
    std = prior.standardised(c, s)
    np.testing.assert_allclose(std.mean, (prior.mean - c) / s)
    np.testing.assert_allclose(std.scale, prior.scale / s**2)
    assert (std.kappa, std.dof) == (prior.kappa, prior.dof)
    # log-density of the inverse-Wishart part transforms with the Jacobian
    from scipy import stats

    sigma = np.array([[1.5, 0.2], [0.2, 0.7]])
    lhs = stats.invwishart(df=prior.dof, scale=prior.scale).logpdf(sigma)
    rhs = stats.invwishart(df=std.dof, scale=std.scale).logpdf(sigma / s**2)
    # d(Sigma / s^2) has Jacobian s^(-2 * D(D+1)/2) = s^-6 for D = 2
    assert lhs == pytest.approx(rhs - 6 * np.log(s), rel=1e-12)
