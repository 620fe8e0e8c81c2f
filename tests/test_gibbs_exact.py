"""The collapsed Gibbs sampler against the exact posterior.

On tiny data sets every set partition can be enumerated, so the posterior
over partitions is known exactly: the Chinese-restaurant-process prior times
the Normal-Inverse-Wishart marginal likelihood of each cluster.  The
marginal likelihood is written here from its closed form with
``scipy.special.multigammaln`` (and itself checked against the chain rule of
``scipy.stats.multivariate_t`` predictives), independently of the kernels.

The sampler's partition frequencies must match the exact posterior to within
the total-variation distance that independent draws of the same size would
show (times a small factor for autocorrelation), with and without split-merge
moves, at several concentrations; split-merge moves alone must leave the
posterior invariant; a learned concentration must have the marginal
posterior given by numerical integration; and on well-separated data the
posterior of the number of clusters must concentrate on the truth.
"""

import math

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import gammaln, multigammaln

from bayesmix._gibbs_model import prepare_model
from bayesmix._kernels._gibbs import canonical_labels, split_merge
from bayesmix.gibbs import DirichletProcessMixture
from bayesmix.priors import Gamma, NormalInverseWishart

X_1D = np.array([[-2.1], [-1.7], [-0.9], [0.6], [1.2], [2.6]])
PRIOR_1D = NormalInverseWishart(mean=[0.0], kappa=0.5, dof=3.0, scale=[[1.0]])
X_2D = np.array([[-1.0, 0.2], [-1.4, -0.3], [0.1, 0.1], [1.3, 0.8], [1.1, 1.5]])
PRIOR_2D = NormalInverseWishart(mean=[0.0, 0.3], kappa=0.3, dof=4.0, scale=[[0.8, 0.2], [0.2, 0.6]])
X_7 = np.array([[-3.0], [-2.2], [-1.9], [0.0], [0.4], [2.1], [2.5]])
NO_ATOMS = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))


# ------------------------------------------------------------------ ground truth
def set_partitions(n):
    """Every partition of ``range(n)`` as a restricted growth string (labels by
    order of first appearance, the sampler's canonical form)."""
    out = []

    def grow(prefix, n_blocks):
        if len(prefix) == n:
            out.append(tuple(prefix))
            return
        for label in range(n_blocks + 1):
            grow([*prefix, label], max(n_blocks, label + 1))

    grow([0], 1)
    return out


def niw_log_marginal(X, prior):
    """log p(X) of rows all in one cluster (Murphy 2007, eq. 266)."""
    n, d = X.shape
    m0, k0, nu0, psi0 = prior.mean, prior.kappa, prior.dof, prior.scale
    xbar = X.mean(axis=0)
    S = (X - xbar).T @ (X - xbar)
    kn, nun = k0 + n, nu0 + n
    psin = psi0 + S + k0 * n / kn * np.outer(xbar - m0, xbar - m0)
    return (
        -0.5 * n * d * np.log(np.pi)
        + multigammaln(0.5 * nun, d)
        - multigammaln(0.5 * nu0, d)
        + 0.5 * nu0 * np.linalg.slogdet(psi0)[1]
        - 0.5 * nun * np.linalg.slogdet(psin)[1]
        + 0.5 * d * np.log(k0 / kn)
    )


def log_crp(labels, alpha):
    sizes = np.bincount(labels)
    n = labels.size
    return sizes.size * np.log(alpha) + gammaln(sizes).sum() + gammaln(alpha) - gammaln(alpha + n)


def partition_table(X, prior):
    """Partitions, their number of blocks, ``sum_k lgamma(n_k)`` and log marginal
    likelihood."""
    parts = set_partitions(X.shape[0])
    K = np.empty(len(parts), dtype=int)
    lg = np.empty(len(parts))
    ml = np.empty(len(parts))
    for t, c in enumerate(parts):
        c = np.array(c)
        sizes = np.bincount(c)
        K[t] = sizes.size
        lg[t] = gammaln(sizes).sum()
        ml[t] = sum(niw_log_marginal(X[c == k], prior) for k in range(sizes.size))
    return parts, K, lg, ml


