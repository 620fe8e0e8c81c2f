"""Initialisations (bayesmix._init, bayesmix._hierarchical): the model-based
hierarchical clustering against a brute-force implementation of its criterion
and against mclust's SVD transformation, determinism, frequency weights,
recovery of separated groups, the quantile classes of one-feature data, the
"auto" strategy and the validity of every method's responsibilities."""

import itertools
import warnings

import numpy as np
import pytest

from bayesmix import GaussianMixture
from bayesmix._hierarchical import (
    hierarchical_labels,
    hierarchical_resp,
    max_hierarchical_samples,
    quantile_labels,
    svd_scaled,
)
from bayesmix._init import INIT_METHODS, hierarchical_suits, initial_resp, random_rows
from bayesmix._kernels._hierarchical import agglomerate
from bayesmix.datasets import load_faithful


def blobs(rng, sizes, centres, scales):
    """Gaussian groups with the given sizes, centres and (D, D) scale matrices."""
    X = np.vstack(
        [
            c + rng.normal(size=(m, len(c))) @ A
            for m, c, A in zip(sizes, centres, scales, strict=True)
        ]
    )
    truth = np.repeat(np.arange(len(sizes)), sizes)
    return X, truth


def same_partition(a, b) -> bool:
    """True when the labellings ``a`` and ``b`` define the same groups."""
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


# --------------------------------------------------- brute-force reference
def brute_force_merges(Z, mass, alpha, beta, n_clusters):
    """The agglomeration done naively: at every step, score every pair of current
    groups from their member rows (scatter, determinant, trace) and merge the
    cheapest.  Returns the sequence of merged groups as frozensets of rows."""
    p = Z.shape[1]

    def term(rows):
        m = mass[rows].sum()
        mean = mass[rows] @ Z[rows] / m
        diff = Z[rows] - mean
        W = (diff * mass[rows, None]).T @ diff
        det = 0.0
        if len(rows) > p:
            sign, logdet = np.linalg.slogdet(W / m)
            det = np.exp(logdet) if sign > 0 else 0.0
        return m * np.log(det + beta * (np.trace(W) + alpha) / m)

    groups = [[i] for i in range(len(Z))]
    merges = []
    while len(groups) > n_clusters:
        best = None
        for a, b in itertools.combinations(range(len(groups)), 2):
            cost = term(groups[a] + groups[b]) - term(groups[a]) - term(groups[b])
            if best is None or cost < best[0]:
                best = (cost, a, b)
        _, a, b = best
        merged = groups[a] + groups[b]
        merges.append(frozenset(merged))
        groups = [g for i, g in enumerate(groups) if i not in (a, b)] + [merged]
    return merges


def kernel_merges(Z, mass, alpha, beta, n_clusters):
    n = len(Z)
    parent = np.empty(n, dtype=np.int64)
    steps = np.empty((n - n_clusters, 3))
    agglomerate(np.ascontiguousarray(Z), mass, alpha, beta, n_clusters, parent, steps)
    members = {i: [i] for i in range(n)}
    merges = []
    for i, j, _ in steps:
        members[int(i)] = members[int(i)] + members.pop(int(j))
        merges.append(frozenset(members[int(i)]))
    return merges, parent


@pytest.mark.parametrize("n_features", [1, 2, 3])
def test_agglomeration_matches_brute_force(n_features):
    rng = np.random.default_rng(n_features)
    Z = rng.normal(size=(22, n_features)) * rng.uniform(0.5, 2.0, size=n_features)
    Z[:8] += 3.0
    mass = rng.integers(1, 4, size=len(Z)).astype(float)
    for alpha, beta in ((0.3, 1.0), (2.0, 0.5)):
        got, parent = kernel_merges(Z, mass, alpha, beta, 1)
        assert got == brute_force_merges(Z, mass, alpha, beta, 1)
        # every row ends in the survivor
        root = parent.copy()
        for _ in range(len(Z)):
            root = root[root]
        assert np.unique(root).tolist() == [0]


