"""Missing values (NaN) in VariationalGaussianMixture: the E-step over each
row's observed features with the missing cells as latent variables, a
monotone ELBO, scoring on observed features and imputation."""

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_t

import bayesmix._vb_missing as vb_missing
from bayesmix import (
    Dirichlet,
    DirichletProcess,
    Gamma,
    GaussianMixture,
    NormalInverseWishart,
    VariationalGaussianMixture,
)
from bayesmix.exceptions import ConvergenceWarning
from bayesmix.priors import RandomScale


def _holes(X, rate, rng):
    """``X`` with cells set to NaN at ``rate`` (MCAR), no row left empty."""
    X = X.copy()
    holes = rng.random(X.shape) < rate
    holes[holes.all(axis=1), 0] = False
    X[holes] = np.nan
    return X


COV = np.array([[1.0, 0.6, 0.2], [0.6, 1.5, -0.3], [0.2, -0.3, 0.8]])
MEANS = np.array([[0.0, 0.0, 0.0], [4.0, 3.0, -2.0]])


def _blobs(rng, n=(150, 100)):
    return np.vstack(
        [
            rng.multivariate_normal(MEANS[0], COV, n[0]),
            rng.multivariate_normal(MEANS[1], 0.5 * COV, n[1]),
        ]
    )


@pytest.fixture(scope="module")
def holey():
    rng = np.random.default_rng(3)
    return _holes(_blobs(rng), 0.2, rng)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("weight_prior", [DirichletProcess(1.0), Dirichlet(0.5)])