def exact_posterior(X, prior, alpha):
    parts, K, lg, ml = partition_table(X, prior)
    logp = K * np.log(alpha) + lg + ml
    p = np.exp(logp - logp.max())
    return parts, p / p.sum()


def frequencies(labels, parts):
    """Share of draws (n_chains, n_kept, n_samples) in each partition of ``parts``."""
    flat = np.asarray(labels).reshape(-1, labels.shape[-1]).astype(np.int64)
    keys, counts = np.unique(flat, axis=0, return_counts=True)
    index = {p: t for t, p in enumerate(parts)}
    freq = np.zeros(len(parts))
    for key, count in zip(keys, counts, strict=True):
        freq[index[tuple(key)]] += count
    return freq / flat.shape[0]


def tv(p, q):
    return 0.5 * np.abs(p - q).sum()


def iid_tv(p, n_draws, rng, reps=40):
    """Mean total-variation distance of ``n_draws`` independent draws from ``p``."""
    return np.mean([tv(rng.multinomial(n_draws, p) / n_draws, p) for _ in range(reps)])


def fit(X, prior, concentration, split_merge=True, n_iter=5100, seed=0, burn_in=100):
    return DirichletProcessMixture(
        concentration,
        prior,
        n_iter=n_iter,
        burn_in=burn_in,
        split_merge=split_merge,
        random_state=seed,
        progress=False,
    ).fit(X)


# ------------------------------------------------------------------------ tests
def test_marginal_likelihood_matches_chain_rule_of_student_t():
    """The test's closed form is itself right: p(x_1..x_n) = prod_i p(x_i | x_<i)
    with scipy's multivariate t (Murphy 2007, eq. 258)."""
    for X, prior in ((X_1D, PRIOR_1D), (X_2D, PRIOR_2D)):
        d = X.shape[1]
        total = 0.0
        for i in range(X.shape[0]):
            prev = X[:i]
            n = i
            kn, nun = prior.kappa + n, prior.dof + n
            if n:
                xbar = prev.mean(axis=0)
                S = (prev - xbar).T @ (prev - xbar)
                mn = (prior.kappa * prior.mean + n * xbar) / kn
                psin = (
                    S
                    + prior.scale
                    + prior.kappa * n / kn * np.outer(xbar - prior.mean, xbar - prior.mean)
                )
            else:
                mn, psin = prior.mean, prior.scale
            dof = nun - d + 1
            total += stats.multivariate_t(mn, psin * (kn + 1) / (kn * dof), df=dof).logpdf(X[i])
        assert total == pytest.approx(niw_log_marginal(X, prior), rel=1e-10)


def test_set_partitions_are_the_bell_numbers():
    assert [len(set_partitions(n)) for n in range(1, 8)] == [1, 2, 5, 15, 52, 203, 877]


@pytest.mark.parametrize(
    ("X", "prior", "alpha", "use_split_merge"),
    [
        (X_1D, PRIOR_1D, 0.5, False),
        (X_1D, PRIOR_1D, 0.5, True),
        (X_1D, PRIOR_1D, 3.0, False),
        (X_1D, PRIOR_1D, 3.0, True),
        (X_2D, PRIOR_2D, 1.0, False),
        (X_2D, PRIOR_2D, 1.0, True),
        (X_2D, PRIOR_2D, 0.2, True),
    ],
    ids=["1d-a0.5", "1d-a0.5-sm", "1d-a3", "1d-a3-sm", "2d-a1", "2d-a1-sm", "2d-a0.2-sm"],
)
def test_partition_frequencies_match_enumeration(X, prior, alpha, use_split_merge):
    check_against_enumeration(X, prior, alpha, use_split_merge)


def check_against_enumeration(X, prior, alpha, use_split_merge):
    """The sampler's partition frequencies against the exact posterior (and, for
    power, far from the posterior at another concentration)."""
    parts, p = exact_posterior(X, prior, alpha)
    model = fit(X, prior, alpha, split_merge=use_split_merge)
    freq = frequencies(model.labels_samples_, parts)
    n_draws = model.labels_samples_.shape[0] * model.labels_samples_.shape[1]
    reference = iid_tv(p, n_draws, np.random.default_rng(1))
    distance = tv(freq, p)
    print(f"TV {distance:.4f} (independent draws: {reference:.4f})")
    assert distance < 2.0 * reference + 0.005
    _, p_wrong = exact_posterior(X, prior, alpha * 2.5)
    assert tv(freq, p_wrong) > 4.0 * reference


