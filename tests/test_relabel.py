"""Label switching and partition summaries, against exact answers: known
permutations, brute-force enumeration of all set partitions, and direct
formulas (scikit-learn's mutual information as an independent check)."""

import numpy as np
import pytest

from bayesmix import _partition, _relabel


def set_partitions(n):
    """Every partition of range(n) as a canonical label vector (restricted
    growth strings)."""

    def grow(prefix, k):
        if len(prefix) == n:
            yield np.array(prefix)
            return
        for label in range(k + 1):
            yield from grow([*prefix, label], max(k, label + 1))

    yield from grow([0], 1)


def noisy_draws(rng, truth, n_draws, flip):
    """Partitions around ``truth`` with each row moved to a random label with
    probability ``flip``, and labels randomly renamed in every draw."""
    k = truth.max() + 2
    draws = np.tile(truth, (n_draws, 1))
    move = rng.random(draws.shape) < flip
    draws[move] = rng.integers(0, k, size=move.sum())
    rename = np.array([rng.permutation(k) for _ in range(n_draws)])
    return np.take_along_axis(rename, draws, axis=1)


# ------------------------------------------------------------- relabelling
def test_stephens_recovers_random_permutations(rng):
    n_draws, n_rows, k = 60, 40, 4
    base = rng.dirichlet(np.full(k, 0.3), size=n_rows)
    probs = np.empty((n_draws, n_rows, k))
    true_perm = np.array([rng.permutation(k) for _ in range(n_draws)])
    for s in range(n_draws):
        noisy = base + 0.05 * rng.random((n_rows, k))
        noisy /= noisy.sum(axis=1, keepdims=True)
        probs[s][:, true_perm[s]] = noisy  # slot true_perm[s, j] carries label j
    perm, converged = _relabel.stephens(probs, pivot=0)
    assert converged
    # Labels are defined up to one global permutation (the pivot's numbering).
    relabelled = perm[:, np.argsort(perm[0])]
    aligned = true_perm[:, np.argsort(true_perm[0])]
    np.testing.assert_array_equal(relabelled, aligned)
    np.testing.assert_array_equal(np.sort(perm, axis=1), np.tile(np.arange(k), (n_draws, 1)))


def test_match_parameters_recovers_permutations_and_ignores_unused_slots(rng):
    n_draws, k, d = 50, 3, 2
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    means = np.empty((n_draws, k, d))
    covs = np.tile(np.eye(d), (n_draws, k, 1, 1))
    true_perm = np.array([rng.permutation(k) for _ in range(n_draws)])
    for s in range(n_draws):
        means[s, true_perm[s]] = centres + 0.3 * rng.normal(size=(k, d))
    means[5, true_perm[5, 2]] = np.nan  # an unused slot in one draw
    perm, converged = _relabel.match_parameters(means, covs, pivot=0)
    assert converged
    out = _relabel.apply_permutation(means, perm, axis=1)
    ref = out[0]
    for s in range(n_draws):
        used = np.isfinite(out[s]).all(axis=1)
        assert np.abs(out[s][used] - ref[used]).max() < 2.0
    # The unused slot of draw 5 ended on the label left over: label 2's position.
    assert np.isnan(out[5]).all(axis=1).sum() == 1


def test_apply_permutation_on_inner_axis():
    arr = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    perm = np.array([[2, 0, 1, 3], [3, 2, 1, 0]])
    out = _relabel.apply_permutation(arr, perm, axis=2)
    for s in range(2):
        np.testing.assert_array_equal(out[s], arr[s][:, perm[s]])


# ------------------------------------------------------------ partitions
def test_canonical_numbers_by_first_appearance():
    np.testing.assert_array_equal(_partition.canonical([7, 7, 3, 9, 3]), [0, 0, 1, 2, 1])


def test_coclustering_matches_brute_force(rng):
    draws = rng.integers(0, 3, size=(25, 9))
    expected = np.mean([d[:, None] == d[None, :] for d in draws], axis=0)
    np.testing.assert_allclose(_partition.coclustering(draws), expected)


def test_expected_vi_matches_mutual_information_formula(rng):
    from sklearn import metrics

    draws = rng.integers(0, 4, size=(15, 30))
    labels = rng.integers(0, 3, size=30)

    def entropy(x):
        p = np.bincount(x) / x.size
        p = p[p > 0]
        return -(p * np.log(p)).sum()

    direct = np.mean(
        [entropy(labels) + entropy(d) - 2 * metrics.mutual_info_score(labels, d) for d in draws]
    )
    assert _partition.expected_vi(labels, draws) == pytest.approx(direct, abs=1e-12)


def test_expected_binder_matches_pair_count(rng):
    draws = rng.integers(0, 3, size=(20, 8))
    labels = rng.integers(0, 2, size=8)
    coclust = _partition.coclustering(draws)
    pairs = [(i, j) for i in range(8) for j in range(i + 1, 8)]
    direct = np.mean(
        [np.mean([(labels[i] == labels[j]) != (d[i] == d[j]) for i, j in pairs]) for d in draws]
    )
    assert _partition.expected_binder(labels, coclust) == pytest.approx(direct)


@pytest.mark.parametrize("loss", ["binder", "vi"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_minimise_loss_finds_the_global_minimum(loss, seed):
    """Against exhaustive search over all 877 partitions of 7 rows."""
    rng = np.random.default_rng(seed)
    truth = np.array([0, 0, 0, 1, 1, 2, 2])
    draws = noisy_draws(rng, truth, n_draws=40, flip=0.35)
    coclust = _partition.coclustering(draws)

    def value(c):
        if loss == "binder":
            return _partition.expected_binder(c, coclust)
        return _partition.expected_vi(c, draws)

    exhaustive = min(value(c) for c in set_partitions(7))
    labels, found = _partition.minimise_loss(draws, loss, max_candidates=5)
    assert found == pytest.approx(value(labels), abs=1e-12)
    assert found == pytest.approx(exhaustive, abs=1e-12)


def test_local_search_repairs_a_perturbed_start():
    """Single-row moves fix misplaced rows; a merged pair of clusters needs the
    split move (under VI a lone row never leaves), so the full search is run
    from the perturbed partition as the only candidate."""
    truth = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3])
    draws = np.tile(truth, (10, 1))
    start = truth.copy()
    start[[0, 4]] = 2  # two rows in the wrong cluster
    start[truth == 3] = 1  # and two clusters merged
    coclust = _partition.coclustering(draws)
    m = 1.0 - 2.0 * coclust
    np.fill_diagonal(m, 0.0)
    binder = _partition._sweep_binder(_partition.canonical(start), m, max_sweeps=20)
    np.testing.assert_array_equal(_partition.canonical(binder), truth)
    codes, n_labels = _partition._dense(draws)
    vi = _partition._sweep_vi(_partition.canonical(start), codes, n_labels, max_sweeps=20)
    assert (vi != truth).sum() == 3  # rows moved back; the merged pair stays merged
    # With the draws withheld from the candidates, the search starts at `start`.
    labels, _value = _partition.minimise_loss(draws, "vi", candidates=start, max_candidates=0)
    np.testing.assert_array_equal(labels, truth)
