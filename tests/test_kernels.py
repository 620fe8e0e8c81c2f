"""The shared numba kernels against independent implementations: scipy's
densities, numpy's weighted covariances, numpy's exp / log and brute-force
nearest centres; plus the invariances the engines rely on (thread count,
task split, full vs diagonal mode)."""

import numpy as np
import pytest
from scipy.linalg import solve_triangular
from scipy.special import gammaln, logsumexp
from scipy.stats import multivariate_normal, multivariate_t

from bayesmix import _kernels
from bayesmix._kernels import (
    TASK,
    MixtureStats,
    exp_nonpositive,
    log_positive,
    log_prob_pass,
    mixture_pass,
    n_tasks,
    nearest_centre,
    precision_cholesky,
    run_tasks,
    sq_dist_to_point,
)

# Feature counts that reach every code path: 1-2 and 3-4 features (one fused
# loop), 5-8 and 13 (4 x 4 tiles with padding), 16 (tiles, no padding).
N_FEATURES = [1, 2, 3, 4, 5, 8, 13, 16]


class Mixture:
    """Random components with known covariances, in the kernels' parameterisation."""

    def __init__(self, rng, n_features, n_components, diagonal=False, spread=3.0):
        d, k = n_features, n_components
        self.weights = rng.dirichlet(np.full(k, 3.0))
        self.means = spread * rng.normal(size=(k, d))
        if diagonal:
            var = rng.uniform(0.3, 3.0, size=(k, d))
            self.covs = var[:, :, None] * np.eye(d)
            self.prec = np.ascontiguousarray(1.0 / np.sqrt(var)[:, None, :])
            log_det = np.log(self.prec[:, 0, :]).sum(axis=1)
        else:
            A = rng.normal(size=(k, d, d))
            self.covs = A @ np.swapaxes(A, 1, 2) / d + 0.5 * np.eye(d)
            self.prec = np.empty_like(self.covs)
            precision_cholesky(np.linalg.cholesky(self.covs), self.prec)
            log_det = np.log(np.diagonal(self.prec, axis1=1, axis2=2)).sum(axis=1)
        self.log_det = log_det
        self.log_const = np.log(self.weights) + log_det - 0.5 * d * np.log(2 * np.pi)
        self.dof = np.full(k, np.inf)

    def sample(self, rng, n_samples):
        labels = rng.choice(len(self.weights), size=n_samples, p=self.weights)
        L = np.linalg.cholesky(self.covs)
        z = rng.normal(size=(n_samples, self.means.shape[1]))
        return self.means[labels] + np.einsum("nij,nj->ni", L[labels], z)

    def reference_log_prob(self, X):
        """(n_samples, n_components) ``log w_k + log p_k(x)`` by scipy."""
        cols = []
        for k in range(len(self.weights)):
            if np.isinf(self.dof[k]):
                lp = multivariate_normal.logpdf(X, self.means[k], self.covs[k])
            else:
                lp = multivariate_t.logpdf(X, self.means[k], self.covs[k], df=self.dof[k])
            cols.append(np.log(self.weights[k]) + np.atleast_1d(lp))
        return np.column_stack(cols)


def run_pass(Xt, w, mix, want_stats=True, diagonal_stats=None):
    """Every output of one ``mixture_pass`` over all tasks, single call."""
    d, n = Xt.shape
    k = mix.means.shape[0]
    nt = n_tasks(n)
    p = 1 if (mix.prec.shape[1] == 1 if diagonal_stats is None else diagonal_stats) else d
    rows = nt if want_stats else 0
    out = {
        "row_lse": np.empty(n),
        "resp": np.empty((n, k)),
        "s0": np.empty((rows, k)),
        "s1": np.empty((rows, k, d)),
        "s2": np.empty((rows, k, p, d)),
        "task_ll": np.empty((nt, 2)),
    }
    mixture_pass(
        Xt, w, mix.means, mix.prec, mix.log_const, mix.dof, out["row_lse"], out["resp"],
        out["s0"], out["s1"], out["s2"], out["task_ll"], 0, nt,
    )  # fmt: skip
    return out


def feature_major(X):
    return np.ascontiguousarray(X.T)


# --------------------------------------------------------------------------- exp / log
def test_exp_nonpositive_matches_numpy():
    x = np.concatenate(
        [
            -np.geomspace(1e-300, 708.0, 20000),
            np.linspace(-708.0, 0.0, 20001),
            [0.0, -0.0, -1e-20, -708.0],
        ]
    )
    got = x.copy()
    exp_nonpositive(got, got.shape[0])
    ref = np.exp(x)
    assert np.max(np.abs(got / ref - 1.0)) < 1e-15
    assert got[-4] == 1.0 and got[-3] == 1.0


