"""GaussianMixture (EM): agreement with scikit-learn under identical initial
parameters, frequency weights, invariances, recovery of known parameters and
the estimator's behaviour (warm start, restarts, reproducibility, warnings,
output, sampling)."""

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

from bayesmix import ConvergenceWarning, GaussianMixture, NotFittedError
from bayesmix import _em_core as em_core
from bayesmix.covariance import get_structure

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
FITTED = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


def assert_rel(actual, desired, rtol, what=""):
    """``|actual - desired| <= rtol * max|desired|``: relative to the array's scale,
    so entries that are zero by chance (an off-diagonal covariance) do not
    demand absolute agreement."""
    actual, desired = np.asarray(actual, dtype=float), np.asarray(desired, dtype=float)
    assert actual.shape == desired.shape, what
    scale = np.max(np.abs(desired))
    np.testing.assert_allclose(actual, desired, rtol=0, atol=rtol * scale, err_msg=what)


def initial_parameters(X, n_components, covariance_type, seed):
    """Random but sensible initial parameters, in scikit-learn's shapes."""
    rng = np.random.default_rng(seed)
    n_features = X.shape[1]
    weights = rng.dirichlet(np.full(n_components, 5.0))
    means = X[rng.choice(len(X), n_components, replace=False)] + rng.normal(
        scale=0.1, size=(n_components, n_features)
    )
    cov = np.cov(X.T) / n_components + np.eye(n_features)
    prec = np.linalg.inv(cov)
    scales = rng.uniform(0.5, 2.0, size=n_components)
    precisions = {
        "full": scales[:, None, None] * prec,
        "tied": prec,
        "diag": scales[:, None] / np.diag(cov),
        "spherical": scales / np.diag(cov).mean(),
    }[covariance_type]
    return {"weights_init": weights, "means_init": means, "precisions_init": precisions}


