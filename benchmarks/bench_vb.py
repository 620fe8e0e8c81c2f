"""Per-iteration variational-Bayes time: bayesmix against scikit-learn's
BayesianGaussianMixture.

Same data and workloads as ``bench_em.py`` (its ``make_problem``), full
covariances, Dirichlet-process weights with the same prior values on both
sides, and the same starting responsibilities: those of ``bench_em``'s
k-means-like starting parameters (one scikit-learn E-step, outside the
timing).  One iteration is an E-step, the update of every variational
posterior and the lower bound.  Both run exactly the requested number of
iterations (checked).  The time of one iteration is ``(t(M) - t(1)) / (M - 1)``:
validation, standardisation, the first update from the starting
responsibilities and the final E-step cancel.  The libraries take turns
within every repeat, so a busy spell on a shared machine slows both alike.

Usage::

    python benchmarks/bench_vb.py                # the four workloads of issue 3
    python benchmarks/bench_vb.py --quick        # smaller sizes, a few seconds
    python benchmarks/bench_vb.py --stat min     # resists other load on the machine
    python benchmarks/bench_vb.py --defaults     # K and ARI of default fits on real tables

scikit-learn is a test-only dependency; this script needs it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_em import QUICK, WORKLOADS, make_problem


def starting_resp(X, init, n_components):
    """Responsibilities of ``bench_em``'s starting parameters (one E-step in numpy)."""
    log_p = np.empty((X.shape[0], n_components))
    for k in range(n_components):
        chol = np.linalg.cholesky(init["precisions_init"][k])  # P = L L^T
        y = (X - init["means_init"][k]) @ chol
        log_p[:, k] = np.log(init["weights_init"][k]) + np.log(np.diag(chol)).sum()
        log_p[:, k] -= 0.5 * (y * y).sum(axis=1)
    log_p -= log_p.max(axis=1, keepdims=True)
    resp = np.exp(log_p)
    return resp / resp.sum(axis=1, keepdims=True)


def make_fits(X, resp, n_components):
    """``{name: fit(n_iter) -> seconds}`` for both libraries on one problem."""
    from sklearn.mixture import BayesianGaussianMixture

    from bayesmix import DirichletProcess, NormalInverseWishart, VariationalGaussianMixture

    d = X.shape[1]
    values = dict(mean=X.mean(axis=0), kappa=0.01, dof=d + 2.0, scale=np.cov(X.T))

    class SkFixedStart(BayesianGaussianMixture):
        def _initialize_parameters(self, X, random_state, xp=None):
            self._initialize(X, resp)

    class BmExactIterations(VariationalGaussianMixture):  # with moves=False below
        def _cavi(self, Xt, w, resp, prior, fam, max_iter, tol):
            # tol=0 would still stop on a flat ELBO; time exactly max_iter iterations
            return super()._cavi(Xt, w, resp, prior, fam, max_iter, -np.inf)

    def sklearn_fit(n_iter):
        est = SkFixedStart(
            n_components=n_components,
            weight_concentration_prior_type="dirichlet_process",
            weight_concentration_prior=1.0,
            mean_prior=values["mean"],
            mean_precision_prior=values["kappa"],
            degrees_of_freedom_prior=values["dof"],
            covariance_prior=values["scale"],
            reg_covar=0.0,
            max_iter=n_iter,
            tol=0.0,
        )
        t0 = time.perf_counter()
        est.fit(X)
        return time.perf_counter() - t0, est.n_iter_

    def bayesmix_fit(n_iter):
        est = BmExactIterations(
            n_components,
            weight_prior=DirichletProcess(1.0),
            component_prior=NormalInverseWishart(**values),
            max_iter=n_iter,
            moves=False,
        )
        t0 = time.perf_counter()
        est._fit(X, resp_init=resp)
        return time.perf_counter() - t0, est.n_iter_

    return {"sklearn": sklearn_fit, "bayesmix": bayesmix_fit}


def per_iteration(fits, n_iter, repeats, stat=np.median):
    """``(stat(t(n_iter)) - stat(t(1))) / (n_iter - 1)`` per library."""

    def timed(fit, m):
        seconds, done = fit(m)
        if done != m:
            raise RuntimeError(f"a fit stopped after {done} of {m} iterations")
        return seconds

    for fit in fits.values():
        timed(fit, 2)  # warm-up: numba cache, BLAS threads
    one = {name: [] for name in fits}
    many = {name: [] for name in fits}
    for _ in range(repeats):
        for name, fit in fits.items():
            one[name].append(timed(fit, 1))
            many[name].append(timed(fit, n_iter))
    return {
        name: max(float(stat(many[name]) - stat(one[name])), 0.0) / (n_iter - 1) for name in fits
    }


def default_tables():
    """``(name, X standardised, labels or None)``: the tables of ``--defaults``."""
    from sklearn.datasets import load_breast_cancer, load_wine

    from bayesmix.datasets import load_faithful, load_galaxies, load_iris

    def std(X):
        return (X - X.mean(axis=0)) / X.std(axis=0)

    wine = load_wine()
    yield "wine", std(wine.data), wine.target
    X, species = load_iris(return_species=True)
    yield "iris", std(X), np.asarray(species)
    yield "faithful", std(load_faithful()), None
    rng = np.random.default_rng(0)  # issue 11's overlapping set: 0.4 / 0.6, 2.5 apart
    z = (rng.random(300) < 0.4).astype(int)
    X = rng.standard_normal((300, 2))
    X[z == 1, 0] += 2.5
    yield "overlap", X, z
    cancer = load_breast_cancer()
    yield "breast cancer", std(cancer.data), cancer.target
    yield "galaxies", load_galaxies(), None


