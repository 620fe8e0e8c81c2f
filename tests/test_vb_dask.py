"""VariationalGaussianMixture on Dask arrays (bayesmix._vb_dask): the same
coordinate ascent as in memory, its E-step mapped over row chunks."""

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="dask is optional: pip install 'bayesmix[dask]'")
dask = pytest.importorskip("dask")

import bayesmix._init as init_mod  # noqa: E402
from bayesmix import Dirichlet, NormalInverseWishart, VariationalGaussianMixture  # noqa: E402

UNEVEN = (700, 1300, 250, 1750)  # row chunks of the 4000-row data


@pytest.fixture(autouse=True)
def threads():
    with dask.config.set(scheduler="threads"):
        yield


def _data(seed=0):
    """Three overlapping groups, 4000 rows, integer and zero weights."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [3.0, 3.0, 3.0], [0.0, 4.0, -2.0]])
    X = np.vstack(
        [
            rng.normal(size=(m, 3)) * (0.5 + 0.4 * j) + centres[j]
            for j, m in enumerate((1800, 1400, 800))
        ]
    )
    w = rng.integers(0, 4, size=X.shape[0]).astype(float)
    return X, w


def _nearest(method, Xt, w, k, rng, **kwargs):
    """A start that depends on neither the order of the rows nor ``rng``: each
    row to the nearest of ``k`` fixed points (standardised units)."""
    points = np.linspace(-1.0, 1.0, k)[:, None] * np.ones(Xt.shape[0])
    dist = ((Xt.T[:, None, :] - points[None]) ** 2).sum(axis=2)
    return np.eye(k)[dist.argmin(axis=1)]


def _assert_same_fit(a, b, rtol=1e-10):
    assert a.n_iter_ == b.n_iter_
    assert a.converged_ == b.converged_
    for name in ("weights_", "means_", "covariances_", "scales_", "degrees_of_freedom_"):
        x, y = getattr(a, name), getattr(b, name)
        np.testing.assert_allclose(y, x, rtol=rtol, atol=rtol * np.abs(x).max(), err_msg=name)
    np.testing.assert_allclose(b.lower_bounds_, a.lower_bounds_, rtol=rtol)
    np.testing.assert_allclose(b.elbo_, a.elbo_, rtol=rtol)
    np.testing.assert_array_equal(b.effective_components_, a.effective_components_)
    np.testing.assert_allclose(b.missing_information_, a.missing_information_, rtol=1e-8)


@pytest.mark.parametrize(
    ("covariance_type", "weight_prior", "component_prior"),
    [
        ("full", None, None),  # DP weights, learned random scale
        ("diag", Dirichlet(0.5), NormalInverseWishart()),  # the data covariance as scale
    ],
)
def test_same_fit_as_in_memory(monkeypatch, covariance_type, weight_prior, component_prior):
    monkeypatch.setattr(init_mod, "initial_resp", _nearest)
    X, w = _data()
    params = dict(
        covariance_type=covariance_type,
        weight_prior=weight_prior,
        component_prior=component_prior,
        moves=False,  # coordinate ascent alone (the moves: the next test)
        tol=1e-6,
        random_state=0,
    )
    mem = VariationalGaussianMixture(4, **params).fit(X, sample_weight=w)
    chunked = VariationalGaussianMixture(4, **params).fit(
        da.from_array(X, chunks=(UNEVEN, 3)),
        sample_weight=da.from_array(w, chunks=(1000,)),  # rechunked to X's rows
    )
    _assert_same_fit(mem, chunked)


@pytest.mark.parametrize(
    ("covariance_type", "weight_prior", "k", "kinds"),
    [
        ("full", None, 10, {"merge"}),
        ("diag", None, 10, {"merge", "delete"}),
        ("tied", None, 12, {"merge"}),
        ("spherical", Dirichlet(0.5), 7, {"merge"}),
    ],
)
def test_moves_are_the_in_memory_moves(monkeypatch, covariance_type, weight_prior, k, kinds):
    """The merge and delete moves read the chunks through sums (ChunkRows):
    from the same start, the same candidates are accepted in the same order
    and the fit is the in-memory one; each accepted move raises the ELBO."""
    monkeypatch.setattr(init_mod, "initial_resp", _nearest)
    X, w = _data()
    params = dict(
        covariance_type=covariance_type, weight_prior=weight_prior, tol=1e-6, random_state=0
    )
    mem = VariationalGaussianMixture(k, **params).fit(X, sample_weight=w)
    chunked = VariationalGaussianMixture(k, **params).fit(
        da.from_array(X, chunks=(UNEVEN, 3)), sample_weight=da.from_array(w, chunks=(1000,))
    )
    assert {m[0] for m in mem.moves_} == kinds  # the start's pieces are pruned
    assert [m[:2] for m in chunked.moves_] == [m[:2] for m in mem.moves_]
    for kind, _, before, after in chunked.moves_:
        assert kind in ("merge", "delete") and after > before
    _assert_same_fit(mem, chunked, rtol=1e-7)


def test_predictions_are_lazy_and_equal_in_memory():
    X, w = _data()
    vb = VariationalGaussianMixture(4, random_state=0, tol=1e-4).fit(X[:600])
    dX = da.from_array(X, chunks=(UNEVEN, 3))
    for method in ("predict", "predict_proba", "score_samples"):
        lazy = getattr(vb, method)(dX)
        assert isinstance(lazy, da.Array), method
        np.testing.assert_array_equal(lazy.compute(), getattr(vb, method)(X))
    np.testing.assert_allclose(vb.score(dX), vb.score(X), rtol=1e-12)
    np.testing.assert_allclose(vb.score(dX, sample_weight=w), vb.score(X, sample_weight=w))


def test_default_fit_is_deterministic_and_close_to_in_memory():
    X, w = _data()
    dX = da.from_array(X, chunks=(UNEVEN, 3))
    a = VariationalGaussianMixture(5, random_state=3).fit(dX, sample_weight=w)
    b = VariationalGaussianMixture(5, random_state=3).fit(dX, sample_weight=w)
    np.testing.assert_array_equal(a.means_, b.means_)
    assert a.moves_ == b.moves_
    # the start's sample holds every row of positive weight (at most
    # SAMPLE_ROWS), and the start is computed on the rows in a canonical order:
    # the default fit (one start on Dask) is the in-memory fit from one start,
    # whatever the chunking
    mem = VariationalGaussianMixture(5, n_init=1, random_state=3).fit(X, sample_weight=w)
    other = VariationalGaussianMixture(5, random_state=3).fit(
        da.from_array(X, chunks=(1000, 3)), sample_weight=w
    )
    assert [m[:2] for m in a.moves_] == [m[:2] for m in mem.moves_]
    _assert_same_fit(mem, a, rtol=1e-7)
    _assert_same_fit(mem, other, rtol=1e-7)
    assert np.isfinite(a.missing_information_)


def test_moves_on_a_cluster_as_in_memory(local_cluster, monkeypatch):
    """Chunks persisted in the workers of a local cluster: the moves' passes run
    there, and the fit is the in-memory one."""
    monkeypatch.setattr(init_mod, "initial_resp", _nearest)
    X, w = _data()
    params = dict(covariance_type="diag", tol=1e-6, random_state=0)
    mem = VariationalGaussianMixture(10, **params).fit(X, sample_weight=w)
    pX, pw = local_cluster.persist(
        [da.from_array(X, chunks=(UNEVEN, 3)), da.from_array(w, chunks=(UNEVEN,))]
    )
    with dask.config.set(scheduler="distributed"):  # not this module's threads
        held = VariationalGaussianMixture(10, **params).fit(pX, sample_weight=pw)
    assert len(mem.moves_) >= 2
    assert [m[:2] for m in held.moves_] == [m[:2] for m in mem.moves_]
    _assert_same_fit(mem, held, rtol=1e-7)


@pytest.mark.parametrize("seed", range(3))
def test_default_fit_prunes_a_real_table(seed):
    """Default arguments on scikit-learn's wine table (standardised) as a Dask
    array: the moves prune 10 components to 3 or 4, as in memory (all 10 were
    kept when the moves were off for chunks, ARI 0.36)."""
    from sklearn.datasets import load_wine
    from sklearn.metrics import adjusted_rand_score

    data = load_wine()
    X = (data.data - data.data.mean(0)) / data.data.std(0)
    vb = VariationalGaussianMixture(10, random_state=seed).fit(da.from_array(X, chunks=40))
    assert vb.effective_components_.sum() in (3, 4)
    assert adjusted_rand_score(data.target, vb.predict(X)) > 0.8  # issue 11's target
    assert all(after > before for _, _, before, after in vb.moves_)


def test_dask_input_with_nan_is_refused():
    X, _ = _data()
    X[5, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        VariationalGaussianMixture(2).fit(da.from_array(X, chunks=1000))
