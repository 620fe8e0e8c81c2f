"""GaussianMixture is a real scikit-learn estimator: scikit-learn's own checks,
clone / get_params / set_params, pipelines and pickling.

scikit-learn is a test-only dependency: bayesmix never imports it at runtime.
"""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from bayesmix import GaussianMixture, NotFittedError

ESTIMATORS = [
    GaussianMixture(),
    GaussianMixture(n_components=2, covariance_type="tied", random_state=0),
    GaussianMixture(n_components=2, covariance_type="diag", init_params="k-means++"),
    GaussianMixture(covariance_type="spherical", reg_covar=1e-6, n_init=2),
]

# bayesmix deliberately does not inherit from sklearn.base.BaseEstimator (that would
# make scikit-learn a runtime dependency); scikit-learn warns about that while it
# collects its checks, which is expected here.
with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore", message=".*does not inherit from `sklearn.base.BaseEstimator`"
    )
    _sklearn_checks = parametrize_with_checks(ESTIMATORS)


# scikit-learn's checks fit on data such as 15 rows with 30 features, on which a
# covariance is singular: bayesmix then regularises and says so with a
# DegenerateDataWarning, its documented behaviour (tests/test_degenerate.py).
@pytest.mark.filterwarnings("ignore::bayesmix.DegenerateDataWarning")
@pytest.mark.filterwarnings("ignore:.*does not inherit from `sklearn.base.BaseEstimator`")
@_sklearn_checks
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_check_estimator_runs_clean():
    """The literal call of the issue: every check passes, none is skipped except
    the array-API one (which needs the SCIPY_ARRAY_API environment variable)."""
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(GaussianMixture(), on_fail=None)
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert not failed
    assert skipped <= {"check_array_api_input"}
    assert len(results) > 40


def test_no_sklearn_at_runtime():
    code = (
        "import sys, numpy as np, bayesmix\n"
        "X = np.random.default_rng(0).normal(size=(50, 2))\n"
        "gm = bayesmix.GaussianMixture(2, random_state=0).fit(X)\n"
        "gm.predict(X); gm.bic(X)\n"
        "try:\n"
        "    bayesmix.GaussianMixture().predict(X)\n"
        "except bayesmix.NotFittedError:\n"
        "    pass\n"
        "print(any(m == 'sklearn' or m.startswith('sklearn.') for m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_not_fitted_error_is_sklearns_too():
    from sklearn.exceptions import NotFittedError as SkNotFittedError

    X = np.zeros((3, 2))
    with pytest.raises(SkNotFittedError, match="not fitted yet"):
        GaussianMixture().predict(X)
    with pytest.raises(NotFittedError):
        GaussianMixture().predict(X)
    with pytest.raises(NotFittedError) as info:
        GaussianMixture().score(X)
    err = info.value
    assert isinstance(err, ValueError) and isinstance(err, AttributeError)
    assert type(pickle.loads(pickle.dumps(err))) is type(err)


def test_get_set_params_and_clone():
    gm = GaussianMixture(3, covariance_type="diag", tol=1e-4, random_state=7, init_params="kmeans")
    params = gm.get_params()
    assert params["n_components"] == 3
    assert params["covariance_type"] == "diag"
    assert params["reg_covar"] == "auto"
    assert set(params) == {
        "n_components",
        "covariance_type",
        "tol",
        "reg_covar",
        "max_iter",
        "n_init",
        "init_params",
        "weights_init",
        "means_init",
        "precisions_init",
        "random_state",
        "warm_start",
        "verbose",
        "learning_decay",
        "learning_offset",
    }
    assert gm.set_params(n_components=2, max_iter=50) is gm
    assert (gm.n_components, gm.max_iter) == (2, 50)
    with pytest.raises(ValueError, match="Invalid parameter 'n_clusters'"):
        gm.set_params(n_clusters=2)

    X = np.random.default_rng(0).normal(size=(100, 2))
    gm.fit(X)
    copy = clone(gm)
    assert copy.get_params() == gm.get_params()
    assert not hasattr(copy, "weights_")
    np.testing.assert_array_equal(copy.fit(X).means_, gm.means_)
    assert "n_components=2" in repr(gm) and "covariance_type='diag'" in repr(gm)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_pipeline(covariance_type):
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(size=(150, 3)), rng.normal(size=(150, 3)) + 4]) * [1, 100, 1e-3]
    pipe = make_pipeline(
        StandardScaler(), GaussianMixture(2, covariance_type=covariance_type, random_state=0)
    )
    pipe.fit(X)
    scaler, gm = pipe[0], pipe[-1]
    Z = scaler.transform(X)
    np.testing.assert_array_equal(pipe.predict(X), gm.predict(Z))
    np.testing.assert_allclose(pipe.score(X), gm.score(Z))
    np.testing.assert_allclose(pipe.predict_proba(X), gm.predict_proba(Z))
    np.testing.assert_allclose(pipe.score_samples(X), gm.score_samples(Z))
    truth = np.repeat([0, 1], 150)
    agree = np.mean(pipe.predict(X) == truth)
    assert max(agree, 1 - agree) > 0.97  # the two blobs are found, up to label switching
    # The pipeline passes sample weights to the mixture.
    w = np.ones(len(X))
    pipe.set_params(gaussianmixture__max_iter=100)
    pipe.fit(X, gaussianmixture__sample_weight=w)
    np.testing.assert_array_equal(pipe.predict(X), gm.predict(scaler.transform(X)))


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_pickle_round_trip(covariance_type):
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(size=(80, 2)), rng.normal(size=(80, 2)) + 3])
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    loaded = pickle.loads(pickle.dumps(gm))
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(gm, name))
    np.testing.assert_array_equal(loaded.score_samples(X), gm.score_samples(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), gm.predict_proba(X))
    assert loaded.bic(X) == gm.bic(X)
    assert loaded.get_params() == gm.get_params()
    # An unfitted estimator pickles too, and the loaded copy fits like the original.
    fresh = pickle.loads(pickle.dumps(clone(gm)))
    np.testing.assert_array_equal(fresh.fit(X).means_, gm.means_)
