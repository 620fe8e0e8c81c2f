"""GaussianMixture on Dask arrays with missing values (NaN): the in-memory
missing-value EM (bayesmix._missing), its passes mapped over the row chunks.

Worker processes of the LocalCluster re-import this module: nothing runs at
import time but the imports.
"""

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="dask is optional: pip install 'bayesmix[dask]'")

from _exact import assert_same_em_fit  # noqa: E402

from bayesmix import GaussianMixture, VariationalGaussianMixture  # noqa: E402

N = 300
CHUNKINGS = {
    "one chunk": (N,),
    "uneven": (40, 100, 7, 153),
    "a few rows": (9,) * 33 + (3,),
}


def _data(seed=0, n_features=3):
    """Two overlapping groups, 300 rows, about 15% of the cells missing in
    several patterns, integer and zero weights; rows 100..139 are complete and
    rows 140..146 (one chunk of the uneven chunking) have no weight."""
    rng = np.random.default_rng(seed)
    half = N // 2
    X = np.vstack(
        [
            rng.normal(size=(half, n_features)),
            rng.normal(size=(N - half, n_features)) * 0.7 + 2.5,
        ]
    )
    X = X[rng.permutation(N)]
    X[rng.random(X.shape) < 0.15] = np.nan
    complete = X[100:140]  # a view
    complete[np.isnan(complete)] = 1.0
    X[np.isnan(X).all(axis=1), 0] = 0.5  # every row observes something
    w = rng.integers(0, 4, size=N).astype(float)
    w[140:147] = 0.0
    return X, w


def test_the_data_have_what_the_tests_need():
    X, w = _data()
    missing = np.isnan(X)
    assert 0.1 < missing.mean() < 0.2
    assert len({tuple(r) for r in missing}) >= 5  # several patterns
    assert not missing[100:140].any() and missing[w > 0].any()
    assert not missing.all(axis=1).any()
    assert (w[140:147] == 0).all() and (w == 0).sum() > 7


@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("covariance_type", ["full", "diag", "VVI"])
def test_default_fit_equals_the_in_memory_fit(covariance_type, chunking):
    """The sample holds every row: the default start (n_init="auto") and the
    whole fit are the in-memory ones with the same random_state, whatever the
    chunking, with weights given in chunks or in memory."""
    X, w = _data()
    chunks = CHUNKINGS[chunking]
    mem = GaussianMixture(2, covariance_type=covariance_type, random_state=3).fit(
        X, sample_weight=w
    )
    dX = da.from_array(X, chunks=(chunks, 3))
    chunked = GaussianMixture(2, covariance_type=covariance_type, random_state=3).fit(
        dX,
        sample_weight=da.from_array(w, chunks=50),  # rechunked to X's rows
    )
    assert_same_em_fit(mem, chunked)
    for crit in ("bic", "aic", "icl"):
        np.testing.assert_allclose(
            getattr(chunked, crit)(dX, sample_weight=w),
            getattr(mem, crit)(X, sample_weight=w),
            rtol=1e-10,
        )


@pytest.mark.parametrize("covariance_type", ["tied", "spherical", "VEV"])
def test_fit_without_weights_equals_the_in_memory_fit(covariance_type):
    X, _ = _data(seed=1)
    mem = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    chunked = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(
        da.from_array(X, chunks=(CHUNKINGS["uneven"], 3))
    )
    assert_same_em_fit(mem, chunked)


def test_prepare_gives_the_in_memory_units_and_sample():
    from bayesmix import _dask
    from bayesmix._data import prepare

    X, w = _data()
    mem = prepare(X, w, 2, rescale_weights=True, allow_missing=True)
    for chunks in CHUNKINGS.values():
        data = _dask.prepare(
            da.from_array(X, chunks=(chunks, 3)), w, 2, np.random.default_rng(0), allow_missing=True
        )
        assert data.holes
        np.testing.assert_allclose(data.std.center, mem.std.center, rtol=1e-12)
        assert data.std.scale == mem.std.scale
        np.testing.assert_allclose(data.std.mean_variance, mem.std.mean_variance, rtol=1e-12)
        np.testing.assert_allclose(data.variances, mem.variances, rtol=1e-12)
        assert data.n_samples == int((w > 0).sum()) and data.total == w.sum()
        assert data.n_distinct == mem.n_distinct
        # the sample: every row of positive weight, NaN kept, grouped by pattern as in memory
        sample = data.sample
        order = np.lexsort(np.nan_to_num(sample.X, nan=np.inf).T)
        expected = np.lexsort(np.nan_to_num(mem.X, nan=np.inf).T)
        np.testing.assert_array_equal(sample.X[order], mem.X[expected])
        np.testing.assert_array_equal(sample.w[order], mem.w[expected])
        assert len(sample.missing.groups) == len(mem.missing.groups)
        # the mean-filled rows the starts cluster (the centres agree to rounding)
        np.testing.assert_allclose(
            sample.filled[:, order], mem.filled[:, expected], rtol=0, atol=1e-14
        )


