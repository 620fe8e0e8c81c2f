"""DirichletProcessMixture: the estimator around the collapsed Gibbs kernels
(inputs, outputs, reproducibility, weights, predictions, posterior draws).
Exactness against enumerated posteriors lives in test_gibbs_exact.py."""

import io
import pickle

import numpy as np
import pytest

from bayesmix import _progress, gibbs
from bayesmix._diagnostics import RHAT_THRESHOLD, rhat_limit, split_rhat
from bayesmix._gibbs_model import label_dtype, prepare_model
from bayesmix._progress import Progress
from bayesmix.exceptions import ConvergenceWarning, NotFittedError
from bayesmix.gibbs import DirichletProcessMixture
from bayesmix.priors import DirichletProcess, Gamma, NormalInverseWishart

# The runs here are short on purpose (a few dozen iterations); whether their
# chains have mixed is not what these tests check, and a legitimate
# ConvergenceWarning must not fail them.  test_convergence_warning checks it.
pytestmark = pytest.mark.filterwarnings("ignore::bayesmix.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [7.0, 0.0], [0.0, 7.0]])
    truth = np.repeat(np.arange(3), [40, 30, 20])
    return centres[truth] + rng.normal(size=(truth.size, 2)), truth


def old_prior(X):
    """The fixed prior that was the default before the learned scale (data
    covariance, dof D + 2, kappa 0.01): tests of short runs pinned to it."""
    return NormalInverseWishart(scale=np.atleast_2d(np.cov(np.asarray(X).T, bias=True)))


def dpm(**kw):
    kw = {"n_iter": 60, "n_chains": 2, "random_state": 0, "progress": False, **kw}
    return DirichletProcessMixture(**kw)


@pytest.fixture(scope="module")
def fitted(blobs):
    return dpm(n_iter=200, component_prior=old_prior(blobs[0])).fit(blobs[0])


# ------------------------------------------------------------------ outputs
def test_output_shapes_and_types(fitted, blobs):
    X = blobs[0]
    n_kept = len(range(100, 200))
    assert fitted.labels_samples_.shape == (2, n_kept, X.shape[0])
    assert fitted.labels_samples_.dtype == np.int8
    assert fitted.n_clusters_samples_.shape == (2, n_kept)
    assert fitted.log_joint_samples_.shape == (2, n_kept)
    assert np.isfinite(fitted.log_joint_samples_).all()
    assert not hasattr(fitted, "concentration_samples_")
    assert fitted.concentration_ == 1.0
    # labels are canonical (first appearance) and count the clusters
    labels = fitted.labels_samples_.reshape(-1, X.shape[0])
    assert (labels[:, 0] == 0).all()
    np.testing.assert_array_equal(labels.max(axis=1) + 1, fitted.n_clusters_samples_.ravel())
    assert fitted.split_merge_counts_.shape == (2, 4)
    # split_merge="auto": one proposal per cluster of the current state, so at least one
    assert (fitted.split_merge_counts_[:, [0, 2]].sum(axis=1) >= 200).all()
    assert ((fitted.split_merge_acceptance_ >= 0) & (fitted.split_merge_acceptance_ <= 1)).all()
    assert fitted.n_iter_ == 200 and fitted.converged_ and fitted.rhat_ < 1.05
    assert fitted.n_features_in_ == 2


def test_summaries_recover_the_clusters(fitted, blobs):
    truth = blobs[1]
    assert np.mean(fitted.n_clusters_samples_ == 3) > 0.8
    K = fitted.weights_.shape[0]
    assert fitted.means_.shape == (K, 2) and fitted.covariances_.shape == (K, 2, 2)
    assert fitted.weights_.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(fitted.weights_[:3], [40 / 90, 30 / 90, 20 / 90], atol=0.02)
    np.testing.assert_allclose(fitted.means_[:3], [[0, 0], [7, 0], [0, 7]], atol=0.5)
    assert (np.linalg.eigvalsh(fitted.covariances_) > 0).all()
    # the point partition is the truth, numbered by decreasing size
    assert np.mean(fitted.labels_ == truth) > 0.97


def test_thin_burn_in_and_learned_concentration(blobs):
    X = blobs[0]
    m = dpm(concentration=DirichletProcess(Gamma(2.0, 4.0)), n_iter=50, burn_in=10, thin=7).fit(X)
    n_kept = len(range(10, 50, 7))
    assert m.labels_samples_.shape[1] == n_kept
    assert m.concentration_samples_.shape == (2, n_kept)
    assert (m.concentration_samples_ > 0).all()
    assert m.concentration_ == pytest.approx(m.concentration_samples_.mean())
    assert "concentration" in m.posterior_draws()


def test_reproducible_whatever_the_threads(blobs, monkeypatch):
    X = blobs[0]
    a = dpm(n_chains=3).fit(X)
    monkeypatch.setenv("BAYESMIX_NUM_THREADS", "1")
    b = dpm(n_chains=3).fit(X)
    monkeypatch.setenv("BAYESMIX_NUM_THREADS", "3")
    c = dpm(n_chains=3).fit(X)
    for other in (b, c):
        np.testing.assert_array_equal(a.labels_samples_, other.labels_samples_)
        np.testing.assert_array_equal(a.log_joint_samples_, other.log_joint_samples_)
    # chains are different streams; a different seed gives different draws
    assert not np.array_equal(a.log_joint_samples_[0], a.log_joint_samples_[1])
    d = dpm(n_chains=3, random_state=1).fit(X)
    assert not np.array_equal(a.log_joint_samples_, d.log_joint_samples_)


def test_power_of_two_rescaling_changes_only_the_jacobian(blobs):
    X = blobs[0]
    a = dpm().fit(X)
    b = dpm().fit(X * 2.0**10)
    np.testing.assert_array_equal(a.labels_samples_, b.labels_samples_)
    shift = X.size * np.log(2.0**10)
    np.testing.assert_allclose(b.log_joint_samples_, a.log_joint_samples_ - shift, rtol=1e-12)
    np.testing.assert_allclose(b.means_, a.means_ * 2.0**10, rtol=1e-12)


# ------------------------------------------------------------------ weights
def canonical(labels):
    """Relabel (..., n) partitions by order of first appearance."""
    flat = labels.reshape(-1, labels.shape[-1])
    out = np.empty_like(flat)
    for t, row in enumerate(flat):
        _, first, inverse = np.unique(row, return_index=True, return_inverse=True)
        out[t] = np.argsort(np.argsort(first))[inverse]
    return out.reshape(labels.shape)


def test_integer_weights_equal_repeated_rows_in_any_order(blobs):
    X = blobs[0][:30]
    w = np.tile([1, 2, 0, 3, 1], 6)
    Xr = np.repeat(X, w, axis=0)
    a = dpm().fit(X, sample_weight=w)
    shuffle = np.random.default_rng(1).permutation(Xr.shape[0])
    b = dpm().fit(Xr[shuffle])
    np.testing.assert_array_equal(a.n_clusters_samples_, b.n_clusters_samples_)
    np.testing.assert_array_equal(a.log_joint_samples_, b.log_joint_samples_)
    # row r of X is rows where[r] of the shuffled copy (none of its copies for w = 0)
    kept = w > 0
    where = np.argsort(shuffle)[(np.cumsum(w) - w)[kept]]
    assert (a.labels_samples_[..., ~kept] == -1).all()
    # a row's copies may sit in different clusters: compare rows of weight 1 only
    single = (w == 1)[kept]
    np.testing.assert_array_equal(
        canonical(a.labels_samples_[..., kept][..., single]),
        canonical(b.labels_samples_[..., where][..., single]),
    )
    assert a.labels_.shape == (30,) and (a.labels_ >= 0).all()
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))
    # on the training rows predict_proba comes from the allocation draws; elsewhere
    # it is the point partition's predictive, the same for both fits
    np.testing.assert_array_equal(a.predict_proba(X + 0.5), b.predict_proba(X + 0.5))
    np.testing.assert_array_equal(
        a.posterior_draws()["n_clusters"], b.posterior_draws()["n_clusters"]
    )


