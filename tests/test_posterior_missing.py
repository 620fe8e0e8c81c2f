"""MixturePosterior on data with missing values (NaN, missing at random): every
per-row quantity is that of the row's observed features.

Checked against an independent computation (scipy's multivariate normal on
each row's observed sub-vector, log-sum-exp over the components) for a
hand-built posterior, through both ways EM's missing-data machinery reads
rows (one pass per pattern, the one-pass kernel), and for every engine's
``posterior()``; rows without holes keep exactly the complete-data values;
a row whose only separating feature is missing is split 50/50."""

import warnings

import arviz_stats
import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from bayesmix import (
    DirichletProcessMixture,
    GaussianMixture,
    MixturePosterior,
    VariationalGaussianMixture,
    _draws,
    _missing,
)

CENTRES = np.array([[0.0, 0.0, 0.0], [6.0, 5.0, -4.0]])


def observed_loglik(X, weights, means, covariances):
    """log p(x_o | theta) (C, S, n) by scipy, row patterns one at a time."""
    n_chains, n_draws, n_components = weights.shape
    out = np.empty((n_chains, n_draws, X.shape[0]))
    observed = ~np.isnan(X)
    patterns, inverse = np.unique(observed, axis=0, return_inverse=True)
    for c in range(n_chains):
        for s in range(n_draws):
            w = weights[c, s] / np.nansum(weights[c, s])
            for p, obs in enumerate(patterns):
                rows = np.flatnonzero(inverse.ravel() == p)
                terms = [
                    np.log(w[k])
                    + multivariate_normal(
                        means[c, s, k, obs], covariances[c, s, k][np.ix_(obs, obs)]
                    ).logpdf(X[np.ix_(rows, obs)])
                    for k in range(n_components)
                    if w[k] > 0
                ]
                out[c, s, rows] = logsumexp(np.reshape(terms, (len(terms), rows.size)), axis=0)
    return out


def random_draws(rng, n_chains=2, n_draws=4, n_components=3, n_features=3):
    shape = (n_chains, n_draws, n_components)
    weights = rng.dirichlet(np.ones(n_components), size=shape[:2])
    means = rng.normal(0.0, 2.0, (*shape, n_features))
    A = rng.normal(size=(*shape, n_features, n_features))
    covs = A @ np.swapaxes(A, -1, -2) + 0.5 * np.eye(n_features)
    # an unused slot in one draw (as a Gibbs draw with fewer clusters)
    weights[1, 2, 2] = 0.0
    means[1, 2, 2] = np.nan
    covs[1, 2, 2] = np.nan
    return weights, means, covs


def holey(rng, n=40, n_features=3, fraction=0.3):
    X = rng.normal(0.0, 2.0, (n, n_features)) + 10.0  # an offset: centring matters
    X[rng.random(X.shape) < fraction] = np.nan
    empty = np.isnan(X).all(axis=1)
    X[empty, 0] = 10.0
    return X


def blobs(seed, n=80, fraction=0.15):
    rng = np.random.default_rng(seed)
    truth = np.arange(n) % 2
    X = CENTRES[truth] + rng.normal(size=(n, 3))
    X[rng.random(X.shape) < fraction] = np.nan
    X[np.isnan(X).all(axis=1), 0] = CENTRES[truth[np.isnan(X).all(axis=1)], 0]
    return X, truth


@pytest.mark.parametrize("path", ["per_pattern", "one_pass"])
def test_pointwise_log_likelihood_is_the_observed_data_marginal(path, monkeypatch):
    rng = np.random.default_rng(0)
    weights, means, covs = random_draws(rng)
    X = holey(rng)
    # n_patterns * PATTERN_ROWS <= n_samples picks the per-pattern path
    monkeypatch.setattr(_missing, "PATTERN_ROWS", 0 if path == "per_pattern" else 10**9)
    calls = []
    kernel = _missing.incomplete_e_step
    monkeypatch.setattr(
        _missing, "incomplete_e_step", lambda *a, **k: calls.append(1) or kernel(*a, **k)
    )
    post = MixturePosterior.from_draws(weights, means, covs, X=X, kind="variational", relabel=False)
    ll = post.log_likelihood
    assert bool(calls) == (path == "one_pass")
    np.testing.assert_allclose(ll, observed_loglik(X, weights, means, covs), rtol=1e-10)
    np.testing.assert_allclose(post.total_log_likelihood, ll.sum(axis=2), rtol=1e-12)
    # density(): each point's observed features, NaN marking the others
    band = post.density(X[:6])
    np.testing.assert_allclose(band.mean, np.exp(ll[:, :, :6]).mean(axis=(0, 1)), rtol=1e-10)


