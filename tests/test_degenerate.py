"""Degenerate data never crash a fit: the covariance is regularised (or a
component re-seeded) and a DegenerateDataWarning says what was done.

This is the policy of GaussianMixture's docstring and of README.md
("Degenerate data: the policy"); each test checks one of its sentences.
"""

import re
import warnings
from contextlib import contextmanager

import numpy as np
import pytest

from bayesmix import DegenerateDataWarning, GaussianMixture
from bayesmix.covariance import get_structure

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


@contextmanager
def expect_degenerate(*patterns):
    """Every pattern matches one DegenerateDataWarning, and every such warning
    matches one pattern (so nothing unexplained is emitted either)."""
    with pytest.warns(DegenerateDataWarning) as record:
        yield
    messages = [str(w.message) for w in record if issubclass(w.category, DegenerateDataWarning)]
    for pattern in patterns:
        assert any(re.search(pattern, m) for m in messages), (pattern, messages)
    for message in messages:
        assert any(re.search(p, message) for p in patterns), f"unexpected: {message}"


def assert_finite(gm):
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert np.all(np.isfinite(getattr(gm, name))), name
    assert np.isfinite(gm.log_likelihood_) and np.all(np.isfinite(gm.lower_bounds_))
    assert np.isclose(gm.weights_.sum(), 1.0)


def full_covariances(gm):
    k, d = gm.means_.shape
    return get_structure(gm.covariance_type).to_full(gm.covariances_, k, d)


def two_blobs(seed=0, n=100, d=2):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(size=(n, d)), rng.normal(size=(n, d)) + 6])


def auto_reg(X):
    """reg_covar='auto': 1e-6 x each feature's variance, (n_features,)."""
    return 1e-6 * X.var(axis=0)


COLLAPSE = r"collapsed onto a point or a lower-dimensional set.*regularised by reg_covar="
TIED_COLLAPSE = r"the tied covariance " + COLLAPSE


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_singleton_cluster(covariance_type):
    X = np.vstack([two_blobs(), [[40.0, -40.0]]])
    with expect_degenerate(r"component\(s\) \[\d\] " + COLLAPSE):
        gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    assert_finite(gm)
    j = int(np.argmin(gm.weights_))
    np.testing.assert_allclose(gm.weights_[j], 1 / len(X), rtol=1e-6)
    np.testing.assert_allclose(gm.means_[j], [40.0, -40.0], rtol=1e-9)
    # The component is the point, with the regulariser as its covariance (its mean
    # for a spherical model, which has one variance).
    reg = auto_reg(X).mean() if covariance_type == "spherical" else auto_reg(X)
    np.testing.assert_allclose(full_covariances(gm)[j], np.diag(np.broadcast_to(reg, 2)), rtol=1e-6)
    assert gm.predict([[40.0, -40.0]])[0] == j


def test_singleton_cluster_tied_needs_no_regularisation():
    X = np.vstack([two_blobs(), [[40.0, -40.0]]])
    gm = GaussianMixture(3, covariance_type="tied", random_state=0).fit(X)  # no warning
    assert_finite(gm)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_duplicated_points(covariance_type):
    points = np.array([[0.0, 1.0], [5.0, -2.0], [1.0, 7.0]])
    X = np.repeat(points, 20, axis=0)
    pattern = TIED_COLLAPSE if covariance_type == "tied" else r"\[0, 1, 2\] " + COLLAPSE
    with expect_degenerate(pattern):
        gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    assert_finite(gm)
    np.testing.assert_allclose(gm.weights_, 1 / 3, rtol=1e-9)
    order = np.argsort(gm.means_[:, 0])
    np.testing.assert_allclose(gm.means_[order], points[np.argsort(points[:, 0])], atol=1e-9)
    reg = auto_reg(X).mean() if covariance_type == "spherical" else auto_reg(X)
    np.testing.assert_allclose(
        full_covariances(gm),
        np.broadcast_to(np.diag(np.broadcast_to(reg, 2)), (3, 2, 2)),
        rtol=1e-6,
    )
    np.testing.assert_array_equal(gm.predict(points), gm.predict(X[::20]))