def test_unit_weights_are_no_weights(blobs):
    X = blobs[0]
    a = dpm().fit(X, sample_weight=np.ones(X.shape[0]))
    b = dpm().fit(X)
    np.testing.assert_array_equal(a.labels_samples_, b.labels_samples_)


@pytest.mark.parametrize(
    ("weight", "error", "match"),
    [
        (np.full(90, 0.5), ValueError, "integer frequency counts"),
        (-np.ones(90), ValueError, "negative"),
        (np.zeros(90), ValueError, "zero everywhere"),
        (np.r_[1.0, np.zeros(89)], ValueError, "fewer than 2"),
        (np.ones(3), ValueError, "shape"),
    ],
)
def test_bad_weights(blobs, weight, error, match):
    with pytest.raises(error, match=match):
        dpm().fit(blobs[0], sample_weight=weight)


# -------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    ("X", "error", "match"),
    [
        (np.array([[np.nan, np.nan], [1.0, 2.0], [0.0, 1.0]]), ValueError, "every feature"),
        (np.array([[0.0, np.inf], [1.0, 2.0]]), ValueError, "infinity"),
        (np.arange(5.0), ValueError, "2-D"),
        (np.zeros((0, 2)), ValueError, "sample"),
        (np.zeros((1, 2)), ValueError, "at least 2"),
        (np.array([["a", "b"], ["c", "d"]]), TypeError, "numbers"),
        (None, TypeError, "None"),
    ],
)
def test_bad_X(X, error, match):
    with pytest.raises(error, match=match):
        dpm().fit(X)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"concentration": -1.0}, ValueError, "concentration"),
        ({"concentration": "big"}, TypeError, "concentration"),
        ({"component_prior": "niw"}, TypeError, "component_prior"),
        ({"n_iter": 0}, ValueError, "n_iter"),
        ({"n_iter": 2.5}, TypeError, "n_iter"),
        ({"burn_in": 60}, ValueError, "burn_in"),
        ({"burn_in": -1}, ValueError, "burn_in"),
        ({"thin": 0}, ValueError, "thin"),
        ({"n_chains": 0}, ValueError, "n_chains"),
        ({"split_merge": -1}, ValueError, "split_merge"),
        ({"split_merge": "yes"}, TypeError, "split_merge"),
        ({"progress": "yes"}, TypeError, "progress"),
        ({"random_state": -3}, ValueError, "random_state"),
    ],
)
def test_bad_parameters(blobs, params, error, match):
    with pytest.raises(error, match=match):
        dpm(**params).fit(blobs[0])


