"""Per-iteration EM time: bayesmix against scikit-learn's GaussianMixture.

Both estimators fit the same data from the same initial parameters
(``weights_init``, ``means_init``, ``precisions_init``), full covariances,
``tol=0`` so every run does exactly ``max_iter`` iterations.  The time of one
iteration is ``(t(max_iter=M) - t(max_iter=1)) / (M - 1)``: validation,
standardisation, initialisation and the final E-step cancel, what is left is
one E-step plus one M-step.  Every fit is warmed up once (numba compiles or
loads its cache, BLAS spins up its threads), and each time is the median of a
few repeats, the two libraries taking turns within each repeat.

bayesmix uses ``BAYESMIX_NUM_THREADS`` threads (default: every usable core);
scikit-learn uses its BLAS threads.  On a machine shared with other jobs,
``--stat min`` is the steadier summary.

Usage::

    python benchmarks/bench_em.py               # the four workloads of issue 2
    python benchmarks/bench_em.py --quick       # smaller sizes, well under a minute
    python benchmarks/bench_em.py --stat min    # least-disturbed of the repeats

scikit-learn is a test-only dependency; this script needs it.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

# (n_samples, n_features, n_components, target speed-up over scikit-learn,
#  max_iter of the long fits: enough that bayesmix's extra iterations take well
#  over the noise of one fit, without making scikit-learn's take minutes)
WORKLOADS = [
    (100_000, 2, 10, 30.0, 41),
    (200_000, 16, 16, 5.0, 6),
    (1_000_000, 8, 8, 10.0, 6),
    (20_000, 64, 32, 2.0, 11),
]
QUICK = [
    (20_000, 2, 10, 30.0, 41),
    (20_000, 16, 16, 5.0, 11),
    (100_000, 8, 8, 10.0, 11),
    (4_000, 64, 32, 2.0, 11),
]


def make_problem(n_samples, n_features, n_components, seed=0):
    """Clustered data and a k-means-like starting point (hard assignment to
    ``n_components`` random rows, then per-cluster weights, means and
    regularised covariances), shared by both estimators."""
    rng = np.random.default_rng(seed)
    centres = 3.0 * rng.normal(size=(n_components, n_features))
    labels = rng.integers(0, n_components, size=n_samples)
    X = rng.normal(size=(n_samples, n_features)) + centres[labels]
    seeds = X[rng.choice(n_samples, n_components, replace=False)]
    dist = (X * X).sum(1)[:, None] - 2.0 * X @ seeds.T + (seeds * seeds).sum(1)[None, :]
    assign = dist.argmin(axis=1)
    weights = np.bincount(assign, minlength=n_components) / n_samples
    means = np.empty((n_components, n_features))
    precisions = np.empty((n_components, n_features, n_features))
    pooled = np.cov(X.T) * 0.1
    for k in range(n_components):
        rows = X[assign == k]
        means[k] = rows.mean(axis=0) if len(rows) else seeds[k]
        cov = np.cov(rows.T) if len(rows) > n_features else pooled
        precisions[k] = np.linalg.inv(cov + 1e-6 * np.eye(n_features))
    precisions = 0.5 * (precisions + np.swapaxes(precisions, 1, 2))
    weights = np.maximum(weights, 1e-3)
    weights /= weights.sum()
    return X, {"weights_init": weights, "means_init": means, "precisions_init": precisions}


def fit_time(cls, X, init, n_components, max_iter):
    """Wall time of one ``cls(...).fit(X)`` with exactly ``max_iter`` iterations."""
    est = cls(
        n_components, covariance_type="full", tol=0.0, reg_covar=1e-6, max_iter=max_iter, **init
    )
    t0 = time.perf_counter()
    est.fit(X)
    elapsed = time.perf_counter() - t0
    if est.n_iter_ != max_iter:
        raise RuntimeError(f"{cls.__module__} stopped after {est.n_iter_} iterations")
    return elapsed


def per_iteration(estimators, X, init, n_components, n_iter, repeats, stat=np.median):
    """``(stat(t(n_iter)) - stat(t(1))) / (n_iter - 1)`` per estimator, ``stat`` over
    repeats (median by default).

    The estimators take turns within every repeat, so a busy spell on a shared
    machine slows them alike instead of one of them."""
    for cls in estimators.values():
        fit_time(cls, X, init, n_components, 2)  # warm-up: numba cache, BLAS threads
    one = {name: [] for name in estimators}
    many = {name: [] for name in estimators}
    for _ in range(repeats):
        for name, cls in estimators.items():
            one[name].append(fit_time(cls, X, init, n_components, 1))
            many[name].append(fit_time(cls, X, init, n_components, n_iter))
    return {
        name: max(float(stat(many[name]) - stat(one[name])), 0.0) / (n_iter - 1)
        for name in estimators
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--iterations", type=int, default=None, help="max_iter of the long fits (all workloads)"
    )
    parser.add_argument(
        "--stat",
        choices=("median", "min"),
        default="median",
        help="summary of the repeats ('min' resists other load on a shared machine)",
    )
    args = parser.parse_args(argv)

    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    from bayesmix import GaussianMixture

    warnings.simplefilter("ignore")  # ConvergenceWarning: tol=0 never converges
    rows = []
    header = (
        f"{'workload (n, d, k)':<22}{'sklearn ms/iter':>16}{'bayesmix ms/iter':>18}"
        f"{'ratio':>9}{'target':>8}{'M':>5}  result"
    )
    threads = os.environ.get("BAYESMIX_NUM_THREADS", "all cores")
    print(
        f"full covariance, tol=0, M vs 1 iterations, {args.stat} of "
        f"{args.repeats}; bayesmix threads: {threads}, cores: {os.cpu_count()}"
    )
    print(header)
    print("-" * len(header))
    for n, d, k, target, n_iter in QUICK if args.quick else WORKLOADS:
        n_iter = args.iterations or n_iter
        X, init = make_problem(n, d, k)
        times = per_iteration(
            {"sklearn": SkGaussianMixture, "bayesmix": GaussianMixture},
            X, init, k, n_iter, args.repeats, stat=getattr(np, args.stat),
        )  # fmt: skip
        t_sk, t_bm = times["sklearn"], times["bayesmix"]
        ratio = t_sk / t_bm if t_bm > 0 else float("inf")
        verdict = "pass" if ratio >= target else "FAIL"
        line = (
            f"{f'({n}, {d}, {k})':<22}{1e3 * t_sk:>16.2f}{1e3 * t_bm:>18.2f}"
            f"{ratio:>8.1f}x{target:>7.0f}x{n_iter:>5}  {verdict}"
        )
        print(line, flush=True)
        rows.append(ratio >= target)
    note = " (quick sizes: the targets are those of the full sizes, indicative only)"
    print(f"{sum(rows)}/{len(rows)} targets met" + (note if args.quick else ""))


if __name__ == "__main__":
    main()