def fit_quietly(model, X, **fit_kwargs):
    """Fit expecting possibly a ConvergenceWarning (tol=0 runs to max_iter)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, **fit_kwargs)


def assert_same_fit(a, b, rtol, attributes=FITTED):
    for name in attributes:
        assert_rel(getattr(a, name), getattr(b, name), rtol, name)


# ---------------------------------------------------------------- scikit-learn
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_matches_sklearn_iterates(make_random_data, covariance_type, seed):
    """Same initial parameters -> the same iterates, bounds and predictions as
    scikit-learn after 1, a few and many iterations."""
    from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    data = make_random_data(seed, n_samples=300, n_components=3, n_features=3, scale=5.0)
    X = data.X[covariance_type]
    init = initial_parameters(X, 3, covariance_type, seed)
    common = dict(n_components=3, covariance_type=covariance_type, tol=0.0, reg_covar=1e-6, **init)
    for max_iter in (1, 4, 40):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkConvergenceWarning)
            sk = SkGaussianMixture(max_iter=max_iter, random_state=0, **common).fit(X)
        with pytest.warns(ConvergenceWarning, match="did not converge"):
            gm = GaussianMixture(max_iter=max_iter, **common).fit(X)
        assert gm.n_iter_ == sk.n_iter_ == max_iter
        assert gm.converged_ is sk.converged_ is False
        assert_same_fit(gm, sk, 1e-7)
        assert_rel(gm.lower_bounds_, sk.lower_bounds_, 1e-7, "lower_bounds_")
        assert_rel(gm.lower_bound_, sk.lower_bound_, 1e-7, "lower_bound_")
        np.testing.assert_allclose(gm.score(X), sk.score(X), rtol=1e-7)
        np.testing.assert_allclose(gm.score_samples(X), sk.score_samples(X), rtol=1e-7)
        np.testing.assert_allclose(gm.predict_proba(X), sk.predict_proba(X), rtol=1e-7, atol=1e-300)
        np.testing.assert_array_equal(gm.predict(X), sk.predict(X))
        np.testing.assert_allclose(gm.bic(X), sk.bic(X), rtol=1e-7)
        np.testing.assert_allclose(gm.aic(X), sk.aic(X), rtol=1e-7)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_matches_sklearn_at_convergence(make_random_data, covariance_type):
    """With a tolerance both stop at the same iteration."""
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    data = make_random_data(7, n_samples=500, n_components=2, n_features=2)
    X = data.X[covariance_type]
    common = dict(
        n_components=2,
        covariance_type=covariance_type,
        tol=1e-6,
        reg_covar=1e-6,
        max_iter=500,
        **initial_parameters(X, 2, covariance_type, 7),
    )
    sk = SkGaussianMixture(**common).fit(X)
    gm = GaussianMixture(**common).fit(X)
    assert gm.converged_ and sk.converged_
    assert gm.n_iter_ == sk.n_iter_
    assert_same_fit(gm, sk, 1e-7)
    np.testing.assert_allclose(gm.score_samples(X), sk.score_samples(X), rtol=1e-7)


# ---------------------------------------------------------------- frequency weights
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_integer_weights_equal_repeated_rows(make_random_data, covariance_type):
    data = make_random_data(3, n_samples=200, n_components=3, n_features=2, scale=8.0)
    X = data.X[covariance_type]
    sw = np.random.default_rng(0).integers(0, 4, size=len(X))
    Xr = np.repeat(X, sw, axis=0)

    # Identical initial parameters: the whole run, iteration by iteration.
    init = initial_parameters(X, 3, covariance_type, 1)
    kw = dict(n_components=3, covariance_type=covariance_type, tol=0.0, max_iter=25, **init)
    a = fit_quietly(GaussianMixture(**kw), X, sample_weight=sw)
    b = fit_quietly(GaussianMixture(**kw), Xr)
    assert_same_fit(a, b, 1e-9)
    assert_rel(a.lower_bounds_, b.lower_bounds_, 1e-10, "lower_bounds_")
    np.testing.assert_allclose(a.log_likelihood_, b.log_likelihood_, rtol=1e-10)
    np.testing.assert_allclose(a.score(X, sample_weight=sw), b.score(Xr), rtol=1e-10)
    for criterion in ("bic", "aic", "icl"):
        np.testing.assert_allclose(
            getattr(a, criterion)(X, sample_weight=sw), getattr(b, criterion)(Xr), rtol=1e-10
        )

    # The k-means initialisations see the same random draws too (rows are put in
    # a canonical order first), so the same random_state gives the same fit.
    for n_components, init_params in ((1, "kmeans"), (3, "kmeans"), (3, "k-means++")):
        kw = dict(
            n_components=n_components,
            covariance_type=covariance_type,
            init_params=init_params,
            random_state=5,
        )
        a = GaussianMixture(**kw).fit(X, sample_weight=sw)
        b = GaussianMixture(**kw).fit(Xr)
        assert a.n_iter_ == b.n_iter_
        assert_same_fit(a, b, 1e-8)
        np.testing.assert_allclose(a.log_likelihood_, b.log_likelihood_, rtol=1e-10)


def test_zero_weight_rows_are_ignored(make_random_data):
    X = make_random_data(4).X["full"]
    sw = np.ones(len(X))
    sw[::3] = 0.0
    # Rows of zero weight may hold any finite values: they are not data.
    X_noisy = X.copy()
    X_noisy[::3] = 1e200
    a = GaussianMixture(2, random_state=0).fit(X_noisy, sample_weight=sw)
    b = GaussianMixture(2, random_state=0).fit(X[sw > 0])
    assert _public_state(a) == _public_state(b)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_scaling_weights_changes_nothing(make_random_data, covariance_type):
    X = make_random_data(5).X[covariance_type]
    sw = np.random.default_rng(1).uniform(0.2, 3.0, size=len(X))
    kw = dict(n_components=2, covariance_type=covariance_type, random_state=0)
    base = GaussianMixture(**kw).fit(X, sample_weight=sw)
    for c in (1e-3, 7.3, 1e4):
        scaled = GaussianMixture(**kw).fit(X, sample_weight=c * sw)
        assert scaled.n_iter_ == base.n_iter_
        assert_same_fit(scaled, base, 1e-10)
        assert_rel(scaled.lower_bounds_, base.lower_bounds_, 1e-10)
        np.testing.assert_allclose(scaled.log_likelihood_, c * base.log_likelihood_, rtol=1e-10)
        # bic/aic/icl take n = the total weight.
        p = scaled.n_parameters_
        np.testing.assert_allclose(
            scaled.bic(X, sample_weight=c * sw),
            -2 * c * base.log_likelihood_ + p * np.log(c * sw.sum()),
            rtol=1e-10,
        )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_criteria(make_random_data, covariance_type):
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    X = make_random_data(6).X[covariance_type]
    n = len(X)
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    sk = SkGaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    p = sk._n_parameters()
    assert gm.n_parameters_ == p == get_structure(covariance_type).n_parameters(2, 2)
    ll = gm.score(X) * n
    np.testing.assert_allclose(ll, gm.log_likelihood_, rtol=1e-10)
    np.testing.assert_allclose(gm.bic(X), -2 * ll + p * np.log(n), rtol=1e-12)
    np.testing.assert_allclose(gm.aic(X), -2 * ll + 2 * p, rtol=1e-12)
    log_max = np.log(gm.predict_proba(X).max(axis=1)).sum()
    np.testing.assert_allclose(gm.icl(X), gm.bic(X) - 2 * log_max, rtol=1e-12)
    assert gm.icl(X) >= gm.bic(X)
    # Weighted: n is the total weight, log L the weighted sum.
    sw = np.random.default_rng(0).uniform(0.5, 2.0, size=n)
    llw = sw @ gm.score_samples(X)
    np.testing.assert_allclose(
        gm.bic(X, sample_weight=sw), -2 * llw + p * np.log(sw.sum()), rtol=1e-12
    )
    np.testing.assert_allclose(gm.aic(X, sample_weight=sw), -2 * llw + 2 * p, rtol=1e-12)
    assert gm.icl(X, sample_weight=sw) >= gm.bic(X, sample_weight=sw)


# ---------------------------------------------------------------- invariances
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_row_permutation_invariance(make_random_data, covariance_type):
    X = make_random_data(8, n_components=3).X[covariance_type]
    perm = np.random.default_rng(0).permutation(len(X))
    for kw in (
        initial_parameters(X, 3, covariance_type, 2),  # identical initial parameters
        {"random_state": 3, "init_params": "kmeans"},  # the same seed
        {"random_state": 3, "init_params": "k-means++"},
        {"random_state": 3, "init_params": "random_from_data"},
        {"random_state": 3, "init_params": "random"},
    ):
        a = fit_quietly(GaussianMixture(3, covariance_type=covariance_type, **kw), X)
        b = fit_quietly(GaussianMixture(3, covariance_type=covariance_type, **kw), X[perm])
        assert a.n_iter_ == b.n_iter_
        assert_same_fit(a, b, 1e-9)
        np.testing.assert_array_equal(a.predict(X)[perm], b.predict(X[perm]))
        np.testing.assert_allclose(a.score_samples(X)[perm], b.score_samples(X[perm]))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_recovers_known_parameters(make_random_data, covariance_type, seed):
    """The fit lies within a few standard errors of RandomData's truth."""
    n = 3000
    data = make_random_data(seed, n_samples=n, n_components=2, n_features=2)
    X = data.X[covariance_type]
    gm = GaussianMixture(2, covariance_type=covariance_type, n_init=2, random_state=0).fit(X)
    assert gm.converged_
    # Match fitted components to the true ones by their means.
    order = np.argmin(((gm.means_[:, None] - data.means[None]) ** 2).sum(-1), axis=0)
    assert sorted(order) == [0, 1]
    structure = get_structure(covariance_type)
    true_full = structure.to_full(data.covariances[covariance_type], 2, 2)
    fit_full = structure.to_full(gm.covariances_, 2, 2)
    for k, j in enumerate(order):
        w = data.weights[k]
        n_k = w * n
        assert abs(gm.weights_[j] - w) < 5 * np.sqrt(w * (1 - w) / n)
        se_mean = np.sqrt(np.diag(true_full[k]) / n_k)
        assert np.all(np.abs(gm.means_[j] - data.means[k]) < 5 * se_mean)
        # Var(S_ab) = (S_ab^2 + S_aa S_bb) / n for the sample covariance; pooled or
        # averaged types estimate from more rows, so this bound is conservative.
        cov = true_full[k]
        se_cov = np.sqrt((cov**2 + np.outer(np.diag(cov), np.diag(cov))) / n_k)
        assert np.all(np.abs(fit_full[j] - cov) < 5 * se_cov), (fit_full[j], cov)


