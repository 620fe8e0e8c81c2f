"""Missing values (NaN) in GaussianMixture: EM with marginal likelihoods,
scoring on observed features, imputation, and the engines that refuse NaN."""

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import bayesmix._missing as missing_mod
from bayesmix import (
    GaussianMixture,
    load,
)
from bayesmix._data import Data, Patterns
from bayesmix._kernels import MixtureStats
from bayesmix.covariance import COVARIANCE_TYPES

REFUSED = r"Only GaussianMixture's fit, predict.*treat NaN as missing values"


def _holes(X, rate, rng):
    """``X`` with cells set to NaN at ``rate`` (MCAR), no row left empty."""
    X = X.copy()
    holes = rng.random(X.shape) < rate
    holes[holes.all(axis=1), 0] = False
    X[holes] = np.nan
    return X


@pytest.fixture(scope="module")
def two_blobs():
    rng = np.random.default_rng(3)
    cov = np.array([[1.0, 0.6, 0.2], [0.6, 1.5, -0.3], [0.2, -0.3, 0.8]])
    X = np.vstack(
        [
            rng.multivariate_normal([0, 0, 0], cov, 150),
            rng.multivariate_normal([4, 3, -2], 0.5 * cov, 100),
        ]
    )
    return _holes(X, 0.2, rng)


def _observed_loglik(X, weights, means, covs):
    """Independent observed-data log-likelihood per row (scipy marginals)."""
    terms = np.empty((X.shape[0], len(weights)))
    observed = ~np.isnan(X)
    for pattern in np.unique(observed, axis=0):
        rows = (observed == pattern).all(axis=1)
        for j, (w, m, c) in enumerate(zip(weights, means, covs, strict=True)):
            dist = multivariate_normal(m[pattern], c[np.ix_(pattern, pattern)])
            terms[rows, j] = np.log(w) + dist.logpdf(X[rows][:, pattern])
    return logsumexp(terms, axis=1)


def _classic_em(X, n_iter=3000, tol=1e-13):
    """Textbook EM for one multivariate normal with missing data (Little &
    Rubin 2002, section 11.2): fill each row's missing cells with their
    conditional mean, add the conditional covariance to the cross-products."""
    n, d = X.shape
    observed = ~np.isnan(X)
    mu = np.nanmean(X, axis=0)
    sigma = np.diag(np.nanvar(X, axis=0))
    for _ in range(n_iter):
        x = np.where(observed, X, 0.0)
        corr = np.zeros((d, d))
        for pattern in np.unique(observed, axis=0):
            o, m = pattern, ~pattern
            rows = (observed == pattern).all(axis=1)
            if not m.any():
                continue
            reg = np.linalg.solve(sigma[np.ix_(o, o)], sigma[np.ix_(o, m)]).T
            x[np.ix_(rows, m)] = mu[m] + (X[rows][:, o] - mu[o]) @ reg.T
            corr[np.ix_(m, m)] += rows.sum() * (sigma[np.ix_(m, m)] - reg @ sigma[np.ix_(o, m)])
        new_mu = x.mean(axis=0)
        new_sigma = (x.T @ x + corr) / n - np.outer(new_mu, new_mu)
        done = np.abs(new_mu - mu).max() + np.abs(new_sigma - sigma).max() < tol
        mu, sigma = new_mu, new_sigma
        if done:
            break
    return mu, sigma


