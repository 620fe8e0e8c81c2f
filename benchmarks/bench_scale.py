"""EM beyond one machine: in memory against scikit-learn, out of core from a
file, on a two-worker LocalCluster, and streaming ``partial_fit`` (issue 14).

Simulated data: 8 features, 8 well-separated groups, K = 8, full covariances.
Every EM fit starts from the same parameters (``weights_init``,
``means_init``, ``precisions_init``), so they take the same iterations.  A
bayesmix iteration is timed as the median of the EM iterations of fits of
``1 + --iters`` iterations (``--repeat`` of them for the in-memory and cluster
rows); scikit-learn's as ``(t(2 + m iterations) - t(2 iterations)) / m``.

Rows of the table:

1. ``in memory`` / ``scikit-learn``: ``--rows`` (default 10 million, 640 MB)
   in a NumPy array;
2. ``out of core``: ``--ooc-rows`` (default 50 million, 3.2 GB) written to a
   ``.npy`` file in a temporary directory (deleted after), fitted from
   :func:`bayesmix._dask.from_npy` chunks in a child process whose peak RSS is
   printed (target: under 1 GiB);
3. ``LocalCluster``: two worker processes with one thread each on 127.0.0.1,
   (a) the in-memory rows persisted in the workers, against ``in memory``
   (target: at most 1.5x), (b) the file, each worker reading its own chunks;
4. ``partial_fit``: one pass of ``GaussianMixture.partial_fit`` over the file
   in batches of ``--batch`` rows (default 100 000), in the child process:
   its time, and its total log-likelihood on the file against the batch
   out-of-core fit's.

Usage::

    python benchmarks/bench_scale.py --rows 200000 --ooc-rows 1000000   # quick
    python benchmarks/bench_scale.py                                    # the issue's sizes
    python benchmarks/bench_scale.py --memory --rows 1000000  # what an in-memory fit copies

Results (2-core machine shared with three other jobs, load average 4-8; the
user guide's "When your data outgrow one machine" has the table):
10 000 000 rows in memory 2.51 s / iteration, the same persisted on a
two-worker LocalCluster 1.08 s (0.43x), scikit-learn 31.5 s (8.5x, first run);
50 000 000 rows out of core 24.5 s (1.95x per row), peak RSS 762 MiB;
``partial_fit`` one pass in 500 batches 34 s, log-likelihood within 1.5e-5 per
row of the batch fit; ``--memory``: an in-memory fit allocates 3.25x the data
beyond ``X``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from bayesmix import GaussianMixture

K, D = 8, 8


def centres(seed: int = 0):
    return np.random.default_rng(seed).normal(scale=4.0, size=(K, D))


def simulate(n_rows: int, seed: int = 0, draws: int | None = None):
    """Rows of the mixture with centres ``centres(seed)``; ``draws`` seeds the
    labels and the noise (``seed + 1`` by default)."""
    rng = np.random.default_rng(seed + 1 if draws is None else draws)
    return centres(seed)[rng.integers(K, size=n_rows)] + rng.normal(size=(n_rows, D))


def write_npy(path: Path, n_rows: int, block: int = 1_000_000, seed: int = 0):
    """The simulated rows written block by block (never whole in memory)."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n_rows, D))
    for i, start in enumerate(range(0, n_rows, block)):
        m = min(n_rows, start + block) - start
        # the same mixture in every block (a stream from one distribution)
        out[start : start + m] = simulate(m, seed=seed, draws=seed + 1000 * (i + 1))
    out.flush()
    del out