# ---------------------------------------------------------------- estimator behaviour
def test_dataframe_keeps_feature_names(make_random_data):
    import pandas as pd

    X = make_random_data(9).X["full"]
    df = pd.DataFrame(X, columns=["height", "weight"])
    gm = GaussianMixture(2, random_state=0).fit(df)
    np.testing.assert_array_equal(gm.feature_names_in_, ["height", "weight"])
    assert gm.n_features_in_ == 2
    np.testing.assert_array_equal(
        gm.predict(df), GaussianMixture(2, random_state=0).fit(X).predict(X)
    )
    with pytest.warns(UserWarning, match="fitted with feature names"):
        gm.predict(X)
    # Refitting on an array forgets the names.
    gm.fit(X)
    assert not hasattr(gm, "feature_names_in_")
    with pytest.warns(UserWarning, match="fitted without feature names"):
        gm.predict(df)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_warm_start_continues(make_random_data, covariance_type):
    X = make_random_data(10, n_components=3).X[covariance_type]
    kw = dict(n_components=3, covariance_type=covariance_type, tol=0.0, random_state=1)
    full_run = fit_quietly(GaussianMixture(max_iter=10, **kw), X)
    warm = GaussianMixture(max_iter=4, warm_start=True, **kw)
    fit_quietly(warm, X)
    first = list(warm.lower_bounds_)
    warm.set_params(max_iter=6)
    fit_quietly(warm, X)
    # 4 + 6 warm iterations are the 10 iterations of one run.
    assert warm.n_iter_ == 6
    assert_rel(first + warm.lower_bounds_, full_run.lower_bounds_, 1e-12)
    assert_same_fit(warm, full_run, 1e-12)
    # EM never decreases the likelihood, across the restart too.
    assert np.all(np.diff(first + warm.lower_bounds_) >= -1e-10)
    # A different model cannot continue: it starts afresh.
    warm.set_params(n_components=2)
    fit_quietly(warm, X)
    assert warm.means_.shape == (2, 2)