def test_log_joint_of_every_kept_draw_is_exact():
    alpha = 1.3
    model = fit(X_2D, PRIOR_2D, alpha, n_iter=60, seed=3, burn_in=10)
    labels = model.labels_samples_.reshape(-1, X_2D.shape[0]).astype(int)
    expected = [
        log_crp(c, alpha)
        + sum(niw_log_marginal(X_2D[c == k], PRIOR_2D) for k in range(c.max() + 1))
        for c in labels
    ]
    np.testing.assert_allclose(model.log_joint_samples_.ravel(), expected, rtol=1e-10)
    np.testing.assert_array_equal(model.n_clusters_samples_.ravel(), labels.max(axis=1) + 1)


def test_split_merge_moves_alone_leave_the_posterior_invariant():
    """Only split-merge proposals, no Gibbs sweep: any error in the acceptance
    ratio or the launch-state bookkeeping shows here."""
    alpha = 1.5
    X, prior = X_1D, PRIOR_1D
    parts, p = exact_posterior(X, prior, alpha)
    m = prepare_model(X, prior)
    ones = np.ones(X.shape[0], dtype=np.int64)
    rng = np.random.default_rng(7)
    labels = np.zeros(X.shape[0], dtype=np.int64)
    K = 1
    stats_ = np.zeros(4, dtype=np.int64)
    canon = np.empty(X.shape[0], dtype=np.int64)
    work = np.empty(X.shape[0], dtype=np.int64)
    n_iter, draws = 30000, []
    for it in range(n_iter):
        K = split_merge(
            m.X, ones, labels, K, m.kernel_prior, math.log(alpha), 2, 3,
            int(rng.integers(2**63)), stats_, NO_ATOMS,
        )  # fmt: skip
        if it >= 200:
            canonical_labels(labels, canon, work)
            draws.append(canon.copy())
        assert labels.max() + 1 == K and np.unique(labels).size == K  # stays compact
    draws = np.array(draws)
    freq = frequencies(draws, parts)
    reference = iid_tv(p, draws.shape[0], np.random.default_rng(1))
    distance = tv(freq, p)
    print(f"split-merge only: TV {distance:.4f} (independent draws: {reference:.4f})")
    assert stats_[1] > 0 and stats_[3] > 0  # splits and merges both accepted
    assert distance < 3.0 * reference + 0.005


# repeated rows: a row and its copies, as integer weights make them (the rows
# are in no order: the sampler merges identical rows into one of weight 3, 2, 1)
X_DUP = np.array([[-2.0], [0.5], [-2.0], [1.8], [-2.0], [0.5]])
X_W2 = np.array([[-1.0, 0.2], [0.1, 0.1], [1.3, 0.8], [1.1, 1.5]])
W_W2 = np.array([2, 1, 2, 1])  # 6 observations in 2-D


def count_key(labels, atom, mult, n_atoms):
    """A state as the copies of each distinct row in each cluster, clusters
    unordered: what the sampler's state (and the model) can tell apart."""
    K = int(labels.max()) + 1
    M = np.zeros((K, n_atoms), dtype=np.int64)
    np.add.at(M, (labels, atom), mult)
    M = M[M.sum(axis=1) > 0]
    return tuple(sorted(tuple(int(v) for v in row) for row in M))


def exact_count_posterior(X, prior, alpha):
    """The exact posterior of the partitions of the rows of ``X`` (copies
    included), summed over the partitions that give the same copies of each
    distinct row in each cluster."""
    parts, p = exact_posterior(X, prior, alpha)
    _, atom = np.unique(X, axis=0, return_inverse=True)
    n_atoms = int(atom.max()) + 1
    out = {}
    for c, pc in zip(parts, p, strict=True):
        key = count_key(np.array(c), atom, np.ones(atom.size, dtype=np.int64), n_atoms)
        out[key] = out.get(key, 0.0) + pc
    return out


