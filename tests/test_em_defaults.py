"""EM with default arguments reaches the optimum (issue "Right answers by
default"): pinned with fixed seeds against the same fit continued to
convergence and against many restarts."""

import warnings

import numpy as np
import pytest
from _em_optimum import continued

from bayesmix import GaussianMixture
from bayesmix.datasets import load_faithful


def overlapping(seed: int, n: int = 300):
    """Two unit-covariance 2-D Gaussians, weights 0.4 / 0.6, means 2.5 apart."""
    rng = np.random.default_rng(seed)
    z = rng.random(n) < 0.4
    return rng.standard_normal((n, 2)) + np.where(z[:, None], 0.0, [2.5, 0.0])


def test_default_fit_ends_at_its_optimum():
    X = load_faithful()
    gm = GaussianMixture(3, random_state=0).fit(X)
    assert gm.converged_
    gap = continued(gm, X).log_likelihood_ - gm.log_likelihood_
    assert 0.0 <= gap < 0.05  # scikit-learn's tol=1e-3 leaves about 7.5 here
    old = GaussianMixture(3, random_state=0, tol=1e-3, max_iter=100, n_init=1).fit(X)
    assert continued(old, X).log_likelihood_ - old.log_likelihood_ > 1.0


@pytest.mark.parametrize(
    ("table", "k", "min_iter"),
    [("wine", 4, 20), ("breast_cancer", 6, 80)],
    ids=["fast-phase-ends", "saddle-point"],
)
def test_a_pause_of_em_is_not_taken_for_convergence(table, k, min_iter):
    """Default fits from the hierarchical start, in the tables' own units.
    Raw wine, K=4: EM's increments fall 27, 6.9, 0.58, 0.008 and then slow to
    0.004, 0.002, ... before the climb resumes (1.9 more); one Aitken estimate
    (from 0.58 -> 0.008) called it converged after five iterations.  Raw breast
    cancer, K=6: the increments shrink 0.08, 0.001, 4e-5 as EM nears a saddle
    point, then grow again (2e-4, 4e-4, ..., 34) on the way to an optimum 285
    higher; two consecutive estimates stopped at the saddle."""
    import sklearn.datasets

    X = getattr(sklearn.datasets, f"load_{table}")().data
    gm = GaussianMixture(k, n_init=1, random_state=0).fit(X)
    assert gm.converged_ and gm.n_iter_ > min_iter
    gap = continued(gm, X).log_likelihood_ - gm.log_likelihood_
    assert 0.0 <= gap < 0.05


def test_stopping_rule_needs_three_consecutive_aitken_estimates():
    from bayesmix._em_core import has_converged

    def check(increments, n=178.0):
        return has_converged("auto", list(np.cumsum(increments) / n))

    assert not check([26.9, 6.9, 0.58, 0.008])  # one estimate: too early
    assert not check([26.9, 6.9, 0.58, 0.008, 0.0036])  # the rate changed: go on
    assert not check([0.58, 0.52, 0.08, 1.2e-3, 3.6e-5])  # two small estimates: a saddle?
    assert not check([0.58, 0.52, 0.08, 1.2e-3, 3.6e-5, 1.8e-4])  # it was one
    assert check(1e-3 * 0.1 ** np.arange(8))  # a steady rate


@pytest.mark.slow
def test_default_restarts_find_the_best_optimum_on_overlapping_data():
    hits = 0
    for seed in range(12):
        X = overlapping(seed)
        gm = GaussianMixture(2, random_state=seed).fit(X)
        best = -np.inf
        for i in range(20):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = GaussianMixture(
                    2,
                    init_params="k-means++" if i % 2 else "random_from_data",
                    n_init=1,
                    tol=1e-10,
                    max_iter=5000,
                    random_state=1000 + i,
                ).fit(X)
            if ref.collapsed_components_.size == 0:
                best = max(best, ref.log_likelihood_)
        hits += best - gm.log_likelihood_ <= 0.5
    assert hits >= 11  # a single start (n_init=1) reaches it on 8 of these 12


def test_n_init_auto_keeps_the_best_screened_start(capsys):
    X = overlapping(4)
    gm = GaussianMixture(2, random_state=4, verbose=1).fit(X)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"init {i}" for i in range(5)]
    lls = [float(line.split("log-likelihood ")[1].split()[0]) for line in lines]
    assert gm.log_likelihood_ == pytest.approx(max(lls), abs=1e-5)
    single = GaussianMixture(2, random_state=4, n_init=1).fit(X)
    assert gm.log_likelihood_ >= single.log_likelihood_ - 1e-9


def test_tol_and_n_init_reject_other_strings():
    X = overlapping(0)
    with pytest.raises(ValueError, match="tol='tight' is not supported; use 'auto'"):
        GaussianMixture(2, tol="tight").fit(X)
    with pytest.raises(ValueError, match="n_init='many' is not supported; use 'auto'"):
        GaussianMixture(2, n_init="many").fit(X)
