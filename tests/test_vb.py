"""VariationalGaussianMixture: exact constants, monotone ELBO, scikit-learn
cross-checks, automatic K, the predictive density, posterior draws, weights,
pandas input and bad input."""

import warnings

import numpy as np
import pytest
from scipy import integrate, stats

from bayesmix import (
    ConvergenceWarning,
    DegenerateDataWarning,
    Dirichlet,
    DirichletProcess,
    Gamma,
    NormalInverseWishart,
    NotFittedError,
    VariationalGaussianMixture,
)
from bayesmix.covariance import get_structure

COV_TYPES = ["full", "tied", "diag", "spherical"]
WEIGHT_PRIORS = {
    "dirichlet": Dirichlet(0.5),
    "dp": DirichletProcess(1.0),
    "dp-learned": DirichletProcess(Gamma(2.0, 1.5)),
}


def three_blobs(seed, n_samples=300, n_features=2):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, n_features)) * 4.0
    labels = rng.choice(3, size=n_samples, p=[0.5, 0.3, 0.2])
    A = rng.normal(size=(3, n_features, n_features)) * 0.4 + np.eye(n_features)
    Z = rng.normal(size=(n_samples, n_features))
    return centres[labels] + np.einsum("nij,nj->ni", A[labels], Z)


def four_separated(seed, n_samples=500):
    """Four well-separated, correlated clusters in 2-D, and their labels."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0], [8.0, 8.0]])
    labels = rng.integers(0, 4, n_samples)
    chol = np.linalg.cholesky([[1.0, 0.5], [0.5, 1.0]]) * rng.uniform(0.6, 1.2, (4, 1, 1))
    Z = rng.normal(size=(n_samples, 2))
    return centres[labels] + np.einsum("nij,nj->ni", chol[labels], Z), labels


# --------------------------------------------------------------- exact constants
def _prior(rng, n_features):
    A = rng.normal(size=(n_features, n_features))
    return NormalInverseWishart(
        mean=rng.normal(size=n_features),
        kappa=0.7,
        dof=n_features + 1.5,
        scale=A @ A.T + np.eye(n_features),
    )


def _log_marginal_sequential(X, prior, covariance_type):
    """log p(X) of the one-component conjugate model as a product of one-step
    predictive densities (scipy's Student-t): independent of vb.py's algebra."""
    n_features = X.shape[1]
    m, kappa = prior.mean.copy(), prior.kappa
    total = 0.0
    if covariance_type in ("full", "tied"):
        dof, psi = prior.dof, prior.scale.copy()
        for x in X:
            df = dof - n_features + 1
            shape = psi * (kappa + 1) / (kappa * df)
            total += stats.multivariate_t(loc=m, shape=shape, df=df).logpdf(x)
            d = x - m
            psi = psi + kappa / (kappa + 1) * np.outer(d, d)
            m = (kappa * m + x) / (kappa + 1)
            kappa, dof = kappa + 1, dof + 1
    elif covariance_type == "diag":
        for f in range(n_features):
            m_f, kappa_f, df, psi = (
                prior.mean[f],
                prior.kappa,
                prior.dof - n_features + 1,
                prior.scale[f, f],
            )
            for x in X[:, f]:
                scale = np.sqrt(psi * (kappa_f + 1) / (kappa_f * df))
                total += stats.t(df=df, loc=m_f, scale=scale).logpdf(x)
                psi += kappa_f / (kappa_f + 1) * (x - m_f) ** 2
                m_f = (kappa_f * m_f + x) / (kappa_f + 1)
                kappa_f, df = kappa_f + 1, df + 1
    else:  # spherical: one precision shared by the features
        df, psi = n_features * (prior.dof - n_features + 1), np.trace(prior.scale)
        for x in X:
            shape = np.eye(n_features) * psi * (kappa + 1) / (kappa * df)
            total += stats.multivariate_t(loc=m, shape=shape, df=df).logpdf(x)
            d = x - m
            psi += kappa / (kappa + 1) * d @ d
            m = (kappa * m + x) / (kappa + 1)
            kappa, df = kappa + 1, df + n_features
    return total


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_elbo_of_one_component_is_the_log_marginal_likelihood(covariance_type):
    """With K = 1 the variational posterior is the exact posterior, so the ELBO
    equals log p(X): a sharp check of every constant (Dirichlet weights add 0)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(25, 3)) @ rng.normal(size=(3, 3)) + [1.0, 2.0, 3.0]
    prior = _prior(rng, 3)
    vb = VariationalGaussianMixture(
        1, covariance_type=covariance_type, weight_prior=Dirichlet(1.0), component_prior=prior
    ).fit(X)
    exact = _log_marginal_sequential(X, prior, covariance_type)
    assert vb.elbo_ == pytest.approx(exact, rel=1e-12, abs=1e-9)
    # and the predictive density is the next one-step predictive
    x_new = rng.normal(size=(1, 3))
    expected = _log_marginal_sequential(np.vstack([X, x_new]), prior, covariance_type) - exact
    assert vb.score_samples(x_new)[0] == pytest.approx(expected, rel=1e-12, abs=1e-9)