# ------------------------------------------------------------- the estimates
def _run_long(X):
    """One component, no regularisation, run well past any tolerance (EM with
    missing data converges slowly: a tiny change of the log-likelihood still
    leaves the parameters about its square root away)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter reached by design
        return GaussianMixture(1, reg_covar=0.0, tol=0.0, max_iter=400, n_init=1).fit(X)


def test_one_component_equals_classic_em():
    rng = np.random.default_rng(0)
    cov = np.array([[2.0, 0.8, 0.3], [0.8, 1.0, -0.2], [0.3, -0.2, 0.5]])
    X = _holes(rng.multivariate_normal([1.0, -2.0, 0.5], cov, 80), 0.25, rng)
    mu, sigma = _classic_em(X)
    gm = _run_long(X)
    np.testing.assert_allclose(gm.means_[0], mu, rtol=0, atol=1e-8)
    np.testing.assert_allclose(gm.covariances_[0], sigma, rtol=0, atol=1e-8)
    # the reported log-likelihood is the observed-data one at the fit
    ll = _observed_loglik(X, [1.0], [mu], [sigma]).sum()
    assert gm.log_likelihood_ == pytest.approx(ll, rel=1e-10)


# one feature ("E", "V") cannot have a row with some features missing
@pytest.mark.parametrize("covariance_type", sorted(set(COVARIANCE_TYPES) - {"E", "V"}))
def test_loglik_monotone_and_exact_every_model(two_blobs, covariance_type):
    X = two_blobs
    gm = GaussianMixture(2, covariance_type=covariance_type, n_init=1, max_iter=40, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter may stop a slow model
        gm.fit(X)
    lbs = np.asarray(gm.lower_bounds_)
    assert (np.diff(lbs) >= -1e-12 * np.abs(lbs[1:])).all()
    k, d = gm.means_.shape
    full = gm._structure.to_full(gm.covariances_, k, d)
    full = np.broadcast_to(full, (k, d, d))
    ll = _observed_loglik(X, gm.weights_, gm.means_, full)
    assert gm.log_likelihood_ == pytest.approx(ll.sum(), rel=1e-9)
    np.testing.assert_allclose(gm.score_samples(X), ll, rtol=1e-9, atol=1e-9)
    assert gm.bic(X) == pytest.approx(-2 * ll.sum() + gm.n_parameters_ * np.log(len(X)))


def test_optimiser_cannot_raise_the_fit():
    """A general-purpose optimiser started at EM's one-component fit finds no
    higher observed-data log-likelihood."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(5)
    X = _holes(rng.multivariate_normal([0, 1], [[1, 0.7], [0.7, 2]], 60), 0.3, rng)
    gm = _run_long(X)

    def neg(theta):
        mu = theta[:2]
        L = np.array([[np.exp(theta[2]), 0], [theta[3], np.exp(theta[4])]])
        return -_observed_loglik(X, [1.0], [mu], [L @ L.T]).sum()

    L = np.linalg.cholesky(gm.covariances_[0])
    start = np.r_[gm.means_[0], np.log(L[0, 0]), L[1, 0], np.log(L[1, 1])]
    best = minimize(neg, start, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12})
    assert -best.fun <= gm.log_likelihood_ + 1e-8


@pytest.mark.slow
def test_mcar_recovers_parameters_better_than_mean_imputation_and_complete_cases():
    rng = np.random.default_rng(11)
    means = np.array([[0.0, 0.0, 0.0], [5.0, 4.0, -3.0]])
    cov = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 1.0]])
    n = 1500
    labels = rng.random(n) < 0.4
    X = rng.multivariate_normal(np.zeros(3), cov, n) + means[labels.astype(int)]
    Xm = _holes(X, 0.2, rng)
    gm = GaussianMixture(2, random_state=0).fit(Xm)
    order = np.argsort(gm.means_[:, 0])
    np.testing.assert_allclose(gm.means_[order], means, atol=0.12)
    np.testing.assert_allclose(gm.covariances_[order], [cov, cov], atol=0.15)
    np.testing.assert_allclose(np.sort(gm.weights_), [0.4, 0.6], atol=0.03)
    filled = np.where(np.isnan(Xm), np.nanmean(Xm, axis=0), Xm)
    naive = GaussianMixture(2, random_state=0).fit(filled)
    naive_order = np.argsort(naive.means_[:, 0])
    err = np.abs(gm.covariances_[order] - cov).max()
    naive_err = np.abs(naive.covariances_[naive_order] - cov).max()
    assert err < naive_err / 2
    # complete-case analysis is unbiased under MCAR but discards half the rows here
    cc = GaussianMixture(2, random_state=0).fit(Xm[~np.isnan(Xm).any(axis=1)])
    cc_order = np.argsort(cc.means_[:, 0])
    for attr, truth in (("means_", means), ("covariances_", [cov, cov])):
        ours = np.linalg.norm(getattr(gm, attr)[order] - truth)
        theirs = np.linalg.norm(getattr(cc, attr)[cc_order] - truth)
        assert ours < theirs, attr


