"""EM on Dask arrays against EM in memory: time per iteration (issue 14).

Simulated data: ``--rows`` x 8 features (default 2 000 000: 128 MB), 8
well-separated groups, K = 8, ``covariance_type="full"``.  Every fit starts
from the same parameters (``weights_init``, ``means_init``,
``precisions_init``), so they all take the same iterations; the time per
iteration is ``(t(12 iterations) - t(2 iterations)) / 10``, which leaves out
the one-off passes (data preparation, the final E-step).

Rows:

- ``in memory``: a NumPy array;
- ``dask, threads``: ``dask.array.from_array(X)`` in chunks of ``--chunk``
  rows, Dask's threaded scheduler;
- ``dask, memmap .npy``: the same from a memory-mapped ``.npy`` file, every
  iteration reading the file chunk by chunk;
- ``dask, LocalCluster``: two worker processes with one thread each on
  127.0.0.1; the chunks are persisted in the workers' memory first (``X.persist()``),
  as on a real cluster;
- scikit-learn's ``GaussianMixture`` in memory, for scale.

``log-lik`` is the final total log-likelihood: equal in every row but
scikit-learn's up to rounding.

Usage::

    python benchmarks/bench_scale.py                 # about a minute on 2 cores
    python benchmarks/bench_scale.py --rows 10000000 --chunk 1000000
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from bayesmix import GaussianMixture


def simulate(n_rows: int, n_features: int = 8, k: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(k, n_features))
    labels = rng.integers(k, size=n_rows)
    return centres[labels] + rng.normal(size=(n_rows, n_features))


def start(X, k: int):
    """Initial parameters from a short fit of a subsample."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(k, n_init=1, max_iter=1, init_params="kmeans", random_state=0)
        gm.fit(X[:: max(1, X.shape[0] // 20_000)])
    return {"weights_init": gm.weights_, "means_init": gm.means_, "precisions_init": gm.precisions_}


def per_iteration(fit_with):
    """Seconds per EM iteration (12 minus 2 iterations), and the 12-iteration model."""
    times = {}
    for m in (2, 12):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is the point
            t0 = time.perf_counter()
            model = fit_with(m)
            times[m] = time.perf_counter() - t0
    return (times[12] - times[2]) / 10, model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--chunk", type=int, default=250_000)
    parser.add_argument("--no-cluster", action="store_true", help="skip the LocalCluster row")
    args = parser.parse_args()

    import dask.array as da

    k = 8
    X = simulate(args.rows)
    init = start(X, k)

    def ours(data):
        return lambda m: GaussianMixture(k, tol=0.0, max_iter=m, **init).fit(data)

    rows = []
    rows.append(("in memory", *per_iteration(ours(X))))
    dX = da.from_array(X, chunks=(args.chunk, -1))
    rows.append(("dask, threads", *per_iteration(ours(dX))))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "X.npy"
        np.save(path, X)
        mapped = da.from_array(np.load(path, mmap_mode="r"), chunks=(args.chunk, -1))
        rows.append(("dask, memmap .npy", *per_iteration(ours(mapped))))
    if not args.no_cluster:
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=2,
                processes=True,
                threads_per_worker=1,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster),
        ):
            with warnings.catch_warnings():
                # from_array puts the NumPy array in the graph once: fine for a benchmark
                warnings.filterwarnings("ignore", message=".*[Ll]arge")
                persisted = dX.persist()
            rows.append(("dask, LocalCluster (2 x 1)", *per_iteration(ours(persisted))))
    try:
        from sklearn.mixture import GaussianMixture as SkGM

        def theirs(m):
            return SkGM(k, tol=0.0, max_iter=m, **init).fit(X)

        rows.append(("scikit-learn, in memory", *per_iteration(theirs)))
    except ImportError:  # pragma: no cover - a test dependency
        pass

    base = rows[0][1]
    print(f"EM, {args.rows:,} x 8, K={k}, full covariances; chunks of {args.chunk:,} rows")
    print(f"{'':28s} {'s / iteration':>14s} {'vs in memory':>13s} {'log-lik':>18s}")
    for name, sec, model in rows:
        ll = getattr(model, "log_likelihood_", None)
        if ll is None:  # scikit-learn: mean per row at its last E-step
            ll = model.score(X) * X.shape[0]
        print(f"{name:28s} {sec:14.3f} {sec / base:12.2f}x {ll:18.6f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:.0f} MiB (the data: {X.nbytes / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