def test_svd_scaled_is_mclusts_transformation():
    # mclust's "SVD" hcUse: scale(X) %*% V %*% diag(1 / sqrt(d)), d the singular
    # values of the scaled data -- computed here with an SVD instead of eigh.
    X = load_faithful()
    S = (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)
    _, d, Vt = np.linalg.svd(S, full_matrices=False)
    expected = S @ Vt.T / np.sqrt(d)
    got = svd_scaled(X, np.ones(len(X)))
    order = np.argsort(-got.var(axis=0))  # eigh sorts ascending, the SVD descending
    got = got[:, order]
    signs = np.sign((got * expected).sum(axis=0))
    np.testing.assert_allclose(got * signs, expected, atol=1e-12)


def test_svd_scaled_weights_equal_repeated_rows_and_drops_null_directions():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    w = rng.integers(1, 4, size=40)
    a = svd_scaled(X, w.astype(float))
    b = svd_scaled(np.repeat(X, w, axis=0), np.ones(w.sum()))
    np.testing.assert_allclose(np.abs(np.repeat(a, w, axis=0)), np.abs(b), atol=1e-12)
    # a constant column and a collinear one carry no direction
    Y = np.column_stack([X[:, 0], np.full(40, 7.0), X[:, 1], X[:, 0] + X[:, 1]])
    assert svd_scaled(Y, np.ones(40)).shape == (40, 2)


# ------------------------------------------------------ hierarchical_labels
def test_hierarchical_labels_deterministic_and_order_free():
    X = load_faithful()
    labels = hierarchical_labels(X, np.ones(len(X)), 4)
    np.testing.assert_array_equal(hierarchical_labels(X, np.ones(len(X)), 4), labels)
    perm = np.random.default_rng(1).permutation(len(X))
    np.testing.assert_array_equal(hierarchical_labels(X[perm], np.ones(len(X)), 4), labels[perm])


def test_hierarchical_labels_weights_equal_repeated_rows():
    rng = np.random.default_rng(2)
    X, _ = blobs(rng, [30, 20, 25], [[0, 0], [4, 1], [1, 5]], [np.eye(2)] * 3)
    w = rng.integers(1, 5, size=len(X))
    Xr = np.repeat(X, w, axis=0)
    for k in (2, 3, 5):
        a = hierarchical_labels(X, w.astype(float), k)
        np.testing.assert_array_equal(np.repeat(a, w), hierarchical_labels(Xr, np.ones(len(Xr)), k))
        # weights in other units: the same partition
        np.testing.assert_array_equal(hierarchical_labels(X, 0.01 * w, k), a)


@pytest.mark.parametrize("n_components", [1, 2, 3, 6, 9])
def test_hierarchical_labels_gives_k_nonempty_groups(n_components):
    X = load_faithful()
    labels = hierarchical_labels(X, np.ones(len(X)), n_components)
    assert labels.min() == 0 and labels.max() == n_components - 1
    assert (np.bincount(labels) > 0).all()


def test_hierarchical_labels_with_as_many_groups_as_distinct_rows():
    X = np.array([[0.0, 1.0], [2.0, 3.0], [0.0, 1.0], [5.0, 5.0]])
    labels = hierarchical_labels(X, np.ones(4), 3)
    assert labels[0] == labels[2] and len(set(labels.tolist())) == 3
    with pytest.raises(ValueError, match="distinct rows"):
        hierarchical_labels(X, np.ones(4), 4)


@pytest.mark.parametrize("n_features", [2, 5])
def test_hierarchical_labels_recovers_separated_groups(n_features):
    rng = np.random.default_rng(n_features)
    k = 4
    centres = rng.normal(size=(k, n_features)) * 12.0
    # unequal sizes and shapes: elongated, round, small and tight
    scales = [np.diag(rng.uniform(0.3, 2.0, size=n_features)) for _ in range(k)]
    scales[0][0, 0] = 4.0
    X, truth = blobs(rng, [120, 80, 25, 60], centres, scales)
    labels = hierarchical_labels(X, np.ones(len(X)), k)
    assert same_partition(labels, truth)


