"""The collapsed Gibbs sampler with missing values (NaN cells).

Ground truths written here independently of the sampler:

* the posterior over partitions of tiny data with holes, by enumerating every
  set partition with each block's marginal likelihood of its *observed*
  cells: the closed-form NIW marginal likelihood of the completed block
  (Murphy 2007, eq. 266, with ``scipy.special.multigammaln``) integrated over
  the block's missing cells numerically (``scipy.integrate``);
* the posterior of a missing cell when every row shares one cluster: the
  conditional of the NIW posterior predictive (a multivariate Student-t,
  Murphy 2007 eq. 258) given the row's observed cell, written with numpy.
"""

import hashlib
import math
import warnings

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import gammaln, multigammaln
from sklearn.metrics import adjusted_rand_score

from bayesmix.gibbs import DirichletProcessMixture
from bayesmix.priors import Gamma, NormalInverseWishart

# Five rows in 2-D, two of them with one cell missing.
X_HOLES = np.array([[-1.0, 0.2], [-1.4, np.nan], [0.1, 0.1], [np.nan, 0.8], [1.1, 1.5]])
PRIOR_2D = NormalInverseWishart(mean=[0.0, 0.3], kappa=0.3, dof=4.0, scale=[[0.8, 0.2], [0.2, 0.6]])


# ------------------------------------------------------------------ ground truth
def set_partitions(n):
    """Every partition of ``range(n)`` as a restricted growth string."""
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
    """log p(X) of complete rows all in one cluster (Murphy 2007, eq. 266)."""
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


def log_predictive_observed(C, x, prior):
    """log p(x_o | C): the NIW posterior predictive of the complete rows ``C``
    (Murphy 2007, eq. 258, scipy's multivariate t) marginalised onto the
    observed cells of ``x``."""
    obs = ~np.isnan(x)
    n, d = C.shape
    k0, nu0, m0 = prior.kappa, prior.dof, np.asarray(prior.mean)
    kn, nun = k0 + n, nu0 + n
    if n:
        xbar = C.mean(axis=0)
        S = (C - xbar).T @ (C - xbar)
        mn = (k0 * m0 + n * xbar) / kn
        psin = prior.scale + S + k0 * n / kn * np.outer(xbar - m0, xbar - m0)
    else:
        mn, psin = m0, np.asarray(prior.scale)
    v = nun - d + 1
    sig = psin * (kn + 1) / (kn * v)
    return stats.multivariate_t(mn[obs], sig[np.ix_(obs, obs)], df=v).logpdf(x[obs])


def observed_log_marginal(X, prior):
    """log p(observed cells of X) of rows in one cluster: the complete-data
    marginal integrated over the missing cells by quadrature (one row with
    holes); with a second row with holes, that row's factor is its marginal
    predictive given the others (:func:`log_predictive_observed`, checked
    against quadrature below) inside a quadrature over the first row's hole."""
    holed = np.flatnonzero(np.isnan(X).any(axis=1))
    complete = X[~np.isnan(X).any(axis=1)]
    if holed.size == 0:
        return niw_log_marginal(X, prior)
    a = X[holed[0]]
    fa = int(np.flatnonzero(np.isnan(a))[0])
    assert np.isnan(a).sum() == 1 and holed.size <= 2
    first = np.vstack([complete, np.where(np.isnan(a), 0.0, a)])
    shift = niw_log_marginal(first, prior)

    def log_integrand(v):
        Y = first.copy()
        Y[-1, fa] = v
        out = niw_log_marginal(Y, prior) - shift
        if holed.size == 2:
            out += log_predictive_observed(Y, X[holed[1]], prior)
        return out

    opts = {"epsabs": 0.0, "epsrel": 1e-10, "limit": 200}
    val = integrate.quad(lambda v: math.exp(log_integrand(v)), -np.inf, np.inf, **opts)[0]
    return shift + math.log(val)