def test_dp_weight_term_of_one_component():
    """K = 1 with a DP: ELBO = log p(X) + N E[log v] - KL(q(v) || Beta(1, alpha)),
    the stick term computed here with scipy."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 2))
    prior = _prior(rng, 2)
    alpha = 0.8
    vb = VariationalGaussianMixture(
        1, weight_prior=DirichletProcess(alpha), component_prior=prior
    ).fit(X)
    a, b = (float(p[0]) for p in vb.weight_concentration_)
    assert (a, b) == (pytest.approx(1 + 30), pytest.approx(alpha))
    q = stats.beta(a, b)
    e_log_v = q.expect(np.log)
    e_log_p = q.expect(lambda v: stats.beta(1.0, alpha).logpdf(v))
    weight_term = 30 * e_log_v + e_log_p + q.entropy()
    assert vb.elbo_ == pytest.approx(
        _log_marginal_sequential(X, prior, "full") + weight_term, rel=1e-9
    )


@pytest.mark.slow
def test_learned_concentration_terms_of_one_component():
    """K = 1 with a Gamma hyperprior: the stick and concentration terms of the
    ELBO, by numerical integration over q(v) q(alpha)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(20, 2))
    prior = _prior(rng, 2)
    hyper = Gamma(2.0, 1.5)
    vb = VariationalGaussianMixture(
        1, weight_prior=DirichletProcess(hyper), component_prior=prior
    ).fit(X)
    a, b = (float(p[0]) for p in vb.weight_concentration_)
    q_alpha = vb.concentration_posterior_
    assert q_alpha.shape == pytest.approx(hyper.shape + 1)
    qa = stats.gamma(q_alpha.shape, scale=1.0 / q_alpha.rate)
    qv = stats.beta(a, b)
    e_log_1mv = qv.expect(lambda v: np.log1p(-v))
    # E_q(alpha)[E_q(v)[log Beta(v | 1, alpha)]], inner expectation in closed form
    # from the one-dimensional integral above
    e_log_p_v = qa.expect(lambda al: np.log(al) + (al - 1) * e_log_1mv)
    e_log_p_alpha = qa.expect(lambda al: stats.gamma(hyper.shape, scale=1 / hyper.rate).logpdf(al))
    weight_term = 20 * qv.expect(np.log) + e_log_p_v + qv.entropy() + e_log_p_alpha + qa.entropy()
    assert vb.elbo_ == pytest.approx(
        _log_marginal_sequential(X, prior, "full") + weight_term, rel=1e-8
    )


def test_all_types_agree_in_one_dimension():
    """With one feature full, diag and spherical are the same model."""
    X = np.random.default_rng(4).normal(size=(80, 1)) * [[3.0]]
    X[:40] += 10.0
    fits = [
        VariationalGaussianMixture(3, covariance_type=ct, random_state=0).fit(X)
        for ct in ("full", "diag", "spherical")
    ]
    grid = np.linspace(-5, 20, 7)[:, None]
    for vb in fits[1:]:
        assert vb.elbo_ == pytest.approx(fits[0].elbo_, rel=1e-10)
        np.testing.assert_allclose(vb.score_samples(grid), fits[0].score_samples(grid), rtol=1e-10)