def test_n_init_keeps_the_best(make_random_data, monkeypatch):
    X = make_random_data(11, n_samples=300, n_components=3, scale=3.0).X["full"]
    runs = []
    original = em_core.run

    def recording_run(*args, **kwargs):
        run = original(*args, **kwargs)
        runs.append(run)
        return run

    monkeypatch.setattr(em_core, "run", recording_run)
    gm = GaussianMixture(4, init_params="random", n_init=6, max_iter=200, random_state=0)
    fit_quietly(gm, X)
    lls = [run.log_likelihood for run in runs]
    assert len(lls) == 6
    assert max(lls) - min(lls) > 1e-3  # the restarts found different optima
    best = runs[int(np.argmax(lls))]
    np.testing.assert_array_equal(gm.weights_, best.params.weights)
    np.testing.assert_allclose(gm.log_likelihood_, gm.score(X) * len(X), rtol=1e-10)
    assert gm.n_iter_ == len(best.lower_bounds)


def _public_state(gm):
    return {
        name: np.asarray(getattr(gm, name)).tolist()
        for name in (*FITTED, "lower_bounds_", "log_likelihood_", "n_iter_", "converged_")
    }


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_same_random_state_is_bit_identical(make_random_data, init_params):
    X = make_random_data(12, n_samples=400, n_components=3).X["full"]
    kw = dict(n_components=3, init_params=init_params, n_init=2, random_state=42)
    a = fit_quietly(GaussianMixture(**kw), X)
    b = fit_quietly(GaussianMixture(**kw), X)
    assert _public_state(a) == _public_state(b)
    c = fit_quietly(GaussianMixture(**{**kw, "random_state": np.random.default_rng(42)}), X)
    assert _public_state(c) == _public_state(a)