def sampler_counts(model):
    """The kept draws of a fit as :func:`count_key` states (atoms numbered by
    the sorted distinct rows, as ``np.unique`` numbers them)."""
    _, atom = np.unique(model._X_fit, axis=0, return_inverse=True)
    n_atoms = int(atom.max()) + 1
    labels = model._labels_full.reshape(-1, atom.size).astype(np.int64)
    if model._mult_full is None:
        mult = np.ones_like(labels)
    else:
        mult = model._mult_full.reshape(-1, atom.size).astype(np.int64)
    return [count_key(lab, atom, m, n_atoms) for lab, m in zip(labels, mult, strict=True)]


def check_counts_against_enumeration(model, exact, tol=2.0):
    keys = sampler_counts(model)
    states = list(exact)
    index = {k: t for t, k in enumerate(states)}
    freq = np.zeros(len(states))
    for k in keys:
        freq[index[k]] += 1  # a state the model gives no mass raises KeyError
    freq /= len(keys)
    p = np.array([exact[k] for k in states])
    reference = iid_tv(p, len(keys), np.random.default_rng(1))
    distance = tv(freq, p)
    print(f"TV {distance:.4f} over {len(states)} states (independent: {reference:.4f})")
    assert distance < tol * reference + 0.005
    return freq, reference


@pytest.mark.parametrize(
    ("alpha", "use_split_merge"), [(0.5, False), (2.0, True)], ids=["a0.5", "a2-sm"]
)
def test_repeated_rows_match_enumeration(alpha, use_split_merge):
    """Identical rows are merged into one of integer weight, whose copies are held
    by a few sampler rows (piece_moves): the chain must sample the exact
    posterior of the partitions of all six rows, seen as the copies of each
    distinct row in each cluster."""
    exact = exact_count_posterior(X_DUP, PRIOR_1D, alpha)
    model = fit(X_DUP, PRIOR_1D, alpha, split_merge=use_split_merge)
    assert model._X_fit.shape[0] == 1 + 2 + 3  # rows held: one, two and three holders
    freq, reference = check_counts_against_enumeration(model, exact)
    wrong = exact_count_posterior(X_DUP, PRIOR_1D, alpha * 2.5)
    assert tv(freq, np.array([wrong[k] for k in exact])) > 4.0 * reference


def test_weighted_rows_match_enumeration_in_2d():
    """Rows given once with integer weights: the exact posterior of the data with
    each row repeated, under split-merge and every move."""
    alpha = 1.0
    exact = exact_count_posterior(np.repeat(X_W2, W_W2, axis=0), PRIOR_2D, alpha)
    model = DirichletProcessMixture(
        alpha, PRIOR_2D, n_iter=5100, burn_in=100, random_state=2, progress=False
    ).fit(X_W2, sample_weight=W_W2)
    check_counts_against_enumeration(model, exact)


def test_cluster_sizes_past_the_tables_are_computed(monkeypatch):
    """The tables hold cluster sizes up to about the number of sampler rows;
    weighted rows make larger clusters, whose entries are computed
    (``_table_far``): the same values, and a sampler with tables of sizes 0
    and 1 only still samples the exact posterior."""
    from bayesmix import _gibbs_model
    from bayesmix._gibbs_model import niw_tables, table_g
    from bayesmix._kernels._gibbs import _table_far

    m = prepare_model(X_2D, PRIOR_2D)
    kappa0, nu0, logdet0, d = m.consts
    full = niw_tables(5000, int(d), kappa0, nu0, logdet0)
    for n in (1, 2, 7, 300, 4999):
        for r in range(4):
            assert _table_far(m.consts, r, n) == pytest.approx(full[r, n], rel=1e-11, abs=1e-11)
    counts = np.array([1, 3, 5000])
    np.testing.assert_allclose(table_g(m.tables, m.consts, counts), full[1, counts], rtol=1e-11)

    monkeypatch.setattr(_gibbs_model, "table_length", lambda n_copies, n_rows: 2)
    exact = exact_count_posterior(np.repeat(X_W2, W_W2, axis=0), PRIOR_2D, 1.0)
    model = DirichletProcessMixture(
        1.0, PRIOR_2D, n_iter=5100, burn_in=100, random_state=4, progress=False
    ).fit(X_W2, sample_weight=W_W2)
    check_counts_against_enumeration(model, exact)