def test_prior_of_the_wrong_size(blobs):
    prior = NormalInverseWishart(mean=[0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="features"):
        dpm(component_prior=prior).fit(blobs[0])


def test_degenerate_data_do_not_crash():
    X = np.ones((20, 2))
    m = dpm().fit(X)
    assert (m.n_clusters_samples_ >= 1).all() and np.isfinite(m.log_joint_samples_).all()
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.normal(size=40), np.full(40, 3.0)])  # a constant column
    m = dpm().fit(X)
    assert np.isfinite(m.score_samples(X)).all()
    X = np.repeat(rng.normal(size=(4, 3)), 10, axis=0)  # duplicated rows
    m = dpm().fit(X)
    assert np.isfinite(m.log_joint_samples_).all()


# -------------------------------------------------------------- predictions
def test_predict_and_scores(fitted, blobs):
    X = blobs[0]
    np.testing.assert_array_equal(fitted.predict(X), fitted.labels_)
    new = np.array([[0.2, -0.1], [6.8, 0.3], [0.1, 7.4], [30.0, 30.0]])
    proba = fitted.predict_proba(new)
    assert proba.shape == (4, fitted.weights_.size)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(fitted.predict(new), proba.argmax(axis=1))
    np.testing.assert_array_equal(fitted.predict(new[:3]), [0, 1, 2])
    s = fitted.score_samples(new)
    assert s.shape == (4,) and np.isfinite(s).all()
    assert s[:3].min() > s[3] + 10
    assert fitted.score(X) == pytest.approx(fitted.score_samples(X).mean())
    with pytest.raises(ValueError, match="features"):
        fitted.score_samples(np.zeros((2, 3)))
    assert dpm().fit_predict(X).shape == (X.shape[0],)