def test_rows_without_holes_keep_the_complete_data_values():
    rng = np.random.default_rng(1)
    weights, means, covs = random_draws(rng)
    X = holey(rng, fraction=0.2)
    complete = ~np.isnan(X).any(axis=1)
    assert 5 < complete.sum() < X.shape[0]
    post = MixturePosterior.from_draws(weights, means, covs, X=X, kind="variational", relabel=False)
    ll = post.log_likelihood[:, :, complete]
    # the complete-data pass over the complete rows alone, same centre: the same bits
    rows = _draws.rows_of(X[complete], post._center)
    assert rows.complete is None  # no NaN: the complete-data path
    lse, _ = _draws.evaluate(post._kernel, rows, 0, sample=False)
    assert np.array_equal(lse.reshape(ll.shape), ll)
    # and a posterior of the complete rows (centred on their own mean: rounding only)
    alone = MixturePosterior.from_draws(
        weights, means, covs, X=X[complete], kind="variational", relabel=False
    )
    np.testing.assert_allclose(alone.log_likelihood, ll, rtol=1e-13)


def test_complete_data_never_reach_the_missing_path(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("complete data reached the missing-value path")

    monkeypatch.setattr(_missing, "expected_rows", boom)
    rng = np.random.default_rng(2)
    weights, means, covs = random_draws(rng)
    X = rng.normal(size=(30, 3))
    post = MixturePosterior.from_draws(weights, means, covs, X=X, kind="variational")
    post.log_likelihood, post.coclustering(), post.density(X[:3])


def test_a_row_missing_its_only_separating_feature_is_split_evenly():
    """Two components equal but for feature 1: a row that lacks feature 1 is
    given each with probability 1/2 exactly (the marginalisation is real:
    filling the hole at either mean would pick a side)."""
    n_draws = 400
    weights = np.full((1, n_draws, 2), 0.5)
    means = np.broadcast_to(np.array([[0.0, 0.0], [0.0, 8.0]]), (1, n_draws, 2, 2))
    covs = np.broadcast_to(np.eye(2), (1, n_draws, 2, 2, 2))
    X = np.array([[0.1, -0.2], [-0.3, 8.1], [0.4, np.nan], [np.nan, 7.5]])
    post = MixturePosterior.from_draws(
        weights, means, covs, X=X, kind="variational", random_state=3
    )
    rows = post._rows(X)
    probs, _ = _draws.relabelling_probabilities(post._kernel, rows, np.ones(4), post._full(rows))
    np.testing.assert_allclose(probs[:, 2], 0.5, rtol=1e-12)
    assert (probs[:, 3, 1] > 1 - 1e-9).all()  # feature 1 observed near 8: component 1
    share = (post.allocations[0, :, 2] == post.allocations[0, :, 0]).mean()
    assert abs(share - 0.5) < 0.1  # 400 draws: sd 0.025
    cc = post.coclustering()
    assert abs(cc[2, 0] - 0.5) < 0.1 and abs(cc[2, 1] - 0.5) < 0.1
    assert cc[3, 1] == 1.0 and cc[3, 0] == 0.0


def test_relabelling_reads_rows_with_holes():
    """Label-switched draws on data with holes are relabelled to one numbering,
    and the partitions sampled afterwards (rows with and without holes) use it."""
    rng = np.random.default_rng(4)
    X, truth = blobs(5, n=60, fraction=0.3)
    # feature 0 (6 sd apart) always observed: every row belongs clearly to its blob
    X[:, 0] = np.where(np.isnan(X[:, 0]), CENTRES[truth, 0], X[:, 0])
    n_draws = 12
    perms = np.array([rng.permutation(2) for _ in range(n_draws)])
    weights = np.full((1, n_draws, 2), 0.5)
    means = CENTRES[perms][None] + 0.05 * rng.normal(size=(1, n_draws, 2, 3))
    covs = np.broadcast_to(np.eye(3), (1, n_draws, 2, 3, 3)).copy()
    post = MixturePosterior.from_draws(weights, means, covs, X=X, kind="variational")
    assert np.ptp(post.means[0], axis=0).max() < 0.5  # one numbering for every draw
    alloc = post.allocations[0]
    with_holes = np.isnan(X).any(axis=1)
    assert with_holes.sum() > 10
    for a in alloc:  # each draw's partition in that numbering, holey rows included
        assert (a[with_holes] == alloc[0, with_holes]).all()
        assert (a == alloc[0]).all()
    assert abs(np.corrcoef(alloc[0], truth)[0, 1]) == pytest.approx(1.0)


def test_reports_work_with_holes():
    rng = np.random.default_rng(6)
    weights, means, covs = random_draws(rng, n_chains=2, n_draws=50)
    X = holey(rng)
    post = MixturePosterior.from_draws(weights, means, covs, X=X, kind="variational")
    tree = post.to_arviz()
    np.testing.assert_array_equal(tree["log_likelihood"]["X"].values, post.log_likelihood)
    assert np.isfinite(tree["log_likelihood"]["X"].values).all()
    np.testing.assert_array_equal(tree["observed_data"]["X"].values, X)  # holes kept
    with warnings.catch_warnings():
        # Pareto-k advice for 100 draws: about these draws, not the interface
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        elpd = arviz_stats.loo(tree, pointwise=True)
    ll = post.log_likelihood.reshape(-1, X.shape[0])
    lppd = np.sum(np.logaddexp.reduce(ll, axis=0) - np.log(ll.shape[0]))
    assert np.isfinite(elpd.elpd) and elpd.p == pytest.approx(lppd - elpd.elpd, rel=1e-8)
    table = post.summary()
    assert "total_log_likelihood" in table.index
    assert np.isfinite(table.loc["total_log_likelihood", "mean"])
    labels = post.point_partition()
    assert labels.shape == (X.shape[0],)
    assert post.expected_counts().sum() == pytest.approx(X.shape[0])


def test_rows_with_nothing_observed_and_infinity_are_refused():
    rng = np.random.default_rng(7)
    weights, means, covs = random_draws(rng)
    X = holey(rng)
    X[[4, 9]] = np.nan
    with pytest.raises(ValueError, match=r"row\(s\) \[4, 9\] with every feature missing"):
        MixturePosterior.from_draws(weights, means, covs, X=X)
    X = holey(rng)
    X[2, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        MixturePosterior.from_draws(weights, means, covs, X=X)
    post = MixturePosterior.from_draws(weights, means, covs, X=holey(rng))
    with pytest.raises(ValueError, match="every feature missing"):
        post.density(np.full((1, 3), np.nan))


def check_engine_posterior(post, X):
    """The posterior keeps X with its holes and scores the observed cells."""
    assert post.X.shape == X.shape
    np.testing.assert_array_equal(np.isnan(post.X), np.isnan(X))
    ll = post.log_likelihood
    np.testing.assert_allclose(
        ll, observed_loglik(X, post.weights, post.means, post.covariances), rtol=1e-9
    )
    assert post.coclustering().shape == (X.shape[0],) * 2
    tree = post.to_arviz()
    assert tree["log_likelihood"]["X"].shape == ll.shape


def test_em_bootstrap_posterior_scores_the_observed_cells():
    X, _ = blobs(8)
    gm = GaussianMixture(2, random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the "no per-row summaries" warning is gone
        post = gm.posterior(X, n_draws=3, random_state=1)
    check_engine_posterior(post, X)


def test_vb_posterior_scores_the_observed_cells():
    X, _ = blobs(9)
    vb = VariationalGaussianMixture(2, random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        post = vb.posterior(X, n_draws=15, random_state=1)
    check_engine_posterior(post, X)


@pytest.mark.filterwarnings("ignore::bayesmix.exceptions.ConvergenceWarning")
def test_gibbs_posterior_scores_the_observed_cells():
    X, _ = blobs(10, n=50)
    # rows of weight 0 are left out of the posterior, repeated rows enter once
    w = np.ones(50, dtype=int)
    w[[1, 2]], w[[3, 5, 7]] = 0, 2
    dp = DirichletProcessMixture(n_iter=60, n_chains=2, random_state=0, progress=False)
    dp.fit(X, sample_weight=w)
    post = dp.posterior(n_draws=5, random_state=1)
    check_engine_posterior(post, X[w > 0])
    np.testing.assert_array_equal(post.sample_weight, w[w > 0])
    assert dp.imputed_samples_.shape[2] > 0  # the sampler's draws of the cells stay there


def test_a_posterior_with_holes_saves_and_loads_exactly(tmp_path):
    rng = np.random.default_rng(8)
    weights, means, covs = random_draws(rng, n_chains=2, n_draws=5)
    X = holey(rng)
    post = MixturePosterior.from_draws(weights, means, covs, X=X, kind="variational")
    path = tmp_path / "holey.npz"
    post.save(path)
    back = MixturePosterior.load(path)
    np.testing.assert_array_equal(back.X, X)  # NaN where X has holes
    np.testing.assert_array_equal(back.log_likelihood, post.log_likelihood)
    np.testing.assert_array_equal(back.point_partition(), post.point_partition())


def test_a_saved_posterior_with_an_empty_row_is_refused(tmp_path):
    from bayesmix import load

    rng = np.random.default_rng(9)
    weights, means, covs = random_draws(rng, n_chains=2, n_draws=3)
    X = holey(rng)
    post = MixturePosterior.from_draws(weights, means, covs, X=X, kind="variational")
    path = tmp_path / "p.npz"
    post.save(path)
    with np.load(path) as z:
        members = dict(z)
    key = next(
        k for k, v in members.items() if v.shape == X.shape and np.array_equal(v, X, equal_nan=True)
    )
    members[key][0] = np.nan  # tamper: a row with nothing observed
    np.savez(path, **members)
    with pytest.raises(ValueError, match="every feature missing"):
        load(path)