def test_bit_identical_in_another_process_with_other_thread_count(make_random_data):
    """Rows span several kernel tasks, run on 2 threads here and 1 thread there."""
    X = make_random_data(13, n_samples=9000, n_components=3).X["full"]
    kw = dict(n_components=3, random_state=0, max_iter=30, tol=1e-6)
    here = _public_state(fit_quietly(GaussianMixture(**kw), X))
    code = (
        "import json, sys, warnings, numpy as np\n"
        "from bayesmix import GaussianMixture\n"
        "X = np.frombuffer(sys.stdin.buffer.read()).reshape(-1, 2)\n"
        "warnings.simplefilter('ignore')\n"
        f"gm = GaussianMixture(**{kw!r}).fit(X)\n"
        "names = ('weights_', 'means_', 'covariances_', 'precisions_', 'precisions_cholesky_',"
        " 'lower_bounds_', 'log_likelihood_', 'n_iter_', 'converged_')\n"
        "print(json.dumps({n: np.asarray(getattr(gm, n)).tolist() for n in names}))\n"
    )
    import os

    env = {**os.environ, "BAYESMIX_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=np.ascontiguousarray(X).tobytes(),
        capture_output=True,
        check=True,
        env=env,
    )
    there = json.loads(out.stdout)
    assert there == json.loads(json.dumps(here))


def test_convergence_warning_gives_advice(make_random_data):
    X = make_random_data(14).X["full"]
    with pytest.warns(ConvergenceWarning, match=r"max_iter=2 iterations.*Increase max_iter"):
        gm = GaussianMixture(2, max_iter=2, tol=1e-12, random_state=0).fit(X)
    assert gm.converged_ is False and gm.n_iter_ == 2
    with pytest.warns(ConvergenceWarning, match="single iteration"):
        GaussianMixture(2, max_iter=1, random_state=0).fit(X)
    # Enough iterations: converged, no warning (warnings are errors in this suite).
    gm = GaussianMixture(2, random_state=0).fit(X)
    assert gm.converged_ and gm.n_iter_ < gm.max_iter


def test_max_iter_zero_returns_the_initialisation(make_random_data):
    X = make_random_data(14).X["full"]
    init = initial_parameters(X, 2, "full", 0)
    gm = GaussianMixture(2, max_iter=0, reg_covar=0.0, **init).fit(X)
    assert gm.n_iter_ == 0 and gm.converged_ is False and gm.lower_bounds_ == []
    np.testing.assert_allclose(gm.weights_, init["weights_init"])
    np.testing.assert_allclose(gm.means_, init["means_init"])
    np.testing.assert_allclose(gm.precisions_, init["precisions_init"], rtol=1e-10)