def _state_of(key, rows):
    """Sampler labels and copies for a :func:`count_key` state, the distinct rows
    numbered as ``np.unique`` numbers the rows of ``rows.X``."""
    _, atom = np.unique(rows.X, axis=0, return_inverse=True)
    n = atom.size
    labels = np.full(n, -1, dtype=np.int64)
    mult = np.zeros(n, dtype=np.int64)
    for k, row in enumerate(key):
        for a, copies in enumerate(row):
            if copies == 0:
                continue
            free = [i for i in np.flatnonzero(atom == a) if mult[i] == 0]
            labels[free[0]] = k
            mult[free[0]] = copies
    for a in range(int(atom.max()) + 1):  # holders of nothing: the first holder's cluster
        held = np.flatnonzero(atom == a)
        first = held[mult[held] > 0][0]
        labels[held[mult[held] == 0]] = labels[first]
    return labels, mult, atom


@pytest.mark.parametrize("alpha", [0.4, 2.5])
def test_piece_moves_alone_leave_the_posterior_invariant(alpha):
    """States drawn from the exact posterior, each given one round of the moves
    of copies (no sweep, no split-merge): still the exact posterior, and the
    moves do move (a missing ``n_ak! / (n_ak + m)!`` or ``Gamma(n_k + m) /
    Gamma(n_k)`` shows here)."""
    from bayesmix._gibbs_model import sampler_rows
    from bayesmix._kernels._gibbs import piece_moves

    X = X_DUP
    exact = exact_count_posterior(X, PRIOR_1D, alpha)
    states = list(exact)
    p = np.array([exact[k] for k in states])
    _, inverse = np.unique(X, axis=0, return_inverse=True)
    reps = np.bincount(inverse)
    Xa = np.unique(X, axis=0)
    rows = sampler_rows(Xa, reps)
    m = prepare_model(rows.X, PRIOR_1D, rows)
    n_unit, atoms = m.layout
    assert n_unit == 1 and atoms[1].tolist() == [3, 2]
    rng = np.random.default_rng(5)
    blocked = np.zeros(1, dtype=np.int64)
    keys, moved = [], 0
    for t in rng.choice(len(states), size=20000, p=p):
        labels, mult, atom = _state_of(states[t], rows)
        K = piece_moves(
            m.X, mult, labels, int(labels.max()) + 1, m.kernel_prior, math.log(alpha), atoms,
            int(rng.integers(2**63)), blocked,
        )  # fmt: skip
        assert labels.max() + 1 == K and np.unique(labels).size == K  # stays compact
        assert mult.sum() == X.shape[0] and (mult >= 0).all()
        key = count_key(labels, atom, mult, int(atom.max()) + 1)
        keys.append(key)
        moved += key != states[t]
    freq = np.zeros(len(states))
    index = {k: i for i, k in enumerate(states)}
    for k in keys:
        freq[index[k]] += 1
    freq /= len(keys)
    reference = iid_tv(p, len(keys), np.random.default_rng(1))
    distance = tv(freq, p)
    print(f"moves of copies only: TV {distance:.4f} (independent: {reference:.4f})")
    assert blocked[0] == 0  # weights up to MAX_PIECES: no destination is ever left out
    assert moved > 0.05 * len(keys)
    assert distance < 2.0 * reference + 0.005


