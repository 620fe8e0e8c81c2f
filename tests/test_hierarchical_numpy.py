"""The numpy agglomeration (bayesmix._agglomerate) against the numba kernel it
stands in for: the same parents and the same merges, bit for bit, on data
chosen to reach every route of the kernel (the ``b`` term alone, the
determinant lemma, the direct factorisation, the logarithmic reference),
ties, duplicates, weights and degenerate shapes."""

import numpy as np
import pytest

from bayesmix import _hierarchical
from bayesmix._agglomerate import agglomerate_numpy
from bayesmix._hierarchical import Agglomeration, svd_scaled
from bayesmix._kernels._hierarchical import agglomerate


def _prepared(Y, w):
    """Distinct rows in svd coordinates, scale-free masses and mclust's alpha,
    as :class:`bayesmix._hierarchical.Agglomeration` hands them to the kernel."""
    distinct, inverse = np.unique(Y, axis=0, return_inverse=True)
    mass = np.bincount(inverse.reshape(-1), weights=w, minlength=len(distinct))
    mass = mass / np.median(mass)
    Z = np.ascontiguousarray(svd_scaled(distinct, mass))
    centred = Z - (mass @ Z) / mass.sum()
    alpha = float((mass @ (centred * centred)).sum() / (mass.sum() * Z.shape[1]))
    return Z, mass, max(alpha, np.finfo(float).eps)


def _both(Z, mass, alpha, beta=1.0, n_clusters=1):
    n = Z.shape[0]
    out = []
    for run in (agglomerate, agglomerate_numpy):
        parent = np.full(n, -7, dtype=np.int64)
        merges = np.full((n - n_clusters, 3), np.nan)
        run(Z, mass, alpha, beta, n_clusters, parent, merges)
        out.append((parent, merges))
    return out


def _cases():
    rng = np.random.default_rng(20261206)
    cases = {}
    for n, p in [(40, 2), (400, 2), (250, 3), (200, 4), (150, 5), (120, 8), (80, 1)]:
        cases[f"normal-{n}x{p}"] = (rng.normal(size=(n, p)), np.ones(n))
    grid = np.array([[i, j] for i in range(10) for j in range(10)], dtype=float)
    cases["grid-ties"] = (grid, np.ones(100))
    cases["integers-duplicates"] = (rng.integers(0, 5, size=(300, 3)).astype(float), np.ones(300))
    cases["weights"] = (rng.normal(size=(200, 2)), rng.integers(1, 6, 200).astype(float))
    cases["real-weights"] = (rng.normal(size=(150, 3)), rng.uniform(0.01, 3.0, 150))
    two = np.r_[rng.normal(size=(100, 2)), 0.05 * rng.normal(size=(100, 2)) + 4.0]
    cases["separated"] = (two, np.ones(200))
    cases["collinear"] = (np.outer(rng.normal(size=150), [1.0, -2.0]), np.ones(150))
    cases["tiny-spread"] = (1.0 + 1e-9 * rng.normal(size=(150, 4)), np.ones(150))
    cases["heavy-tails"] = (rng.standard_cauchy(size=(200, 3)), np.ones(200))
    cases["many-features"] = (rng.normal(size=(90, 12)), np.ones(90))
    # flat clusters: near-singular scatters take the direct and logarithmic routes
    flat = rng.normal(size=(160, 5)) * np.array([1.0, 1.0, 1e-7, 1e-7, 1e-7])
    cases["flat"] = (flat, np.ones(160))
    # tight groups in many features: determinants below 1e-100, the logarithmic route
    tight = [rng.normal(size=(30, 10)) * 1e-6 + c for c in (0.0, 1.0)]
    cases["log-route"] = (np.r_[tight[0], tight[1], rng.normal(size=(30, 10))], np.ones(90))
    return cases


CASES = _cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_numpy_agglomeration_is_the_kernel_bit_for_bit(name):
    Y, w = CASES[name]
    Z, mass, alpha = _prepared(Y, w)
    (pk, mk), (pn, mn) = _both(Z, mass, alpha)
    np.testing.assert_array_equal(pn, pk)
    np.testing.assert_array_equal(mn, mk)  # pairs and merge costs, to the last bit


def test_other_beta_and_a_partial_agglomeration():
    rng = np.random.default_rng(3)
    Z, mass, alpha = _prepared(rng.normal(size=(120, 3)), rng.integers(1, 4, 120).astype(float))
    for beta, n_clusters in [(0.5, 1), (2.0, 7), (1.0, 120)]:
        (pk, mk), (pn, mn) = _both(Z, mass, alpha, beta, n_clusters)
        np.testing.assert_array_equal(pn, pk)
        np.testing.assert_array_equal(mn, mk)


def test_labels_do_not_depend_on_which_ran(monkeypatch):
    rng = np.random.default_rng(5)
    Y = np.r_[rng.normal(size=(150, 2)), rng.normal(size=(150, 2)) + 3.0]
    w = np.ones(300)
    labels = {}
    for kernel in (False, True):
        monkeypatch.setattr(_hierarchical, "uses_kernel", lambda n, p, k=kernel: k)
        _hierarchical._CACHE.clear()
        labels[kernel] = [Agglomeration(Y, w).labels(k) for k in (2, 3, 5)]
    for a, b in zip(labels[False], labels[True], strict=True):
        np.testing.assert_array_equal(a, b)


def test_numpy_only_for_small_problems():
    def numpy_ok(n, p):
        return _hierarchical.numpy_seconds(n, p) <= _hierarchical.NUMPY_SECONDS

    assert numpy_ok(500, 2) and numpy_ok(300, 5) and numpy_ok(100, 16)
    assert not numpy_ok(2000, 2) and not numpy_ok(400, 16)
    # a process that holds the compiled kernel (this one, by now) uses it
    agglomerate(np.zeros((1, 2)), np.ones(1), 1.0, 1.0, 1, np.empty(1, np.int64), np.empty((0, 3)))
    assert _hierarchical.uses_kernel(10, 2)
