"""The Gibbs kernels' shortcuts against what they replace: the vectorised
triangular solves and rank-one updates (same bits as the plain loops), the
merge test from the clusters' posteriors (the union's ``Psi_n`` in closed
form), the posteriors the split-merge proposals keep current (the bits of a
rebuild from the labels), and the block kernel's log joint from the one
scatter pass per iteration (the log joint of the kept partition)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit

from bayesmix import NormalInverseWishart
from bayesmix._gibbs_core import _Chain, log_joint
from bayesmix._gibbs_hyper import HyperState, log_hyperprior, model_at, prepare, resolve_prior
from bayesmix._gibbs_model import prepare_model
from bayesmix._kernels import _gibbs as G
from bayesmix._kernels._cholesky import chol_update, mahalanobis_sq


def _random_stacks(rng, n_slots, d):
    means = rng.normal(size=(n_slots, d))
    R = np.empty((n_slots, d, d))
    inv = np.empty((n_slots, d))
    for k in range(n_slots):
        A = rng.normal(size=(2 * d + 3, d))
        R[k] = np.linalg.cholesky(A.T @ A + np.eye(d)).T
        inv[k] = 1.0 / np.diag(R[k])
    return means, R, inv


@pytest.mark.parametrize("d", [1, 2, 8, 16, 40, 130])
def test_quad_and_row_updates_give_the_plain_loops_bits(d):
    rng = np.random.default_rng(d)
    means, R, inv = _random_stacks(rng, 3, d)
    work = np.empty(d)
    for k in range(3):
        x = rng.normal(size=d)
        q = G._quad(x[None, :], 0, k, means, R, inv, work)
        assert q == mahalanobis_sq(R[k], inv[k], x - means[k])
        assert q == pytest.approx(
            (x - means[k]) @ np.linalg.solve(R[k].T @ R[k], x - means[k]), rel=1e-9
        )
    # a row joins slot 1: the Givens rotations of chol_update, bit for bit
    kappa0 = 0.5
    counts = np.array([4, 6, 3])
    x = rng.normal(size=d)
    kap = kappa0 + counts[1]
    v = (x - means[1]) * math.sqrt(kap / (kap + 1.0))
    R_ref, inv_ref = R[1].copy(), inv[1].copy()
    chol_update(R_ref, inv_ref, v)
    logdet = np.zeros(3)
    G._add_row(x[None, :], 0, 1, counts, means, R, inv, logdet, kappa0, work, 1)
    np.testing.assert_array_equal(R[1], R_ref)
    np.testing.assert_array_equal(inv[1], inv_ref)
    assert counts[1] == 7
    # and leaves again: back to the factor it had, to rounding
    assert G._remove_row(x[None, :], 0, 1, counts, means, R, inv, logdet, kappa0, work, 1)
    assert logdet[1] == pytest.approx(2.0 * np.log(np.diag(R[1])).sum(), rel=1e-12)
    # m copies at once: the factor of Psi_n plus kappa_n m / (kappa_n + m) v v^T
    # (m identical rows, Murphy 2007), and back
    m = 5
    R0_, logdet0 = R[1].copy(), logdet[1]
    kap = kappa0 + counts[1]
    u = x - means[1]
    want = R0_.T @ R0_ + kap * m / (kap + m) * np.outer(u, u)
    G._add_row(x[None, :], 0, 1, counts, means, R, inv, logdet, kappa0, work, m)
    np.testing.assert_allclose(R[1].T @ R[1], want, rtol=1e-10, atol=1e-10)
    assert counts[1] == 6 + m
    assert G._remove_row(x[None, :], 0, 1, counts, means, R, inv, logdet, kappa0, work, m)
    np.testing.assert_allclose(R[1].T @ R[1], R0_.T @ R0_, rtol=1e-9, atol=1e-9)
    assert logdet[1] == pytest.approx(logdet0, rel=1e-9, abs=1e-9)


def _posteriors(X, labels, K, prior, cap):
    mean0, psi0, _, _, consts, _ = prior
    post = G._empty_posteriors(cap, X.shape[1])
    ones = np.ones(X.shape[0], dtype=np.int64)
    G._build_posteriors(X, ones, labels, K, mean0, psi0, consts[0], post)
    return post


def _niw_scale_matrix(X, prior):
    """``Psi_n`` of the rows ``X`` under ``prior`` (numpy, from the definition)."""
    m0, kappa0 = prior.mean, prior.kappa
    n = X.shape[0]
    xbar = X.mean(axis=0)
    S = (X - xbar).T @ (X - xbar)
    return prior.scale + S + kappa0 * n / (kappa0 + n) * np.outer(xbar - m0, xbar - m0)


@pytest.mark.parametrize("d", [1, 2, 5, 20])
def test_merged_log_det_is_that_of_the_union(d):
    rng = np.random.default_rng(10 + d)
    X = np.concatenate([rng.normal(size=(30, d)), rng.normal(size=(25, d)) * 0.5 + 3.0])
    labels = np.repeat(np.array([0, 1], dtype=np.int64), [30, 25])
    prior = NormalInverseWishart(mean=np.full(d, 0.3), kappa=0.2, dof=d + 2.0, scale=np.eye(d))
    m = prepare_model(X, prior)
    kp = m.kernel_prior
    post = _posteriors(m.X, labels, 2, kp, 2)
    M, inv, dv = np.empty((d, d)), np.empty(d), np.empty((3, d))
    ld = G._merged_log_det(0, 1, post, kp[0], kp[1], kp[4][0], M, inv, dv)
    sign, ref = np.linalg.slogdet(_niw_scale_matrix(m.X, m.prior))
    assert sign > 0 and ld == pytest.approx(ref, rel=1e-12, abs=1e-10)
    # the clusters' own log-determinants, likewise
    for k, rows in ((0, slice(0, 30)), (1, slice(30, 55))):
        _, ref_k = np.linalg.slogdet(_niw_scale_matrix(m.X[rows], m.prior))
        assert post[4][k] == pytest.approx(ref_k, rel=1e-12, abs=1e-10)


@njit(cache=False)
def _run_split_merge(X, labels, K, prior, n_proposals, seed, stats, post):
    np.random.seed(seed)  # noqa: NPY002 - numba's generator, as the kernels seed it
    ones = np.ones(X.shape[0], dtype=np.int64)
    atoms = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
    return G._split_merge_post(X, ones, labels, K, prior, 0.0, n_proposals, 1, stats, post, atoms)


@pytest.mark.parametrize(("d", "start"), [(2, "one"), (2, "many"), (5, "many")])
def test_split_merge_keeps_the_posteriors_of_its_labels(d, start):
    rng = np.random.default_rng(d)
    centres = rng.normal(size=(3, d)) * 6.0
    X = np.concatenate([c + rng.normal(size=(40, d)) for c in centres])
    prior = NormalInverseWishart(mean=X.mean(axis=0), kappa=0.01, dof=d + 2.0, scale=np.eye(d))
    m = prepare_model(X, prior)
    n = X.shape[0]
    if start == "one":
        labels, K = np.zeros(n, dtype=np.int64), 1
    else:  # more clusters than there are: merges get accepted
        K = 7
        labels = np.concatenate([np.arange(K), rng.integers(0, K, size=n - K)]).astype(np.int64)
    stats = np.zeros(4, dtype=np.int64)
    post = _posteriors(m.X, labels, K, m.kernel_prior, K + 100)
    K = _run_split_merge(m.X, labels, K, m.kernel_prior, 100, 3, stats, post)
    assert stats[1] + stats[3] > 0  # some proposal was accepted
    assert sorted(set(labels.tolist())) == list(range(K))
    ref = _posteriors(m.X, labels, K, m.kernel_prior, K)
    for got, want in zip(post, ref, strict=True):
        if got.ndim == 3:  # R and P: the upper triangles are the state
            got, want = np.triu(got[:K]), np.triu(want[:K])
        np.testing.assert_array_equal(got[:K], want[:K])


def test_block_log_joint_is_that_of_the_kept_partition():
    """The block kernel computes the log joint from the scatters it also hands to
    the next update of b: it equals the log joint of each kept partition at the
    kept b, computed from scratch."""
    rng = np.random.default_rng(7)
    X = np.concatenate([rng.normal(size=(50, 2)), rng.normal(size=(40, 2)) + 4.0])
    model, hyper = prepare(X, resolve_prior(NormalInverseWishart(), X))
    chain = _Chain(0, 1, model, 1.0, np.random.SeedSequence(4), hyper, 2)
    chain.advance(30, lambda it: it >= 20, lambda: None)
    assert len(chain.records) == 10
    n = X.shape[0]
    for _, lab, K, alpha, lj, b, kappa, _, _ in chain.records:
        hs = HyperState(b, kappa)
        mb = model_at(model, hyper, hs)
        mean0, psi0, _, _, consts, tables = mb.kernel_prior
        labels = lab.astype(np.int64)
        counts = np.zeros(K, np.int64)
        means, R = np.empty((K, 2)), np.empty((K, 2, 2))
        inv, logdet = np.empty((K, 2)), np.empty(K)
        ones = np.ones(n, dtype=np.int64)
        G._build_all(mb.X, ones, labels, K, mean0, psi0, consts[0], counts, means, R, inv, logdet)
        part = G._log_ml_sum(counts, logdet, K, consts, tables)
        ref = log_joint(part, K, alpha, n, 1.0) + mb.log_jacobian + log_hyperprior(hyper, hs)
        assert lj == pytest.approx(ref, rel=1e-12)