def test_one_step_at_a_time_moves_copies_too():
    """The iteration-by-iteration path (``_gibbs_core.step``, taken when kappa0
    is learned) makes the same moves of copies as the block kernel."""
    from bayesmix._gibbs_core import ChainState, step
    from bayesmix._gibbs_model import sampler_rows

    alpha = 0.8
    exact = exact_count_posterior(X_DUP, PRIOR_1D, alpha)
    _, inverse = np.unique(X_DUP, axis=0, return_inverse=True)
    rows = sampler_rows(np.unique(X_DUP, axis=0), np.bincount(inverse))
    m = prepare_model(rows.X, PRIOR_1D, rows)
    _, atom = np.unique(rows.X, axis=0, return_inverse=True)
    rng = np.random.default_rng(11)
    n = rows.X.shape[0]
    state = ChainState(np.zeros(n, dtype=np.int64), 1, alpha, mult=rows.mult.copy())
    keys = []
    for it in range(8000):
        state, _ = step(m, state, rng, alpha, 1, False, None)
        if it >= 100:
            keys.append(count_key(state.labels, atom, state.mult, int(atom.max()) + 1))
    states = list(exact)
    p = np.array([exact[k] for k in states])
    index = {k: i for i, k in enumerate(states)}
    freq = np.zeros(len(states))
    for k in keys:
        freq[index[k]] += 1
    freq /= len(keys)
    reference = iid_tv(p, len(keys), np.random.default_rng(1))
    assert tv(freq, p) < 2.5 * reference + 0.005


@pytest.mark.slow
def test_seven_rows_877_partitions():
    parts, p = exact_posterior(X_7, PRIOR_1D, 1.0)
    model = fit(X_7, PRIOR_1D, 1.0, n_iter=10100)
    freq = frequencies(model.labels_samples_, parts)
    n_draws = model.labels_samples_.shape[0] * model.labels_samples_.shape[1]
    reference = iid_tv(p, n_draws, np.random.default_rng(1))
    distance = tv(freq, p)
    print(f"n=7: TV {distance:.4f} (independent draws: {reference:.4f})")
    assert distance < 2.0 * reference + 0.005


def test_learned_concentration_matches_numerical_integration():
    """alpha ~ Gamma(2, 1): p(alpha | X) is proportional to
    Gamma(alpha; 2, 1) Gamma(alpha) / Gamma(alpha + n) sum_c alpha^K(c) prod Gamma(n_k) L(c)."""
    hyper = Gamma(2.0, 1.0)
    X, prior = X_1D, PRIOR_1D
    n = X.shape[0]
    parts, K, lg, ml = partition_table(X, prior)
    base = lg + ml
    shift = base.max()

    def unnormalised(alpha):
        return (
            stats.gamma.pdf(alpha, hyper.shape, scale=1 / hyper.rate)
            * np.exp(gammaln(alpha) - gammaln(alpha + n))
            * np.sum(np.exp(K * np.log(alpha) + base - shift))
        )

    Z = integrate.quad(unnormalised, 0, np.inf, limit=200)[0]
    mean_alpha = integrate.quad(lambda a: a * unnormalised(a), 0, np.inf, limit=200)[0] / Z

    model = fit(X, prior, hyper, n_iter=8100, seed=5)
    draws = model.concentration_samples_.ravel()
    grid = np.quantile(draws, np.linspace(0.02, 0.98, 25))
    cdf = np.array([integrate.quad(unnormalised, 0, g, limit=200)[0] / Z for g in grid])
    ecdf = np.searchsorted(np.sort(draws), grid, side="right") / draws.size
    ks = np.abs(ecdf - cdf).max()
    print(f"learned alpha: KS {ks:.4f}, mean {draws.mean():.4f} vs {mean_alpha:.4f}")
    assert ks < 0.03
    assert draws.mean() == pytest.approx(mean_alpha, rel=0.04)

    # partitions with alpha integrated out: weight prod Gamma(n_k) L(c) E-like integral per K
    I_K = {
        k: integrate.quad(
            lambda a, k=k: (
                stats.gamma.pdf(a, hyper.shape, scale=1 / hyper.rate)
                * np.exp(k * np.log(a) + gammaln(a) - gammaln(a + n))
            ),
            0,
            np.inf,
            limit=200,
        )[0]
        for k in np.unique(K)
    }
    p = np.exp(base - shift) * np.array([I_K[k] for k in K])
    p /= p.sum()
    freq = frequencies(model.labels_samples_, parts)
    reference = iid_tv(p, draws.size, np.random.default_rng(1))
    distance = tv(freq, p)
    print(f"learned alpha: partition TV {distance:.4f} (independent draws: {reference:.4f})")
    assert distance < 2.0 * reference + 0.005


