"""Dask input beyond GaussianMixture.fit: .npy files read chunk by chunk and
their peak memory, zarr stores, select_model and the EM bootstrap.

Nothing runs at import time but the imports.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="dask is optional: pip install 'bayesmix[dask]'")

from bayesmix import GaussianMixture  # noqa: E402
from bayesmix._dask import from_npy  # noqa: E402


def _data(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [3.0, 3.0, 0.0], [0.0, 4.0, -2.0]])
    z = rng.choice(3, n, p=[0.45, 0.35, 0.2])
    return centres[z] + rng.normal(size=(n, 3)) * [1.0, 0.8, 0.6]


def _assert_same_fit(a, b, rtol=1e-10):
    assert a.n_iter_ == b.n_iter_
    for name in ("weights_", "means_", "covariances_"):
        x, y = getattr(a, name), getattr(b, name)
        np.testing.assert_allclose(y, x, rtol=rtol, atol=rtol * np.abs(x).max(), err_msg=name)
    np.testing.assert_allclose(b.log_likelihood_, a.log_likelihood_, rtol=rtol)


def _start(X, k):
    gm = GaussianMixture(k, max_iter=2, tol=0.0, random_state=1)
    with pytest.warns(Warning):  # not converged in 2 iterations: the point
        gm.fit(X)
    return {"weights_init": gm.weights_, "means_init": gm.means_, "precisions_init": gm.precisions_}


def test_from_npy_reads_chunks_and_fits_as_in_memory(tmp_path):
    X = _data()
    path = tmp_path / "X.npy"
    np.save(path, X)
    dX = from_npy(path, chunks=700)
    assert dX.chunks == ((700, 700, 700, 700, 200), (3,))
    np.testing.assert_array_equal(dX.compute(), X)
    start = _start(X, 3)
    mem = GaussianMixture(3, **start).fit(X)
    _assert_same_fit(mem, GaussianMixture(3, **start).fit(dX))
    # Fortran order on disk reads the same rows
    np.save(tmp_path / "F.npy", np.asfortranarray(X))
    np.testing.assert_array_equal(from_npy(tmp_path / "F.npy", chunks=1000).compute(), X)


def test_from_npy_refuses_other_shapes(tmp_path):
    np.save(tmp_path / "v.npy", np.arange(5.0))
    with pytest.raises(ValueError, match="2-D"):
        from_npy(tmp_path / "v.npy")


# The subprocess writes two files (n and 8 n rows) and fits each from chunks of
# the same size, measuring the peak of the Python-visible allocations (NumPy
# registers its buffers with tracemalloc) during the fit.  Out of core means
# the peak does not follow the file: it is the start's sample
# (bayesmix._dask.SAMPLE_ROWS rows), the chunks in flight (how many depends on
# the scheduler's order: it varies between runs) and some 10-20 kB of graph and
# results per chunk.  Measured: 6.4 MB of data peak at 7.3-8.8 MB, 51.2 MB at
# 11.2-12.3 MB (and 102 MB at 12.3-13.4 MB).
_MEMORY_SCRIPT = textwrap.dedent(
    """
    import resource, sys, tracemalloc, warnings
    import dask
    import dask.array as da
    import numpy as np
    from bayesmix import GaussianMixture
    from bayesmix._dask import from_npy

    folder, n, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=4.0, size=(4, 8))
    warm = centres[rng.integers(4, size=400)] + rng.normal(size=(400, 8))
    for X in (warm, da.from_array(warm, chunks=100)):  # compile, import, first graphs
        GaussianMixture(4, init_params="kmeans", random_state=0).fit(X)
    dask.config.set(scheduler="threads", num_workers=2)
    for rows in (n, 8 * n):
        path = f"{folder}/X{rows}.npy"
        out = np.lib.format.open_memmap(path, mode="w+", dtype=float, shape=(rows, 8))
        for i in range(0, rows, chunk):
            m = min(rows, i + chunk) - i
            out[i : i + m] = centres[rng.integers(4, size=m)] + rng.normal(size=(m, 8))
        out.flush()
        del out
        tracemalloc.start()
        gm = GaussianMixture(4, max_iter=3, init_params="kmeans", random_state=0)
        gm.fit(from_npy(path, chunks=chunk))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(rows * 64, peak, rss)
    """
)


def test_out_of_core_fit_memory_does_not_grow_with_the_file(tmp_path):
    n, chunk = 100_000, 10_000  # 6.4 MB and 51.2 MB of data; chunks of 640 kB
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, str(tmp_path), str(n), str(chunk)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    (small_data, small_peak, _), (big_data, big_peak, _) = np.array(out, float).reshape(2, 3)
    # 44.8 MB more data add a small fraction of that to the peak (holding the
    # file, or a copy of it, would add all of it) ...
    assert big_peak - small_peak < 0.2 * (big_data - small_data), (small_peak, big_peak)
    # ... and the fit never holds a third of the file
    assert big_peak < 0.35 * big_data, (big_peak, big_data)


# ------------------------------------------------------------ select_model
def test_select_model_on_dask_gives_the_in_memory_table():
    from bayesmix import select_model

    X = _data(600, seed=3)
    grid = {"n_components": range(1, 4), "covariance_types": ("VVV", "EEE", "VII")}
    mem = select_model(X, **grid, random_state=0)
    chunked = select_model(da.from_array(X, chunks=250), **grid, random_state=0)
    assert chunked.best_params_ == mem.best_params_
    cols = ["log_likelihood", "n_parameters", "bic", "aic", "icl"]
    np.testing.assert_allclose(
        chunked.table_[cols].to_numpy(float), mem.table_[cols].to_numpy(float), rtol=1e-8
    )
    assert (chunked.table_["n_iter"] == mem.table_["n_iter"]).all()
    np.testing.assert_allclose(chunked.best_.means_, mem.best_.means_, rtol=1e-8)
    with pytest.raises(ValueError, match="criterion='cv' needs the rows in memory"):
        select_model(da.from_array(X, chunks=250), n_components=2, criterion="cv")


# ---------------------------------------------------------------- bootstrap
def test_bootstrap_weights_are_drawn_per_chunk():
    from bayesmix._dask_boot import replicate_weights

    dX = da.from_array(np.zeros((40_000, 2)), chunks=10_000)
    counts = replicate_weights(dX, None, 7, "nonparametric", True).compute()
    again = replicate_weights(dX, None, 7, "nonparametric", True).compute()
    np.testing.assert_array_equal(counts, again)  # deterministic for a seed and chunking
    assert np.array_equal(counts, np.round(counts))
    # Poisson(1) counts: mean 1, variance 1 (standard errors about 0.005 and 0.01)
    assert abs(counts.mean() - 1.0) < 0.03 and abs(counts.var() - 1.0) < 0.05
    # the chunks draw different streams
    assert not np.array_equal(counts[:10_000], counts[10_000:20_000])
    w = da.from_array(np.full(40_000, 2.0), chunks=10_000)
    gam = replicate_weights(dX, w, 7, "weighted", True).compute()
    # Gamma(2) weights (Dirichlet up to their total): mean 2, variance 2
    assert abs(gam.mean() - 2.0) < 0.05 and abs(gam.var() - 2.0) < 0.15


def test_a_bootstrap_replicate_on_dask_is_the_in_memory_refit():
    from bayesmix import bootstrap_em
    from bayesmix._dask_boot import _refit as refit_chunked
    from bayesmix._dask_boot import replicate_weights
    from bayesmix._em_bootstrap import _refit as refit_in_memory

    X = _data(800, seed=4)
    gm = GaussianMixture(2, random_state=0).fit(X)
    dX = da.from_array(X, chunks=300)
    params = gm.get_params()
    params.update(
        weights_init=gm.weights_,
        means_init=gm.means_,
        precisions_init=gm.precisions_,
        n_init="auto",
        tol="auto",
        max_iter=1000,
        random_state=5,
    )
    wb = replicate_weights(dX, None, 11, "nonparametric", True)
    a = refit_in_memory(params, X, wb.compute())
    b = refit_chunked(params, dX, wb)
    for name in ("weights", "means", "covariances"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-8, atol=1e-10)
    post = bootstrap_em(gm, dX, n_boot=2, random_state=0)
    assert post.kind == "bootstrap" and post.weights.shape[:2] == (1, 2)


# -------------------------------------------------------------------- zarr
def test_fit_from_a_zarr_store_equals_in_memory(tmp_path):
    pytest.importorskip("zarr", reason="zarr is optional: pip install 'bayesmix[zarr]'")
    X = _data(2000, seed=6)
    da.from_array(X, chunks=(600, 3)).to_zarr(str(tmp_path / "X.zarr"))
    stored = da.from_zarr(str(tmp_path / "X.zarr"))
    assert stored.chunks[0] == (600, 600, 600, 200)
    start = _start(X, 3)
    _assert_same_fit(GaussianMixture(3, **start).fit(X), GaussianMixture(3, **start).fit(stored))
    # and the default start too: the sample holds every row, so the fit is the
    # in-memory fit with the same random_state
    _assert_same_fit(
        GaussianMixture(3, random_state=2).fit(X), GaussianMixture(3, random_state=2).fit(stored)
    )