def start_params(X):
    """Initial parameters from one EM iteration on a subsample."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(K, max_iter=1, init_params="kmeans", random_state=0)
        gm.fit(np.asarray(X[:: max(1, X.shape[0] // 20_000)]))
    return {"weights_init": gm.weights_, "means_init": gm.means_, "precisions_init": gm.precisions_}


def per_iteration(fit_with, iters: int, repeat: int = 1, warm_up: bool = True):
    """Seconds per EM iteration, and the longer run's model: each of the two
    runs is timed ``repeat`` times and the fastest kept (the machine may be
    shared: the minimum is the least disturbed run).  For scikit-learn."""
    if warm_up:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_with(1)  # imports, compilation, a cluster's first graphs
    times = {}
    for _ in range(repeat):
        for m in (2, 2 + iters):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is the point
                t0 = time.perf_counter()
                model = fit_with(m)
                times[m] = min(times.get(m, np.inf), time.perf_counter() - t0)
    return (times[2 + iters] - times[2]) / iters, model


def per_step(fit_with, iters: int, repeat: int = 1):
    """Seconds per bayesmix EM iteration: the median duration of the EM
    iterations (E-step pass and M-step, ``bayesmix._em_core.step``) of
    ``repeat`` fits of ``1 + iters`` iterations after a warm-up.  The median
    leaves out the one-off passes and a shared machine's bursts, which made
    differences of whole fits' times meaningless (even negative) under load."""
    from bayesmix import _em_core

    step, durations = _em_core.step, []

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        out = step(*args, **kwargs)
        durations.append(time.perf_counter() - t0)
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is the point
        fit_with(1)  # imports, compilation, a cluster's first graphs
        _em_core.step = timed
        try:
            for _ in range(repeat):
                model = fit_with(1 + iters)
        finally:
            _em_core.step = step
    return float(np.median(durations)), model