def exact_posterior(X, prior, alpha):
    parts = set_partitions(X.shape[0])
    cache = {}
    logp = np.empty(len(parts))
    for t, c in enumerate(parts):
        c = np.array(c)
        total = 0.0
        sizes = np.bincount(c)
        for k in range(sizes.size):
            key = tuple(np.flatnonzero(c == k))
            if key not in cache:
                cache[key] = observed_log_marginal(X[list(key)], prior)
            total += cache[key]
        logp[t] = sizes.size * math.log(alpha) + gammaln(sizes).sum() + total
    p = np.exp(logp - logp.max())
    return parts, p / p.sum()


def frequencies(labels, parts):
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
    return np.mean([tv(rng.multinomial(n_draws, p) / n_draws, p) for _ in range(reps)])


def test_observed_marginal_with_one_hole_is_the_marginal_student_t():
    """The two ground truths agree: the quadrature over one hole equals the
    complete rows' marginal likelihood times the marginal Student-t predictive
    of the holed row's observed cell."""
    for rows in ([0, 2, 3], [0, 1, 2, 4], [3]):
        X = X_HOLES[rows]
        C = X[~np.isnan(X).any(axis=1)]
        x = X[np.isnan(X).any(axis=1)][0]
        closed = (niw_log_marginal(C, PRIOR_2D) if C.size else 0.0) + log_predictive_observed(
            C, x, PRIOR_2D
        )
        assert observed_log_marginal(X, PRIOR_2D) == pytest.approx(closed, rel=1e-8)


# ------------------------------------------------------------------------ tests
@pytest.mark.parametrize(("alpha", "use_split_merge"), [(1.0, False), (1.0, True), (0.3, True)])
def test_partition_frequencies_match_enumeration_with_holes(alpha, use_split_merge):
    parts, p = exact_posterior(X_HOLES, PRIOR_2D, alpha)
    model = DirichletProcessMixture(
        alpha,
        PRIOR_2D,
        n_iter=4100,
        burn_in=100,
        split_merge=use_split_merge,
        random_state=0,
        progress=False,
    ).fit(X_HOLES)
    freq = frequencies(model.labels_samples_, parts)
    n_draws = model.labels_samples_.shape[0] * model.labels_samples_.shape[1]
    reference = iid_tv(p, n_draws, np.random.default_rng(1))
    distance = tv(freq, p)
    print(f"TV {distance:.4f} (independent draws: {reference:.4f})")
    assert distance < 2.0 * reference + 0.005
    # the test has power: the exact posterior at another concentration is far away
    _, p_wrong = exact_posterior(X_HOLES, PRIOR_2D, alpha * 3.0)
    assert tv(freq, p_wrong) > 4.0 * reference


def _conditional_t(C, x_obs, obs, mis, prior):
    """Mean and variance of the missing cell given the complete rows ``C`` and
    the observed cell: the conditional of the NIW predictive Student-t."""
    n = C.shape[0]
    k0, nu0, m0 = prior.kappa, prior.dof, prior.mean
    kn, nun = k0 + n, nu0 + n
    xbar = C.mean(axis=0)
    S = (C - xbar).T @ (C - xbar)
    mn = (k0 * m0 + n * xbar) / kn
    psin = prior.scale + S + k0 * n / kn * np.outer(xbar - m0, xbar - m0)
    d = C.shape[1]
    v = nun - d + 1
    sig = psin * (kn + 1) / (kn * v)
    delta = x_obs - mn[obs]
    mean = mn[mis] + sig[mis, obs] / sig[obs, obs] * delta
    q = delta**2 / sig[obs, obs]
    schur = sig[mis, mis] - sig[mis, obs] ** 2 / sig[obs, obs]
    v2 = v + 1
    scale = (v + q) / v2 * schur
    return mean, scale * v2 / (v2 - 2)