def test_weights_equal_repeated_rows(two_blobs):
    X = two_blobs[:60]
    counts = np.random.default_rng(1).integers(1, 4, len(X))
    a = GaussianMixture(2, n_init=1, random_state=0).fit(X, sample_weight=counts)
    b = GaussianMixture(2, n_init=1, random_state=0).fit(np.repeat(X, counts, axis=0))
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(a.covariances_, b.covariances_, rtol=1e-7, atol=1e-9)
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-9)


def test_complete_data_never_take_the_missing_path(monkeypatch):
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(size=(50, 2)), rng.normal(size=(50, 2)) + 3])
    before = GaussianMixture(2, random_state=0).fit(X)

    def boom(*args, **kwargs):
        raise AssertionError("complete data reached the missing-data code")

    monkeypatch.setattr(missing_mod, "e_step", boom)
    monkeypatch.setattr(missing_mod, "expected_rows", boom)
    after = GaussianMixture(2, random_state=0).fit(X)
    for name in ("weights_", "means_", "covariances_", "lower_bounds_"):
        np.testing.assert_array_equal(getattr(before, name), getattr(after, name))
    assert before.log_likelihood_ == after.log_likelihood_
    np.testing.assert_array_equal(after.score_samples(X), before.score_samples(X))
    after.predict_proba(X)
    after.bic(X)