def test_duplicated_rows_inside_data():
    X = np.vstack([two_blobs(n=60)[:60], np.repeat([[8.0, 8.0]], 30, axis=0)])
    # One start: further starts (n_init="auto") may find a proper fit, which is
    # then preferred to the spike on the duplicates.
    with expect_degenerate(r"component\(s\) \[\d\] " + COLLAPSE):
        gm = GaussianMixture(2, n_init=1, random_state=0).fit(X)
    assert_finite(gm)
    j = gm.predict([[8.0, 8.0]])[0]
    np.testing.assert_allclose(gm.weights_[j], 1 / 3, rtol=1e-6)
    np.testing.assert_array_equal(gm.predict(X[60:]), j)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_constant_column(covariance_type):
    X = two_blobs()
    Xc = np.column_stack([X, np.full(len(X), 3.0)])
    means_init = np.array([[0.0, 0.0], [6.0, 6.0]])
    kw = dict(covariance_type=covariance_type, reg_covar=1e-6, tol=1e-8, max_iter=500)
    expected = [r"feature\(s\) \[2\] of X are constant.*Drop them"]
    if covariance_type != "spherical":  # a spherical variance is shared with the others
        expected.append(COLLAPSE)
    with expect_degenerate(*expected):
        gm = GaussianMixture(2, means_init=np.column_stack([means_init, [3.0, 3.0]]), **kw).fit(Xc)
    assert_finite(gm)
    np.testing.assert_allclose(gm.means_[:, 2], 3.0, rtol=1e-12)
    if covariance_type != "spherical":
        # The constant feature has variance reg_covar and changes nothing else.
        np.testing.assert_allclose(full_covariances(gm)[:, 2, 2], 1e-6, rtol=1e-6)
        ref = GaussianMixture(2, means_init=means_init, **kw).fit(X)
        np.testing.assert_allclose(gm.means_[:, :2], ref.means_, rtol=1e-7)
        np.testing.assert_allclose(
            full_covariances(gm)[:, :2, :2], full_covariances(ref), rtol=1e-7
        )
        np.testing.assert_array_equal(gm.predict(Xc), ref.predict(X))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_collinear_features(covariance_type):
    X = two_blobs(d=2)
    Xl = np.column_stack([X, X[:, 0] - 2 * X[:, 1]])
    kw = dict(covariance_type=covariance_type, random_state=0)
    if covariance_type in ("full", "tied"):
        pattern = TIED_COLLAPSE if covariance_type == "tied" else r"\[0, 1\] " + COLLAPSE
        with expect_degenerate(pattern):
            gm = GaussianMixture(2, **kw).fit(Xl)
        # Along the null direction only the regularisation is left.
        v = np.array([1.0, -2.0, -1.0]) / np.sqrt(6.0)
        np.testing.assert_allclose(v @ full_covariances(gm) @ v, v**2 @ auto_reg(Xl), rtol=1e-4)
    else:  # a diagonal model does not see the collinearity: nothing degenerate
        gm = GaussianMixture(2, **kw).fit(Xl)
    assert_finite(gm)
    truth = np.repeat([0, 1], 100)
    agree = np.mean(gm.predict(Xl) == truth)
    assert max(agree, 1 - agree) > 0.99


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("value", [0.0, 7.5, -3e150, 2e-150])
def test_all_rows_identical(covariance_type, value):
    X = np.full((10, 3), value)
    collapse = TIED_COLLAPSE if covariance_type == "tied" else r"component\(s\) \[0\] " + COLLAPSE
    with expect_degenerate(r"every row of X is the same point.*reg_covar=1e-06", collapse):
        gm = GaussianMixture(1, covariance_type=covariance_type).fit(X)
    assert_finite(gm)
    np.testing.assert_array_equal(gm.means_, X[:1])
    np.testing.assert_allclose(full_covariances(gm)[0], 1e-6 * np.eye(3), rtol=1e-12)
    assert gm.converged_
    np.testing.assert_array_equal(gm.predict(X), 0)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("factor", [1e150, 1e-150, 3.7e120])