def test_score_samples_integrates_to_one():
    rng = np.random.default_rng(4)
    X = np.r_[rng.normal(size=15), rng.normal(size=10) + 5][:, None]
    m = dpm(n_iter=40).fit(X)
    grid = np.linspace(-60, 70, 40001)[:, None]
    total = np.trapezoid(np.exp(m.score_samples(grid)), grid[:, 0])
    assert total == pytest.approx(1.0, abs=2e-3)  # heavy Student-t tails beyond the grid


def test_unfitted():
    m = dpm()
    for method in (m.predict, m.predict_proba, m.score_samples):
        with pytest.raises(NotFittedError):
            method(np.zeros((2, 2)))
    with pytest.raises(NotFittedError):
        m.posterior()


def test_sample_draws_from_the_summary(fitted):
    X, labels = fitted.sample(500)
    assert X.shape == (500, 2) and labels.shape == (500,)


# --------------------------------------------------------------- posterior
def test_posterior_arrays(fitted):
    post = fitted.posterior_draws()
    n_chains, n_kept = fitted.n_clusters_samples_.shape
    K = fitted.n_clusters_samples_.max()
    assert post["weights"].shape == (n_chains, n_kept, K)
    assert post["means"].shape == (n_chains, n_kept, K, 2)
    assert post["covariances"].shape == (n_chains, n_kept, K, 2, 2)
    assert post["labels"] is fitted.labels_samples_
    np.testing.assert_allclose(post["weights"].sum(axis=2) + post["weight_unoccupied"], 1.0)
    used = np.arange(K) < fitted.n_clusters_samples_[..., None]
    assert (post["weights"][~used] == 0).all() and (post["weights"][used] > 0).all()
    assert np.isnan(post["means"][~used]).all() and np.isfinite(post["means"][used]).all()
    assert np.isnan(post["covariances"][~used]).all()
    assert (np.linalg.eigvalsh(post["covariances"][used]) > 0).all()
    again = fitted.posterior_draws()
    np.testing.assert_array_equal(post["means"], again["means"])  # seeded by random_state


@pytest.mark.parametrize("weighted", [False, True])
def test_posterior_draw_slot_j_is_the_cluster_labelled_j(blobs, weighted):
    """The sampler numbers clusters over its own sorted rows, labels_samples_
    over the caller's rows: every parameter draw must sit in the slot of its
    cluster's label (shuffled rows and integer weights make the two numberings
    differ).  Each drawn mean is near the mean of the rows with its label."""
    X, _ = blobs
    rng = np.random.default_rng(1)
    order = rng.permutation(X.shape[0])
    X = X[order][::-1]
    w = rng.integers(1, 4, size=X.shape[0]) if weighted else None
    m = dpm(n_iter=80).fit(X, sample_weight=w)
    post = m.posterior_draws(random_state=2)
    wt = np.ones(X.shape[0]) if w is None else w.astype(float)
    checked = 0
    for c in range(post["labels"].shape[0]):
        for t in range(post["labels"].shape[1]):
            lab = post["labels"][c, t]
            for j in np.unique(lab):
                rows = lab == j
                if wt[rows].sum() < 15:
                    continue
                centre = wt[rows] @ X[rows] / wt[rows].sum()
                # clusters sit 7 apart with unit spread: a wrong slot is ~7 off
                assert np.abs(post["means"][c, t, j] - centre).max() < 1.5, (c, t, j)
                share = wt[rows].sum() / wt.sum()
                assert abs(post["weights"][c, t, j] - share) < 0.25
                checked += 1
    assert checked >= 3 * post["labels"].shape[0] * post["labels"].shape[1] * 0.9