def test_verbose_output(make_random_data, capsys):
    X = make_random_data(15).X["full"]
    GaussianMixture(2, random_state=0).fit(X)
    assert capsys.readouterr().out == ""
    gm = GaussianMixture(2, n_init=2, verbose=1, random_state=0).fit(X)
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["init 0", "init 1"]
    assert all("log-likelihood" in line and "converged=True" in line for line in out)
    assert any(f"{gm.log_likelihood_:.6f}" in line for line in out)
    gm = GaussianMixture(2, n_init=1, verbose=2, random_state=0).fit(X)
    lines = capsys.readouterr().out.splitlines()
    iterations = [line for line in lines if line.strip().startswith("iteration")]
    assert len(iterations) == gm.n_iter_
    assert iterations[0].strip().startswith("iteration 1: mean log-likelihood")


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_shapes_and_moments(make_random_data, covariance_type):
    X = make_random_data(16, n_features=3).X[covariance_type]
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    n = 40_000
    Xs, labels = gm.sample(n)
    assert Xs.shape == (n, 3) and labels.shape == (n,)
    assert labels.dtype.kind == "i" and set(np.unique(labels)) <= {0, 1}
    counts = np.bincount(labels, minlength=2)
    w = gm.weights_
    assert np.all(np.abs(counts / n - w) < 5 * np.sqrt(w * (1 - w) / n))
    full = get_structure(covariance_type).to_full(gm.covariances_, 2, 3)
    for k in range(2):
        rows = Xs[labels == k]
        se = np.sqrt(np.diag(full[k]) / len(rows))
        assert np.all(np.abs(rows.mean(axis=0) - gm.means_[k]) < 5 * se)
        cov = np.cov(rows.T)
        se_cov = np.sqrt((full[k] ** 2 + np.outer(np.diag(full[k]), np.diag(full[k]))) / len(rows))
        assert np.all(np.abs(cov - full[k]) < 5 * se_cov)
    # An integer random_state repeats the draws; sample needs a fitted model.
    np.testing.assert_array_equal(gm.sample(5)[0], gm.sample(5)[0])
    with pytest.raises(ValueError, match="n_samples"):
        gm.sample(0)
    with pytest.raises(NotFittedError):
        GaussianMixture().sample(3)


def test_fit_predict_equals_fit_then_predict(make_random_data):
    X = make_random_data(17, n_components=3).X["full"]
    for kw in ({}, {"covariance_type": "diag", "n_init": 2}):
        labels = GaussianMixture(3, random_state=0, **kw).fit_predict(X)
        np.testing.assert_array_equal(
            labels, GaussianMixture(3, random_state=0, **kw).fit(X).predict(X)
        )
    sw = np.random.default_rng(0).integers(1, 3, size=len(X))
    gm = GaussianMixture(3, random_state=0)
    np.testing.assert_array_equal(
        gm.fit_predict(X, sample_weight=sw), gm.fit(X, sample_weight=sw).predict(X)
    )


def test_em_increases_the_likelihood(make_random_data):
    X = make_random_data(18, n_components=3, scale=4.0).X["full"]
    for ct in COVARIANCE_TYPES:
        gm = fit_quietly(
            GaussianMixture(3, covariance_type=ct, tol=0.0, max_iter=60, random_state=0), X
        )
        assert np.all(np.diff(gm.lower_bounds_) >= -1e-12)
        # log_likelihood_ belongs to the returned parameters, one M-step after the
        # last bound.
        assert gm.log_likelihood_ / len(X) >= gm.lower_bound_ - 1e-12
        np.testing.assert_allclose(gm.log_likelihood_, gm.score(X) * len(X), rtol=1e-10)


def test_predict_methods_are_consistent(make_random_data):
    X = make_random_data(19).X["full"]
    gm = GaussianMixture(2, random_state=0).fit(X)
    proba = gm.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(gm.predict(X), proba.argmax(axis=1))
    np.testing.assert_allclose(gm.score(X), gm.score_samples(X).mean())
    from scipy.stats import multivariate_normal

    density = sum(
        w * multivariate_normal(m, c).pdf(X)
        for w, m, c in zip(gm.weights_, gm.means_, gm.covariances_, strict=True)
    )
    np.testing.assert_allclose(gm.score_samples(X), np.log(density), rtol=1e-10)
    np.testing.assert_allclose(
        gm.precisions_, np.linalg.inv(gm.covariances_), rtol=1e-8, atol=1e-12
    )