def test_imputations_match_the_student_t_conditional_in_one_cluster():
    """With a tiny concentration every row shares one cluster, so the draws of
    a lone missing cell are independent draws of the Student-t conditional."""
    rng = np.random.default_rng(4)
    C = rng.normal([1.0, -1.0], [1.0, 0.5], size=(12, 2))
    X = np.vstack([C, [[np.nan, -0.6]]])
    prior = NormalInverseWishart(mean=[0.0, 0.0], kappa=0.5, dof=5.0, scale=np.eye(2))
    model = DirichletProcessMixture(
        1e-12, prior, n_iter=2500, burn_in=500, n_chains=2, random_state=1, progress=False
    ).fit(X)
    assert (model.n_clusters_samples_ == 1).all()
    draws = model.imputed_samples_.ravel()
    mean, var = _conditional_t(C, -0.6, 1, 0, prior)
    n = draws.size
    assert abs(draws.mean() - mean) < 4.0 * math.sqrt(var / n)
    # variance of a t with 6 dof: the sample variance's sd is about var sqrt(2 / n * (1 + 3))
    assert abs(draws.var() - var) < 4.0 * var * math.sqrt(8.0 / n)
    filled = model.impute(X)
    assert filled[-1, 0] == pytest.approx(draws.mean(), rel=1e-12)
    assert np.array_equal(filled[:-1], X[:-1]) and filled[-1, 1] == -0.6
    multi = model.impute(X, n_draws=5, random_state=0)
    assert multi.shape == (5, *X.shape) and np.isfinite(multi).all()
    # a new row with the same observed cell: the predictive conditional (given
    # all 13 rows, so close to, not equal to, the training row's posterior)
    new = model.impute(np.array([[np.nan, -0.6]]))
    assert new[0, 0] == pytest.approx(mean, abs=0.1)


def _blobs(rng, n_per=100):
    centres = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 0.0], [0.0, 5.0, 5.0]])
    X = np.vstack([rng.normal(c, 1.0, size=(n_per, 3)) for c in centres])
    return X, np.repeat(np.arange(3), n_per), centres


def _centre_error(means, centres):
    """Mean distance from each true centre to the closest fitted mean."""
    return float(np.mean([np.min(np.linalg.norm(means - c, axis=1)) for c in centres]))


@pytest.mark.filterwarnings("ignore::bayesmix.exceptions.ConvergenceWarning")
def test_mcar_holes_recover_clusters_and_means():
    rng = np.random.default_rng(0)
    X, truth, centres = _blobs(rng)
    holes = rng.random(X.shape) < 0.2
    holes[holes.all(axis=1), 0] = False
    Xm = np.where(holes, np.nan, X)

    def fit(data):
        return DirichletProcessMixture(n_iter=200, n_chains=2, random_state=0, progress=False).fit(
            data
        )

    full = fit(X)
    miss = fit(Xm)
    mean_imp = fit(np.where(holes, np.nanmean(Xm, axis=0), Xm))
    ari = {k: adjusted_rand_score(truth, m.labels_) for k, m in (("full", full), ("miss", miss))}
    ari["mean"] = adjusted_rand_score(truth, mean_imp.labels_)
    err = {
        k: _centre_error(m.means_, centres)
        for k, m in (("full", full), ("miss", miss), ("mean", mean_imp))
    }
    # with holes some rows cannot be told apart (a row observing feature 0
    # alone): the reference is the Bayes classifier at the true parameters
    # on each row's observed features
    log_p = np.zeros((X.shape[0], 3))
    for k, c in enumerate(centres):
        log_p[:, k] = -0.5 * np.nansum((Xm - c) ** 2, axis=1)
    oracle = adjusted_rand_score(truth, log_p.argmax(axis=1))
    print(ari, err, oracle)
    assert ari["full"] > 0.98
    assert ari["miss"] >= oracle - 0.03
    assert ari["miss"] > ari["mean"] + 0.1
    assert err["miss"] < 2.0 * err["full"] + 0.05
    assert err["miss"] < err["mean"]
    # scores and predictions marginalise the missing cells
    s = miss.score_samples(Xm)
    assert s.shape == (X.shape[0],) and np.isfinite(s).all()
    proba = miss.predict_proba(Xm[::7])
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert (miss.predict(Xm) == miss.labels_).all()
    post = miss.posterior(n_draws=5, random_state=0)
    assert post.n_components() is not None


