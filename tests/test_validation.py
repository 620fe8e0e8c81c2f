"""Bad input raises ValueError or TypeError naming the argument, before any
compiled code runs (the ``no_kernels`` fixture makes every numba kernel and the
task runner raise, and checks that none was called)."""

import numpy as np
import pytest

from bayesmix import GaussianMixture, NotFittedError
from bayesmix._validation import check_sample_weight, check_X, count_distinct_rows


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    return np.vstack([rng.normal(size=(30, 2)), rng.normal(size=(30, 2)) + 4])


@pytest.fixture(scope="module")
def fitted(X):
    return GaussianMixture(2, random_state=0).fit(X)


def test_no_kernels_fixture_catches_a_kernel_call(X, no_kernels):
    """The fixture is effective: a valid fit does reach the kernels."""
    with pytest.raises(AssertionError, match="ran before validation finished"):
        GaussianMixture(2, random_state=0).fit(X)
    assert no_kernels  # calls were recorded ...
    no_kernels.clear()  # ... and are expected here


# ---------------------------------------------------------------- the data
def _bad_data(X):
    X_inf = X.copy()
    X_inf[3, 1] = np.inf
    X_nan = X.copy()
    X_nan[5] = np.nan  # NaN is a missing value for EM; a row with nothing observed is not
    return [
        ("inf", X_inf, ValueError, r"X contains NaN or infinity \(infinity at row 3, column 1\)"),
        ("-inf", -X_inf, ValueError, "infinity at row 3"),
        ("nan", X_nan, ValueError, r"row\(s\) \[5\] with every feature missing"),
        ("1-D", X[:, 0], ValueError, r"X must be 2-D.*Reshape your data.*reshape\(-1, 1\)"),
        ("3-D", X[None], ValueError, r"X must be 2-D .*shape \(1, 60, 2\)"),
        ("scalar", 3.0, ValueError, "X must be 2-D"),
        ("empty", np.empty((0, 2)), ValueError, "0 sample.*X needs at least 2 rows"),
        ("one row", X[:1], ValueError, "1 sample.*X needs at least 2 rows"),
        ("no features", np.empty((10, 0)), ValueError, "0 feature.*X needs at least one column"),
        ("strings", np.array([["a", "b"], ["c", "d"]]), TypeError, "X must contain numbers"),
        ("numeric strings", np.array([["1", "2"], ["3", "4"]]), TypeError, "X must contain"),
        (
            "object strings",
            np.array([[1.0, "x"], [2.0, 3.0]], dtype=object),
            TypeError,
            "X must contain numbers.*strings",
        ),
        ("object junk", np.array([[1.0, {}], [2.0, 3.0]], dtype=object), TypeError, "X must"),
        ("complex", X + 1j, ValueError, r"Complex data not supported.*X\.real"),
        ("ragged", [[1.0, 2.0], [3.0]], ValueError, "X could not be read as a 2-D"),
        ("None", None, TypeError, "X is None"),
    ]


@pytest.mark.parametrize("case", range(16))
def test_bad_X_at_fit(X, case, no_kernels):
    _, bad, error, match = _bad_data(X)[case]
    with pytest.raises(error, match=match):
        GaussianMixture(1).fit(bad)


@pytest.mark.parametrize("case", range(16))
def test_bad_X_at_predict(fitted, X, case, no_kernels):
    name, bad, error, match = _bad_data(X)[case]
    if name in ("empty", "one row"):  # predicting one row is fine; zero rows is not
        bad, match = np.empty((0, 2)), "0 sample.*X needs at least 1 row"
    for method in ("predict", "predict_proba", "score_samples", "score", "bic", "aic", "icl"):
        with pytest.raises(error, match=match):
            getattr(fitted, method)(bad)


def test_sparse_X(X, no_kernels):
    from scipy import sparse

    for container in (sparse.csr_matrix, sparse.csr_array, sparse.coo_matrix):
        with pytest.raises(TypeError, match=r"X is a sparse matrix.*X\.toarray\(\)"):
            GaussianMixture(1).fit(container(X))