def test_complete_data_are_not_holes():
    """NaN only in rows of zero weight: as in memory (which drops those rows),
    the data have no holes, and the fit is the complete-data one."""
    from bayesmix import _dask

    X, w = _data()
    X = np.where(np.isnan(X), 1.0, X)
    X[140:147, 1] = np.nan  # zero weight
    dX = da.from_array(X, chunks=50)
    data = _dask.prepare(dX, w, 2, np.random.default_rng(0), allow_missing=True)
    assert not data.holes
    mem = GaussianMixture(2, random_state=0).fit(X, sample_weight=w)
    assert_same_em_fit(mem, GaussianMixture(2, random_state=0).fit(dX, sample_weight=w))


def test_worst_rows_and_one_component_fit_are_the_in_memory_ones():
    """Re-seeding judges rows by their observed features (per feature) and
    returns them completed; the one-component floor reads mean-filled rows."""
    from bayesmix import _dask
    from bayesmix import _em_core as core
    from bayesmix._data import prepare
    from bayesmix._em_floor import _one_component
    from bayesmix.covariance import get_structure

    X, w = _data()
    dX = da.from_array(X, chunks=(CHUNKINGS["uneven"], 3))
    chunked = _dask.prepare(dX, w, 2, np.random.default_rng(0), allow_missing=True)
    mem = prepare(X, w, 2, allow_missing=True).restandardised(chunked.std)
    for name in ("full", "diag", "VVI"):
        structure = get_structure(name)
        config = core.check_config(
            GaussianMixture(3, covariance_type=name, init_params="kmeans").get_params()
        )[0]
        ctx = core.context(mem, "auto")
        params, _ = core.initial_params(config, mem, np.random.default_rng(0), {}, ctx)
        params.weights = np.array([0.5, 0.5, 0.0])
        for n in (1, 5, 40):  # 40: the order per observed feature matters
            a = core._worst_rows(structure, mem, params, n)
            b = core._worst_rows(structure, chunked, params, n)
            assert not np.isnan(b[0]).any()
            np.testing.assert_allclose(b[0], a[0], rtol=1e-12, atol=1e-12)
            np.testing.assert_array_equal(b[1], a[1])
        new_mem, _ = core.reseed(structure, mem, params)
        new_chunked, _ = core.reseed(structure, chunked, params)
        np.testing.assert_allclose(new_chunked.means, new_mem.means, rtol=1e-12, atol=1e-12)
        one_mem = _one_component(structure, mem, mem.Xt.shape[1], 3, ctx)
        one_chunked = _one_component(structure, chunked, chunked.n_samples, 3, ctx)
        np.testing.assert_allclose(one_chunked.means, one_mem.means, atol=1e-12)
        np.testing.assert_allclose(one_chunked.covariances, one_mem.covariances, rtol=1e-10)


def test_predictions_are_lazy_and_equal_in_memory():
    X, w = _data()
    gm = GaussianMixture(2, covariance_type="VVI", random_state=0).fit(X, sample_weight=w)
    dX = da.from_array(X, chunks=(CHUNKINGS["uneven"], 3))
    for method in ("predict", "predict_proba", "score_samples", "impute"):
        lazy = getattr(gm, method)(dX)
        assert isinstance(lazy, da.Array), method
        np.testing.assert_allclose(lazy.compute(), getattr(gm, method)(X), rtol=1e-12)
    assert not np.isnan(gm.impute(dX).compute()).any()
    np.testing.assert_allclose(gm.score(dX), gm.score(X), rtol=1e-12)
    np.testing.assert_allclose(gm.score(dX, sample_weight=w), gm.score(X, sample_weight=w))
    for crit in ("bic", "aic", "icl"):
        np.testing.assert_allclose(getattr(gm, crit)(dX), getattr(gm, crit)(X), rtol=1e-12)
    with pytest.raises(TypeError, match=r"impute\(X.compute\(\), n_draws=...\)"):
        gm.impute(dX, n_draws=3)


def _message(run):
    with pytest.raises(ValueError) as info:
        run()
    return str(info.value)


def test_bad_cells_are_refused_with_the_in_memory_messages():
    X, w = _data()
    dask_fit = GaussianMixture(2).fit
    for row in (0, 150, 299):  # first chunk, middle, last chunk
        empty = X.copy()
        empty[row] = np.nan
        inf = X.copy()
        inf[row, 2] = -np.inf
        for bad in (empty, inf):
            expected = _message(lambda bad=bad: GaussianMixture(2).fit(bad, sample_weight=w))
            assert f"[{row}]" in expected or f"row {row}," in expected
            for chunks in CHUNKINGS.values():
                got = _message(
                    lambda bad=bad, chunks=chunks: dask_fit(
                        da.from_array(bad, chunks=(chunks, 3)), sample_weight=w
                    )
                )
                assert got == expected
    # a column without an observed value in the rows of positive weight
    column = X.copy()
    column[w > 0, 1] = np.nan
    column[np.isnan(column).all(axis=1), 0] = 1.0
    expected = _message(lambda: GaussianMixture(2).fit(column, sample_weight=w))
    assert "column(s) [1]" in expected
    assert _message(lambda: dask_fit(da.from_array(column, chunks=40), sample_weight=w)) == expected
    # predictions: the same refusals, with the rows numbered in the whole array
    gm = GaussianMixture(2, random_state=0).fit(X)
    empty = X.copy()
    empty[[125, 130]] = np.nan  # in the chunk of rows 120..159
    expected = _message(lambda: gm.predict(empty))
    assert "[125, 130]" in expected
    assert _message(lambda: gm.predict(da.from_array(empty, chunks=40)).compute()) == expected


