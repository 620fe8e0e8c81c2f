"""GaussianMixture on Dask arrays (bayesmix._dask): the same EM as in memory.

Worker processes of the LocalCluster re-import this module: nothing runs at
import time but the imports.
"""

import subprocess
import sys
import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="dask is optional: pip install 'bayesmix[dask]'")

from _exact import assert_same_em_fit  # noqa: E402

from bayesmix import GaussianMixture  # noqa: E402
from bayesmix.covariance import COVARIANCE_TYPES  # noqa: E402

# every distinct model of the registry (aliases name the same entry)
MODELS = sorted({s.name for s in COVARIANCE_TYPES.values()})
UNEVEN = (700, 1300, 250, 1750)  # row chunks of the 4000-row data


def _data(n_features=3, seed=0):
    """Three overlapping groups, 4000 rows, integer and zero weights."""
    rng = np.random.default_rng(seed)
    sizes = (1800, 1400, 800)
    centres = np.array([[0.0] * n_features, [3.0] * n_features, [0.0, 4.0, -2.0][:n_features]])
    X = np.vstack(
        [
            rng.normal(size=(m, n_features)) * (0.5 + 0.4 * j) + centres[j]
            for j, m in enumerate(sizes)
        ]
    )
    w = rng.integers(0, 4, size=X.shape[0]).astype(float)
    return X, w


