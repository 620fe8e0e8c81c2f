"""DirichletProcessMixture() with default arguments only: the answers of issue
11 on real and simulated tables (slow, fixed seeds), and the ``n_iter="auto"``
run length (it stops, and says what it did)."""

import warnings

import numpy as np
import pytest

from bayesmix import gibbs
from bayesmix._gibbs_core import AUTO_FIRST_BLOCK, block_steps
from bayesmix.datasets import load_galaxies
from bayesmix.exceptions import ConvergenceWarning
from bayesmix.gibbs import DirichletProcessMixture


def blobs(seed=0, n=120):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    labels = rng.integers(0, 3, n)
    return centres[labels] + rng.standard_normal((n, 2)), labels


def clusters(n, d, k=10, seed=0):
    """``k`` spherical clusters in ``d`` dimensions, centres ``N(0, 1.5^2 I)``
    (benchmarks/bench_defaults.py's 1000 x 128 set at another size)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.0, (k, d)) * 1.5
    labels = rng.integers(0, k, n)
    return centres[labels] + rng.standard_normal((n, d)), labels


def mode(ks):
    values, counts = np.unique(np.asarray(ks).ravel(), return_counts=True)
    return int(values[np.argmax(counts)])


def ari(a, b):
    from sklearn.metrics import adjusted_rand_score

    return adjusted_rand_score(a, b)


# ------------------------------------------------------------------- "auto" run length
def test_auto_run_length_stops_when_the_chains_agree():
    X, _ = blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        m = DirichletProcessMixture(random_state=0, progress=False).fit(X)
    assert m.n_iter == "auto" and m.split_merge == "auto"
    assert m.converged_
    assert m.n_iter_ >= AUTO_FIRST_BLOCK
    # burn-in: the first half of each chain
    assert m.n_clusters_samples_.shape[1] == m.n_iter_ - m.n_iter_ // 2
    assert m.rhat_ <= 1.01 or np.isnan(m.rhat_)
    assert m.ess_ >= 400 or np.isnan(m.rhat_)
    assert mode(m.n_clusters_samples_) == 3


def test_auto_run_length_warns_when_the_budget_runs_out(monkeypatch):
    X, _ = blobs(1)
    DirichletProcessMixture(n_iter=2, random_state=0, progress=False).fit(X)  # compiled
    monkeypatch.setattr(gibbs, "AUTO_TIME_BUDGET", 0.0)  # one kernel call only
    with pytest.warns(ConvergenceWarning, match=r"R-hat.*ESS.*n_iter=") as record:
        m = DirichletProcessMixture(random_state=0, progress=False).fit(X)
    # the first block stops at the first call that used up the budget: one
    # call of block_steps iterations, not AUTO_FIRST_BLOCK
    calls = block_steps(*X.shape)
    assert calls < AUTO_FIRST_BLOCK
    assert m.n_iter_ == calls and not m.converged_
    assert m.n_clusters_samples_.shape[1] == calls - calls // 2
    assert "one row per observation" not in str(record[0].message)


def test_auto_run_length_first_block_ends_with_the_budget_and_names_the_copies(monkeypatch):
    """Frequency weights on rows with missing cells make many sampler rows (one
    per copy): one iteration can cost seconds, so the first block ends when the
    budget does, and the warning says why an iteration is slow.  The same seed
    gives the draws of an integer n_iter."""
    X, _ = blobs(3, n=40)
    X[::2, 1] = np.nan  # 20 rows with holes: 600 copies; 20 complete rows: 30 holders each
    w = np.full(40, 30)
    kw = dict(random_state=4, progress=False)
    monkeypatch.setattr(gibbs, "AUTO_TIME_BUDGET", 0.0)
    with pytest.warns(ConvergenceWarning, match=r"make 600 sampler rows of your 40"):
        m = DirichletProcessMixture(**kw).fit(X, sample_weight=w)
    assert m._X_fit.shape[0] == 1200
    calls = block_steps(1200, 2)
    assert m.n_iter_ == calls < AUTO_FIRST_BLOCK
    ref = DirichletProcessMixture(n_iter=calls, burn_in=calls // 2, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.fit(X, sample_weight=w)
    np.testing.assert_array_equal(m.labels_samples_, ref.labels_samples_)


def test_auto_run_length_is_reproducible_and_thins():
    X, _ = blobs(2, n=60)
    a = DirichletProcessMixture(random_state=3, progress=False, thin=2).fit(X)
    b = DirichletProcessMixture(random_state=3, progress=False, thin=2).fit(X)
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_array_equal(a.labels_samples_, b.labels_samples_)
    kept = len(range(a.n_iter_ // 2 + (a.n_iter_ // 2) % 2, a.n_iter_, 2))
    assert a.n_clusters_samples_.shape[1] == kept


class _FakeChain:
    """What ``restart_stranded`` reads of a chain: its records (the labels are
    the second field, the log joint the fifth) and ``restart_from``."""

    def __init__(self, log_joints, labels=None):
        if labels is None:
            labels = np.zeros((len(log_joints), 80), dtype=np.int16)
        self.records = [
            (t, lab, 1, 1.0, v, np.nan, np.nan)
            for t, (v, lab) in enumerate(zip(log_joints, labels, strict=True))
        ]
        self.source = None

    def restart_from(self, other):
        self.source = other
        self.records = []


def flipping(n_draws, n_flip, rng, n=80):
    """Draws of two clusters of ``n`` rows in which the first ``n_flip`` rows
    pick either cluster at random, under labels permuted at random."""
    out = np.zeros((n_draws, n), dtype=np.int64)
    out[:, n // 2 :] = 1
    out[:, :n_flip] = rng.integers(0, 2, (n_draws, n_flip))
    swap = rng.random(n_draws) < 0.5
    out[swap] = 1 - out[swap]
    return out


def test_partition_entropy_counts_the_rows_that_move():
    from bayesmix._gibbs_core import partition_entropy

    rng = np.random.default_rng(1)
    for n_flip in (0, 5, 30):
        h = partition_entropy(list(flipping(4000, n_flip, rng)), max_draws=4000)
        assert h == pytest.approx(n_flip * np.log(2.0), abs=0.02 * n_flip + 1e-9)


def test_a_chain_stranded_far_below_continues_from_the_best():
    from bayesmix._gibbs_core import RESTART_GAP, restart_stranded

    rng = np.random.default_rng(0)
    base = -1000.0 + rng.standard_normal(40)  # within-chain sd about 1
    chains = [_FakeChain(base + shift) for shift in (0.0, 0.5, -(RESTART_GAP + 12.0), -5.0)]
    out = restart_stranded(chains)
    assert out.shape == (1, 3)
    assert out[0, :2].tolist() == [2.0, 1.0]
    assert out[0, 2] == pytest.approx(RESTART_GAP + 12.5, abs=1.0)
    assert chains[2].source is chains[1] and chains[2].records == []
    assert all(ch.source is None for ch in (chains[0], chains[1], chains[3]))
    # chains whose own spread covers the gap are left for R-hat to judge
    wide = [_FakeChain(-1000.0 + 10.0 * rng.standard_normal(40) + s) for s in (0.0, -35.0)]
    assert restart_stranded(wide).shape == (0, 3) and wide[1].source is None
    assert restart_stranded([_FakeChain(base)]).shape == (0, 3)


def test_a_lower_mode_of_many_partitions_is_not_stranded():
    """25 nats lower per draw, but 36 rows move freely (entropy 36 log 2 = 25
    nats): that mode holds as much posterior mass, and both chains stay."""
    from bayesmix._gibbs_core import restart_stranded

    rng = np.random.default_rng(2)
    base = -1000.0 + rng.standard_normal(200)
    top = _FakeChain(base)
    wide = _FakeChain(base - 25.0, flipping(200, 36, rng))
    assert restart_stranded([top, wide]).shape == (0, 3)
    assert wide.source is None and top.source is None
    narrow = _FakeChain(base - 25.0, flipping(200, 5, rng))  # entropy 3.5: stranded
    out = restart_stranded([top, narrow])
    assert out.shape == (1, 3) and narrow.source is top


def test_an_integer_run_restarts_nothing():
    X, _ = blobs(3, n=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = DirichletProcessMixture(n_iter=30, random_state=0, progress=False).fit(X)
    assert m.chain_restarts_.shape == (0, 3)


def test_integer_n_iter_runs_exactly_that_long():
    X, _ = blobs(3, n=50)
    m = DirichletProcessMixture(n_iter=30, burn_in=10, random_state=0, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m.fit(X)
    assert m.n_iter_ == 30 and m.n_clusters_samples_.shape[1] == 20


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"n_iter": "long"}, TypeError, "n_iter"),
        ({"burn_in": 10}, ValueError, "burn_in"),
        ({"split_merge": "many"}, TypeError, "split_merge"),
    ],
)
def test_auto_arguments_are_checked(params, error, match):
    with pytest.raises(error, match=match):
        DirichletProcessMixture(progress=False, **params).fit(blobs(n=20)[0])


# -------------------------------------------------------------------- real tables
@pytest.mark.slow
def test_galaxies_number_of_clusters():
    """Richardson & Green (1997) and Escobar & West (1995) find about 5 to 8
    components in the galaxy velocities."""
    m = DirichletProcessMixture(random_state=0, progress=False).fit(load_galaxies())
    assert 5.0 <= m.n_clusters_samples_.mean() <= 8.0
    assert m.converged_


@pytest.mark.slow
def test_breast_cancer_chains_agree_after_a_stranded_chain_restarts(monkeypatch):
    """On scikit-learn's breast cancer table (standardised) one default chain in
    four settled in a mode 32 nats below the others, no merge of its clusters
    within 470 nats, and the log joint's R-hat stayed at 1.5; an "auto" run now
    restarts it from the best chain (the budget is cut to keep the test short)."""
    from sklearn.datasets import load_breast_cancer

    monkeypatch.setattr(gibbs, "AUTO_TIME_BUDGET", 20.0)
    data = load_breast_cancer()
    X = (data.data - data.data.mean(axis=0)) / data.data.std(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = DirichletProcessMixture(random_state=0, progress=False).fit(X)
    assert (m.chain_restarts_[:, 2] > 20.0).any()
    assert m.rhat_ < 1.05
    assert ari(data.target, m.labels_) > 0.7


@pytest.mark.slow
def test_wine_partition_follows_the_cultivars():
    from sklearn.datasets import load_wine

    wine = load_wine()
    X = (wine.data - wine.data.mean(axis=0)) / wine.data.std(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = DirichletProcessMixture(random_state=0, progress=False).fit(X)
    assert ari(wine.target, m.labels_) >= 0.75
    assert mode(m.n_clusters_samples_) in (3, 4)


def test_starting_partitions_avoid_paired_clusters():
    """k-means into fewer clusters than ten well-separated ones pairs them up, a
    partition from which no single split is uphill in 64 dimensions; each chain
    but the first starts from the most probable of the k-means partitions into
    K_c .. K_c + K0 clusters: far more probable, and nearer the ten clusters."""
    from bayesmix._gibbs_core import initial_labels
    from bayesmix._gibbs_hyper import log_partition_posterior, prepare, resolve_prior
    from bayesmix.priors import NormalInverseWishart

    X, y = clusters(600, 64)
    model, hyper = prepare(X, resolve_prior(NormalInverseWishart(), X))

    def score(labels, k):
        return log_partition_posterior(model, hyper, labels, k, 1.0)

    assert initial_labels(model.X, 1.0, np.random.default_rng(0), 0, 4, score).max() == 0
    for chain in (1, 2, 3):
        plain = initial_labels(model.X, 1.0, np.random.default_rng(chain), chain, 4)
        start = initial_labels(model.X, 1.0, np.random.default_rng(chain), chain, 4, score)
        assert plain.max() + 1 < 10  # K_c: below the truth
        assert score(start, start.max() + 1) > score(plain, plain.max() + 1) + 50.0
        assert ari(y, start) > max(0.85, ari(y, plain))


@pytest.mark.slow
def test_chains_agree_on_the_benchmark_clusters_in_128_dimensions():
    """benchmarks/bench_defaults.py's 1000 x 128 set, on which a chain started
    from its k-means pairs of clusters used to stay there (split R-hat 1.54 at
    the default time budget): every chain soon holds the ten clusters (the first
    chain starts from one cluster and splits its way there)."""
    X, y = clusters(1000, 128)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = DirichletProcessMixture(n_iter=100, random_state=0, progress=False).fit(X)
    assert (m.n_clusters_samples_[:, -25:] == 10).all()
    assert m.rhat_ < 1.05
    assert ari(y, m.labels_) > 0.99


@pytest.mark.slow
def test_high_dimensional_clusters_are_found():
    """Ten clusters in 128 dimensions (a smaller n than the benchmark's 1000):
    the first chain starts from one cluster and reaches the ten by splits, the
    others from the most probable k-means partition of K_c .. K_c + K0 clusters.  The
    run length is fixed (120 iterations) rather than "auto", whose time budget
    makes the number of iterations depend on the machine's load; at 80 about
    one chain in ten still holds nine clusters (13 seeds, 52 chains)."""
    X, y = clusters(400, 128)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = DirichletProcessMixture(n_iter=120, random_state=0, progress=False).fit(X)
    assert mode(m.n_clusters_samples_) == 10
    assert (m.n_clusters_samples_[:, -1] == 10).all()
    assert ari(y, m.labels_) > 0.95


def test_rows_of_large_integer_weight_move_with_their_copies():
    """Thirty rows with weights 20..199: exact copies favour clusters of their
    own, and the posterior puts each row alone.  Copies moved one at a time
    left chains stuck with two rows sharing a cluster (R-hat of the log joint
    2.8); moving a row's copies together (piece_moves: whole holders, parted
    copies joined) gets every chain there within the burn-in, holding each
    row's copies on at most MAX_PIECES rows."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(15, 2)), rng.normal(size=(15, 2)) + 6])
    w = rng.integers(20, 200, size=30)

    def fit():
        with warnings.catch_warnings():  # 100 kept draws: R-hat judged below
            warnings.simplefilter("ignore", ConvergenceWarning)
            return DirichletProcessMixture(n_iter=200, random_state=0, progress=False).fit(
                X, sample_weight=w
            )

    m = fit()
    assert (m.n_clusters_samples_ == 30).all() and m.rhat_ < 1.05
    assert m._X_fit.shape[0] == np.minimum(w, 32).sum() < w.sum()
    assert (m._mult_full.sum(axis=-1) == w.sum()).all()
