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

Second table: mclust's fourteen models x K = 1..9 (``select_model``'s
default grid) beside R's ``Mclust(X, G = 1:9)`` on Old Faithful, iris,
scikit-learn's wine and the 15 000 x 4 set.  mclust is timed inside R around
the ``Mclust`` call alone (no R start-up, no data reading), in one Rscript
process per data set; bayesmix is the median of a few ``select_model`` calls
after a warm-up.  Both use their default EM settings and hierarchical starts.
The table shows both choices and the BIC of each (mclust's sign flipped).
Skipped, with the reason, without ``Rscript`` and mclust.

Usage::

    python benchmarks/bench_select.py            # 15 000 x 4, 3 repeats; then vs mclust
    python benchmarks/bench_select.py --quick    # 3 000 x 4, 1 repeat
    python benchmarks/bench_select.py --mclust-only

scikit-learn is a test-only dependency; this script needs it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

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


_MCLUST_R = r"""
suppressMessages(library(mclust))
args <- commandArgs(TRUE)
X <- as.matrix(read.csv(args[1], header = FALSE))
best <- NULL
times <- c()
for (r in seq_len(as.integer(args[2]))) {
  t0 <- proc.time()[["elapsed"]]
  fit <- Mclust(X, G = 1:9, verbose = FALSE)
  times <- c(times, proc.time()[["elapsed"]] - t0)
}
cat(median(times), fit$modelName, fit$G, sprintf("%.6f", fit$bic), "\n")
"""


def _mclust_status() -> str | None:
    if shutil.which("Rscript") is None:
        return "Rscript is not installed (apt-get install r-base-core r-cran-mclust)"
    done = subprocess.run(
        ["Rscript", "-e", "suppressMessages(library(mclust))"], capture_output=True, text=True
    )
    return None if done.returncode == 0 else "R's mclust is not installed"


def mclust_grid(X, repeats: int):
    """R's ``Mclust(X, G = 1:9)``: (median seconds inside R, model, G, BIC with our sign)."""
    with tempfile.TemporaryDirectory() as tmp:
        data, script = Path(tmp) / "X.csv", Path(tmp) / "run.R"
        np.savetxt(data, X, delimiter=",", fmt="%.17g")
        script.write_text(_MCLUST_R)
        out = subprocess.run(
            ["Rscript", str(script), str(data), str(repeats)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    return float(out[0]), out[1], int(out[2]), -float(out[3])


def bayesmix_grid(X, repeats: int, seed: int = 0):
    """``select_model`` over mclust's 14 models x K = 1..9: (median seconds, model, K, BIC)."""
    from bayesmix import select_model

    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sel = select_model(X, n_components=range(1, 10), random_state=seed)
        times.append(time.perf_counter() - t0)
    best = sel.best_params_
    bic = float(sel.table_["bic"].min())
    return float(np.median(times)), best["covariance_type"], best["n_components"], bic


def mclust_table(n_samples: int, repeats: int) -> None:
    from sklearn.datasets import load_wine

    from bayesmix.datasets import load_faithful, load_iris

    print("\nmclust's 14 models x K = 1..9: bayesmix select_model vs R Mclust(X, G = 1:9)")
    reason = _mclust_status()
    if reason is not None:
        print(f"skipped: {reason}")
        return
    sets = {
        "Old Faithful": np.asarray(load_faithful(), dtype=float),
        "iris": np.asarray(load_iris(), dtype=float),
        "wine": load_wine().data,
        f"simulated {n_samples} x 4": make_data(n_samples),
    }
    bayesmix_grid(sets["iris"], 1)  # warm-up: numba cache, thread pools
    print(f"({os.cpu_count()} cores; wall seconds, median of {repeats}; R timed inside R)\n")
    head = f"{'data':>20s} {'n x d':>10s} {'bayesmix s':>11s} {'mclust s':>9s} {'speed-up':>9s}"
    print(f"{head}  {'bayesmix choice (BIC)':>24s}  {'mclust choice (BIC)':>24s}")
    total_b = total_r = 0.0
    for name, X in sets.items():
        tb, mb, kb, bb = bayesmix_grid(X, repeats)
        tr, mr, kr, br = mclust_grid(X, repeats)
        total_b, total_r = total_b + tb, total_r + tr
        shape = f"{X.shape[0]} x {X.shape[1]}"
        ours = f"{mb} {kb} ({bb:.2f})"
        theirs = f"{mr} {kr} ({br:.2f})"
        same = "" if (mb, kb) == (mr, kr) else "  differ"
        print(
            f"{name:>20s} {shape:>10s} {tb:11.2f} {tr:9.2f} {tr / tb:9.2f}  "
            f"{ours:>24s}  {theirs:>24s}{same}"
        )
    print(f"{'total':>20s} {'':>10s} {total_b:11.2f} {total_r:9.2f} {total_r / total_b:9.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 000 rows, one repeat")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--mclust-only", action="store_true", help="only the table vs R's mclust")
    args = parser.parse_args()
    n_samples = 3_000 if args.quick else 15_000
    repeats = args.repeats or (1 if args.quick else 3)
    if args.mclust_only:
        mclust_table(n_samples, repeats)
        return
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
    mclust_table(n_samples, repeats)


if __name__ == "__main__":
    main()