def _start(X, w, k, covariance_type):
    """Initial parameters: a short in-memory run (the equality tests start both fits here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(
            k,
            covariance_type=covariance_type,
            n_init=1,
            max_iter=1,
            init_params="random_from_data",
            random_state=1,
        ).fit(X, sample_weight=w)
    return {
        "weights_init": gm.weights_,
        "means_init": gm.means_,
        "precisions_init": gm.precisions_,
    }


@pytest.mark.parametrize("covariance_type", MODELS)
def test_same_fit_as_in_memory_for_every_model(covariance_type):
    n_features = 1 if covariance_type in ("E", "V") else 3
    X, w = _data(n_features)
    start = _start(X, w, 3, covariance_type)
    mem = GaussianMixture(3, covariance_type=covariance_type, **start).fit(X, sample_weight=w)
    chunked = GaussianMixture(3, covariance_type=covariance_type, **start).fit(
        da.from_array(X, chunks=(UNEVEN, n_features)),
        sample_weight=da.from_array(w, chunks=(1000,)),  # rechunked to X's rows
    )
    assert_same_em_fit(mem, chunked)
    np.testing.assert_allclose(
        chunked.bic(da.from_array(X, chunks=900), sample_weight=w),
        mem.bic(X, sample_weight=w),
        rtol=1e-10,
    )


def test_same_fit_without_weights_and_column_chunks():
    X, _ = _data()
    start = _start(X, None, 3, "full")
    mem = GaussianMixture(3, **start).fit(X)
    chunked = GaussianMixture(3, **start).fit(da.from_array(X, chunks=(1000, 2)))
    assert_same_em_fit(mem, chunked)


def test_integer_weights_equal_repeated_rows():
    X, w = _data()
    start = _start(X, w, 3, "diag")
    weighted = GaussianMixture(3, covariance_type="diag", **start).fit(
        da.from_array(X, chunks=1000), sample_weight=da.from_array(w, chunks=1000)
    )
    rep = np.repeat(X, w.astype(int), axis=0)
    repeated = GaussianMixture(3, covariance_type="diag", **start).fit(
        da.from_array(rep, chunks=1500)
    )
    assert_same_em_fit(weighted, repeated, rtol=1e-9)


def test_default_start_is_deterministic_for_a_seed_and_chunking():
    X, _ = _data()
    dX = da.from_array(X, chunks=(UNEVEN, 3))
    a = GaussianMixture(3, random_state=0, n_init=2, max_iter=60, tol=1e-4).fit(dX)
    b = GaussianMixture(3, random_state=0, n_init=2, max_iter=60, tol=1e-4).fit(dX)
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    # the start sees a sample of the rows but reaches the optimum of all of them
    mem = GaussianMixture(3, random_state=0, n_init=2, max_iter=60, tol=1e-4).fit(X)
    np.testing.assert_allclose(a.log_likelihood_, mem.log_likelihood_, rtol=1e-5)


def test_start_sample_is_a_sample_of_weighted_rows():
    from bayesmix import _dask

    X, w = _data()
    data = _dask.prepare(
        da.from_array(X, chunks=(UNEVEN, 3)),
        da.from_array(w, chunks=(UNEVEN,)),
        3,
        np.random.default_rng(0),
    )
    assert data.n_samples == int((w > 0).sum())
    assert data.total == w.sum()
    # the sample holds every row of positive weight (fewer than SAMPLE_ROWS), weights kept
    rows = data.sample.X
    assert rows.shape[0] == data.n_samples
    order = np.lexsort(rows.T)
    expected = X[w > 0][np.lexsort(X[w > 0].T)]
    np.testing.assert_array_equal(rows[order], expected)
    np.testing.assert_array_equal(data.sample.w[order], w[w > 0][np.lexsort(X[w > 0].T)])


def test_large_sample_is_capped_and_deterministic(monkeypatch):
    from bayesmix import _dask

    monkeypatch.setattr(_dask, "SAMPLE_ROWS", 500)
    X, _ = _data()
    dX = da.from_array(X, chunks=(UNEVEN, 3))
    a = _dask.prepare(dX, None, 3, np.random.default_rng(5)).sample.X
    b = _dask.prepare(dX, None, 3, np.random.default_rng(5)).sample.X
    assert a.shape == (500, 3)
    np.testing.assert_array_equal(a, b)
    # a uniform sample: its mean is near the data's (3 standard errors)
    se = X.std(axis=0) / np.sqrt(500)
    assert (np.abs(a.mean(axis=0) - X.mean(axis=0)) < 3.5 * se).all()


def test_predictions_are_lazy_and_equal_in_memory():
    X, w = _data()
    gm = GaussianMixture(3, covariance_type="VEV", random_state=0, tol=1e-4).fit(X)
    dX = da.from_array(X, chunks=(UNEVEN, 3))
    for method in ("predict", "predict_proba", "score_samples"):
        lazy = getattr(gm, method)(dX)
        assert isinstance(lazy, da.Array), method
        np.testing.assert_array_equal(lazy.compute(), getattr(gm, method)(X))
    np.testing.assert_allclose(gm.score(dX), gm.score(X), rtol=1e-12)
    np.testing.assert_allclose(gm.score(dX, sample_weight=w), gm.score(X, sample_weight=w))
    for crit in ("bic", "aic", "icl"):
        np.testing.assert_allclose(getattr(gm, crit)(dX), getattr(gm, crit)(X), rtol=1e-12)


def test_memory_mapped_npy(tmp_path):
    X, w = _data()
    path = tmp_path / "X.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    start = _start(X, w, 3, "EEV")
    mem = GaussianMixture(3, covariance_type="EEV", **start).fit(X, sample_weight=w)
    chunked = GaussianMixture(3, covariance_type="EEV", **start).fit(
        da.from_array(mapped, chunks=(512, 3)), sample_weight=w
    )
    assert_same_em_fit(mem, chunked)


def test_bad_input_is_refused_before_computing():
    gm = GaussianMixture(2)
    X, _ = _data()
    bad = X.copy()
    bad[1005, 1] = np.inf  # NaN is a missing value (test_dask_missing.py), infinity is not
    with pytest.raises(ValueError, match="infinity at row 1005, column 1"):
        gm.fit(da.from_array(bad, chunks=1000))
    with pytest.raises(ValueError, match="sample_weight must be finite and non-negative"):
        gm.fit(da.from_array(X, chunks=1000), sample_weight=-da.ones(X.shape[0], chunks=500))
    with pytest.raises(ValueError, match="negative"):  # weights in memory: the usual check
        gm.fit(da.from_array(X, chunks=1000), sample_weight=-np.ones(X.shape[0]))
    with pytest.raises(ValueError, match="2-D"):
        gm.fit(da.zeros((4, 2, 2)))
    with pytest.raises(ValueError, match="shape \\(n_samples,\\)"):
        gm.fit(da.from_array(X, chunks=1000), sample_weight=da.ones(3))
    with pytest.raises(ValueError, match="distinct rows"):
        GaussianMixture(3).fit(da.from_array(np.repeat(X[:2], 50, axis=0), chunks=30))
    gm.fit(X[:200])
    with pytest.raises(ValueError, match="features"):
        gm.predict(da.from_array(X[:, :2], chunks=100))
    with pytest.raises(TypeError, match="blocks"):
        gm.partial_fit(da.from_array(X, chunks=1000))


def test_importing_bayesmix_does_not_import_dask():
    code = "import sys, bayesmix; print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_local_cluster_fit_equals_in_memory(local_cluster):
    X, w = _data()
    start = _start(X, w, 3, "VVE")
    mem = GaussianMixture(3, covariance_type="VVE", **start).fit(X, sample_weight=w)
    dX = da.from_array(X, chunks=(UNEVEN, 3))
    chunked = GaussianMixture(3, covariance_type="VVE", **start).fit(
        dX, sample_weight=da.from_array(w, chunks=(UNEVEN,))
    )
    assert_same_em_fit(mem, chunked)
    labels = chunked.predict(dX)
    np.testing.assert_array_equal(labels.compute(), mem.predict(X))


def test_persisted_data_on_a_cluster_fit_in_place_as_in_memory(local_cluster):
    """Chunks persisted in the workers are standardised there once per fit and
    each iteration's tasks run where they live: the fit is the in-memory fit,
    and the same bit for bit as through a graph of delayed calls."""
    from bayesmix import _dask

    X, w = _data()
    start = _start(X, w, 3, "VVV")
    mem = GaussianMixture(3, **start).fit(X, sample_weight=w)
    dX = da.from_array(X, chunks=(UNEVEN, 3))
    dw = da.from_array(w, chunks=(UNEVEN,))
    pX, pw = local_cluster.persist([dX, dw])
    assert _dask._holding_client(pX) is local_cluster
    assert _dask._holding_client(dX) is None  # not persisted: the graph path
    held = GaussianMixture(3, **start).fit(pX, sample_weight=pw)
    assert_same_em_fit(mem, held)
    graph = GaussianMixture(3, **start).fit(dX, sample_weight=dw)
    lazy = _dask.prepare(dX, dw, 3, np.random.default_rng(0))
    on_cluster = _dask.prepare(pX, pw, 3, np.random.default_rng(0))
    assert lazy._held() == (None, None)
    pairs, client = on_cluster._held()
    assert client is local_cluster and len(pairs) == len(UNEVEN)
    assert held.log_likelihood_ == graph.log_likelihood_
    np.testing.assert_array_equal(held.means_, graph.means_)


def test_reseeding_finds_the_same_worst_rows():
    """An emptied component moves to the worst-explained row of positive weight,
    found chunk by chunk (ties: the earlier row) as in memory."""
    from bayesmix import _dask
    from bayesmix import _em_core as core
    from bayesmix._data import prepare
    from bayesmix.covariance import get_structure

    X, w = _data()
    chunked = _dask.prepare(
        da.from_array(X, chunks=(UNEVEN, 3)),
        da.from_array(w, chunks=(UNEVEN,)),
        3,
        np.random.default_rng(0),
    )
    mem = prepare(X, w, 3).restandardised(chunked.std)
    structure = get_structure("full")
    ctx = core.context(mem, "auto")
    params, _ = core.initial_params(
        core.check_config(GaussianMixture(3, init_params="kmeans").get_params())[0],
        mem,
        np.random.default_rng(0),
        {},
        ctx,
    )
    params.weights = np.array([0.5, 0.5, 0.0])
    params.means[2] = params.means[0]  # two empty components' worth of bad rows
    for n in (1, 7):
        a = core._worst_rows(structure, mem, params, n)
        b = core._worst_rows(structure, chunked, params, n)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    new_mem, _ = core.reseed(structure, mem, params)
    new_chunked, _ = core.reseed(structure, chunked, params)
    np.testing.assert_array_equal(new_mem.means, new_chunked.means)
    np.testing.assert_array_equal(new_mem.weights, new_chunked.weights)


def test_distinct_rows_are_counted_over_all_chunks_when_the_sample_misses_some(monkeypatch):
    from bayesmix import _dask

    monkeypatch.setattr(_dask, "SAMPLE_ROWS", 4)
    X = np.zeros((300, 2))
    X[150:] = 1.0
    X[299] = 2.0  # the third distinct row, in the last chunk only
    dX = da.from_array(X, chunks=100)
    data = _dask.prepare(dX, None, 3, np.random.default_rng(0))
    assert data.sample.X.shape[0] == 4
    assert data.n_distinct == 3
    with pytest.raises(ValueError, match="distinct rows"):
        GaussianMixture(4).fit(dX)


@pytest.mark.parametrize("fit", ["gibbs"])
def test_other_engines_refuse_dask_input_instead_of_reading_it_whole(fit):
    # select_model, VB and the bootstrap take Dask input (test_dask_scale.py, test_vb_dask.py)
    from bayesmix import DirichletProcessMixture

    X = da.from_array(np.random.default_rng(0).normal(size=(60, 2)), chunks=20)
    run = {
        "gibbs": lambda: DirichletProcessMixture(n_iter=5).fit(X),
    }[fit]
    with pytest.raises(TypeError, match="only GaussianMixture"):
        run()
