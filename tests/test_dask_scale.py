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


# The subprocess writes two files (n and 4 n rows) and fits each from chunks of
# the same size, measuring the peak of the Python-visible allocations (NumPy
# registers its buffers with tracemalloc) during the fit.  Out of core means
# the peak does not grow with the file: it is the start's sample
# (bayesmix._dask.SAMPLE_ROWS rows) and a few chunks per thread.
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
    for rows in (n, 4 * n):
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
    n, chunk = 100_000, 10_000  # 6.4 MB and 25.6 MB of data; chunks of 640 kB
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, str(tmp_path), str(n), str(chunk)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    (_, small_peak, _), (big_data, big_peak, _) = np.array(out, float).reshape(2, 3)
    chunk_bytes = chunk * 64
    # a file four times larger adds at most a few chunks to the peak ...
    assert big_peak < small_peak + 4 * chunk_bytes, (small_peak, big_peak)
    # ... and the fit never holds the file
    assert big_peak < 0.5 * big_data, (big_peak, big_data)