def test_exp_nonpositive_flushes_subnormal_results_to_zero():
    x = np.array([-708.01, -708.4, -745.0, -746.0, -1e5, -np.inf])
    got = x.copy()
    exp_nonpositive(got, got.shape[0])
    assert (got == 0.0).all()


def test_exp_nonpositive_only_touches_the_first_m():
    a = np.array([-1.0, -2.0, -3.0])
    exp_nonpositive(a, 2)
    assert a[2] == -3.0
    np.testing.assert_allclose(a[:2], np.exp([-1.0, -2.0]), rtol=1e-15)


def test_log_positive_matches_numpy():
    y = np.concatenate(
        [
            np.geomspace(2.3e-308, 1.7e308, 20000),
            np.linspace(0.5, 2.0, 20001),
            1.0 + np.geomspace(1e-15, 1e-3, 1000),
            [1.0, 2.0, np.sqrt(2.0)],
        ]
    )
    got = y.copy()
    log_positive(got, got.shape[0])
    ref = np.log(y)
    assert np.all(np.abs(got - ref) <= 1e-15 * np.maximum(np.abs(ref), 1e-300) + 1e-300)
    assert got[-3] == 0.0


# --------------------------------------------------------------------------- densities
@pytest.mark.parametrize("n_features", N_FEATURES)
@pytest.mark.parametrize("diagonal", [False, True])
def test_log_density_and_resp_match_scipy(n_features, diagonal):
    rng = np.random.default_rng(n_features + 100 * diagonal)
    mix = Mixture(rng, n_features, 5, diagonal=diagonal)
    X = mix.sample(rng, 3 * TASK + 77)  # several tasks, a partial last block
    out = run_pass(feature_major(X), np.ones(X.shape[0]), mix, want_stats=False)
    ref = mix.reference_log_prob(X)
    ref_lse = logsumexp(ref, axis=1)
    np.testing.assert_allclose(out["row_lse"], ref_lse, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out["resp"], np.exp(ref - ref_lse[:, None]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(out["resp"].sum(axis=1), 1.0, rtol=0, atol=1e-14)
    assert (out["resp"] >= 0).all()
    ll, icl = out["task_ll"].sum(axis=0)
    np.testing.assert_allclose(ll, ref_lse.sum(), rtol=1e-12)
    # sum log max_k r is a difference of log densities: absolute accuracy only
    ref_icl = np.log(out["resp"].max(axis=1)).sum()
    np.testing.assert_allclose(icl, ref_icl, rtol=0, atol=1e-14 * np.abs(ref_lse).sum())


@pytest.mark.parametrize("n_features", [1, 2, 3, 6, 9])
def test_student_t_components_match_scipy(n_features):
    """Gaussian and Student-t components mixed in one pass (the Bayesian engines'
    posterior predictive)."""
    rng = np.random.default_rng(7 + n_features)
    mix = Mixture(rng, n_features, 4)
    X = mix.sample(rng, 1500)
    mix.dof = np.array([3.5, np.inf, 12.0, 1.5])
    d = n_features
    for k, nu in enumerate(mix.dof):
        if np.isfinite(nu):
            mix.log_const[k] = (
                np.log(mix.weights[k]) + mix.log_det[k] + gammaln(0.5 * (nu + d))
                - gammaln(0.5 * nu) - 0.5 * d * np.log(nu * np.pi)
            )  # fmt: skip
    out = run_pass(feature_major(X), np.ones(X.shape[0]), mix, want_stats=False)
    ref = mix.reference_log_prob(X)
    np.testing.assert_allclose(out["row_lse"], logsumexp(ref, axis=1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        out["resp"], np.exp(ref - logsumexp(ref, axis=1)[:, None]), rtol=0, atol=1e-12
    )


def test_far_outliers_and_dominant_constants_stay_exact():
    """Rows far from every component (log densities ~ -1e6) and a component whose
    constant is far above the others must not underflow: they take the exact
    per-row log-sum-exp."""
    rng = np.random.default_rng(3)
    mix = Mixture(rng, 3, 4)
    mix.covs[2] = 1e-12 * np.eye(3)  # a collapsed component: log|U| ~ +41
    precision_cholesky(np.linalg.cholesky(mix.covs), mix.prec)
    log_det = np.log(np.diagonal(mix.prec, axis1=1, axis2=2)).sum(axis=1)
    mix.log_const = np.log(mix.weights) + log_det - 1.5 * np.log(2 * np.pi)
    X = np.vstack([mix.sample(rng, 500), rng.normal(size=(20, 3)) * 1e3, mix.means[2] + 1e-7])
    out = run_pass(feature_major(X), np.ones(X.shape[0]), mix, want_stats=False)
    ref = mix.reference_log_prob(X)
    ref_lse = logsumexp(ref, axis=1)
    assert np.isfinite(out["row_lse"]).all()
    np.testing.assert_allclose(out["row_lse"], ref_lse, rtol=1e-12)
    np.testing.assert_allclose(out["resp"], np.exp(ref - ref_lse[:, None]), rtol=0, atol=1e-12)


def test_component_with_zero_weight_gets_no_responsibility():
    rng = np.random.default_rng(4)
    mix = Mixture(rng, 2, 3)
    mix.log_const[1] = -np.inf
    X = mix.sample(rng, 400)
    w = rng.uniform(0.5, 2.0, size=X.shape[0])
    out = run_pass(feature_major(X), w, mix)
    assert (out["resp"][:, 1] == 0.0).all()
    assert (out["s0"][:, 1] == 0.0).all() and np.isfinite(out["s2"]).all()
    np.testing.assert_allclose(out["resp"].sum(axis=1), 1.0, atol=1e-14)


def test_log_prob_pass_returns_the_sums():
    rng = np.random.default_rng(5)
    mix = Mixture(rng, 4, 3)
    X = mix.sample(rng, 700)
    row_lse = np.empty(X.shape[0])
    resp = np.empty((X.shape[0], 3))
    totals = log_prob_pass(feature_major(X), mix.means, mix.prec, mix.log_const, row_lse, resp)
    np.testing.assert_allclose(totals[0], row_lse.sum(), rtol=1e-13)
    ref_icl = np.log(resp.max(axis=1)).sum()
    np.testing.assert_allclose(totals[1], ref_icl, rtol=0, atol=1e-14 * np.abs(row_lse).sum())


# --------------------------------------------------------------------------- statistics
def weighted_moments(X, weights, centre):
    """``sum v``, ``sum v (x - c)`` and ``sum v (x - c)(x - c)^T`` via np.cov."""
    nk = weights.sum()
    xbar = weights @ X / nk
    cov = np.atleast_2d(np.cov(X.T, aweights=weights, bias=True))
    delta = xbar - centre
    return nk, nk * delta, nk * (cov + np.outer(delta, delta))


@pytest.mark.parametrize("n_features", N_FEATURES)
@pytest.mark.parametrize("diagonal", [False, True])
def test_statistics_match_weighted_cov(n_features, diagonal):
    rng = np.random.default_rng(n_features)
    k = 4
    mix = Mixture(rng, n_features, k, diagonal=diagonal)
    X = mix.sample(rng, 2 * TASK + 300)
    w = rng.uniform(0.0, 3.0, size=X.shape[0])
    w[::7] = 0.0
    Xt = feature_major(X)
    stats = MixtureStats(X.shape[0], k, n_features, diagonal)
    resp = np.empty((X.shape[0], k))
    stats.e_step(Xt, w, mix.means, mix.prec, mix.log_const, resp=resp)
    for j in range(k):
        nk, s1, s2 = weighted_moments(X, w * resp[:, j], mix.means[j])
        np.testing.assert_allclose(stats.nk[j], nk, rtol=1e-12)
        np.testing.assert_allclose(stats.s1[j], s1, rtol=1e-9, atol=1e-9 * nk)
        want = np.diag(s2)[None, :] if diagonal else s2
        np.testing.assert_allclose(stats.s2[j], want, rtol=1e-10, atol=1e-10 * nk)
    ref = mix.reference_log_prob(X)
    np.testing.assert_allclose(stats.log_likelihood, w @ logsumexp(ref, axis=1), rtol=1e-12)


@pytest.mark.parametrize("n_features", [1, 2, 4, 7])
@pytest.mark.parametrize("diagonal", [False, True])
def test_statistics_of_given_resp_match_weighted_cov(n_features, diagonal):
    rng = np.random.default_rng(50 + n_features)
    k = 3
    X = rng.normal(size=(TASK + 999, n_features)) * 2.0 + 1.0
    w = rng.uniform(0.0, 2.0, size=X.shape[0])
    resp = rng.dirichlet(np.ones(k), size=X.shape[0])
    shift = rng.normal(size=(k, n_features))
    stats = MixtureStats(X.shape[0], k, n_features, diagonal)
    stats.from_resp(feature_major(X), w, np.ascontiguousarray(resp), shift)
    for j in range(k):
        nk, s1, s2 = weighted_moments(X, w * resp[:, j], shift[j])
        np.testing.assert_allclose(stats.nk[j], nk, rtol=1e-12)
        np.testing.assert_allclose(stats.s1[j], s1, rtol=1e-10, atol=1e-10 * nk)
        want = np.diag(s2)[None, :] if diagonal else s2
        np.testing.assert_allclose(stats.s2[j], want, rtol=1e-10, atol=1e-10 * nk)


def test_full_statistics_keep_zeros_below_the_diagonal():
    rng = np.random.default_rng(6)
    mix = Mixture(rng, 6, 3)
    X = mix.sample(rng, 900)
    out = run_pass(feature_major(X), np.ones(X.shape[0]), mix)
    lower = np.tril(np.ones((6, 6), dtype=bool), -1)
    assert (out["s2"][:, :, lower] == 0.0).all()
    assert (out["s2"][:, :, ~lower] != 0.0).any()


@pytest.mark.parametrize("n_features", [2, 3, 9])
def test_full_and_diagonal_modes_agree_on_diagonal_precisions(n_features):
    rng = np.random.default_rng(8)
    diag = Mixture(rng, n_features, 3, diagonal=True)
    full = Mixture(rng, n_features, 3)
    full.means, full.log_const = diag.means, diag.log_const
    full.prec = np.ascontiguousarray(diag.prec[:, 0, :, None] * np.eye(n_features))
    X = diag.sample(rng, 1000)
    Xt = feature_major(X)
    w = rng.uniform(0.5, 1.5, size=X.shape[0])
    a = run_pass(Xt, w, diag)
    b = run_pass(Xt, w, full)
    c = run_pass(Xt, w, full, diagonal_stats=True)  # full densities, diagonal moments
    d = run_pass(Xt, w, diag, diagonal_stats=False)  # diagonal densities, full moments
    np.testing.assert_allclose(a["row_lse"], b["row_lse"], rtol=1e-14)
    np.testing.assert_allclose(a["resp"], b["resp"], rtol=0, atol=1e-14)
    np.testing.assert_allclose(a["s1"], b["s1"], rtol=1e-12, atol=1e-12)
    b_diag = np.diagonal(b["s2"], axis1=2, axis2=3)[:, :, None, :]
    np.testing.assert_allclose(a["s2"], b_diag, rtol=1e-12)
    np.testing.assert_allclose(c["s2"], b_diag, rtol=1e-12)
    np.testing.assert_allclose(d["s2"], b["s2"], rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- reproducibility
def _e_step_outputs(n_features, diagonal):
    rng = np.random.default_rng(11)
    mix = Mixture(rng, n_features, 5, diagonal=diagonal)
    X = mix.sample(rng, 9 * TASK + 5)
    w = rng.uniform(0.0, 2.0, size=X.shape[0])
    stats = MixtureStats(X.shape[0], 5, n_features, diagonal)
    row_lse = np.empty(X.shape[0])
    resp = np.empty((X.shape[0], 5))
    stats.e_step(feature_major(X), w, mix.means, mix.prec, mix.log_const, row_lse, resp)
    return [stats.nk, stats.s1, stats.s2, stats.log_likelihood, stats.icl_term, row_lse, resp]


@pytest.mark.parametrize(("n_features", "diagonal"), [(2, False), (6, False), (9, True)])
def test_results_do_not_depend_on_the_thread_count(monkeypatch, n_features, diagonal):
    monkeypatch.setenv("BAYESMIX_NUM_THREADS", "1")
    one = _e_step_outputs(n_features, diagonal)
    for threads in ("2", "3"):
        monkeypatch.setenv("BAYESMIX_NUM_THREADS", threads)
        many = _e_step_outputs(n_features, diagonal)
        for a, b in zip(one, many, strict=True):
            assert np.array_equal(a, b)


def test_read_only_and_strided_parameters_give_identical_bits():
    """Read-only or strided arrays are other numba types (other machine code): the
    wrappers copy them, so the same values always give the same bits."""
    rng = np.random.default_rng(13)
    mix = Mixture(rng, 8, 3)
    X = mix.sample(rng, 3 * TASK)
    Xt, w = feature_major(X), rng.uniform(size=X.shape[0])
    means = mix.means.copy()
    prec = np.asfortranarray(mix.prec)  # strided
    means.flags.writeable = False
    outputs = []
    for args in [(mix.means, mix.prec), (means, prec)]:
        stats = MixtureStats(X.shape[0], 3, 8, False)
        stats.e_step(Xt, w, args[0], args[1], mix.log_const)
        outputs.append([stats.nk, stats.s1, stats.s2, stats.log_likelihood])
    for a, b in zip(*outputs, strict=True):
        assert np.array_equal(a, b)


def test_task_pieces_in_any_order_give_identical_slots():
    """Any split of the task range, run in any order, writes the same bytes."""
    rng = np.random.default_rng(12)
    mix = Mixture(rng, 5, 3)
    X = mix.sample(rng, 5 * TASK + 17)
    Xt, w = feature_major(X), rng.uniform(size=X.shape[0])
    whole = run_pass(Xt, w, mix)
    pieces = {key: np.full_like(val, np.nan) for key, val in whole.items()}
    for lo, hi in [(4, 6), (0, 1), (2, 4), (1, 2)]:
        mixture_pass(
            Xt, w, mix.means, mix.prec, mix.log_const, mix.dof, pieces["row_lse"],
            pieces["resp"], pieces["s0"], pieces["s1"], pieces["s2"], pieces["task_ll"], lo, hi,
        )  # fmt: skip
    for key in whole:
        assert np.array_equal(whole[key], pieces[key]), key


def test_run_tasks_covers_every_task_once_and_reraises(monkeypatch):
    monkeypatch.setenv("BAYESMIX_NUM_THREADS", "3")
    seen = []

    def kernel(log, lo, hi):
        log.extend(range(lo, hi))

    run_tasks(kernel, (seen,), 37)
    assert sorted(seen) == list(range(37))

    def failing(lo, hi):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_tasks(failing, (), 10)


# --------------------------------------------------------------------------- linear algebra
@pytest.mark.parametrize("n_features", [1, 2, 5, 17])
def test_precision_cholesky_is_the_inverse_transpose(n_features):
    rng = np.random.default_rng(n_features)
    A = rng.normal(size=(4, n_features, n_features))
    covs = A @ np.swapaxes(A, 1, 2) + 0.1 * np.eye(n_features)
    chol = np.linalg.cholesky(covs)
    out = np.full_like(chol, np.nan)
    precision_cholesky(chol, out)
    eye = np.eye(n_features)
    for k in range(4):
        ref = solve_triangular(chol[k], eye, lower=True).T
        np.testing.assert_allclose(out[k], ref, rtol=1e-12, atol=1e-14 * np.abs(ref).max())
        np.testing.assert_allclose(out[k] @ out[k].T, np.linalg.inv(covs[k]), rtol=1e-9)
        assert (np.tril(out[k], -1) == 0).all()


# --------------------------------------------------------------------------- k-means
def test_sq_dist_to_point():
    rng = np.random.default_rng(20)
    X = rng.normal(size=(1000, 3))
    centre = rng.normal(size=3)
    out = np.empty(1000)
    sq_dist_to_point(feature_major(X), centre, out)
    np.testing.assert_allclose(out, ((X - centre) ** 2).sum(axis=1), rtol=1e-13)


@pytest.mark.parametrize("n_features", [1, 4])
def test_nearest_centre_matches_brute_force(n_features):
    rng = np.random.default_rng(21)
    X = rng.normal(size=(3 * TASK + 11, n_features))
    w = rng.uniform(0.0, 2.0, size=X.shape[0])
    centres = rng.normal(size=(6, n_features))
    nt = n_tasks(X.shape[0])
    labels = np.empty(X.shape[0], dtype=np.int64)
    min_dist = np.empty(X.shape[0])
    sums = np.empty((nt, 6, n_features))
    counts = np.empty((nt, 6))
    inertia = np.empty(nt)
    nearest_centre(feature_major(X), w, centres, labels, min_dist, sums, counts, inertia, 0, nt)
    dist = ((X[:, None, :] - centres[None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(labels, dist.argmin(axis=1))
    np.testing.assert_allclose(min_dist, dist.min(axis=1), rtol=1e-13)
    one_hot = np.eye(6)[labels] * w[:, None]
    np.testing.assert_allclose(counts.sum(axis=0), one_hot.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sums.sum(axis=0), one_hot.T @ X, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(inertia.sum(), w @ dist.min(axis=1), rtol=1e-12)


def test_kernels_module_exports():
    for name in _kernels.__all__:
        assert hasattr(_kernels, name)