# ------------------------------------------------------------ monotone ELBO
@pytest.mark.parametrize("weight_prior", list(WEIGHT_PRIORS), ids=list(WEIGHT_PRIORS))
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_lower_bounds_never_decrease(weight_prior, covariance_type):
    for seed, n_features in ((0, 2), (1, 3), (2, 1)):
        X = three_blobs(seed, n_samples=200, n_features=n_features)
        vb = VariationalGaussianMixture(
            6,
            covariance_type=covariance_type,
            weight_prior=WEIGHT_PRIORS[weight_prior],
            init_params="random",
            tol=1e-8,
            max_iter=200,
            random_state=seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            vb.fit(X)
        lb = np.asarray(vb.lower_bounds_)
        slack = 1e-10 * np.abs(lb).max()
        assert lb.size > 5
        assert np.all(np.diff(lb) >= -slack), np.diff(lb).min()
        assert vb.elbo_ >= lb[-1] - slack
        assert vb.lower_bound_ == lb[-1]


# --------------------------------------------------------- scikit-learn cross-check
@pytest.mark.parametrize("prior_type", ["dirichlet_distribution", "dirichlet_process"])
def test_matches_sklearn_bayesian_gaussian_mixture(prior_type, monkeypatch):
    from sklearn.mixture import BayesianGaussianMixture

    # scikit-learn never relabels its sticks by size, nor merges or deletes components
    monkeypatch.setattr(VariationalGaussianMixture, "_reorder", False)

    rng = np.random.default_rng(5)
    X = three_blobs(5, n_samples=400)
    k = 5
    resp = rng.dirichlet(np.ones(k), size=X.shape[0])
    mean, kappa, dof, scale, conc = X.mean(axis=0) + 0.2, 0.3, 4.5, 0.5 * np.cov(X.T), 0.7

    class FixedStart(BayesianGaussianMixture):
        def _initialize_parameters(self, X, random_state, xp=None):
            self._initialize(X, resp)

    n_iter = 12
    sk = FixedStart(
        n_components=k,
        weight_concentration_prior_type=prior_type,
        weight_concentration_prior=conc,
        mean_prior=mean,
        mean_precision_prior=kappa,
        degrees_of_freedom_prior=dof,
        covariance_prior=scale,
        reg_covar=0.0,
        max_iter=n_iter,
        tol=0.0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's ConvergenceWarning
        sk.fit(X)
    weight_prior = (
        Dirichlet(conc) if prior_type == "dirichlet_distribution" else DirichletProcess(conc)
    )
    vb = VariationalGaussianMixture(
        k,
        weight_prior=weight_prior,
        component_prior=NormalInverseWishart(mean=mean, kappa=kappa, dof=dof, scale=scale),
        max_iter=n_iter,
        tol=0.0,
        moves=False,
    )
    with pytest.warns(ConvergenceWarning):
        vb._fit(X, resp_init=resp)

    tol = dict(rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(
        np.asarray(vb.weight_concentration_), np.asarray(sk.weight_concentration_), **tol
    )
    np.testing.assert_allclose(vb.mean_precision_, sk.mean_precision_, **tol)
    np.testing.assert_allclose(vb.degrees_of_freedom_, sk.degrees_of_freedom_, **tol)
    np.testing.assert_allclose(vb.means_, sk.means_, **tol)
    np.testing.assert_allclose(vb.covariances_, sk.covariances_, **tol)
    np.testing.assert_allclose(vb.weights_, sk.weights_, **tol)
    # scikit-learn's bound drops constants: the difference is one constant
    assert len(vb.lower_bounds_) == len(sk.lower_bounds_) == n_iter
    diff = np.asarray(vb.lower_bounds_) - np.asarray(sk.lower_bounds_)
    assert np.ptp(diff) < 1e-8 * np.abs(vb.lower_bounds_).max()
    assert np.ptp(vb.lower_bounds_) > 1.0  # the bounds did move


# ------------------------------------------------------------------ automatic K
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("learned", [False, True], ids=["fixed", "learned"])
def test_dp_finds_four_separated_clusters(seed, learned):
    X, labels = four_separated(seed)
    weight_prior = DirichletProcess(Gamma(1.0, 1.0) if learned else 1.0)
    vb = VariationalGaussianMixture(15, weight_prior=weight_prior, random_state=seed).fit(X)
    assert vb.converged_
    assert vb.n_effective_components_ == 4
    effective = np.flatnonzero(vb.effective_components_)
    pred = vb.predict(X)
    assert set(np.unique(pred)) == set(effective)  # original indices, effective only
    # each true cluster is one predicted component
    for c in range(4):
        assert np.unique(pred[labels == c]).size == 1
    assert np.unique(pred).size == 4
    assert vb.counts_.sum() == pytest.approx(X.shape[0])
    if learned:
        assert vb.concentration_posterior_ is not None
        assert vb.concentration_ == pytest.approx(vb.concentration_posterior_.mean)


def test_predict_uses_only_effective_components():
    X, _ = four_separated(3, n_samples=200)
    X = np.vstack([X, [[30.0, 30.0]]])  # one outlier may get a component of its own
    vb = VariationalGaussianMixture(8, random_state=0).fit(X)
    pred = vb.predict(X)
    assert np.all(vb.effective_components_[pred])
    proba = vb.predict_proba(X)
    assert proba.shape == (X.shape[0], 8)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_dp_sticks_end_in_decreasing_order():
    X, _ = four_separated(4)
    vb = VariationalGaussianMixture(10, random_state=0).fit(X)
    used = np.flatnonzero(vb.effective_components_)
    np.testing.assert_array_equal(used, np.arange(4))
    assert np.all(np.diff(vb.counts_[used]) <= 0)


def test_n_init_keeps_the_highest_elbo():
    X = three_blobs(6)
    one = VariationalGaussianMixture(8, init_params="random", random_state=3).fit(X)
    many = VariationalGaussianMixture(8, init_params="random", n_init=4, random_state=3).fit(X)
    assert many.elbo_ >= one.elbo_


def test_same_seed_same_fit():
    X = three_blobs(7)
    a = VariationalGaussianMixture(6, random_state=11).fit(X)
    b = VariationalGaussianMixture(6, random_state=11).fit(X)
    assert a.elbo_ == b.elbo_
    np.testing.assert_array_equal(a.means_, b.means_)
    np.testing.assert_array_equal(a.sample(50)[0], b.sample(50)[0])


# ------------------------------------------------------------ predictive density
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_predictive_integrates_to_one_in_1d(covariance_type):
    X = np.concatenate([np.random.default_rng(8).normal(size=(60, 1)), [[6.0], [6.5], [7.2]]])
    vb = VariationalGaussianMixture(4, covariance_type=covariance_type, random_state=0).fit(X)

    def density(x):
        return np.exp(vb.score_samples(np.array([[x]])))[0]

    total = sum(
        integrate.quad(density, lo, hi, limit=200, epsabs=1e-11)[0]
        for lo, hi in ((-np.inf, -10), (-10, 15), (15, np.inf))
    )
    assert total == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_predictive_integrates_to_one_in_2d(covariance_type):
    X = three_blobs(9, n_samples=150)
    vb = VariationalGaussianMixture(5, covariance_type=covariance_type, random_state=0).fit(X)
    # x = c + s tan(u) maps the plane to a square; the midpoint rule on the
    # square integrates the smooth, polynomially decaying integrand.
    c, s = X.mean(axis=0), X.std(axis=0)
    m = 600
    u = (np.arange(m) + 0.5) / m * np.pi - np.pi / 2
    U, V = np.meshgrid(u, u, indexing="ij")
    pts = np.column_stack([c[0] + s[0] * np.tan(U).ravel(), c[1] + s[1] * np.tan(V).ravel()])
    jac = s[0] * s[1] / (np.cos(U) ** 2 * np.cos(V) ** 2).ravel()
    total = np.sum(np.exp(vb.score_samples(pts)) * jac) * (np.pi / m) ** 2
    assert total == pytest.approx(1.0, abs=1e-5)


def test_predictive_is_a_student_t_mixture():
    """score_samples against scipy's multivariate t built from the attributes."""
    X = three_blobs(10, n_features=3)
    vb = VariationalGaussianMixture(4, random_state=0).fit(X)
    pts = three_blobs(11, n_samples=20, n_features=3)
    d = X.shape[1]
    parts = []
    for k in range(4):
        df = vb.degrees_of_freedom_[k] - d + 1
        kappa = vb.mean_precision_[k]
        shape = vb.scales_[k] * (kappa + 1) / (kappa * df)
        t = stats.multivariate_t(loc=vb.means_[k], shape=shape, df=df)
        parts.append(np.log(vb.weights_[k]) + t.logpdf(pts))
    expected = np.logaddexp.reduce(np.array(parts), axis=0)
    np.testing.assert_allclose(vb.score_samples(pts), expected, rtol=1e-10)
    resp = np.exp(np.array(parts).T - expected[:, None])
    np.testing.assert_allclose(vb.predict_proba(pts), resp, rtol=1e-9, atol=1e-12)
    assert vb.score(pts) == pytest.approx(expected.mean())


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_sample_draws_from_the_predictive(covariance_type):
    X = np.concatenate([np.random.default_rng(12).normal(size=(15, 1)), [[5.0], [5.4]]])
    vb = VariationalGaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    draws, labels = vb.sample(20000)
    assert draws.shape == (20000, 1) and labels.shape == (20000,)
    # CDF of the predictive: a mixture of univariate Student-t
    df = vb.degrees_of_freedom_
    kappa = vb.mean_precision_
    scale = np.sqrt(np.ravel(vb.scales_) * (kappa + 1) / (kappa * df))

    def cdf(x):
        x = np.asarray(x)[..., None]
        return (vb.weights_ * stats.t.cdf(x, df=df, loc=vb.means_[:, 0], scale=scale)).sum(-1)

    assert stats.kstest(draws[:, 0], cdf).pvalue > 1e-3
    # labels are the component each draw came from
    for k in np.flatnonzero(np.bincount(labels, minlength=3) > 500):
        sub = draws[labels == k, 0]
        assert (
            stats.kstest(sub, stats.t(df=df[k], loc=vb.means_[k, 0], scale=scale[k]).cdf).pvalue
            > 1e-3
        )


def test_sample_in_2d_follows_weights_and_components():
    X = three_blobs(13, n_samples=300)
    vb = VariationalGaussianMixture(3, weight_prior=Dirichlet(1.0), random_state=0).fit(X)
    n = 30000
    draws, labels = vb.sample(n)
    counts = np.bincount(labels, minlength=3)
    assert stats.chisquare(counts, vb.weights_ * n).pvalue > 1e-3
    d = 2
    for k in np.flatnonzero(counts > 3000):
        df = vb.degrees_of_freedom_[k] - d + 1
        assert df > 30  # light tails: sample moments converge
        kappa = vb.mean_precision_[k]
        cov = vb.scales_[k] * (kappa + 1) / (kappa * df) * df / (df - 2)
        sub = draws[labels == k]
        se = np.sqrt(np.diag(cov) / sub.shape[0])
        assert np.all(np.abs(sub.mean(axis=0) - vb.means_[k]) < 5 * se)
        emp = np.cov(sub.T)
        np.testing.assert_allclose(np.diag(emp), np.diag(cov), rtol=0.06)
        corr = emp[0, 1] / np.sqrt(emp[0, 0] * emp[1, 1])
        assert corr == pytest.approx(cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]), abs=0.04)


# ---------------------------------------------------------------- posterior draws
@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("weight_prior", ["dirichlet", "dp-learned"])
def test_posterior_draws_match_q(covariance_type, weight_prior):
    X = three_blobs(14, n_samples=120)
    vb = VariationalGaussianMixture(
        3,
        covariance_type=covariance_type,
        weight_prior=WEIGHT_PRIORS[weight_prior],
        random_state=0,
    ).fit(X)
    n_draws, k, d = 4000, 3, 2
    post = vb.posterior_draws(n_draws)
    assert post["weights"].shape == (1, n_draws, k)
    assert post["means"].shape == (1, n_draws, k, d)
    assert post["covariances"].shape == (1, n_draws, k, d, d)
    np.testing.assert_allclose(post["weights"].sum(-1), 1.0)
    covs = post["covariances"][0]
    assert np.all(np.linalg.eigvalsh(covs) > 0)
    np.testing.assert_allclose(covs, np.swapaxes(covs, -1, -2))
    # E_q[mu_k] = m_k and E_q[Sigma_k^-1] = precisions_ (exact expectations)
    means = post["means"][0]
    se = means.std(axis=0) / np.sqrt(n_draws)
    assert np.all(np.abs(means.mean(axis=0) - vb.means_) < 5 * se)
    precs = np.linalg.inv(covs)
    full_prec = np.linalg.inv(get_structure(covariance_type).to_full(vb.covariances_, k, d))
    se = precs.std(axis=0) / np.sqrt(n_draws)
    assert np.all(np.abs(precs.mean(axis=0) - full_prec) <= 5 * se + 1e-12)
    if weight_prior == "dirichlet":
        se = post["weights"][0].std(axis=0) / np.sqrt(n_draws)
        assert np.all(np.abs(post["weights"][0].mean(axis=0) - vb.weights_) < 5 * se)
        assert "concentration" not in post
    else:
        conc = post["concentration"]
        assert conc.shape == (1, n_draws)
        assert abs(conc.mean() - vb.concentration_) < 5 * conc.std() / np.sqrt(n_draws)
    again = vb.posterior_draws(n_draws)
    np.testing.assert_array_equal(again["means"], post["means"])  # seeded


def test_posterior_is_a_mixture_posterior():
    from bayesmix import MixturePosterior

    X = three_blobs(60)
    vb = VariationalGaussianMixture(3, random_state=0).fit(X)
    post = vb.posterior(X, n_draws=500)
    assert isinstance(post, MixturePosterior)
    summary = post.summary()
    # relabelling may reorder components, but the posterior-mean weights are
    # the variational means E_q[pi] (up to Monte Carlo error)
    means = np.sort([summary.loc[f"weights[{k}]", "mean"] for k in range(3)])
    np.testing.assert_allclose(means, np.sort(vb.weights_), atol=0.02)
    dens, lo, hi = post.density(X[:5], ci=0.9)
    assert np.all(lo <= dens) and np.all(dens <= hi)


def test_posterior_takes_n_draws_by_keyword_only(no_kernels):
    """The old ``posterior(500)`` names the cure before anything runs; X comes first."""
    vb = VariationalGaussianMixture(3)
    with pytest.raises(TypeError, match=r"posterior\(n_draws=500\)"):
        vb.posterior(500)
    with pytest.raises(TypeError, match=r"posterior\(n_draws=7\)"):
        vb.posterior(np.int64(7))
    with pytest.raises(TypeError):
        vb.posterior(500, X=np.ones((3, 2)))  # X given twice


# ------------------------------------------------------------ weights and pandas
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_integer_weights_equal_repeated_rows(covariance_type):
    X = three_blobs(15, n_samples=120)
    w = np.random.default_rng(0).integers(0, 4, size=X.shape[0])
    kw = dict(covariance_type=covariance_type, random_state=1)
    weighted = VariationalGaussianMixture(5, **kw).fit(X, sample_weight=w)
    repeated = VariationalGaussianMixture(5, **kw).fit(np.repeat(X, w, axis=0))
    assert weighted.elbo_ == pytest.approx(repeated.elbo_, rel=1e-9)
    assert weighted.n_iter_ == repeated.n_iter_
    np.testing.assert_allclose(weighted.means_, repeated.means_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(weighted.covariances_, repeated.covariances_, rtol=1e-8)
    np.testing.assert_allclose(weighted.counts_, repeated.counts_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(weighted.score_samples(X), repeated.score_samples(X), rtol=1e-9)


def test_dataframe_input_keeps_feature_names():
    import pandas as pd

    X = three_blobs(16)
    frame = pd.DataFrame(X, columns=["a", "b"])
    vb_frame = VariationalGaussianMixture(4, random_state=0).fit(frame)
    vb_array = VariationalGaussianMixture(4, random_state=0).fit(X)
    np.testing.assert_array_equal(vb_frame.feature_names_in_, ["a", "b"])
    assert not hasattr(vb_array, "feature_names_in_")
    assert vb_frame.elbo_ == vb_array.elbo_
    np.testing.assert_array_equal(vb_frame.predict(frame), vb_array.predict(X))
    with pytest.raises(ValueError, match="feature names"):
        vb_frame.predict(pd.DataFrame(X, columns=["b", "a"]))


def test_elbo_and_scores_do_not_depend_on_units():
    """Internal standardisation is undone exactly: rescaling X shifts the ELBO
    by the log-Jacobian, when the prior is rescaled with it."""
    X = three_blobs(17)
    prior = NormalInverseWishart(mean=[0.0, 0.0], kappa=0.05, dof=4.0, scale=np.eye(2) * 2.0)
    c = 1e3
    prior_c = NormalInverseWishart(
        mean=[0.0, 0.0], kappa=0.05, dof=4.0, scale=np.eye(2) * 2.0 * c**2
    )
    a = VariationalGaussianMixture(4, component_prior=prior, random_state=0).fit(X)
    b = VariationalGaussianMixture(4, component_prior=prior_c, random_state=0).fit(X * c)
    jac = X.shape[0] * X.shape[1] * np.log(c)
    assert b.elbo_ == pytest.approx(a.elbo_ - jac, rel=1e-9)
    np.testing.assert_allclose(b.means_, a.means_ * c, rtol=1e-8, atol=1e-9 * c)
    np.testing.assert_allclose(b.score_samples(X * c), a.score_samples(X) - 2 * np.log(c))


def test_default_priors_are_resolved_and_documented():
    X = three_blobs(18)
    vb = VariationalGaussianMixture(3, random_state=0).fit(X)
    cp = vb.component_prior_
    np.testing.assert_allclose(cp.mean, X.mean(axis=0))
    # Richardson & Green's scale: b A, A = 2 diag(range^2), b learned; dof D + 3
    assert cp.kappa == 0.01 and cp.dof == 5.0
    q_b = vb.scale_posterior_
    assert q_b.shape == pytest.approx(0.2 + 3 * 2 * 5.0 / 2)
    np.testing.assert_allclose(cp.scale, q_b.mean * np.diag(2 * np.ptp(X, axis=0) ** 2))
    assert vb.kappa_posterior_ is None
    fixed = VariationalGaussianMixture(3, component_prior=NormalInverseWishart(), random_state=0)
    cp = fixed.fit(X).component_prior_
    assert cp.kappa == 0.01 and cp.dof == 4.0 and fixed.scale_posterior_ is None
    np.testing.assert_allclose(cp.scale, np.cov(X.T, bias=True))
    assert vb.weight_prior_ == DirichletProcess(1.0)
    assert vb.concentration_ == 1.0 and vb.concentration_posterior_ is None
    fin = VariationalGaussianMixture(3, weight_prior=Dirichlet(), random_state=0).fit(X)
    assert fin.weight_prior_ == Dirichlet(1.0 / 3)


# ------------------------------------------------------------ degenerate and bad
def test_constant_column_and_duplicates_fit_with_a_warning():
    X = three_blobs(19)
    X[:, 1] = 2.5
    with pytest.warns(DegenerateDataWarning, match="constant"):
        vb = VariationalGaussianMixture(4, random_state=0).fit(X)
    assert np.isfinite(vb.elbo_) and np.all(np.isfinite(vb.score_samples(X)))
    dup = np.repeat(three_blobs(20, n_samples=10), 30, axis=0)
    vb = VariationalGaussianMixture(5, random_state=0).fit(dup)
    assert np.isfinite(vb.elbo_)


def test_convergence_warning_gives_advice():
    X = three_blobs(21)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        vb = VariationalGaussianMixture(6, max_iter=2, random_state=0).fit(X)
    assert not vb.converged_ and vb.n_iter_ == 2


def test_zero_iterations_and_verbose_output(capsys):
    X = three_blobs(23)
    vb = VariationalGaussianMixture(3, max_iter=0, random_state=0).fit(X)  # no warning
    assert vb.n_iter_ == 0 and vb.lower_bounds_ == [] and not vb.converged_
    assert np.isfinite(vb.elbo_)
    VariationalGaussianMixture(3, n_init=2, verbose=2, random_state=0).fit(X)
    out = capsys.readouterr().out
    assert out.count("init ") == 2 and "iteration 1: ELBO" in out


BAD_FIT = [
    # NaN is a missing value (tests/test_vb_missing.py), but not a whole row of it
    (dict(X=np.array([[np.nan, np.nan], [1.0, 2.0], [3.0, 1.0]])), ValueError, "every feature"),
    (dict(X=np.array([[0.0, np.inf], [1.0, 2.0], [3.0, 1.0]])), ValueError, "infinity"),
    (dict(X=np.arange(5.0)), ValueError, "2-D"),
    (dict(X=np.empty((0, 2))), ValueError, "sample"),
    (dict(X=[["a", "b"], ["c", "d"]]), TypeError, "numbers"),
    (dict(X=np.zeros((10, 2))), ValueError, "n_components"),
    (dict(sample_weight=-np.ones(50)), ValueError, "negative"),
    (dict(sample_weight=np.ones(3)), ValueError, "sample_weight"),
    (dict(sample_weight=np.zeros(50)), ValueError, "zero"),
    (dict(params=dict(covariance_type="banana")), ValueError, "covariance_type"),
    (dict(params=dict(n_components=0)), ValueError, "n_components"),
    (dict(params=dict(tol=-1.0)), ValueError, "tol"),
    (dict(params=dict(max_iter=1.5)), TypeError, "max_iter"),
    (dict(params=dict(init_params="nope")), ValueError, "init_params"),
    (dict(params=dict(weight_prior=0.5)), TypeError, "weight_prior"),
    (dict(params=dict(weight_prior=Gamma(1.0, 1.0))), TypeError, "weight_prior"),
    (dict(params=dict(component_prior={"kappa": 1.0})), TypeError, "component_prior"),
    (
        dict(params=dict(component_prior=NormalInverseWishart(mean=[0.0, 0.0, 0.0]))),
        ValueError,
        "features",
    ),
    (
        dict(params=dict(component_prior=NormalInverseWishart(scale=np.eye(3)))),
        ValueError,
        "features",
    ),
    (dict(params=dict(random_state="x")), TypeError, "random_state"),
]


@pytest.mark.parametrize("case", BAD_FIT, ids=[f"{i}-{c[2]}" for i, c in enumerate(BAD_FIT)])
def test_bad_input_is_rejected_before_any_kernel(case, no_kernels):
    spec, error, match = case
    X = spec.get("X", np.random.default_rng(0).normal(size=(50, 2)))
    params = dict(n_components=3)
    params.update(spec.get("params", {}))
    with pytest.raises(error, match=match):
        VariationalGaussianMixture(**params).fit(X, sample_weight=spec.get("sample_weight"))


def test_dof_too_small_for_the_data():
    X = np.random.default_rng(0).normal(size=(50, 3))
    with pytest.raises(ValueError, match="dof"):
        VariationalGaussianMixture(2, component_prior=NormalInverseWishart(dof=1.5)).fit(X)


def test_bad_input_after_fit():
    X = three_blobs(22)
    with pytest.raises(NotFittedError):
        VariationalGaussianMixture().predict(X)
    with pytest.raises(NotFittedError):
        VariationalGaussianMixture().posterior(n_draws=10)
    vb = VariationalGaussianMixture(3, random_state=0).fit(X)
    with pytest.raises(ValueError, match="features"):
        vb.score_samples(np.ones((4, 3)))
    with pytest.raises(ValueError, match="n_draws"):
        vb.posterior(n_draws=0)
    with pytest.raises(ValueError, match="n_samples"):
        vb.sample(0)


@pytest.mark.parametrize("init_params", ["auto", "kmeans", "k-means++"])
def test_fit_depends_on_neither_row_order_nor_repeats(init_params):
    """The start is computed on the rows in a canonical order, as EM's is: the
    same seed gives the same fit for shuffled rows, and for a row given twice
    or once with weight 2 (the fit compared to 1e-9: E-step sums in another
    order round differently)."""
    rng = np.random.default_rng(4)
    X = np.vstack([rng.normal(size=(60, 2)), rng.normal(size=(50, 2)) + 3.5])
    w = rng.integers(1, 3, X.shape[0]).astype(float)
    perm = rng.permutation(X.shape[0])
    kw = dict(init_params=init_params, random_state=5, tol=1e-8)
    a = VariationalGaussianMixture(6, **kw).fit(X, sample_weight=w)
    b = VariationalGaussianMixture(6, **kw).fit(X[perm], sample_weight=w[perm])
    c = VariationalGaussianMixture(6, **kw).fit(np.repeat(X, w.astype(int), axis=0))
    for other in (b, c):
        assert [m[:2] for m in other.moves_] == [m[:2] for m in a.moves_]
        np.testing.assert_allclose(other.elbo_, a.elbo_, rtol=1e-9)
        np.testing.assert_allclose(other.means_, a.means_, rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(b.predict(X), a.predict(X))


# ---------------------------------------------------------------- scikit-learn API
VB_ESTIMATORS = [
    VariationalGaussianMixture(1, random_state=0),
    # hierarchical initialisation does not depend on row order, so weighted and
    # repeated rows (shuffled by scikit-learn) start from the same partition
    VariationalGaussianMixture(
        2, covariance_type="diag", weight_prior=Dirichlet(), init_params="hierarchical"
    ),
    VariationalGaussianMixture(
        2,
        covariance_type="tied",
        weight_prior=DirichletProcess(Gamma(1.0, 1.0)),
        init_params="hierarchical",
        random_state=0,
    ),
    VariationalGaussianMixture(1, covariance_type="spherical", n_init=2),
]


@pytest.mark.parametrize("estimator", VB_ESTIMATORS, ids=lambda e: repr(e)[27:80])
def test_check_estimator(estimator):
    """scikit-learn's own checks, all of them."""
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(estimator, on_fail=None)
    failed = [(r["check_name"], r["exception"]) for r in results if r["status"] == "failed"]
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert not failed
    assert skipped <= {"check_array_api_input"}
    assert len(results) > 40
