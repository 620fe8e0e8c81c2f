"""Merge / delete moves, the one component count and the mean-field interval
warning of VariationalGaussianMixture (bayesmix._vb_moves, _vb_uncertainty)."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from bayesmix import VariationalGaussianMixture
from bayesmix._kernels import MixtureStats
from bayesmix._vb_moves import _entropy_changes, _Scorer, entropy
from bayesmix._vb_uncertainty import (
    MeanFieldWarning,
    interval_coverage,
    missing_information,
)
from bayesmix.datasets import load_faithful, load_iris
from bayesmix.exceptions import ConvergenceWarning


def standardise(X):
    return (X - X.mean(axis=0)) / X.std(axis=0)


def blobs(seed, centres, n_per=100, scale=1.0):
    rng = np.random.default_rng(seed)
    centres = np.asarray(centres, dtype=float)
    X = np.vstack([c + scale * rng.standard_normal((n_per, centres.shape[1])) for c in centres])
    return X, np.repeat(np.arange(len(centres)), n_per)


def overlapping(seed, n_samples=300):
    """Two components, weights 0.4 / 0.6, means 2.5 apart (issue 11)."""
    rng = np.random.default_rng(seed)
    z = (rng.random(n_samples) < 0.4).astype(int)
    X = rng.standard_normal((n_samples, 2))
    X[z == 1, 0] += 2.5
    return X


def data_sets():
    yield "iris", standardise(load_iris())
    yield "faithful", standardise(load_faithful())
    yield "overlap", overlapping(0)
    yield "blobs", blobs(1, [[0, 0], [6, 0], [0, 6], [6, 6]])[0]


# ---------------------------------------------------------------- moves
def _fit(X, moves, **kw):
    """One start (what the moves do to it), unless ``n_init`` is given."""
    kw.setdefault("n_init", 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return VariationalGaussianMixture(moves=moves, **kw).fit(X)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
@pytest.mark.parametrize("name,X", list(data_sets()), ids=[n for n, _ in data_sets()])
def test_moves_never_lower_the_elbo(name, X, covariance_type):
    for seed in (0, 1):
        kw = dict(covariance_type=covariance_type, random_state=seed)
        plain, moved = _fit(X, False, **kw), _fit(X, True, **kw)
        assert moved.elbo_ >= plain.elbo_ - 1e-9 * abs(plain.elbo_)
        lb = np.asarray(moved.lower_bounds_)
        assert np.all(np.diff(lb) >= -1e-9 * np.abs(lb).max())
        for kind, _comps, before, after in moved.moves_:
            assert kind in ("merge", "delete") and after > before
        assert moved.n_effective_components_ <= plain.n_effective_components_


def test_moves_empty_the_pieces_of_over_split_clusters():
    # four clusters 8 sds apart in 6-D, 80 rows each
    X, labels = blobs(2, 8.0 * np.eye(4, 6), n_per=80)
    plain = _fit(X, False, n_components=12, random_state=0)
    vb = _fit(X, True, n_components=12, random_state=0)
    assert plain.n_effective_components_ > 4  # coordinate ascent keeps the pieces
    assert vb.n_effective_components_ == 4 and len(vb.moves_) > 0
    pred = vb.predict(X)
    for c in range(4):  # each true cluster is one component
        assert np.unique(pred[labels == c]).size == 1
    assert np.unique(pred).size == 4
    assert vb.elbo_ > plain.elbo_


@pytest.mark.parametrize("weight", ["dp", "dirichlet"])
@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_move_scores_split_exactly(covariance_type, weight):
    """The per-component split of ELBO(r, q(r)) used to score merges equals the
    whole ELBO, and merge entropies equal the direct computation."""
    from bayesmix import Dirichlet, DirichletProcess

    X = standardise(load_iris())
    wp = DirichletProcess(1.0) if weight == "dp" else Dirichlet(0.5)
    vb = VariationalGaussianMixture(
        5, covariance_type=covariance_type, weight_prior=wp, random_state=0
    ).fit(X)
    Xt = vb._standardiser.transform(X)
    w = np.ones(X.shape[0])
    rng = np.random.default_rng(0)
    resp = rng.dirichlet(np.ones(5), size=X.shape[0])
    stats = MixtureStats(X.shape[0], 5, X.shape[1], vb._structure.diagonal)
    shift = vb._post.means
    stats.from_resp(Xt, w, resp, shift)
    stats.diagonal = vb._structure.diagonal
    scorer = _Scorer(vb._post, vb._prior, vb._structure, weight == "dp")
    ent = entropy(resp, w)
    split = ent + scorer.components(stats.nk, stats.s1, stats.s2, shift).sum()
    split += scorer.weights(stats.nk)
    whole = scorer.whole(stats.nk, stats.s1, stats.s2, shift, ent)
    assert split == pytest.approx(whole, rel=1e-12, abs=1e-8)

    merged = resp.copy()
    merged[:, 1] += merged[:, 3]
    merged[:, 3] = 0.0
    change = _entropy_changes(resp, w, [(1, 3)])[0]
    assert change == pytest.approx(entropy(merged, w) - ent, rel=1e-12)
    assert change <= 0.0
    # an empty component's term is 0: q equals the prior
    empty = SimpleNamespace(nk=np.zeros(1), s1=np.zeros((1, 4)), s2=np.zeros(stats.s2[:1].shape))
    assert scorer.components(empty.nk, empty.s1, empty.s2, shift[:1])[0] == pytest.approx(
        0.0, abs=1e-9
    )


# ------------------------------------------------------------- one count
@pytest.mark.parametrize("name,X", list(data_sets()), ids=[n for n, _ in data_sets()])
def test_one_count_everywhere(name, X):
    vb = VariationalGaussianMixture(random_state=0).fit(X)
    k = vb.n_effective_components_
    pred = vb.predict(X)
    assert np.unique(pred).size == k
    assert set(np.unique(pred)) == set(np.flatnonzero(vb.effective_components_))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeanFieldWarning)
        post = vb.posterior(X, n_draws=200)
    assert int(np.argmax(post.n_components())) == k
    assert post.weights.shape[-1] == k


# ---------------------------------------------------- honest intervals
def test_missing_information_exact_cases():
    w = np.ones(6)
    hard = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    assert missing_information(hard, w) == 0.0
    assert missing_information(np.ones((6, 1)), w) == 0.0
    # two components: the non-zero eigenvalue is the trace 2 - G11/pi1 - G22/pi2
    rng = np.random.default_rng(3)
    r1 = rng.random(50)
    resp = np.column_stack([r1, 1 - r1])
    w = rng.integers(1, 4, 50).astype(float)
    pi = w @ resp / w.sum()
    gram = (resp * w[:, None]).T @ resp / w.sum()
    expected = 2 - gram[0, 0] / pi[0] - gram[1, 1] / pi[1]
    assert missing_information(resp, w) == pytest.approx(expected, rel=1e-12)
    # frequency weights: the same as repeated rows
    rep = np.repeat(resp, w.astype(int), axis=0)
    assert missing_information(rep, np.ones(len(rep))) == pytest.approx(expected, rel=1e-10)
    # uninformative responsibilities lose everything
    assert missing_information(np.full((10, 2), 0.5), np.ones(10)) > 0.99
    assert interval_coverage(0.0) == pytest.approx(0.9, abs=1e-12)
    assert interval_coverage(0.5) < 0.8


def test_posterior_warns_when_components_overlap():
    # means 1.6 sds apart with a two-component prior structure kept by moves off
    X = blobs(4, [[0.0, 0.0], [1.6, 0.0]], n_per=400)[0]
    vb = _fit(X, False, n_components=2, random_state=0)
    assert vb.missing_information_ > 0.3
    with pytest.warns(MeanFieldWarning, match="bootstrap"):
        post = vb.posterior(X, n_draws=50)
    assert post.attrs["mean_field_coverage_90"] < 0.85
    assert post.attrs["mean_field_missing_information"] == vb.missing_information_


def test_posterior_is_quiet_on_separated_components():
    X = blobs(5, [[0, 0], [10, 0], [0, 10]])[0]
    vb = VariationalGaussianMixture(random_state=0).fit(X)
    assert vb.n_effective_components_ == 3
    assert vb.missing_information_ < 1e-3
    post = vb.posterior(X, n_draws=50)  # warnings are errors in the test suite
    assert post.attrs["mean_field_coverage_90"] == pytest.approx(0.9, abs=1e-3)