def test_posterior_is_a_mixture_posterior_over_the_rows(fitted):
    from bayesmix import MixturePosterior

    post = fitted.posterior()
    assert isinstance(post, MixturePosterior)
    probs = post.n_components()
    assert probs.sum() == pytest.approx(1.0)
    # the number of occupied components is that of the sampled partitions
    counts = np.bincount(fitted.n_clusters_samples_.ravel(), minlength=probs.size)
    np.testing.assert_allclose(probs[: counts.size], counts / counts.sum())
    cc = post.coclustering()
    assert cc.shape == (fitted.labels_samples_.shape[2],) * 2
    same = fitted.labels_samples_[..., :, None] == fitted.labels_samples_[..., None, :]
    np.testing.assert_allclose(cc, same.mean(axis=(0, 1)))


def test_posterior_of_the_training_rows(fitted, blobs):
    """X=None and the X given to fit are the same posterior; another X is an
    error that names the cure."""
    X = blobs[0]
    a = fitted.posterior(random_state=4)
    b = fitted.posterior(X, random_state=4)
    np.testing.assert_array_equal(a.means, b.means)
    np.testing.assert_array_equal(a.covariances, b.covariances)
    with pytest.raises(ValueError, match="pass the X given to fit, or nothing"):
        fitted.posterior(X[:-1])
    with pytest.raises(ValueError, match="pass the X given to fit, or nothing"):
        fitted.posterior(X + 1.0)
    with pytest.raises(ValueError, match="features"):
        fitted.posterior(X[:, :1])


@pytest.mark.parametrize("seed", [0, np.int64(3), np.random.default_rng(0)])
def test_posterior_seed_given_positionally_says_how_to_pass_it(fitted, seed):
    with pytest.raises(TypeError, match=r"posterior\(random_state="):
        fitted.posterior(seed)
    with pytest.raises(TypeError, match=r"posterior\(random_state="):
        dpm().posterior(seed)  # before anything runs, fitted or not


def test_posterior_n_draws_keeps_evenly_spaced_draws(fitted):
    n_chains, n_kept = fitted.n_clusters_samples_.shape
    full = fitted.posterior_draws(random_state=0)
    assert full["labels"] is fitted.labels_samples_  # None keeps every kept draw
    few = fitted.posterior_draws(n_draws=5, random_state=0)
    idx = np.array([0, 24, 49, 74, 99])  # first and last included, evenly spaced
    assert n_kept == 100
    np.testing.assert_array_equal(few["labels"], fitted.labels_samples_[:, idx])
    np.testing.assert_array_equal(few["n_clusters"], fitted.n_clusters_samples_[:, idx])
    np.testing.assert_array_equal(few["log_joint"], fitted.log_joint_samples_[:, idx])
    K = fitted.n_clusters_samples_[:, idx].max()
    assert few["weights"].shape == (n_chains, 5, K)
    assert few["means"].shape == (n_chains, 5, K, 2)
    assert few["covariances"].shape == (n_chains, 5, K, 2, 2)
    np.testing.assert_array_equal(
        fitted.posterior_draws(n_draws=1)["labels"], fitted.labels_samples_[:, [-1]]
    )
    many = fitted.posterior_draws(n_draws=10 * n_kept, random_state=0)
    np.testing.assert_array_equal(many["means"], full["means"])
    post = fitted.posterior(n_draws=7, random_state=0)
    assert post.weights.shape[:2] == (n_chains, 7)
    assert post.to_arviz()["posterior"].sizes["draw"] == 7
    for bad, err in ((0, ValueError), (-2, ValueError), (2.5, TypeError), (True, TypeError)):
        with pytest.raises(err, match="n_draws"):
            fitted.posterior(n_draws=bad)
        with pytest.raises(err, match="n_draws"):
            fitted.posterior_draws(n_draws=bad)


