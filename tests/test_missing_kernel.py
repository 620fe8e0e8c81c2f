"""The one-pass E-step for rows with their own missingness patterns
(``bayesmix._kernels._incomplete``) against the per-pattern path, which runs
the complete-data kernel on each pattern's observed sub-matrix."""

import warnings

import numpy as np
import pytest

import bayesmix._missing as missing_mod
from bayesmix import GaussianMixture
from bayesmix._data import Patterns
from bayesmix._kernels import serial_kernels
from bayesmix.covariance import COVARIANCE_TYPES


def _data(n, d, k, rate, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) + 3.0 * rng.normal(size=(k, d))[rng.integers(0, k, n)]
    holes = rng.random(X.shape) < rate
    holes[holes.all(axis=1), 0] = False
    X[holes] = np.nan
    return X, rng.random(n) * (rng.random(n) > 0.05)  # some rows of zero weight


@pytest.fixture(autouse=True)
def _restore_switch():
    saved = missing_mod.PATTERN_ROWS
    yield
    missing_mod.PATTERN_ROWS = saved


def _both_paths(func):
    missing_mod.PATTERN_ROWS = 0
    per_pattern = func()
    missing_mod.PATTERN_ROWS = 10**12
    one_pass = func()
    return per_pattern, one_pass


@pytest.mark.parametrize(
    "covariance_type", [c for c in COVARIANCE_TYPES if c not in ("E", "V", "VVV", "EEE")]
)
@pytest.mark.parametrize("d", [2, 5, 9])
def test_e_step_equals_per_pattern_path(covariance_type, d):
    X, w = _data(3000, d, 3, 0.3, seed=d)
    gm = GaussianMixture(3, covariance_type=covariance_type, max_iter=3, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not converged in 3 iterations
        gm.fit(X)
    std = gm._standardiser
    Xt, patterns = std.transform(X), Patterns.of(X)
    assert patterns.n_mis.max() >= 1

    def step():
        return missing_mod.e_step(gm._structure, Xt, w, gm._params, patterns, std.log_scale)

    a, b = _both_paths(step)
    for field in a._fields:
        x, y = np.asarray(getattr(a, field)), np.asarray(getattr(b, field))
        np.testing.assert_allclose(y, x, rtol=1e-10, atol=1e-10 * max(1.0, np.abs(x).max()))


def test_rows_scores_and_imputations_equal_per_pattern_path():
    X, _ = _data(2000, 6, 4, 0.25, seed=7)
    gm = GaussianMixture(4, random_state=0).fit(X)
    a, b = _both_paths(lambda: (gm.score_samples(X), gm.predict_proba(X), gm.impute(X)))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(y, x, rtol=1e-10, atol=1e-10)


def test_fits_equal_per_pattern_path():
    X, w = _data(1500, 4, 2, 0.2, seed=11)
    a, b = _both_paths(
        lambda: GaussianMixture(2, random_state=0, tol=1e-8).fit(X, sample_weight=w + 0.1)
    )
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_allclose(b.means_, a.means_, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(b.covariances_, a.covariances_, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(b.log_likelihood_, a.log_likelihood_, rtol=1e-10)


def test_bit_identical_across_thread_counts(monkeypatch):
    # 3 tasks of rows: threads split them differently, the task sums must not move
    X, w = _data(3 * 2048 + 100, 5, 3, 0.2, seed=5)
    gm = GaussianMixture(3, max_iter=2, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(X)
    std = gm._standardiser
    Xt, patterns = std.transform(X), Patterns.of(X)
    missing_mod.PATTERN_ROWS = 10**12

    def step():
        return missing_mod.e_step(gm._structure, Xt, w, gm._params, patterns, std.log_scale)

    with serial_kernels():
        serial = step()
    monkeypatch.setenv("BAYESMIX_NUM_THREADS", "3")
    threaded = step()
    for field in serial._fields:
        a, b = np.asarray(getattr(serial, field)), np.asarray(getattr(threaded, field))
        assert np.array_equal(a, b)


def test_switch_picks_one_pass_for_many_small_patterns():
    X, _ = _data(4000, 8, 2, 0.1, seed=2)
    patterns = Patterns.of(X)
    assert missing_mod.use_row_kernel(patterns, 2)
    X3 = np.random.default_rng(0).normal(size=(30_000, 8))
    X3[:10_000, 0] = np.nan
    X3[10_000:20_000, -2:] = np.nan
    assert not missing_mod.use_row_kernel(Patterns.of(X3), 2)