def test_dataframe_problems(X, no_kernels):
    import pandas as pd

    df = pd.DataFrame(X, columns=["a", "b"])
    df["c"] = "text"
    with pytest.raises(TypeError, match=r"X must contain numbers.*\['c'\].*drop\(columns="):
        GaussianMixture(1).fit(df)
    # a class label kept as a categorical or a string column is named too
    for dtype in ("category", "string"):
        with pytest.raises(TypeError, match=r"'text' in column 'c'"):
            GaussianMixture(1).fit(df.astype({"c": dtype}))
    na = pd.DataFrame({"a": pd.array([1, None, 3, 4], dtype="Int64"), "b": [1.0, 2, 3, 5]})
    with pytest.raises(ValueError, match=r"NaN at row 1, column 0.*missing values"):
        check_X(na)  # the engines treat it as missing (test_missing.py, test_vb_missing.py)
    mixed = pd.DataFrame(X, columns=["a", 1])
    with pytest.raises(TypeError, match=r"feature names.*mix strings"):
        GaussianMixture(1).fit(mixed)


def test_more_components_than_distinct_points(no_kernels):
    X = np.repeat([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], 5, axis=0)
    with pytest.raises(ValueError, match=r"n_components=4 .* distinct rows .*\(3\)"):
        GaussianMixture(4).fit(X)
    # -0.0 and 0.0 are one point; rows of zero weight do not count.
    X2 = np.array([[0.0], [-0.0], [1.0], [2.0]])
    with pytest.raises(ValueError, match=r"n_components=3 .*\(2\)"):
        GaussianMixture(3).fit(X2, sample_weight=[1, 1, 1, 0])


# ---------------------------------------------------------------- parameters
BAD_PARAMS = [
    ("n_components", 0, ValueError, "n_components must be an integer >= 1"),
    ("n_components", -2, ValueError, "n_components must be"),
    ("n_components", 1.5, TypeError, "n_components must be an integer"),
    ("n_components", "2", TypeError, "n_components must be an integer"),
    ("n_components", True, TypeError, "n_components must be an integer"),
    ("n_components", None, TypeError, "n_components must be an integer"),
    ("covariance_type", "fulll", ValueError, "covariance_type='fulll' is not supported"),
    ("covariance_type", 3, ValueError, "covariance_type=3 is not supported"),
    ("covariance_type", ["full"], ValueError, "covariance_type"),
    ("tol", -1e-3, ValueError, "tol must be >= 0"),
    ("tol", np.nan, ValueError, "tol must be finite"),
    ("tol", "small", ValueError, "tol=.small. is not supported; use .auto. or"),
    ("reg_covar", -1.0, ValueError, "reg_covar must be >= 0"),
    ("reg_covar", np.inf, ValueError, "reg_covar must be finite"),
    ("reg_covar", "big", ValueError, "reg_covar='big' is not supported"),
    ("reg_covar", [1e-6], TypeError, "reg_covar must be a real number"),
    ("max_iter", -1, ValueError, "max_iter must be an integer >= 0"),
    ("max_iter", 10.0, TypeError, "max_iter must be an integer"),
    ("n_init", 0, ValueError, "n_init must be an integer >= 1"),
    ("n_init", 2.5, TypeError, "n_init must be an integer"),
    ("init_params", "kmean", ValueError, "init_params='kmean' is not supported"),
    ("init_params", None, ValueError, "init_params=None is not supported"),
    ("warm_start", "yes", TypeError, "warm_start must be True or False"),
    ("warm_start", 1, TypeError, "warm_start must be True or False"),
    ("verbose", -1, ValueError, "verbose must be an integer >= 0"),
    ("verbose", "loud", TypeError, "verbose must be an integer"),
    ("random_state", -1, ValueError, "random_state must be a non-negative int"),
    ("random_state", "seed", TypeError, "random_state must be None, an int"),
    ("random_state", 1.5, TypeError, "random_state must be None, an int"),
    ("random_state", True, TypeError, "random_state must be None, an int"),
]


