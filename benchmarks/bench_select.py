"""Model selection over {spherical, diag, tied, full} x K = 1..9: bayesmix's
``select_model`` against scikit-learn's equivalent loop, in one run.

The data are 15 000 x 4 points from a 4-component full-covariance mixture.
scikit-learn's loop is what its documentation suggests: one
``GaussianMixture(n_components=k, covariance_type=ct).fit(X)`` and
``.bic(X)`` per cell, one after the other (k-means initialisation, tol 1e-3,
max_iter 100).  bayesmix fits the same 36 cells with
:func:`bayesmix.select_model` and its defaults: mclust's hierarchical start
(one agglomeration of a 2000-row subsample, cut at every K), tol 1e-4,
threads over cells, BIC, AIC and ICL in one table.  Each repeat uses a new
seed, so the agglomeration is never a cached one.  Each time is the median
of a few repeats after a warm-up (numba loads its cache, BLAS starts its
threads).

Usage::

    python benchmarks/bench_select.py            # 15 000 x 4, 3 repeats
    python benchmarks/bench_select.py --quick    # 3 000 x 4, 1 repeat

scikit-learn is a test-only dependency; this script needs it.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

COVARIANCE_TYPES = ("spherical", "diag", "tied", "full")
TARGET_SECONDS = 0.3


def make_data(n_samples: int, n_features: int = 4, n_components: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = 6.0 * rng.normal(size=(n_components, n_features))
    A = rng.normal(size=(n_components, n_features, n_features)) * 0.6
    covs = A @ np.swapaxes(A, 1, 2) + 0.3 * np.eye(n_features)
    labels = rng.choice(n_components, size=n_samples, p=rng.dirichlet(np.full(n_components, 4)))
    L = np.linalg.cholesky(covs)
    Z = rng.normal(size=(n_samples, n_features))
    return centres[labels] + np.einsum("nij,nj->ni", L[labels], Z)


def run_bayesmix(X, ks, seed):
    from bayesmix import select_model

    t0, c0 = time.perf_counter(), time.process_time()
    sel = select_model(X, n_components=ks, covariance_types=COVARIANCE_TYPES, random_state=seed)
    return time.perf_counter() - t0, time.process_time() - c0, sel.best_params_, sel.table_


def run_sklearn(X, ks, seed):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    t0, c0 = time.perf_counter(), time.process_time()
    best, best_bic = None, np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for ct in COVARIANCE_TYPES:
            for k in ks:
                gm = GaussianMixture(k, covariance_type=ct, random_state=seed).fit(X)
                bic = gm.bic(X)
                if bic < best_bic:
                    best, best_bic = {"covariance_type": ct, "n_components": k}, bic
    return time.perf_counter() - t0, time.process_time() - c0, best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 000 rows, one repeat")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    n_samples = 3_000 if args.quick else 15_000
    repeats = args.repeats or (1 if args.quick else 3)
    ks = range(1, 10)
    X = make_data(n_samples)

    run_bayesmix(X, ks, 0)  # warm-up: numba cache, thread pools
    run_sklearn(X[:2000], range(1, 3), 0)

    bm_runs, sk_runs = [], []
    for r in range(repeats):
        *times, bm_best, table = run_bayesmix(X, ks, r + 1)  # never a cached agglomeration
        bm_runs.append(times)
        *times, sk_best = run_sklearn(X, ks, r)
        sk_runs.append(times)
    bm, bm_cpu = np.median(bm_runs, axis=0)
    sk, sk_cpu = np.median(sk_runs, axis=0)

    print(
        f"select_model grid: {len(COVARIANCE_TYPES)} covariance types x K = 1..9 "
        f"on {n_samples} x {X.shape[1]} points, {os.cpu_count()} cores, median of {repeats}"
    )
    print("(cpu = process CPU seconds, all threads: steadier than wall time on a shared machine)")
    print()
    print(f"{'':24s}{'wall s':>9s}{'cpu s':>9s}{'wall ratio':>12s}  best model")
    print(f"{'scikit-learn loop':24s}{sk:9.3f}{sk_cpu:9.3f}{1.0:12.2f}  {sk_best}")
    print(f"{'bayesmix select_model':24s}{bm:9.3f}{bm_cpu:9.3f}{sk / bm:12.2f}  {bm_best}")
    print()
    status = "met" if bm <= TARGET_SECONDS else "missed"
    print(f"target {TARGET_SECONDS:.2f} s: {status}")
    slow = table.sort_values("fit_time", ascending=False).head(5)
    print("\nslowest bayesmix cells (thread time, seconds):")
    for _, row in slow.iterrows():
        print(
            f"  {row['covariance_type']:>9s} K={row['n_components']}: {row['fit_time']:.3f} s, "
            f"{int(row['n_iter'])} iterations"
        )


if __name__ == "__main__":
    main()