def test_elbo_never_decreases_with_holes(holey, covariance_type, weight_prior):
    w = np.random.default_rng(1).integers(1, 4, holey.shape[0]).astype(float)
    vb = VariationalGaussianMixture(
        4,
        covariance_type=covariance_type,
        weight_prior=weight_prior,
        tol=1e-7,
        max_iter=60,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        vb.fit(holey, sample_weight=w)
    lb = np.array(vb.lower_bounds_)
    assert lb.size > 5
    assert np.all(np.diff(lb) >= -1e-9 * np.abs(lb[1:]))
    assert vb.elbo_ >= lb[-1] - 1e-9 * abs(lb[-1])
    assert np.isfinite(vb.score(holey, sample_weight=w))


def test_learned_hyperparameters_with_holes_stay_monotone(holey):
    prior = NormalInverseWishart(kappa=Gamma(0.5, 50.0), scale=RandomScale())  # both learned
    vb = VariationalGaussianMixture(3, component_prior=prior, tol=1e-6, random_state=0)
    vb.fit(holey)
    lb = np.array(vb.lower_bounds_)
    assert np.all(np.diff(lb) >= -1e-9 * np.abs(lb[1:]))
    assert vb.scale_posterior_ is not None and vb.kappa_posterior_ is not None
    # with holes the moves are scored by refits: each accepted one raised the ELBO
    assert all(after > before for _, _, before, after in vb.moves_)


def _error(means, covs):
    order = np.argsort(means[:, 0])
    means, covs = means[order], covs[order]
    truth = np.stack([COV, 0.5 * COV])
    return np.abs(means - MEANS).sum() + np.abs(covs - truth).sum()


def _fit2(X):
    prior = NormalInverseWishart(kappa=0.01, dof=5.0, scale=0.05 * np.eye(3))
    vb = VariationalGaussianMixture(
        2, weight_prior=Dirichlet(1.0), component_prior=prior, moves=False, random_state=0
    )
    return vb.fit(X)


def test_marginalising_beats_complete_case_and_mean_imputation():
    # summed over four data sets: one complete-case fit can be lucky
    err = {"vb": 0.0, "cc": 0.0, "mean": 0.0}
    for seed in range(4):
        rng = np.random.default_rng(seed)
        holey = _holes(_blobs(rng, (300, 200)), 0.2, rng)
        fits = {
            "vb": _fit2(holey),
            "cc": _fit2(holey[~np.isnan(holey).any(axis=1)]),
            "mean": _fit2(np.where(np.isnan(holey), np.nanmean(holey, axis=0), holey)),
        }
        for name, vb in fits.items():
            err[name] += _error(vb.means_, vb.covariances_)
    assert err["vb"] < 0.85 * err["cc"]
    assert err["vb"] < 0.3 * err["mean"]


def test_one_component_weak_prior_matches_em_missing_data_fit(holey):
    X = holey[:150]  # the first blob only
    em = GaussianMixture(1, tol=1e-12, max_iter=5000, reg_covar=0.0).fit(X)
    d = X.shape[1]
    prior = NormalInverseWishart(
        mean=np.zeros(d), kappa=1e-6, dof=d - 1 + 1e-3, scale=1e-6 * np.eye(d)
    )
    vb = VariationalGaussianMixture(
        1, weight_prior=Dirichlet(1.0), component_prior=prior, tol=1e-12, max_iter=5000
    ).fit(X)
    n = X.shape[0]
    # E_q[Lambda]^-1 = Psi / dof with dof = n + dof0: the ML covariance up to n / (n + dof0)
    assert np.allclose(vb.means_, em.means_, atol=2e-3)
    assert np.allclose(vb.covariances_ * (n + prior.dof) / n, em.covariances_, rtol=2e-2, atol=2e-3)


def test_scores_are_student_t_marginals(holey):
    vb = VariationalGaussianMixture(3, random_state=0).fit(holey)
    # independent: scipy's multivariate t over each row's observed features
    k, d = vb.means_.shape
    dof_t = vb.degrees_of_freedom_ - d + 1.0
    terms = np.empty((holey.shape[0], k))
    observed = ~np.isnan(holey)
    for j in range(k):
        shape = vb.scales_[j] * (vb.mean_precision_[j] + 1) / (vb.mean_precision_[j] * dof_t[j])
        for i, row in enumerate(holey):
            o = observed[i]
            dist = multivariate_t(vb.means_[j, o], shape[np.ix_(o, o)], df=dof_t[j])
            terms[i, j] = np.log(vb.weights_[j]) + dist.logpdf(row[o])
    expected = logsumexp(terms, axis=1)
    assert np.allclose(vb.score_samples(holey), expected, rtol=1e-9, atol=1e-9)
    proba = np.exp(terms - expected[:, None])
    assert np.allclose(vb.predict_proba(holey), proba, atol=1e-9)
    assert np.isclose(vb.score(holey), expected.mean())


def test_impute_expectation_is_the_regression_and_draws_spread(holey):
    X = holey[:150]
    vb = VariationalGaussianMixture(1, random_state=0).fit(X)
    filled = vb.impute(X)
    observed = ~np.isnan(X)
    assert np.array_equal(filled[observed], X[observed])
    m, S = vb.means_[0], vb.covariances_[0]
    for i in np.flatnonzero(~observed.all(axis=1))[:20]:
        o, mis = observed[i], ~observed[i]
        expect = m[mis] + S[np.ix_(mis, o)] @ np.linalg.solve(S[np.ix_(o, o)], X[i, o] - m[o])
        assert np.allclose(filled[i, mis], expect, rtol=1e-10, atol=1e-10)
    draws = vb.impute(X, n_draws=400, random_state=1)
    assert draws.shape == (400, *X.shape)
    assert np.array_equal(draws[:, observed], np.broadcast_to(X[observed], (400, observed.sum())))
    holes = ~observed
    assert np.all(draws.std(axis=0)[holes] > 0.1)
    assert np.allclose(draws.mean(axis=0)[holes], filled[holes], atol=0.25)
    # complete rows come back as given
    assert np.array_equal(vb.impute(np.nan_to_num(X)), np.nan_to_num(X))


def test_refusals_and_posterior_with_holes(holey):
    bad = holey.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="every feature missing"):
        VariationalGaussianMixture(2).fit(bad)
    bad = holey.copy()
    bad[2, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        VariationalGaussianMixture(2).fit(bad)
    vb = VariationalGaussianMixture(2, random_state=0).fit(holey)
    with pytest.raises(ValueError, match="every feature missing"):
        vb.predict(np.vstack([holey[:2], np.full((1, 3), np.nan)]))
    labels = vb.predict(holey)
    assert set(np.unique(labels)) <= set(np.flatnonzero(vb.effective_components_))
    post = vb.posterior(holey, n_draws=20)
    assert post.n_draws == 20
    assert post.log_likelihood.shape == (1, 20, holey.shape[0])  # per-row summaries kept


def test_complete_data_never_take_the_missing_path(holey, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("complete data reached the missing-value path")

    monkeypatch.setattr(vb_missing, "PatternStats", boom)
    monkeypatch.setattr(vb_missing, "predictive_log_prob_missing", boom)
    X = np.nan_to_num(holey)
    vb = VariationalGaussianMixture(3, random_state=0).fit(X)
    vb.predict(X), vb.score(X)


def test_saved_fit_with_holes_loads_and_scores(holey, tmp_path):
    from bayesmix import load

    vb = VariationalGaussianMixture(3, random_state=0).fit(holey)
    vb.save(tmp_path / "vb")
    back = load(tmp_path / "vb")
    np.testing.assert_array_equal(back.score_samples(holey), vb.score_samples(holey))
    np.testing.assert_array_equal(back.impute(holey), vb.impute(holey))
    assert back.elbo_ == vb.elbo_


@pytest.mark.parametrize("covariance_type", ["tied", "diag", "spherical"])
def test_scores_of_every_structure_are_predictive_marginals(holey, covariance_type):
    """The predictive of each structure marginalised by scipy: a multivariate t
    (tied, spherical) or a product of univariate t's (diag)."""
    from scipy.stats import t as student_t

    X = holey[:60]
    vb = VariationalGaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    structure, post, std = vb._structure, vb._post, vb._standardiser
    k, d = post.means.shape
    dof_t, cov_t = structure.predictive_scale(post.dof, post.scale, post.kappa, d)
    Xt = (X - std.center) / std.scale
    terms = np.empty((X.shape[0], k))
    for j in range(k):
        for i, row in enumerate(Xt):
            o = ~np.isnan(row)
            if structure.feature_blocks:
                logpdf = student_t.logpdf(row[o], dof_t[j], post.means[j, o], np.sqrt(cov_t[j, o]))
                terms[i, j] = logpdf.sum()
            else:
                full = structure.per_component().to_full(cov_t, k, d)[j]
                dist = multivariate_t(post.means[j, o], full[np.ix_(o, o)], df=dof_t[j])
                terms[i, j] = dist.logpdf(row[o])
    terms += np.log(vb.weights_)
    expected = logsumexp(terms, axis=1) - (~np.isnan(X)).sum(axis=1) * std.log_scale
    np.testing.assert_allclose(vb.score_samples(X), expected, rtol=1e-10, atol=1e-10)


def test_moves_with_holes_are_scored_by_refits():
    """Two simulated clusters, 10% of cells missing: coordinate ascent alone
    keeps a cluster split in two from some starts; the moves, each candidate
    scored by a refit, merge it (every accepted move raising the ELBO), and
    n_init="auto" takes AUTO_RESTARTS starts."""
    from bayesmix.vb import AUTO_RESTARTS

    rng = np.random.default_rng(8)
    X = np.vstack([rng.normal(size=(40, 2)), rng.normal(size=(40, 2)) + 5])
    X[rng.random(X.shape) < 0.1] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 0.0
    plain = [VariationalGaussianMixture(4, n_init=1, moves=False, random_state=s) for s in range(4)]
    moved = [VariationalGaussianMixture(4, n_init=1, random_state=s) for s in range(4)]
    plain = [m.fit(X) for m in plain]
    moved = [m.fit(X) for m in moved]
    assert any(m.n_effective_components_ > 2 for m in plain)
    assert all(m.n_effective_components_ == 2 for m in moved)
    for m, p in zip(moved, plain, strict=True):
        assert m.elbo_ >= p.elbo_ - 1e-9 * abs(p.elbo_)
        assert all(after > before for _, _, before, after in m.moves_)
        lb = np.array(m.lower_bounds_)
        assert np.all(np.diff(lb) >= -1e-9 * np.abs(lb[1:]))
    assert any(m.moves_ for m in moved)
    auto = VariationalGaussianMixture(4, random_state=0).fit(X)
    assert auto.elbo_ >= moved[0].elbo_ - 1e-9 * abs(moved[0].elbo_)
    assert AUTO_RESTARTS == 5
    # complete data take as many starts: "auto" is n_init=AUTO_RESTARTS in memory
    Xc = np.nan_to_num(X)
    a = VariationalGaussianMixture(4, random_state=0).fit(Xc)
    b = VariationalGaussianMixture(4, n_init=AUTO_RESTARTS, random_state=0).fit(Xc)
    one = VariationalGaussianMixture(4, n_init=1, random_state=0).fit(Xc)
    np.testing.assert_array_equal(a.means_, b.means_)
    assert a.elbo_ >= one.elbo_ - 1e-9 * abs(one.elbo_)
