"""Rank-one Cholesky update / downdate and the Student-t density, against
numpy and scipy."""

import numpy as np
import pytest
from scipy import stats

from bayesmix._components import student_t, student_t_log_norm
from bayesmix._kernels import log_prob_pass
from bayesmix._kernels._cholesky import (
    chol_downdate,
    chol_factor,
    chol_update,
    log_det_chol,
    mahalanobis_sq,
    upper_inverse,
)


def random_spd(rng, d):
    A = rng.normal(size=(d, d))
    return A @ A.T + d * np.eye(d)


def upper(A):
    R = np.linalg.cholesky(A).T.copy()
    return R, 1.0 / np.diag(R)


@pytest.mark.parametrize("d", [1, 2, 5, 33])
def test_factor_matches_numpy(d):
    A = random_spd(np.random.default_rng(d), d)
    R = np.full((d, d), np.nan)
    inv = np.empty(d)
    assert chol_factor(A, R, inv)
    np.testing.assert_allclose(R, np.linalg.cholesky(A).T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(inv, 1 / np.diag(R))
    B = A.copy()  # in place
    assert chol_factor(B, B, inv)
    np.testing.assert_allclose(B, R, rtol=1e-12, atol=1e-12)


def test_factor_reports_an_indefinite_matrix():
    A = np.array([[1.0, 2.0], [2.0, 1.0]])
    assert not chol_factor(A, np.empty((2, 2)), np.empty(2))


@pytest.mark.parametrize("d", [1, 2, 7, 64])
def test_update_then_downdate(d):
    rng = np.random.default_rng(10 + d)
    A = random_spd(rng, d)
    R, inv = upper(A)
    x = rng.normal(size=d) * 3
    chol_update(R, inv, x.copy())
    np.testing.assert_allclose(R.T @ R, A + np.outer(x, x), rtol=1e-11, atol=1e-10)
    np.testing.assert_allclose(R, np.linalg.cholesky(A + np.outer(x, x)).T, atol=1e-10)
    np.testing.assert_allclose(inv, 1 / np.diag(R), rtol=1e-14)
    assert np.all(np.tril(R, -1) == 0)
    assert chol_downdate(R, inv, x.copy())
    np.testing.assert_allclose(R.T @ R, A, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(log_det_chol(R), np.linalg.slogdet(A)[1], rtol=1e-10)


def test_downdate_reports_loss_of_definiteness():
    R, inv = upper(np.eye(3))
    assert not chol_downdate(R, inv, np.array([0.0, 1.5, 0.0]))


def test_many_moves_stay_accurate():
    """The Gibbs use: points join and leave a scale matrix thousands of times."""
    rng = np.random.default_rng(3)
    d = 4
    A = random_spd(rng, d)
    pts = rng.normal(size=(200, d))
    R, inv = upper(A)
    for _ in range(20):
        for p in pts:
            chol_update(R, inv, p.copy())
        for p in pts[::-1]:
            assert chol_downdate(R, inv, p.copy())
    np.testing.assert_allclose(R.T @ R, A, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("d", [1, 3, 20])
def test_mahalanobis(d):
    rng = np.random.default_rng(d)
    A = random_spd(rng, d)
    R, inv = upper(A)
    v = rng.normal(size=d)
    assert mahalanobis_sq(R, inv, v.copy()) == pytest.approx(v @ np.linalg.solve(A, v), rel=1e-12)


@pytest.mark.parametrize(("d", "dof"), [(1, 0.7), (2, 3.0), (4, 11.5), (10, 200.0)])
def test_student_t_matches_scipy(d, dof):
    rng = np.random.default_rng(d)
    S = random_spd(rng, d) / d
    R, _ = upper(S)
    loc = rng.normal(size=d)
    x = rng.normal(size=(5, d)) * 3
    # one Student-t component of weight 1, through the shared kernel pass
    prec = np.linalg.inv(R)[None]  # U with U U^T = S^-1
    comps = student_t(np.zeros(1), loc[None], prec, np.array([dof]))
    got = np.empty(5)
    log_prob_pass(np.ascontiguousarray(x.T), *comps[:3], row_lse=got, dof=comps.dof)
    want = stats.multivariate_t(loc, S, df=dof).logpdf(x)
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-11)
    assert student_t_log_norm(dof, d) == pytest.approx(
        stats.multivariate_t(np.zeros(d), np.eye(d), df=dof).logpdf(np.zeros(d)), rel=1e-12
    )


def test_upper_inverse():
    rng = np.random.default_rng(8)
    R = np.stack([upper(random_spd(rng, 6))[0] for _ in range(3)])
    out = np.full_like(R, np.nan)
    upper_inverse(R, out)
    np.testing.assert_allclose(out @ R, np.broadcast_to(np.eye(6), R.shape), atol=1e-12)
    assert np.all(np.tril(out, -1) == 0)