def test_score_samples_is_the_exact_posterior_predictive():
    """p(x | X) = sum_c p(c | X) [sum_k n_k/(n+alpha) t_k(x) + alpha/(n+alpha) t_0(x)]."""
    alpha = 0.8
    X, prior = X_2D, PRIOR_2D
    n, d = X.shape
    parts, p = exact_posterior(X, prior, alpha)
    grid = np.array([[-1.2, 0.0], [0.0, 0.0], [1.2, 1.1], [3.0, -2.0]])

    def t_pred(rows):
        m = rows.shape[0]
        kn, nun = prior.kappa + m, prior.dof + m
        if m:
            xbar = rows.mean(axis=0)
            S = (rows - xbar).T @ (rows - xbar)
            mn = (prior.kappa * prior.mean + m * xbar) / kn
            psin = (
                prior.scale
                + S
                + prior.kappa * m / kn * np.outer(xbar - prior.mean, xbar - prior.mean)
            )
        else:
            mn, psin = prior.mean, prior.scale
        dof = nun - d + 1
        return stats.multivariate_t(mn, psin * (kn + 1) / (kn * dof), df=dof).pdf(grid)

    expected = np.zeros(grid.shape[0])
    for c, pc in zip(parts, p, strict=True):
        c = np.array(c)
        dens = alpha / (n + alpha) * t_pred(X[:0])
        for k in range(c.max() + 1):
            dens += (c == k).sum() / (n + alpha) * t_pred(X[c == k])
        expected += pc * dens
    model = fit(X, prior, alpha, n_iter=3100, seed=11)
    got = np.exp(model.score_samples(grid))
    np.testing.assert_allclose(got, expected, rtol=0.03)


@pytest.mark.slow
def test_number_of_clusters_concentrates_on_the_truth():
    rng = np.random.default_rng(2)
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    labels = np.repeat(np.arange(3), [70, 50, 40])
    X = centres[labels] + rng.normal(size=(labels.size, 2))
    prior = NormalInverseWishart(scale=np.cov(X.T, bias=True))  # the fixed prior of 0.1
    model = DirichletProcessMixture(
        Gamma(1.0, 1.0), prior, n_iter=600, random_state=0, progress=False
    ).fit(X)
    share = np.mean(model.n_clusters_samples_ == 3)
    print(f"P(K = 3 | X) = {share:.3f}")
    assert share > 0.9
    # and the point partition is the true one
    from itertools import permutations

    agree = max(np.mean(np.array(perm)[model.labels_] == labels) for perm in permutations(range(3)))
    assert agree > 0.98


def niw_log_marginal_on_grid(X, m0, kappa, nu0, base, b):
    """``niw_log_marginal`` of rows ``X`` under ``Psi0 = diag(b base)`` at every
    ``b`` of a grid (vectorised through the eigenvalues of ``Psi_n - Psi0``)."""
    n, d = X.shape
    xbar = X.mean(axis=0)
    B = (X - xbar).T @ (X - xbar) + kappa * n / (kappa + n) * np.outer(xbar - m0, xbar - m0)
    isq = 1.0 / np.sqrt(base)
    lam = np.clip(np.linalg.eigvalsh(B * isq[:, None] * isq[None, :]), 0.0, None)
    logdet_a = np.log(base).sum()
    nun = nu0 + n
    return (
        -0.5 * n * d * np.log(np.pi)
        + multigammaln(0.5 * nun, d)
        - multigammaln(0.5 * nu0, d)
        + 0.5 * nu0 * (d * np.log(b) + logdet_a)
        - 0.5 * nun * (logdet_a + np.log(b[:, None] + lam[None, :]).sum(axis=1))
        + 0.5 * d * np.log(kappa / (kappa + n))
    )