def test_scaled_data_give_the_scaled_fit(covariance_type, factor):
    """No warning: the data are standardised internally, and reg_covar='auto'
    scales with them."""
    X = two_blobs(3, d=3)
    kw = dict(n_components=2, covariance_type=covariance_type, random_state=0)
    ref = GaussianMixture(**kw).fit(X)
    gm = GaussianMixture(**kw).fit(X * factor)
    assert_finite(gm)
    assert gm.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(gm.weights_, ref.weights_, rtol=1e-9)
    np.testing.assert_allclose(gm.means_, ref.means_ * factor, rtol=1e-9, atol=0)
    np.testing.assert_allclose(gm.covariances_, ref.covariances_ * factor**2, rtol=1e-9)
    np.testing.assert_allclose(gm.precisions_, ref.precisions_ / factor**2, rtol=1e-9)
    np.testing.assert_array_equal(gm.predict(X * factor), ref.predict(X))
    np.testing.assert_allclose(gm.predict_proba(X * factor), ref.predict_proba(X), atol=1e-9)
    log_jac = 3 * np.log(abs(factor))
    np.testing.assert_allclose(gm.score_samples(X * factor), ref.score_samples(X) - log_jac)
    np.testing.assert_allclose(
        np.array(gm.lower_bounds_), np.array(ref.lower_bounds_) - log_jac, rtol=1e-9
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_huge_offset(covariance_type):
    X = two_blobs(4)
    kw = dict(n_components=2, covariance_type=covariance_type, random_state=0)
    ref = GaussianMixture(**kw).fit(X)
    gm = GaussianMixture(**kw).fit(X + 1e8)
    assert_finite(gm)
    # X + 1e8 keeps about 8 significant digits of X.
    np.testing.assert_allclose(gm.means_ - 1e8, ref.means_, atol=1e-6)
    np.testing.assert_allclose(gm.covariances_, ref.covariances_, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(gm.weights_, ref.weights_, rtol=1e-6)
    np.testing.assert_array_equal(gm.predict(X + 1e8), ref.predict(X))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_no_regularisation_gets_a_jitter(covariance_type):
    """reg_covar=0 on duplicated points: the singular covariances get the
    smallest jitter that factorises them, reported."""
    X = np.repeat(np.array([[0.0, 1.0], [5.0, -2.0], [1.0, 7.0]]), 20, axis=0)
    which = "the tied covariance" if covariance_type == "tied" else r"component\(s\) \[0, 1, 2\]"
    with expect_degenerate(
        r"not numerically positive definite.*added up to .* to its diagonal.*reg_covar > 0",
        which + r" collapsed onto .*set reg_covar > 0",
    ):
        gm = GaussianMixture(3, covariance_type=covariance_type, reg_covar=0.0).fit(X)
    assert_finite(gm)
    k, d = gm.means_.shape
    structure = get_structure(covariance_type)
    cov = structure.to_full(gm.covariances_, k, d)
    prec = structure.to_full(gm.precisions_, k, d)
    # covariances_ include the jitter: they stay the inverses of precisions_.
    np.testing.assert_allclose(cov @ prec, np.broadcast_to(np.eye(d), (k, d, d)), atol=1e-8)
    assert np.all(np.linalg.eigvalsh(cov) > 0)


def test_emptied_component_is_reseeded():
    X = two_blobs(5)
    init = dict(weights_init=[0.5, 0.5, 0.0], means_init=[[0.0, 0.0], [6.0, 6.0], [3.0, 3.0]])
    with expect_degenerate(
        r"component 2 lost all its weight \(at iteration\(s\) \[1\]\) and was re-seeded "
        r"at the worst-explained row with the pooled covariance",
        COLLAPSE,
    ):
        gm = GaussianMixture(3, random_state=0, **init).fit(X)
    assert_finite(gm)
    assert np.all(gm.weights_ > 1e-10)


def test_reg_covar_auto_is_relative_to_each_feature_variance():
    X = two_blobs(6) * [1.0, 100.0]
    X = np.vstack([X, [[50.0, -5000.0]]])  # a singleton: its covariance is reg_covar * I
    with expect_degenerate(COLLAPSE):
        gm = GaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    j = int(np.argmin(gm.weights_))
    np.testing.assert_allclose(gm.covariances_[j], auto_reg(X), rtol=1e-6)
    with expect_degenerate(r"regularised by reg_covar=0\.01 "):
        gm = GaussianMixture(3, covariance_type="diag", reg_covar=0.01, random_state=0).fit(X)
    np.testing.assert_allclose(gm.covariances_[int(np.argmin(gm.weights_))], 0.01, rtol=1e-6)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag"])
def test_rescaling_one_column_changes_nothing_for_the_others(covariance_type):
    """The default regulariser follows each feature's own scale, so the fit is
    equivariant to rescaling any one column (wine's proline, ~1e5 times the
    variance of the other columns, must not regularise them)."""
    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(size=(60, 3)), rng.normal(size=(40, 3)) + np.array([3.0, 0.0, 2.0])])
    c = np.array([1.0, 1.0, 1e4])
    kw = dict(covariance_type=covariance_type, n_init=1, random_state=0)
    a = GaussianMixture(2, **kw).fit(X)
    b = GaussianMixture(2, **kw).fit(X * c)
    np.testing.assert_allclose(b.means_, a.means_ * c, rtol=1e-6, atol=1e-9)
    outer = np.outer(c, c) if covariance_type != "diag" else c * c
    np.testing.assert_allclose(b.covariances_, a.covariances_ * outer, rtol=1e-6, atol=1e-12)
    assert b.log_likelihood_ == pytest.approx(a.log_likelihood_ - len(X) * np.log(1e4), rel=1e-9)


