"""Hyperpriors on the Gibbs sampler's base measure (``_gibbs_hyper``) and
``predict_proba`` on the training rows from the allocation draws."""

import warnings

import numpy as np
import pytest

from bayesmix import DirichletProcessMixture, Gamma, NormalInverseWishart
from bayesmix._gibbs_summary import allocation_proba
from bayesmix._kernels._gibbs import hyper_statistics
from bayesmix.datasets import load_galaxies
from bayesmix.priors import RandomScale


def test_hyper_statistics_match_dense_linear_algebra():
    rng = np.random.default_rng(1)
    K, D = 3, 5
    M = rng.normal(size=(K, D, D))
    psi = M @ M.transpose(0, 2, 1) + D * np.eye(D)
    R = np.linalg.cholesky(psi).transpose(0, 2, 1).copy()
    chi = rng.uniform(1, 2, size=(K, D))
    normals = rng.normal(size=(K, D * (D - 1) // 2))
    diff, z, base = rng.normal(size=(K, D)), rng.normal(size=(K, D)), rng.uniform(1, 2, D)
    trace, quad = hyper_statistics(R, chi, normals, diff, z, np.sqrt(base))
    T = Q = 0.0
    for k in range(K):
        L = np.diag(chi[k])
        L[np.tril_indices(D, -1)] = normals[k]
        C = np.linalg.solve(R[k], L)
        lam = C @ C.T
        T += np.trace(np.diag(base) @ lam)
        mu = diff[k] + np.linalg.solve(C.T, z[k])
        Q += mu @ lam @ mu
    assert trace == pytest.approx(T, rel=1e-12) and quad == pytest.approx(Q, rel=1e-12)


def test_bartlett_draws_have_the_wishart_mean():
    # E[tr(A Lambda)] = nu tr(A Psi^-1) for Lambda ~ Wishart(nu, Psi^-1)
    rng = np.random.default_rng(0)
    D, nu, n = 3, 7.0, 4000
    psi = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 0.5]])
    R = np.broadcast_to(np.linalg.cholesky(psi).T, (n, D, D)).copy()
    chi = np.sqrt(rng.chisquare(nu - np.arange(D), size=(n, D)))
    normals = rng.standard_normal((n, 3))
    base = np.array([1.0, 2.0, 3.0])
    trace, _ = hyper_statistics(R, chi, normals, np.zeros((n, D)), np.zeros((n, D)), np.sqrt(base))
    expected = nu * np.trace(np.diag(base) @ np.linalg.inv(psi))
    assert trace / n == pytest.approx(expected, rel=0.03)


def test_allocation_proba_is_the_coclustering_with_each_point_cluster():
    point = np.array([0, 0, 1, 1])
    draws = np.array([[0, 0, 1, 1], [0, 1, 1, 1]])
    p = allocation_proba(draws, point)
    # row 1: draw 1 with row 0 (half of cluster 0 plus itself), draw 2 with rows 2, 3
    pi1 = np.array([(1.0 + 0.5) / 2, (0.0 + 1.0) / 2])
    np.testing.assert_allclose(p[1], pi1 / pi1.sum())
    np.testing.assert_allclose(p[0], [1.0, 0.0])
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


def test_training_proba_comes_from_the_draws():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 1, 40), rng.normal(4.0, 1, 40)][:, None]  # overlapping tails
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = DirichletProcessMixture(n_iter=200, n_chains=2, random_state=0, progress=False).fit(X)
    p = m.predict_proba(X)
    assert p.shape == (80, m.weights_.size) and m.weights_.size >= 2
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    # overlapping data: some rows are genuinely uncertain
    assert p.max(axis=1).min() < 0.95
    # rows that are not the training data use the predictive
    np.testing.assert_allclose(m.predict_proba(X[:5]).sum(axis=1), 1.0)