@pytest.mark.filterwarnings("ignore::bayesmix.exceptions.ConvergenceWarning")
def test_score_of_one_observed_feature_is_the_marginal_density():
    """A row observing feature 0 alone scores the posterior-mean density of
    feature 0: numerically, the integral of the full density over feature 1."""
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(0, 1, (25, 2)), rng.normal(4, 1, (25, 2))])
    X[3, 1] = np.nan
    m = DirichletProcessMixture(n_iter=40, n_chains=1, random_state=0, progress=False).fit(X)
    x0 = 0.7
    full = integrate.quad(
        lambda v: math.exp(m.score_samples(np.array([[x0, v]]))[0]), -np.inf, np.inf
    )[0]
    assert m.score_samples(np.array([[x0, np.nan]]))[0] == pytest.approx(math.log(full), rel=1e-6)


@pytest.mark.filterwarnings("ignore::bayesmix.exceptions.ConvergenceWarning")
def test_learned_hyperparameters_weights_and_chains_with_holes():
    rng = np.random.default_rng(3)
    X, _, _ = _blobs(rng, 20)
    X[rng.random(X.shape) < 0.15] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 0.0
    w = np.arange(X.shape[0]) % 3  # zero weights and repeats
    for prior in (None, NormalInverseWishart(kappa=Gamma(0.5, 50))):
        m = DirichletProcessMixture(
            Gamma(1.0, 1.0), prior, n_iter=30, n_chains=2, random_state=0, progress=False
        ).fit(X, sample_weight=w)
        assert np.isfinite(m.means_).all() and np.isfinite(m.log_joint_samples_).all()
        imp = m.impute(X)
        assert np.isfinite(imp).all() and np.array_equal(imp[~np.isnan(X)], X[~np.isnan(X)])
        n_missing = int(np.isnan(X[w > 0]).sum())
        assert m.imputed_samples_.shape == (2, 15, n_missing)
        again = DirichletProcessMixture(
            Gamma(1.0, 1.0), prior, n_iter=30, n_chains=2, random_state=0, progress=False
        ).fit(X, sample_weight=w)
        assert np.array_equal(again.imputed_samples_, m.imputed_samples_)


def test_bad_missing_input_is_refused():
    X = np.array([[0.0, 1.0], [np.nan, np.nan], [1.0, 2.0]])
    with pytest.raises(ValueError, match="every feature missing"):
        DirichletProcessMixture(n_iter=4).fit(X)
    with pytest.raises(ValueError, match="infinity"):
        DirichletProcessMixture(n_iter=4).fit(np.array([[0.0, np.inf], [1.0, 2.0], [np.nan, 1]]))
    m = DirichletProcessMixture(n_iter=4, n_chains=1, progress=False, random_state=0).fit(X[[0, 2]])
    with pytest.raises(ValueError, match="every feature missing"):
        m.impute(X)
    with pytest.raises(ValueError, match="n_draws"):
        m.impute(X[[0, 2]], n_draws=0)


