"""MixturePosterior: construction, relabelling, label-invariant summaries,
ArviZ output, against exact answers and independent
implementations (scipy's multivariate normal)."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

from bayesmix import ConvergenceWarning, MixturePosterior

CENTRES = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
WEIGHTS = np.array([0.5, 0.3, 0.2])


def make_data(rng, n=150):
    truth = rng.choice(3, size=n, p=WEIGHTS)
    X = CENTRES[truth] + rng.normal(size=(n, 2))
    return X, truth


def gibbs_like_draws(rng, truth, n_chains=2, n_draws=30, n_slots=5, noise=0.1):
    """Draws near the true mixture, each with its used components scattered
    over random slots (NaN parameters and weight 0 elsewhere) and partitions
    given in slot numbers: label switching as a sampler produces it."""
    shape = (n_chains, n_draws)
    weights = np.zeros((*shape, n_slots))
    means = np.full((*shape, n_slots, 2), np.nan)
    covs = np.full((*shape, n_slots, 2, 2), np.nan)
    labels = np.empty((*shape, truth.size), dtype=np.int64)
    slots = np.empty((*shape, 3), dtype=np.int64)
    for c in range(n_chains):
        for s in range(n_draws):
            slot = rng.permutation(n_slots)[:3]  # true component t sits in slot[t]
            slots[c, s] = slot
            w = WEIGHTS + noise * 0.1 * rng.random(3)
            weights[c, s, slot] = w / w.sum()
            means[c, s, slot] = CENTRES + noise * rng.normal(size=(3, 2))
            covs[c, s, slot] = np.eye(2) * (1 + noise * rng.random((3, 1, 1)))
            labels[c, s] = slot[truth]
    return weights, means, covs, labels, slots


def mixture_logpdf(X, weights, means, covs):
    dens = sum(
        w * multivariate_normal(m, c).pdf(X)
        for w, m, c in zip(weights, means, covs, strict=True)
        if w > 0
    )
    return np.log(dens)


# ------------------------------------------------------------------ building
def test_from_draws_validates_shapes_and_values(rng):
    w = np.full((1, 4, 2), 0.5)
    m = np.zeros((1, 4, 2, 3))
    c = np.tile(np.eye(3), (1, 4, 2, 1, 1))
    with pytest.raises(ValueError, match="chain axis"):
        MixturePosterior.from_draws(w[0], m, c, kind="bootstrap")
    with pytest.raises(ValueError, match="first three axes"):
        MixturePosterior.from_draws(w, m[:, :3], c, kind="bootstrap")
    with pytest.raises(ValueError, match="full matrices"):
        MixturePosterior.from_draws(w, m, c[..., 0], kind="bootstrap")
    bad = c.copy()
    bad[0, 2, 1] = -np.eye(3)
    with pytest.raises(ValueError, match="chain 0, draw 2"):
        MixturePosterior.from_draws(w, m, bad, kind="bootstrap")
    with pytest.raises(ValueError, match="kind"):
        MixturePosterior.from_draws(w, m, c, kind="mcmc")
    with pytest.raises(ValueError, match="pass X"):
        MixturePosterior.from_draws(w, m, c, labels=np.zeros((1, 4, 5), int), kind="gibbs")
    with pytest.raises(ValueError, match="features"):
        MixturePosterior.from_draws(w, m, c, X=np.zeros((5, 2)), kind="bootstrap")
    zero = w.copy()
    zero[0, 1] = 0.0
    with pytest.raises(ValueError, match="no used component"):
        MixturePosterior.from_draws(zero, m, c, kind="bootstrap")
    with pytest.raises(TypeError, match="from_draws"):
        MixturePosterior(w, m, c)


def test_weights_are_normalised_and_unused_slots_masked(rng):
    X, truth = make_data(rng, 60)
    weights, means, covs, labels, _ = gibbs_like_draws(rng, truth, n_chains=1, n_draws=4)
    weights *= 0.9  # the mass of unrepresented components is dropped
    post = MixturePosterior.from_draws(weights, means, covs, labels=labels, X=X)
    np.testing.assert_allclose(post.weights.sum(axis=2), 1.0)
    unused = post.weights == 0
    assert np.isnan(post.means[unused]).all() and np.isnan(post.covariances[unused]).all()
    with pytest.raises(ValueError, match="used component"):
        bad = labels.copy()
        bad[0, 0, 0] = np.flatnonzero(weights[0, 0] == 0)[0]
        MixturePosterior.from_draws(weights, means, covs, labels=bad, X=X)


# ---------------------------------------------------------------- relabelling
def test_relabelling_undoes_switching_with_partitions(rng):
    X, truth = make_data(rng)
    weights, means, covs, labels, _ = gibbs_like_draws(rng, truth)
    post = MixturePosterior.from_draws(weights, means, covs, labels=labels, X=X)
    # One numbering for every draw: component j has the same centre throughout.
    order = np.argsort(np.nan_to_num(post.means[0, 0, :, 0] + 10 * post.means[0, 0, :, 1], nan=1e9))
    used = order[:3]
    for c in range(2):
        for s in range(30):
            np.testing.assert_allclose(post.means[c, s, used], CENTRES, atol=0.6)
            # and the partitions were renumbered the same way
            np.testing.assert_allclose(
                post.means[c, s, post.labels[c, s]], CENTRES[truth], atol=0.6
            )
    assert post.relabel_converged
    # permutation maps new labels back to the engine's slots
    p = post.permutation[1, 7]
    np.testing.assert_array_equal(post.weights[1, 7], (weights[1, 7] / weights[1, 7].sum())[p])


def test_relabelled_components_are_numbered_by_decreasing_weight(rng):
    """Whatever slots the pivot draw used, component j of the relabelled
    posterior is the j-th heaviest (WEIGHTS are 0.5, 0.3, 0.2 at CENTRES in
    that order), so the components any draw uses come first, numbered 0, 1, 2;
    partitions and the permutation are renumbered with them."""
    X, truth = make_data(rng)
    weights, means, covs, labels, _ = gibbs_like_draws(rng, truth)
    post = MixturePosterior.from_draws(weights, means, covs, labels=labels, X=X)
    mean_w = post.weights.mean(axis=(0, 1))
    assert np.all(np.diff(mean_w) <= 0)
    np.testing.assert_allclose(
        post.means[:, :, :3], np.broadcast_to(CENTRES, (2, 30, 3, 2)), atol=0.6
    )
    np.testing.assert_array_equal(post.labels[0, 0], truth)
    for c, s in ((0, 0), (1, 29)):
        p = post.permutation[c, s]
        np.testing.assert_array_equal(post.weights[c, s], (weights[c, s] / weights[c, s].sum())[p])
    summary = post.summary(var_names=["weights"])
    assert list(summary.component) == [0, 1, 2]


@pytest.mark.parametrize("with_data", [True, False])
def test_relabelling_without_partitions(rng, with_data):
    X, truth = make_data(rng)
    weights, means, covs, _, _ = gibbs_like_draws(rng, truth, n_slots=3)
    post = MixturePosterior.from_draws(
        weights, means, covs, X=X if with_data else None, kind="variational"
    )
    ref = post.means[0, 0]
    assert np.abs(post.means - ref).max() < 0.6
    assert np.isfinite(post.means).all()


def test_relabel_false_keeps_engine_numbering(rng):
    X, truth = make_data(rng)
    weights, means, covs, labels, _ = gibbs_like_draws(rng, truth, n_draws=5)
    post = MixturePosterior.from_draws(
        weights, means, covs, labels=labels, X=X, relabel=False, check_convergence=False
    )
    np.testing.assert_array_equal(post.labels, labels)
    np.testing.assert_array_equal(np.isnan(post.means), np.isnan(means))


# ------------------------------------------------------- label-invariant output
def test_log_likelihood_and_density_match_scipy(rng):
    X, truth = make_data(rng, 40)
    weights, means, covs, labels, _ = gibbs_like_draws(rng, truth, n_draws=3, noise=0.5)
    post = MixturePosterior.from_draws(
        weights, means, covs, labels=labels, X=X, check_convergence=False
    )
    ref = np.array(
        [
            [mixture_logpdf(X, weights[c, s], means[c, s], covs[c, s]) for s in range(3)]
            for c in range(2)
        ]
    )
    np.testing.assert_allclose(post.log_likelihood, ref, rtol=1e-10)
    np.testing.assert_allclose(post.total_log_likelihood, ref.sum(axis=2), rtol=1e-10)
    grid = rng.normal(size=(7, 2)) * 4
    dens = np.exp(
        [
            mixture_logpdf(grid, weights[c, s], means[c, s], covs[c, s])
            for c in range(2)
            for s in range(3)
        ]
    )
    band = post.density(grid, ci=0.5)
    np.testing.assert_allclose(band.mean, dens.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(band.lower, np.quantile(dens, 0.25, axis=0), rtol=1e-10)
    np.testing.assert_allclose(band.upper, np.quantile(dens, 0.75, axis=0), rtol=1e-10)
    with pytest.raises(ValueError, match="ci"):
        post.density(grid, ci=1.0)


def test_n_components_is_the_distribution_of_occupied_clusters(rng):
    X, truth = make_data(rng, 80)
    weights, means, covs, labels, slots = gibbs_like_draws(rng, truth, n_draws=20)
    # In some draws one true cluster is split over a fourth slot.
    split = rng.random((2, 20)) < 0.3
    for c, s in zip(*np.nonzero(split), strict=True):
        spare = np.setdiff1d(np.arange(5), slots[c, s])[0]
        weights[c, s, spare] = 0.05
        means[c, s, spare] = CENTRES[0]
        covs[c, s, spare] = np.eye(2)
        rows = np.flatnonzero(truth == 0)[:3]
        labels[c, s, rows] = spare
    post = MixturePosterior.from_draws(
        weights, means, covs, labels=labels, X=X, check_convergence=False
    )
    probs = post.n_components()
    assert probs.shape == (5,)  # the fifth slot is never used: dropped
    assert probs.sum() == pytest.approx(1.0)
    assert probs[4] == pytest.approx(split.mean())
    assert probs[3] == pytest.approx(1 - split.mean())


def draws_with_a_fourth_cluster(rng, truth, n_draws=40, share=0.35):
    """Gibbs-like draws where, in about ``share`` of them, a fourth small
    cluster takes a few rows of one true cluster (a different one each time),
    so the draws have 3 or 4 occupied components."""
    weights, means, covs, labels, slots = gibbs_like_draws(rng, truth, n_draws=n_draws)
    split = rng.random((2, n_draws)) < share
    for c, s in zip(*np.nonzero(split), strict=True):
        spare = np.setdiff1d(np.arange(5), slots[c, s])[0]
        donor = rng.integers(3)
        weights[c, s, spare] = 0.04
        means[c, s, spare] = CENTRES[donor] + 1.0
        covs[c, s, spare] = 0.5 * np.eye(2)
        labels[c, s, np.flatnonzero(truth == donor)[:3]] = spare
    return weights, means, covs, labels, split


def test_given_n_components_keeps_draws_of_one_size(rng):
    X, truth = make_data(rng, 90)
    weights, means, covs, labels, split = draws_with_a_fourth_cluster(rng, truth)
    post = MixturePosterior.from_draws(
        weights, means, covs, labels=labels, X=X, check_convergence=False
    )
    given = post.given_n_components()  # the mode: 3 occupied
    assert given.attrs["given_n_components"] == 3
    assert given.attrs["draws_kept"] == pytest.approx(1 - split.mean())
    assert (given.n_chains, given.n_draws) == (1, int((~split).sum()))
    assert given.weights.shape[2] == 3
    np.testing.assert_allclose(given.n_components()[3], 1.0)
    # the kept draws are the 3-cluster draws, relabelled to one numbering of
    # the true clusters (the pivot draw's): one permutation for every draw
    assert np.isfinite(given.means).all()
    centre = given.means.mean(axis=(0, 1))
    to_true = np.argmin(((centre[:, None] - CENTRES[None]) ** 2).sum(axis=2), axis=1)
    assert sorted(to_true) == [0, 1, 2]
    np.testing.assert_allclose(centre, CENTRES[to_true], atol=0.1)
    assert (to_true[given.labels[0]] == truth[None, :]).all()
    # the same for the 4-cluster draws: the true clusters and the small one
    four = post.given_n_components(4)
    assert four.n_draws == int(split.sum()) and four.weights.shape[2] == 4
    assert np.isfinite(four.means).all()
    # label-invariant quantities of a kept draw are those of the original draw
    flat = np.flatnonzero(~split.ravel())
    np.testing.assert_allclose(
        given.total_log_likelihood[0], post.total_log_likelihood.ravel()[flat], rtol=1e-12
    )
    with pytest.raises(ValueError, match="no draw has 2 occupied components"):
        post.given_n_components(2)


def test_given_n_components_without_data(rng):
    _, truth = make_data(rng, 30)
    weights, means, covs, _, split = draws_with_a_fourth_cluster(rng, truth)
    post = MixturePosterior.from_draws(weights, means, covs, check_convergence=False)
    given = post.given_n_components()
    assert given.weights.shape[2] == 3 and given.n_draws == int((~split).sum())
    np.testing.assert_allclose(
        np.sort(given.weights.mean(axis=(0, 1))), np.sort(WEIGHTS), atol=0.02
    )


def test_coclustering_and_point_partition(rng):
    X, truth = make_data(rng, 60)
    weights, means, covs, labels, _ = gibbs_like_draws(rng, truth, n_draws=20)
    # flip a few rows at random in each draw
    flips = rng.random(labels.shape) < 0.05
    labels = np.where(flips, labels[..., :1], labels)  # to row 0's cluster
    post = MixturePosterior.from_draws(
        weights, means, covs, labels=labels, X=X, check_convergence=False
    )
    P = post.coclustering()
    flat = labels.reshape(-1, X.shape[0])
    np.testing.assert_allclose(P, np.mean([d[:, None] == d[None, :] for d in flat], axis=0))
    np.testing.assert_allclose(np.diag(P), 1.0)
    for loss in ("binder", "vi"):
        point, value = post.point_partition(loss, return_loss=True)
        assert value >= 0
        # the point estimate is the true partition (up to label names)
        assert np.all((point[:, None] == point[None, :]) == (truth[:, None] == truth[None, :]))
    with pytest.raises(ValueError, match="loss"):
        post.point_partition("squared")


def test_label_invariant_summaries_need_data(rng):
    _, truth = make_data(rng, 30)
    weights, means, covs, _, _ = gibbs_like_draws(rng, truth, n_draws=5, n_slots=4)
    post = MixturePosterior.from_draws(weights, means, covs, kind="variational")
    np.testing.assert_allclose(post.n_components(), [0, 0, 0, 1])  # positive weights
    assert post.weights.shape == (2, 5, 3)  # the slot no draw uses is dropped
    with pytest.raises(ValueError, match="needs the data"):
        post.coclustering()
    assert set(post.summary().index) >= {"weights[0]", "n_occupied"}


# ------------------------------------------------------------------ reporting
def test_summary_table(rng):
    X, truth = make_data(rng)
    weights, means, covs, labels, _ = gibbs_like_draws(rng, truth, n_chains=2, n_draws=40)
    post = MixturePosterior.from_draws(
        weights,
        means,
        covs,
        labels=labels,
        X=X,
        feature_names=["a", "b"],
        check_convergence=False,  # 2 x 40 independent draws: R-hat noise reaches 1.01
    )
    table = post.summary(ci=0.9)
    assert list(table.columns) == [
        "variable",
        "component",
        "feature",
        "feature_bis",
        "mean",
        "sd",
        "eti90_lb",
        "eti90_ub",
        "ess_bulk",
        "ess_tail",
        "r_hat",
    ]
    assert "means[0, a]" in table.index and "covariances[1, a, b]" in table.index
    assert "covariances[1, b, a]" not in table.index  # upper triangle only
    j = int(np.nanargmax(post.weights[0, 0]))
    w = post.weights[:, :, j].ravel()
    row = table.loc[f"weights[{j}]"]
    assert row["mean"] == pytest.approx(w.mean())
    assert row["sd"] == pytest.approx(w.std(ddof=1))
    assert row["eti90_lb"] == pytest.approx(np.quantile(w, 0.05))
    assert 0.99 < row["r_hat"] < 1.05
    # iid draws: the effective sample size is of the order of the draws
    assert 20 < row["ess_bulk"] < 200
    sub = post.summary(var_names=["weights", "n_occupied"])
    assert all(i.startswith(("weights", "n_occupied")) for i in sub.index)
    diag = post.diagnostics()
    assert list(diag.index) == ["total_log_likelihood", "n_occupied"]


def test_convergence_warning_for_chains_that_disagree(rng):
    X, truth = make_data(rng)
    weights, means, covs, labels, _ = gibbs_like_draws(rng, truth, n_draws=40)
    means[1] += 0.4 * np.array([1.0, -1.0])  # chain 1 sits elsewhere
    with pytest.warns(ConvergenceWarning, match="R-hat"):
        MixturePosterior.from_draws(weights, means, covs, labels=labels, X=X)
    # the same draws as independent bootstrap replicates are not checked
    MixturePosterior.from_draws(weights, means, covs, X=X, kind="bootstrap")
    MixturePosterior.from_draws(weights, means, covs, labels=labels, X=X, check_convergence=False)


def test_to_arviz_datatree(rng):
    import arviz_stats

    X, truth = make_data(rng)
    weights, means, covs, labels, _ = gibbs_like_draws(rng, truth, n_chains=2, n_draws=40)
    conc = rng.gamma(2.0, size=(2, 40))
    post = MixturePosterior.from_draws(
        weights,
        means,
        covs,
        labels=labels,
        concentration=conc,
        X=X,
        sample_weight=np.full(X.shape[0], 2.0),
        feature_names=["x", "y"],
        check_convergence=False,
        sample_stats={"log_joint": rng.normal(size=(2, 40))},
    )
    dt = post.to_arviz()
    assert {"posterior", "sample_stats", "log_likelihood", "observed_data", "constant_data"} <= set(
        dt.children
    )
    posterior = dt["posterior"]
    assert posterior["covariances"].dims == (
        "chain",
        "draw",
        "component",
        "feature",
        "feature_bis",
    )
    assert posterior["means"].dims == ("chain", "draw", "component", "feature")
    assert list(posterior["feature"].values) == ["x", "y"]
    assert dt["log_likelihood"]["X"].dims == ("chain", "draw", "obs_id")
    assert dt["observed_data"]["X"].dims == ("obs_id", "feature")
    assert dt["sample_stats"]["labels"].dims == ("chain", "draw", "obs_id")
    assert dt["sample_stats"]["log_joint"].dims == ("chain", "draw")
    np.testing.assert_allclose(dt["log_likelihood"]["X"].values, post.log_likelihood)
    assert dt.attrs["bayesmix_kind"] == "gibbs"

    # round_to="none": numbers, not strings (arviz-stats 1.0-1.2 format them by default)
    table = arviz_stats.summary(dt, var_names=["weights", "concentration"], round_to="none")
    assert "concentration" in table.index and np.isfinite(table.loc["concentration", "r_hat"])
    rhat = arviz_stats.rhat(dt, group="sample_stats", var_names=["total_log_likelihood"])
    assert float(rhat["total_log_likelihood"]) < 1.05
    ess = arviz_stats.ess(dt, var_names=["concentration"])
    assert float(ess["concentration"]) > 10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pareto-k advice for these synthetic draws
        elpd = arviz_stats.loo(dt)
    assert np.isfinite(elpd.elpd)


def test_to_arviz_without_data(rng):
    _, truth = make_data(rng, 30)
    weights, means, covs, _, _ = gibbs_like_draws(rng, truth, n_draws=5, n_slots=3)
    dt = MixturePosterior.from_draws(weights, means, covs, kind="variational").to_arviz()
    assert set(dt.children) == {"posterior", "sample_stats"}


def test_summary_tidy_columns_and_occupied_components(rng):
    """Tidy (variable, component, feature, feature_bis) columns beside the row
    names; components expected to hold less than one row are left out."""
    X, truth = make_data(rng)
    weights, means, covs, labels, _ = gibbs_like_draws(rng, truth, n_chains=2, n_draws=20)
    # a fourth slot used by a single draw, for two rows: expected count 2 / 40 < 1
    c, s = 0, 3
    spare = int(np.setdiff1d(np.arange(5), np.unique(labels[c, s]))[0])
    weights[c, s, spare] = 0.01
    weights[c, s] /= weights[c, s].sum()
    means[c, s, spare] = [30.0, 30.0]
    covs[c, s, spare] = np.eye(2)
    labels[c, s, :2] = spare
    post = MixturePosterior.from_draws(
        weights, means, covs, labels=labels, X=X, feature_names=["a", "b"],
        check_convergence=False,
    )  # fmt: skip
    assert post.weights.shape[2] == 4
    counts = post.expected_counts()
    assert counts.sum() == pytest.approx(X.shape[0])
    assert np.sort(counts)[0] == pytest.approx(2 / 40)
    small = int(np.argmin(counts))

    table = post.summary()
    listed = set(table["component"].dropna().astype(int))
    assert listed == set(range(4)) - {small}
    everything = post.summary(components="all")
    assert set(everything["component"].dropna().astype(int)) == set(range(4))
    assert len(everything) == len(table) + 6  # weight, 2 means, 3 covariances

    j0 = min(listed)
    row = table.loc[f"covariances[{j0}, a, b]"]
    assert (row["variable"], row["component"], row["feature"], row["feature_bis"]) == (
        "covariances", j0, "a", "b"
    )  # fmt: skip
    assert pd.isna(table.loc[f"weights[{j0}]", "feature"])
    assert table.loc["n_occupied", "variable"] == "n_occupied"
    assert pd.isna(table.loc["n_occupied", "component"])
    means_table = table[table["variable"] == "means"].pivot(
        index="component", columns="feature", values="mean"
    )
    j = int(means_table.index[0])
    assert means_table.loc[j, "b"] == pytest.approx(np.nanmean(post.means[:, :, j, 1]))
    assert list(post.summary(components=[small])["component"].dropna().unique()) == [small]
    with pytest.raises(ValueError, match="do not exist"):
        post.summary(components=[7])
    with pytest.raises(ValueError, match="components"):
        post.summary(components="some")