def test_collapsed_components_are_reported_as_an_attribute():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(100, 2)), np.repeat([[6.0, 6.0]], 20, axis=0)])
    with pytest.warns(DegenerateDataWarning, match="collapsed"):
        gm = GaussianMixture(2, random_state=0).fit(X)
    spike = int(np.argmin(np.linalg.norm(gm.means_ - 6.0, axis=1)))
    np.testing.assert_array_equal(gm.collapsed_components_, [spike])
    proper = GaussianMixture(1, random_state=0).fit(X[:100])
    assert proper.collapsed_components_.size == 0


def test_em_stops_a_run_whose_component_stays_collapsed():
    # One component on six copies of a point: a spike of the unbounded
    # likelihood.  With tol=0 the run never meets the stopping rule, so before
    # the collapse check it ran to max_iter and warned that it did not converge.
    from bayesmix._em_core import COLLAPSE_CHECKS, COLLAPSE_EVERY
    from bayesmix.exceptions import ConvergenceWarning

    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(size=(60, 2)), np.tile([[4.0, 4.0]], (6, 1))])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gm = GaussianMixture(
            2, tol=0.0, max_iter=1000, means_init=[[0.0, 0.0], [4.0, 4.0]], n_init=1
        ).fit(X)
    kinds = [type(w.message) for w in caught]
    assert gm.n_iter_ == COLLAPSE_EVERY * COLLAPSE_CHECKS < gm.max_iter
    assert gm.collapsed_components_.tolist() == [1]
    assert DegenerateDataWarning in kinds and ConvergenceWarning not in kinds
    # the spike is where the run would have stayed: continuing it changes nothing
    assert np.allclose(gm.means_[1], [4.0, 4.0])
    assert np.isclose(gm.weights_[1], 6 / 66, rtol=1e-6)


def test_columns_of_very_different_scales_fit_as_if_standardised():
    """Raw breast-cancer columns: variances from 1e-6 to 1e5, so in the fit's
    one common scale the smallest sit below 1e-10.  Every full-covariance
    model's one-component fit is the sample covariance whatever the units:
    the same log-likelihood (after the Jacobian) as on standardised columns,
    and no component reported collapsed."""
    from sklearn.datasets import load_breast_cancer

    from bayesmix.exceptions import DegenerateDataWarning

    X = load_breast_cancer().data
    sd = X.std(axis=0)
    assert sd.max() ** 2 / sd.min() ** 2 > 1e10
    jacobian = X.shape[0] * np.log(sd).sum()
    for ct in ("full", "VVV", "VEE", "VEV", "EEV", "EVE", "VVE", "EVV"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", DegenerateDataWarning)
            raw = GaussianMixture(1, covariance_type=ct).fit(X)
        std = GaussianMixture(1, covariance_type=ct).fit(X / sd)
        assert raw.log_likelihood_ == pytest.approx(std.log_likelihood_ - jacobian, abs=1e-3), ct
        assert raw.collapsed_components_.size == 0, ct
    # nor does the grid call the one-component fits singular
    from bayesmix import select_model

    sel = select_model(X, [1], ("VVV", "EEE", "VVE"), random_state=0)
    assert (sel.table_["error"] == "").all(), sel.table_["error"].tolist()