def test_engines_without_missing_values_on_dask_refuse_nan():
    X, _ = _data()
    with pytest.raises(ValueError, match="only GaussianMixture takes NaN as a missing value"):
        VariationalGaussianMixture(2).fit(da.from_array(X, chunks=100))
    gm = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(TypeError, match="blocks"):
        gm.partial_fit(da.from_array(X, chunks=100))


def test_distinct_rows_with_holes_are_counted_over_all_chunks(monkeypatch):
    from bayesmix import _dask

    monkeypatch.setattr(_dask, "SAMPLE_ROWS", 4)
    X = np.zeros((300, 2))
    X[:, 1] = np.nan  # every row misses feature 1 ...
    X[:10, 1] = 1.0  # ... but these (so the column is observed)
    X[150:, 0] = 1.0
    X[299] = [2.0, np.nan]  # the fourth distinct row, in the last chunk only
    dX = da.from_array(X, chunks=100)
    data = _dask.prepare(dX, None, 4, np.random.default_rng(0), allow_missing=True)
    assert data.sample.X.shape[0] == 4
    assert data.n_distinct == 4
    with pytest.raises(ValueError, match="distinct rows"):
        GaussianMixture(5).fit(dX)


def test_persisted_data_with_holes_on_a_cluster_fit_as_in_memory(local_cluster):
    from bayesmix import _dask

    X, w = _data()
    mem = GaussianMixture(2, covariance_type="diag", random_state=1).fit(X, sample_weight=w)
    dX = da.from_array(X, chunks=(CHUNKINGS["uneven"], 3))
    dw = da.from_array(w, chunks=(CHUNKINGS["uneven"],))
    pX, pw = local_cluster.persist([dX, dw])
    held = GaussianMixture(2, covariance_type="diag", random_state=1).fit(pX, sample_weight=pw)
    assert_same_em_fit(mem, held)
    on_cluster = _dask.prepare(pX, pw, 2, np.random.default_rng(0), allow_missing=True)
    pairs, client = on_cluster._held()
    assert client is local_cluster and len(pairs) == len(CHUNKINGS["uneven"])
    np.testing.assert_array_equal(held.predict(pX).compute(), mem.predict(X))


def test_select_model_on_dask_with_holes_gives_the_in_memory_table():
    from bayesmix import select_model

    X, _ = _data(seed=2)
    grid = {"n_components": range(1, 3), "covariance_types": ("VVV", "VVI")}
    mem = select_model(X, **grid, random_state=0)
    chunked = select_model(da.from_array(X, chunks=70), **grid, random_state=0)
    assert chunked.best_params_ == mem.best_params_
    cols = ["log_likelihood", "n_parameters", "bic", "aic", "icl"]
    np.testing.assert_allclose(
        chunked.table_[cols].to_numpy(float), mem.table_[cols].to_numpy(float), rtol=1e-8
    )


def test_a_bootstrap_replicate_with_holes_on_dask_is_the_in_memory_refit():
    from bayesmix._dask_boot import _refit as refit_chunked
    from bayesmix._dask_boot import replicate_weights
    from bayesmix._em_bootstrap import _refit as refit_in_memory
    from bayesmix._replicates import replicate_params

    X, _ = _data(seed=4)
    gm = GaussianMixture(2, covariance_type="diag", random_state=0).fit(X)
    dX = da.from_array(X, chunks=150)
    params = {**replicate_params(gm), "random_state": 5}
    wb = replicate_weights(dX, None, 11, "nonparametric", True)
    a = refit_in_memory(params, X, wb.compute())
    b = refit_chunked(params, dX, wb)
    for name in ("weights", "means", "covariances"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-8, atol=1e-10)
    post = gm.posterior(dX, n_draws=2, random_state=0)
    assert post.kind == "bootstrap" and post.weights.shape[:2] == (1, 2)


def test_rows_with_holes_in_memory_and_weights_in_chunks():
    """X in memory, sample_weight a Dask array: X is chunked like the weights
    and its NaN are missing values, as in the fit of X in memory."""
    X, w = _data(seed=5)
    mem = GaussianMixture(2, covariance_type="diag", random_state=0).fit(X, sample_weight=w)
    chunked = GaussianMixture(2, covariance_type="diag", random_state=0).fit(
        X, sample_weight=da.from_array(w, chunks=(CHUNKINGS["uneven"],))
    )
    assert_same_em_fit(mem, chunked)