def defaults(seeds=(0, 1, 2)):
    """Default fits (``VariationalGaussianMixture(random_state=s)``: five
    starts in memory), the first of those starts alone (``1 start``; the
    default on Dask), that start without the merge / delete moves, and scikit-learn's
    ``BayesianGaussianMixture(10, weight_concentration_prior_type=
    "dirichlet_process")`` with its defaults: K (components given a training
    row by predict), ARI against the labels, ELBO, thread CPU seconds.  The
    ``data cov`` row is the default before the learned scale
    (``component_prior=NormalInverseWishart()``); ``on Dask`` is the default
    fit on the rows as a Dask array in four chunks (when Dask is installed)."""
    from sklearn.metrics import adjusted_rand_score
    from sklearn.mixture import BayesianGaussianMixture

    from bayesmix import NormalInverseWishart, VariationalGaussianMixture

    try:  # optional: bayesmix[dask]
        import dask
        import dask.array as dask_array

        dask.config.set(scheduler="synchronous")  # thread CPU seconds count every chunk
    except ImportError:
        dask_array = None
    header = f"{'table':<14}{'seed':>5}  {'engine':<18}{'K':>3}{'ARI':>7}{'ELBO':>12}{'s':>7}"
    print(header)
    print("-" * len(header))
    for name, X, labels in default_tables():
        for seed in seeds:
            engines = {
                "bayesmix": VariationalGaussianMixture(random_state=seed),
                "bayesmix 1 start": VariationalGaussianMixture(random_state=seed, n_init=1),
                "bayesmix no moves": VariationalGaussianMixture(
                    random_state=seed, n_init=1, moves=False
                ),
                # the default before the learned scale: data covariance, dof D + 2
                "bayesmix data cov": VariationalGaussianMixture(
                    random_state=seed, component_prior=NormalInverseWishart()
                ),
                "sklearn BGM": BayesianGaussianMixture(
                    n_components=10,
                    weight_concentration_prior_type="dirichlet_process",
                    random_state=seed,
                    max_iter=500,
                ),
            }
            if dask_array is not None:  # the same default fit on the rows as a Dask array
                engines["bayesmix on Dask"] = VariationalGaussianMixture(random_state=seed)
            for label, est in engines.items():
                data = X
                if label.endswith("on Dask"):
                    data = dask_array.from_array(X, chunks=(max(X.shape[0] // 4, 1), -1))
                t0 = time.thread_time()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # sklearn's ConvergenceWarning
                    est.fit(data)
                seconds = time.thread_time() - t0
                pred = est.predict(X)
                k = np.unique(pred).size
                ari = adjusted_rand_score(labels, pred) if labels is not None else float("nan")
                elbo = getattr(est, "elbo_", float("nan"))
                print(
                    f"{name:<14}{seed:>5}  {label:<18}{k:>3}{ari:>7.2f}{elbo:>12.1f}"
                    f"{seconds:>7.2f}",
                    flush=True,
                )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=6, help="max_iter of the long fits")
    parser.add_argument(
        "--stat",
        choices=("median", "min"),
        default="median",
        help="summary of the repeats ('min' resists other load on a shared machine)",
    )
    parser.add_argument(
        "--defaults",
        action="store_true",
        help="K, ARI and ELBO of default fits on real tables instead of timings",
    )
    args = parser.parse_args(argv)

    warnings.simplefilter("ignore")  # ConvergenceWarning: neither may converge here
    if args.defaults:
        defaults()
        return
    header = (
        f"{'workload (n, d, k)':<22}{'sklearn ms/iter':>16}{'bayesmix ms/iter':>18}"
        f"{'ratio':>9}{'target':>8}  result"
    )
    threads = os.environ.get("BAYESMIX_NUM_THREADS", "all cores")
    print(
        f"VB, full covariance, DP weights, {args.iterations} vs 1 iterations, {args.stat} of "
        f"{args.repeats}; bayesmix threads: {threads}, cores: {os.cpu_count()}"
    )
    print(header)
    print("-" * len(header))
    met = []
    for n, d, k, target, _ in QUICK if args.quick else WORKLOADS:
        X, init = make_problem(n, d, k)
        resp = starting_resp(X, init, k)
        times = per_iteration(
            make_fits(X, resp, k), args.iterations, args.repeats, stat=getattr(np, args.stat)
        )
        t_sk, t_bm = times["sklearn"], times["bayesmix"]
        ratio = t_sk / t_bm if t_bm > 0 else float("inf")
        verdict = "pass" if ratio >= target else "FAIL"
        print(
            f"{f'({n}, {d}, {k})':<22}{1e3 * t_sk:>16.2f}{1e3 * t_bm:>18.2f}"
            f"{ratio:>8.1f}x{target:>7.0f}x  {verdict}",
            flush=True,
        )
        met.append(ratio >= target)
    note = " (quick sizes: the targets are those of the full sizes, indicative only)"
    print(f"{sum(met)}/{len(met)} targets met" + (note if args.quick else ""))


if __name__ == "__main__":
    main()