def _draw_hash(model):
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(model.labels_samples_, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(model.n_clusters_samples_, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


@pytest.mark.filterwarnings("ignore::bayesmix.exceptions.ConvergenceWarning")
def test_complete_data_draws_are_unchanged():
    """Complete data take the sampler's old path: the hashes of these draws were
    computed with the sampler before missing values were supported (commit
    57fde6c), for the block kernel (learned scale) and the step path (learned
    kappa), and recomputed once when the chains' starting partitions came to be
    chosen by their posterior probability (``_gibbs_core.initial_labels``)."""
    rng = np.random.default_rng(7)
    X = np.vstack([rng.normal(0, 1, (20, 2)), rng.normal(4, 1, (20, 2))])
    expected = {None: "de35c3e075c6be50", "kappa": "d59c6dd4dc5f23df"}
    for key, prior in ((None, None), ("kappa", NormalInverseWishart(kappa=Gamma(0.5, 50)))):
        m = DirichletProcessMixture(
            Gamma(1, 1), prior, n_iter=60, n_chains=2, random_state=3, progress=False
        ).fit(X)
        assert _draw_hash(m) == expected[key]


@pytest.mark.filterwarnings("ignore::bayesmix.exceptions.ConvergenceWarning")
def test_save_load_and_posterior_with_holes(tmp_path):
    from bayesmix import load

    rng = np.random.default_rng(5)
    X = rng.normal(size=(30, 2))
    X[::4, 1] = np.nan
    m = DirichletProcessMixture(n_iter=20, n_chains=2, random_state=0, progress=False).fit(X)
    m.save(tmp_path / "dp.npz")
    back = load(tmp_path / "dp.npz")
    assert np.array_equal(back.impute(X), m.impute(X))
    assert np.array_equal(back.imputed_samples_, m.imputed_samples_)
    assert np.allclose(back.score_samples(X), m.score_samples(X))
    post = m.posterior(random_state=0)
    # the posterior layer reads the training rows with their holes (observed cells scored)
    draws = m.posterior_draws(random_state=0)
    assert np.array_equal(np.isnan(post.to_arviz()["observed_data"]["X"].values), np.isnan(X))
    assert np.isfinite(post.log_likelihood).all()
    assert np.isfinite(draws["means"][draws["weights"] > 0]).all()


@pytest.mark.filterwarnings("ignore::bayesmix.exceptions.ConvergenceWarning")
def test_no_nan_reaches_a_compiled_kernel(monkeypatch):
    """Every array handed to the sampler's kernels is finite: the missing cells
    are completed before the first sweep, and scores read observed sub-blocks."""
    import bayesmix._gibbs_core as core
    import bayesmix._gibbs_missing as gm

    seen = []

    def checked(fn):
        def wrapper(*args, **kwargs):
            for a in args:
                if isinstance(a, np.ndarray) and a.dtype.kind == "f":
                    seen.append(bool(np.isfinite(a).all()))
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(core, "gibbs_block", checked(core.gibbs_block))
    monkeypatch.setattr(gm, "missing_sweep", checked(gm.missing_sweep))
    monkeypatch.setattr(gm, "log_prob_pass", checked(gm.log_prob_pass))
    rng = np.random.default_rng(6)
    X = rng.normal(size=(30, 3))
    X[rng.random(X.shape) < 0.3] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 0.0
    m = DirichletProcessMixture(n_iter=6, n_chains=1, random_state=0, progress=False).fit(X)
    m.score_samples(X), m.predict_proba(X[:4] + 0.1), m.impute(X[:5] + 1.0, n_draws=2)
    assert seen and all(seen)


def test_tampered_hole_cells_are_refused_on_load(tmp_path):
    from bayesmix import load

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (30, 2)), rng.normal(5, 1, (30, 2))])
    X[rng.random(X.shape) < 0.1] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 1.0
    dp = DirichletProcessMixture(n_iter=20, n_chains=2, random_state=0, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dp.fit(X)
    for name, value in (("_hole_cells", 10**6), ("_hole_cells", -1), ("_imputed", np.nan)):
        dp.save(tmp_path / "ok.npz")
        load_copy = load(tmp_path / "ok.npz")
        bad = getattr(load_copy, name).copy()
        bad.flat[0] = value
        setattr(load_copy, name, bad)
        load_copy.save(tmp_path / "bad.npz")
        with pytest.raises(ValueError, match=name):
            load(tmp_path / "bad.npz")