# ------------------------------------------------------- quantile classes
def test_quantile_labels_equal_weight_classes():
    x = np.arange(100.0)
    labels = quantile_labels(x, np.ones(100), 4)
    np.testing.assert_array_equal(np.bincount(labels), [25, 25, 25, 25])
    assert (np.diff(labels) >= 0).all()  # classes are intervals, ordered by value


def test_quantile_labels_weights_ties_and_units():
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(size=60), 1)  # many ties
    w = rng.integers(1, 4, size=60)
    xr = np.repeat(x, w)
    for k in (2, 3, 7):
        a = quantile_labels(x, w.astype(float), k)
        np.testing.assert_array_equal(np.repeat(a, w), quantile_labels(xr, np.ones(len(xr)), k))
        np.testing.assert_array_equal(quantile_labels(x, 3.5 * w, k), a)
        assert np.unique(a).size == k
        # equal values share a class
        for value in np.unique(x):
            assert np.unique(a[x == value]).size == 1
    # a value holding most of the weight cannot empty a class
    y = np.r_[np.zeros(50), [1.0, 2.0, 3.0]]
    assert np.unique(quantile_labels(y, np.ones(53), 4)).size == 4


# -------------------------------------------------- responsibilities / auto
def valid(resp, n_samples, n_components):
    assert resp.shape == (n_samples, n_components)
    assert np.isfinite(resp).all() and (resp >= 0).all()
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("method", INIT_METHODS)
@pytest.mark.parametrize("n_features", [1, 3])
def test_every_method_gives_valid_responsibilities(method, n_features):
    rng = np.random.default_rng(4)
    X, _ = blobs(rng, [40, 30, 30], rng.normal(size=(3, n_features)) * 5, [np.eye(n_features)] * 3)
    Xt = np.ascontiguousarray(X.T)
    w = rng.uniform(0.5, 2.0, size=len(X))
    w[::7] = 0.0  # zero-weight rows still get responsibilities
    for k in (1, 3):
        resp = initial_resp(method, Xt, w, k, np.random.default_rng(0))
        valid(resp, len(X), k)


def test_hierarchical_resp_is_one_hot_on_the_clustered_rows():
    X = load_faithful()
    Xt = np.ascontiguousarray(X.T)
    resp = hierarchical_resp(Xt, np.ones(len(X)), 3, np.random.default_rng(0))
    np.testing.assert_array_equal(resp.argmax(axis=1), hierarchical_labels(X, np.ones(len(X)), 3))
    assert set(np.unique(resp).tolist()) == {0.0, 1.0}


def test_hierarchical_resp_subsamples_large_data():
    rng = np.random.default_rng(5)
    X, truth = blobs(rng, [3000, 2000, 1000], [[0, 0], [12, 0], [0, 12]], [np.eye(2)] * 3)
    Xt = np.ascontiguousarray(X.T)
    w = np.ones(len(X))
    a = hierarchical_resp(Xt, w, 3, np.random.default_rng(7), max_samples=300)
    valid(a, len(X), 3)
    assert same_partition(a.argmax(axis=1), truth)
    b = hierarchical_resp(Xt, w, 3, np.random.default_rng(7), max_samples=300)
    np.testing.assert_array_equal(a, b)  # the subsample comes from the generator
    # repeated rows are merged before deciding to subsample: exact, not sampled
    few = np.repeat(X[:200], 20, axis=0)
    r = hierarchical_resp(np.ascontiguousarray(few.T), np.ones(len(few)), 3, None, 300)
    np.testing.assert_array_equal(
        r.argmax(axis=1), np.repeat(hierarchical_labels(X[:200], np.ones(200), 3), 20)
    )


def test_max_hierarchical_samples_shrinks_with_features():
    caps = [max_hierarchical_samples(p) for p in (1, 8, 16, 32, 64, 1000)]
    assert caps[:3] == [2000, 2000, 2000]
    assert caps == sorted(caps, reverse=True) and caps[-1] >= 100