def exact_posterior_random_scale(X, kappa, shape=0.2, rate=10.0):
    """Exact posterior over partitions (alpha = 1) under
    ``scale=RandomScale(shape, rate)``: ``Psi0 = b 2 diag(R_f^2)``, ``b ~
    Gamma(shape, rate)`` integrated out on a fine grid of ``log b``."""
    from scipy.special import logsumexp

    n, d = X.shape
    base = 2.0 * np.ptp(X, axis=0) ** 2
    m0 = X.mean(axis=0)
    u = np.linspace(np.log(1e-8), np.log(1e4), 6001)
    b = np.exp(u)
    log_prior = shape * np.log(rate) - gammaln(shape) + shape * u - rate * b  # density of u
    # the grid formula is the closed form's
    prior = NormalInverseWishart(mean=m0, kappa=kappa, dof=d + 3.0, scale=np.diag(0.3 * base))
    grid = niw_log_marginal_on_grid(X[:3], m0, kappa, d + 3.0, base, np.array([0.3]))
    np.testing.assert_allclose(grid[0], niw_log_marginal(X[:3], prior), rtol=1e-10)
    parts = set_partitions(n)
    logp = np.empty(len(parts))
    for t, c in enumerate(parts):
        c = np.array(c)
        sizes = np.bincount(c)
        ml = sum(
            niw_log_marginal_on_grid(X[c == k], m0, kappa, d + 3.0, base, b)
            for k in range(sizes.size)
        )
        logp[t] = gammaln(sizes).sum() + logsumexp(ml + log_prior)
    p = np.exp(logp - logp.max())
    return parts, p / p.sum()


@pytest.mark.slow
@pytest.mark.parametrize("X", [X_1D, X_2D], ids=["1d", "2d"])
def test_random_scale_partition_frequencies_match_enumeration(X):
    """The default base measure (RandomScale, b drawn given the partition by
    slice sampling) with the default split-merge moves (sequential-allocation
    launch states, split_merge="auto") and the default starting partitions."""
    from bayesmix.priors import RandomScale

    prior = NormalInverseWishart(kappa=0.5, scale=RandomScale())
    parts, p = exact_posterior_random_scale(X, 0.5)
    model = fit(X, prior, 1.0, split_merge="auto")
    freq = frequencies(model.labels_samples_, parts)
    n_draws = model.labels_samples_.shape[0] * model.labels_samples_.shape[1]
    reference = iid_tv(p, n_draws, np.random.default_rng(1))
    distance = tv(freq, p)
    print(f"TV {distance:.4f} (independent draws: {reference:.4f})")
    assert distance < 2.0 * reference + 0.005
    # power: another hyperprior on b gives a distant posterior
    _, p_wrong = exact_posterior_random_scale(X, 0.5, shape=2.0, rate=1.0)
    assert tv(freq, p_wrong) > 4.0 * reference


@pytest.mark.parametrize("X", [X_1D, X_2D, X_7], ids=["1d", "2d", "7 rows"])
def test_partition_score_of_starting_partitions_is_the_exact_posterior(X):
    """``log_partition_posterior`` (which ranks the chains' candidate starting
    partitions) is ``log p(c | X)`` up to one constant: normalised over every
    partition it is the enumerated posterior, with ``b`` integrated out
    (RandomScale) and with a fixed prior."""
    from scipy.special import softmax

    from bayesmix._gibbs_hyper import log_partition_posterior, prepare, resolve_prior
    from bayesmix.priors import RandomScale

    cases = [(NormalInverseWishart(kappa=0.5, scale=RandomScale()), None)]
    if X.shape[1] == 2:
        cases.append((PRIOR_2D, exact_posterior(X, PRIOR_2D, 1.0)))
    for prior, exact in cases:
        if exact is None:
            exact = exact_posterior_random_scale(X, 0.5)
        parts, p = exact
        model, hyper = prepare(X, resolve_prior(prior, X))
        scores = np.array(
            [
                log_partition_posterior(model, hyper, np.array(c, dtype=np.int64), max(c) + 1, 1.0)
                for c in parts
            ]
        )
        # (both sides integrate b numerically: they agree to about 3e-6)
        np.testing.assert_allclose(softmax(scores), p, rtol=1e-4, atol=1e-12)
        # power: another concentration ranks them differently
        other = [
            log_partition_posterior(model, hyper, np.array(c, dtype=np.int64), max(c) + 1, 3.0)
            for c in parts
        ]
        assert np.abs(softmax(other) - p).max() > 1e-3