def test_pattern_statistics_equal_the_kernel_pass(two_blobs):
    """The per-pattern E-step on complete rows gives the kernel's statistics."""
    gm = GaussianMixture(2, random_state=0).fit(two_blobs)
    X = np.nan_to_num(two_blobs, nan=0.5)
    Xt = gm._standardiser.transform(X)
    w = np.linspace(0.5, 2.0, len(X))
    params = gm._params
    from bayesmix import _em_core as core

    comps = core.components(gm._structure, params)
    ref = MixtureStats(len(X), 2, 3, False).e_step(Xt, w, comps.means, comps.prec, comps.log_const)
    got = missing_mod.e_step(gm._structure, Xt, w, params, Patterns(X), 0.0)
    np.testing.assert_allclose(got.nk, ref.nk, rtol=1e-12)
    np.testing.assert_allclose(got.s1, ref.s1, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(got.s2, ref.s2, rtol=1e-10, atol=1e-10)
    assert got.log_likelihood == pytest.approx(ref.log_likelihood, rel=1e-12)


# -------------------------------------------------------------- prediction
def test_predict_proba_is_the_marginal_posterior(two_blobs):
    gm = GaussianMixture(2, covariance_type="diag", random_state=0).fit(two_blobs)
    X = two_blobs[:20]
    resp = gm.predict_proba(X)
    for i, row in enumerate(X):
        o = ~np.isnan(row)
        dens = [
            w * multivariate_normal(m[o], np.diag(c[o])).pdf(row[o])
            for w, m, c in zip(gm.weights_, gm.means_, gm.covariances_, strict=True)
        ]
        np.testing.assert_allclose(resp[i], np.array(dens) / sum(dens), rtol=1e-9)
    np.testing.assert_array_equal(gm.predict(X), resp.argmax(axis=1))
    w = np.arange(1.0, 21.0)
    assert gm.score(X, sample_weight=w) == pytest.approx(w @ gm.score_samples(X) / w.sum())


def test_dataframe_with_pandas_missing_values(two_blobs):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(two_blobs, columns=["a", "b", "c"])
    df["a"] = df["a"].astype("Float64")  # pd.NA in a nullable column
    gm = GaussianMixture(2, random_state=0).fit(df)
    ref = GaussianMixture(2, random_state=0).fit(two_blobs)
    np.testing.assert_array_equal(gm.means_, ref.means_)


def test_save_load_predicts_with_holes(two_blobs, tmp_path):
    gm = GaussianMixture(2, random_state=0).fit(two_blobs)
    gm.save(tmp_path / "m")
    back = load(tmp_path / "m")
    np.testing.assert_array_equal(back.score_samples(two_blobs), gm.score_samples(two_blobs))
    np.testing.assert_array_equal(back.impute(two_blobs), gm.impute(two_blobs))


# ---------------------------------------------------------------- impute
def test_impute_one_component_closed_form():
    rng = np.random.default_rng(4)
    X = _holes(rng.multivariate_normal([1, 2, 3], np.eye(3) + 0.5, 100), 0.2, rng)
    gm = GaussianMixture(1).fit(X)
    mu, S = gm.means_[0], gm.covariances_[0]
    out = gm.impute(X)
    obs = ~np.isnan(X)
    np.testing.assert_array_equal(out[obs], X[obs])
    for row, filled in zip(X, out, strict=True):
        o, m = ~np.isnan(row), np.isnan(row)
        if m.any():
            expect = mu[m] + S[np.ix_(m, o)] @ np.linalg.solve(S[np.ix_(o, o)], row[o] - mu[o])
            np.testing.assert_allclose(filled[m], expect, rtol=1e-10, atol=1e-10)


def test_impute_draws_have_the_conditional_moments():
    rng = np.random.default_rng(6)
    S = np.array([[1.0, 0.8, 0.3], [0.8, 2.0, 0.5], [0.3, 0.5, 1.0]])
    X = _holes(rng.multivariate_normal([0, 1, 2], S, 200), 0.2, rng)
    gm = GaussianMixture(1).fit(X)
    mu, S = gm.means_[0], gm.covariances_[0]
    row = np.array([[0.5, np.nan, np.nan]])
    draws = gm.impute(row, n_draws=20000, random_state=0)
    assert draws.shape == (20000, 1, 3)
    assert (draws[:, 0, 0] == 0.5).all()
    reg = S[1:, :1] / S[0, 0]
    cond_mean = mu[1:] + reg[:, 0] * (0.5 - mu[0])
    cond_cov = S[1:, 1:] - reg @ S[:1, 1:]
    got = draws[:, 0, 1:]
    np.testing.assert_allclose(got.mean(axis=0), cond_mean, atol=0.03)
    np.testing.assert_allclose(np.cov(got.T), cond_cov, atol=0.05)
    again = gm.impute(row, n_draws=20000, random_state=0)
    np.testing.assert_array_equal(draws, again)


def test_impute_mixture_draws_average_to_the_expectation(two_blobs):
    gm = GaussianMixture(2, random_state=0).fit(two_blobs)
    X = two_blobs[:15]
    draws = gm.impute(X, n_draws=8000, random_state=1)
    np.testing.assert_allclose(draws.mean(axis=0), gm.impute(X), atol=0.08)
    complete = np.nan_to_num(X)
    np.testing.assert_array_equal(gm.impute(complete), complete)


# ---------------------------------------------------------------- errors
def test_errors(two_blobs):
    X = two_blobs.copy()
    X[[4, 9]] = np.nan
    with pytest.raises(ValueError, match=r"row\(s\) \[4, 9\] with every feature missing"):
        GaussianMixture(2).fit(X)
    gm = GaussianMixture(2, random_state=0).fit(two_blobs)
    for method in ("score_samples", "predict", "impute", "bic"):
        with pytest.raises(ValueError, match=r"row\(s\) \[4, 9\]"):
            getattr(gm, method)(X)
    X = two_blobs.copy()
    X[3, 1] = np.inf
    with pytest.raises(ValueError, match=r"\(infinity at row 3, column 1\); NaN means a missing"):
        GaussianMixture(2).fit(X)
    with pytest.raises(ValueError, match=r"infinity"):
        gm.impute(X)
    X = two_blobs.copy()
    X[:, 2] = np.nan
    X = X[~np.isnan(X).all(axis=1)]
    with pytest.raises(ValueError, match=r"column\(s\) \[2\] with every value missing"):
        GaussianMixture(2).fit(X)
    gm.predict(X[:, :]), gm.impute(X)  # a column missing from the rows to predict is fine
    with pytest.raises(ValueError, match="n_draws"):
        gm.impute(two_blobs, n_draws=0)


# ------------------------------------------------------------ command line
def test_cli_reads_missing_cells_for_em(tmp_path, capsys):
    import json

    from bayesmix.__main__ import main

    rng = np.random.default_rng(8)
    X = _holes(np.vstack([rng.normal(size=(40, 2)), rng.normal(size=(40, 2)) + 5]), 0.1, rng)
    lines = ["a,b"] + [
        ",".join("NA" if np.isnan(v) else f"{v!r}" for v in row.tolist()) for row in X
    ]
    lines[3] = lines[3].replace("NA", "")  # an empty cell is missing too
    path = tmp_path / "holes.csv"
    path.write_text("\n".join(lines) + "\n")
    n_missing = int(np.isnan(X).sum())
    out = tmp_path / "out"
    status = main(["fit", str(path), "--out", str(out), "--components", "2", "--covariance", "VVV"])
    err = capsys.readouterr().err
    assert status == 0, err
    assert f"{n_missing} of {X.size} cells are missing" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_missing_cells"] == n_missing
    ref = GaussianMixture(2, covariance_type="VVV", random_state=0).fit(X)
    np.testing.assert_allclose(summary["log_likelihood"], ref.log_likelihood_, rtol=1e-9)
    # the model search fits with the holes too (select_model), labels every row
    out2 = tmp_path / "o2"
    argv = ["fit", str(path), "--out", str(out2), "--components", "auto", "--covariance", "VVV"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert f"{n_missing} of {X.size} cells are missing" in err and "(imputed)" in err
    summary = json.loads((out2 / "summary.json").read_text())
    assert summary["n_components"] == 2 and len(summary["selection"]) == 9
    assert summary["figures_missing_cells"].startswith("imputed")
    labels = np.loadtxt(out2 / "labels.csv", delimiter=",", skiprows=1, usecols=1)
    assert labels.shape == (X.shape[0],)
    # variational Bayes takes the holes too
    argv = ["fit", str(path), "--out", str(tmp_path / "o3"), "--method", "vb", "--components", "4"]
    assert main(argv) == 0
    assert f"{n_missing} of {X.size} cells are missing" in capsys.readouterr().err
    labels = np.loadtxt(tmp_path / "o3" / "labels.csv", delimiter=",", skiprows=1, usecols=1)
    assert labels.shape == (X.shape[0],) and len(np.unique(labels)) == 2


# ------------------------------------------------------------ no NaN in kernels
def test_no_nan_reaches_a_kernel(two_blobs, monkeypatch):
    import bayesmix._hierarchical as hier
    import bayesmix._init as init
    import bayesmix._kernels as kernels

    seen = []

    def checked(func, position=0):
        def wrapper(*args, **kwargs):
            data = args[position] if position >= 0 else args[1][0]
            # the one kernel written for NaN cells (it reads them as missing)
            handled = position < 0 and args[0] is kernels.incomplete_pass
            assert handled or not np.isnan(data).any(), (
                f"NaN reached {getattr(func, '__name__', func)}"
            )
            seen.append(1)
            return func(*args, **kwargs)

        return wrapper

    # run_tasks(kernel, args, n): the data are the kernel's first argument
    monkeypatch.setattr(kernels, "run_tasks", checked(kernels.run_tasks, -1))
    monkeypatch.setattr(init, "run_tasks", checked(init.run_tasks, -1))
    monkeypatch.setattr(hier, "agglomerate", checked(hier.agglomerate))
    monkeypatch.setattr(hier, "agglomerate_numpy", checked(hier.agglomerate_numpy))
    for init_params in ("auto", "kmeans", "k-means++", "random_from_data"):
        gm = GaussianMixture(3, init_params=init_params, n_init=2, random_state=0).fit(two_blobs)
    gm.predict_proba(two_blobs), gm.score(two_blobs), gm.impute(two_blobs, n_draws=2)
    assert seen


def test_reseed_with_holes_uses_completed_rows(two_blobs):
    from bayesmix import _em_core as core

    gm = GaussianMixture(2, random_state=0).fit(two_blobs)
    n = len(two_blobs)
    data = Data(two_blobs, np.ones(n), None, n, gm._standardiser)
    params = core.Params(
        np.array([1.0, 0.0]), gm._params.means, gm._params.covariances, gm._params.prec_chol
    )
    new, _ = core.reseed(gm._structure, data, params)
    assert np.isfinite(new.means).all() and new.weights[1] > 0
    completed = missing_mod.expected_rows(gm._structure, params, data.Xt, data.missing)[2]
    assert any(np.array_equal(new.means[1], col) for col in completed.T)