def test_auto_starts_hierarchical_then_draws_restarts():
    X = load_faithful()
    Xt = np.ascontiguousarray(X.T)
    w = np.ones(len(X))
    hc = initial_resp("hierarchical", Xt, w, 4, np.random.default_rng(0))
    rng = np.random.default_rng(11)
    np.testing.assert_array_equal(initial_resp("auto", Xt, w, 4, rng), hc)
    later = [initial_resp("auto", Xt, w, 4, rng) for _ in range(3)]
    for resp in later:
        valid(resp, len(X), 4)
        assert not np.array_equal(resp, hc)
    # an explicit index overrides the inference from the generator
    used = np.random.default_rng(1)
    used.random()
    np.testing.assert_array_equal(initial_resp("auto", Xt, w, 4, used, init_index=0), hc)
    fresh = np.random.default_rng(1)
    assert not np.array_equal(initial_resp("auto", Xt, w, 4, fresh, init_index=2), hc)


def test_auto_uses_kmeans_when_groups_are_too_small_for_their_dimension():
    assert hierarchical_suits(272, 2, 6)
    assert hierarchical_suits(50, 1, 10)
    assert not hierarchical_suits(100_000, 64, 10)
    rng = np.random.default_rng(6)
    X = rng.normal(size=(60, 10))
    Xt = np.ascontiguousarray(X.T)
    w = np.ones(60)
    assert not hierarchical_suits(60, 10, 4)
    np.testing.assert_array_equal(
        initial_resp("auto", Xt, w, 4, np.random.default_rng(2)),
        initial_resp("kmeans", Xt, w, 4, np.random.default_rng(2)),
    )


def test_random_rows_draws_distinct_weighted_points():
    rng = np.random.default_rng(8)
    X = np.repeat(rng.normal(size=(6, 2)), [1, 1, 1, 1, 1, 50], axis=0)
    w = np.ones(len(X))
    w[0] = 0.0
    Xt = np.ascontiguousarray(X.T)
    for seed in range(20):
        centres = random_rows(Xt, w, 5, np.random.default_rng(seed))
        assert np.unique(centres, axis=0).shape[0] == 5
        assert not (centres == X[0]).all(axis=1).any()  # zero weight: never drawn


@pytest.mark.parametrize("init_params", ["auto", "random_from_data", "hierarchical"])
def test_fit_weights_equal_repeated_rows(init_params):
    rng = np.random.default_rng(9)
    X, _ = blobs(rng, [60, 40], [[0, 0], [3, 3]], [np.eye(2), np.diag([2.0, 0.5])])
    w = rng.integers(1, 4, size=len(X))
    kw = dict(n_components=3, init_params=init_params, n_init=4, random_state=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # only the agreement matters here
        a = GaussianMixture(**kw).fit(X, sample_weight=w)
        b = GaussianMixture(**kw).fit(np.repeat(X, w, axis=0))
    np.testing.assert_allclose(a.log_likelihood_, b.log_likelihood_, rtol=1e-10)
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-8, atol=1e-10)


def test_hierarchical_resp_on_degenerate_data():
    rng = np.random.default_rng(10)
    # a subsample of nearly all-equal rows still yields as many groups as asked
    X = np.zeros((20_000, 2))
    X[:4] = rng.normal(size=(4, 2)) + 10.0
    resp = hierarchical_resp(np.ascontiguousarray(X.T), np.ones(len(X)), 3, rng, max_samples=200)
    valid(resp, len(X), 3)
    assert np.unique(resp.argmax(axis=1)).size == 3
    # a constant column carries no direction and is left out of the clustering
    Y, truth = blobs(rng, [50, 50], [[0, 0], [8, 8]], [np.eye(2)] * 2)
    Y = np.column_stack([Y, np.full(100, 3.0)])
    assert same_partition(hierarchical_labels(Y, np.ones(100), 2), truth)