def test_posterior_n_draws_with_a_learned_concentration(blobs):
    m = dpm(concentration=Gamma(2.0, 4.0), n_iter=40).fit(blobs[0])
    few = m.posterior_draws(n_draws=3)
    np.testing.assert_array_equal(few["concentration"], m.concentration_samples_[:, [0, 9, 19]])


def test_posterior_draws_have_the_niw_moments():
    """One cluster for sure (tiny concentration): the draws' averages are the NIW
    posterior means, E[mu] = m_n and E[Sigma] = Psi_n / (nu_n - D - 1)."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(25, 2)) @ np.array([[2.0, 0.5], [0.0, 0.7]]) + [10.0, -3.0]
    prior = NormalInverseWishart(mean=[9.0, -2.0], kappa=0.5, dof=6.0, scale=np.eye(2))
    m = dpm(concentration=1e-12, component_prior=prior, n_iter=1000, n_chains=2).fit(X)
    assert (m.n_clusters_samples_ == 1).all()
    post = m.posterior_draws(random_state=3)
    n, d = X.shape
    xbar = X.mean(axis=0)
    kn, nun = prior.kappa + n, prior.dof + n
    mn = (prior.kappa * prior.mean + n * xbar) / kn
    psin = (
        prior.scale
        + (X - xbar).T @ (X - xbar)
        + prior.kappa * n / kn * np.outer(xbar - prior.mean, xbar - prior.mean)
    )
    cov_mean = psin / (nun - d - 1)
    covs = post["covariances"][:, :, 0].reshape(-1, d, d)
    means = post["means"][:, :, 0].reshape(-1, d)
    se_cov = covs.std(axis=0) / np.sqrt(covs.shape[0])
    se_mean = means.std(axis=0) / np.sqrt(means.shape[0])
    assert np.all(np.abs(covs.mean(axis=0) - cov_mean) < 4.5 * se_cov)
    assert np.all(np.abs(means.mean(axis=0) - mn) < 4.5 * se_mean)
    # E[mu mu^T] - m m^T = E[Sigma] / kappa_n
    emp = np.cov(means.T)
    np.testing.assert_allclose(emp, cov_mean / kn, rtol=0.1)


# ----------------------------------------------------------------- plumbing
def test_progress_bar():
    stream = io.StringIO()
    bar = Progress(10, True, stream)
    bar.start -= 100.0  # pretend the run has been going for a while
    for _ in range(10):
        bar.tick()
    bar.close()
    out = stream.getvalue()
    assert "DirichletProcessMixture" in out and "10/10 sweeps" in out
    quiet = io.StringIO()
    bar = Progress(10, True, quiet)  # a fast run shows nothing
    for _ in range(10):
        bar.tick()
    assert quiet.getvalue() == ""


def test_progress_of_a_run_of_its_own_length_has_no_total():
    # n_iter="auto": no bar towards the iteration cap, the steps, time and rule
    stream = io.StringIO()
    bar = Progress(None, True, stream, note=" (until R-hat <= 1.01)")
    bar.start -= 100.0
    for _ in range(7):
        bar.tick()
    bar.close()
    line, *_, last = stream.getvalue().strip().splitlines()
    assert "| 1 sweeps, 10" in line and "(until R-hat <= 1.01)" in line
    assert "/" not in line.split("|")[1] and "left" not in line
    # the line is redrawn at most every 0.2 s: close() shows the final count
    assert "| 7 sweeps, 10" in last and stream.getvalue().endswith("\n")
    quiet = io.StringIO()
    bar = Progress(None, True, quiet)  # a fast run shows nothing
    for _ in range(7):
        bar.tick()
    assert quiet.getvalue() == ""


def test_progress_eta_leaves_out_the_first_sweep(monkeypatch):
    """The first sweep may include compiling the kernels: the time left is
    projected from the sweeps after it."""
    clock = iter([0.0, 30.0, *(30.0 + 0.1 * i for i in range(1, 100))])
    monkeypatch.setattr(_progress.time, "perf_counter", lambda: next(clock))
    stream = io.StringIO()
    bar = Progress(100, True, stream)  # start: 0 s; sweep 1 ends at 30 s
    for _ in range(60):
        bar.tick()
    lines = stream.getvalue().strip().splitlines()
    assert lines  # a 40 s run shows its progress
    for line in lines:
        done = int(line.split(" sweeps")[0].split()[-1].split("/")[0])
        left = float(line.split("~")[1].split(" s")[0])
        # 0.1 s per sweep after the first, not the 30 s first sweep averaged in
        assert left == pytest.approx((100 - done) * 0.1, rel=0.05)


def test_progress_false_is_silent(blobs, capsys):
    dpm(progress=False).fit(blobs[0])
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_label_dtype():
    assert label_dtype(127) == np.int8
    assert label_dtype(128) == np.int16
    assert label_dtype(40000) == np.int32


def _draws_of(monkeypatch, model, X):
    """Fit ``model`` on ``X`` and return the Draws ``run_chains`` produced."""
    seen = []

    def spy(*args, **kwargs):
        seen.append(gibbs.run_chains.__wrapped__(*args, **kwargs))
        return seen[-1]

    spy.__wrapped__ = gibbs.run_chains
    monkeypatch.setattr(gibbs, "run_chains", spy)
    model.fit(X)
    return seen[0]


def test_draws_are_held_in_the_clusters_dtype_not_the_rows(monkeypatch):
    # 300 rows (labels up to 299 would need int16) in a few clusters: the
    # sampler's draws are int8 from the start, not converted at the end
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(m, 0.5, size=(150, 2)) for m in (0.0, 6.0)])
    draws = _draws_of(monkeypatch, dpm(n_iter=40), X)
    assert draws.n_clusters.max() <= 127
    assert draws.labels.dtype == np.int8 and draws.labels_full.dtype == np.int8


def test_draws_of_more_than_127_clusters_do_not_overflow(monkeypatch):
    # alpha 1e4 on 300 rows: nearly every row a cluster of its own, so labels
    # past int8's range; every draw keeps exactly its n_clusters labels
    X = np.random.default_rng(2).normal(size=(300, 1))
    m = dpm(n_iter=20, concentration=1e4, split_merge=False)
    draws = _draws_of(monkeypatch, m, X)
    assert draws.n_clusters.max() > 127
    assert draws.labels_full.dtype == np.int16 and draws.labels.dtype == np.int16
    for c in range(draws.labels.shape[0]):
        for s in range(draws.labels.shape[1]):
            k = draws.n_clusters[c, s]
            for lab in (draws.labels[c, s], draws.labels_full[c, s]):
                assert lab.min() == 0 and lab.max() == k - 1 and np.unique(lab).size == k
    assert m.labels_samples_.dtype == np.int16


def test_params_and_pickle(fitted, blobs):
    params = fitted.get_params()
    assert params["n_chains"] == 2 and params["split_merge"] == "auto"
    m = DirichletProcessMixture().set_params(**params)
    assert m.get_params() == params
    with pytest.raises(ValueError, match="Invalid parameter"):
        m.set_params(n_components=3)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.score_samples(blobs[0]), fitted.score_samples(blobs[0]))


def test_split_merge_options(blobs):
    X = blobs[0]
    off = dpm(split_merge=False).fit(X)
    assert (off.split_merge_counts_ == 0).all() and np.isnan(off.split_merge_acceptance_).all()
    three = dpm(split_merge=3).fit(X)
    assert (three.split_merge_counts_[:, [0, 2]].sum(axis=1) == 3 * 60).all()


def test_split_merge_finds_clusters_from_one(blobs):
    """Started from a single cluster, the split moves separate the blobs."""
    from bayesmix._kernels._gibbs import split_merge

    X = blobs[0]
    m = prepare_model(X, NormalInverseWishart().resolve(X))
    labels = np.zeros(X.shape[0], dtype=np.int64)
    stats = np.zeros(4, dtype=np.int64)
    ones = np.ones(X.shape[0], dtype=np.int64)
    none = (np.empty(0, dtype=np.int64),) * 2
    K = split_merge(m.X, ones, labels, 1, m.kernel_prior, 0.0, 200, 5, 1, stats, none)
    assert K >= 3 and stats[1] >= 2
    assert np.unique(labels).size == K


def test_convergence_warning(blobs, monkeypatch):
    assert np.isnan(split_rhat(np.zeros((2, 10))))  # constant: nothing to judge
    stuck = np.r_[np.zeros(50), np.ones(50)].reshape(2, 50) + np.linspace(0, 1e-3, 50)
    assert split_rhat(stuck) > 2  # two chains at two levels
    assert split_rhat(np.random.default_rng(0).normal(size=(4, 500))) < 1.01
    assert rhat_limit(4, 1000) == RHAT_THRESHOLD
    assert rhat_limit(2, 30) > 1.1  # short runs are judged less strictly
    monkeypatch.setattr(gibbs, "rhat_limit", lambda n_chains, n_kept: 0.5)
    with pytest.warns(ConvergenceWarning, match="R-hat of the log joint"):
        m = dpm().fit(blobs[0])
    assert not m.converged_


def test_one_chain_is_judged_by_its_halves(blobs):
    m = dpm(n_chains=1, n_iter=200, component_prior=old_prior(blobs[0])).fit(blobs[0])
    assert np.isfinite(m.rhat_) and m.converged_
    X = np.r_[np.zeros(40), np.ones(40)][:, None] + np.random.default_rng(0).normal(size=(80, 1))
    short = dpm(n_chains=1, n_iter=10, burn_in=5).fit(X)  # 5 kept draws: too few to judge
    assert np.isnan(short.rhat_) and short.converged_


def test_sklearn_estimator_checks():
    import warnings

    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(dpm(n_iter=40), on_fail=None)
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert failed == []
    assert len(results) > 40


def test_block_steps_shrink_with_the_cost_of_an_iteration():
    """Chains run several iterations per kernel call on small data and one per
    call when an iteration is expensive (the progress bar keeps ticking)."""
    from bayesmix._gibbs_core import BLOCK_STEPS, block_steps

    assert block_steps(272, 2) == BLOCK_STEPS
    assert block_steps(1000, 128) == 1
    sizes = [block_steps(n, 10) for n in (100, 1_000, 10_000, 100_000, 1_000_000)]
    assert sizes == sorted(sizes, reverse=True)
    assert all(1 <= s <= BLOCK_STEPS for s in sizes)


def test_posterior_uses_at_most_max_posterior_draws_per_chain_by_default(blobs):
    X = blobs[0]
    m = DirichletProcessMixture(n_iter=2 * 1100, n_chains=2, random_state=0, progress=False)
    m.fit(X[:40])
    assert m.labels_samples_.shape[1] == 1100
    post = m.posterior()
    assert post.weights.shape[:2] == (2, gibbs.MAX_POSTERIOR_DRAWS)
    assert m.posterior(n_draws=1100).weights.shape[:2] == (2, 1100)