@pytest.mark.parametrize(("param", "value", "error", "match"), BAD_PARAMS)
def test_invalid_parameter(X, param, value, error, match, no_kernels):
    gm = GaussianMixture(2, **{param: value}) if param != "n_components" else None
    gm = gm or GaussianMixture(value)
    with pytest.raises(error, match=match):
        gm.fit(X)
    # set_params accepts anything (scikit-learn's rule); fit validates.
    gm = GaussianMixture(2).set_params(**{param: value})
    with pytest.raises(error, match=match):
        gm.fit(X)


def test_valid_numpy_scalars_are_accepted(X):
    gm = GaussianMixture(
        np.int64(2),
        tol=np.float32(1e-3),
        reg_covar=np.float64(1e-6),
        max_iter=np.int32(50),
        verbose=False,
        random_state=np.int64(3),
    ).fit(X)
    assert gm.converged_
    GaussianMixture(2, random_state=np.random.RandomState(0)).fit(X)


# ---------------------------------------------------------------- initial parameters
def _bad_init(covariance_type):
    k, d = 2, 2
    spd = {
        "full": np.stack([np.eye(d)] * k),
        "tied": np.eye(d),
        "diag": np.ones((k, d)),
        "spherical": np.ones(k),
    }[covariance_type]
    cases = [
        ("weights_init", [0.5, 0.6], ValueError, r"weights_init must be non-negative and sum to 1"),
        ("weights_init", [1.5, -0.5], ValueError, "weights_init must be non-negative"),
        ("weights_init", [1.0], ValueError, r"weights_init must have shape \(n_components,\)"),
        ("weights_init", [[0.5, 0.5]], ValueError, "weights_init must have shape"),
        ("weights_init", [np.nan, 0.5], ValueError, "weights_init contains NaN"),
        ("weights_init", ["a", "b"], TypeError, "weights_init must be an array of numbers"),
        ("means_init", np.zeros((3, d)), ValueError, r"means_init must have shape .* \(2, 2\)"),
        ("means_init", np.zeros(d), ValueError, "means_init must have shape"),
        ("means_init", np.full((k, d), np.inf), ValueError, "means_init contains NaN or inf"),
        (
            "precisions_init",
            spd[..., :1] if spd.ndim > 1 else spd[:1],
            ValueError,
            "precisions_init must have shape",
        ),
        ("precisions_init", np.full_like(spd, np.nan), ValueError, "precisions_init contains"),
        ("precisions_init", -spd, ValueError, "precisions_init must be positive definite"),
        ("precisions_init", 0 * spd, ValueError, "precisions_init must be positive definite"),
    ]
    if covariance_type in ("full", "tied"):
        nonsym = spd.copy()
        nonsym[..., 0, 1] = 0.5
        indefinite = spd.copy()
        indefinite[..., 0, 1] = indefinite[..., 1, 0] = 2.0  # eigenvalues 3 and -1
        cases += [
            ("precisions_init", nonsym, ValueError, "precisions_init must be symmetric"),
            ("precisions_init", indefinite, ValueError, "precisions_init must be positive def"),
        ]
    return cases


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_invalid_initial_parameters(X, covariance_type, no_kernels):
    for param, value, error, match in _bad_init(covariance_type):
        gm = GaussianMixture(2, covariance_type=covariance_type, **{param: value})
        with pytest.raises(error, match=match):
            gm.fit(X)


# ---------------------------------------------------------------- sample weights
BAD_WEIGHTS = [
    (lambda n: -np.ones(n), ValueError, "sample_weight has negative values"),
    (lambda n: np.r_[np.nan, np.ones(n - 1)], ValueError, "sample_weight contains NaN"),
    (lambda n: np.r_[np.inf, np.ones(n - 1)], ValueError, "sample_weight contains NaN or inf"),
    (lambda n: np.zeros(n), ValueError, "sample_weight is zero everywhere"),
    (lambda n: np.r_[1.0, np.zeros(n - 1)], ValueError, "sample_weight gives positive weight"),
    (lambda n: np.ones(n - 1), ValueError, r"sample_weight must have shape \(60,\)"),
    (lambda n: np.ones((n, 1)), ValueError, r"sample_weight must have shape .* \(60, 1\)"),
    (lambda n: np.array(["a"] * n), TypeError, "sample_weight must be numbers"),
    (lambda n: -1.0, ValueError, "sample_weight has negative values"),
]