# ------------------------------------------- greedy reference, merge by merge
def greedy_reference(Z, mass, alpha, beta, n_clusters):
    """The greedy agglomeration done naively, in the kernel's own terms: at every
    step score every pair (i < j) of current clusters from its pooled weight,
    mean and scatter, and merge the cheapest into the lower index, ties going to
    the lowest (i, j).  Returns the (i, j) pairs in order and their costs."""
    n, p = Z.shape
    m = mass.astype(float).copy()
    mean = Z.astype(float).copy()
    scatter = np.zeros((n, p, p))
    rows = np.ones(n, dtype=int)

    def term(mk, W, rk):
        det = 0.0
        if rk > p:
            sign, logdet = np.linalg.slogdet(W / mk)
            det = np.exp(logdet) if sign > 0 else 0.0
        return mk * np.log(det + beta * (np.trace(W) + alpha) / mk)

    def pooled(i, j):
        mij = m[i] + m[j]
        d = mean[i] - mean[j]
        W = scatter[i] + scatter[j] + (m[i] * m[j] / mij) * np.outer(d, d)
        return mij, W, rows[i] + rows[j]

    terms = [term(m[i], scatter[i], 1) for i in range(n)]
    active = list(range(n))
    steps, costs = [], []
    while len(active) > n_clusters:
        best = None
        for a, i in enumerate(active):
            for j in active[a + 1 :]:
                c = term(*pooled(i, j)) - terms[i] - terms[j]
                if best is None or c < best[0]:
                    best = (c, i, j)
        c, i, j = best
        mij, W, rij = pooled(i, j)
        mean[i] = (m[i] * mean[i] + m[j] * mean[j]) / mij
        m[i], scatter[i], rows[i] = mij, W, rij
        terms[i] = term(mij, W, rij)
        active.remove(j)
        steps.append((i, j))
        costs.append(c)
    return np.array(steps), np.array(costs)


@pytest.mark.parametrize("n_features", [2, 3])
def test_agglomeration_merge_order_matches_greedy_reference(n_features):
    """The exact sequence of (i, j), which the kernel's lazily refreshed nearest
    neighbours and its fast paths (the determinant lemma for singletons, the
    vectorised factorisations) must not change; duplicated rows with equal
    weights make exact ties, which go to the lowest indices."""
    rng = np.random.default_rng(20 + n_features)
    n = 44
    Z = rng.normal(size=(n, n_features)) * rng.uniform(0.5, 2.0, size=n_features)
    Z[:12] += 2.5
    Z[18:26] *= 0.2  # a tight group: many merges into one cluster
    copies = [3, 3, 17, 25, 25, 25]
    Z[n - len(copies) :] = Z[copies]
    mass = rng.integers(1, 4, size=n).astype(float)
    mass[n - len(copies) :] = mass[copies]
    for weights, alpha, beta in ((mass, 0.3, 1.0), (mass * 0.37, 2.0, 0.5)):
        steps, costs = greedy_reference(Z, weights, alpha, beta, 1)
        parent = np.empty(n, dtype=np.int64)
        merges = np.empty((n - 1, 3))
        agglomerate(np.ascontiguousarray(Z), weights, alpha, beta, 1, parent, merges)
        np.testing.assert_array_equal(merges[:, :2].astype(np.int64), steps)
        np.testing.assert_allclose(merges[:, 2], costs, rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(parent[steps[:, 1]], steps[:, 0])


def test_agglomeration_ties_on_a_lattice_match_greedy_reference():
    """Points of a square lattice, equal weights: many pairs, and later many
    clusters, cost exactly the same; the kernel must break every tie as the
    reference does (lowest indices), its lazy bounds included."""
    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(np.arange(-2, 3), np.arange(-2, 3)), -1).reshape(-1, 2)
    Z = grid[rng.permutation(len(grid))].astype(float)
    for mass, alpha in ((np.ones(len(Z)), 0.3), (np.full(len(Z), 2.5), 1.0)):
        steps, costs = greedy_reference(Z, mass, alpha, 1.0, 1)
        parent = np.empty(len(Z), dtype=np.int64)
        merges = np.empty((len(Z) - 1, 3))
        agglomerate(Z, mass, alpha, 1.0, 1, parent, merges)
        np.testing.assert_array_equal(merges[:, :2].astype(np.int64), steps)
        np.testing.assert_allclose(merges[:, 2], costs, rtol=1e-9, atol=1e-12)