def test_learned_hyperparameters_are_recorded():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(size=(40, 2)), rng.normal(size=(40, 2)) + 6.0]
    prior = NormalInverseWishart(kappa=Gamma(0.5, 50.0))
    m = DirichletProcessMixture(
        component_prior=prior, n_iter=100, n_chains=2, random_state=0, progress=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a short run: only the records are checked
        m.fit(X)
    assert m.scale_samples_.shape == (2, 50, 2) and (m.scale_samples_ > 0).all()
    assert m.kappa_samples_.shape == (2, 50) and (m.kappa_samples_ > 0).all()
    assert m.component_prior_.dof == 5.0  # D + 3 under a RandomScale
    assert np.isfinite(m.score_samples(X)).all()
    post = m.posterior_draws(n_draws=3)
    assert np.isfinite(post["means"][post["weights"] > 0]).all()
    # explicit values are used exactly, and nothing is learned
    fixed = NormalInverseWishart(mean=[0.0, 0.0], kappa=0.5, dof=6.0, scale=np.eye(2))
    m2 = DirichletProcessMixture(component_prior=fixed, n_iter=20, random_state=0, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m2.fit(X)
    assert not hasattr(m2, "scale_samples_") and not hasattr(m2, "kappa_samples_")
    np.testing.assert_array_equal(m2.component_prior_.scale, np.eye(2))


def test_same_seed_same_hyperparameter_draws():
    X = np.random.default_rng(3).normal(size=(50, 3))
    kw = {"n_iter": 30, "n_chains": 2, "random_state": 4, "progress": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = DirichletProcessMixture(**kw).fit(X)
        b = DirichletProcessMixture(**kw).fit(X)
    np.testing.assert_array_equal(a.scale_samples_, b.scale_samples_)
    np.testing.assert_array_equal(a.log_joint_samples_, b.log_joint_samples_)


def test_hyperpriors_are_refused_where_not_sampled():
    with pytest.raises(ValueError, match="DirichletProcessMixture only"):
        NormalInverseWishart(scale=RandomScale()).resolve(np.ones((5, 2)))
    with pytest.raises(ValueError, match="RandomScale rate"):
        RandomScale(rate=0.0)
    np.testing.assert_array_equal(RandomScale.base(np.array([[0.0, 1.0], [2.0, 1.0]])), [8, 8])


@pytest.mark.slow
def test_galaxies_default_number_of_clusters():
    """Richardson & Green (1997): posterior mass mostly on 5-7 components;
    Escobar & West (1995): E[K] about 7 under hyperpriors on the base measure."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = DirichletProcessMixture(random_state=0, progress=False).fit(load_galaxies())
    K = m.n_clusters_samples_
    assert 5.0 <= K.mean() <= 8.0
    assert 5 <= np.bincount(K.ravel()).argmax() <= 8


def test_slice_sampler_of_log_b_draws_its_conditional():
    """Repeated slice updates of u = log b sample the density of
    ``log_b_conditional``: its mean and quartiles match numerical integration."""
    from bayesmix._gibbs_hyper import log_b_conditional
    from bayesmix._kernels._gibbs import slice_log_b
    from bayesmix.priors import Gamma

    rng = np.random.default_rng(0)
    lam = rng.gamma(2.0, 1.0, size=(3, 2))
    counts = np.array([4, 7, 2])
    g, nu0 = Gamma(0.2, 10.0), 5.0
    u = np.linspace(-12.0, 6.0, 20001)
    logp = log_b_conditional(u, g, nu0, counts, lam)
    p = np.exp(logp - logp.max())
    p /= p.sum()
    cdf = np.cumsum(p)
    head = g.shape + 0.5 * lam.size * nu0
    weights = np.repeat(0.5 * (nu0 + counts), 2).astype(float)
    draws, cur = np.empty(20000), 0.0
    for t in range(draws.size):
        cur = np.log(slice_log_b(cur, head, g.rate, lam.ravel(), weights, -np.inf, 0.5, t))
        draws[t] = cur
    draws = draws[100:]
    sd = np.sqrt((p * (u - (p * u).sum()) ** 2).sum())
    assert abs(draws.mean() - (p * u).sum()) < 0.05 * sd
    for q in (0.25, 0.5, 0.75):
        assert abs(np.quantile(draws, q) - u[np.searchsorted(cdf, q)]) < 0.08 * sd


def test_scale_eigenvalues_match_lapack():
    """The in-thread eigenvalues of ``A^-1/2 B_k A^-1/2`` that the collapsed
    update of ``b`` uses agree with LAPACK's, for full-rank and rank-deficient
    clusters (fewer rows than features) alike."""
    from bayesmix._kernels._gibbs import scale_eigenvalues

    rng = np.random.default_rng(3)
    for n, d, K in ((60, 1, 2), (90, 5, 3), (40, 30, 4)):
        X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d)
        labels = np.arange(n) % K
        mean0 = X.mean(axis=0) + 0.1
        base = rng.uniform(0.5, 2.0, size=d)
        counts = np.empty(K, dtype=np.int64)
        lam = np.empty((K, d))
        ones = np.ones(X.shape[0], dtype=np.int64)
        scale_eigenvalues(X, ones, labels, K, mean0, 0.01, base, counts, lam)
        for k in range(K):
            rows = X[labels == k]
            xbar = rows.mean(axis=0)
            diff = xbar - mean0
            B = (rows - xbar).T @ (rows - xbar) + 0.01 * len(rows) / (0.01 + len(rows)) * np.outer(
                diff, diff
            )
            isq = 1.0 / np.sqrt(base)
            ref = np.clip(np.linalg.eigvalsh(B * isq[:, None] * isq[None, :]), 0.0, None)
            assert counts[k] == len(rows)
            np.testing.assert_allclose(np.sort(lam[k]), ref, rtol=0, atol=1e-10 * ref.max())


def test_block_kernel_keeps_the_prior_at_the_drawn_scale():
    """The chains of a default fit run in calls of ``gibbs_block``, which draws
    ``b`` and refreshes the kernels' prior arrays in place: after a block they
    equal ``model_at`` at the chain's ``b`` (what the per-step path builds)."""
    from bayesmix._gibbs_core import _Chain, block_kernel
    from bayesmix._gibbs_hyper import HyperState, model_at, prepare, resolve_prior

    rng = np.random.default_rng(5)
    X = np.concatenate([rng.normal(size=(40, 3)), rng.normal(size=(30, 3)) + 5.0])
    model, hyper = prepare(X, resolve_prior(NormalInverseWishart(), X))
    assert block_kernel(hyper)
    chain = _Chain(0, 1, model, 1.0, np.random.SeedSequence(2), hyper, -1)
    chain.advance(40, lambda it: it >= 30, lambda: None)
    b = chain.state.hyper.b
    assert b != hyper.b_min and np.isfinite(b)
    ref = model_at(model, hyper, HyperState(b, chain.state.hyper.kappa))
    mean0, psi0, R0, inv0, consts, tables = chain.block["prior"]
    np.testing.assert_array_equal(mean0, ref.prior.mean)
    np.testing.assert_allclose(psi0, ref.prior.scale, rtol=1e-12)
    np.testing.assert_allclose(R0, ref.R0, rtol=1e-12)
    np.testing.assert_allclose(inv0, ref.inv0, rtol=1e-12)
    np.testing.assert_allclose(consts, ref.consts, rtol=1e-12)
    np.testing.assert_allclose(tables, ref.tables, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(chain.block["log_prior_pred"], ref.log_prior_pred, rtol=1e-12)
    # ten kept draws, each with its own b, iterations 30 .. 39
    assert [r[0] for r in chain.records] == list(range(30, 40))
    assert chain.records[-1][5] == b