@pytest.mark.parametrize(("make", "error", "match"), BAD_WEIGHTS)
def test_bad_sample_weight(X, fitted, make, error, match, no_kernels):
    with pytest.raises(error, match=match):
        GaussianMixture(2).fit(X, sample_weight=make(len(X)))
    if "positive weight" not in match:  # scoring one weighted row is fine
        for method in ("score", "bic", "aic", "icl"):
            with pytest.raises(error, match=match):
                getattr(fitted, method)(X, sample_weight=make(len(X)))


# ---------------------------------------------------------------- a fitted model
@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "score_samples", "score", "bic", "aic", "icl"]
)
def test_not_fitted(X, method, no_kernels):
    with pytest.raises(NotFittedError, match=r"GaussianMixture instance is not fitted yet.*fit"):
        getattr(GaussianMixture(), method)(X)


def test_sample_not_fitted(no_kernels):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        GaussianMixture().sample(2)


def test_not_fitted_is_value_and_attribute_error(X):
    with pytest.raises(ValueError):
        GaussianMixture().predict(X)
    with pytest.raises(AttributeError):
        GaussianMixture().predict(X)


def test_wrong_feature_count(fitted, X, no_kernels):
    for bad in (X[:, :1], np.hstack([X, X[:, :1]])):
        for method in ("predict", "predict_proba", "score_samples", "score", "bic"):
            with pytest.raises(
                ValueError,
                match=r"X has \d features, but GaussianMixture is "
                r"expecting 2 features",
            ):
                getattr(fitted, method)(bad)


@pytest.fixture(scope="module")
def fitted_on_frame(X):
    import pandas as pd

    return GaussianMixture(2, random_state=0).fit(pd.DataFrame(X, columns=["a", "b"]))


def test_mismatched_column_names(X, fitted_on_frame, no_kernels):
    import pandas as pd

    for cols in (["b", "a"], ["a", "c"]):
        with pytest.raises(ValueError, match=r"feature names should match.*fitted with \['a'"):
            fitted_on_frame.predict(pd.DataFrame(X, columns=cols))
    wide = pd.DataFrame(np.hstack([X, X]), columns=["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="feature names should match"):
        fitted_on_frame.score(wide)


# ---------------------------------------------------------------- helpers directly
def test_check_X_returns_float_c_array():
    arr, names = check_X([[1, 2], [3, 4]])
    assert arr.dtype == np.float64 and arr.flags.c_contiguous and names is None
    arr, _ = check_X(np.asfortranarray(np.ones((3, 2), dtype=np.float32)))
    assert arr.dtype == np.float64 and arr.flags.c_contiguous
    arr, _ = check_X(np.array([[True, False], [False, True]]))
    assert arr.dtype == np.float64


def test_check_sample_weight_scalar_and_none():
    np.testing.assert_array_equal(check_sample_weight(None, 3), np.ones(3))
    np.testing.assert_array_equal(check_sample_weight(2, 3), np.full(3, 2.0))


def test_count_distinct_rows():
    X = np.array([[0.0, 1.0], [-0.0, 1.0], [0.0, 2.0], [5.0, 5.0]])
    assert count_distinct_rows(X, np.ones(4), 10) == 3
    assert count_distinct_rows(X, np.array([1.0, 1.0, 0.0, 0.0]), 10) == 1
    big = np.repeat(np.arange(3000.0)[:, None], 2, axis=0)
    assert count_distinct_rows(big, np.ones(len(big)), 5000) == 3000