def peak_rss_mib() -> float:
    """This process's peak resident set (MiB): ``VmHWM`` where /proc has it --
    ``ru_maxrss`` survives ``exec`` on Linux, so a child started by a large
    parent would report the parent's peak."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_memory_peak(n_rows: int) -> None:
    """Peak of the allocations (``tracemalloc``) of an in-memory fit beyond
    the caller's ``X``, as a multiple of ``X``'s size: what the fit copies."""
    import tracemalloc

    X = simulate(n_rows)
    init = start_params(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        GaussianMixture(K, max_iter=1, **init).fit(X[:5000])  # imports, compilation
        tracemalloc.start()
        GaussianMixture(K, tol=0.0, max_iter=3, **init).fit(X)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    print(
        f"in-memory fit of {n_rows:,} x {D} ({X.nbytes / 2**20:.0f} MiB): peak allocations "
        f"{peak / X.nbytes:.2f}x the data beyond X itself"
    )


# ----------------------------------------------------------- the child process
def child(path: str, iters: int, chunk: int, batch: int) -> None:
    """Out-of-core EM and partial_fit on the file; prints one JSON line."""
    from bayesmix._dask import from_npy

    dX = from_npy(path, chunks=chunk)
    init = start_params(np.load(path, mmap_mode="r")[:200_000])
    out = {"rss_start": peak_rss_mib()}
    sec, model = per_step(lambda m: GaussianMixture(K, tol=0.0, max_iter=m, **init).fit(dX), iters)
    out.update(ooc_sec=sec, ooc_ll=model.log_likelihood_, ooc_rss=peak_rss_mib())
    # partial_fit: one pass, batches read from the file and dropped
    n = dX.shape[0]
    stream = GaussianMixture(K, random_state=0, **init)  # the batch fit's start
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for start in range(0, n, batch):
            mapped = np.load(path, mmap_mode="r")
            rows = np.array(mapped[start : start + batch])
            del mapped
            stream.partial_fit(rows)
    out["pf_sec"] = time.perf_counter() - t0
    out["pf_ll"] = float(stream.score(dX) * n)
    out["pf_steps"] = stream.n_steps_
    out["rss_end"] = peak_rss_mib()
    print(json.dumps(out))


def cluster_rows(X, ooc_path, init, iters, chunk, repeat):
    import dask.array as da
    from distributed import Client, LocalCluster

    from bayesmix._dask import from_npy

    rows = []
    with (
        LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=":0",  # any free port: 8787 may be taken
        ) as cluster,
        Client(cluster) as client,
    ):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Ll]arge")
            persisted = client.persist(da.from_array(X, chunks=(chunk, -1)))
        sec, model = per_step(
            lambda m: GaussianMixture(K, tol=0.0, max_iter=m, **init).fit(persisted), iters, repeat
        )
        rows.append((f"LocalCluster 2x1, {X.shape[0]:,} rows persisted", sec, model))
        if ooc_path is not None:
            dX = from_npy(ooc_path, chunks=chunk)
            ooc_init = start_params(np.load(ooc_path, mmap_mode="r")[:200_000])
            sec, model = per_step(
                lambda m: GaussianMixture(K, tol=0.0, max_iter=m, **ooc_init).fit(dX), iters
            )
            rows.append((f"LocalCluster 2x1, {dX.shape[0]:,} rows from .npy", sec, model))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--ooc-rows", type=int, default=50_000_000)
    parser.add_argument("--chunk", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument(
        "--repeat", type=int, default=2, help="timings of the in-memory and cluster rows (min)"
    )
    parser.add_argument("--no-cluster", action="store_true", help="skip the LocalCluster rows")
    parser.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn")
    parser.add_argument(
        "--no-cluster-npy", action="store_true", help="skip the LocalCluster row on the file"
    )
    parser.add_argument(
        "--memory", action="store_true", help="only the in-memory fit's peak allocations (--rows)"
    )
    parser.add_argument("--child", nargs=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory:
        in_memory_peak(args.rows)
        return
    if args.child:
        child(args.child[0], args.iters, args.chunk, args.batch)
        return

    X = simulate(args.rows)
    init = start_params(X)

    def ours(m):
        return GaussianMixture(K, tol=0.0, max_iter=m, **init).fit(X)

    load = [os.getloadavg()[0]]
    sec_mem = per_step(ours, args.iters, args.repeat)
    rows = [(f"in memory, {args.rows:,} rows", *sec_mem)]
    from sklearn.mixture import GaussianMixture as SkGM

    def theirs(m):
        return SkGM(K, tol=0.0, max_iter=m, **init).fit(X)

    if not args.no_sklearn:
        # no warm-up (nothing to compile) and one timing: scikit-learn is the slow row
        sk = per_iteration(theirs, args.iters, warm_up=False)
        rows.append((f"scikit-learn, {args.rows:,} rows", *sk))
    in_memory_rss = peak_rss_mib()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "X.npy"
        t0 = time.perf_counter()
        write_npy(path, args.ooc_rows)
        written = time.perf_counter() - t0
        cmd = [sys.executable, __file__, "--child", str(path), "--iters", str(args.iters)]
        cmd += ["--chunk", str(args.chunk), "--batch", str(args.batch)]
        res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        if not args.no_cluster:
            on_file = None if args.no_cluster_npy else path
            rows += cluster_rows(X, on_file, init, args.iters, args.chunk, args.repeat)
    load.append(os.getloadavg()[0])

    base = rows[0][1]
    print(f"EM, {D} features, K={K}, full covariances; chunks of {args.chunk:,} rows")
    print(f"{'':46s} {'s / iteration':>14s} {'vs in memory':>13s} {'log-lik':>22s}")
    for name, sec, model in rows:
        ll = getattr(model, "log_likelihood_", None)
        if ll is None:  # scikit-learn: mean per row at its last E-step
            ll = model.score(X) * X.shape[0]
        ratio = f"{sec / base:12.2f}x" if "from .npy" not in name else " " * 13
        print(f"{name:46s} {sec:14.3f} {ratio} {ll:22.6f}")
    per_row = base / args.rows * args.ooc_rows
    print(
        f"{'out of core, ' + format(args.ooc_rows, ',') + ' rows (.npy)':46s} "
        f"{res['ooc_sec']:14.3f} {res['ooc_sec'] / per_row:12.2f}x {res['ooc_ll']:22.6f}"
        "   (vs in memory per row)"
    )
    print(
        f"out of core: {args.ooc_rows * D * 8 / 1e9:.1f} GB written in {written:.0f} s; "
        f"peak RSS of the fitting process {res['ooc_rss']:.0f} MiB "
        f"(after imports {res['rss_start']:.0f} MiB)"
    )
    print(
        f"partial_fit: one pass in batches of {args.batch:,} ({res['pf_steps']} steps after "
        f"the first batch's fit): {res['pf_sec']:.1f} s; log-likelihood on the file "
        f"{res['pf_ll']:.6f} vs the batch fit's {res['ooc_ll']:.6f} "
        f"(difference per row {(res['pf_ll'] - res['ooc_ll']) / args.ooc_rows:.2e}); "
        f"peak RSS {res['rss_end']:.0f} MiB"
    )
    print(f"peak RSS of this process (in-memory rows): {in_memory_rss:.0f} MiB")
    print(f"load average (1 min) at the start and the end: {load[0]:.1f}, {load[1]:.1f}")


if __name__ == "__main__":
    main()
